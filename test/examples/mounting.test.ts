/** Mounting the MCP handler in Express (node adapter) and Hono (fetch adapter). */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createExpressApp } from '../../examples/express.js';
import { createHonoApp } from '../../examples/hono.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function exercise(url: URL) {
  const v1 = new Client({ name: 'mount', version: '1' });
  closers.push(() => v1.close());
  await v1.connect(new StreamableHTTPClientTransport(url));
  expect((await v1.callTool({ name: 'add', arguments: { a: 40, b: 2 } })).structuredContent).toEqual({
    sum: 42,
  });
  const progress: number[] = [];
  await v1.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  expect(progress).toEqual([0, 50, 100]);
  const v2 = new ClientV2({ name: 'mount', version: '2' }, { versionNegotiation: { mode: 'auto' } } as never);
  closers.push(() => v2.close());
  await v2.connect(new HttpV2(url));
  expect(v2.getNegotiatedProtocolVersion()).toBe('2026-07-28');
  expect((await v2.callTool({ name: 'test_simple_text', arguments: {} })).content).toHaveLength(1);
}

describe('mounting in other stacks', () => {
  it('serves MCP from an Express app next to its own routes', async () => {
    const { app, mcp } = createExpressApp();
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    closers.push(() => new Promise((r) => server.close(r)));
    closers.push(() => mcp.close(100));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await (await fetch(`${base}/hello`)).json()).toEqual({ hello: 'from express' });
    await exercise(new URL('/mcp', base));
  });

  it('serves MCP from a Hono app through the fetch handler', async () => {
    const { app, mcp } = createHonoApp();
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    closers.push(() => new Promise((r) => server.close(r)));
    closers.push(() => mcp.close(100));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await (await fetch(`${base}/hello`)).json()).toEqual({ hello: 'from hono' });
    await exercise(new URL('/mcp', base));
  });
});
