/**
 * `logging()`: one structured line per request (method, tool/resource/prompt, duration, outcome,
 * error type), with the correlation id carried through async code by AsyncLocalStorage — so every
 * line a handler writes, through `ctx.logger` or `getLogger()`, names the request it belongs to.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { toRampartError } from '../protocol/errors.js';
import { type Context, ERROR_LOGGED, type SettleObserver } from '../server/context.js';
import { durationJson, isPlain, jsonString, type Logger, writeLine } from '../server/logger.js';
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
  if (typeof value !== 'object' || value === null) return value;
  // Deeper than redaction looks, nothing is logged: a secret could be down there.
  if (depth > 8) return '[truncated]';
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
 * A request line for pino's own path (start lines, failures, params, a logger `writeLine` cannot
 * write for): its fields in the order pino writes them, keys left `undefined` left out. A class
 * rather than a literal merged per line: one object per line (docs/performance.md).
 */
class RequestLine {
  readonly correlationId: string;
  readonly sessionId: string;
  readonly method: string;
  readonly event = 'mcp.request';
  readonly target: string | undefined;
  readonly principal: string | undefined;
  readonly params: unknown;
  readonly duration_ms: number | undefined;
  readonly outcome: string | undefined;
  readonly error_type: string | undefined;
  readonly cache: unknown;
  err: unknown = undefined;

  constructor(
    ctx: Context<any>,
    params: unknown,
    duration: number | undefined,
    outcome: string | undefined,
    errorType: string | undefined,
    cache: unknown,
  ) {
    this.correlationId = ctx.correlationId;
    this.sessionId = ctx.session.id;
    this.method = ctx.method;
    this.target = ctx.target;
    this.principal = ctx.principal;
    this.params = params;
    this.duration_ms = duration;
    this.outcome = outcome;
    this.error_type = errorType;
    this.cache = cache;
  }
}

/**
 * The line's fields as JSON (`,"key":value...`), in RequestLine's order, for `writeLine`. Strings are
 * quoted as JSON.stringify would (the one difference from pino's own path, a lone UTF-16 surrogate,
 * is escaped here and written raw by pino's short-string path).
 */
function fields(ctx: Context<any>, duration: number, outcome: string, cache: string | undefined): string {
  let s = `,"correlationId":${jsonString(ctx.correlationId)},"sessionId":${jsonString(ctx.session.id)},"method":${jsonString(ctx.method)},"event":"mcp.request"`;
  const target = ctx.target;
  if (target !== undefined) s += `,"target":${jsonString(target)}`;
  const principal = ctx.principal;
  if (principal !== undefined) s += `,"principal":${jsonString(principal)}`;
  s += `,"duration_ms":${durationJson(duration)},"outcome":"${outcome}"`;
  if (cache !== undefined) s += `,"cache":${jsonString(cache)}`;
  return s;
}

/**
 * Writes the finish line of one request — from a settle observer the middleware shares between
 * requests: everything the line says is on the context by then, so a request costs no object here.
 * Params, when logged, are the ones the request arrived with (`WithParams` holds them).
 */
class FinishLine implements SettleObserver {
  constructor(private readonly level: Level) {}

  settled(ctx: Context<any>, result: unknown, err: unknown, failed: boolean): void {
    this.write(ctx, undefined, result, err, failed);
  }

  write(ctx: Context<any>, params: unknown, result: unknown, err: unknown, failed: boolean): void {
    const logger = ctx.rootLogger;
    const level = this.level;
    const cache = ctx.peekMetadata('rampart.cache');
    const duration = Math.round(ctx.durationMs * 1000) / 1000;
    if (!failed) {
      if (!logger.isLevelEnabled(level)) return;
      const outcome = outcomeOf(result);
      if (params === undefined && (cache === undefined || typeof cache === 'string') && isPlain(logger)) {
        writeLine(logger, level, fields(ctx, duration, outcome, cache), 'request finished');
      } else {
        logger[level](new RequestLine(ctx, params, duration, outcome, undefined, cache), 'request finished');
      }
      return;
    }
    const error = toRampartError(err);
    const line = new RequestLine(ctx, params, duration, 'error', error.type, cache);
    // Internal errors are logged whole (the client only saw "Internal error").
    if (error.expose) logger.warn(line, 'request failed');
    else {
      line.err = err;
      logger.error(line, 'request failed');
    }
    ctx.metadata[ERROR_LOGGED] = true;
  }
}

/** The finish line of a request whose params are logged: they are taken when it arrives. */
class WithParams implements SettleObserver {
  constructor(
    private readonly line: FinishLine,
    private readonly params: unknown,
  ) {}

  settled(ctx: Context<any>, result: unknown, err: unknown, failed: boolean): void {
    this.line.write(ctx, this.params, result, err, failed);
  }
}

/**
 * The logging middleware. Register it first: it runs the rest of the request inside its
 * AsyncLocalStorage context, and writes the line once the request has its outcome.
 */
export function logging(options: LoggingOptions = {}): Middleware<Context<any>> {
  const level = options.level ?? 'info';
  const keys = new Set([...DEFAULT_KEYS, ...(options.redactKeys ?? []).map((k) => k.toLowerCase())]);
  const finish = new FinishLine(level);
  return (ctx, next) => {
    fallback ??= ctx.rootLogger;
    if (ctx.kind === 'notification' && !options.notifications) return storage.run(ctx, next);
    // The request's own fields, written through the root logger: a pino child per request would
    // cost more than the line itself. (`ctx.logger`, for handlers, is created only when they use it.)
    const params = options.logParams ? redact(ctx.params, keys) : undefined;
    if (options.logStart) {
      ctx.rootLogger.debug(
        new RequestLine(ctx, params, undefined, undefined, undefined, undefined),
        'request started',
      );
    }
    ctx.onSettled(params === undefined ? finish : new WithParams(finish, params));
    return storage.run(ctx, next);
  };
}
