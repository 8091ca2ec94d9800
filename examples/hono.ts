/**
 * Mounting Rampart in a Hono app through the Web-standard fetch handler (works the same on Bun,
 * Deno and workers). Run: `npx tsx examples/hono.ts` (PORT, default 3000).
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { fetchHandler } from '../src/index.js';
import { createEverythingServer } from './everything.js';

/** A Hono app serving MCP at /mcp. */
export function createHonoApp() {
  const app = new Hono();
  const mcp = fetchHandler(createEverythingServer());
  app.all('/mcp', (c) => mcp(c.req.raw));
  app.get('/hello', (c) => c.json({ hello: 'from hono' }));
  return { app, mcp };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { app } = createHonoApp();
  const port = Number(process.env.PORT ?? 3000);
  serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
  console.error(`hono + MCP on http://127.0.0.1:${port}/mcp`);
}
