/**
 * HTTP benchmark server: Rampart (both eras on one endpoint). With OBSERVE=1 it runs the full
 * observability stack: logging() at info to /dev/null, metrics(), tracing() with no SDK registered.
 * With PRODUCTION=1 it adds auth() with a JWT (HS256, BENCH_JWT_SECRET), a high per-principal
 * rateLimit() and a timeout(): the full production stack. BATCH_RESPONSES=1 turns on the host's
 * `batchResponses`.
 */
import { openSync } from 'node:fs';
import {
  auth,
  BatchedDestination,
  createLogger,
  createServer,
  logging,
  metrics,
  rateLimit,
  timeout,
  tracing,
} from '../../src/index.js';
import { EXTRA_TOOLS, echo, echoSchema, port } from './tools.js';

// PRODUCTION=1 turns on auth, rateLimit and timeout (with full observability); PRODUCTION=auth,timeout
// (say) only those; OBSERVE=1 all three observability parts, OBSERVE=logging,metrics only those — to
// price each one.
const fullProduction = process.env.PRODUCTION === '1';
const guard = fullProduction ? 'auth,rateLimit,timeout' : (process.env.PRODUCTION ?? '');
const observe =
  process.env.OBSERVE === '1' || fullProduction ? 'logging,metrics,tracing' : (process.env.OBSERVE ?? '');
const parts = new Set([...observe.split(','), ...guard.split(',')]);
const on = (part: string) => parts.has(part);
const logger = on('logging')
  ? createLogger({ level: 'info', destination: new BatchedDestination(openSync('/dev/null', 'w')) })
  : createLogger({ level: 'warn' });
const server = createServer({ name: 'bench', version: '1.0.0', logger });
const prometheus = on('metrics') ? metrics() : undefined;
// `als`: logging() with nothing written at its level (AsyncLocalStorage and the middleware alone).
if (on('logging') || on('als')) server.use(logging());
if (prometheus) server.use(prometheus);
if (on('tracing')) server.use(tracing());
if (on('auth')) {
  server.use(
    auth({ jwt: { keys: process.env.BENCH_JWT_SECRET!, issuer: 'https://bench.test', audience: 'bench' } }),
  );
}
if (on('rateLimit')) server.use(rateLimit({ rate: 1_000_000, burst: 1_000_000, key: 'principal' }));
if (on('timeout')) server.use(timeout({ ms: 10_000 }));
server.tool('echo', { inputSchema: echoSchema }, echo);
for (const t of EXTRA_TOOLS)
  server.tool(t.name, { description: t.description, inputSchema: t.schema }, () => t.name);
const host = await server.listen({
  port,
  host: '127.0.0.1',
  legacySse: false,
  metrics: prometheus,
  batchResponses: process.env.BATCH_RESPONSES === '1',
});
console.log(`ready ${host.port}`);
