/** ctx.onSettled: observers hear once how a message ended, after the whole onion. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type Context,
  createServer,
  logging,
  metrics,
  type SettleObserver,
  ToolError,
  timeout,
} from '../../src/index.js';
import { connectV1, connectV2 } from '../fixtures/clients.js';
import { captureLogs } from '../fixtures/logs.js';

type Heard = { method: string; target?: string; result?: unknown; error?: unknown; failed: boolean };

function observed() {
  const heard: Heard[] = [];
  const { lines, logger } = captureLogs();
  const server = createServer({ name: 'settle', version: '1', logger });
  const observer = (tag: string): SettleObserver => ({
    settled(ctx: Context<any>, result, error, failed) {
      heard.push({ method: `${tag}:${ctx.method}`, target: ctx.target, result, error, failed });
    },
  });
  server.use((ctx, next) => {
    ctx.onSettled(observer('a'));
    ctx.onSettled(observer('b'));
    // An observer that throws is logged and does not stop the others, or the answer.
    ctx.onSettled({
      settled() {
        throw new Error('observer bug');
      },
    });
    // Past the three kept in fields: the rest are told too, in order.
    ctx.onSettled(observer('d'));
    return next();
  });
  // Registered inside the observers' middleware: what they see is the outcome after it.
  server.use(async (ctx, next) => {
    const result = (await next()) as Record<string, unknown>;
    return ctx.method === 'tools/call' && ctx.target === 'ok' ? { ...result, wrapped: true } : result;
  });
  server.tool('ok', { inputSchema: z.object({}) }, () => 'fine');
  server.tool('refuse', () => {
    throw new ToolError('no');
  });
  server.tool('crash', () => {
    throw new Error('boom');
  });
  return { server, heard, lines };
}

describe('ctx.onSettled', () => {
  it('tells every observer once, in order, with the result or the error the client gets', async () => {
    const { server, heard, lines } = observed();
    const client = await connectV1(server);
    const ok = await client.callTool({ name: 'ok', arguments: {} });
    expect(ok.content).toEqual([{ type: 'text', text: 'fine' }]);
    await client.callTool({ name: 'refuse', arguments: {} });
    await expect(client.callTool({ name: 'crash', arguments: {} })).rejects.toThrow();
    const calls = heard.filter((h) => h.method.endsWith('tools/call'));
    expect(calls.map((h) => `${h.method} ${h.target} ${h.failed}`)).toEqual([
      'a:tools/call ok false',
      'b:tools/call ok false',
      'd:tools/call ok false',
      'a:tools/call refuse false',
      'b:tools/call refuse false',
      'd:tools/call refuse false',
      'a:tools/call crash true',
      'b:tools/call crash true',
      'd:tools/call crash true',
    ]);
    expect(calls[0].result).toMatchObject({ wrapped: true });
    expect(calls[3].result).toMatchObject({ isError: true });
    expect((calls[6].error as Error).message).toBe('boom');
    // The notification the client sent after initialize settles too.
    expect(heard.some((h) => h.method === 'a:notifications/initialized' && !h.failed)).toBe(true);
    await new Promise((r) => setImmediate(r));
    const bugs = lines.filter((l) => l.msg === 'settle observer failed');
    expect(bugs.length).toBe(heard.length / 3);
    expect(bugs[0].err.message).toBe('observer bug');
  });

  it('settles 2026-07-28 requests the same way', async () => {
    const { server, heard } = observed();
    const client = await connectV2(server);
    await client.callTool({ name: 'ok', arguments: {} });
    const calls = heard.filter((h) => h.method === 'a:tools/call');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ failed: false, result: { wrapped: true } });
  });

  it('tells an observer registered after the outcome at once (a middleware past a timeout)', async () => {
    const { logger } = captureLogs();
    const server = createServer({ name: 'late', version: '1', logger });
    const heard: boolean[] = [];
    const prometheus = metrics({ defaultMetrics: false });
    server.use(timeout({ ms: 30 }));
    server.use(async (ctx, next) => {
      if (ctx.method !== 'tools/call') return next();
      // Slow on the way in: the timeout has answered by the time the rest registers.
      await new Promise((r) => setTimeout(r, 120));
      ctx.onSettled({ settled: (_c, _r, _e, failed) => heard.push(failed) });
      return next();
    });
    server.use(prometheus);
    server.tool('slow', () => 'late');
    const client = await connectV1(server);
    await expect(client.callTool({ name: 'slow', arguments: {} })).rejects.toThrow(/timed out/);
    await expect.poll(() => heard.length).toBe(1);
    expect(heard).toEqual([true]);
    // metrics() registered late too: its in-flight count went up and back down.
    const text = await prometheus.registry.metrics();
    expect(text).toMatch(/^mcp_requests_in_flight 0$/m);
  });

  it('answers a failure that cannot be logged or rendered, and keeps serving', async () => {
    for (const withLogging of [false, true]) {
      const { logger } = captureLogs();
      const server = createServer({ name: 'frozen', version: '1', logger });
      if (withLogging) server.use(logging());
      // pino marks the errors it serialises; a frozen one refuses, and the serialiser throws.
      server.tool('frozen', () => {
        throw Object.freeze(new Error('frozen'));
      });
      server.tool('ok', () => 'fine');
      const client = await connectV1(server);
      await expect(client.callTool({ name: 'frozen', arguments: {} })).rejects.toThrow(/Internal error/);
      expect((await client.callTool({ name: 'ok', arguments: {} })).content).toEqual([
        { type: 'text', text: 'fine' },
      ]);
    }
  });
});
