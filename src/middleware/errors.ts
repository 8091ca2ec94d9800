/**
 * `errors()`: the one error format, made configurable. Every failure already leaves the server as a
 * JSON-RPC error with a stable code, a message (redacted unless the error is exposable) and
 * `data: { type, correlationId, retryAfterMs?, details? }`; this middleware lets an application map
 * its own exceptions (a driver's timeout, a domain "not found") onto that catalogue.
 */
import type { RampartError } from '../protocol/errors.js';
import type { Context } from '../server/context.js';
import type { Middleware } from './compose.js';

export interface ErrorsOptions {
  /** Turns an application error into a RampartError; return undefined to leave it as it is. */
  map: (error: unknown, ctx: Context<any>) => RampartError | undefined;
}

/** A middleware that maps downstream errors through `options.map`. Register it first (outermost). */
export function errors(options: ErrorsOptions): Middleware<Context<any>> {
  return (ctx, next) =>
    next().catch((err: unknown) => {
      throw options.map(err, ctx) ?? err;
    });
}
