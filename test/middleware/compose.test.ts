import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compose, createServer, NextCalledTwiceError, RateLimitedError } from '../../src/index.js';
import { connectV1, connectV2 } from '../fixtures/clients.js';

function server() {
  const s = createServer({ name: 'mw', version: '1.0.0' });
  s.tool('echo', { inputSchema: z.object({ text: z.string() }) }, ({ text }) => text);
  return s;
}

describe('compose()', () => {
  it('runs middleware outermost first and unwinds in reverse', async () => {
    const order: string[] = [];
    const chain = compose<object, string>([
      async (_c, next) => {
        order.push('a>');
        const r = await next();
        order.push('<a');
        return r;
      },
      async (_c, next) => {
        order.push('b>');
        const r = await next();
        order.push('<b');
        return r;
      },
    ]);
    const result = await chain({}, async () => {
      order.push('handler');
      return 'done';
    });
    expect(result).toBe('done');
    expect(order).toEqual(['a>', 'b>', 'handler', '<b', '<a']);
  });

  it('rejects a second call of next()', async () => {
    const chain = compose<object, unknown>([
      async (_c, next) => {
        await next();
        return next();
      },
    ]);
    await expect(chain({}, async () => 1)).rejects.toBeInstanceOf(NextCalledTwiceError);
  });

  it('calls the terminal directly when there is no middleware', async () => {
    const chain = compose<{ n: number }, number>([]);
    expect(await chain({ n: 2 }, async (c) => c.n * 2)).toBe(4);
  });

  it('turns a synchronous throw into a rejection', async () => {
    const chain = compose<object, unknown>([
      () => {
        throw new Error('sync');
      },
    ]);
    await expect(chain({}, async () => 1)).rejects.toThrow('sync');
  });
});

describe('server.use()', () => {
  it('lets a middleware short-circuit with its own result', async () => {
    const s = server();
    s.use(async (ctx, next) =>
      ctx.method === 'tools/call' ? { content: [{ type: 'text', text: 'from middleware' }] } : next(),
    );
    const client = await connectV1(s);
    const r = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(r.content).toEqual([{ type: 'text', text: 'from middleware' }]);
  });

  it('lets a middleware rewrite params before the handler and the result after it', async () => {
    const s = server();
    s.use(async (ctx, next) => {
      if (ctx.method === 'tools/call') {
        ctx.params = { ...ctx.params, arguments: { text: 'rewritten' } };
      }
      const result = (await next()) as { content?: { text: string }[] };
      if (ctx.method === 'tools/call') result.content![0].text += '!';
      return result;
    });
    const client = await connectV1(s);
    const r = await client.callTool({ name: 'echo', arguments: { text: 'original' } });
    expect(r.content).toEqual([{ type: 'text', text: 'rewritten!' }]);
  });

  it('propagates errors thrown in middleware as the standard error shape', async () => {
    const s = server();
    s.use(async (ctx, next) => {
      if (ctx.method === 'tools/call') throw new RateLimitedError('slow down', { retryAfterMs: 250 });
      return next();
    });
    const client = await connectV1(s);
    const err = await client.callTool({ name: 'echo', arguments: { text: 'x' } }).catch((e) => e);
    expect(err.code).toBe(-31002);
    expect(err.message).toContain('slow down');
    expect(err.data).toMatchObject({ type: 'rate_limited', retryAfterMs: 250 });
    expect(typeof err.data.correlationId).toBe('string');
  });

  it('lets a middleware observe a downstream error and recover from it', async () => {
    const s = server();
    const seen: string[] = [];
    s.use(async (_ctx, next) => {
      try {
        return await next();
      } catch (err) {
        seen.push((err as Error).message);
        return { content: [{ type: 'text', text: 'recovered' }] };
      }
    });
    const client = await connectV1(s);
    const r = await client.callTool({ name: 'missing', arguments: {} });
    expect(seen).toEqual(['Unknown tool: missing']);
    expect(r.content).toEqual([{ type: 'text', text: 'recovered' }]);
  });

  it('composes the chain once, not per request, and again only when the stack changes', async () => {
    const s = server();
    s.use(async (_c, next) => next());
    const client = await connectV1(s);
    for (let i = 0; i < 5; i++) await client.callTool({ name: 'echo', arguments: { text: String(i) } });
    expect(s.compositions).toBe(1);
    s.use(async (_c, next) => next());
    await client.callTool({ name: 'echo', arguments: { text: 'again' } });
    await client.callTool({ name: 'echo', arguments: { text: 'again' } });
    expect(s.compositions).toBe(2);
  });

  it('gives middleware a context with method, params, metadata, start time and session', async () => {
    const s = server();
    const seen: Record<string, unknown>[] = [];
    s.use(async (ctx, next) => {
      ctx.metadata.tag = 'outer';
      return next();
    });
    s.use(async (ctx, next) => {
      seen.push({
        method: ctx.method,
        target: ctx.target,
        tag: ctx.metadata.tag,
        hasStart: typeof ctx.startTime === 'number',
        session: ctx.session.id.length > 0,
        kind: ctx.kind,
      });
      return next();
    });
    const client = await connectV1(s);
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    expect(seen).toContainEqual({
      method: 'tools/call',
      target: 'echo',
      tag: 'outer',
      hasStart: true,
      session: true,
      kind: 'request',
    });
  });

  it('runs the same middleware identically on both protocol eras', async () => {
    const s = server();
    const methods: string[] = [];
    s.use(async (ctx, next) => {
      methods.push(`${ctx.era}:${ctx.method}`);
      return next();
    });
    const v1 = await connectV1(s);
    await v1.callTool({ name: 'echo', arguments: { text: 'a' } });
    const v2 = await connectV2(s);
    await v2.callTool({ name: 'echo', arguments: { text: 'b' } });
    expect(methods).toContain('legacy:tools/call');
    expect(methods).toContain('modern:tools/call');
    expect(methods).toContain('modern:server/discover');
  });
});

describe('per-method hooks', () => {
  it('runs onCallTool only for tools/call and onRequest for every request', async () => {
    const s = server();
    const calls: string[] = [];
    s.use({
      onRequest: async (ctx, next) => {
        calls.push(`request:${ctx.method}`);
        return next();
      },
      onCallTool: async (ctx, next) => {
        calls.push(`tool:${ctx.target}`);
        return next();
      },
      onListTools: async (_ctx, next) => {
        const r = (await next()) as { tools: { name: string }[] };
        return { ...r, tools: r.tools.filter((t) => t.name !== 'hidden') };
      },
    });
    s.tool('hidden', () => 'secret');
    const client = await connectV1(s);
    const list = await client.listTools();
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    expect(list.tools.map((t) => t.name)).toEqual(['echo']);
    expect(calls).toContain('tool:echo');
    expect(calls).toContain('request:tools/list');
    expect(calls.filter((c) => c.startsWith('tool:'))).toHaveLength(1);
  });

  it('turns a hook that throws into a rejection of the next() of the hook around it', async () => {
    const s = server();
    s.use({
      onMessage: (_ctx, next) =>
        next().catch((err: Error) => ({ content: [{ type: 'text', text: `handled: ${err.message}` }] })),
      onCallTool: () => {
        throw new Error('sync failure in inner hook');
      },
    });
    const client = await connectV1(s);
    const r = await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    expect(r.content).toEqual([{ type: 'text', text: 'handled: sync failure in inner hook' }]);
  });

  it('runs onNotification for client notifications', async () => {
    const s = server();
    const seen: string[] = [];
    s.use({
      onNotification: async (ctx, next) => {
        seen.push(ctx.method);
        return next();
      },
    });
    await connectV1(s);
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toContain('notifications/initialized');
  });
});
