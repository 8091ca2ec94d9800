/**
 * `logging()`: one structured line per request (method, tool/resource/prompt, duration, outcome,
 * error type), with the correlation id carried through async code by AsyncLocalStorage — so every
 * line a handler writes, through `ctx.logger` or `getLogger()`, names the request it belongs to.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { toRampartError } from '../protocol/errors.js';
import { type Context, ERROR_LOGGED, type SettleObserver } from '../server/context.js';
import { type Logger, writeLine } from '../server/logger.js';
import type { Middleware } from './compose.js';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LoggingOptions {
  /** Level of the per-request finish line. Default "info". */
  level?: Level;
  /** Also log a line when a request starts (at debug). Default false. */
  logStart?: boolean;
  /** Include request params in the lines (redacted). Default false. */
  logParams?: boolean;
  /** Param keys censored wherever they appear, besides the defaults (password, token, secret...). */
  redactKeys?: string[];
  /** Log notifications too. Default false. */
  notifications?: boolean;
}

const storage = new AsyncLocalStorage<Context<any>>();
let fallback: Logger | undefined;

/** The context of the request being handled, wherever in its async code this is called. */
export function currentContext(): Context<any> | undefined {
  return storage.getStore();
}

/** The module logger: the current request's logger (with its correlation id), else the server's. */
export function getLogger(): Logger {
  const ctx = storage.getStore();
  if (ctx) return ctx.logger;
  if (!fallback) throw new Error('getLogger() called outside a request before any logging() middleware ran');
  return fallback;
}

const DEFAULT_KEYS = [
  'password',
  'token',
  'secret',
  'apikey',
  'authorization',
  'accesstoken',
  'refreshtoken',
];

function redact(value: unknown, keys: Set<string>, depth = 0): unknown {
  if (depth > 8 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, keys, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = keys.has(k.toLowerCase()) ? '[redacted]' : redact(v, keys, depth + 1);
  }
  return out;
}

function outcomeOf(result: unknown): string {
  const r = result as { isError?: boolean; resultType?: string } | undefined;
  if (r?.isError) return 'tool_error';
  if (r?.resultType === 'input_required') return 'input_required';
  return 'ok';
}

/**
 * The finish line of one request, in the order pino writes it (keys left `undefined` are left out),
 * and the observer that writes it when the request settles. A class rather than a literal merged per
 * request: one object per line (docs/performance.md). What is not a field of the line is private
 * (`#`), which pino's walk over the object does not see.
 */
class RequestLine implements SettleObserver {
  readonly correlationId: string;
  readonly sessionId: string;
  readonly method: string;
  readonly event = 'mcp.request';
  readonly target: string | undefined;
  principal: string | undefined;
  params: unknown = undefined;
  duration_ms: number | undefined = undefined;
  outcome: string | undefined = undefined;
  error_type: string | undefined = undefined;
  cache: unknown = undefined;
  err: unknown = undefined;
  readonly #start: number;
  readonly #level: Level;

  constructor(ctx: Context<any>, level: Level) {
    this.correlationId = ctx.correlationId;
    this.sessionId = ctx.session.id;
    this.method = ctx.method;
    this.target = ctx.target;
    this.principal = ctx.principal;
    this.#level = level;
    this.#start = performance.now();
  }

  /**
   * The line's fields as JSON (`,"key":value...`, in pino's order), for `writeLine` — or undefined
   * when a field is one pino's redaction and formatter must see (params, an error, an object).
   * Strings are JSON.stringify'd, as pino does past its short-string path; the one difference is a
   * lone UTF-16 surrogate, which pino's short-string path writes raw and this escapes.
   */
  fields(): string | undefined {
    const cache = this.cache;
    if (this.params !== undefined || this.err !== undefined) return undefined;
    if (cache !== undefined && typeof cache !== 'string') return undefined;
    const q = JSON.stringify;
    let s = `,"correlationId":${q(this.correlationId)},"sessionId":${q(this.sessionId)},"method":${q(this.method)},"event":"mcp.request"`;
    if (this.target !== undefined) s += `,"target":${q(this.target)}`;
    if (this.principal !== undefined) s += `,"principal":${q(this.principal)}`;
    if (this.duration_ms !== undefined) s += `,"duration_ms":${q(this.duration_ms)}`;
    if (this.outcome !== undefined) s += `,"outcome":${q(this.outcome)}`;
    if (this.error_type !== undefined) s += `,"error_type":${q(this.error_type)}`;
    if (cache !== undefined) s += `,"cache":${q(cache)}`;
    return s;
  }

  /** The request has its outcome: stamp the duration (and a principal auth() found) and write. */
  settled(ctx: Context<any>, result: unknown, err: unknown, failed: boolean): void {
    this.duration_ms = Math.round((performance.now() - this.#start) * 1000) / 1000;
    this.principal ??= ctx.principal;
    this.cache = ctx.peekMetadata('rampart.cache');
    const logger = ctx.rootLogger;
    if (!failed) {
      this.outcome = outcomeOf(result);
      const fields = this.fields();
      if (fields === undefined || !writeLine(logger, this.#level, fields, 'request finished'))
        logger[this.#level](this as object, 'request finished');
      return;
    }
    const error = toRampartError(err);
    this.outcome = 'error';
    this.error_type = error.type;
    // Internal errors are logged whole (the client only saw "Internal error").
    if (error.expose) logger.warn(this as object, 'request failed');
    else {
      this.err = err;
      logger.error(this as object, 'request failed');
    }
    ctx.metadata[ERROR_LOGGED] = true;
  }
}

/**
 * The logging middleware. Register it first: it runs the rest of the request inside its
 * AsyncLocalStorage context, and writes the line once the request has its outcome.
 */
export function logging(options: LoggingOptions = {}): Middleware<Context<any>> {
  const level = options.level ?? 'info';
  const keys = new Set([...DEFAULT_KEYS, ...(options.redactKeys ?? []).map((k) => k.toLowerCase())]);
  return (ctx, next) => {
    fallback ??= ctx.rootLogger;
    if (ctx.kind === 'notification' && !options.notifications) return storage.run(ctx, next);
    // The request's own fields, written through the root logger: a pino child per request would
    // cost more than the line itself. (`ctx.logger`, for handlers, is created only when they use it.)
    const line = new RequestLine(ctx, level);
    if (options.logParams) line.params = redact(ctx.params, keys);
    if (options.logStart) ctx.rootLogger.debug(line, 'request started');
    ctx.onSettled(line);
    return storage.run(ctx, next);
  };
}
