/**
 * Answering from the handler's completion: when every middleware is marked `passthrough()`, a served
 * request is answered by the promise dispatch made, with no promise of the server's own waiting
 * on the onion — and anything a marked middleware returns in its place still decides the answer.
 */
import { createHook } from 'node:async_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createLogger,
  createServer,
  isPassthrough,
  logging,
  type McpServer,
  type Middleware,
  metrics,
  passthrough,
  rateLimit,
  ToolError,
  timeout,
  tracing,
} from '../../src/index.js';
import { envelope, type RawPeer, rawPeer } from '../fixtures/raw.js';

const silent = createLogger({ level: 'silent' });
const peers: RawPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) await p.close();
});

function server(...middleware: Middleware[]): McpServer {
  const s = createServer({ name: 'direct', version: '1', logger: silent });
  for (const m of middleware) s.use(m);
  s.tool('echo', { inputSchema: z.object({ text: z.string() }) }, async ({ text }) => text);
  s.tool('sync', () => 'at once');
  s.tool('refuse', async () => {
    throw new ToolError('no');
  });
  s.tool('crash', async () => {
    throw new Error('boom');
  });
  s.tool('slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return 'late';
  });
  return s;
}

async function peer(s: McpServer): Promise<RawPeer> {
  const p = await rawPeer(s);
  peers.push(p);
  return p;
}

const call = (p: RawPeer, id: number, name: string, args: Record<string, unknown> = {}) =>
  p.call(id, 'tools/call', { name, arguments: args, _meta: envelope() });

/** Promises made while `run` runs (the peer's own included: compare runs of the same shape). */
async function promisesDuring(run: () => Promise<unknown>): Promise<number> {
  let count = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'PROMISE') count++;
    },
  }).enable();
  try {
    await run();
  } finally {
    hook.disable();
  }
  return count;
}

describe('answering from the handler’s completion', () => {
  it('marks the built-in middleware that pass results through', () => {
    for (const m of [
      logging(),
      metrics(),
      tracing(),
      rateLimit({ rate: 10 }),
      timeout({ ms: 1000 }),
    ] as Middleware[]) {
      expect(isPassthrough(m)).toBe(true);
    }
    expect(isPassthrough((_ctx, next) => next())).toBe(false);
  });

  it('answers results, tool errors, failures and synchronous tools alike', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const p = await peer(server(logging(), metrics(), timeout({ ms: 5000 })));
      const ok = await call(p, 1, 'echo', { text: 'hi' });
      expect(ok.result.content).toEqual([{ type: 'text', text: 'hi' }]);
      expect(ok.result.resultType).toBe('complete');
      expect((await call(p, 2, 'sync')).result.content).toEqual([{ type: 'text', text: 'at once' }]);
      const refused = await call(p, 3, 'refuse');
      expect(refused.result).toMatchObject({ isError: true, content: [{ type: 'text', text: 'no' }] });
      const crashed = await call(p, 4, 'crash');
      expect(crashed.error).toMatchObject({ code: -32603, data: { type: 'internal' } });
      const invalid = await call(p, 5, 'echo', { text: 7 });
      expect(invalid.error).toMatchObject({ code: -32602, data: { type: 'invalid_params' } });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('saves the server’s own promise only while every middleware is marked', async () => {
    const marked = await peer(server(passthrough((_ctx, next) => next())));
    const unmarked = await peer(server((_ctx, next) => next()));
    // Warm both (first calls compile and cache), then count one call each, the same way.
    await call(marked, 1, 'echo', { text: 'a' });
    await call(unmarked, 1, 'echo', { text: 'a' });
    const withMarked = await promisesDuring(() => call(marked, 2, 'echo', { text: 'b' }));
    const withUnmarked = await promisesDuring(() => call(unmarked, 2, 'echo', { text: 'b' }));
    expect(withUnmarked - withMarked).toBe(1);
  });

  it('sends what a marked middleware returns in place of the handler’s completion', async () => {
    const wrap = passthrough((ctx, next) =>
      ctx.method === 'tools/call'
        ? next().then((r) => ({ ...(r as Record<string, unknown>), wrapped: true }))
        : next(),
    );
    const p = await peer(server(wrap));
    const res = await call(p, 1, 'echo', { text: 'hi' });
    expect(res.result).toMatchObject({ wrapped: true, content: [{ type: 'text', text: 'hi' }] });
    // A marked middleware that refuses before the handler runs.
    const refuse = passthrough(() => {
      throw new ToolError('not you');
    });
    const q = await peer(server(refuse));
    const refused = await call(q, 1, 'echo', { text: 'hi' });
    expect(refused.error).toBeDefined();
  });

  it('times a request out once, and drops the handler’s late answer', async () => {
    const p = await peer(server(timeout({ ms: 50 })));
    const res = await call(p, 1, 'slow');
    expect(res.error).toMatchObject({ data: { type: 'timeout' } });
    // The handler finishes later: nothing more is sent for it.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(p.received.filter((m) => m.id === 1)).toEqual([]);
    expect((await call(p, 2, 'echo', { text: 'after' })).result.content[0].text).toBe('after');
  });
});
