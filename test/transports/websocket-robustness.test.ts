/**
 * The WebSocket endpoint against peers that misbehave around the handshake: protocol errors on a
 * connection being refused, close reasons longer than a close frame holds, peers that leave while
 * their credentials are checked. A crash here is an 'error' event nobody listens to, or a rejection
 * of the upgrade's un-awaited accept(): the listeners below record them, so that a regression fails
 * its test instead of taking the worker down.
 */
import { connect as tcp } from 'node:net';
import { setImmediate } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  type Authenticator,
  type AuthInfo,
  createLogger,
  createServer,
  type HttpHost,
  type McpServer,
  UnauthorizedError,
} from '../../src/index.js';
import { captureLogs } from '../fixtures/logs.js';

const silent = createLogger({ level: 'silent' });
const hosts: HttpHost[] = [];
const peers: WebSocket[] = [];

/** Errors that escaped to the process ('uncaughtException', 'unhandledRejection'). */
let escaped: unknown[] = [];
let onEscape: (() => void) | undefined;
const record = (err: unknown) => {
  escaped.push(err);
  onEscape?.();
};
/** Settles when an error escapes: raced against what a test waits for, which may then never come. */
const crashed = () =>
  new Promise<'crashed'>((resolve) => {
    onEscape = () => resolve('crashed');
  });

beforeEach(() => {
  escaped = [];
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
});
afterEach(async () => {
  for (const ws of peers.splice(0)) ws.terminate();
  for (const h of hosts.splice(0)) await h.close(100);
  process.off('uncaughtException', record);
  process.off('unhandledRejection', record);
  onEscape = undefined;
});

function makeServer(logger = silent) {
  const server = createServer({ name: 'ws-robust', version: '1', logger });
  server.tool('ping', () => 'pong');
  return server;
}

function authenticateWith(server: McpServer<any>, authenticate: Authenticator['authenticate']): void {
  server.authenticator = { authenticate, challenge: () => undefined, principalOf: (a) => a?.subject };
}

async function serve(server: McpServer<any>, options = {}) {
  const host = await server.listen({ port: 0, host: '127.0.0.1', ...options });
  hosts.push(host);
  return { host, url: `ws://127.0.0.1:${host.port}/ws`, live: `http://127.0.0.1:${host.port}/health/live` };
}

/** A raw peer: its close (code and reason as bytes), and its open. */
function connect(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const ws = new WebSocket(url, 'mcp', options);
  peers.push(ws);
  ws.on('error', () => undefined);
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  const closed = new Promise<{ code: number; reason: Buffer }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason })),
  );
  return { ws, opened, closed };
}

/** The server's side of its only upgraded connection. */
function serverSocket(host: HttpHost): WebSocket {
  const clients = (host.ws as unknown as { wss: { clients: Set<WebSocket> } }).wss.clients;
  expect(clients.size).toBe(1);
  return [...clients][0];
}

/** A text frame whose payload is not UTF-8, sent raw: a protocol error on the server (1007). */
function sendInvalidUtf8(ws: WebSocket): void {
  ws.send(Buffer.from([0x22, 0xff, 0x22]), { binary: false });
}

/** A client text frame (masked, with a zero key so the payload goes as is). */
function textFrame(payload: Buffer): Buffer {
  const length =
    payload.length < 126
      ? Buffer.from([0x80 | payload.length])
      : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([Buffer.from([0x81]), length, Buffer.alloc(4), payload]);
}

/**
 * An upgrade request with a first frame in the same write: the frame is on the server before the
 * connection is accepted (or refused), whatever the scheduling. Resolves when the server ends the
 * connection, with the close code of the first frame it sent after its 101.
 */
function upgradeWith(
  port: number,
  frame: Buffer,
  headers: Record<string, string> = {},
): Promise<number | undefined> {
  const request = [
    'GET /ws HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${Buffer.alloc(16, 7).toString('base64')}`,
    'Sec-WebSocket-Protocol: mcp',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve) => {
    const socket = tcp(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const body = received.subarray(received.indexOf('\r\n\r\n') + 4);
      resolve(body[0] === 0x88 && body.length >= 4 ? body.readUInt16BE(2) : undefined);
    });
    socket.write(Buffer.concat([Buffer.from(request), frame]));
  });
}

const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

describe('WebSocket endpoint, connections it refuses', () => {
  it('survives invalid UTF-8 from a peer refused for its Origin, and keeps serving', async () => {
    const { host, live } = await serve(makeServer());
    const invalid = textFrame(Buffer.from([0x22, 0xff, 0x22]));
    const code = await upgradeWith(host.port, invalid, { Origin: 'http://evil.example' });
    expect(code).toBe(1008);
    expect((await fetch(live)).status).toBe(200);
    expect(escaped).toEqual([]);
  });

  it('survives a frame bigger than maxMessageBytes from a peer refused for its credentials', async () => {
    const server = makeServer();
    authenticateWith(server, async () => {
      throw new UnauthorizedError('no token');
    });
    const { host, live } = await serve(server, { websocket: { maxMessageBytes: 64 } });
    const code = await upgradeWith(host.port, textFrame(Buffer.alloc(1024, 0x78)));
    expect(code).toBe(1008);
    expect((await fetch(live)).status).toBe(200);
    expect(escaped).toEqual([]);
  });

  it('survives invalid UTF-8 sent while authentication is pending, then refused', async () => {
    const server = makeServer();
    let sent!: () => void;
    const frameSent = new Promise<void>((resolve) => {
      sent = resolve;
    });
    authenticateWith(server, async () => {
      await frameSent;
      throw new UnauthorizedError('no token');
    });
    const { url, live } = await serve(server);
    const peer = connect(url);
    await peer.opened;
    sendInvalidUtf8(peer.ws);
    sent();
    await peer.closed;
    expect((await fetch(live)).status).toBe(200);
    expect(escaped).toEqual([]);
  });
});

describe('WebSocket endpoint, close reasons', () => {
  // 123 characters, 138 bytes in UTF-8: it fits a close frame only if cut by bytes.
  const french =
    'Jeton refusé : la clé présentée n’est pas reconnue — réessayez avec un jeton délivré par l’émetteur configuré';

  it('cuts a non-ASCII refusal reason to 123 bytes at a character boundary', async () => {
    const server = makeServer();
    authenticateWith(server, async () => {
      throw new UnauthorizedError(french);
    });
    const { url, live } = await serve(server);
    const peer = connect(url);
    const outcome = await Promise.race([peer.closed, crashed()]);
    expect(escaped).toEqual([]);
    const { code, reason } = outcome as { code: number; reason: Buffer };
    expect(code).toBe(1008);
    expect(reason.length).toBeLessThanOrEqual(123);
    const text = reason.toString('utf8');
    expect(Buffer.from(text).equals(reason)).toBe(true); // no character cut in half
    expect(`unauthorized: ${french}`.startsWith(text)).toBe(true);
    expect(text.length).toBeGreaterThan(100);
    expect((await fetch(live)).status).toBe(200);
  });

  it('cuts the reason a session closes its connection with the same way', async () => {
    const { url, host } = await serve(makeServer());
    const peer = connect(url);
    await peer.opened;
    peer.ws.send(initialize);
    await new Promise((resolve) => peer.ws.once('message', resolve));
    const [transport] = (host.ws as unknown as { connections: Map<any, unknown> }).connections.keys();
    // 140 bytes; byte 123 is the second half of the 62nd 'é', which must go whole.
    transport.end(1008, 'é'.repeat(70));
    const outcome = await Promise.race([peer.closed, crashed()]);
    expect(escaped).toEqual([]);
    const { code, reason } = outcome as { code: number; reason: Buffer };
    expect(code).toBe(1008);
    expect(reason.toString('utf8')).toBe('é'.repeat(61));
    expect(host.ws!.connectionCount).toBe(0);
  });
});

describe('WebSocket endpoint, unexpected failures while accepting', () => {
  it('closes with 1011 and logs the error when wiring the session throws', async () => {
    const { lines, logger } = captureLogs({ level: 'error' });
    const server = makeServer(logger);
    server.attach = () => {
      throw new Error('attach exploded');
    };
    const { url, host, live } = await serve(server);
    const peer = connect(url);
    const outcome = await Promise.race([peer.closed, crashed()]);
    expect(escaped).toEqual([]);
    expect((outcome as { code: number }).code).toBe(1011);
    expect(lines.find((l) => l.msg === 'WebSocket connection failed')?.err?.message).toBe('attach exploded');
    expect(host.ws!.connectionCount).toBe(0);
    expect((await fetch(live)).status).toBe(200);
  });
});

describe('WebSocket endpoint, an authenticator that breaks', () => {
  it('closes with 1011 and logs the failure, as HTTP answers 500, instead of a policy refusal', async () => {
    const { lines, logger } = captureLogs({ level: 'error' });
    const server = makeServer(logger);
    authenticateWith(server, async () => {
      throw new Error('user database unreachable');
    });
    const { url, live } = await serve(server);
    const peer = connect(url);
    const outcome = await Promise.race([peer.closed, crashed()]);
    expect(escaped).toEqual([]);
    expect((outcome as { code: number }).code).toBe(1011);
    expect(lines.find((l) => l.msg === 'authentication failed')?.err?.message).toBe(
      'user database unreachable',
    );
    expect((await fetch(live)).status).toBe(200);
  });
});

describe('WebSocket endpoint, peers that leave during authentication', () => {
  it('attaches no session for a peer gone before its credentials were checked', async () => {
    const server = makeServer();
    let release!: () => void;
    const checked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let pending = 0;
    let started!: () => void;
    const authStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    authenticateWith(server, async (): Promise<AuthInfo> => {
      pending++;
      started();
      await checked;
      return { subject: 'user' } as AuthInfo;
    });
    const { url, host } = await serve(server);
    const sessionsBefore = server.sessions.size;
    const peer = connect(url);
    await peer.opened;
    await authStarted;
    const onServer = serverSocket(host);
    const gone = new Promise((resolve) => onServer.once('close', resolve));
    peer.ws.terminate();
    await gone;
    release();
    await setImmediate(); // accept() resumes on microtasks, all run before this
    expect(pending).toBe(1);
    expect(host.ws!.connectionCount).toBe(0);
    expect(server.sessions.size).toBe(sessionsBefore);
    // The endpoint still serves peers that stay.
    const staying = connect(url);
    await staying.opened;
    staying.ws.send(initialize);
    const answer = await new Promise<string>((resolve) =>
      staying.ws.once('message', (d) => resolve(String(d))),
    );
    expect(JSON.parse(answer).result.protocolVersion).toBe('2025-11-25');
    expect(host.ws!.connectionCount).toBe(1);
    expect(escaped).toEqual([]);
  });

  it('counts connections whose credentials are still being checked against maxConnections', async () => {
    const server = makeServer();
    let release!: () => void;
    const checked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let pending = 0;
    authenticateWith(server, async (): Promise<AuthInfo> => {
      pending++;
      await checked;
      return { subject: 'user' } as AuthInfo;
    });
    const { url, host } = await serve(server, { websocket: { maxConnections: 2 } });
    const first = connect(url);
    const second = connect(url);
    await Promise.all([first.opened, second.opened]);
    while (pending < 2) await setImmediate();
    // Both slots are taken by handshakes in progress: a third is refused at the upgrade.
    const third = new WebSocket(url, 'mcp');
    peers.push(third);
    const status = await new Promise<number | undefined>((resolve) => {
      third.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      third.on('open', () => resolve(undefined));
      third.on('error', () => undefined);
    });
    expect(status).toBe(503);
    release();
    await vi.waitFor(() => expect(host.ws!.connectionCount).toBe(2));
    expect(escaped).toEqual([]);
  });

  it('refuses with 1001 a peer whose authentication ends after shutdown began', async () => {
    const server = makeServer();
    let release!: () => void;
    const checked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const authStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    authenticateWith(server, async (): Promise<AuthInfo> => {
      started();
      await checked;
      return { subject: 'user' } as AuthInfo;
    });
    const { url, host } = await serve(server);
    const peer = connect(url);
    await peer.opened;
    await authStarted;
    const closing = host.ws!.close(100);
    release();
    await closing;
    await setImmediate();
    expect(host.ws!.connectionCount).toBe(0);
    expect(server.sessions.size).toBe(0);
    expect((await peer.closed).code).toBe(1001);
  });
});
