/**
 * The HTTP host: one `node:http` server carrying the MCP endpoint (default `/mcp`) and room for the
 * operational routes, with DNS-rebinding protection, body and time limits. The same handler mounts
 * in other stacks: `nodeHandler()` for Express/Fastify/plain Node, `fetchHandler()` for Web-standard
 * runtimes (Hono, Bun, Deno, workers).
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../protocol/jsonrpc.js';
import type { McpServer, RouteHandler } from '../server/server.js';
import {
  fetchExchange,
  flushPendingResponses,
  type HttpExchange,
  nodeExchange,
} from '../transports/http/exchange.js';
import { LegacySse, type LegacySseOptions } from '../transports/http/legacy-sse.js';
import {
  failSafe,
  rejectHttp,
  StreamableHttp,
  type StreamableHttpOptions,
} from '../transports/http/streamable.js';
import { WebSocketEndpoint, type WebSocketOptions, websocketAvailable } from '../transports/websocket.js';
import { IdleConnections } from './idle-connections.js';

export interface HttpOptions extends StreamableHttpOptions {
  /** Path of the MCP endpoint. Default `/mcp`. */
  path?: string;
  /**
   * Serve Prometheus metrics at `/metrics` from this registry (e.g. `metrics().registry`, or the
   * middleware itself).
   */
  metrics?:
    | { metrics(): Promise<string>; contentType: string }
    | { registry: { metrics(): Promise<string>; contentType: string } };
  /** The 2024-11-05 HTTP+SSE endpoints (`/sse`, `/messages`); `false` turns them off. Default on. */
  legacySse?: LegacySseOptions | false;
  /**
   * Host header values accepted (DNS-rebinding protection). Default: when bound to a loopback
   * address, only loopback names; otherwise any. Read once, when the host or handler is made.
   */
  allowedHosts?: string[];
  /** Origin header values accepted. Default: when bound to loopback, only loopback origins; else any. */
  allowedOrigins?: string[];
  /** The WebSocket endpoint (`/ws`); `false` turns it off. Default on when `ws` is installed. */
  websocket?: WebSocketOptions | false;
  /**
   * Write whole (non-streamed) responses together at the end of the event-loop pass that made them,
   * which wakes each client once a pass rather than once a response: less kernel time under heavy
   * load (4–8 % more throughput measured over loopback), for at most one pass of added latency and
   * a young generation that grows to its maximum under load (~12 MB more RSS). The host and
   * `nodeHandler` (whose `close()` writes what waits); `fetchHandler` ignores it. Default false.
   */
  batchResponses?: boolean;
}

export interface ListenOptions extends HttpOptions {
  /** Default `PORT` or 3000; 0 picks a free port. */
  port?: number;
  /** Default `HOST` or 127.0.0.1. */
  host?: string;
  /** Time to receive a whole request. Default 30 s. */
  requestTimeoutMs?: number;
  /** Time to receive the request headers. Default 10 s. */
  headersTimeoutMs?: number;
  /** Time an idle keep-alive connection stays open (closed within a second after). Default 5 s; 0: no limit. */
  keepAliveTimeoutMs?: number;
}

/** A running HTTP host. */
export interface HttpHost {
  readonly url: URL;
  readonly port: number;
  readonly host: string;
  readonly server: Server;
  readonly mcp: StreamableHttp;
  /** The 2024-11-05 HTTP+SSE endpoints, unless turned off. */
  readonly sse: LegacySse | undefined;
  /** The WebSocket endpoint, unless turned off (or `ws` is not installed). */
  readonly ws: WebSocketEndpoint | undefined;
  /** Stops accepting, drains sessions, closes the listener. */
  close(drainMs?: number): Promise<void>;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Whether a host name or address is this machine's loopback (DNS-rebinding rules, open-server guard). */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host);
}

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  const colon = hostHeader.lastIndexOf(':');
  return colon === -1 ? hostHeader : hostHeader.slice(0, colon);
}

/** The request router shared by every adapter. */
export class HttpRouter {
  readonly mcp: StreamableHttp;
  readonly sse: LegacySse | undefined;
  readonly ws: WebSocketEndpoint | undefined;
  private readonly path: string;
  private loopbackOnly: boolean;
  /** `allowedHosts`, copied: the Host that last passed is remembered against this list. */
  private readonly allowedHosts: readonly string[] | undefined;
  private readonly allowedOrigins: readonly string[] | undefined;
  /**
   * The last Host header that passed the check. A client sends the same one on every request, and
   * comparing it costs less than parsing it and hashing the fresh string for a set lookup.
   */
  private passedHost: string | undefined;

  constructor(
    private readonly server: McpServer<any>,
    private readonly options: HttpOptions = {},
    boundHost?: string,
  ) {
    this.mcp = new StreamableHttp(server, options);
    this.sse = options.legacySse === false ? undefined : new LegacySse(server, options.legacySse ?? {});
    this.path = options.path ?? '/mcp';
    this.ws =
      options.websocket === false || (options.websocket === undefined && !websocketAvailable())
        ? undefined
        : new WebSocketEndpoint(server, options.websocket ?? {}, (header) =>
            this.allowedHeaders(header('host'), header('origin')),
          );
    this.loopbackOnly = boundHost !== undefined && isLoopback(boundHost);
    // Copied: what the host accepts is settled when it is made, not by later edits to the caller's arrays.
    this.allowedHosts = options.allowedHosts === undefined ? undefined : [...options.allowedHosts];
    this.allowedOrigins = options.allowedOrigins === undefined ? undefined : [...options.allowedOrigins];
  }

  private async serveMetrics(ex: HttpExchange): Promise<void> {
    const source = this.options.metrics!;
    const registry = 'registry' in source ? source.registry : source;
    ex.respond(200, { 'content-type': registry.contentType }, await registry.metrics());
  }

  /** The operational route for a path: an exact match, else the longest `/*` prefix route. */
  private routeFor(path: string): RouteHandler | undefined {
    const routes = this.server.routes;
    if (routes.size === 0) return undefined;
    const exact = routes.get(path);
    if (exact) return exact;
    let best: RouteHandler | undefined;
    let bestLength = -1;
    for (const [pattern, handler] of routes) {
      if (!pattern.endsWith('/*')) continue;
      const prefix = pattern.slice(0, -1);
      if (path.startsWith(prefix) && prefix.length > bestLength) {
        best = handler;
        bestLength = prefix.length;
      }
    }
    return best;
  }

  private async serveRoute(ex: HttpExchange, route: RouteHandler): Promise<void> {
    const answer = await route({ method: ex.method, path: ex.path, header: (name) => ex.header(name) });
    const json = typeof answer.body !== 'string';
    ex.respond(
      answer.status,
      { 'content-type': json ? 'application/json' : 'text/plain; charset=utf-8', ...answer.headers },
      json ? JSON.stringify(answer.body) : (answer.body as string),
    );
  }

  /** Closes both transports, draining in-flight requests for up to `drainMs`. */
  async close(drainMs?: number): Promise<void> {
    await Promise.all([this.mcp.close(drainMs), this.sse?.close(drainMs), this.ws?.close(drainMs)]);
    // Answers made but not yet written (`batchResponses`) leave before the connections close.
    await flushPendingResponses();
  }

  /** Turns on loopback-only Host/Origin checks (the host calls this once it knows its address). */
  protectLoopback(on: boolean): void {
    this.loopbackOnly = on;
    this.passedHost = undefined;
  }

  /** DNS-rebinding protection: a forged Host or Origin gets 403 with a JSON-RPC error body. */
  private allowed(ex: HttpExchange): boolean {
    return this.allowedHeaders(ex.header('host'), ex.header('origin'));
  }

  /**
   * `Origin`, when a browser sends one, must be listed in `allowedOrigins`; without that list, on a
   * loopback host any loopback origin passes, elsewhere one whose host is in `allowedHosts` (a
   * same-origin page), and with neither list none — a rebound page's Origin always matches the
   * Host it sends, so without a list of the server's names no browser origin can be trusted.
   */
  private allowedHeaders(host: string | undefined, origin: string | undefined): boolean {
    if (host === undefined || host !== this.passedHost) {
      if (!this.hostAllowed(host)) return false;
      this.passedHost = host;
    }
    if (origin !== undefined) {
      const allowedOrigins = this.allowedOrigins;
      if (allowedOrigins) return allowedOrigins.includes(origin);
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        return false;
      }
      if (this.loopbackOnly) return isLoopback(url.hostname);
      return this.allowedHosts?.includes(url.host) ?? false;
    }
    return true;
  }

  private hostAllowed(host: string | undefined): boolean {
    const allowedHosts = this.allowedHosts;
    if (allowedHosts) return host !== undefined && host !== '' && allowedHosts.includes(host);
    return !this.loopbackOnly || (host !== undefined && host !== '' && isLoopback(hostnameOf(host)));
  }

  /** An HTTP upgrade (`server.on('upgrade', router.upgrade)`): the WebSocket endpoint, else refused. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (this.ws && path === this.ws.path) {
      const go = () => this.ws!.handleUpgrade(req, socket, head);
      if (this.server.started) go();
      else this.server.start().then(go, () => socket.destroy());
      return;
    }
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  };

  /**
   * Routes one request. Resolves (when it returns a promise at all) once the request is handed on;
   * failures it could not answer itself reject. `serve()` wraps it for the adapters.
   */
  handle(ex: HttpExchange): Promise<void> | undefined {
    // Mounted handlers (Express, Hono...) may see traffic before anyone called start().
    if (!this.server.started) return this.server.start().then(() => this.route(ex));
    return this.route(ex);
  }

  private route(ex: HttpExchange): Promise<void> | undefined {
    if (!this.allowed(ex)) {
      rejectHttp(ex, 403, {
        code: ErrorCode.Forbidden,
        message: 'Forbidden: Host or Origin not allowed',
        data: { type: 'forbidden_origin' },
      });
      return undefined;
    }
    if (ex.path === this.path) return this.mcp.handle(ex);
    if (this.sse?.handles(ex.path)) return this.sse.handle(ex);
    if (ex.path === '/metrics' && this.options.metrics && ex.method === 'GET') return this.serveMetrics(ex);
    const route = this.routeFor(ex.path);
    if (route) return this.serveRoute(ex, route);
    rejectHttp(ex, 404, {
      code: ErrorCode.MethodNotFound,
      message: `Not found: ${ex.path}`,
      data: { type: 'not_found' },
    });
    return undefined;
  }

  /** Handles a request for an adapter: whatever fails unanswered gets a 500 and a log line. */
  serve(ex: HttpExchange): void {
    try {
      this.handle(ex)?.catch((err) => failSafe(this.server, ex, err));
    } catch (err) {
      failSafe(this.server, ex, err);
    }
  }
}

/** A Node `(req, res)` handler for Express, Fastify or plain `node:http`. Reads `req.body` if a framework parsed it. */
export function nodeHandler(server: McpServer<any>, options: HttpOptions = {}) {
  const router = new HttpRouter(server, options);
  const batched = options.batchResponses === true;
  const handler = (req: IncomingMessage & { body?: unknown }, res: ServerResponse): void => {
    router.serve(nodeExchange(req, res, req.body, batched));
  };
  return Object.assign(handler, { router, close: (drainMs?: number) => router.close(drainMs) });
}

/** A Web-standard `fetch(Request) => Promise<Response>` handler (Hono, Bun, Deno, workers). */
export function fetchHandler(server: McpServer<any>, options: HttpOptions = {}) {
  // A fetch handler cannot take an HTTP upgrade: no WebSocket endpoint (nor its heartbeat timer).
  const router = new HttpRouter(server, { ...options, websocket: false });
  const handler = (request: Request): Promise<Response> =>
    new Promise<Response>((resolve) => {
      router.serve(fetchExchange(request, resolve));
    });
  return Object.assign(handler, { router, close: (drainMs?: number) => router.close(drainMs) });
}

/** Node's response in progress on a socket (`null` between requests, until written); an internal of `node:http`. */
function busy(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: unknown })._httpMessage != null;
}

/**
 * A sweep for a closing host: each call closes the connections with no response in progress that
 * read nothing since the call before (a request may be arriving on them).
 */
function idleSweep(sockets: Set<Socket>): () => void {
  const lastRead = new Map<Socket, number>();
  return () => {
    for (const socket of sockets) {
      const read = socket.bytesRead;
      if (!busy(socket) && lastRead.get(socket) === read) socket.destroy();
      else lastRead.set(socket, read);
    }
  };
}

/** Resolves when `promise` settles or `ms` have passed, whichever is first. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  if (ms <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Starts the HTTP host. Port 0 picks a free port; the bound address is in the result. */
export async function listen(server: McpServer<any>, options: ListenOptions = {}): Promise<HttpHost> {
  const host = options.host ?? process.env.HOST ?? '127.0.0.1';
  const port = options.port ?? (process.env.PORT ? Number(process.env.PORT) : 3000);
  const router = new HttpRouter(server, options, host);
  const keepAliveMs = options.keepAliveTimeoutMs ?? 5_000;
  let idle: IdleConnections | undefined;
  const batched = options.batchResponses === true;
  const http = createHttpServer((req, res) => {
    idle?.hint(res);
    router.serve(nodeExchange(req, res, undefined, batched));
  });
  http.requestTimeout = options.requestTimeoutMs ?? 30_000;
  http.headersTimeout = options.headersTimeoutMs ?? 10_000;
  // One sweep closes idle connections (it turns Node's per-request timer off); 0 keeps them open.
  if (keepAliveMs > 0) idle = new IdleConnections(http, keepAliveMs);
  else http.keepAliveTimeout = 0;
  // The HTTP connections (one entry per connection, none per request), for close() to let the
  // responses on them finish writing.
  const sockets = new Set<Socket>();
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    idle?.forget(socket as Socket);
    sockets.delete(socket as Socket);
    router.upgrade(req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      idle?.stop();
      reject(err);
    };
    http.once('error', failed);
    http.listen(port, host, () => {
      http.off('error', failed);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  const address = http.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: new URL(`http://${urlHost}:${address.port}${options.path ?? '/mcp'}`),
    port: address.port,
    host: address.address,
    server: http,
    mcp: router.mcp,
    sse: router.sse,
    ws: router.ws,
    close(drainMs = 5_000) {
      closing ??= (async () => {
        const deadline = Date.now() + drainMs;
        // Stop accepting; idle keep-alive connections go at the first sweeps, busy ones once their
        // response is written — not merely ended, as Node's closeIdleConnections() has it: a large
        // body ended in the drain takes many writes, which that would cut short.
        const closed = new Promise<void>((resolve) => http.close(() => resolve()));
        const sweep = idleSweep(sockets);
        sweep();
        const sweeper = setInterval(sweep, 100);
        try {
          await router.close(drainMs);
          // What the drain answered may still be on its way: wait for it, up to the drain deadline.
          await within(closed, deadline - Date.now());
        } finally {
          clearInterval(sweeper);
          idle?.stop();
        }
        http.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
