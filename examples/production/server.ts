/**
 * The reference production server: a read-only analytics MCP server over a small shop dataset.
 *
 * - Embedded default: PGlite (PostgreSQL in WebAssembly, in memory) and in-memory stores — nothing to
 *   install. With `DATABASE_URL` and `REDIS_URL` it runs on PostgreSQL (`pg`) and Redis (`ioredis`).
 * - `query_data` runs one read-only SQL statement with parameters (READ ONLY transaction, statement
 *   timeout, row limit) and caches results for `CACHE_TTL_MS` (300 s) in the cache store, saying
 *   `cached: true|false`; the other tools are cached by the cache middleware.
 * - `health://status` and `/health/ready` report the database and Redis.
 *
 * Run it with `npx rampart start` (the CLI adds logging, metrics, tracing, auth when configured, the
 * per-client rate limit and the request timeout), or `npx tsx examples/production/server.ts`.
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  type CacheStore,
  cache,
  canonicalJson,
  createLogger,
  createServer,
  handleSignals,
  type Logger,
  loadConfig,
  type McpServer,
  memoryStore,
  productionStack,
  type RampartConfig,
  redisStore,
  ToolError,
} from '../../src/index.js';
import { type Database, openDatabase, type QueryResult } from './db.js';

export interface ReferenceDeps {
  db: Database;
  cache: CacheStore;
}

const READ_ONLY = { readOnlyHint: true, openWorldHint: false } as const;
const MAX_ROWS = 500;

/** Turns a database error into a message the model can act on (no stack, no connection details). */
function sqlError(err: unknown): ToolError {
  const e = err as { message?: string; code?: string };
  const message = (e.message ?? 'query failed').split('\n')[0];
  return new ToolError(`SQL error${e.code ? ` ${e.code}` : ''}: ${message}`);
}

/** Creates the reference server (the CLI's default entry). */
export function createReferenceServer(config: RampartConfig, logger?: Logger): McpServer<ReferenceDeps> {
  // One store for both caches, shared by every instance when Redis is configured. It connects on
  // its first command (the lifespan's health check or a request), and the lifespan closes it.
  const redis = config.redisUrl
    ? redisStore({ url: config.redisUrl, prefix: 'rampart:ref:', logger, redis: { lazyConnect: true } })
    : undefined;
  const store: CacheStore = redis ?? memoryStore();
  const server = createServer({
    name: 'rampart-reference',
    version: '1.0.0',
    title: 'Rampart reference server',
    instructions:
      'Read-only analytics over a small shop dataset (schema "shop": customers, products, orders). ' +
      'Start with list_tables; use query_data for anything the other tools do not answer.',
    logger: logger ?? createLogger({ level: config.logLevel }),
    drainTimeoutMs: config.drainTimeoutMs,
    health: { resource: true },
    lifespan: async (life) => {
      const db = life.use(await openDatabase(config.databaseUrl), (d) => d.close());
      if (redis) {
        life.use(redis, (r) => r.close());
        server.health.check('redis', () => redis.ping(), { timeoutMs: 1_000 });
      }
      server.health.check('database', () => db.ping(), { timeoutMs: 2_000 });
      return { db, cache: store };
    },
  });

  // Results of the read-only tools below are cached too (query_data caches itself, to say so).
  server.use(
    cache({
      ttlMs: config.cacheTtlMs,
      store,
      shared: true,
      tools: (tool) => tool.name !== 'query_data' && tool.config.annotations !== undefined,
    }),
  );

  const run = async (deps: ReferenceDeps, sql: string, params: unknown[] = []): Promise<QueryResult> => {
    try {
      return await deps.db.readOnly(sql, params, { timeoutMs: 5_000, maxRows: MAX_ROWS });
    } catch (err) {
      throw sqlError(err);
    }
  };

  server.tool(
    'query_data',
    {
      title: 'Run a read-only SQL query',
      description:
        `Runs one read-only PostgreSQL statement with $1, $2... parameters. At most ${MAX_ROWS} rows; ` +
        'results are cached for a while (`cached` says whether this one was).',
      inputSchema: {
        type: 'object',
        properties: {
          sql: { type: 'string', minLength: 1, maxLength: 10_000 },
          params: {
            type: 'array',
            items: { type: ['string', 'number', 'boolean', 'null'] },
            maxItems: 100,
          },
        },
        required: ['sql'],
        additionalProperties: false,
      },
      outputSchema: {
        type: 'object',
        properties: {
          columns: { type: 'array', items: { type: 'string' } },
          rows: { type: 'array', items: { type: 'object' } },
          rowCount: { type: 'integer' },
          truncated: { type: 'boolean' },
          cached: { type: 'boolean' },
        },
        required: ['columns', 'rows', 'rowCount', 'truncated', 'cached'],
      },
      annotations: READ_ONLY,
    },
    async (args, ctx) => {
      const { sql, params = [] } = args as { sql: string; params?: unknown[] };
      const key = createHash('sha256').update(canonicalJson({ sql, params })).digest('base64url');
      const hit = await ctx.deps.cache.get(`query:${key}`);
      if (hit !== undefined) return { ...(JSON.parse(hit) as QueryResult), cached: true };
      const result = await run(ctx.deps, sql, params);
      await ctx.deps.cache.set(`query:${key}`, JSON.stringify(result), config.cacheTtlMs);
      return { ...result, cached: false };
    },
  );

  server.tool(
    'list_tables',
    {
      title: 'List tables',
      description: 'Tables of the shop schema with their columns.',
      annotations: READ_ONLY,
    },
    async (_args, ctx) => {
      const result = await run(
        ctx.deps,
        `SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) AS columns
           FROM information_schema.columns WHERE table_schema = 'shop'
          GROUP BY table_name ORDER BY table_name`,
      );
      return result.rows.map((r) => `shop.${r.table_name}: ${r.columns}`).join('\n');
    },
  );

  server.tool(
    'top_customers',
    {
      title: 'Top customers by spend',
      inputSchema: {
        type: 'object',
        properties: { limit: { type: 'integer', minimum: 1, maximum: 50, default: 5 } },
        additionalProperties: false,
      },
      annotations: READ_ONLY,
    },
    async (args, ctx) => {
      const limit = (args as { limit?: number }).limit ?? 5;
      const result = await run(
        ctx.deps,
        `SELECT c.name, c.country, SUM(o.quantity * p.price_cents) / 100.0 AS spent
           FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id JOIN shop.products p ON p.id = o.product_id
          GROUP BY c.id ORDER BY spent DESC, c.name LIMIT $1`,
        [limit],
      );
      return { content: [{ type: 'text', text: JSON.stringify(result.rows) }] };
    },
  );

  server.tool(
    'sales_by_month',
    {
      title: 'Revenue per month',
      inputSchema: {
        type: 'object',
        properties: { year: { type: 'integer', minimum: 2000, maximum: 2100 } },
        required: ['year'],
        additionalProperties: false,
      },
      annotations: READ_ONLY,
    },
    async (args, ctx) => {
      const result = await run(
        ctx.deps,
        `SELECT to_char(o.ordered_at, 'YYYY-MM') AS month, SUM(o.quantity * p.price_cents) / 100.0 AS revenue
           FROM shop.orders o JOIN shop.products p ON p.id = o.product_id
          WHERE extract(year FROM o.ordered_at) = $1 GROUP BY month ORDER BY month`,
        [(args as { year: number }).year],
      );
      return { content: [{ type: 'text', text: JSON.stringify(result.rows) }] };
    },
  );
  return server;
}

/** The CLI's entry contract: a factory given the configuration and the logger. */
export default function entry({ config, logger }: { config: RampartConfig; logger: Logger }) {
  return createReferenceServer(config, logger);
}

// Run directly: `npx tsx examples/production/server.ts`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const config = loadConfig();
  const server = createReferenceServer(config);
  const { metrics } = productionStack(server, config);
  const host = await server.listen({ port: config.port, host: config.host, metrics });
  handleSignals(server, { drainTimeoutMs: config.drainTimeoutMs });
  server.logger.info({ url: host.url.href }, 'reference server listening');
}
