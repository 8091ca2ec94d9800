/** The HTTP host's keep-alive timeout: idle connections closed by a sweep, busy ones never. */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { sweepInterval } from '../../src/host/idle-connections.js';
import { createLogger, createServer, type HttpHost, type ListenOptions } from '../../src/index.js';
import { envelope } from '../fixtures/raw.js';

const hosts: HttpHost[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const h of hosts.splice(0)) await h.close(100);
});

async function start(options: ListenOptions = {}) {
  const server = createServer({ name: 'ka', version: '1', logger: createLogger({ level: 'silent' }) });
  server.tool(
    'sleep',
    { inputSchema: { type: 'object', properties: { ms: { type: 'number' } } } },
    async (args) => {
      await new Promise((resolve) => setTimeout(resolve, (args as { ms: number }).ms));
      return 'slept';
    },
  );
  const host = await server.listen({ port: 0, legacySse: false, ...options });
  hosts.push(host);
  return host;
}

/** A raw keep-alive connection: sends requests, collects what comes back, notes when it closes. */
function rawConnection(port: number) {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let received = '';
  let closedAt: number | undefined;
  const closed = new Promise<number>((resolve) =>
    socket.on('close', () => {
      closedAt = Date.now();
      resolve(closedAt);
    }),
  );
  socket.on('data', (d) => {
    received += d.toString('utf8');
  });
  return {
    socket,
    closed,
    get closedAt() {
      return closedAt;
    },
    /** Sends one request; resolves with the whole response text once it has arrived, and when. */
    async request(text: string): Promise<{ response: string; at: number }> {
      const before = received.length;
      socket.write(text);
      for (;;) {
        const response = received.slice(before);
        const head = response.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(response)?.[1];
        if (head !== -1 && length !== undefined && response.length >= head + 4 + Number(length)) {
          return { response, at: Date.now() };
        }
        if (closedAt !== undefined) throw new Error(`closed before a whole response: ${response}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
  };
}

function postCall(name: string, args: Record<string, unknown>): string {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name, arguments: args, _meta: envelope() },
  });
  return [
    'POST /mcp HTTP/1.1',
    'Host: 127.0.0.1',
    'Content-Type: application/json',
    'Accept: application/json, text/event-stream',
    'MCP-Protocol-Version: 2026-07-28',
    'Mcp-Method: tools/call',
    `Mcp-Name: ${name}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

const GET_MISSING = 'GET /missing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

describe('HTTP keep-alive', () => {
  it('closes a connection idle for keepAliveTimeoutMs, not sooner, and serves it until then', async () => {
    const timeout = 300;
    const host = await start({ keepAliveTimeoutMs: timeout });
    const conn = rawConnection(host.port);
    const first = await conn.request(GET_MISSING);
    expect(first.response).toMatch(/^HTTP\/1\.1 404/);
    // Still open and serving after part of the timeout.
    await new Promise((resolve) => setTimeout(resolve, timeout / 3));
    const second = await conn.request(postCall('sleep', { ms: 0 }));
    expect(second.response).toMatch(/^HTTP\/1\.1 200/);
    expect(second.response).toContain('slept');
    const closedAt = await conn.closed;
    // The server wrote the response before the client read it, so the idle time it measured is at
    // least the client's, less the time the response took to arrive (well under this margin).
    expect(closedAt - second.at).toBeGreaterThanOrEqual(timeout - 50);
  });

  it('keeps a connection open while its response is in progress, however long', async () => {
    const timeout = 150;
    const host = await start({ keepAliveTimeoutMs: timeout });
    const conn = rawConnection(host.port);
    // The request is sent, then nothing moves on the connection for several sweeps.
    const { response } = await conn.request(postCall('sleep', { ms: timeout * 4 }));
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(response).toContain('slept');
    expect(conn.closedAt).toBeUndefined();
  });

  it('sends the Keep-Alive hint clients use to retire connections first', async () => {
    const host = await start();
    const conn = rawConnection(host.port);
    const { response } = await conn.request(GET_MISSING);
    expect(response).toMatch(/\r\nKeep-Alive: timeout=5\r\n/i);
    expect(response).toMatch(/\r\nConnection: keep-alive\r\n/i);
  });

  it('leaves an upgraded WebSocket connection to its own protocol', async () => {
    const timeout = 100;
    const host = await start({ keepAliveTimeoutMs: timeout });
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}/ws`, 'mcp');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let closed = false;
    ws.on('close', () => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, timeout * 5));
    const answer = new Promise<any>((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)))));
    ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'sleep', arguments: { ms: 0 }, _meta: envelope() },
      }),
    );
    expect((await answer).id).toBe(7);
    expect(closed).toBe(false);
    ws.close();
  });

  it('sweeps a fifth of the timeout apart, between 10 ms and a second', () => {
    expect(sweepInterval(5_000)).toBe(1_000);
    expect(sweepInterval(60_000)).toBe(1_000);
    expect(sweepInterval(300)).toBe(60);
    expect(sweepInterval(20)).toBe(10);
  });
});
