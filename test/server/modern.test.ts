/** The 2026-07-28 era (server/discover, `_meta` envelope, input_required, subscriptions/listen). */
import { describe, expect, it } from 'vitest';
import { createLogger, createServer, ToolError } from '../../src/index.js';
import { connectV1, connectV2 } from '../fixtures/clients.js';
import { featureServer } from '../fixtures/feature-server.js';
import { envelope, rawPeer } from '../fixtures/raw.js';

const SERVER_INFO = 'io.modelcontextprotocol/serverInfo';

describe('modern era through the SDK v2 client', () => {
  it('discovers the server: versions, capabilities, identity and instructions', async () => {
    const { server } = featureServer();
    const client = await connectV2(server);
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect(client.getDiscoverResult()).toMatchObject({
      supportedVersions: ['2026-07-28'],
      capabilities: { tools: { listChanged: true }, resources: { subscribe: true } },
      instructions: 'Use the tools.',
    });
    expect(client.getServerVersion()).toMatchObject({ name: 'features', version: '1.2.3' });
  });

  it('serves the v2 client in its legacy mode with the initialize handshake', async () => {
    const { server } = featureServer();
    const client = await connectV2(server, {}, 'legacy');
    expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect((await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).structuredContent).toEqual({
      sum: 2,
    });
  });

  it('calls tools, reads resources and gets prompts statelessly', async () => {
    const { server } = featureServer();
    const client = await connectV2(server);
    expect((await client.listTools()).tools.length).toBeGreaterThan(5);
    expect((await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).structuredContent).toEqual({
      sum: 42,
    });
    expect((await client.readResource({ uri: 'users://7/profile' })).contents[0]).toMatchObject({
      text: '{"id":"7"}',
    });
    const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Zoe' } });
    expect(prompt.messages[0].content).toEqual({ type: 'text', text: 'Say hello to Zoe' });
    const completion = await client.complete({
      ref: { type: 'ref/prompt', name: 'review' },
      argument: { name: 'language', value: 'r' },
    });
    expect(completion.completion.values).toEqual(['rust']);
  });

  it('reports progress on the modern era', async () => {
    const { server } = featureServer();
    const client = await connectV2(server);
    const seen: number[] = [];
    await client.callTool(
      { name: 'progress', arguments: {} },
      { onprogress: (p: { progress: number }) => seen.push(p.progress) },
    );
    expect(seen).toEqual([1, 2, 3]);
  });

  it('fulfils elicitation, sampling and roots through input_required round trips', async () => {
    const { server } = featureServer();
    const client = await connectV2(server, { elicitation: { form: {} }, sampling: {}, roots: {} });
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (req: any) => {
      asked.push(req.params.message);
      return { action: 'accept', content: { name: 'Grace' } };
    });
    client.setRequestHandler('sampling/createMessage', async () => ({
      role: 'assistant',
      content: { type: 'text', text: 'hello there' },
      model: 'm',
    }));
    client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: 'file:///r' }] }));
    expect((await client.callTool({ name: 'ask_name', arguments: {} })).content).toEqual([
      { type: 'text', text: 'hello Grace' },
    ]);
    expect((await client.callTool({ name: 'ask_model', arguments: {} })).content).toEqual([
      { type: 'text', text: 'model said: hello there' },
    ]);
    expect((await client.callTool({ name: 'roots', arguments: {} })).content).toEqual([
      { type: 'text', text: 'file:///r' },
    ]);
    expect((await client.callTool({ name: 'two_questions', arguments: {} })).content).toEqual([
      { type: 'text', text: 'accept/accept' },
    ]);
    expect(asked).toEqual(['What is your name?', 'first?', 'second?']);
  });

  it('streams the notifications a subscriptions/listen asked for, and only those', async () => {
    const { server } = featureServer();
    const client = await connectV2(server);
    const seen: string[] = [];
    client.setNotificationHandler('notifications/tools/list_changed', () => void seen.push('tools'));
    client.setNotificationHandler(
      'notifications/resources/updated',
      (n: any) => void seen.push(`updated ${n.params.uri}`),
    );
    client.setNotificationHandler('notifications/prompts/list_changed', () => void seen.push('prompts'));
    const sub = await client.listen({ toolsListChanged: true, resourceSubscriptions: ['test://static'] });
    expect(sub.honoredFilter).toEqual({ toolsListChanged: true, resourceSubscriptions: ['test://static'] });
    server.tool('late', () => 'x');
    server.prompt('late_prompt', () => 'x');
    server.notifyResourceUpdated('test://static');
    server.notifyResourceUpdated('test://blob');
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.sort()).toEqual(['tools', 'updated test://static']);
    await sub.close();
    expect(await sub.closed).toBe('local');
  });

  it('ends open subscriptions gracefully, with their closing result, when the server closes', async () => {
    const { server } = featureServer();
    const client = await connectV2(server);
    const sub = await client.listen({ toolsListChanged: true });
    await server.close(1_000);
    expect(await sub.closed).toBe('graceful');
  });
});

describe('modern era on the wire', () => {
  it('marks results complete, adds cache hints to cacheable results and names the server', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    const list = await peer.call(1, 'tools/list', { _meta: envelope() });
    expect(list.result).toMatchObject({ resultType: 'complete', ttlMs: 0, cacheScope: 'private' });
    expect(list.result._meta[SERVER_INFO]).toMatchObject({ name: 'features', version: '1.2.3' });
    const call = await peer.call(2, 'tools/call', { name: 'now', arguments: {}, _meta: envelope() });
    expect(call.result.resultType).toBe('complete');
    expect(call.result.ttlMs).toBeUndefined();
  });

  it('refuses a cache hint the specification does not allow, at configuration', () => {
    const silent = createLogger({ level: 'silent' });
    expect(() =>
      createServer({ name: 'c', version: '1', logger: silent, cacheHints: { 'tools/list': { ttlMs: -5 } } }),
    ).toThrow(/cacheHints\["tools\/list"\]: cache ttlMs must be a number >= 0/);
    const server = createServer({ name: 'c', version: '1', logger: silent });
    expect(() => server.resource('config://a', { cache: { ttlMs: Number.NaN } }, () => 'a')).toThrow(
      RangeError,
    );
    expect(() =>
      server.resourceTemplate(
        'config://{id}',
        { name: 't', cache: { cacheScope: 'shared' as never } },
        () => 'a',
      ),
    ).toThrow(/cacheScope must be "public" or "private"/);
    expect(() => server.resource('config://b', { cache: { ttlMs: 0 } }, () => 'b')).not.toThrow();
  });

  it("puts a resource's own cache hint on its read result, over the server-wide one", async () => {
    const server = createServer({
      name: 'c',
      version: '1',
      logger: createLogger({ level: 'silent' }),
      cacheHints: { 'resources/read': { ttlMs: 5, cacheScope: 'private' } },
    });
    server.resource('config://public', { cache: { ttlMs: 60_000, cacheScope: 'public' } }, () => 'p');
    server.resource('config://ttl-only', { cache: { ttlMs: 1_000 } }, () => 't');
    server.resource('config://plain', () => 'x');
    const peer = await rawPeer(server);
    const read = async (uri: string) =>
      (await peer.call(uri, 'resources/read', { uri, _meta: envelope() })).result;
    expect(await read('config://public')).toMatchObject({ ttlMs: 60_000, cacheScope: 'public' });
    expect(await read('config://ttl-only')).toMatchObject({ ttlMs: 1_000, cacheScope: 'private' });
    expect(await read('config://plain')).toMatchObject({ ttlMs: 5, cacheScope: 'private' });
    await peer.close();
  });

  it('rejects an unsupported envelope version with -32022 listing the supported ones', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    const r = await peer.call(1, 'tools/list', {
      _meta: envelope({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }),
    });
    expect(r.error.code).toBe(-32022);
    expect(r.error.data).toEqual({
      type: 'unsupported_protocol_version',
      supported: ['2026-07-28'],
      requested: '2099-01-01',
      correlationId: expect.any(String),
    });
  });

  it('rejects an envelope without client capabilities with -32602', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    const r = await peer.call(1, 'tools/list', {
      _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' },
    });
    expect(r.error.code).toBe(-32602);
  });

  it('rejects an envelope whose log level is no logging level, or whose client info is no object, with -32602', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    let id = 0;
    for (const bad of [
      { 'io.modelcontextprotocol/logLevel': 'bogus' },
      { 'io.modelcontextprotocol/logLevel': 42 },
      { 'io.modelcontextprotocol/clientInfo': 'not-an-object' },
    ]) {
      const r = await peer.call(++id, 'tools/call', { name: 'log', _meta: envelope(bad) });
      expect(r.error.code).toBe(-32602);
      expect(r.error.data.details[0].path).toBe(`_meta.${Object.keys(bad)[0]}`);
    }
    expect(peer.received.filter((m) => m.method === 'notifications/message')).toEqual([]);
  });

  it('sends no progress once the request is answered', async () => {
    const server = createServer({ name: 'p', version: '1', logger: createLogger({ level: 'silent' }) });
    let later!: Promise<void>;
    server.tool('quick', (_args, ctx) => {
      later = new Promise((r) => setTimeout(r, 10)).then(() => ctx.progress(99));
      return 'done';
    });
    const peer = await rawPeer(server);
    await peer.call(1, 'tools/call', { name: 'quick', _meta: envelope({ progressToken: 'tok' }) });
    await later;
    expect(peer.received.filter((m) => m.method === 'notifications/progress')).toEqual([]);
    await peer.close();
  });

  it('refuses a request without the envelope once the connection is modern, rather than serve it as legacy', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    expect((await peer.call(1, 'tools/list', { _meta: envelope() })).result).toBeDefined();
    for (const [id, method, params] of [
      [2, 'ping', undefined],
      [3, 'logging/setLevel', { level: 'debug' }],
      [4, 'resources/subscribe', { uri: 'config://app' }],
    ] as const) {
      const r = await peer.call(id, method, params);
      expect(r.error.code).toBe(-32602);
      expect(r.error.data.details[0].path).toBe('_meta.io.modelcontextprotocol/protocolVersion');
    }
  });

  it('has no ping, initialize handshake or logging/setLevel once the connection is modern', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    const ping = await peer.call(1, 'ping', { _meta: envelope() });
    expect(ping.error.code).toBe(-32601);
    const setLevel = await peer.call(2, 'logging/setLevel', { level: 'info', _meta: envelope() });
    expect(setLevel.error.code).toBe(-32601);
    const init = await peer.call(3, 'initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'x', version: '1' },
    });
    expect(init.error.code).toBe(-32022);
    expect(init.error.data.supported).toEqual(['2026-07-28']);
  });

  it('sends notifications/message only at or above the level the request names', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    await peer.call(1, 'tools/call', { name: 'log', _meta: envelope() });
    expect(peer.received.filter((m) => m.method === 'notifications/message')).toEqual([]);
    await peer.call(2, 'tools/call', {
      name: 'log',
      _meta: envelope({ 'io.modelcontextprotocol/logLevel': 'error' }),
    });
    expect(
      peer.received.filter((m) => m.method === 'notifications/message').map((m) => m.params.level),
    ).toEqual(['error']);
  });

  it('signs requestState: tampered, foreign or replayed-elsewhere states are refused', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    const meta = envelope({ 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } });
    let id = 0;
    const call = (name: string, retry: Record<string, unknown> = {}) =>
      peer.request({
        jsonrpc: '2.0',
        id: ++id,
        method: 'tools/call',
        params: { name, arguments: {}, ...retry, _meta: meta },
      });
    const first = await call('two_questions');
    expect(first.result.resultType).toBe('input_required');
    const [key] = Object.keys(first.result.inputRequests);
    expect(first.result.inputRequests[key]).toMatchObject({
      method: 'elicitation/create',
      params: { message: 'first?' },
    });
    const state: string = first.result.requestState;
    const bad = await call('two_questions', { requestState: `${state.slice(0, -2)}xx` });
    expect(bad.error.code).toBe(-32602);
    const elsewhere = await call('ask_name', { requestState: state });
    expect(elsewhere.error.code).toBe(-32602);
    const second = await call('two_questions', {
      requestState: state,
      inputResponses: { [key]: { action: 'decline' } },
    });
    expect(second.result.resultType).toBe('input_required');
    const [key2] = Object.keys(second.result.inputRequests);
    const done = await call('two_questions', {
      requestState: second.result.requestState,
      inputResponses: { [key2]: { action: 'cancel' } },
    });
    expect(done.result.content).toEqual([{ type: 'text', text: 'decline/cancel' }]);
  });

  it("binds requestState to the call's arguments and caller: answers cannot be replayed on another call", async () => {
    const server = createServer({ name: 'pay', version: '1', logger: createLogger({ level: 'silent' }) });
    // Stands in for auth(): the caller is named in the envelope.
    server.use((ctx, next) => {
      const user = (ctx.params._meta as Record<string, unknown> | undefined)?.['test/user'];
      if (typeof user === 'string') ctx.auth = { subject: user, scopes: [] };
      return next();
    });
    server.tool(
      'pay',
      { inputSchema: { type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] } },
      async (args, ctx) => {
        const answer = await ctx.elicit({
          message: `pay ${args.amount}?`,
          requestedSchema: { type: 'object' },
        });
        return `${answer.action}: paid ${args.amount}`;
      },
    );
    const peer = await rawPeer(server);
    let id = 0;
    const call = (amount: number, user: string, retry: Record<string, unknown> = {}) =>
      peer.request({
        jsonrpc: '2.0',
        id: ++id,
        method: 'tools/call',
        params: {
          name: 'pay',
          arguments: { amount },
          ...retry,
          _meta: envelope({
            'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
            'test/user': user,
          }),
        },
      });
    const first = await call(1, 'alice');
    const [key] = Object.keys(first.result.inputRequests);
    const retry = {
      requestState: first.result.requestState,
      inputResponses: { [key]: { action: 'accept' } },
    };
    const bigger = await call(1_000_000, 'alice', retry);
    expect(bigger.error).toMatchObject({ code: -32602, message: expect.stringMatching(/another request/) });
    const mallory = await call(1, 'mallory', retry);
    expect(mallory.error.code).toBe(-32602);
    expect((await call(1, 'alice', retry)).result.content[0].text).toBe('accept: paid 1');
    await peer.close();
  });

  it('refuses input the request did not declare the client capability for (-32021)', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    const r = await peer.call(1, 'tools/call', { name: 'ask_model', arguments: {}, _meta: envelope() });
    expect(r.error.code).toBe(-32021);
    expect(r.error.data.requiredCapabilities).toEqual({ sampling: {} });
  });
});

describe('client capabilities, down to the mode and feature', () => {
  const make = () => {
    const server = createServer({ name: 'caps', version: '1', logger: createLogger({ level: 'silent' }) });
    server.tool('form', (_a, ctx) =>
      ctx.elicit({ message: 'name?', requestedSchema: { type: 'object', properties: {} } }),
    );
    server.tool('url', (_a, ctx) =>
      ctx.elicit({ mode: 'url', message: 'sign in', url: 'https://example.com/login', elicitationId: 'e1' }),
    );
    server.tool('tools', (_a, ctx) =>
      ctx.sample({ messages: [], maxTokens: 5, tools: [{ name: 'x', inputSchema: { type: 'object' } }] }),
    );
    server.tool('context', (_a, ctx) =>
      ctx.sample({ messages: [], maxTokens: 5, includeContext: 'thisServer' }),
    );
    server.tool('plain', (_a, ctx) => ctx.sample({ messages: [], maxTokens: 5 }));
    return server;
  };
  const outcome = async (tool: string, clientCapabilities: Record<string, unknown>) => {
    const peer = await rawPeer(make());
    const meta = envelope({ 'io.modelcontextprotocol/clientCapabilities': clientCapabilities });
    const r = await peer.call(1, 'tools/call', { name: tool, arguments: {}, _meta: meta });
    await peer.close();
    return r.error ? [r.error.code, r.error.data.requiredCapabilities] : r.result.resultType;
  };

  it('asks no sampling.context of a client before 2025-11-25, which could not declare it', async () => {
    const peer = await rawPeer(make());
    await peer.call(0, 'initialize', {
      protocolVersion: '2025-06-18',
      capabilities: { sampling: {} },
      clientInfo: { name: 'raw', version: '1' },
    });
    const pending = peer.call(1, 'tools/call', { name: 'context', arguments: {} });
    const asked = await peer.waitFor((m) => m.method === 'sampling/createMessage');
    expect(asked.params.includeContext).toBe('thisServer');
    await peer.send({
      jsonrpc: '2.0',
      id: asked.id,
      result: { role: 'assistant', content: { type: 'text', text: 'ok' }, model: 'm' },
    });
    expect((await pending).result).toBeDefined();
    await peer.close();
  });

  it.each([
    ['form', { elicitation: {} }, 'input_required'],
    ['form', { elicitation: { form: {} } }, 'input_required'],
    ['form', { elicitation: { url: {} } }, [-32021, { elicitation: { form: {} } }]],
    ['url', { elicitation: {} }, [-32021, { elicitation: { url: {} } }]],
    ['url', { elicitation: { url: {} } }, 'input_required'],
    ['tools', { sampling: {} }, [-32021, { sampling: { tools: {} } }]],
    ['tools', { sampling: { tools: {} } }, 'input_required'],
    ['context', { sampling: {} }, [-32021, { sampling: { context: {} } }]],
    ['context', { sampling: { context: {} } }, 'input_required'],
    ['plain', { sampling: {} }, 'input_required'],
  ])('%s with %j: %j', async (tool, capabilities, expected) => {
    expect(await outcome(tool, capabilities)).toEqual(expected);
  });
});

describe('handlers that return a thenable that is not a native Promise', () => {
  it('are awaited like a promise for tools, resources and prompts, and their failures are reported', async () => {
    // A minimal PromiseLike (another realm's promise, or a library's future, looks like this).
    const later = <T>(value: T, fail = false): PromiseLike<T> => ({
      // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose
      then: (ok, bad) => {
        const settled = fail ? Promise.reject(value) : Promise.resolve(value);
        return settled.then(ok, bad) as never;
      },
    });
    const server = createServer({ name: 'thenables', version: '1' });
    server.tool('soon', () => later('text from a thenable') as never);
    server.tool('refuses', () => later(new ToolError('not today'), true) as never);
    server.resource('test://soon', () => later('resource text') as never);
    server.prompt('soon', () => later('prompt text') as never);
    const client = await connectV1(server);
    expect((await client.callTool({ name: 'soon', arguments: {} })).content).toEqual([
      { type: 'text', text: 'text from a thenable' },
    ]);
    expect(await client.callTool({ name: 'refuses', arguments: {} })).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: 'not today' }],
    });
    expect((await client.readResource({ uri: 'test://soon' })).contents[0]).toMatchObject({
      text: 'resource text',
    });
    expect((await client.getPrompt({ name: 'soon' })).messages[0].content).toEqual({
      type: 'text',
      text: 'prompt text',
    });
    await client.close();
  });
});
