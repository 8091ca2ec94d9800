/**
 * `concurrency()`: a bulkhead. At most `max` requests run at once (globally, or per key); up to
 * `queue` more wait their turn (for at most `queueTimeoutMs`); anything beyond is refused at once
 * with the standard `overloaded` error (HTTP 503 with `Retry-After`), so overload sheds load
 * instead of piling it up.
 */
import { OverloadedError } from '../protocol/errors.js';
import type { Context } from '../server/context.js';
import type { Middleware } from './compose.js';
import { publishProtection } from './events.js';
import { type KeyStrategy, keyOf, matcher, type Scope, type TrustProxy } from './keys.js';

export interface ConcurrencyOptions extends Scope {
  /** Requests running at once (per key when `key` is set). */
  max: number;
  /** Count per principal, session, tool, IP... instead of globally. */
  key?: KeyStrategy | KeyStrategy[];
  /** Requests that may wait for a slot (per key). Default 0: refuse at once. */
  queue?: number;
  /** Longest wait in the queue before refusing, in milliseconds. Default 5 000. */
  queueTimeoutMs?: number;
  /** Retry hint sent with refusals. Default 1 000 ms. */
  retryAfterMs?: number;
  /** The rule's name, on metrics and in error details. Default `default`. */
  name?: string;
  trustProxy?: TrustProxy;
}

interface Lane {
  running: number;
  waiting: Array<() => void>;
}

/** The middleware, with a view of its lanes for tests and health reports. */
export type ConcurrencyMiddleware = Middleware<Context<any>> & {
  /** Requests running and waiting now, across all keys. */
  readonly stats: { running: number; waiting: number; keys: number };
};

/** Creates a concurrency limit (bulkhead). */
export function concurrency(options: ConcurrencyOptions): ConcurrencyMiddleware {
  if (!(options.max >= 1)) throw new TypeError('concurrency: max must be >= 1');
  const applies = matcher(options);
  const rule = options.name ?? 'default';
  const queueSize = options.queue ?? 0;
  const queueTimeoutMs = options.queueTimeoutMs ?? 5_000;
  const retryAfterMs = options.retryAfterMs ?? 1_000;
  // Lanes exist only while something runs or waits in them, so the map is bounded by the work.
  const lanes = new Map<string, Lane>();
  let running = 0;
  let waiting = 0;

  const refuse = (why: string, ctx: Context<any>): never => {
    publishProtection({ kind: 'concurrency_rejected', rule, ctx });
    throw new OverloadedError(why, { retryAfterMs, details: { rule, max: options.max } });
  };

  const release = (key: string, lane: Lane) => {
    const wake = lane.waiting.shift();
    if (wake) return wake(); // the slot passes straight to the next in line
    lane.running--;
    running--;
    if (lane.running === 0) lanes.delete(key);
  };

  const wait = (ctx: Context<any>, lane: Lane): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      waiting++;
      publishProtection({ kind: 'concurrency_queued', rule, ctx });
      const signal = ctx.signal;
      const leave = () => {
        const i = lane.waiting.indexOf(admit);
        if (i !== -1) lane.waiting.splice(i, 1);
        waiting--;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const admit = () => {
        leave();
        resolve();
      };
      const onAbort = () => {
        leave();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        leave();
        try {
          refuse('Server overloaded: timed out waiting for a slot', ctx);
        } catch (err) {
          reject(err);
        }
      }, queueTimeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      lane.waiting.push(admit);
    });

  const run = async (next: () => Promise<unknown>, key: string, lane: Lane) => {
    try {
      return await next();
    } finally {
      release(key, lane);
    }
  };

  const middleware = ((ctx, next) => {
    if (!applies(ctx)) return next();
    // Answered already (an outer timeout, say): it takes no slot and waits in no queue.
    if (ctx.aborted) return Promise.reject(ctx.signal.reason);
    const key = options.key === undefined ? '*' : keyOf(options.key, ctx, options.trustProxy);
    if (key === undefined) return next();
    let lane = lanes.get(key);
    if (lane === undefined) {
      lane = { running: 0, waiting: [] };
      lanes.set(key, lane);
    }
    if (lane.running < options.max) {
      lane.running++;
      running++;
      return run(next, key, lane);
    }
    if (lane.waiting.length >= queueSize)
      return refuse('Server overloaded: too many concurrent requests', ctx);
    const admitted = lane;
    return wait(ctx, admitted).then(() => run(next, key, admitted));
  }) as ConcurrencyMiddleware;
  Object.defineProperty(middleware, 'stats', {
    get: () => ({ running, waiting, keys: lanes.size }),
  });
  return middleware;
}
