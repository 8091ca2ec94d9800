/** Every feature of the legacy era (initialize + sessions), driven by the official SDK v1 client. */

import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { createLogger, createServer } from '../../src/index.js';
import { connectV1 } from '../fixtures/clients.js';
import { featureServer } from '../fixtures/feature-server.js';
import { rawPeer } from '../fixtures/raw.js';

describe('legacy era through the SDK v1 client', () => {
  it('negotiates the protocol version and advertises identity, capabilities and instructions', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    expect(client.getServerVersion()).toMatchObject({
      name: 'features',
      version: '1.2.3',
      title: 'Feature server',
    });
    expect(client.getServerCapabilities()).toMatchObject({
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true },
      logging: {},
      completions: {},
    });
    expect(client.getInstructions()).toBe('Use the tools.');
    await client.ping();
  });

  it('lists tools with schemas, annotations and icons', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const { tools } = await client.listTools();
    const add = tools.find((t) => t.name === 'add')!;
    expect(add).toMatchObject({
      title: 'Add',
      description: 'Adds two numbers',
      inputSchema: { type: 'object', required: ['a', 'b'] },
      outputSchema: { type: 'object', properties: { sum: { type: 'number' } } },
      annotations: { readOnlyHint: true, idempotentHint: true },
      icons: [{ src: 'https://example.com/add.png' }],
    });
    expect(tools.find((t) => t.name === 'now')!.inputSchema).toEqual({
      type: 'object',
      additionalProperties: false,
    });
  });

  it('calls tools with structured output validated against the outputSchema', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const r = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    expect(r.structuredContent).toEqual({ sum: 5 });
    expect(r.content).toEqual([{ type: 'text', text: '{"sum":5}' }]);
    expect((await client.callTool({ name: 'json_schema_tool', arguments: { n: 4 } })).content).toEqual([
      { type: 'text', text: 'n=4' },
    ]);
  });

  it('answers invalid arguments before 2025-11-25 with -32602 and the validation issues in data', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    await peer.call(0, 'initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'raw', version: '1' },
    });
    const err = (await peer.call(1, 'tools/call', { name: 'add', arguments: { a: 'two' } })).error;
    expect(err.code).toBe(-32602);
    expect(err.data.type).toBe('invalid_params');
    expect(err.data.details.map((d: { path: string }) => d.path)).toEqual(['a', 'b']);
    const err2 = (await peer.call(2, 'tools/call', { name: 'json_schema_tool', arguments: { n: -1 } })).error;
    expect(err2.code).toBe(-32602);
    expect(err2.data.details[0].path).toBe('n');
    await peer.close();
  });

  it('answers invalid arguments from 2025-11-25 on as a tool execution error (isError) the model can read', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const r = await client.callTool({ name: 'add', arguments: { a: 'two' } });
    expect(r.isError).toBe(true);
    expect((r.content as { text: string }[])[0].text).toMatch(/^Invalid arguments for tool add: a: .*; b: /);
    // A malformed request (arguments not an object) stays a protocol error.
    const peer = await rawPeer(server);
    await peer.call(0, 'initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'raw', version: '1' },
    });
    expect((await peer.call(1, 'tools/call', { name: 'add', arguments: [1] })).error.code).toBe(-32602);
    await peer.close();
  });

  it('answers an unknown tool with -32602', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const err = await client.callTool({ name: 'nope', arguments: {} }).catch((e) => e);
    expect(err.code).toBe(-32602);
    expect(err.message).toContain('Unknown tool: nope');
  });

  it('returns ToolError messages as isError results and redacts every other error', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const visible = await client.callTool({ name: 'fail_visible', arguments: {} });
    expect(visible).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: 'the input was not acceptable' }],
    });
    const hidden = await client.callTool({ name: 'fail_internal', arguments: {} }).catch((e) => e);
    expect(hidden.code).toBe(-32603);
    expect(hidden.message).not.toContain('hunter2');
    expect(JSON.stringify(hidden.data)).not.toContain('hunter2');
    expect(hidden.data).toMatchObject({ type: 'internal' });
    expect(hidden.data.correlationId).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
  });

  it('refuses structured output that does not match the outputSchema', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const err = await client.callTool({ name: 'bad_output', arguments: {} }).catch((e) => e);
    expect(err.data?.type ?? err.message).toMatch(/invalid_tool_output|outputSchema|structured/);
  });

  it('sends progress notifications for the request that asked for them', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const seen: unknown[] = [];
    await client.callTool({ name: 'progress', arguments: {} }, undefined, {
      onprogress: (p) => seen.push(p),
    });
    expect(seen).toEqual([
      { progress: 1, total: 3, message: 'step 1' },
      { progress: 2, total: 3, message: 'step 2' },
      { progress: 3, total: 3, message: 'step 3' },
    ]);
  });

  it('aborts the handler signal when the client cancels', async () => {
    const { server, probe } = featureServer();
    const client = await connectV1(server);
    const controller = new AbortController();
    const call = client.callTool({ name: 'wait_for_cancel', arguments: {} }, undefined, {
      signal: controller.signal,
    });
    await probe.started;
    controller.abort('user pressed stop');
    await expect(call).rejects.toThrow();
    const reason = (await probe.cancelled) as Error;
    expect(reason.message).toContain('user pressed stop');
  });

  it('honours logging/setLevel for notifications/message', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const lines: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void lines.push(n.params));
    await client.setLoggingLevel('info');
    await client.callTool({ name: 'log', arguments: {} });
    expect(lines).toEqual([
      { level: 'info', data: { msg: 'info line' }, logger: 'feature' },
      { level: 'error', data: 'error line' },
    ]);
    const err = await client.setLoggingLevel('loud' as 'info').catch((e) => e);
    expect(err.code).toBe(-32602);
  });

  it('rate-limits client-visible log lines per session', async () => {
    const server = createServer({
      name: 'chatty',
      version: '1',
      logger: createLogger({ level: 'silent' }),
      limits: { clientLogRate: 10, clientLogBurst: 20 },
    });
    server.tool('chatty', async (_a, ctx) => {
      for (let i = 0; i < 500; i++) await ctx.log('info', `line ${i}`);
      return 'done';
    });
    const client = await connectV1(server);
    let received = 0;
    client.setNotificationHandler(LoggingMessageNotificationSchema, () => void received++);
    const started = performance.now();
    await client.callTool({ name: 'chatty', arguments: {} });
    await new Promise((r) => setTimeout(r, 20));
    const elapsed = (performance.now() - started) / 1000;
    expect(received).toBeGreaterThanOrEqual(20);
    expect(received).toBeLessThanOrEqual(20 + Math.ceil(10 * elapsed) + 1);
    expect([...server.sessions][0].droppedLogs).toBe(500 - received);
  });

  it('lets tools elicit input, sample the model and list roots', async () => {
    const { server } = featureServer();
    const client = await connectV1(server, { elicitation: {}, sampling: {}, roots: { listChanged: true } });
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      expect(req.params.message).toBe('What is your name?');
      return { action: 'accept', content: { name: 'Ada' } };
    });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: 'assistant',
      content: { type: 'text', text: 'hi!' },
      model: 'test-model',
    }));
    client.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: 'file:///a' }, { uri: 'file:///b' }],
    }));
    expect((await client.callTool({ name: 'ask_name', arguments: {} })).content).toEqual([
      { type: 'text', text: 'hello Ada' },
    ]);
    expect((await client.callTool({ name: 'ask_model', arguments: {} })).content).toEqual([
      { type: 'text', text: 'model said: hi!' },
    ]);
    expect((await client.callTool({ name: 'roots', arguments: {} })).content).toEqual([
      { type: 'text', text: 'file:///a,file:///b' },
    ]);
  });

  it('refuses server→client requests the client has no capability for', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const err = await client.callTool({ name: 'ask_name', arguments: {} }).catch((e) => e);
    expect(err.code).toBe(-32021);
    expect(err.data.requiredCapabilities).toEqual({ elicitation: {} });
  });

  it('lists and reads resources, templates and blobs', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['test://static', 'test://blob', 'users://1/profile']);
    expect((await client.readResource({ uri: 'test://static' })).contents).toEqual([
      { uri: 'test://static', mimeType: 'text/plain', text: 'static text' },
    ]);
    expect((await client.readResource({ uri: 'test://blob' })).contents[0]).toMatchObject({ blob: 'AQID' });
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates).toEqual([
      { uriTemplate: 'users://{id}/profile', name: 'user profile', mimeType: 'application/json' },
    ]);
    expect((await client.readResource({ uri: 'users://42/profile' })).contents).toEqual([
      { uri: 'users://42/profile', mimeType: 'application/json', text: '{"id":"42"}' },
    ]);
  });

  it('answers an unknown resource with -32602 (SEP-2164)', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const err = await client.readResource({ uri: 'test://missing' }).catch((e) => e);
    expect(err.code).toBe(-32602);
    expect(err.data).toMatchObject({ type: 'resource_not_found', details: { uri: 'test://missing' } });
  });

  it('notifies subscribers of resource updates until they unsubscribe', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    await client.subscribeResource({ uri: 'test://static' });
    server.notifyResourceUpdated('test://static');
    server.notifyResourceUpdated('test://blob');
    await new Promise((r) => setTimeout(r, 10));
    await client.unsubscribeResource({ uri: 'test://static' });
    server.notifyResourceUpdated('test://static');
    await new Promise((r) => setTimeout(r, 10));
    expect(updates).toEqual(['test://static']);
  });

  it('sends tools/list_changed when tools change after connect', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    const extra = server.tool('extra', () => 'x');
    await new Promise((r) => setTimeout(r, 10));
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('extra');
    extra.remove();
    await new Promise((r) => setTimeout(r, 10));
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('extra');
    expect(changed).toBe(2);
  });

  it('lists and gets prompts with arguments, and rejects missing required ones', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const { prompts } = await client.listPrompts();
    expect(prompts).toEqual([
      {
        name: 'greet',
        description: 'Greets',
        arguments: [{ name: 'name', description: 'Who', required: true }],
      },
      { name: 'review', arguments: [{ name: 'language', required: true }, { name: 'style' }] },
    ]);
    const got = await client.getPrompt({ name: 'greet', arguments: { name: 'Bob' } });
    expect(got.messages).toEqual([{ role: 'user', content: { type: 'text', text: 'Say hello to Bob' } }]);
    const err = await client.getPrompt({ name: 'review', arguments: {} }).catch((e) => e);
    expect(err.code).toBe(-32602);
    const unknown = await client.getPrompt({ name: 'nope' }).catch((e) => e);
    expect(unknown.code).toBe(-32602);
  });

  it('completes prompt and resource-template arguments', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    const p = await client.complete({
      ref: { type: 'ref/prompt', name: 'review' },
      argument: { name: 'language', value: 'ty' },
    });
    expect(p.completion).toEqual({ values: ['typescript'], total: 1, hasMore: false });
    const r = await client.complete({
      ref: { type: 'ref/resource', uri: 'users://{id}/profile' },
      argument: { name: 'id', value: '1' },
    });
    expect(r.completion.values).toEqual(['1', '10', '11']);
  });

  it('finds no completer under the names of Object.prototype members', async () => {
    const { server } = featureServer();
    const client = await connectV1(server);
    for (const name of ['constructor', 'toString', 'valueOf', '__proto__']) {
      const p = await client.complete({
        ref: { type: 'ref/prompt', name: 'review' },
        argument: { name, value: '' },
      });
      expect(p.completion).toEqual({ values: [], hasMore: false });
    }
  });

  it('applies each update() on top of the ones before, for every kind of feature', async () => {
    const server = createServer({ name: 'u', version: '1', logger: createLogger({ level: 'silent' }) });
    const updates = [
      server.tool('t', () => 't'),
      server.resource('config://a', { title: 'orig' }, () => 'a'),
      server.resourceTemplate('items://{id}', { name: 'items', title: 'orig' }, () => 'i'),
      server.prompt('p', { title: 'orig' }, () => 'p'),
    ];
    for (const registered of updates) {
      registered.update({ title: 'new title' });
      registered.update({ description: 'new description' });
    }
    const client = await connectV1(server);
    const listed = [
      (await client.listTools()).tools[0],
      (await client.listResources()).resources[0],
      (await client.listResourceTemplates()).resourceTemplates[0],
      (await client.listPrompts()).prompts[0],
    ];
    for (const item of listed)
      expect(item).toMatchObject({ title: 'new title', description: 'new description' });
  });

  it('drains on close: in-flight requests finish, stragglers are aborted with a shutdown reason', async () => {
    const { server, probe } = featureServer();
    const client = await connectV1(server);
    const slow = client.callTool({ name: 'sleep', arguments: { ms: 50 } });
    const stuck = client.callTool({ name: 'wait_for_cancel', arguments: {} }).catch((e) => e);
    await probe.started;
    await server.close(300);
    expect((await slow).content).toEqual([{ type: 'text', text: 'slept 50' }]);
    expect(((await probe.cancelled) as { type: string }).type).toBe('shutting_down');
    expect((await stuck).content).toEqual([{ type: 'text', text: 'cancelled' }]);
    expect(server.sessions.size).toBe(0);
  });

  it('paginates listings with opaque cursors', async () => {
    const { server } = featureServer({ pageSize: 4 });
    const client = await connectV1(server);
    const first = await client.listTools();
    expect(first.tools).toHaveLength(4);
    expect(first.nextCursor).toBeTypeOf('string');
    const names = first.tools.map((t) => t.name);
    let cursor = first.nextCursor;
    while (cursor) {
      const next = await client.listTools({ cursor });
      names.push(...next.tools.map((t) => t.name));
      cursor = next.nextCursor;
    }
    expect(names).toHaveLength(14);
    expect(new Set(names).size).toBe(14);
    // Pages are cached per listing: asking again answers the same, and a change starts afresh.
    expect(await client.listTools({ cursor: first.nextCursor })).toEqual(
      await client.listTools({ cursor: first.nextCursor }),
    );
    server.tool('added_later', () => 'ok');
    const stale = await client.listTools({ cursor: first.nextCursor }).catch((e) => e);
    expect(stale.code).toBe(-32602);
    const listed: string[] = [];
    let fresh: string | undefined;
    do {
      const page = await client.listTools(fresh ? { cursor: fresh } : {});
      listed.push(...page.tools.map((t) => t.name));
      fresh = page.nextCursor;
    } while (fresh);
    expect(listed).toEqual([...names, 'added_later']);
    const err = await client.listTools({ cursor: 'garbage' }).catch((e) => e);
    expect(err.code).toBe(-32602);
  });
});
