/**
 * `memoryStore()`: the embedded default store, bounded in keys and bytes (lru-cache). Shared by
 * everything in one process; use `redisStore()` to share limits and cache across instances.
 */
import { LRUCache } from 'lru-cache';
import { BucketLevel, type BucketSpec, type Store, type TakeResult, takeTokens } from './types.js';

export interface MemoryStoreOptions {
  /** Rate-limit buckets kept; the least recently used is dropped beyond it. Default 100 000. */
  maxBuckets?: number;
  /** Bytes of cached values kept (UTF-16 length x 2). Default 64 MiB. */
  maxCacheBytes?: number;
}

/** An in-process store for rate limits and the cache. */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  private readonly buckets: LRUCache<string, BucketLevel>;
  private readonly entries: LRUCache<string, string>;

  constructor(options: MemoryStoreOptions = {}) {
    this.buckets = new LRUCache({ max: options.maxBuckets ?? 100_000 });
    this.entries = new LRUCache<string, string>({
      maxSize: options.maxCacheBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (value, key) => (value.length + key.length) * 2 || 1,
    });
  }

  take(key: string, bucket: BucketSpec, cost: number): TakeResult {
    const now = performance.now();
    // A known bucket is updated in place (get() already made it the most recent): no set() and no
    // new object per take. A new one starts full.
    let level = this.buckets.get(key);
    if (level === undefined) {
      level = new BucketLevel(bucket.burst, now);
      this.buckets.set(key, level);
    }
    return takeTokens(level, bucket, cost, now);
  }

  get(key: string): string | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: string, ttlMs: number): void {
    this.entries.set(key, value, { ttl: ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.buckets.clear();
    this.entries.clear();
  }
}

/** Creates an in-process store (the default of `rateLimit()` and `cache()`). */
export function memoryStore(options?: MemoryStoreOptions): MemoryStore {
  return new MemoryStore(options);
}
