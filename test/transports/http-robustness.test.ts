/**
 * Streamable HTTP under what well-behaved clients never send and well-behaved servers never meet:
 * odd ids, refused batches, reused ids, dropped connections, unencodable results, failed
 * initializes, resumed streams, shutdowns mid-request. Every request gets an answer; nothing leaks.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createLogger,
  createServer,
  type EventStore,
  fetchHandler,
  type HttpHost,
  type JsonRpcMessage,
  type ListenOptions,
  type McpServer,
  MemoryEventStore,
  type StreamableHttp,
} from '../../src/index.js';
import type { Session } from '../../src/session/session.js';
import type { HttpSessionTransport } from '../../src/transports/http/outbox.js';
import { captureLogs } from '../fixtures/logs.js';

const hosts: HttpHost[] = [];
const servers: McpServer<any>[] = [];
const gates: Gate[] = [];
afterEach(async () => {
  for (const g of gates.splice(0)) g.open();
  for (const h of hosts.splice(0)) await h.close(100);
  for (const s of servers.splice(0)) await s.close(100);
});

/** A promise the test opens: a handler waits on it, so nothing depends on how long anything takes. */
interface Gate {
  promise: Promise<void>;
  open(): void;
}
function gate(): Gate {
  let open!: () => void;
  const g: Gate = { promise: new Promise<void>((r) => (open = r)), open: () => open() };
  gates.push(g);
  return g;
}

function newServer() {
  const server = createServer({ name: 'robust', version: '1', logger: createLogger({ level: 'silent' }) });
  servers.push(server);
  return server;
}

async function start(server: McpServer<any>, options: ListenOptions = {}) {
  const host = await server.listen({ port: 0, legacySse: false, websocket: false, ...options });
  hosts.push(host);
  return host;
}

/** What StreamableHttp keeps, to check that nothing is left behind. */
function internals(mcp: StreamableHttp) {
  return mcp as unknown as {
    sessions: Map<string, { session: Session; transport: HttpSessionTransport }>;
    ephemeral: Iterable<Session>;
  };
}

const BOTH = 'application/json, text/event-stream';
const LEGACY = '2025-11-25';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request through node:http; fails (rather than hangs) when no complete answer comes. */
function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body?: unknown,
  path = url.pathname,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, path, headers, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer to ${method} ${JSON.stringify(body)}`));
    }, 3_000);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode!, headers: res.headers, body: text });
      });
      res.on('aborted', () => reject(new Error('response cut short')));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

function post(url: URL, body: unknown, headers: Record<string, string> = {}) {
  return send(url, 'POST', { 'content-type': 'application/json', accept: BOTH, ...headers }, body);
}

/** The JSON-RPC messages of an SSE body, in order. */
function events(body: string): any[] {
  return body
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line.length > 6)
    .map((line) => JSON.parse(line.slice(6)));
}

async function initialize(url: URL, version = LEGACY) {
  const init = await post(
    url,
    {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    },
    { accept: 'application/json' },
  );
  const id = init.headers['mcp-session-id'] as string;
  const headers = { 'mcp-session-id': id, 'mcp-protocol-version': version };
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  return { id, headers };
}

/** Opens a session's GET stream and resolves with the id of its priming event once it comes. */
function openPrimed(
  url: URL,
  headers: Record<string, string>,
): Promise<{ primed: string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: 'GET',
      agent: false,
      headers: { ...headers, accept: 'text/event-stream' },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
        const m = /^id: (\S+)\ndata: \n\n/.exec(text);
        if (m) resolve({ primed: m[1], close: () => req.destroy() });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function call(id: unknown, name: string, meta?: Record<string, unknown>) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {}, _meta: meta } };
}

/** Opens a POST and drops its connection once `dropWhen` resolves; resolves when the request is sent. */
function dropAfter(url: URL, headers: Record<string, string>, body: unknown, dropWhen: Promise<unknown>) {
  const req = httpRequest(url, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', ...headers },
  });
  req.on('error', () => undefined);
  req.end(JSON.stringify(body));
  void dropWhen.then(() => req.destroy());
}

/** A tool `slow` that answers "done" once `release` opens; `running` settles when it starts. */
function slowTool(server: ReturnType<typeof newServer>) {
  const release = gate();
  let started!: () => void;
  const running = new Promise<void>((r) => {
    started = r;
  });
  server.tool('slow', async () => {
    started();
    await release.promise;
    return 'done';
  });
  return { release, running };
}

describe('Streamable HTTP answers what it cannot route', () => {
  it('answers a request whose id is neither a string nor a number with 400 -32600 and id null', async () => {
    const server = newServer();
    const host = await start(server);
    const { headers } = await initialize(host.url);
    for (const id of [true, {}, [1], null]) {
      const answer = await post(host.url, { jsonrpc: '2.0', id, method: 'ping' }, headers);
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({
        id: null,
        error: { code: -32600, data: { type: 'invalid_request' } },
      });
    }
    const batch = await post(host.url, [{ jsonrpc: '2.0', id: false, method: 'ping' }], headers);
    expect(batch.status).toBe(400);
  });

  it('opens no per-request session for a request with an invalid id (stateless)', async () => {
    const server = newServer();
    const host = await start(server, { stateful: false });
    const answer = await post(
      host.url,
      { jsonrpc: '2.0', id: true, method: 'ping' },
      { 'mcp-protocol-version': LEGACY },
    );
    expect(answer.status).toBe(400);
    expect([...internals(host.mcp).ephemeral]).toHaveLength(0);
    expect([...server.sessions]).toHaveLength(0);
  });

  it('answers a batch the session refuses as a whole at once, with 400 and the reason', async () => {
    const server = newServer();
    const host = await start(server);
    const ping = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });
    // No batches after 2025-03-26.
    const modern = await initialize(host.url, '2025-11-25');
    const refused = await post(host.url, [ping(1), ping(2)], modern.headers);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ id: null, error: { code: -32600 } });
    expect(JSON.parse(refused.body).error.message).toContain('not supported in protocol version 2025-11-25');
    // Past maxBatchSize on 2025-03-26; a batch within it is served.
    const old = await initialize(host.url, '2025-03-26');
    const big = await post(
      host.url,
      Array.from({ length: 101 }, (_, i) => ping(i + 1)),
      old.headers,
    );
    expect(big.status).toBe(400);
    expect(JSON.parse(big.body).error.message).toContain('Batch exceeds 100 messages');
    const served = await post(host.url, [ping(1), ping(2)], old.headers);
    expect(JSON.parse(served.body)).toHaveLength(2);
    const { transport } = internals(host.mcp).sessions.get(old.id)!;
    expect(transport.routes.size).toBe(0);
    expect(transport.outboxes.size).toBe(0);
  });

  it('answers 400, not 202 Accepted, to notifications and responses it cannot accept', async () => {
    const server = newServer();
    const host = await start(server);
    const { headers } = await initialize(host.url);
    for (const bad of [
      { jsonrpc: '1.0', method: 'notifications/x' },
      { jsonrpc: '2.0', method: 42 },
      { hello: 'world' },
      { jsonrpc: '2.0', id: 'r1', result: 'not an object' },
      [{ jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0' }],
    ]) {
      const answer = await post(host.url, bad, headers);
      expect(answer.status, JSON.stringify(bad)).toBe(400);
      expect(JSON.parse(answer.body).error).toMatchObject({
        code: -32600,
        data: { type: 'invalid_request' },
      });
    }
    expect(
      (await post(host.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status,
    ).toBe(202);
    // Stateless too.
    const stateless = await start(newServer(), { stateful: false });
    expect((await post(stateless.url, { jsonrpc: '2.0', method: 42 })).status).toBe(400);
  });

  it('leaves no per-request session behind a refused batch (stateless)', async () => {
    const server = newServer();
    const host = await start(server, { stateful: false });
    const answer = await post(host.url, [{ jsonrpc: '2.0', id: 1, method: 'ping' }], {
      'mcp-protocol-version': '2025-06-18',
    });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error.message).toContain('not supported in protocol version 2025-06-18');
    expect([...internals(host.mcp).ephemeral]).toHaveLength(0);
    expect([...server.sessions]).toHaveLength(0);
  });

  it('serves a batch statelessly on 2025-03-26, named by the header or assumed without one', async () => {
    const server = newServer();
    server.tool('echo', { inputSchema: { type: 'object', properties: { n: { type: 'number' } } } }, (args) =>
      String(args.n),
    );
    const host = await start(server, { stateful: false });
    const echo = (id: number) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'echo', arguments: { n: id } },
    });
    for (const headers of [{ 'mcp-protocol-version': '2025-03-26' }, {}] as Record<string, string>[]) {
      const answer = await post(
        host.url,
        [echo(1), { jsonrpc: '2.0', method: 'notifications/initialized' }, echo(2)],
        { ...headers, accept: 'application/json' },
      );
      expect(answer.status).toBe(200);
      const body = JSON.parse(answer.body);
      expect(body.map((r: any) => [r.id, r.result.content[0].text])).toEqual([
        [1, '1'],
        [2, '2'],
      ]);
    }
    expect([...internals(host.mcp).ephemeral]).toHaveLength(0);
    expect([...server.sessions]).toHaveLength(0);
  });

  it('answers both POSTs when the second reuses an id still in flight: the first its result, the second the refusal', async () => {
    const server = newServer();
    const { release, running } = slowTool(server);
    const host = await start(server);
    const { headers } = await initialize(host.url);
    const first = post(host.url, call(7, 'slow'), { ...headers, accept: 'application/json' });
    await running;
    const second = await post(host.url, call(7, 'slow'), { ...headers, accept: 'application/json' });
    expect(JSON.parse(second.body)).toMatchObject({
      id: 7,
      error: { code: -32600, message: 'Request id 7 is already in flight' },
    });
    release.open();
    expect(JSON.parse((await first).body)).toMatchObject({
      id: 7,
      result: { content: [{ type: 'text', text: 'done' }] },
    });
  });

  it('refuses only the reused ids of a batch, and serves the rest of it', async () => {
    const server = newServer();
    const { release, running } = slowTool(server);
    const host = await start(server);
    const { headers } = await initialize(host.url, '2025-03-26');
    const first = post(host.url, call(7, 'slow'), { ...headers, accept: 'application/json' });
    await running;
    const batch = await post(host.url, [call(7, 'slow'), { jsonrpc: '2.0', id: 8, method: 'ping' }], {
      ...headers,
      accept: 'application/json',
    });
    const answers = JSON.parse(batch.body);
    expect(answers).toHaveLength(2);
    expect(answers).toContainEqual(
      expect.objectContaining({ id: 7, error: expect.objectContaining({ code: -32600 }) }),
    );
    expect(answers).toContainEqual(expect.objectContaining({ id: 8, result: {} }));
    release.open();
    expect(JSON.parse((await first).body)).toMatchObject({ id: 7, result: {} });
  });

  it('sends the refusal of a reused id on the stream when the rest of its batch opens one', async () => {
    const server = newServer();
    const { release, running } = slowTool(server);
    server.tool('chatty', async (_args, ctx) => {
      await ctx.progress(1, 2);
      return 'fine';
    });
    const host = await start(server);
    const { headers } = await initialize(host.url, '2025-03-26');
    const first = post(host.url, call(1, 'slow'), { ...headers, accept: 'application/json' });
    await running;
    const batch = await post(host.url, [call(1, 'slow'), call(2, 'chatty', { progressToken: 'p' })], headers);
    const sent = events(batch.body);
    expect(sent.find((m) => m.id === 1)).toMatchObject({ error: { code: -32600 } });
    expect(sent.find((m) => m.id === 2)).toMatchObject({ result: { content: [{ text: 'fine' }] } });
    release.open();
    await first;
  });
});

describe('Streamable HTTP lets go of dropped POSTs', () => {
  /** A tool `wait` that finishes once `finish` opens (or is aborted); `probe` tells what happened. */
  function waitingServer() {
    const server = newServer();
    const finish = gate();
    let aborted = false;
    let started!: () => void;
    let ended!: () => void;
    const probe = {
      started: new Promise<void>((r) => (started = r)),
      ended: new Promise<void>((r) => (ended = r)),
      get aborted() {
        return aborted;
      },
    };
    server.tool('wait', async (_args, ctx) => {
      started();
      ctx.signal.addEventListener('abort', () => {
        aborted = true;
      });
      await finish.promise;
      ended();
      return 'nobody hears this';
    });
    return { server, probe, finish };
  }

  for (const accept of ['application/json', BOTH]) {
    it(`lets a dropped POST's request run to its end, then releases its outbox (accept: ${accept})`, async () => {
      const { server, probe, finish } = waitingServer();
      const host = await start(server, { eventStore: false });
      const { id, headers } = await initialize(host.url);
      const { session, transport } = internals(host.mcp).sessions.get(id)!;
      dropAfter(host.url, { ...headers, accept }, call(100, 'wait'), probe.started);
      await probe.started;
      await new Promise((r) => setTimeout(r, 50));
      // A disconnection is not a cancellation (MCP): the id is still in flight.
      expect(probe.aborted).toBe(false);
      const busy = await post(host.url, { jsonrpc: '2.0', id: 100, method: 'ping' }, headers);
      expect(JSON.parse(busy.body).error).toMatchObject({ code: -32600 });
      finish.open();
      await probe.ended;
      await session.idle();
      expect(probe.aborted).toBe(false);
      expect(session.inflight.size).toBe(0);
      expect(transport.routes.size).toBe(0);
      expect(transport.outboxes.size).toBe(0);
      // The session still serves, and the id is free again.
      const again = await post(host.url, { jsonrpc: '2.0', id: 100, method: 'ping' }, headers);
      expect(JSON.parse(again.body)).toMatchObject({ id: 100, result: {} });
    });
  }

  it('lets go of a dropped POST whose request the client then cancels (a cancelled request has no answer)', async () => {
    const server = newServer();
    let aborted!: () => void;
    const wasAborted = new Promise<void>((r) => (aborted = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    server.tool('wait', async (_args, ctx) => {
      started();
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      aborted();
      return 'never sent';
    });
    const host = await start(server, { eventStore: false });
    const { id, headers } = await initialize(host.url);
    const { session, transport } = internals(host.mcp).sessions.get(id)!;
    dropAfter(host.url, { ...headers, accept: 'application/json' }, call(7, 'wait'), running);
    await running;
    await new Promise((r) => setTimeout(r, 50));
    const cancel = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7 } };
    expect((await post(host.url, cancel, headers)).status).toBe(202);
    await wasAborted;
    await session.idle();
    expect(transport.routes.size).toBe(0);
    expect(transport.outboxes.size).toBe(0);
    const again = await post(host.url, { jsonrpc: '2.0', id: 7, method: 'ping' }, headers);
    expect(JSON.parse(again.body)).toMatchObject({ id: 7, result: {} });
  });

  it('runs at most maxSessions dropped POSTs on at once; beyond, they are cancelled', async () => {
    const { server, probe, finish } = waitingServer();
    let runs = 0;
    server.use((ctx, next) => {
      if (ctx.method === 'tools/call') runs++;
      return next();
    });
    const host = await start(server, { stateful: false, maxSessions: 2 });
    for (let i = 1; i <= 4; i++) {
      dropAfter(
        host.url,
        { accept: 'application/json', 'mcp-protocol-version': LEGACY },
        call(i, 'wait'),
        new Promise((r) => setTimeout(r, 100)),
      );
    }
    while (runs < 4) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 250));
    // Two were cancelled at once (their sessions ended); two run on.
    expect([...server.sessions]).toHaveLength(2);
    expect(probe.aborted).toBe(true);
    finish.open();
    await Promise.all([...server.sessions].map((s) => s.whenClosed()));
    expect([...internals(host.mcp).ephemeral]).toHaveLength(0);
  });

  it('counts a dropped POST out of maxSessions when its session ends before its request does', async () => {
    const { server, probe, finish } = waitingServer();
    let secondAborted = false;
    let secondStarted!: () => void;
    const secondRunning = new Promise<void>((r) => (secondStarted = r));
    server.tool('wait_again', async (_args, ctx) => {
      secondStarted();
      ctx.signal.addEventListener('abort', () => {
        secondAborted = true;
      });
      await finish.promise;
      return 'nobody hears this';
    });
    const host = await start(server, { eventStore: false, maxSessions: 1 });
    const first = await initialize(host.url);
    dropAfter(host.url, { ...first.headers, accept: 'application/json' }, call(1, 'wait'), probe.started);
    await probe.started;
    await new Promise((r) => setTimeout(r, 50));
    // The session ends with its dropped POST still waiting (abandoned, its request aborted).
    expect((await send(host.url, 'DELETE', first.headers)).status).toBe(200);
    expect(probe.aborted).toBe(true);
    // The next dropped POST runs on: the first no longer counts against the bound.
    const second = await initialize(host.url);
    dropAfter(
      host.url,
      { ...second.headers, accept: 'application/json' },
      call(2, 'wait_again'),
      secondRunning,
    );
    await secondRunning;
    await new Promise((r) => setTimeout(r, 100));
    expect(secondAborted).toBe(false);
    finish.open();
  });

  it('ends the per-request session of a dropped stateless POST once its request has run', async () => {
    const { server, probe, finish } = waitingServer();
    const host = await start(server, { stateful: false });
    dropAfter(
      host.url,
      { accept: 'application/json', 'mcp-protocol-version': LEGACY },
      call(1, 'wait'),
      probe.started,
    );
    await probe.started;
    await new Promise((r) => setTimeout(r, 50));
    expect(probe.aborted).toBe(false);
    finish.open();
    await probe.ended;
    const sessions = [...server.sessions];
    await Promise.all(sessions.map((s) => s.whenClosed()));
    expect([...internals(host.mcp).ephemeral]).toHaveLength(0);
    expect([...server.sessions]).toHaveLength(0);
    expect(probe.aborted).toBe(false);
  });
});

describe('Streamable HTTP answers a result JSON cannot encode', () => {
  function unencodableServer() {
    const server = newServer();
    server.tool(
      'bigint',
      async () => ({ content: [{ type: 'text', text: 'n' }], _meta: { n: 10n } }) as never,
    );
    const cycle: Record<string, unknown> = { type: 'text', text: 'c' };
    cycle.self = cycle;
    server.tool('cycle', async (_args, ctx) => {
      await ctx.progress(1, 2);
      return { content: [cycle] } as never;
    });
    return server;
  }

  it('in an SSE batch, with an internal error for its id and every other answer after it', async () => {
    const server = unencodableServer();
    server.tool('chatty', async (_args, ctx) => {
      await ctx.progress(1, 2);
      await new Promise((r) => setTimeout(r, 20));
      return 'fine';
    });
    const host = await start(server);
    const { headers } = await initialize(host.url, '2025-03-26');
    const answer = await post(
      host.url,
      [call(1, 'bigint'), call(2, 'chatty', { progressToken: 'p' })],
      headers,
    );
    const sent = events(answer.body);
    expect(sent.find((m) => m.id === 1)).toMatchObject({
      error: { code: -32603, data: { type: 'internal' } },
    });
    expect(sent.find((m) => m.id === 2)).toMatchObject({ result: { content: [{ text: 'fine' }] } });
  });

  it('with an internal error for its id, as JSON', async () => {
    const host = await start(unencodableServer());
    const { headers } = await initialize(host.url);
    const answer = await post(host.url, call(3, 'bigint'), { ...headers, accept: 'application/json' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({
      id: 3,
      error: { code: -32603, message: 'Internal error', data: { type: 'internal' } },
    });
  });

  it('with an internal error for its id, on the stream', async () => {
    const host = await start(unencodableServer());
    const { headers } = await initialize(host.url);
    const answer = await post(host.url, call(4, 'cycle', { progressToken: 'p' }), headers);
    expect(answer.headers['content-type']).toBe('text/event-stream');
    const last = events(answer.body).at(-1);
    expect(last).toMatchObject({ id: 4, error: { code: -32603, data: { type: 'internal' } } });
  });

  it('with an internal error for its id, on 2026-07-28', async () => {
    const host = await start(unencodableServer());
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const answer = await post(host.url, call(5, 'bigint', meta), {
      accept: 'application/json',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'bigint',
    });
    expect(JSON.parse(answer.body)).toMatchObject({
      id: 5,
      error: { code: -32603, data: { type: 'internal' } },
    });
  });
});

describe('Streamable HTTP sessions', () => {
  it('keeps no session for a failed initialize, and sends it no Mcp-Session-Id', async () => {
    const server = newServer();
    const host = await start(server, { maxSessions: 2 });
    for (let i = 0; i < 3; i++) {
      const failed = await post(
        host.url,
        { jsonrpc: '2.0', id: 1, method: 'initialize', params: { bogus: true } },
        { accept: 'application/json' },
      );
      expect(JSON.parse(failed.body)).toMatchObject({ id: 1, error: { code: -32602 } });
      expect(failed.headers['mcp-session-id']).toBeUndefined();
    }
    expect(host.mcp.sessionCount).toBe(0);
    const { id } = await initialize(host.url);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(host.mcp.sessionCount).toBe(1);
  });

  it('checks MCP-Protocol-Version on GET and DELETE too', async () => {
    const server = newServer();
    const host = await start(server);
    const { headers } = await initialize(host.url);
    const bad = { ...headers, 'mcp-protocol-version': '1999-01-01' };
    const get = await send(host.url, 'GET', { ...bad, accept: 'text/event-stream' });
    expect(get.status).toBe(400);
    expect(JSON.parse(get.body)).toMatchObject({ error: { data: { type: 'unsupported_protocol_version' } } });
    const del = await send(host.url, 'DELETE', bad);
    expect(del.status).toBe(400);
    expect(host.mcp.sessionCount).toBe(1);
  });

  it('primes 2025-11-25 streams with an event id, so a stream lost before its first event resumes whole', async () => {
    const server = newServer();
    const host = await start(server, { sse: { keepAliveMs: 0 } });
    const { headers } = await initialize(host.url);
    const standalone = await openPrimed(host.url, headers);
    expect(standalone.primed).toMatch(/\/get#0$/);
    // Lost before any event; a notification sent meanwhile is kept for it.
    standalone.close();
    await new Promise((r) => setTimeout(r, 50));
    server.tool('added', () => 'x');
    await new Promise((r) => setTimeout(r, 20));
    const resumed = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(host.url, {
        method: 'GET',
        agent: false,
        headers: { ...headers, accept: 'text/event-stream', 'last-event-id': standalone.primed },
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
          if (text.includes('list_changed')) {
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(events(resumed)).toEqual([
      expect.objectContaining({ method: 'notifications/tools/list_changed' }),
    ]);
    // The next GET is primed where the stream stands now, not at its start: nothing is replayed twice.
    await new Promise((r) => setTimeout(r, 50));
    const next = await openPrimed(host.url, headers);
    next.close();
    expect(next.primed).toMatch(/\/get#1$/);
    // An earlier version's client gets no priming event (it may not take empty data).
    const old = await initialize(host.url, '2025-06-18');
    const opened = await new Promise<string>((resolve) => {
      const req = httpRequest(host.url, {
        method: 'GET',
        agent: false,
        headers: { ...old.headers, accept: 'text/event-stream' },
      });
      req.on('response', (res) => {
        res.setEncoding('utf8');
        res.once('data', (d) => {
          req.destroy();
          resolve(String(d));
        });
      });
      req.end();
    });
    expect(opened).toBe(': open\n\n');
  });

  it('ends the original stream of a POST when a GET with Last-Event-ID resumes it', async () => {
    const server = newServer();
    const release = gate();
    server.tool('slow', async (_args, ctx) => {
      await ctx.progress(1, 2);
      await release.promise;
      return 'done';
    });
    const host = await start(server, { sse: { keepAliveMs: 0 } });
    const { headers } = await initialize(host.url);
    let firstEventId: string | undefined;
    let sawId!: () => void;
    const gotId = new Promise<void>((r) => (sawId = r));
    const originalEnded = new Promise<string>((resolve) => {
      const req = httpRequest(host.url, {
        method: 'POST',
        agent: false,
        headers: { ...headers, 'content-type': 'application/json', accept: BOTH },
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
          // The id of the first message (the progress), not of the priming event before it.
          firstEventId ??= /id: (\S+)\nevent: message/.exec(text)?.[1];
          if (firstEventId) sawId();
        });
        res.on('end', () => resolve(text));
      });
      req.end(JSON.stringify(call(1, 'slow', { progressToken: 'p' })));
    });
    await gotId;
    const resumed = send(host.url, 'GET', {
      ...headers,
      accept: 'text/event-stream',
      'last-event-id': firstEventId!,
    });
    // The original stream ends once another takes over; the answer arrives on the resumed one.
    await originalEnded;
    release.open();
    expect(events((await resumed).body)).toEqual([
      expect.objectContaining({
        id: 1,
        result: expect.objectContaining({ content: [{ type: 'text', text: 'done' }] }),
      }),
    ]);
  });

  it("drops every stream of a session's from the event store when the session ends", async () => {
    const server = newServer();
    server.tool('chatty', async (_args, ctx) => {
      await ctx.progress(1, 1);
      return 'done';
    });
    const memory = new MemoryEventStore();
    const live = new Set<string>();
    const store: EventStore = {
      append(streamId: string, message: JsonRpcMessage) {
        live.add(streamId);
        return memory.append(streamId, message);
      },
      streamOf: (eventId) => memory.streamOf(eventId),
      after: (eventId) => memory.after(eventId),
      drop(streamId) {
        live.delete(streamId);
        memory.drop(streamId);
      },
    };
    const host = await start(server, { eventStore: store });
    const { headers } = await initialize(host.url);
    for (let i = 1; i <= 3; i++) {
      const answer = await post(host.url, call(i, 'chatty', { progressToken: i }), headers);
      expect(answer.headers['content-type']).toBe('text/event-stream');
    }
    expect(live.size).toBe(3);
    expect((await send(host.url, 'DELETE', headers)).status).toBe(200);
    expect([...live]).toEqual([]);
  });
});

describe('an event store that fails', () => {
  it('still sends every event live, without an id, and logs the failure; the answer is not lost', async () => {
    const logs = captureLogs();
    const server = createServer({ name: 'robust', version: '1', logger: logs.logger });
    servers.push(server);
    server.tool('chatty', async (_args, ctx) => {
      await ctx.progress(1, 1);
      return 'done';
    });
    const memory = new MemoryEventStore();
    const store: EventStore = {
      append(streamId: string, message: JsonRpcMessage) {
        // Keeps notifications, refuses answers (a shared store gone away mid-request).
        if ('id' in message) throw new Error('event store unavailable');
        return memory.append(streamId, message);
      },
      streamOf: (eventId) => memory.streamOf(eventId),
      after: (eventId) => memory.after(eventId),
      drop: (streamId) => memory.drop(streamId),
    };
    const host = await start(server, { eventStore: store });
    const { headers } = await initialize(host.url);
    const answer = await post(host.url, call(1, 'chatty', { progressToken: 1 }), headers);
    expect(answer.headers['content-type']).toBe('text/event-stream');
    expect(events(answer.body)).toEqual([
      expect.objectContaining({ method: 'notifications/progress' }),
      expect.objectContaining({
        id: 1,
        result: expect.objectContaining({ content: [{ type: 'text', text: 'done' }] }),
      }),
    ]);
    // The progress event has an id (it can be replayed), the answer none.
    const blocks = answer.body.split('\n\n').filter((b) => b.includes('data: '));
    expect(blocks[0]).toMatch(/^id: /m);
    expect(blocks[1]).not.toMatch(/^id: /m);
    expect(logs.lines.some((l) => l.err?.message === 'event store unavailable')).toBe(true);
  });
});

describe('fetchHandler', () => {
  it('cuts the SSE stream of a client that does not read once maxBufferedBytes wait for it', async () => {
    const server = newServer();
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    server.tool('chatty', async (_args, ctx) => {
      for (let i = 1; i <= 200; i++) await ctx.progress(i, 200, 'y'.repeat(10_000));
      finished();
      return 'done';
    });
    const handler = fetchHandler(server, { sse: { maxBufferedBytes: 100_000, keepAliveMs: 0 } });
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
      progressToken: 't',
    };
    const res = await handler(
      new Request('http://127.0.0.1/mcp', {
        method: 'POST',
        headers: {
          host: '127.0.0.1',
          'content-type': 'application/json',
          accept: BOTH,
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'chatty',
        },
        body: JSON.stringify(call(1, 'chatty', meta)),
      }),
    );
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    await done; // nothing was read while the tool sent its 2 MB of progress
    const text = await res.text();
    expect(text.length).toBeLessThan(200_000);
    expect(text).not.toContain('"id":1');
    await handler.close(100);
  });
});

describe('Streamable HTTP shutdown', () => {
  it('writes a large answer made during the drain whole before closing its connection', async () => {
    const server = newServer();
    const release = gate();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const size = 8 * 1024 * 1024;
    server.tool('big', async () => {
      started();
      await release.promise;
      return 'x'.repeat(size);
    });
    const host = await start(server, { stateful: false });
    const answer = post(host.url, call(1, 'big'), {
      accept: 'application/json',
      'mcp-protocol-version': LEGACY,
    });
    await running;
    const closed = host.close(5_000);
    release.open();
    const { body, headers } = await answer;
    expect(Buffer.byteLength(body)).toBe(Number(headers['content-length']));
    expect(JSON.parse(body).result.content[0].text).toHaveLength(size);
    await closed;
  });

  it('answers requests still running after the drain with shutting_down, as JSON and on a stream', async () => {
    const server = newServer();
    const never = gate();
    let count = 0;
    let bothStarted!: () => void;
    const running = new Promise<void>((r) => (bothStarted = r));
    const started = () => ++count === 2 && bothStarted();
    server.tool('stubborn', async () => {
      started();
      await never.promise; // ignores its signal
      return 'late';
    });
    server.tool('streaming', async (_args, ctx) => {
      await ctx.progress(1, 2);
      started();
      await never.promise;
      return 'late';
    });
    const host = await start(server);
    const { headers } = await initialize(host.url);
    const json = post(host.url, call(1, 'stubborn'), { ...headers, accept: 'application/json' });
    const sse = post(host.url, call(2, 'streaming', { progressToken: 1 }), headers);
    await running;
    await host.close(10);
    const jsonAnswer = await json;
    expect(jsonAnswer.status).toBe(503);
    expect(JSON.parse(jsonAnswer.body)).toMatchObject({
      id: 1,
      error: { code: -31006, data: { type: 'shutting_down' } },
    });
    const streamed = await sse;
    expect(events(streamed.body).at(-1)).toMatchObject({
      id: 2,
      error: { code: -31006, data: { type: 'shutting_down' } },
    });
    // The stream ends with a reconnect hint.
    expect(streamed.body).toMatch(/retry: \d+\n\n$/);
  });

  it('ends the standalone stream and the 2024-11-05 stream with a retry hint', async () => {
    const server = newServer();
    const host = await start(server, { legacySse: {}, sse: { keepAliveMs: 0 } });
    const { headers } = await initialize(host.url);
    const open = (path: string, h: Record<string, string>) =>
      new Promise<{ text: Promise<string> }>((resolve) => {
        const req = httpRequest(host.url, {
          method: 'GET',
          path,
          agent: false,
          headers: { ...h, accept: 'text/event-stream' },
        });
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          const ended = new Promise<string>((r) => res.on('end', () => r(text)));
          res.on('data', (d) => (text += d));
          resolve({ text: ended });
        });
        req.end();
      });
    const standalone = await open('/mcp', headers);
    const old = await open('/sse', {});
    await host.close(10);
    expect(await standalone.text).toMatch(/retry: \d+\n\n$/);
    expect(await old.text).toMatch(/retry: \d+\n\n$/);
  });
});
