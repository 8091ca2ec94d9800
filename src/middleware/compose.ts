/**
 * The onion. `compose` turns an ordered list of middleware into one function, built once: each
 * middleware receives the context and a `next` that runs the rest of the chain and resolves to the
 * downstream result, so a middleware can short-circuit, rewrite the request, or post-process the result.
 */

/** Runs the rest of the chain and resolves to its result. Calling it twice is an error. */
export type Next<R = unknown> = () => Promise<R>;

/** A middleware: `(ctx, next) => Promise<result>`. Outermost first, in registration order. */
export type Middleware<C = any, R = unknown> = (ctx: C, next: Next<R>) => Promise<R> | R;

/** The composed chain: given a context and the innermost handler, runs every middleware around it. */
export type ComposedMiddleware<C, R> = (ctx: C, terminal: (ctx: C) => Promise<R>) => Promise<R>;

/** Thrown when a middleware calls `next()` more than once. */
export class NextCalledTwiceError extends Error {
  constructor() {
    super('next() called multiple times in one middleware');
    this.name = 'NextCalledTwiceError';
  }
}

/** Composes middleware once; with an empty list the result calls the terminal handler directly. */
export function compose<C, R>(middleware: readonly Middleware<C, R>[]): ComposedMiddleware<C, R> {
  const stack = [...middleware];
  if (stack.length === 0) return (ctx, terminal) => terminal(ctx);
  return (ctx, terminal) => {
    let index = -1;
    const dispatch = (i: number): Promise<R> => {
      if (i <= index) return Promise.reject(new NextCalledTwiceError());
      index = i;
      if (i === stack.length) return terminal(ctx);
      try {
        return Promise.resolve(stack[i](ctx, () => dispatch(i + 1)));
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return dispatch(0);
  };
}

const PASSTHROUGH = Symbol.for('rampart.passthrough');

/**
 * Marks a middleware as passing the result through: it returns `next()`'s promise as it is (or
 * fails, or answers without calling `next()`, or returns a promise of its own — a transformed
 * result), and watches outcomes only through `ctx.onSettled`, never by `.then` on `next()`'s
 * promise while returning that same promise. When every middleware of a server is marked so, the
 * server answers a request from the handler's own completion: one promise and one microtask fewer
 * per request (docs/performance.md). The built-in logging, metrics, tracing, auth, rate-limit and
 * timeout middleware are marked.
 */
export function passthrough<M extends Middleware<any, any>>(middleware: M): M {
  (middleware as M & { [PASSTHROUGH]?: true })[PASSTHROUGH] = true;
  return middleware;
}

/** Whether `middleware` was marked with `passthrough()`. */
export function isPassthrough(middleware: Middleware<any, any>): boolean {
  return (middleware as { [PASSTHROUGH]?: true })[PASSTHROUGH] === true;
}
