/** metrics(): scraped from /metrics and parsed. */

import diagnostics from 'node:diagnostics_channel';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, createServer, type HttpHost, metrics, rateLimit, ToolError } from '../../src/index.js';
import { ACCEPT_BOTH } from '../fixtures/http.js';
import { envelope, rawPeer } from '../fixtures/raw.js';

/** Parses Prometheus text into `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

const hosts: HttpHost[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const h of hosts.splice(0)) await h.close(100);
});

async function setup(options = {}) {
  const server = createServer({ name: 'metrics', version: '1', logger: createLogger({ level: 'silent' }) });
  const m = metrics({ buckets: [0.001, 0.01, 0.1, 1], ...options });
  server.use(m);
  server.tool('ok', () => 'fine');
  server.tool('say', () => 'café ✓ 🙂');
  server.tool('slow', async () => {
    await new Promise((r) => setTimeout(r, 20));
    return 'late';
  });
  server.tool('refuse', () => {
    throw new ToolError('no');
  });
  const host = await server.listen({ port: 0, metrics: m });
  hosts.push(host);
  const client = new Client({ name: 'c', version: '1' });
  clients.push(client);
  await client.connect(new StreamableHTTPClientTransport(host.url));
  const scrape = async () => {
    const res = await fetch(new URL('/metrics', host.url));
    expect(res.headers.get('content-type')).toContain('text/plain');
    return parse(await res.text());
  };
  return { client, scrape, m, host };
}

describe('metrics()', () => {
  it('counts requests by method, tool and status, and times them in histogram buckets', async () => {
    const { client, scrape } = await setup();
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'ok', arguments: {} });
    await client.callTool({ name: 'slow', arguments: {} });
    await client.callTool({ name: 'refuse', arguments: {} });
    await client.callTool({ name: 'missing', arguments: {} }).catch(() => undefined);
    const m = await scrape();
    expect(m.get('mcp_requests_total{method="tools/call",tool="ok",status="ok"}')).toBe(3);
    expect(m.get('mcp_requests_total{method="tools/call",tool="refuse",status="tool_error"}')).toBe(1);
    expect(m.get('mcp_requests_total{method="tools/call",tool="other",status="not_found"}')).toBe(1);
    expect(m.get('mcp_requests_total{method="initialize",tool="",status="ok"}')).toBe(1);
    expect(m.get('mcp_tool_errors_total{tool="refuse",type="tool_error"}')).toBe(1);
    expect(m.get('mcp_request_duration_seconds_count{method="tools/call",tool="slow"}')).toBe(1);
    expect(m.get('mcp_request_duration_seconds_bucket{le="0.01",method="tools/call",tool="slow"}')).toBe(0);
    expect(m.get('mcp_request_duration_seconds_bucket{le="0.1",method="tools/call",tool="slow"}')).toBe(1);
    expect(m.get('mcp_request_duration_seconds_bucket{le="+Inf",method="tools/call",tool="ok"}')).toBe(3);
    expect(m.get('mcp_requests_in_flight')).toBe(0);
    expect(m.get('mcp_sessions_active')).toBe(1);
    expect(m.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    // Every POST body read and every answer written, counted by the transport.
    expect(m.get('mcp_transport_messages_total{transport="http",direction="in"}')).toBeGreaterThanOrEqual(8);
    expect(m.get('mcp_transport_bytes_total{transport="http",direction="in"}')).toBeGreaterThan(500);
    expect(m.get('mcp_transport_messages_total{transport="http",direction="out"}')).toBeGreaterThanOrEqual(7);
  });

  it('counts transport traffic from its own creation on, and publishes it to channel subscribers', async () => {
    const seen: { transport: string; direction: string; bytes: number; messages: number }[] = [];
    const listener = (message: unknown) => seen.push(message as (typeof seen)[number]);
    diagnostics.subscribe('rampart:transport', listener);
    try {
      const first = await setup();
      for (let i = 0; i < 3; i++) await first.client.callTool({ name: 'ok', arguments: {} });
      const before = (await first.scrape()).get(
        'mcp_transport_messages_total{transport="http",direction="in"}',
      )!;
      // A registry made now starts from zero, while the first one keeps counting.
      const second = await setup();
      await second.client.callTool({ name: 'ok', arguments: {} });
      const own = await second.scrape();
      // initialize, notifications/initialized and the call: this registry's three messages in.
      expect(own.get('mcp_transport_messages_total{transport="http",direction="in"}')).toBe(3);
      expect(
        (await first.scrape()).get('mcp_transport_messages_total{transport="http",direction="in"}'),
      ).toBe(before + 3);
      expect(seen.some((t) => t.transport === 'http' && t.direction === 'out' && t.bytes > 0)).toBe(true);
      expect(seen.filter((t) => t.direction === 'in').every((t) => t.messages === 1 && t.bytes > 10)).toBe(
        true,
      );
    } finally {
      diagnostics.unsubscribe('rampart:transport', listener);
    }
  });

  it('counts the bytes of an HTTP body and its answer exactly, multi-byte text included', async () => {
    const { host } = await setup();
    const seen: { transport: string; direction: string; bytes: number }[] = [];
    const listener = (message: unknown) => seen.push(message as (typeof seen)[number]);
    diagnostics.subscribe('rampart:transport', listener);
    try {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'say', arguments: { note: 'café ✓ 🙂' }, _meta: envelope() },
      });
      const res = await fetch(host.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: ACCEPT_BOTH,
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'say',
        },
        body,
      });
      const answer = await res.text();
      expect(res.status).toBe(200);
      // Multi-byte both ways: characters are not bytes.
      expect(answer).toContain('café ✓ 🙂');
      expect(Buffer.byteLength(answer)).toBeGreaterThan(answer.length);
      expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(answer));
      const http = seen.filter((t) => t.transport === 'http');
      expect(http.filter((t) => t.direction === 'in').map((t) => t.bytes)).toEqual([Buffer.byteLength(body)]);
      expect(http.filter((t) => t.direction === 'out').map((t) => t.bytes)).toEqual([
        Buffer.byteLength(answer),
      ]);
    } finally {
      diagnostics.unsubscribe('rampart:transport', listener);
    }
  });

  it('keeps label cardinality bounded: unknown and excess tool names collapse to "other"', async () => {
    const { client, scrape } = await setup({ maxTargets: 1 });
    await client.callTool({ name: 'ok', arguments: {} });
    await client.callTool({ name: 'slow', arguments: {} });
    for (let i = 0; i < 20; i++)
      await client.callTool({ name: `made-up-${i}`, arguments: {} }).catch(() => undefined);
    const { EmptyResultSchema } = await import('@modelcontextprotocol/sdk/types.js');
    for (let i = 0; i < 5; i++)
      await client.request({ method: `made/up-${i}` }, EmptyResultSchema).catch(() => undefined);
    const m = await scrape();
    const methods = new Set([...m.keys()].map((k) => /method="([^"]*)"/.exec(k)?.[1]).filter(Boolean));
    expect(methods).toEqual(new Set(['initialize', 'tools/call', 'other']));
    expect(m.get('mcp_requests_total{method="other",tool="",status="method_not_found"}')).toBe(5);
    const tools = new Set(
      [...m.keys()]
        .filter((k) => k.startsWith('mcp_requests_total'))
        .map((k) => /tool="([^"]*)"/.exec(k)?.[1]),
    );
    expect(tools).toEqual(new Set(['', 'ok', 'other']));
  });

  it('gives no label to a name no tool has, whatever refused it first', async () => {
    const server = createServer({ name: 'metrics', version: '1', logger: createLogger({ level: 'silent' }) });
    const m = metrics({ defaultMetrics: false, maxTargets: 3 });
    // Every request but the first is refused before dispatch, unknown names included.
    server.use(m).use(rateLimit({ rate: 0, burst: 1, key: 'global' }));
    server.tool('real', () => 'ok');
    const peer = await rawPeer(server);
    for (let i = 0; i < 10; i++)
      await peer.call(i, 'tools/call', { name: `junk-${i}`, arguments: {}, _meta: envelope() });
    await peer.call(99, 'tools/call', { name: 'real', arguments: {}, _meta: envelope() });
    const scraped = parse(await m.registry.metrics());
    const tools = new Set(
      [...scraped.keys()]
        .filter((k) => k.startsWith('mcp_requests_total'))
        .map((k) => /tool="([^"]*)"/.exec(k)?.[1]),
    );
    expect(tools).toEqual(new Set(['other', 'real']));
    await peer.close();
  });

  it("counts a request's protection events only in its own server's registry", async () => {
    const make = () => {
      const server = createServer({ name: 'm', version: '1', logger: createLogger({ level: 'silent' }) });
      const m = metrics({ defaultMetrics: false });
      server.use(m).use(rateLimit({ rate: 0, burst: 1, key: 'global', name: 'tight' }));
      server.tool('work', () => 'ok');
      return { server, m };
    };
    const a = make();
    const b = make();
    const peer = await rawPeer(a.server);
    for (let i = 0; i < 3; i++)
      await peer.call(i, 'tools/call', { name: 'work', arguments: {}, _meta: envelope() });
    expect(parse(await a.m.registry.metrics()).get('mcp_rate_limited_total{rule="tight"}')).toBe(2);
    expect(parse(await b.m.registry.metrics()).get('mcp_rate_limited_total{rule="tight"}')).toBeUndefined();
    await peer.close();
  });

  it('serves the same figures as JSON, and resets them with the registry', async () => {
    const { client, scrape, m } = await setup();
    for (let i = 0; i < 2; i++) await client.callTool({ name: 'ok', arguments: {} });
    const json = await m.registry.getMetricsAsJSON();
    const histogram = json.find((metric) => metric.name === 'mcp_request_duration_seconds')!;
    expect(String(histogram.type)).toBe('histogram');
    const count = histogram.values.find(
      (v) =>
        (v as { metricName?: string }).metricName === 'mcp_request_duration_seconds_count' &&
        v.labels.tool === 'ok',
    );
    expect(count?.value).toBe(2);
    const requests = json.find((metric) => metric.name === 'mcp_requests_total')!;
    expect(requests.values.find((v) => v.labels.tool === 'ok' && v.labels.status === 'ok')?.value).toBe(2);
    // Counted since the last scrape, then reset: gone too.
    await client.callTool({ name: 'ok', arguments: {} });
    m.registry.resetMetrics();
    const after = await scrape();
    expect(after.get('mcp_request_duration_seconds_count{method="tools/call",tool="ok"}')).toBeUndefined();
    expect(after.get('mcp_requests_total{method="tools/call",tool="ok",status="ok"}')).toBeUndefined();
    await client.callTool({ name: 'ok', arguments: {} });
    const again = await scrape();
    expect(again.get('mcp_request_duration_seconds_count{method="tools/call",tool="ok"}')).toBe(1);
    expect(again.get('mcp_requests_total{method="tools/call",tool="ok",status="ok"}')).toBe(1);
  });

  it('stops counting a session once it ends (DELETE)', async () => {
    const { client, scrape } = await setup();
    expect((await scrape()).get('mcp_sessions_active')).toBe(1);
    await (client.transport as StreamableHTTPClientTransport).terminateSession();
    await expect.poll(async () => (await scrape()).get('mcp_sessions_active')).toBe(0);
  });
});
