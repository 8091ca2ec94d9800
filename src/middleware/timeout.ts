/**
 * `timeout()`: bounds how long a request may run. When the time is up the handler's `ctx.signal`
 * aborts (so its I/O can stop) and the client gets the standard `timeout` error at once, whether
 * or not the handler notices.
 */
import { TimeoutError } from '../protocol/errors.js';
import type { Context } from '../server/context.js';
import type { Middleware } from './compose.js';
import { publishProtection } from './events.js';
import { matcher, type Scope } from './keys.js';

export interface TimeoutOptions extends Scope {
  /** Default limit for every request, in milliseconds. */
  ms: number;
  /** Limits for particular tools (or prompts/resources), by name. */
  perTool?: Record<string, number>;
  /** The rule's name, on metrics. Default `default`. */
  name?: string;
}

/** Long-lived by design: never timed out unless listed in `methods`. */
const STREAMING = new Set(['subscriptions/listen']);

/** Creates a timeout rule. */
export function timeout(options: TimeoutOptions): Middleware<Context<any>> {
  if (!(options.ms > 0)) throw new TypeError('timeout: ms must be > 0');
  const applies = matcher(options);
  const rule = options.name ?? 'default';
  const perTool = options.perTool ?? {};
  const explicit = new Set(options.methods ?? []);
  return (ctx, next) => {
    if (!applies(ctx) || (STREAMING.has(ctx.method) && !explicit.has(ctx.method))) return next();
    const target = ctx.target;
    const ms = (target !== undefined ? perTool[target] : undefined) ?? options.ms;
    // The request's AbortController is made only if the time runs out (creating one per request
    // would cost more than the rest of this middleware).
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        publishProtection({ kind: 'timeout', rule, method: ctx.method });
        const error = new TimeoutError(`Request timed out after ${ms} ms`, { details: { timeoutMs: ms } });
        ctx.abort(error);
        reject(error);
      }, ms);
      next().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  };
}
