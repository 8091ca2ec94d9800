/**
 * The store interfaces: everything protection middleware must share between server instances
 * (rate-limit buckets, cached results) goes through a store. `memoryStore()` is the embedded default;
 * `redisStore()` lets many instances act as one.
 */
import diagnostics from 'node:diagnostics_channel';

/** A token bucket: `burst` tokens at most, refilled at `rate` tokens per second. */
export interface BucketSpec {
  rate: number;
  burst: number;
}

/** The outcome of taking tokens from a bucket. */
export interface TakeResult {
  allowed: boolean;
  /** Tokens left after this take (fractional). */
  remaining: number;
  /** When a rejected take could succeed, in milliseconds (0 when allowed). */
  retryAfterMs: number;
  /** The store could not be reached and its failure policy decided the outcome. */
  degraded?: boolean;
}

/** Shared token buckets. `take` is atomic per key across every instance sharing the store. */
export interface RateLimitStore {
  take(key: string, bucket: BucketSpec, cost: number): TakeResult | Promise<TakeResult>;
}

/** Shared cache entries (serialised JSON). A store that cannot answer behaves as a miss. */
export interface CacheStore {
  get(key: string): string | undefined | Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): void | Promise<void>;
  delete(key: string): void | Promise<void>;
  /**
   * Cross-instance stampede protection: try to become the one holder computing `key` for up to
   * `ttlMs`. Resolves to a token naming this hold, or `undefined` when someone else holds the key.
   * Stores shared by one process only need not implement it.
   */
  acquire?(key: string, ttlMs: number): Promise<string | undefined>;
  /** Lets go of the hold `token` names; a hold that expired and was taken by another is left alone. */
  release?(key: string, token: string): Promise<void>;
}

/** A store that serves both rate limits and caching. */
export interface Store extends RateLimitStore, CacheStore {
  /** `memory` or `redis`: the label on metrics and log lines. */
  readonly kind: string;
  /** Checks the store answers (for health checks); rejects when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A store operation that failed (published on `rampart:store`, counted by `metrics()`). */
export interface StoreFailure {
  store: string;
  operation: string;
  error: unknown;
}

/** Store failures, for metrics; publishing costs nothing without a subscriber. */
export const storeChannel = diagnostics.channel('rampart:store');

export function publishStoreFailure(failure: StoreFailure): void {
  if (storeChannel.hasSubscribers) storeChannel.publish(failure);
}

/** A bucket's level: the tokens it held at `ts` (a class: it is updated on every take). */
export class BucketLevel {
  constructor(
    public tokens: number,
    public ts: number,
  ) {}
}

/**
 * Lazy-refill token bucket arithmetic shared by the stores (the Redis script mirrors it in Lua):
 * refills `level` to `now`, takes `cost` if it can, and updates `level` in place.
 */
export function takeTokens(level: BucketLevel, bucket: BucketSpec, cost: number, now: number): TakeResult {
  let tokens = Math.min(bucket.burst, level.tokens + (Math.max(0, now - level.ts) * bucket.rate) / 1000);
  const allowed = tokens >= cost;
  if (allowed) tokens -= cost;
  level.tokens = tokens;
  level.ts = now;
  if (allowed) return { allowed: true, remaining: tokens, retryAfterMs: 0 };
  const retryAfterMs =
    cost > bucket.burst || bucket.rate <= 0 ? -1 : Math.ceil(((cost - tokens) * 1000) / bucket.rate);
  return { allowed: false, remaining: tokens, retryAfterMs };
}
