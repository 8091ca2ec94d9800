import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport as SdkWebSocketTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  auth,
  createLogger,
  createServer,
  type HttpHost,
  logging,
  type McpServer,
  rateLimit,
  WebSocketClientTransport,
} from '../../src/index.js';
import { captureLogs } from '../fixtures/logs.js';
import { envelope } from '../fixtures/raw.js';

const silent = createLogger({ level: 'silent' });
const hosts: HttpHost[] = [];
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c().catch(() => undefined);
  for (const h of hosts.splice(0)) await h.close(100);
});
beforeAll(() => {
  // The SDK v1 client uses the global WebSocket, which Node 20 does not have.
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
});

function makeServer(logger = silent) {
  const server = createServer({ name: 'ws', version: '1', logger });
  server.tool(
    'add',
    { inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } } },
    (args) => String((args as { a: number }).a + (args as { b: number }).b),
  );
  server.tool('whoami', (_args, ctx) => String(ctx.auth?.subject ?? 'anonymous'));
  return server;
}

async function serve(server: McpServer<any>, options = {}) {
  const host = await server.listen({ port: 0, ...options });
  hosts.push(host);
  return { host, url: new URL(`ws://127.0.0.1:${host.port}/ws`) };
}

/** A raw WebSocket peer for wire-level checks. */
async function raw(url: URL, options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const ws = new WebSocket(url, 'mcp', options);
  const messages: any[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    messages.push(JSON.parse(String(d)));
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (predicate: (m: any) => boolean) => {
    for (;;) {
      const found = messages.find(predicate);
      if (found) return found;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  cleanup.push(async () => ws.terminate());
  return { ws, messages, closed, next };
}

const call = (id: number, name: string, args: Record<string, unknown> = {}) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args, _meta: envelope() },
  });

describe('WebSocket transport with clients', () => {
  it('serves the official SDK v1 WebSocket client (legacy era, one session per connection)', async () => {
    const { url, host } = await serve(makeServer());
    const client = new Client({ name: 'sdk-ws', version: '1' });
    await client.connect(new SdkWebSocketTransport(url));
    cleanup.push(() => client.close());
    const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    expect((result.content as { text: string }[])[0].text).toBe('5');
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['add', 'whoami']);
    expect(host.ws!.connectionCount).toBe(1);
  });

  it("carries the SDK v1 client over Rampart's WebSocketClientTransport", async () => {
    const { url } = await serve(makeServer());
    const client = new Client({ name: 'own-ws', version: '1' });
    await client.connect(new WebSocketClientTransport(url));
    cleanup.push(() => client.close());
    const result = await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } });
    expect((result.content as { text: string }[])[0].text).toBe('42');
  });

  it('serves 2026-07-28 requests with their _meta envelope (SDK v2 client)', async () => {
    const { url } = await serve(makeServer());
    const client = new ClientV2({ name: 'v2-ws', version: '2' }, {
      versionNegotiation: { mode: { pin: '2026-07-28' } },
    } as never);
    await client.connect(new WebSocketClientTransport(url) as never);
    cleanup.push(() => client.close());
    const result = await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
    expect((result.content as { text: string }[])[0].text).toBe('2');
  });

  it('reconnects with backoff when the connection drops', async () => {
    const { url, host } = await serve(makeServer());
    const transport = new WebSocketClientTransport(url, { reconnect: { minDelayMs: 10, maxDelayMs: 50 } });
    const answers: any[] = [];
    transport.onmessage = (m) => answers.push(m);
    let reconnected = 0;
    transport.onreconnect = () => {
      reconnected++;
    };
    await transport.start();
    cleanup.push(() => transport.close());
    // Drop every server-side connection abruptly.
    for (const t of (host.ws as any).connections.keys()) t.terminate();
    while (reconnected === 0) await new Promise((r) => setTimeout(r, 10));
    await transport.send(JSON.parse(call(7, 'add', { a: 3, b: 4 })));
    while (answers.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(answers[0].result.content[0].text).toBe('7');
  });
});

describe('WebSocketClientTransport against a peer that goes quiet', () => {
  it('fails an opening handshake the peer never answers, in bounded time', async () => {
    const silent = createNetServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const sockets: import('node:net').Socket[] = [];
    silent.on('connection', (s) => sockets.push(s));
    cleanup.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => silent.close(() => r()));
    });
    const { port } = silent.address() as AddressInfo;
    const transport = new WebSocketClientTransport(`ws://127.0.0.1:${port}/ws`, { handshakeTimeoutMs: 100 });
    await expect(transport.start()).rejects.toThrow(/timed out/i);
  });

  it('makes no reconnect attempt once closed', async () => {
    const { url, host } = await serve(makeServer());
    const transport = new WebSocketClientTransport(url, { reconnect: { minDelayMs: 200, maxDelayMs: 200 } });
    await transport.start();
    let reconnects = 0;
    transport.onreconnect = () => {
      reconnects++;
    };
    for (const t of (host.ws as any).connections.keys()) t.terminate();
    // Dropped, its reconnect scheduled: closing now cancels it (a timer left behind kept the
    // process alive for up to maxDelayMs after close()).
    await new Promise((r) => setTimeout(r, 50));
    const timer = (transport as unknown as { retryTimer?: NodeJS.Timeout }).retryTimer;
    expect(timer?.hasRef()).toBe(true);
    await transport.close();
    expect((transport as unknown as { retryTimer?: NodeJS.Timeout }).retryTimer).toBeUndefined();
    await new Promise((r) => setTimeout(r, 400));
    expect(reconnects).toBe(0);
    expect(host.ws!.connectionCount).toBe(0);
  });
});

describe('WebSocket transport with hostile peers', () => {
  it('answers invalid JSON with a parse error and keeps the connection', async () => {
    const { url } = await serve(makeServer());
    const peer = await raw(url);
    peer.ws.send('{not json');
    const error = await peer.next((m) => m.error);
    expect(error).toMatchObject({ id: null, error: { code: -32700, data: { type: 'parse_error' } } });
    peer.ws.send(call(1, 'add', { a: 1, b: 2 }));
    expect((await peer.next((m) => m.id === 1)).result.content[0].text).toBe('3');
  });

  it('closes with 1003 on a binary frame and 1009 on an oversized message', async () => {
    const { url } = await serve(makeServer(), { websocket: { maxMessageBytes: 1024 } });
    const binary = await raw(url);
    binary.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await binary.closed).code).toBe(1003);
    const big = await raw(url);
    big.ws.send(call(1, 'add', { pad: 'x'.repeat(5_000) }));
    expect((await big.closed).code).toBe(1009);
  });

  it('aborts the handler of a peer that disconnects mid-request, and leaks nothing', async () => {
    const server = makeServer();
    let aborted = false;
    let started = false;
    server.tool('hang', (_args, ctx) => {
      started = true;
      return new Promise((_resolve, reject) =>
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
          reject(ctx.signal.reason);
        }),
      );
    });
    const { url, host } = await serve(server);
    const sessionsBefore = server.sessions.size;
    const peer = await raw(url);
    peer.ws.send(call(1, 'hang'));
    while (!started) await new Promise((r) => setTimeout(r, 5));
    expect(server.sessions.size).toBe(sessionsBefore + 1);
    peer.ws.terminate();
    while (!aborted) await new Promise((r) => setTimeout(r, 5));
    while (server.sessions.size > sessionsBefore) await new Promise((r) => setTimeout(r, 5));
    expect(host.ws!.connectionCount).toBe(0);
  });

  it('drops a peer that stops answering pings', async () => {
    const { url, host } = await serve(makeServer(), { websocket: { heartbeatMs: 40 } });
    const peer = await raw(url, { autoPong: false });
    expect(host.ws!.connectionCount).toBe(1);
    const { code } = await peer.closed;
    expect(code).toBe(1006); // terminated, no close frame
    expect(host.ws!.connectionCount).toBe(0);
  });

  it('stops reading from a peer that does not read its answers, and catches up when it does', async () => {
    const server = makeServer();
    let handled = 0;
    const big = 'x'.repeat(1024 * 1024);
    server.tool('big', () => {
      handled++;
      return big;
    });
    const { url } = await serve(server, { websocket: { highWaterMark: 1024 * 1024 } });
    const peer = await raw(url);
    const socket = (peer.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause(); // the peer stops reading
    for (let id = 1; id <= 100; id++) {
      peer.ws.send(call(id, 'big'));
      await new Promise((r) => setTimeout(r, 3));
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(handled).toBeLessThan(100);
    socket.resume();
    await peer.next((m) => m.id === 100);
    expect(handled).toBe(100);
  });

  it('refuses a forged Origin with 1008', async () => {
    const { url } = await serve(makeServer());
    const peer = await raw(url, { headers: { origin: 'http://evil.example' } });
    const { code, reason } = await peer.closed;
    expect(code).toBe(1008);
    expect(reason).toMatch(/Origin/);
  });
});

describe('WebSocket transport with middleware', () => {
  it('authenticates the upgrade with the same verifiers as HTTP (1008 without a valid token)', async () => {
    const server = makeServer();
    server.use(auth({ apiKeys: [{ key: 'ws-key', subject: 'socket-user' }] }));
    const { url } = await serve(server);
    const refused = await raw(url);
    const closed = await refused.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/^unauthorized/);
    const bad = await raw(url, { headers: { authorization: 'Bearer wrong' } });
    expect((await bad.closed).code).toBe(1008);
    const peer = await raw(url, { headers: { authorization: 'Bearer ws-key' } });
    peer.ws.send(call(1, 'whoami'));
    expect((await peer.next((m) => m.id === 1)).result.content[0].text).toBe('socket-user');
  });

  it('logs each request with its correlation id, as on HTTP', async () => {
    const { lines, logger } = captureLogs({ level: 'info' });
    const server = makeServer(logger);
    server.use(logging());
    const { url } = await serve(server);
    const peer = await raw(url);
    peer.ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'add',
          arguments: { a: 1, b: 1 },
          _meta: envelope({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
        },
      }),
    );
    await peer.next((m) => m.id === 1);
    const line = lines.find((l) => l.msg === 'request finished');
    expect(line).toMatchObject({
      method: 'tools/call',
      target: 'add',
      outcome: 'ok',
      correlationId: '0af7651916cd43dd8448eb211c80319c',
    });
  });

  it('applies rate limits per connection as on HTTP', async () => {
    const server = makeServer();
    server.use(rateLimit({ rate: 0.001, burst: 2, key: 'session' }));
    const { url } = await serve(server);
    const peer = await raw(url);
    for (const id of [1, 2, 3]) peer.ws.send(call(id, 'add', { a: id, b: 0 }));
    const third = await peer.next((m) => m.id === 3);
    expect(third.error.data.type).toBe('rate_limited');
    expect((await peer.next((m) => m.id === 1)).result).toBeDefined();
    // Another connection has its own bucket.
    const other = await raw(url);
    other.ws.send(call(1, 'add', { a: 1, b: 1 }));
    expect((await other.next((m) => m.id === 1)).result).toBeDefined();
  });

  it('drains on shutdown: in-flight requests finish, then the socket closes with 1001', async () => {
    const server = makeServer();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = false;
    server.tool('slow', async () => {
      started = true;
      await gate;
      return 'finished';
    });
    const { url, host } = await serve(server);
    hosts.splice(hosts.indexOf(host), 1);
    const peer = await raw(url);
    peer.ws.send(call(1, 'slow'));
    while (!started) await new Promise((r) => setTimeout(r, 5));
    const closing = host.close(5_000);
    setTimeout(release, 50);
    expect((await peer.next((m) => m.id === 1)).result.content[0].text).toBe('finished');
    const { code } = await peer.closed;
    expect(code).toBe(1001);
    await closing;
  });
});
