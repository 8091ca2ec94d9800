import { describe, expect, it } from 'vitest';
import {
  cache,
  canonicalJson,
  createLogger,
  createServer,
  logging,
  metrics,
  ToolError,
} from '../../src/index.js';
import { captureLogs } from '../fixtures/logs.js';
import { envelope, rawPeer } from '../fixtures/raw.js';

const silent = createLogger({ level: 'silent' });
type Peer = Awaited<ReturnType<typeof rawPeer>>;
const call = (peer: Peer, id: number, name: string, args: Record<string, unknown> = {}, meta = {}) =>
  peer.call(id, 'tools/call', { name, arguments: args, _meta: envelope(meta) });

function setup(options: Parameters<typeof cache>[0] = {}) {
  const server = createServer({ name: 'cache', version: '1', logger: silent });
  const runs: Record<string, number> = {};
  const count = (name: string) => {
    runs[name] = (runs[name] ?? 0) + 1;
    return runs[name];
  };
  server.use((ctx, next) => {
    const user = ctx.meta?.user;
    if (typeof user === 'string') ctx.auth = { subject: user };
    // Credentials naming no subject or client: a token, or nothing at all.
    const token = ctx.meta?.token;
    if (typeof token === 'string') ctx.auth = { token, scopes: [] };
    if (ctx.meta?.nobody === true) ctx.auth = { scopes: [] };
    return next();
  });
  server.use(cache(options));
  const readOnly = { annotations: { readOnlyHint: true } };
  const anyArgs = { type: 'object', additionalProperties: true } as const;
  server.tool('lookup', { ...readOnly, inputSchema: anyArgs }, async (args) => {
    const n = count('lookup');
    await new Promise((r) => setTimeout(r, 20));
    return `lookup ${JSON.stringify(args)} #${n}`;
  });
  server.tool('write', { inputSchema: anyArgs }, () => `write #${count('write')}`);
  server.tool('flaky', readOnly, () => {
    const n = count('flaky');
    if (n === 1) throw new Error('boom');
    if (n === 2) throw new ToolError('not now');
    return `flaky #${n}`;
  });
  server.resource('config://app', () => `config #${count('config')}`);
  return { server, runs };
}

describe('canonicalJson()', () => {
  it('sorts keys at every level, so equal arguments give equal keys', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe('cache()', () => {
  it('serves a read-only tool from the cache for equal arguments in any key order', async () => {
    const { server, runs } = setup();
    const peer = await rawPeer(server);
    const first = await call(peer, 1, 'lookup', { a: 1, b: 2 });
    const second = await call(peer, 2, 'lookup', { b: 2, a: 1 });
    expect(second.result.content).toEqual(first.result.content);
    expect(second.result._meta['io.rampart/cached']).toBe(true);
    expect(first.result._meta?.['io.rampart/cached']).toBeUndefined();
    expect(runs.lookup).toBe(1);
    await call(peer, 3, 'lookup', { a: 2 });
    expect(runs.lookup).toBe(2);
    await peer.close();
  });

  it('does not cache tools that are not read-only unless listed', async () => {
    const { server, runs } = setup();
    const peer = await rawPeer(server);
    await call(peer, 1, 'write');
    await call(peer, 2, 'write');
    expect(runs.write).toBe(2);
    const listed = setup({ tools: ['write'] });
    const peer2 = await rawPeer(listed.server);
    await call(peer2, 1, 'write');
    await call(peer2, 2, 'write');
    expect(listed.runs.write).toBe(1);
    await peer.close();
    await peer2.close();
  });

  it('never caches errors or isError results', async () => {
    const { server, runs } = setup();
    const peer = await rawPeer(server);
    expect((await call(peer, 1, 'flaky')).error.data.type).toBe('internal');
    expect((await call(peer, 2, 'flaky')).result.isError).toBe(true);
    expect((await call(peer, 3, 'flaky')).result.content[0].text).toBe('flaky #3');
    expect((await call(peer, 4, 'flaky')).result.content[0].text).toBe('flaky #3');
    expect(runs.flaky).toBe(3);
    await peer.close();
  });

  it('runs one computation for a burst of identical calls', async () => {
    const { server, runs } = setup();
    const peer = await rawPeer(server);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(peer, i + 1, 'lookup', { q: 'x' })),
    );
    expect(new Set(answers.map((a) => a.result.content[0].text)).size).toBe(1);
    expect(runs.lookup).toBe(1);
    await peer.close();
  });

  it('keeps entries per principal unless shared', async () => {
    const { server, runs } = setup();
    const peer = await rawPeer(server);
    await call(peer, 1, 'lookup', {}, { user: 'alice' });
    await call(peer, 2, 'lookup', {}, { user: 'bob' });
    await call(peer, 3, 'lookup', {}, { user: 'alice' });
    expect(runs.lookup).toBe(2);
    const shared = setup({ shared: true });
    const peer2 = await rawPeer(shared.server);
    await call(peer2, 1, 'lookup', {}, { user: 'alice' });
    await call(peer2, 2, 'lookup', {}, { user: 'bob' });
    expect(shared.runs.lookup).toBe(1);
    await peer.close();
    await peer2.close();
  });

  it('keeps entries per token when the credentials name no subject, and caches none for credentials that name no one', async () => {
    const { server, runs } = setup();
    const peer = await rawPeer(server);
    await call(peer, 1, 'lookup', {}, { token: 'alice-token' });
    await call(peer, 2, 'lookup', {}, { token: 'bob-token' });
    await call(peer, 3, 'lookup', {}, { token: 'alice-token' });
    expect(runs.lookup).toBe(2);
    // A subject and a client id are apart from each other and from a token that reads the same.
    await call(peer, 4, 'lookup', {}, { user: 'alice-token' });
    expect(runs.lookup).toBe(3);
    await call(peer, 5, 'lookup', {}, { nobody: true });
    await call(peer, 6, 'lookup', {}, { nobody: true });
    expect(runs.lookup).toBe(5);
    await peer.close();
  });

  it('stores nothing for a TTL of 0, and refuses a negative one', async () => {
    const { server, runs } = setup({ perTool: { lookup: 0 } });
    const peer = await rawPeer(server);
    await call(peer, 1, 'lookup');
    await call(peer, 2, 'lookup');
    expect(runs.lookup).toBe(2);
    expect(() => cache({ ttlMs: -1 })).toThrow(RangeError);
    expect(() => cache({ perTool: { x: Number.NaN } })).toThrow(RangeError);
    await peer.close();
  });

  it('gives callers who waited on the same computation a copy of its JSON, whatever the result holds', async () => {
    const server = createServer({ name: 'cache', version: '1', logger: silent });
    server.use(cache({ tools: ['q'] }));
    let runs = 0;
    server.tool('q', async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      // JSON drops the function; structuredClone would refuse it.
      return { content: [{ type: 'text', text: 'rows: 3' }], toString: () => 'rows' } as never;
    });
    const peer = await rawPeer(server);
    const answers = await Promise.all([1, 2, 3].map((id) => call(peer, id, 'q')));
    expect(answers.map((a) => a.result?.content[0].text)).toEqual(['rows: 3', 'rows: 3', 'rows: 3']);
    expect(runs).toBe(1);
    await peer.close();
  });

  it('expires entries after their TTL', async () => {
    const { server, runs } = setup({ ttlMs: 30 });
    const peer = await rawPeer(server);
    await call(peer, 1, 'lookup');
    await new Promise((r) => setTimeout(r, 80));
    await call(peer, 2, 'lookup');
    expect(runs.lookup).toBe(2);
    await peer.close();
  });

  it('caches resource reads when asked', async () => {
    const { server, runs } = setup({ resources: ['config://app'] });
    const peer = await rawPeer(server);
    const read = (id: number) => peer.call(id, 'resources/read', { uri: 'config://app', _meta: envelope() });
    const a = await read(1);
    const b = await read(2);
    expect(b.result.contents).toEqual(a.result.contents);
    expect(runs.config).toBe(1);
    await peer.close();
  });

  it('makes hits visible in the log line and in metrics', async () => {
    const { lines, logger } = captureLogs({ level: 'info' });
    const server = createServer({ name: 'cache', version: '1', logger });
    const m = metrics({ defaultMetrics: false });
    server.use(logging());
    server.use(m);
    server.use(cache({ name: 'lookups' }));
    server.tool('lookup', { annotations: { readOnlyHint: true } }, () => 'v');
    const peer = await rawPeer(server);
    await call(peer, 1, 'lookup');
    await call(peer, 2, 'lookup');
    const finished = lines.filter((l) => l.msg === 'request finished');
    expect(finished.map((l) => l.cache)).toEqual(['miss', 'hit']);
    const text = await m.registry.metrics();
    expect(text).toContain('mcp_cache_requests_total{rule="lookups",result="miss"} 1');
    expect(text).toContain('mcp_cache_requests_total{rule="lookups",result="hit"} 1');
    await peer.close();
  });
});
