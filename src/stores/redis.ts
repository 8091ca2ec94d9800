/**
 * `redisStore()`: rate-limit buckets and cache entries on Redis (ioredis, an optional peer
 * dependency), so many server instances share one limit and one cache. Each take is one atomic Lua
 * script on the server's clock; when Redis cannot be reached, the failure policy decides (fail open
 * or closed), a throttled log line says so, and `rampart:store` counts it — requests never crash.
 */
import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { requirePeer } from '../optional-peer.js';
import { createLogger, type Logger } from '../server/logger.js';
import { type BucketSpec, publishStoreFailure, type Store, type TakeResult } from './types.js';

export interface RedisStoreOptions {
  /** `redis://` URL. Default `REDIS_URL` or redis://127.0.0.1:6379. Ignored when `client` is given. */
  url?: string;
  /** An ioredis client to use (the store will not close it). */
  client?: Redis;
  /** Extra ioredis options for the client the store creates. */
  redis?: RedisOptions;
  /** Key prefix. Default `rampart:`. */
  prefix?: string;
  /** What a rate limit does when Redis cannot answer: admit (`open`, default) or reject (`closed`). */
  failurePolicy?: 'open' | 'closed';
  /** How long one command may take before it counts as a failure. Default 500 ms. */
  commandTimeoutMs?: number;
  /** Where failure lines go. Default: a pino logger on stderr. */
  logger?: Logger;
}

// Token bucket with lazy refill, on Redis' own clock so instances' clocks never matter.
// KEYS[1] bucket; ARGV rate (tokens/s), burst, cost, ttl (ms). Returns {allowed, remaining, retryMs}.
// The time is kept as TIME's two integers: Lua's tostring keeps 14 digits, too few for epoch µs.
const TAKE = `
local t = redis.call('TIME')
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 's', 'us')
local tokens = tonumber(state[1])
if tokens == nil then
  tokens = burst
else
  local elapsed = (tonumber(t[1]) - tonumber(state[2])) * 1000 + (tonumber(t[2]) - tonumber(state[3])) / 1000
  tokens = math.min(burst, tokens + math.max(0, elapsed) * rate / 1000)
end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
elseif cost > burst or rate <= 0 then
  retry = -1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 's', t[1], 'us', t[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {allowed, tostring(tokens), retry}
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type ScriptedRedis = Redis & {
  rampartTake(
    key: string,
    rate: number,
    burst: number,
    cost: number,
    ttl: number,
  ): Promise<[number, string, number]>;
  rampartRelease(key: string, token: string): Promise<number>;
};

/** A Redis-backed store for rate limits and the cache. */
export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly client: Redis;
  readonly failurePolicy: 'open' | 'closed';
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly owned: boolean;
  private readonly logger: Logger;
  private failures = 0;
  private lastReport = 0;

  constructor(options: RedisStoreOptions = {}) {
    const { Redis: RedisClient } = requirePeer<typeof import('ioredis')>('ioredis', 'redisStore()');
    this.owned = options.client === undefined;
    this.client =
      options.client ??
      new RedisClient(options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
        // Fail fast while Redis is away (the policy answers) and reconnect in the background.
        maxRetriesPerRequest: 1,
        commandTimeout: options.commandTimeoutMs ?? 500,
        retryStrategy: (times) => Math.min(times * 100, 2_000),
        ...options.redis,
      });
    // ioredis reports connection errors as events: without a listener they would be unhandled.
    this.client.on('error', (err) => this.failed('connection', err));
    this.redis = this.client as ScriptedRedis;
    this.redis.defineCommand('rampartTake', { numberOfKeys: 1, lua: TAKE });
    this.redis.defineCommand('rampartRelease', { numberOfKeys: 1, lua: RELEASE });
    this.prefix = options.prefix ?? 'rampart:';
    this.failurePolicy = options.failurePolicy ?? 'open';
    this.logger = options.logger ?? createLogger({ name: 'rampart' });
  }

  async take(key: string, bucket: BucketSpec, cost: number): Promise<TakeResult> {
    const ttl = Math.ceil((bucket.burst / Math.max(bucket.rate, 1e-9)) * 1000) + 1_000;
    try {
      const [allowed, remaining, retry] = await this.redis.rampartTake(
        `${this.prefix}rl:${key}`,
        bucket.rate,
        bucket.burst,
        cost,
        Math.min(ttl, 86_400_000),
      );
      return { allowed: allowed === 1, remaining: Number(remaining), retryAfterMs: retry };
    } catch (err) {
      this.failed('take', err);
      const allowed = this.failurePolicy === 'open';
      return { allowed, remaining: 0, retryAfterMs: allowed ? 0 : 1_000, degraded: true };
    }
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.client.get(`${this.prefix}c:${key}`)) ?? undefined;
    } catch (err) {
      this.failed('get', err);
      return undefined;
    }
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    try {
      await this.client.set(`${this.prefix}c:${key}`, value, 'PX', Math.max(1, Math.round(ttlMs)));
    } catch (err) {
      this.failed('set', err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.del(`${this.prefix}c:${key}`);
    } catch (err) {
      this.failed('delete', err);
    }
  }

  async acquire(key: string, ttlMs: number): Promise<string | undefined> {
    // Each hold has its own token, so a holder whose lock expired cannot let go of the next one's.
    const token = randomBytes(16).toString('base64url');
    try {
      const ok = await this.client.set(`${this.prefix}lock:${key}`, token, 'PX', Math.max(1, ttlMs), 'NX');
      return ok === 'OK' ? token : undefined;
    } catch (err) {
      this.failed('acquire', err);
      // Without Redis nobody can coordinate: compute here rather than wait on a lock that cannot exist.
      return token;
    }
  }

  async release(key: string, token: string): Promise<void> {
    try {
      await this.redis.rampartRelease(`${this.prefix}lock:${key}`, token);
    } catch (err) {
      this.failed('release', err);
    }
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  /** Counts a failure; logs at most one line per 10 s so an outage cannot flood the logs. */
  private failed(operation: string, error: unknown): void {
    publishStoreFailure({ store: this.kind, operation, error });
    this.failures++;
    const now = Date.now();
    if (now - this.lastReport < 10_000) return;
    this.logger.warn(
      { err: error, operation, failures: this.failures, failurePolicy: this.failurePolicy },
      'redis store unavailable',
    );
    this.failures = 0;
    this.lastReport = now;
  }
}

/** Creates a Redis-backed store (`REDIS_URL` by default). */
export function redisStore(options?: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
