/**
 * Who a request counts against: the key strategies shared by `rateLimit()` and `concurrency()` —
 * global, per principal, per session, per tool, per client IP (behind trusted proxies), or a function.
 */
import type { Context } from '../server/context.js';

/** A built-in strategy, a function (returning `undefined` exempts the request), or several combined. */
export type KeyStrategy =
  | 'global'
  | 'principal'
  | 'session'
  | 'tool'
  | 'ip'
  | ((ctx: Context<any>) => string | undefined);

/**
 * Which `X-Forwarded-For` entries to believe: `false` (default) uses the socket's address; `true`
 * the left-most forwarded address; a number, that many proxy hops in front of the server; a list,
 * the addresses of the trusted proxies (the right-most address not in it is the client).
 */
export type TrustProxy = boolean | number | string[];

/** The client's IP address, honouring the trusted-proxy setting. */
export function clientIp(ctx: Context<any>, trustProxy: TrustProxy = false): string | undefined {
  const info = ctx.extra?.requestInfo;
  const socket = info?.remoteAddress;
  if (trustProxy === false || info?.headers === undefined) return socket;
  const header = info.headers['x-forwarded-for'];
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!raw) return socket;
  const hops = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (trustProxy === true) return hops[0] ?? socket;
  if (typeof trustProxy === 'number') {
    // The last `trustProxy` hops are our proxies' own view; the one before them is the client.
    const chain = [...hops, socket ?? ''];
    return chain[Math.max(0, chain.length - 1 - trustProxy)] || socket;
  }
  if (socket === undefined || !trustProxy.includes(socket)) return socket;
  for (let i = hops.length - 1; i >= 0; i--) if (!trustProxy.includes(hops[i])) return hops[i];
  return hops[0] ?? socket;
}

function part(strategy: KeyStrategy, ctx: Context<any>, trustProxy: TrustProxy): string | undefined {
  switch (strategy) {
    case 'global':
      return '*';
    case 'principal': {
      // Anonymous callers share the bucket of their address (or connection), never a global one.
      const identity = ctx.identity;
      if (identity !== undefined) return `p:${identity}`;
      const ip = clientIp(ctx, trustProxy);
      return ip === undefined ? `s:${ctx.session.id}` : `ip:${ip}`;
    }
    case 'session': {
      // A connection-level session (legacy HTTP session, WebSocket, stdio) is the key; a 2026-07-28
      // HTTP request is its own session, so its caller's address stands in.
      if (ctx.extra?.sessionId !== undefined) return `s:${ctx.extra.sessionId}`;
      if (ctx.era === 'legacy' || ctx.extra?.requestInfo === undefined) return `s:${ctx.session.id}`;
      return `ip:${clientIp(ctx, trustProxy) ?? ctx.session.id}`;
    }
    case 'tool':
      return `t:${ctx.target ?? ctx.method}`;
    case 'ip':
      return `ip:${clientIp(ctx, trustProxy) ?? 'local'}`;
    default:
      return strategy(ctx);
  }
}

/** The key of a request under one strategy or a combination; `undefined` exempts it. */
export function keyOf(
  strategy: KeyStrategy | KeyStrategy[],
  ctx: Context<any>,
  trustProxy: TrustProxy = false,
): string | undefined {
  if (!Array.isArray(strategy)) return part(strategy, ctx, trustProxy);
  let key = '';
  for (const s of strategy) {
    const p = part(s, ctx, trustProxy);
    if (p === undefined) return undefined;
    key = key === '' ? p : `${key}|${p}`;
  }
  return key;
}

/** Decides which requests a rule applies to: by method and by tool (or prompt/resource) name. */
export interface Scope {
  /** Methods the rule applies to. Default: every request. */
  methods?: string[];
  /** Tool, prompt or resource names the rule applies to (implies their methods). Default: all. */
  tools?: string[];
}

/** Compiles a Scope into a predicate, once. */
export function matcher(scope: Scope): (ctx: Context<any>) => boolean {
  const methods = scope.methods ? new Set(scope.methods) : undefined;
  const tools = scope.tools ? new Set(scope.tools) : undefined;
  if (!methods && !tools) return (ctx) => ctx.kind === 'request';
  return (ctx) =>
    ctx.kind === 'request' &&
    (methods === undefined || methods.has(ctx.method)) &&
    (tools === undefined || (ctx.target !== undefined && tools.has(ctx.target)));
}
