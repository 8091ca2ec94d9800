/** Benchmark server: Rampart over stdio with one `echo` tool. */
import { z } from 'zod';
import { createLogger, createServer, StdioServerTransport } from '../../src/index.js';

const server = createServer({ name: 'bench', version: '1.0.0', logger: createLogger({ level: 'warn' }) });
server.tool('echo', { inputSchema: z.object({ text: z.string() }) }, ({ text }) => ({
  content: [{ type: 'text', text }],
}));
await server.connect(new StdioServerTransport());
