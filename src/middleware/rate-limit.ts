/**
 * `rateLimit()`: token-bucket rate limiting with lazy refill. `key` chooses the bucket (global, per
 * principal, session, tool, client IP, or a function); several rules stack. A rejected request gets
 * the standard `rate_limited` error with `retryAfterMs` — HTTP 429 with `Retry-After` when it is the
 * whole request. Buckets live in the store (memory by default; `redisStore()` shares them).
 */
import { createHash } from 'node:crypto';
import { RateLimitedError } from '../protocol/errors.js';
import type { Context } from '../server/context.js';
import { memoryStore } from '../stores/memory.js';
import type { RateLimitStore, TakeResult } from '../stores/types.js';
import type { Middleware } from './compose.js';
import { publishProtection } from './events.js';
import { type KeyStrategy, keyOf, matcher, type Scope, type TrustProxy } from './keys.js';

export interface RateLimitOptions extends Scope {
  /** Tokens added per second. */
  rate: number;
  /** Bucket size: the most requests admitted at once. Default: `rate` (at least 1). */
  burst?: number;
  /** Which bucket a request takes from. Default `principal`. */
  key?: KeyStrategy | KeyStrategy[];
  /** Tokens a request costs (a number, or computed per request). Default 1. */
  cost?: number | ((ctx: Context<any>) => number);
  /** Where buckets live. Default: a new in-memory store. */
  store?: RateLimitStore;
  /**
   * The rule's name, on metrics and in error details, and its buckets' prefix in the store. Default
   * `default`; unnamed rules' buckets are told apart by their rate, burst and scope, so two of them
   * on one store (different limits for different tools, say) never share one.
   */
  name?: string;
  /** How to find the client IP behind proxies (for the `ip` key). Default false. */
  trustProxy?: TrustProxy;
}

/** A key strategy as text: built-in names as they are, functions by their source. */
function describeKey(strategy: KeyStrategy | KeyStrategy[]): unknown {
  const one = (s: KeyStrategy) => (typeof s === 'function' ? `fn:${s.toString()}` : s);
  return Array.isArray(strategy) ? strategy.map(one) : one(strategy);
}

/** Creates a rate-limit rule. Register several for layered limits (outermost first). */
export function rateLimit(options: RateLimitOptions): Middleware<Context<any>> {
  if (!(options.rate >= 0) || !Number.isFinite(options.rate))
    throw new TypeError('rateLimit: rate must be a number >= 0');
  const bucket = { rate: options.rate, burst: options.burst ?? Math.max(1, options.rate) };
  if (!(bucket.burst >= 1)) throw new TypeError('rateLimit: burst must be >= 1');
  const store = options.store ?? memoryStore();
  const strategy = options.key ?? 'principal';
  const rule = options.name ?? 'default';
  const applies = matcher(options);
  // The same unnamed rule on every instance shares its buckets; different unnamed rules do not: the
  // prefix is everything that makes a rule what it is (a key function by its source, which is the
  // same on every instance of one app).
  const prefix =
    options.name !== undefined
      ? `${rule}:`
      : `default(${createHash('sha256')
          .update(
            JSON.stringify([
              bucket,
              options.methods ?? null,
              options.tools ?? null,
              describeKey(strategy),
              options.trustProxy ?? false,
            ]),
          )
          .digest('base64url')
          .slice(0, 16)}):`;
  const { cost = 1, trustProxy = false } = options;
  if (typeof cost === 'number' && !(cost >= 0 && Number.isFinite(cost)))
    throw new TypeError('rateLimit: cost must be a number >= 0');

  const reject = (result: TakeResult, ctx: Context<any>): never => {
    publishProtection({ kind: 'rate_limited', rule, ctx });
    throw new RateLimitedError(result.degraded ? 'Rate limiter unavailable' : 'Rate limit exceeded', {
      // A cost above the burst can never pass: no retry hint.
      retryAfterMs: result.retryAfterMs >= 0 ? result.retryAfterMs : undefined,
      details: { rule, limit: bucket.rate, burst: bucket.burst },
    });
  };

  return (ctx, next) => {
    if (!applies(ctx)) return next();
    const key = keyOf(strategy, ctx, trustProxy);
    if (key === undefined) return next();
    const n = typeof cost === 'function' ? cost(ctx) : cost;
    // A cost worked out from a request could be negative (refilling the bucket) or NaN: refused.
    if (!(n >= 0 && Number.isFinite(n)))
      throw new TypeError(`rateLimit: cost must be a number >= 0 (got ${n})`);
    const taken = store.take(prefix + key, bucket, n);
    // The memory store answers synchronously: no promise on the admitted path.
    if (!(taken instanceof Promise)) return taken.allowed ? next() : reject(taken, ctx);
    return taken.then((result) => (result.allowed ? next() : reject(result, ctx)));
  };
}
