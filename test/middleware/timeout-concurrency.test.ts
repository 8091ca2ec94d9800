/** timeout() and concurrency(): bounded time and bounded parallelism, with clear errors. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { concurrency, createLogger, createServer, type HttpHost, metrics, timeout } from '../../src/index.js';
import { callToolModern } from '../fixtures/http.js';
import { envelope, rawPeer } from '../fixtures/raw.js';

const silent = createLogger({ level: 'silent' });
const hosts: HttpHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close(100);
});

type Peer = Awaited<ReturnType<typeof rawPeer>>;
const call = (peer: Peer, id: number, name: string, args: Record<string, unknown> = {}) =>
  peer.call(id, 'tools/call', { name, arguments: args, _meta: envelope() });

/** A gate tools wait on, opened by the test. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { open, opened };
}

describe('timeout()', () => {
  it('does not time what a middleware outside it does with the result', async () => {
    const server = createServer({ name: 't', version: '1', logger: silent });
    server.use((_ctx, next) =>
      next().then(async (r) => {
        await new Promise((resolve) => setTimeout(resolve, 150));
        return r;
      }),
    );
    server.use(timeout({ ms: 50 }));
    server.tool('quick', async () => 'in time');
    const peer = await rawPeer(server);
    const res = await call(peer, 1, 'quick');
    expect(res.result?.content).toEqual([{ type: 'text', text: 'in time' }]);
    await peer.close();
  });

  it('leaves a request that finished in time alone, under stacked rules', async () => {
    const server = createServer({ name: 't', version: '1', logger: silent });
    server.use(timeout({ ms: 40 })).use(timeout({ ms: 60 }));
    const signals: AbortSignal[] = [];
    server.tool('quick', async (_args, ctx) => {
      signals.push(ctx.signal);
      return 'done';
    });
    const peer = await rawPeer(server);
    expect((await call(peer, 1, 'quick')).result.content[0].text).toBe('done');
    // Past both deadlines: neither rule fires on a request that is over.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(signals.map((signal) => signal.aborted)).toEqual([false]);
    await peer.close();
  });

  it('answers a timeout error and aborts the handler signal when the time is up', async () => {
    const server = createServer({ name: 't', version: '1', logger: silent });
    const m = metrics({ defaultMetrics: false });
    server.use(m);
    server.use(timeout({ ms: 50, perTool: { patient: 5_000 } }));
    let aborted: unknown;
    server.tool('stuck', (_args, ctx) => {
      return new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          aborted = ctx.signal.reason;
          reject(ctx.signal.reason);
        });
      });
    });
    server.tool('ignores', () => new Promise((r) => setTimeout(() => r('late'), 300)));
    server.tool('patient', () => new Promise((r) => setTimeout(() => r('done'), 120)));
    const peer = await rawPeer(server);
    const stuck = await call(peer, 1, 'stuck');
    expect(stuck.error.code).toBe(-31001);
    expect(stuck.error.data).toMatchObject({ type: 'timeout', details: { timeoutMs: 50 } });
    expect((aborted as Error).name).toBe('TimeoutError');
    // A handler that ignores its signal still does not hold the answer back.
    const ignores = await call(peer, 2, 'ignores');
    expect(ignores.error.data.type).toBe('timeout');
    // perTool raises the limit for one tool.
    expect((await call(peer, 3, 'patient')).result.content[0].text).toBe('done');
    // Each timed-out request counted once (a handler that ignores its signal is not counted again).
    await new Promise((r) => setTimeout(r, 350));
    expect(await m.registry.metrics()).toMatch(
      /^mcp_timeouts_total\{rule="default",method="tools\/call"\} 2$/m,
    );
    await peer.close();
  });

  it('answers at the deadline while the handler runs on: observers see the timeout, outer middleware the late outcome, the client one answer', async () => {
    const server = createServer({ name: 't', version: '1', logger: silent });
    const outer: unknown[] = [];
    const observed: unknown[] = [];
    server.use(async (ctx, next) => {
      ctx.onSettled({ settled: (_c, _r, error, failed) => observed.push(failed ? error : 'ok') });
      const result = await next();
      outer.push(result);
      return result;
    });
    server.use(timeout({ ms: 30 }));
    const release = gate();
    server.tool('ignores', async () => {
      await release.opened;
      return 'late';
    });
    server.tool('stalls', () => new Promise(() => {}));
    const peer = await rawPeer(server);
    const answer = await call(peer, 1, 'ignores');
    expect(answer.error.data.type).toBe('timeout');
    expect(observed).toHaveLength(1);
    expect((observed[0] as Error).name).toBe('TimeoutError');
    expect(outer).toEqual([]);
    // The handler finishes later; its result reaches the middleware around timeout() and no further.
    release.open();
    await vi.waitFor(() => expect(outer).toHaveLength(1));
    expect((outer[0] as { content: unknown[] }).content).toEqual([{ type: 'text', text: 'late' }]);
    expect(observed).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(peer.received.filter((m) => m.id === 1)).toEqual([]);
    // The id is free again, and the rule keeps timing requests.
    expect((await call(peer, 1, 'stalls')).error.data.type).toBe('timeout');
    await peer.close();
  });

  it('bounds the work inside the rule, not what middleware outside it do afterwards', async () => {
    const server = createServer({ name: 't', version: '1', logger: silent });
    server.use(async (_ctx, next) => {
      const result = await next();
      // Slow post-processing outside the rule, longer than its limit.
      await new Promise((r) => setTimeout(r, 80));
      return result;
    });
    server.use(timeout({ ms: 30 }));
    server.tool('quick', () => 'fast');
    const peer = await rawPeer(server);
    expect((await call(peer, 1, 'quick')).result.content[0].text).toBe('fast');
    await peer.close();
  });

  it('times out a request inside a JSON-RPC batch, which is answered as a whole', async () => {
    const server = createServer({ name: 't', version: '1', logger: silent });
    server.use(timeout({ ms: 30 }));
    server.tool('fast', () => 'quick');
    const release = gate();
    let finished = false;
    server.tool('ignores', async () => {
      await release.opened;
      finished = true;
      return 'late';
    });
    const peer = await rawPeer(server);
    await peer.call(0, 'initialize', {
      protocolVersion: '2025-03-26',
      capabilities: {},
      clientInfo: { name: 'batch', version: '1' },
    });
    await peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const batch = await peer.request([
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'fast', arguments: {} } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ignores', arguments: {} } },
    ] as never);
    // Answered while the handler still waits.
    expect(finished).toBe(false);
    release.open();
    const byId = new Map((batch as any[]).map((m) => [m.id, m]));
    expect(byId.get(1).result.content[0].text).toBe('quick');
    expect(byId.get(2).error).toMatchObject({ code: -31001, data: { type: 'timeout' } });
    await peer.close();
  });

  it('leaves fast requests and other methods alone', async () => {
    const server = createServer({ name: 't', version: '1', logger: silent });
    server.use(timeout({ ms: 1_000, methods: ['tools/call'] }));
    server.tool('fast', () => 'quick');
    const peer = await rawPeer(server);
    expect((await call(peer, 1, 'fast')).result.content[0].text).toBe('quick');
    expect((await peer.call(2, 'tools/list', { _meta: envelope() })).result.tools).toHaveLength(1);
    await peer.close();
  });
});

describe('concurrency()', () => {
  it('runs at most max at once and refuses the rest with overloaded and retryAfterMs', async () => {
    const server = createServer({ name: 'c', version: '1', logger: silent });
    const m = metrics({ defaultMetrics: false });
    const bulkhead = concurrency({ max: 2, name: 'tools' });
    server.use(m);
    server.use(bulkhead);
    const g = gate();
    let running = 0;
    let peak = 0;
    server.tool('work', async () => {
      running++;
      peak = Math.max(peak, running);
      await g.opened;
      running--;
      return 'done';
    });
    const peer = await rawPeer(server);
    const pending = [1, 2, 3, 4, 5].map((id) => call(peer, id, 'work'));
    const refused = await Promise.all(pending.slice(2));
    for (const r of refused) {
      expect(r.error.code).toBe(-31005);
      expect(r.error.data).toMatchObject({
        type: 'overloaded',
        retryAfterMs: 1000,
        details: { rule: 'tools' },
      });
    }
    expect(bulkhead.stats).toEqual({ running: 2, waiting: 0, keys: 1 });
    g.open();
    const done = await Promise.all(pending.slice(0, 2));
    expect(done.every((r) => r.result)).toBe(true);
    expect(peak).toBe(2);
    expect(bulkhead.stats).toEqual({ running: 0, waiting: 0, keys: 0 });
    expect(await m.registry.metrics()).toContain('mcp_concurrency_total{rule="tools",outcome="rejected"} 3');
    await peer.close();
  });

  it('queues up to `queue` requests and runs them as slots free, refusing past the queue timeout', async () => {
    const server = createServer({ name: 'c', version: '1', logger: silent });
    const bulkhead = concurrency({ max: 1, queue: 1, queueTimeoutMs: 10_000 });
    server.use(bulkhead);
    const g = gate();
    let order: number[] = [];
    server.tool(
      'work',
      { inputSchema: { type: 'object', properties: { n: { type: 'number' } } } },
      async (args) => {
        order.push(args.n as number);
        await g.opened;
        return 'done';
      },
    );
    const peer = await rawPeer(server);
    const first = call(peer, 1, 'work', { n: 1 });
    const queued = call(peer, 2, 'work', { n: 2 });
    const refused = await call(peer, 3, 'work', { n: 3 });
    expect(refused.error.data.type).toBe('overloaded');
    expect(bulkhead.stats.waiting).toBe(1);
    g.open();
    expect((await first).result).toBeDefined();
    expect((await queued).result).toBeDefined();
    expect(order).toEqual([1, 2]);

    const short = concurrency({ max: 1, queue: 5, queueTimeoutMs: 30 });
    const server2 = createServer({ name: 'c2', version: '1', logger: silent });
    server2.use(short);
    const g2 = gate();
    server2.tool('work', () => g2.opened.then(() => 'done'));
    const peer2 = await rawPeer(server2);
    order = [];
    const holder = call(peer2, 1, 'work');
    const waiter = await call(peer2, 2, 'work');
    expect(waiter.error.message).toMatch(/timed out waiting/);
    expect(short.stats.waiting).toBe(0);
    g2.open();
    await holder;
    await peer.close();
    await peer2.close();
  });

  it('keeps the slot of a request timeout() answered until its handler returns', async () => {
    const server = createServer({ name: 'c', version: '1', logger: silent });
    const bulkhead = concurrency({ max: 1 });
    server.use(bulkhead).use(timeout({ ms: 30 }));
    const g = gate();
    server.tool('work', async () => {
      await g.opened;
      return 'done';
    });
    const peer = await rawPeer(server);
    expect((await call(peer, 1, 'work')).error.data.type).toBe('timeout');
    // The handler still runs: the bulkhead still counts it, and refuses the next request.
    expect(bulkhead.stats).toMatchObject({ running: 1 });
    expect((await call(peer, 2, 'work')).error.data.type).toBe('overloaded');
    g.open();
    await vi.waitFor(() => expect(bulkhead.stats).toMatchObject({ running: 0 }));
    expect((await call(peer, 3, 'work')).result.content[0].text).toBe('done');
    await peer.close();
  });

  it('gives no slot and no place in the queue to a request answered before it got there', async () => {
    const server = createServer({ name: 'c', version: '1', logger: silent });
    const bulkhead = concurrency({ max: 1, queue: 1, queueTimeoutMs: 60_000 });
    const g = gate();
    // The timeout fires while an outer middleware still waits (a slow store, say).
    server.use(timeout({ ms: 20 }));
    server.use(async (ctx, next) => {
      if (ctx.target === 'late') await new Promise((r) => setTimeout(r, 60));
      return next();
    });
    server.use(bulkhead);
    let lateRan = false;
    server.tool('hold', async () => {
      await g.opened;
      return 'held';
    });
    server.tool('late', () => {
      lateRan = true;
      return 'late';
    });
    const peer = await rawPeer(server);
    const held = call(peer, 1, 'hold');
    await vi.waitFor(() => expect(bulkhead.stats).toMatchObject({ running: 1 }));
    expect((await call(peer, 2, 'late')).error.data.type).toBe('timeout');
    await new Promise((r) => setTimeout(r, 80));
    expect(bulkhead.stats).toMatchObject({ running: 1, waiting: 0 });
    g.open();
    await held;
    expect(lateRan).toBe(false);
    await peer.close();
  });

  it('counts per key when given one', async () => {
    const server = createServer({ name: 'c', version: '1', logger: silent });
    server.use(concurrency({ max: 1, key: 'tool' }));
    const g = gate();
    server.tool('a', () => g.opened.then(() => 'a'));
    server.tool('b', () => g.opened.then(() => 'b'));
    const peer = await rawPeer(server);
    const a = call(peer, 1, 'a');
    const b = call(peer, 2, 'b');
    const a2 = await call(peer, 3, 'a');
    expect(a2.error.data.type).toBe('overloaded');
    g.open();
    expect((await a).result).toBeDefined();
    expect((await b).result).toBeDefined();
    await peer.close();
  });

  it('answers 503 with Retry-After over HTTP', async () => {
    const server = createServer({ name: 'c', version: '1', logger: silent });
    const bulkhead = concurrency({ max: 1, retryAfterMs: 2_000 });
    server.use(bulkhead);
    const g = gate();
    server.tool('work', () => g.opened.then(() => 'done'));
    const host = await server.listen({ port: 0 });
    hosts.push(host);
    const first = callToolModern(host.url, 'work');
    while (bulkhead.stats.running === 0) await new Promise((r) => setTimeout(r, 5));
    const refused = await callToolModern(host.url, 'work');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    g.open();
    expect((await first).status).toBe(200);
  });
});
