/**
 * `cache()`: caches the results of read-only tool calls (tools annotated `readOnlyHint: true`, or
 * listed) and, when asked, resource reads. The key is the tool name (or URI) plus the canonical JSON
 * of the arguments, and the principal unless `shared`. One computation per key at a time — in this
 * process always, across instances through the store's lock — so a burst of identical calls runs the
 * handler once. Errors, `isError` results and `input_required` results are never cached.
 */

import { createHash } from 'node:crypto';
import { canonicalJson } from '../protocol/canonical-json.js';
import type { Context } from '../server/context.js';
import type { FeatureRef, McpServer } from '../server/server.js';
import { memoryStore } from '../stores/memory.js';
import type { CacheStore } from '../stores/types.js';
import type { Middleware } from './compose.js';
import { publishProtection } from './events.js';

export interface CacheOptions {
  /** How long a result stays cached, in milliseconds; 0 caches nothing. Default 60 000. */
  ttlMs?: number;
  /** Per-tool (or per-URI) TTLs overriding `ttlMs` (0: that one is never cached). */
  perTool?: Record<string, number>;
  /** Where results live. Default: a new bounded in-memory store. */
  store?: CacheStore;
  /**
   * Which tools are cached: `readOnly` (default: those annotated `readOnlyHint: true`), a list of
   * names, or a predicate.
   */
  tools?: 'readOnly' | string[] | ((tool: FeatureRef) => boolean);
  /** Cache `resources/read` too: `true` for every resource, or a list of URIs. Default false. */
  resources?: boolean | string[];
  /** Share entries between principals. Default false: each principal has its own entries. */
  shared?: boolean;
  /** A custom key (return `undefined` to skip caching this request). */
  key?: (ctx: Context<any>) => string | undefined;
  /** How long one instance may hold the compute lock of a key (shared stores). Default 10 000 ms. */
  lockTtlMs?: number;
  /** The rule's name, on metrics. Default `default`. */
  name?: string;
}

/** `_meta` key set on results served from the cache. */
export const CACHED_META = 'io.rampart/cached';

export { canonicalJson };

function cacheable(result: unknown): boolean {
  const r = result as { isError?: unknown; resultType?: unknown } | undefined;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.isError !== true &&
    (r.resultType === undefined || r.resultType === 'complete')
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A computed result and, when it may be cached and shared, its JSON. */
interface Computed {
  result: unknown;
  json: string | undefined;
}

/** The middleware, installed with `server.use(cache(...))` (it reads tool annotations). */
export type CacheMiddleware = Middleware<Context<any>> & { install(server: McpServer<any>): void };

/** Creates the cache middleware. Register it after `auth()` so entries can be per principal. */
export function cache(options: CacheOptions = {}): CacheMiddleware {
  const store: CacheStore = options.store ?? memoryStore();
  const ttlMs = options.ttlMs ?? 60_000;
  for (const [name, ttl] of [['ttlMs', ttlMs], ...Object.entries(options.perTool ?? {})] as const) {
    if (!Number.isFinite(ttl) || ttl < 0)
      throw new RangeError(`cache(): the TTL of ${name} must be a number ≥ 0`);
  }
  const rule = options.name ?? 'default';
  const lockTtlMs = options.lockTtlMs ?? 10_000;
  const tools = options.tools ?? 'readOnly';
  const listed = Array.isArray(tools) ? new Set(tools) : undefined;
  const resources = options.resources ?? false;
  const listedUris = Array.isArray(resources) ? new Set(resources) : undefined;
  // One computation per key in this process; bounded by the requests in flight.
  const inflight = new Map<string, Promise<Computed>>();
  let server: McpServer<any> | undefined;

  const wanted = (ref: FeatureRef): boolean => {
    if (ref.kind === 'resource') return resources === true || (listedUris?.has(ref.name) ?? false);
    if (ref.kind !== 'tool') return false;
    if (listed) return listed.has(ref.name);
    if (typeof tools === 'function') return tools(ref);
    return (ref.config.annotations as { readOnlyHint?: boolean } | undefined)?.readOnlyHint === true;
  };

  const keyFor = (ctx: Context<any>, ref: FeatureRef): string | undefined => {
    if (options.key) return options.key(ctx);
    const args = ref.kind === 'tool' ? canonicalJson(ctx.params.arguments ?? {}) : '';
    // Per caller unless shared: credentials that name no one are cached for no one.
    let who = '';
    if (!options.shared && ctx.auth !== undefined) {
      const identity = ctx.identity;
      if (identity === undefined) return undefined;
      who = identity;
    }
    return createHash('sha256')
      .update(`${ctx.method}\u0000${ref.name}\u0000${args}\u0000${who}`)
      .digest('base64url');
  };

  const mark = (ctx: Context<any>, result: 'hit' | 'miss' | 'shared') => {
    ctx.metadata['rampart.cache'] = result;
    publishProtection({ kind: 'cache', rule, result, ctx });
  };

  const fromCache = (json: string): unknown => {
    const value = JSON.parse(json) as Record<string, unknown>;
    value._meta = Object.assign({}, value._meta, { [CACHED_META]: true });
    return value;
  };

  /**
   * Runs the handler once for everyone waiting on `key`, across instances when the store can lock;
   * resolves to the result and, when it was cacheable, its JSON (what the waiting callers are given).
   */
  const compute = async (key: string, ttl: number, next: () => Promise<unknown>): Promise<Computed> => {
    let lock: string | undefined;
    if (store.acquire) {
      lock = await store.acquire(key, lockTtlMs);
      if (lock === undefined) {
        // Another instance is computing it: wait for its entry, or for its lock to be let go without
        // one (its result was not cacheable, or it failed); then give up waiting and compute.
        const deadline = Date.now() + lockTtlMs;
        for (let delay = 10; lock === undefined && Date.now() < deadline; delay = Math.min(delay * 2, 200)) {
          await sleep(delay);
          const hit = await store.get(key);
          if (hit !== undefined) return { result: fromCache(hit), json: hit };
          lock = await store.acquire(key, lockTtlMs);
        }
      }
    }
    try {
      const result = await next();
      const json = cacheable(result) ? JSON.stringify(result) : undefined;
      if (json !== undefined && ttl > 0) await store.set(key, json, ttl);
      return { result, json };
    } finally {
      if (lock !== undefined) await store.release?.(key, lock);
    }
  };

  const middleware = (async (ctx, next) => {
    if (ctx.method !== 'tools/call' && ctx.method !== 'resources/read') return next();
    // Answers to input requests make a call unique: never served from (or stored in) the cache.
    if (ctx.params.inputResponses !== undefined || ctx.params.requestState !== undefined) return next();
    const ref = server?.lookup(ctx.method, ctx.params);
    if (ref === undefined || !wanted(ref)) return next();
    const key = keyFor(ctx, ref);
    if (key === undefined) return next();
    const hit = await store.get(key);
    if (hit !== undefined) {
      mark(ctx, 'hit');
      return fromCache(hit);
    }
    const running = inflight.get(key);
    if (running !== undefined) {
      mark(ctx, 'shared');
      // A copy of the leader's answer, as a hit is one: its JSON. If the leader fails, or its result
      // is not one to share, this request computes for itself.
      return running.then(({ json }) => (json === undefined ? next() : JSON.parse(json)), next);
    }
    mark(ctx, 'miss');
    const ttl =
      options.perTool !== undefined && Object.hasOwn(options.perTool, ref.name)
        ? options.perTool[ref.name]
        : ttlMs;
    const flight = compute(key, ttl, next);
    inflight.set(key, flight);
    try {
      return (await flight).result;
    } finally {
      inflight.delete(key);
    }
  }) as CacheMiddleware;
  middleware.install = (s) => {
    server = s;
  };
  return middleware;
}
