import { afterAll, describe, expect, it } from 'vitest';
import {
  cache,
  createLogger,
  createServer,
  metrics,
  type RedisStore,
  rateLimit,
  redisStore,
} from '../../src/index.js';
import { captureLogs } from '../fixtures/logs.js';
import { envelope, rawPeer } from '../fixtures/raw.js';
import { PrivateRedis, sharedRedis, uniquePrefix } from '../fixtures/redis.js';

const silent = createLogger({ level: 'silent' });
const stores: RedisStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  await (await sharedRedis()).stop();
});

async function store(name: string, options: Parameters<typeof redisStore>[0] = {}) {
  const s = redisStore({
    url: (await sharedRedis()).url,
    prefix: uniquePrefix(name),
    logger: silent,
    ...options,
  });
  stores.push(s);
  return s;
}

function limitedServer(s: RedisStore, rate: number, burst: number) {
  const server = createServer({ name: 'rl', version: '1', logger: silent });
  server.tool('work', () => 'ok');
  server.use(rateLimit({ rate, burst, key: 'global', store: s }));
  return server;
}

const call = (peer: Awaited<ReturnType<typeof rawPeer>>, id: number, name = 'work', args = {}) =>
  peer.call(id, 'tools/call', { name, arguments: args, _meta: envelope() });

describe('rate limits on Redis', () => {
  it('admits exactly the burst under concurrent load', async () => {
    const s = await store('exact');
    const peer = await rawPeer(limitedServer(s, 0.001, 10));
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => call(peer, i + 1)));
    expect(answers.filter((a) => a.result)).toHaveLength(10);
    const refused = answers.filter((a) => a.error);
    expect(refused).toHaveLength(50);
    expect(refused[0].error.data.type).toBe('rate_limited');
    expect(refused[0].error.data.retryAfterMs).toBeGreaterThan(0);
    await peer.close();
  });

  it('three instances on one Redis never admit more than burst + rate x elapsed + 1', async () => {
    const prefix = uniquePrefix('three');
    const url = (await sharedRedis()).url;
    const rate = 40;
    const burst = 10;
    const peers = await Promise.all(
      [0, 1, 2].map(async () => {
        const s = redisStore({ url, prefix, logger: silent });
        stores.push(s);
        return rawPeer(limitedServer(s, rate, burst));
      }),
    );
    let admitted = 0;
    let id = 0;
    const start = performance.now();
    const stopAt = start + 1_500;
    await Promise.all(
      peers.map(async (peer) => {
        while (performance.now() < stopAt) {
          const batch = await Promise.all(Array.from({ length: 8 }, () => call(peer, ++id)));
          admitted += batch.filter((a) => a.result).length;
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    expect(admitted).toBeLessThanOrEqual(burst + rate * elapsed + 1);
    // And the limit is a limit, not a wall: the refill was used.
    expect(admitted).toBeGreaterThan(burst);
    for (const p of peers) await p.close();
  });
});

describe('Redis stopped mid-test', () => {
  it('honours the failure policy, logs and counts the failures, and recovers when Redis returns', async () => {
    const redis = await PrivateRedis.create();
    const { lines, logger } = captureLogs({ level: 'warn' });
    const open = redisStore({ url: redis.url, failurePolicy: 'open', logger, commandTimeoutMs: 300 });
    const closed = redisStore({ url: redis.url, failurePolicy: 'closed', logger, commandTimeoutMs: 300 });
    stores.push(open, closed);
    const m = metrics({ defaultMetrics: false });
    const makePeer = (s: RedisStore) => {
      const server = limitedServer(s, 1000, 1000);
      server.use(m);
      return rawPeer(server);
    };
    const openPeer = await makePeer(open);
    const closedPeer = await makePeer(closed);
    expect((await call(openPeer, 1)).result).toBeDefined();
    expect((await call(closedPeer, 1)).result).toBeDefined();

    await redis.stop();
    const duringOpen = await Promise.all([2, 3, 4].map((id) => call(openPeer, id)));
    const duringClosed = await Promise.all([2, 3, 4].map((id) => call(closedPeer, id)));
    expect(duringOpen.every((a) => a.result)).toBe(true);
    expect(duringClosed.every((a) => a.error?.data.type === 'rate_limited')).toBe(true);
    expect(duringClosed[0].error.message).toMatch(/unavailable/);
    expect(lines.some((l) => l.msg === 'redis store unavailable')).toBe(true);
    const text = await m.registry.metrics();
    expect(text).toMatch(/mcp_store_errors_total\{store="redis",operation="take"\} [1-9]/);

    await redis.start();
    const deadline = Date.now() + 10_000;
    let recovered = false;
    for (let id = 10; !recovered && Date.now() < deadline; id++) {
      recovered = (await call(closedPeer, id)).result !== undefined;
      if (!recovered) await new Promise((r) => setTimeout(r, 100));
    }
    expect(recovered).toBe(true);
    await openPeer.close();
    await closedPeer.close();
    await redis.stop();
  });
});

describe('cache on Redis', () => {
  it('shares entries between instances, and runs one computation for a stampede across them', async () => {
    const prefix = uniquePrefix('cache');
    const url = (await sharedRedis()).url;
    let runs = 0;
    const peers = await Promise.all(
      [0, 1].map(async () => {
        const s = redisStore({ url, prefix, logger: silent });
        stores.push(s);
        const server = createServer({ name: 'c', version: '1', logger: silent });
        server.use(cache({ store: s, ttlMs: 60_000 }));
        server.tool('lookup', { annotations: { readOnlyHint: true } }, async () => {
          runs++;
          await new Promise((r) => setTimeout(r, 100));
          return 'value';
        });
        return rawPeer(server);
      }),
    );
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call(peers[i % 2], i + 1, 'lookup', { q: 1 })),
    );
    expect(answers.every((a) => a.result?.content[0].text === 'value')).toBe(true);
    expect(runs).toBe(1);
    const later = await call(peers[1], 99, 'lookup', { q: 1 });
    expect(later.result._meta['io.rampart/cached']).toBe(true);
    expect(runs).toBe(1);
    for (const p of peers) await p.close();
  });

  it('computes as soon as the other instance lets its lock go without an entry (its result was not cacheable)', async () => {
    const prefix = uniquePrefix('cache-lock');
    const url = (await sharedRedis()).url;
    let runs = 0;
    let letGo!: () => void;
    const held = new Promise<void>((r) => {
      letGo = r;
    });
    const [a, b] = await Promise.all(
      [0, 1].map(async () => {
        const s = redisStore({ url, prefix, logger: silent });
        stores.push(s);
        const server = createServer({ name: 'c', version: '1', logger: silent });
        // A lock held this long would outlast the test, were the waiter to wait it out.
        server.use(cache({ store: s, ttlMs: 60_000, lockTtlMs: 600_000 }));
        server.tool('lookup', { annotations: { readOnlyHint: true } }, async () => {
          if (++runs === 1) await held;
          return { content: [{ type: 'text', text: `run ${runs}` }], isError: true };
        });
        return rawPeer(server);
      }),
    );
    const first = call(a, 1, 'lookup', { q: 1 });
    while (runs === 0) await new Promise((r) => setTimeout(r, 5));
    const second = call(b, 2, 'lookup', { q: 1 });
    await new Promise((r) => setTimeout(r, 50));
    letGo();
    expect((await first).result.isError).toBe(true);
    expect((await second).result.content[0].text).toBe('run 2');
    await a.close();
    await b.close();
  });

  it('gives each hold of a lock its own token: a holder whose lock expired cannot let go of the next one', async () => {
    const s = await store('lock-token');
    const first = await s.acquire('k', 50);
    expect(first).toBeTypeOf('string');
    expect(await s.acquire('k', 60_000)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 120));
    // The first hold expired; a second holder (in this process or another) takes the key.
    const second = await s.acquire('k', 60_000);
    expect(second).toBeTypeOf('string');
    expect(second).not.toBe(first);
    // The first holder finishes late and lets go: the second hold stands.
    await s.release('k', first as string);
    expect(await s.acquire('k', 60_000)).toBeUndefined();
    await s.release('k', second as string);
    expect(await s.acquire('k', 60_000)).toBeTypeOf('string');
  });

  it('treats an unreachable Redis as a miss: the tool still answers', async () => {
    const redis = await PrivateRedis.create();
    const s = redisStore({ url: redis.url, logger: silent, commandTimeoutMs: 300 });
    stores.push(s);
    await redis.stop();
    let runs = 0;
    const server = createServer({ name: 'c', version: '1', logger: silent });
    server.use(cache({ store: s }));
    server.tool('lookup', { annotations: { readOnlyHint: true } }, () => `run ${++runs}`);
    const peer = await rawPeer(server);
    expect((await call(peer, 1, 'lookup')).result.content[0].text).toBe('run 1');
    expect((await call(peer, 2, 'lookup')).result.content[0].text).toBe('run 2');
    await peer.close();
  });
});
