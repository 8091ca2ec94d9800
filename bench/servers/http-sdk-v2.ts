/** HTTP benchmark server: the official SDK v2 `createMcpHandler` (per-request servers), on node:http. */
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { EXTRA_TOOLS, echo, echoSchema, port } from './tools.js';

const handler = createMcpHandler(() => {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: echoSchema }, echo);
  for (const t of EXTRA_TOOLS) {
    server.registerTool(t.name, { description: t.description, inputSchema: t.schema }, async () => ({
      content: [{ type: 'text' as const, text: t.name }],
    }));
  }
  return server;
});
const node = toNodeHandler(handler);
const http = createHttpServer((req, res) => void node(req, res));
http.listen(port, '127.0.0.1', () => console.log(`ready ${(http.address() as AddressInfo).port}`));
