/**
 * The production stack in one call: structured logging, Prometheus metrics, OpenTelemetry tracing
 * (each when its optional peer is installed), authentication when configured, the default
 * per-client rate limit (on Redis when `REDIS_URL` is set) and a request timeout — outermost, in
 * that order, around whatever middleware the application added itself.
 */
import type { RampartConfig } from './config.js';
import { auth } from './middleware/auth.js';
import type { Middleware } from './middleware/compose.js';
import { logging } from './middleware/logging.js';
import { type MetricsMiddleware, metrics } from './middleware/metrics.js';
import { rateLimit } from './middleware/rate-limit.js';
import { timeout } from './middleware/timeout.js';
import { tracing } from './middleware/tracing.js';
import { MissingPeerError } from './optional-peer.js';
import type { McpServer } from './server/server.js';
import { memoryStore } from './stores/memory.js';
import { redisStore } from './stores/redis.js';
import type { RateLimitStore } from './stores/types.js';

/** What `productionStack` installed. */
export interface ProductionStack {
  /** The metrics middleware (its registry is what `/metrics` serves), if prom-client is installed. */
  metrics: MetricsMiddleware | undefined;
  /** The store the rate limit counts in. */
  store: RateLimitStore | undefined;
}

/** What `make` builds, or nothing when its optional peer dependency is not installed. */
function optional<T>(make: () => T): T | undefined {
  try {
    return make();
  } catch (err) {
    if (err instanceof MissingPeerError) return undefined;
    throw err;
  }
}

/** Installs the production middleware on `server`, outermost, configured by `config`. */
export function productionStack(server: McpServer<any>, config: RampartConfig): ProductionStack {
  const stack: Middleware[] = [logging()];
  const m = optional(() => metrics());
  if (m) stack.push(m);
  const t = optional(() => tracing());
  if (t) stack.push(t);
  if (config.auth) stack.push(auth(config.auth));
  let store: RateLimitStore | undefined;
  if (config.rateLimit) {
    if (config.redisUrl) {
      const redis = redisStore({ url: config.redisUrl, logger: server.logger, prefix: 'rampart:' });
      server.onClose(() => redis.close());
      store = redis;
    } else {
      store = memoryStore();
    }
    stack.push(
      rateLimit({
        rate: config.rateLimit.rps,
        burst: config.rateLimit.burst,
        key: 'principal',
        store,
        name: 'per-client',
      }),
    );
  }
  stack.push(timeout({ ms: config.requestTimeoutMs }));
  server.useOutermost(...stack);
  return { metrics: m, store };
}
