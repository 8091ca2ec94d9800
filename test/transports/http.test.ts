/** Streamable HTTP end to end: the official clients, resumption, and hostile input. */
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpRouter } from '../../src/host/http.js';
import { type HttpHost, type ListenOptions, nodeHandler } from '../../src/index.js';
import type { HttpExchange } from '../../src/transports/http/exchange.js';
import { featureServer } from '../fixtures/feature-server.js';

const hosts: HttpHost[] = [];
const clients: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  for (const h of hosts.splice(0)) await h.close(100);
});

async function start(options: ListenOptions = {}) {
  const { server, probe } = featureServer();
  server.tool('flood', async (_args, ctx) => {
    for (let i = 0; i < 200; i++) await ctx.log('info', 'x'.repeat(10_000));
    return 'flooded';
  });
  const host = await server.listen({ port: 0, ...options });
  hosts.push(host);
  return { server, probe, host, url: host.url };
}

async function v1(url: URL, capabilities: Record<string, unknown> = {}) {
  const client = new ClientV1({ name: 'v1-http', version: '1' }, { capabilities });
  clients.push(client);
  await client.connect(new HttpV1(url));
  return client;
}

async function v2(url: URL, mode: 'auto' | 'legacy', capabilities: Record<string, unknown> = {}) {
  const client = new ClientV2({ name: 'v2-http', version: '2' }, {
    capabilities,
    versionNegotiation: { mode },
  } as never);
  clients.push(client);
  await client.connect(new HttpV2(url));
  return client;
}

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
const BOTH = 'application/json, text/event-stream';

/** A 2026-07-28 tools/list request, with its `_meta` envelope. */
function modernList(id: string | number) {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  return { jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: meta } };
}

type JsonResponse = Omit<Response, 'json'> & { json(): Promise<any> };

async function post(url: URL, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: BOTH, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Reads SSE events from a fetch response until `stop` says so. */
async function readEvents(
  res: { body: Response['body'] },
  stop: (events: { id?: string; data: any }[]) => boolean,
) {
  const events: { id?: string; data: any }[] = [];
  const primed: string[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  while (!stop(events)) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let sep = buffer.indexOf('\n\n');
    while (sep !== -1) {
      const block = buffer.slice(0, sep);
      buffer = buffer.slice(sep + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      const id = block.split('\n').find((l) => l.startsWith('id: '));
      // A priming event (an id, empty data) carries no message, as clients read it.
      if (data && data.length > 6) events.push({ id: id?.slice(4), data: JSON.parse(data.slice(6)) });
      else if (id) primed.push(id.slice(4));
      sep = buffer.indexOf('\n\n');
    }
  }
  return { events, reader, primed };
}

describe('Streamable HTTP with the official clients', () => {
  it('serves the SDK v1 client in a session: tools, resources, prompts, progress, logs, sampling, elicitation', async () => {
    const { url } = await start();
    const client = await v1(url, { sampling: {}, elicitation: {} });
    client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept',
      content: { name: 'Http' },
    }));
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: 'assistant',
      content: { type: 'text', text: 'over http' },
      model: 'm',
    }));
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    expect((await client.callTool({ name: 'add', arguments: { a: 2, b: 5 } })).structuredContent).toEqual({
      sum: 7,
    });
    expect((await client.readResource({ uri: 'test://static' })).contents[0]).toMatchObject({
      text: 'static text',
    });
    expect((await client.getPrompt({ name: 'greet', arguments: { name: 'H' } })).messages).toHaveLength(1);
    const progress: number[] = [];
    await client.callTool({ name: 'progress', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2, 3]);
    await client.setLoggingLevel('error');
    await client.callTool({ name: 'log', arguments: {} });
    expect(logs).toEqual(['error line']);
    expect((await client.callTool({ name: 'ask_name', arguments: {} })).content).toEqual([
      { type: 'text', text: 'hello Http' },
    ]);
    expect((await client.callTool({ name: 'ask_model', arguments: {} })).content).toEqual([
      { type: 'text', text: 'model said: over http' },
    ]);
  });

  it('cancels a request when the SDK v1 client aborts it', async () => {
    const { url, probe } = await start();
    const client = await v1(url);
    const controller = new AbortController();
    const call = client.callTool({ name: 'wait_for_cancel', arguments: {} }, undefined, {
      signal: controller.signal,
    });
    await probe.started;
    controller.abort('stop');
    await expect(call).rejects.toThrow();
    expect(String(await probe.cancelled)).toContain('stop');
  });

  it('delivers list_changed on the standalone GET stream', async () => {
    const { url, server } = await start();
    const client = await v1(url);
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    await new Promise((r) => setTimeout(r, 100));
    server.tool('late', () => 'x');
    await expect.poll(() => changed, { timeout: 2000 }).toBe(1);
  });

  it('serves the SDK v2 client statelessly on 2026-07-28, and in a session on the legacy era', async () => {
    const { url, host } = await start();
    const modern = await v2(url, 'auto', { elicitation: { form: {} } });
    modern.setRequestHandler('elicitation/create', async () => ({
      action: 'accept',
      content: { name: 'Modern' },
    }));
    expect(modern.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect((await modern.callTool({ name: 'ask_name', arguments: {} })).content).toEqual([
      { type: 'text', text: 'hello Modern' },
    ]);
    const progress: number[] = [];
    await modern.callTool(
      { name: 'progress', arguments: {} },
      { onprogress: (p: { progress: number }) => progress.push(p.progress) },
    );
    expect(progress).toEqual([1, 2, 3]);
    expect(host.mcp.sessionCount).toBe(0);
    const legacy = await v2(url, 'legacy');
    expect(legacy.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect((await legacy.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).structuredContent).toEqual({
      sum: 2,
    });
    expect(host.mcp.sessionCount).toBe(1);
  });

  it('streams subscriptions/listen notifications over SSE on 2026-07-28', async () => {
    const { url, server } = await start();
    const client = await v2(url, 'auto');
    const seen: string[] = [];
    client.setNotificationHandler('notifications/tools/list_changed', () => void seen.push('tools'));
    const sub = await client.listen({ toolsListChanged: true });
    server.tool('late', () => 'x');
    await expect.poll(() => seen, { timeout: 2000 }).toEqual(['tools']);
    await sub.close();
  });
});

describe('Streamable HTTP sessions and resumption', () => {
  async function session(url: URL) {
    const res = await post(url, INIT, { accept: 'application/json' });
    const id = res.headers.get('mcp-session-id')!;
    await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': id });
    return id;
  }

  /** A tools/call in a session, with a progress token, answered as an SSE stream. */
  async function streamedCall(url: URL, sessionId: string, requestId: number, name: string) {
    const res = await post(
      url,
      {
        jsonrpc: '2.0',
        id: requestId,
        method: 'tools/call',
        params: { name, _meta: { progressToken: 'p' } },
      },
      { 'mcp-session-id': sessionId, accept: 'text/event-stream, application/json' },
    );
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    return res;
  }

  it('ends sessions with DELETE and answers 404 for them afterwards', async () => {
    const { url, host } = await start();
    const id = await session(url);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect((await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': id } })).status).toBe(200);
    const after = await post(url, { jsonrpc: '2.0', id: 2, method: 'ping' }, { 'mcp-session-id': id });
    expect(after.status).toBe(404);
    expect((await after.json()).error.code).toBe(-32600);
    expect(host.mcp.sessionCount).toBe(0);
  });

  it('frees the standalone stream when its client drops, so a reconnect is not refused', async () => {
    const { url } = await start();
    const id = await session(url);
    const headers = { accept: 'text/event-stream', 'mcp-session-id': id };
    const first = new AbortController();
    const res = await fetch(url, { headers, signal: first.signal });
    expect(res.status).toBe(200);
    const second = await fetch(url, { headers });
    expect(second.status).toBe(409);
    await second.body?.cancel();
    first.abort();
    await expect
      .poll(async () => {
        const again = await fetch(url, { headers, signal: AbortSignal.timeout(1000) });
        await again.body?.cancel();
        return again.status;
      })
      .toBe(200);
  });

  it('reaps idle sessions after their TTL', async () => {
    const { url, host } = await start({ sessionIdleTtlMs: 60_000 });
    await session(url);
    expect(host.mcp.sessionCount).toBe(1);
    host.mcp.reap(Date.now() + 61_000);
    expect(host.mcp.sessionCount).toBe(0);
  });

  it('refuses initialize past maxSessions with 503', async () => {
    const { url } = await start({ maxSessions: 1 });
    await session(url);
    const res = await post(url, INIT);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
  });

  it('resumes a dropped stream with Last-Event-ID: nothing lost, nothing duplicated', async () => {
    const { url, server } = await start();
    server.tool('count', async (_a, ctx) => {
      for (let i = 1; i <= 6; i++) {
        await ctx.progress(i, 6);
        await new Promise((r) => setTimeout(r, 30));
      }
      return 'six';
    });
    const id = await session(url);
    const res = await streamedCall(url, id, 7, 'count');
    const first = await readEvents(res, (e) => e.length >= 2);
    await first.reader.cancel();
    const lastId = first.events.at(-1)!.id!;
    await new Promise((r) => setTimeout(r, 100));
    const resumed = await fetch(url, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': id, 'last-event-id': lastId },
    });
    const rest = await readEvents(resumed, (e) => e.some((m) => m.data.id === 7));
    const all = [...first.events, ...rest.events].map((e) => e.data);
    expect(all.filter((m) => m.method).map((m) => m.params.progress)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(all.filter((m) => m.id === 7)).toEqual([
      { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'six' }] } },
    ]);
  });

  it("never gives a POST's stream the standalone stream's id (a base-36 count can spell `get`)", async () => {
    const { url, host, server } = await start();
    // Progress makes the answer a stream.
    server.tool('tick', async (_a, ctx) => {
      await ctx.progress(1, 1);
      return 'ticked';
    });
    const id = await session(url);
    // The 21,269th streamed POST: its count in base 36 is "get".
    (host.mcp as unknown as { streamSeq: number }).streamSeq = 21_268;
    const res = await streamedCall(url, id, 9, 'tick');
    const { events, reader } = await readEvents(res, (e) => e.some((m) => m.data.id === 9));
    await reader.cancel();
    const eventId = events.find((e) => e.data.id === 9)!.id!;
    expect(eventId.startsWith(`${id}/get#`)).toBe(false);
    expect(eventId).toMatch(new RegExp(`^${id}/p[0-9a-z]+#\\d+$`));
  });

  it('answers JSON when the client accepts only JSON, and serves a stateless legacy mode', async () => {
    const { url } = await start({ stateful: false });
    const res = await post(url, INIT, { accept: 'application/json' });
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('mcp-session-id')).toBeNull();
    expect((await res.json()).result.protocolVersion).toBe('2025-11-25');
    const call = await post(
      url,
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } },
      { accept: 'application/json' },
    );
    expect((await call.json()).result.structuredContent).toEqual({ sum: 3 });
    expect((await fetch(url, { headers: { accept: 'text/event-stream' } })).status).toBe(405);
  });
});

describe('HTTP routes', () => {
  it("answers with the body's own byte length, whatever Content-Length a route claims", async () => {
    const { server } = featureServer();
    server.route('/claims', () => ({ status: 200, headers: { 'content-length': '2' }, body: 'héllo ✓' }));
    const host = await server.listen({ port: 0 });
    hosts.push(host);
    const res = await fetch(new URL('/claims', host.url));
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength('héllo ✓')));
    expect(await res.text()).toBe('héllo ✓');
  });
});

describe('Streamable HTTP hostile input', () => {
  it.each([
    ['malformed JSON', () => ({ body: '{"jsonrpc":', headers: {} }), 400, -32700],
    [
      'a wrong content type',
      () => ({ body: JSON.stringify(INIT), headers: { 'content-type': 'text/plain' } }),
      415,
      -32600,
    ],
    [
      'a content type that only begins like JSON',
      () => ({ body: JSON.stringify(INIT), headers: { 'content-type': 'application/jsonx' } }),
      415,
      -32600,
    ],
    [
      'no acceptable type',
      () => ({ body: JSON.stringify(INIT), headers: { accept: 'text/html' } }),
      406,
      -32600,
    ],
    [
      'a missing session id',
      () => ({ body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }), headers: {} }),
      400,
      -32600,
    ],
    [
      'an unknown session id',
      () => ({
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
        headers: { 'mcp-session-id': 'f'.repeat(32) },
      }),
      404,
      -32600,
    ],
    [
      'an unsupported protocol version header',
      () => ({ body: JSON.stringify(INIT), headers: { 'mcp-protocol-version': '1999-01-01' } }),
      400,
      -32600,
    ],
    [
      'a forged Host',
      () => ({ body: JSON.stringify(INIT), headers: { host: 'evil.example:80' } }),
      403,
      -31004,
    ],
    [
      'a forged Origin',
      () => ({ body: JSON.stringify(INIT), headers: { origin: 'http://evil.example' } }),
      403,
      -31004,
    ],
  ])(
    'answers %s with the right status and a JSON-RPC error body, and keeps serving',
    async (_name, make, status, code) => {
      const { url } = await start();
      const { body, headers } = make();
      const res = await rawPost(url, body, headers as Record<string, string>);
      expect(res.status).toBe(status);
      expect(JSON.parse(res.body).error.code).toBe(code);
      expect((await post(url, INIT)).status).toBe(200);
    },
  );

  it('serves only the configured Hosts and Origins, as they were when the host was made', async () => {
    const allowedHosts = ['mcp.example'];
    const allowedOrigins = ['https://app.example'];
    const { url } = await start({ allowedHosts, allowedOrigins });
    allowedHosts.push('evil.example');
    allowedOrigins.push('https://evil.example');
    const status = async (headers: Record<string, string>) =>
      (await rawPost(url, JSON.stringify(INIT), headers)).status;
    expect(await status({ host: 'mcp.example' })).toBe(200);
    expect(await status({ host: 'mcp.example', origin: 'https://app.example' })).toBe(200);
    expect(await status({ host: 'evil.example' })).toBe(403);
    expect(await status({ host: 'mcp.example', origin: 'https://evil.example' })).toBe(403);
  });

  it('off loopback, refuses every browser Origin unless allowedOrigins or allowedHosts names it', async () => {
    const { host } = await start({ host: '0.0.0.0' });
    const url = new URL(`http://127.0.0.1:${host.port}/mcp`);
    const status = async (target: URL, headers: Record<string, string>) =>
      (await rawPost(target, JSON.stringify(INIT), headers)).status;
    expect(await status(url, {})).toBe(200);
    expect(await status(url, { origin: 'http://evil.example' })).toBe(403);
    expect(await status(url, { origin: 'null' })).toBe(403);
    // DNS rebinding: the page's Origin matches the Host it sends; without a list that proves nothing.
    expect(await status(url, { host: 'evil.example', origin: 'http://evil.example' })).toBe(403);
    const named = await start({ host: '0.0.0.0', allowedHosts: ['mcp.example', `127.0.0.1:${host.port}`] });
    const namedUrl = new URL(`http://127.0.0.1:${named.host.port}/mcp`);
    expect(await status(namedUrl, { host: 'mcp.example', origin: 'https://mcp.example' })).toBe(200);
    expect(await status(namedUrl, { host: 'mcp.example', origin: 'https://evil.example' })).toBe(403);
    const listed = await start({ host: '0.0.0.0', allowedOrigins: ['https://app.example'] });
    const listedUrl = new URL(`http://127.0.0.1:${listed.host.port}/mcp`);
    expect(await status(listedUrl, { origin: 'https://app.example' })).toBe(200);
    expect(await status(listedUrl, { origin: 'http://evil.example' })).toBe(403);
  });

  it('takes JSON with parameters and in any case as JSON', async () => {
    const { url } = await start();
    for (const type of [
      'application/json; charset=utf-8',
      'Application/JSON',
      ' application/json ;charset=UTF-8',
    ])
      expect((await rawPost(url, JSON.stringify(INIT), { 'content-type': type })).status).toBe(200);
  });

  it('checks every Host, not only the first: a forged one after good ones is refused', async () => {
    const { url } = await start();
    for (let i = 0; i < 3; i++) expect((await post(url, INIT)).status).toBe(200);
    const forged = await rawPost(url, JSON.stringify(INIT), { host: 'evil.example:80' });
    expect(forged.status).toBe(403);
    expect((await post(url, INIT)).status).toBe(200);
    // A Host that only starts like a good one is another Host.
    const longer = await rawPost(url, JSON.stringify(INIT), { host: 'localhost.evil.example' });
    expect(longer.status).toBe(403);
  });

  it('answers a tool listing byte-exact: its Content-Length and UTF-8, first and from the cache', async () => {
    const { server, url } = await start();
    server.tool('unicode', { description: 'naïve café 🚀 "quoted"' }, () => 'ok');
    const body = modernList('é');
    const headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' };
    for (let i = 0; i < 2; i++) {
      const res = await post(url, body, headers);
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
      const json = JSON.parse(bytes.toString('utf8'));
      expect(json.id).toBe('é');
      const tool = json.result.tools.find((t: { name: string }) => t.name === 'unicode');
      expect(tool.description).toBe('naïve café 🚀 "quoted"');
    }
  });

  it('hands a tool listing to an exchange without respondChunks as one string, through respond', async () => {
    const { server } = featureServer();
    const router = new HttpRouter(server, { legacySse: false, websocket: false });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/list',
    };
    const text = JSON.stringify(modernList(1));
    const answer = await new Promise<{ status: number; body: unknown; bytes?: number }>((resolve) => {
      const ex: HttpExchange = {
        method: 'POST',
        path: '/mcp',
        query: new URLSearchParams(),
        remoteAddress: '127.0.0.1',
        responded: false,
        header: (name) => headers[name],
        headers: () => headers,
        readBody: (_limit, done) => done(undefined, text),
        onAbort: () => {},
        setHeader: () => {},
        respond: (status, _headers, body, bytes) => resolve({ status, body, bytes }),
        stream: () => {
          throw new Error('no streams here');
        },
      };
      void router.handle(ex);
    });
    expect(answer.status).toBe(200);
    expect(typeof answer.body).toBe('string');
    expect(answer.bytes).toBe(Buffer.byteLength(answer.body as string));
    expect(JSON.parse(answer.body as string).result.tools.length).toBeGreaterThan(0);
  });

  it('refuses oversized bodies with 413 without reading them whole', async () => {
    const { url } = await start({ maxBodyBytes: 1024 });
    const res = await post(url, { ...INIT, padding: 'x'.repeat(10_000) });
    expect(res.status).toBe(413);
    expect((await res.json()).error.data.type).toBe('payload_too_large');
    expect((await post(url, INIT)).status).toBe(200);
  });

  it('checks the 2026-07-28 standard headers against the body (-32020)', async () => {
    const { url } = await start();
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const body = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'add', arguments: { a: 1, b: 1 }, _meta: meta },
    };
    const good = {
      accept: 'application/json',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'add',
    };
    expect((await (await post(url, body, good)).json()).result.structuredContent).toEqual({ sum: 2 });
    for (const headers of [
      { ...good, 'mcp-method': 'tools/list' },
      { ...good, 'mcp-name': 'other' },
      { 'mcp-method': 'tools/call', 'mcp-name': 'add', accept: 'application/json' },
      { ...good, 'mcp-protocol-version': '2025-11-25' },
    ]) {
      const res = await post(url, body, headers);
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe(-32020);
    }
    const b64 = { ...good, 'mcp-name': `=?base64?${Buffer.from('add').toString('base64')}?=` };
    expect((await post(url, body, b64)).status).toBe(200);
    const unsupported = {
      ...body,
      params: { ...body.params, _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '2030-01-01' } },
    };
    const res = await post(url, unsupported, { ...good, 'mcp-protocol-version': '2030-01-01' });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: -32022, data: { supported: ['2026-07-28'] } });
  });

  it('cuts the stream of a client that does not read, and keeps serving others', async () => {
    const { url } = await start({ sse: { maxBufferedBytes: 64 * 1024 } });
    const init = await post(url, INIT, { accept: 'application/json' });
    const id = init.headers.get('mcp-session-id')!;
    const received = new Promise<string>((resolve) => {
      const req = httpRequest(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: BOTH, 'mcp-session-id': id },
      });
      req.on('response', (res) => {
        let text = '';
        res.pause(); // read nothing until the server had every chance to flood us
        setTimeout(() => {
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          res.resume();
        }, 1000);
        res.on('end', () => resolve(text));
      });
      req.end(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'flood' } }));
    });
    const text = await received;
    // The stream was cut at the bound: far less than the 2 MB flood arrived, and no final result.
    expect(text.length).toBeLessThan(1024 * 1024);
    expect(text).not.toContain('"id":5');
    expect((await post(url, INIT)).status).toBe(200);
  });
});

/** A POST through node:http, so Host and Origin can be forged. */
function rawPost(
  url: URL,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: BOTH, ...headers },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP+SSE (2024-11-05) for old clients', () => {
  it('serves the SDK v1 SSEClientTransport: tools, progress, elicitation, notifications', async () => {
    const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
    const { url, host } = await start();
    const client = new ClientV1({ name: 'old', version: '1' }, { capabilities: { elicitation: {} } });
    clients.push(client);
    client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept',
      content: { name: 'Old' },
    }));
    await client.connect(new SSEClientTransport(new URL('/sse', url)));
    expect(host.sse?.sessionCount).toBe(1);
    expect((await client.callTool({ name: 'add', arguments: { a: 3, b: 4 } })).structuredContent).toEqual({
      sum: 7,
    });
    expect((await client.callTool({ name: 'ask_name', arguments: {} })).content).toEqual([
      { type: 'text', text: 'hello Old' },
    ]);
    const progress: number[] = [];
    await client.callTool({ name: 'progress', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2, 3]);
    await client.close();
    await expect.poll(() => host.sse?.sessionCount, { timeout: 2000 }).toBe(0);
  });

  it('answers posts to unknown sessions with 404 and bad JSON with 400', async () => {
    const { url } = await start();
    const unknown = await post(new URL(`/messages?sessionId=${'a'.repeat(32)}`, url), INIT);
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.data.type).toBe('session_not_found');
    const missing = await post(new URL('/messages', url), INIT);
    expect(missing.status).toBe(400);
  });

  it('refuses new streams and posts with 503 shutting_down once closing, as Streamable HTTP does', async () => {
    const { server } = featureServer();
    // A mounted handler: the application's listener keeps accepting after the handler closes.
    const handler = nodeHandler(server);
    const http = createHttpServer(handler);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      await handler.close(100);
      const stream = await fetch(`${base}/sse`, { headers: { accept: 'text/event-stream' } });
      const messages = await post(new URL(`/messages?sessionId=${'a'.repeat(32)}`, base), INIT);
      const mcp = await post(new URL('/mcp', base), INIT);
      for (const res of [stream, messages, mcp]) {
        expect(res.status).toBe(503);
        expect(res.headers.get('connection')).toBe('close');
        expect(((await res.json()) as any).error.data.type).toBe('shutting_down');
      }
    } finally {
      http.closeAllConnections();
      http.close();
      await server.close(100);
    }
  });

  it('answers a post that is not JSON by its Content-Type with 415, as Streamable HTTP does', async () => {
    const { url } = await start();
    const abort = new AbortController();
    const stream = await fetch(new URL('/sse', url), {
      headers: { accept: 'text/event-stream' },
      signal: abort.signal,
    });
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('sessionId=')) text += new TextDecoder().decode((await reader.read()).value);
    const endpoint = /data: (\S+)/.exec(text)![1];
    const plain = await fetch(new URL(endpoint, url), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify(INIT),
    });
    expect(plain.status).toBe(415);
    expect(((await plain.json()) as any).error.data.type).toBe('unsupported_media_type');
    const json = await post(new URL(endpoint, url), INIT);
    expect(json.status).toBe(202);
    abort.abort();
  });
});
