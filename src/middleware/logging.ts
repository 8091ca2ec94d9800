/**
 * `logging()`: one structured line per request (method, tool/resource/prompt, duration, outcome,
 * error type), with the correlation id carried through async code by AsyncLocalStorage — so every
 * line a handler writes, through `ctx.logger` or `getLogger()`, names the request it belongs to.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { toRampartError } from '../protocol/errors.js';
import { type Context, ERROR_LOGGED } from '../server/context.js';
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
 * The finish line of one request, in the order pino writes it (keys left `undefined` are left out).
 * A class rather than a literal merged per request: one object per line (docs/performance.md).
 */
class RequestLine {
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

  constructor(ctx: Context<any>) {
    this.correlationId = ctx.correlationId;
    this.sessionId = ctx.session.id;
    this.method = ctx.method;
    this.target = ctx.target;
    this.principal = ctx.principal;
  }

  /**
   * The line's fields as JSON (`,"key":value...`, in pino's order), for `writeLine` — or undefined
   * when a field is one pino's redaction and formatter must see (params, an error, an object).
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

  /** Stamps the duration, and a principal auth() found further in. */
  finish(ctx: Context<any>, start: number, outcome: string): this {
    this.duration_ms = Math.round((performance.now() - start) * 1000) / 1000;
    this.outcome = outcome;
    this.principal ??= ctx.principal;
    return this;
  }
}

/** The logging middleware. Register it first so it sees every other middleware's errors. */
export function logging(options: LoggingOptions = {}): Middleware<Context<any>> {
  const level = options.level ?? 'info';
  const keys = new Set([...DEFAULT_KEYS, ...(options.redactKeys ?? []).map((k) => k.toLowerCase())]);
  const failed = (ctx: Context<any>, line: RequestLine, start: number, err: unknown): never => {
    const error = toRampartError(err);
    line.finish(ctx, start, 'error').error_type = error.type;
    // Internal errors are logged whole (the client only saw "Internal error").
    if (error.expose) ctx.rootLogger.warn(line, 'request failed');
    else {
      line.err = err;
      ctx.rootLogger.error(line, 'request failed');
    }
    ctx.metadata[ERROR_LOGGED] = true;
    throw err;
  };
  return (ctx, next) => {
    fallback ??= ctx.rootLogger;
    if (ctx.kind === 'notification' && !options.notifications) return storage.run(ctx, next);
    // The request's own fields, written through the root logger: a pino child per request would
    // cost more than the line itself. (`ctx.logger`, for handlers, is created only when they use it.)
    const logger = ctx.rootLogger;
    const line = new RequestLine(ctx);
    if (options.logParams) line.params = redact(ctx.params, keys);
    if (options.logStart) logger.debug(line, 'request started');
    const start = performance.now();
    let pending: Promise<unknown>;
    try {
      pending = storage.run(ctx, next);
    } catch (err) {
      return failed(ctx, line, start, err);
    }
    return pending.then(
      (result) => {
        line.finish(ctx, start, outcomeOf(result)).cache = ctx.peekMetadata('rampart.cache');
        const fields = line.fields();
        if (fields === undefined || !writeLine(logger, level, fields, 'request finished'))
          logger[level](line, 'request finished');
        return result;
      },
      (err: unknown) => failed(ctx, line, start, err),
    );
  };
}
