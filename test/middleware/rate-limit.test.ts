/** rateLimit(): token buckets in memory, key strategies, stacked rules, HTTP 429. */
import { afterEach, describe, expect, it } from 'vitest';
import {
  clientIp,
  createLogger,
  createServer,
  type HttpHost,
  memoryStore,
  metrics,
  rateLimit,
} from '../../src/index.js';
import { Context } from '../../src/server/context.js';
import { BucketLevel, takeTokens } from '../../src/stores/types.js';
import { callToolModern } from '../fixtures/http.js';
import { envelope, rawPeer } from '../fixtures/raw.js';

const silent = createLogger({ level: 'silent' });

function makeServer() {
  const server = createServer({ name: 'rl', version: '1', logger: silent });
  server.tool('cheap', () => 'ok');
  server.tool('expensive', () => 'ok');
  return server;
}

const call = (peer: Awaited<ReturnType<typeof rawPeer>>, id: number, name = 'cheap') =>
  peer.call(id, 'tools/call', { name, arguments: {}, _meta: envelope() });

const hosts: HttpHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close(100);
});

describe('token bucket arithmetic', () => {
  it('starts full, refills lazily at the rate, and never beyond the burst', () => {
    const bucket = { rate: 10, burst: 5 };
    // A new bucket starts full.
    const level = new BucketLevel(bucket.burst, 0);
    let result = takeTokens(level, bucket, 1, 0);
    expect(result).toMatchObject({ allowed: true, remaining: 4 });
    for (let i = 0; i < 4; i++) result = takeTokens(level, bucket, 1, 0);
    result = takeTokens(level, bucket, 1, 0);
    expect(result.allowed).toBe(false);
    expect(result.retryAfterMs).toBe(100);
    result = takeTokens(level, bucket, 1, 100);
    expect(result.allowed).toBe(true);
    result = takeTokens(level, bucket, 1, 60_000);
    expect(result.remaining).toBe(4);
  });

  it('never admits a cost above the burst, and gives no retry hint for it', () => {
    const result = takeTokens(new BucketLevel(2, 0), { rate: 1, burst: 2 }, 3, 0);
    expect(result).toMatchObject({ allowed: false, retryAfterMs: -1 });
  });
});

describe('rateLimit()', () => {
  it('admits exactly the burst under concurrent load, then refuses with rate_limited and retryAfterMs', async () => {
    const server = makeServer();
    server.use(rateLimit({ rate: 0.001, burst: 10, key: 'global', name: 'global' }));
    const peer = await rawPeer(server);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => call(peer, i + 1)));
    const ok = answers.filter((a) => a.result);
    const refused = answers.filter((a) => a.error);
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(40);
    expect(refused[0].error.code).toBe(-31002);
    expect(refused[0].error.data).toMatchObject({
      type: 'rate_limited',
      details: { rule: 'global', burst: 10 },
    });
    expect(refused[0].error.data.retryAfterMs).toBeGreaterThan(0);
    expect(typeof refused[0].error.data.correlationId).toBe('string');
    await peer.close();
  });

  it('keeps one bucket per tool with key "tool", and stacked rules each apply', async () => {
    const server = makeServer();
    server.use(rateLimit({ rate: 0.001, burst: 5, key: 'global', name: 'all' }));
    server.use(rateLimit({ rate: 0.001, burst: 1, key: 'tool', tools: ['expensive'], name: 'expensive' }));
    const peer = await rawPeer(server);
    const first = await call(peer, 1, 'expensive');
    const second = await call(peer, 2, 'expensive');
    expect(first.result).toBeDefined();
    expect(second.error.data.details.rule).toBe('expensive');
    // The global rule counted both; three more cheap calls exhaust it.
    const cheap = await Promise.all([3, 4, 5, 6].map((id) => call(peer, id)));
    expect(cheap.filter((a) => a.result)).toHaveLength(3);
    expect(cheap.filter((a) => a.error)[0].error.data.details.rule).toBe('all');
    await peer.close();
  });

  it('keeps unnamed rules on one store apart, and the same rule on two servers together', async () => {
    const store = memoryStore();
    const strict = { rate: 0.001, burst: 1, key: 'global' as const, tools: ['expensive'], store };
    const loose = { rate: 100, burst: 100, key: 'global' as const, tools: ['cheap'], store };
    const [a, b] = [makeServer(), makeServer()];
    for (const s of [a, b]) s.use(rateLimit(strict)).use(rateLimit(loose));
    const peerA = await rawPeer(a);
    const peerB = await rawPeer(b);
    expect((await call(peerA, 1, 'expensive')).result).toBeDefined();
    // The strict rule's empty bucket is not the loose rule's.
    const cheap = await Promise.all([2, 3, 4, 5, 6].map((id) => call(peerA, id, 'cheap')));
    expect(cheap.every((r) => r.result)).toBe(true);
    // Another instance with the same rule shares its bucket.
    expect((await call(peerB, 7, 'expensive')).error.data.type).toBe('rate_limited');
    await peerA.close();
    await peerB.close();
  });

  it('keeps apart unnamed rules that differ only in their key', async () => {
    const store = memoryStore();
    const server = makeServer();
    // Both key an anonymous in-memory caller the same way (its session), but are different rules.
    server.use(rateLimit({ rate: 0.001, burst: 3, key: 'session', store }));
    server.use(rateLimit({ rate: 0.001, burst: 3, store }));
    const peer = await rawPeer(server);
    const answers = [];
    for (let id = 1; id <= 3; id++) answers.push(await call(peer, id));
    expect(answers.every((a) => a.result)).toBe(true);
    await peer.close();
  });

  it('keys by principal: each principal has its own bucket', async () => {
    const server = makeServer();
    server.use((ctx, next) => {
      ctx.auth = { subject: String((ctx.meta as Record<string, unknown>)?.user) };
      return next();
    });
    server.use(rateLimit({ rate: 0.001, burst: 2, key: 'principal' }));
    const peer = await rawPeer(server);
    const as = (id: number, user: string) =>
      peer.call(id, 'tools/call', { name: 'cheap', arguments: {}, _meta: envelope({ user }) });
    const alice = await Promise.all([1, 2, 3].map((id) => as(id, 'alice')));
    const bob = await Promise.all([4, 5, 6].map((id) => as(id, 'bob')));
    expect(alice.filter((a) => a.result)).toHaveLength(2);
    expect(bob.filter((a) => a.result)).toHaveLength(2);
    await peer.close();
  });

  it('lets a key function exempt requests', async () => {
    const server = makeServer();
    server.use(
      rateLimit({ rate: 0.001, burst: 1, key: (ctx) => (ctx.target === 'cheap' ? undefined : 'x') }),
    );
    const peer = await rawPeer(server);
    const answers = await Promise.all([1, 2, 3].map((id) => call(peer, id)));
    expect(answers.every((a) => a.result)).toBe(true);
    await peer.close();
  });

  it('answers 429 with Retry-After over HTTP, and metrics count rejections per rule', async () => {
    const server = makeServer();
    const m = metrics({ defaultMetrics: false });
    server.use(m);
    server.use(rateLimit({ rate: 0.5, burst: 1, key: 'ip', name: 'per-ip', store: memoryStore() }));
    const host = await server.listen({ port: 0, metrics: m });
    hosts.push(host);
    const post = () => callToolModern(host.url, 'cheap');
    expect((await post()).status).toBe(200);
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await refused.json()) as { error: { data: { type: string } } };
    expect(body.error.data.type).toBe('rate_limited');
    const text = await (await fetch(new URL('/metrics', host.url))).text();
    expect(text).toContain('mcp_rate_limited_total{rule="per-ip"} 1');
  });

  it('refuses a request whose cost works out negative or not a number, rather than refill the bucket', async () => {
    const server = makeServer();
    server.use(
      rateLimit({
        rate: 0,
        burst: 1,
        key: 'global',
        cost: (ctx) => Number((ctx.params.arguments as { pages?: unknown } | undefined)?.pages ?? 1),
      }),
    );
    const peer = await rawPeer(server);
    const withPages = (id: number, pages: unknown) =>
      peer.call(id, 'tools/call', { name: 'cheap', arguments: { pages }, _meta: envelope() });
    expect((await withPages(1, 1)).result).toBeDefined();
    expect((await withPages(2, -1000)).error.data.type).toBe('internal');
    expect((await withPages(3, 'x')).error.data.type).toBe('internal');
    // The bucket is as empty as the first call left it.
    expect((await withPages(4, 1)).error.data.type).toBe('rate_limited');
    expect(() => rateLimit({ rate: 1, cost: -1 })).toThrow(TypeError);
    await peer.close();
  });

  it('rejects nonsense options at start-up', () => {
    expect(() => rateLimit({ rate: -1 })).toThrow(/rate/);
    expect(() => rateLimit({ rate: 1, burst: 0 })).toThrow(/burst/);
  });
});

describe('clientIp()', () => {
  const ctxWith = (remoteAddress: string, xff?: string) =>
    new Context(
      { method: 'tools/call', params: {}, id: 1 },
      { id: 's' } as never,
      { requestInfo: { remoteAddress, headers: xff ? { 'x-forwarded-for': xff } : {} } },
      'legacy',
      '2025-11-25',
      undefined,
      silent,
    );

  it('uses the socket address unless proxies are trusted', () => {
    expect(clientIp(ctxWith('10.0.0.1', '1.2.3.4'))).toBe('10.0.0.1');
  });

  it('honours a hop count, a trusted list, and full trust', () => {
    const ctx = ctxWith('10.0.0.1', '6.6.6.6, 1.2.3.4');
    expect(clientIp(ctx, 1)).toBe('1.2.3.4');
    expect(clientIp(ctx, 2)).toBe('6.6.6.6');
    expect(clientIp(ctx, ['10.0.0.1'])).toBe('1.2.3.4');
    expect(clientIp(ctx, true)).toBe('6.6.6.6');
    // A socket that is not a trusted proxy is the client, whatever the header claims.
    expect(clientIp(ctxWith('9.9.9.9', '1.2.3.4'), ['10.0.0.1'])).toBe('9.9.9.9');
  });
});
