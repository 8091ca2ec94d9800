/** HTTP benchmark server: Rampart (both eras on one endpoint). */
import { createLogger, createServer } from '../../src/index.js';
import { EXTRA_TOOLS, echo, echoSchema, port } from './tools.js';

const server = createServer({ name: 'bench', version: '1.0.0', logger: createLogger({ level: 'warn' }) });
server.tool('echo', { inputSchema: echoSchema }, echo);
for (const t of EXTRA_TOOLS)
  server.tool(t.name, { description: t.description, inputSchema: t.schema }, () => t.name);
const host = await server.listen({ port, host: '127.0.0.1', legacySse: false });
console.log(`ready ${host.port}`);
