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
