/**
 * HTTP benchmark server: Rampart (both eras on one endpoint). With OBSERVE=1 it runs the full
 * observability stack: logging() at info to /dev/null, metrics(), tracing() with no SDK registered.
 */
import { pino } from 'pino';
import { createLogger, createServer, logging, metrics, tracing } from '../../src/index.js';
import { EXTRA_TOOLS, echo, echoSchema, port } from './tools.js';

const observe = process.env.OBSERVE === '1';
const logger = observe
  ? createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) })
  : createLogger({ level: 'warn' });
const server = createServer({ name: 'bench', version: '1.0.0', logger });
const prometheus = observe ? metrics() : undefined;
if (observe) server.use(logging()).use(prometheus!).use(tracing());
server.tool('echo', { inputSchema: echoSchema }, echo);
for (const t of EXTRA_TOOLS)
  server.tool(t.name, { description: t.description, inputSchema: t.schema }, () => t.name);
const host = await server.listen({ port, host: '127.0.0.1', legacySse: false, metrics: prometheus });
console.log(`ready ${host.port}`);
