/**
 * Per-method hooks: sugar that builds an ordinary middleware which runs only for the messages it
 * names — `onRequest` for every request, `onCallTool` for `tools/call`, and so on.
 */
import type { Context } from '../server/context.js';
import type { Middleware, Next } from './compose.js';

type Hook = (ctx: Context<any>, next: Next) => Promise<unknown> | unknown;

/** Hooks a middleware can implement; each is `(ctx, next) => result`, as a middleware is. */
export interface Hooks {
  /** Every message, requests and notifications. Runs outside the narrower hooks. */
  onMessage?: Hook;
  /** Every request. */
  onRequest?: Hook;
  /** Every notification (their results are ignored). */
  onNotification?: Hook;
  onCallTool?: Hook;
  onListTools?: Hook;
  onReadResource?: Hook;
  onListResources?: Hook;
  onListResourceTemplates?: Hook;
  onGetPrompt?: Hook;
  onListPrompts?: Hook;
  onComplete?: Hook;
  onInitialize?: Hook;
}

const METHOD_HOOKS: Record<string, keyof Hooks> = {
  'tools/call': 'onCallTool',
  'tools/list': 'onListTools',
  'resources/read': 'onReadResource',
  'resources/list': 'onListResources',
  'resources/templates/list': 'onListResourceTemplates',
  'prompts/get': 'onGetPrompt',
  'prompts/list': 'onListPrompts',
  'completion/complete': 'onComplete',
  initialize: 'onInitialize',
};

/** Builds a middleware from hooks, resolving which hooks apply to each method once, then caching. */
export function hooks(h: Hooks): Middleware<Context<any>> {
  const cache = new Map<string, Hook[] | null>();
  const chainFor = (ctx: Context<any>): Hook[] | null => {
    const key = `${ctx.kind}:${ctx.method}`;
    let chain = cache.get(key);
    if (chain === undefined) {
      const found: Hook[] = [];
      if (h.onMessage) found.push(h.onMessage);
      if (ctx.kind === 'request' && h.onRequest) found.push(h.onRequest);
      if (ctx.kind === 'notification' && h.onNotification) found.push(h.onNotification);
      const specific = ctx.kind === 'request' ? METHOD_HOOKS[ctx.method] : undefined;
      const hook = specific ? h[specific] : undefined;
      if (hook) found.push(hook);
      chain = found.length > 0 ? found : null;
      // Method names come from clients: the cache stops growing at 256 entries.
      if (cache.size < 256) cache.set(key, chain);
    }
    return chain;
  };
  return (ctx, next) => {
    const chain = chainFor(ctx);
    if (chain === null) return next();
    // A hook that throws rejects the `next()` of the hook around it, as a middleware's would.
    const run = (i: number): Promise<unknown> => {
      if (i === chain.length) return next();
      try {
        return Promise.resolve(chain[i](ctx, () => run(i + 1)));
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return run(0);
  };
}

export function isHooks(value: unknown): value is Hooks {
  return typeof value === 'object' && value !== null && typeof value !== 'function';
}
