/**
 * Serves the everything example over HTTP: `PORT=3000 npm run example:http`.
 * Streamable HTTP at /mcp for both protocol eras (stateful legacy sessions, stateless 2026-07-28),
 * WebSocket at /ws, HTTP+SSE at /sse for old clients, Prometheus metrics at /metrics, health at
 * /health/live and /health/ready, JSON logs on stderr, OpenTelemetry spans when an SDK is registered.
 * SIGTERM/SIGINT drain in-flight requests before exiting.
 */
import { handleSignals, logging, metrics, tracing } from '../src/index.js';
import { createEverythingServer } from './everything.js';

const server = createEverythingServer();
const prometheus = metrics();
// Tracing is a no-op until the application registers an OpenTelemetry SDK.
server.use(logging()).use(prometheus).use(tracing());
const host = await server.listen({
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
  metrics: prometheus,
});
server.logger.info({ url: host.url.href }, 'everything example listening');

handleSignals(server);
