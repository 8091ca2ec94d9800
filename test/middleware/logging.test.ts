import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  cache,
  type createLogger,
  createMemoryPair,
  createServer,
  currentContext,
  getLogger,
  type HttpHost,
  logging,
  ToolError,
} from '../../src/index.js';
import { connectV1 } from '../fixtures/clients.js';
import { captureLogs } from '../fixtures/logs.js';
import { envelope, rawPeer } from '../fixtures/raw.js';

const capture = () => captureLogs({ name: 'test' });

async function helperThatLogs(message: string) {
  await new Promise((r) => setTimeout(r, 5));
  getLogger().info({ step: 'nested' }, message);
}

function server(logger: ReturnType<typeof createLogger>, options = {}) {
  const s = createServer({ name: 'logs', version: '1', logger });
  s.use(logging(options));
  s.tool('work', { inputSchema: z.object({ password: z.string(), n: z.number() }) }, async ({ n }, ctx) => {
    ctx.logger.info('before await');
    await new Promise((r) => setTimeout(r, 5));
    await helperThatLogs('after await, from a helper');
    return `done ${n}`;
  });
  s.tool('refuse', () => {
    throw new ToolError('no');
  });
  s.tool('crash', () => {
    throw new Error('db password=hunter2');
  });
  return s;
}

const hosts: HttpHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close(100);
});

describe('createLogger()', () => {
  it('censors credentials at the top of a line, in headers, and one level down', async () => {
    const { lines, logger } = capture();
    const err = new Error('boom');
    logger.info(
      {
        token: 't',
        cookie: 'c0',
        'proxy-authorization': 'p0',
        headers: {
          authorization: 'Bearer x',
          cookie: 'c',
          'set-cookie': 's',
          'proxy-authorization': 'p',
          accept: 'ok',
        },
        config: { password: 'pw', apiKey: 'k', keep: 1 },
        req: { cookie: 'c1', headers: { authorization: 'Bearer y', host: 'h' } },
        err,
        plain: 'visible',
      },
      'line',
    );
    await new Promise((r) => setImmediate(r));
    const line = lines.find((l) => l.msg === 'line');
    expect(line).toMatchObject({
      token: '[redacted]',
      cookie: '[redacted]',
      'proxy-authorization': '[redacted]',
      headers: {
        authorization: '[redacted]',
        cookie: '[redacted]',
        'set-cookie': '[redacted]',
        'proxy-authorization': '[redacted]',
        accept: 'ok',
      },
      config: { password: '[redacted]', apiKey: '[redacted]', keep: 1 },
      req: { cookie: '[redacted]', headers: { authorization: '[redacted]', host: 'h' } },
      err: { message: 'boom' },
      plain: 'visible',
    });
    expect(JSON.stringify(line)).not.toMatch(/Bearer|"pw"|"k"|"c0"|"c1"|"p0"|"s"/);
  });
});

describe('logging()', () => {
  it('writes one finish line per request with method, target, duration and outcome', async () => {
    const { lines, logger } = capture();
    const client = await connectV1(server(logger));
    await client.callTool({ name: 'work', arguments: { password: 'pw', n: 1 } });
    const finish = lines.find((l) => l.msg === 'request finished' && l.method === 'tools/call');
    expect(finish).toMatchObject({ level: 30, target: 'work', outcome: 'ok', event: 'mcp.request' });
    expect(typeof finish.duration_ms).toBe('number');
    expect(finish.correlationId).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(finish.sessionId).toMatch(/^[0-9a-f]{32}$/);
    expect(finish.params).toBeUndefined();
  });

  it("builds its finish lines itself exactly as pino writes them (pino's own path when redaction is extended)", async () => {
    const run = async (redact?: string[]) => {
      const { raw, logger } = captureLogs({ name: 'same', redact });
      const s = server(logger);
      // A URI that needs escaping, and a cache field on a second call.
      s.resource('test://x?q="a\\b"\u2028', () => 'r');
      s.tool('cached', { annotations: { readOnlyHint: true } }, () => 'c');
      s.use(cache({ ttlMs: 60_000 }));
      const client = await connectV1(s);
      await client.callTool({ name: 'work', arguments: { password: 'pw', n: 1 } });
      await client.callTool({ name: 'refuse', arguments: {} });
      await client.readResource({ uri: 'test://x?q="a\\b"\u2028' });
      await client.callTool({ name: 'cached', arguments: {} });
      await client.callTool({ name: 'cached', arguments: {} });
      await client.close();
      // Time, duration and ids differ between runs; everything else must match byte for byte.
      return raw
        .filter((l) => l.includes('"request finished"'))
        .map((l) =>
          l
            .replace(/"time":\d+/, '"time":0')
            .replace(/"duration_ms":[\d.e-]+/, '"duration_ms":0')
            .replace(/"correlationId":"[^"]+"/, '"correlationId":"c"')
            .replace(/"sessionId":"[^"]+"/, '"sessionId":"s"'),
        );
    };
    const built = await run();
    const fromPino = await run(['nothing.here']);
    expect(built).toHaveLength(6);
    expect(built).toEqual(fromPino);
    expect(built.some((l) => l.includes('"cache":"hit"'))).toBe(true);
    expect(built.some((l) => l.includes('"outcome":"tool_error"'))).toBe(true);
    for (const line of built) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('sends the answer outside the request’s context: the client does not hear it inside the request', async () => {
    const { logger } = capture();
    const s = server(logger);
    const [client, side] = createMemoryPair();
    await s.connect(side);
    const seen: unknown[] = [];
    const heard = new Promise<void>((resolve) => {
      client.onmessage = () => {
        seen.push(currentContext());
        resolve();
      };
    });
    await client.start();
    await client.send({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'work', arguments: { password: 'pw', n: 1 }, _meta: envelope() },
    } as never);
    await heard;
    expect(seen).toEqual([undefined]);
    await client.close();
  });

  it('carries the correlation id on lines written inside the handler, across awaits and helpers', async () => {
    const { lines, logger } = capture();
    const client = await connectV1(server(logger));
    await Promise.all([
      client.callTool({ name: 'work', arguments: { password: 'a', n: 1 } }),
      client.callTool({ name: 'work', arguments: { password: 'b', n: 2 } }),
    ]);
    const finishes = lines.filter((l) => l.msg === 'request finished' && l.target === 'work');
    expect(finishes).toHaveLength(2);
    for (const f of finishes) {
      const own = lines.filter((l) => l.correlationId === f.correlationId).map((l) => l.msg);
      expect(own).toEqual(['before await', 'after await, from a helper', 'request finished']);
    }
    expect(finishes[0].correlationId).not.toBe(finishes[1].correlationId);
  });

  it('logs params only when asked, with secrets redacted', async () => {
    const { lines, logger } = capture();
    const client = await connectV1(server(logger, { logParams: true }));
    await client.callTool({ name: 'work', arguments: { password: 'hunter2', n: 3 } });
    const finish = lines.find((l) => l.msg === 'request finished' && l.target === 'work');
    expect(finish.params.arguments).toEqual({ password: '[redacted]', n: 3 });
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });

  it('logs nothing of params deeper than redaction looks', async () => {
    const { lines, logger } = capture();
    const s = createServer({ name: 'logs', version: '1', logger });
    s.use(logging({ logParams: true }));
    s.tool('deep', { inputSchema: { type: 'object', additionalProperties: true } }, () => 'ok');
    let nested: Record<string, unknown> = { password: 'hunter2-deep' };
    for (let i = 0; i < 12; i++) nested = { level: nested };
    const peer = await rawPeer(s);
    await peer.call(1, 'tools/call', { name: 'deep', arguments: nested, _meta: envelope() });
    expect(lines.some((l) => l.msg === 'request finished')).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('hunter2-deep');
    expect(JSON.stringify(lines)).toContain('[truncated]');
    await peer.close();
  });

  it('records tool errors, exposed errors and internal errors (the last logged in full, once)', async () => {
    const { lines, logger } = capture();
    const client = await connectV1(server(logger));
    await client.callTool({ name: 'refuse', arguments: {} });
    await client.callTool({ name: 'nope', arguments: {} }).catch(() => undefined);
    const crash = await client.callTool({ name: 'crash', arguments: {} }).catch((e) => e);
    expect(lines.find((l) => l.target === 'refuse' && l.msg === 'request finished')?.outcome).toBe(
      'tool_error',
    );
    expect(lines.find((l) => l.target === 'nope')).toMatchObject({
      level: 40,
      outcome: 'error',
      error_type: 'not_found',
    });
    const crashLines = lines.filter((l) => l.target === 'crash' && l.level === 50);
    expect(crashLines).toHaveLength(1);
    expect(crashLines[0]).toMatchObject({ error_type: 'internal', err: { message: 'db password=hunter2' } });
    expect(crashLines[0].correlationId).toBe(crash.data.correlationId);
  });

  it('takes the correlation id from X-Request-Id on HTTP and echoes it on the response', async () => {
    const { lines, logger } = capture();
    const s = server(logger);
    const host = await s.listen({ port: 0 });
    hosts.push(host);
    const res = await fetch(host.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-request-id': 'req-abc-123',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
    expect(res.headers.get('x-request-id')).toBe('req-abc-123');
    await res.text();
    expect(lines.find((l) => l.method === 'initialize')?.correlationId).toBe('req-abc-123');
    const generated = await fetch(host.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
  });

  it('takes the id from a traceparent header or a configured _meta key, and returns it', async () => {
    const { lines, logger } = capture();
    const s = createServer({
      name: 'keyed',
      version: '1',
      logger,
      correlationMetaKey: 'example.com/requestId',
    });
    s.use(logging());
    s.tool('ok', () => 'ok');
    const host = await s.listen({ port: 0 });
    hosts.push(host);
    const init = (headers: Record<string, string>, meta?: Record<string, unknown>) =>
      fetch(host.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-11-25',
            capabilities: {},
            clientInfo: { name: 'x', version: '1' },
            ...(meta && { _meta: meta }),
          },
        }),
      });
    const fromTrace = await init({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    expect(fromTrace.headers.get('x-request-id')).toBe('0af7651916cd43dd8448eb211c80319c');
    const fromMeta = await init({}, { 'example.com/requestId': 'order-77' });
    expect(fromMeta.headers.get('x-request-id')).toBe('order-77');
    await Promise.all([fromTrace.text(), fromMeta.text()]);
    const ids = lines.filter((l) => l.method === 'initialize').map((l) => l.correlationId);
    expect(ids).toEqual(['0af7651916cd43dd8448eb211c80319c', 'order-77']);
  });

  it('takes the trace id of a traceparent in _meta as the correlation id', async () => {
    const { lines, logger } = capture();
    const client = await connectV1(server(logger));
    await client.request(
      {
        method: 'tools/call',
        params: {
          name: 'work',
          arguments: { password: 'x', n: 1 },
          _meta: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
        },
      },
      (await import('@modelcontextprotocol/sdk/types.js')).CallToolResultSchema,
    );
    expect(lines.find((l) => l.msg === 'request finished' && l.target === 'work')?.correlationId).toBe(
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
  });
});
