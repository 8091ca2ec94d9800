/**
 * Mounting Rampart in an Express app: the MCP endpoint next to your own routes.
 * Run: `npx tsx examples/express.ts` (PORT, default 3000).
 */
import express from 'express';
import { nodeHandler } from '../src/index.js';
import { createEverythingServer } from './everything.js';

/** An Express app serving MCP at /mcp (and /sse + /messages for old clients). */
export function createExpressApp() {
  const app = express();
  // Body parsers are optional: Rampart reads `req.body` when a parser already consumed the stream.
  app.use(express.json({ limit: '4mb' }));
  const mcp = nodeHandler(createEverythingServer());
  app.all(['/mcp', '/sse', '/messages'], (req, res) => mcp(req, res));
  app.get('/hello', (_req, res) => {
    res.json({ hello: 'from express' });
  });
  return { app, mcp };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { app } = createExpressApp();
  const port = Number(process.env.PORT ?? 3000);
  app.listen(port, '127.0.0.1', () => console.error(`express + MCP on http://127.0.0.1:${port}/mcp`));
}
