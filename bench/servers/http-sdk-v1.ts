/** HTTP benchmark server: the official SDK v1, stateless (MODE=stateless) or with sessions. */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { EXTRA_TOOLS, echo, echoSchema, port } from './tools.js';

function build(): McpServer {
  const server = new McpServer({ name: 'bench', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: echoSchema.shape }, echo);
  for (const t of EXTRA_TOOLS) {
    server.registerTool(t.name, { description: t.description, inputSchema: t.schema.shape }, async () => ({
      content: [{ type: 'text', text: t.name }],
    }));
  }
  return server;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const stateless = process.env.MODE === 'stateless';
const sessions = new Map<string, StreamableHTTPServerTransport>();

async function handle(req: IncomingMessage, res: ServerResponse) {
  const body = req.method === 'POST' ? await readJson(req) : undefined;
  if (stateless) {
    // The SDK's documented stateless pattern: a server and transport per request.
    const server = build();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    return;
  }
  const id = req.headers['mcp-session-id'] as string | undefined;
  let transport = id ? sessions.get(id) : undefined;
  if (!transport) {
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (sid) => void sessions.set(sid, transport!),
    });
    await build().connect(transport);
  }
  await transport.handleRequest(req, res, body);
}

const http = createHttpServer((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(500).end();
  });
});
http.listen(port, '127.0.0.1', () => console.log(`ready ${(http.address() as AddressInfo).port}`));
