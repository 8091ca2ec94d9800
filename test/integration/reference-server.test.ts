/**
 * The reference production server, both ways: embedded (PGlite, in-memory stores) and on the
 * machine's real PostgreSQL and Redis — same tools, same SQL.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReferenceServer } from '../../examples/production/server.js';
import { createLogger, loadConfig, productionStack } from '../../src/index.js';
import { postgresUrl } from '../fixtures/postgres.js';
import { PrivateRedis } from '../fixtures/redis.js';

const silent = createLogger({ level: 'silent' });

async function boot(env: Record<string, string>) {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...env });
  const server = createReferenceServer(config, silent);
  const { metrics } = productionStack(server, config);
  const host = await server.listen({ port: 0, metrics });
  const client = new Client({ name: 'ref-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(host.url));
  return { server, host, client };
}

type Booted = Awaited<ReturnType<typeof boot>>;
const structured = (r: unknown) => (r as { structuredContent: Record<string, any> }).structuredContent;
const text = (r: unknown) => (r as { content: { text: string }[] }).content[0].text;

function behaves(name: string, env: () => Promise<Record<string, string>>, expectedChecks: string[]) {
  describe(name, () => {
    let b: Booted;
    beforeAll(async () => {
      b = await boot(await env());
    }, 60_000);
    afterAll(async () => {
      await b.client.close();
      await b.server.close(500);
    });

    it('lists its tools and the health resource', async () => {
      const tools = (await b.client.listTools()).tools.map((t) => t.name);
      expect(tools).toEqual(['query_data', 'list_tables', 'top_customers', 'sales_by_month']);
      const resources = (await b.client.listResources()).resources.map((r) => r.uri);
      expect(resources).toContain('health://status');
    });

    it('runs parameterised read-only queries and reports cached: false, then true', async () => {
      const args = { sql: 'SELECT name FROM shop.customers WHERE country = $1 ORDER BY id', params: ['GB'] };
      const first = structured(await b.client.callTool({ name: 'query_data', arguments: args }));
      expect(first).toEqual({
        columns: ['name'],
        rows: [{ name: 'Ada Lovelace' }, { name: 'Tim Berners-Lee' }],
        rowCount: 2,
        truncated: false,
        cached: false,
      });
      const second = structured(await b.client.callTool({ name: 'query_data', arguments: args }));
      expect(second.cached).toBe(true);
      expect(second.rows).toEqual(first.rows);
    });

    it('refuses writes and several statements, and answers SQL errors cleanly', async () => {
      const write = await b.client.callTool({
        name: 'query_data',
        arguments: { sql: 'DELETE FROM shop.orders' },
      });
      expect(write.isError).toBe(true);
      expect(text(write)).toMatch(/read-only transaction/);
      const smuggled = await b.client.callTool({
        name: 'query_data',
        arguments: { sql: 'SELECT 1; COMMIT; DROP TABLE shop.orders' },
      });
      expect(smuggled.isError).toBe(true);
      expect(text(smuggled)).toMatch(/multiple commands/);
      const bad = await b.client.callTool({
        name: 'query_data',
        arguments: { sql: 'SELECT * FROM nowhere' },
      });
      expect(bad.isError).toBe(true);
      expect(text(bad)).toBe('SQL error 42P01: relation "nowhere" does not exist');
      const count = structured(
        await b.client.callTool({
          name: 'query_data',
          arguments: { sql: 'SELECT count(*)::int AS n FROM shop.orders' },
        }),
      );
      expect(count.rows[0].n).toBe(60);
    });

    it('bounds the rows a query returns', async () => {
      const many = structured(
        await b.client.callTool({
          name: 'query_data',
          arguments: { sql: 'SELECT g FROM generate_series(1, 2000) g' },
        }),
      );
      expect(many.rowCount).toBe(500);
      expect(many.truncated).toBe(true);
    });

    it('answers its analytics tools', async () => {
      const top = JSON.parse(
        text(await b.client.callTool({ name: 'top_customers', arguments: { limit: 3 } })),
      );
      expect(top).toHaveLength(3);
      expect(Object.keys(top[0])).toEqual(['name', 'country', 'spent']);
      const tables = text(await b.client.callTool({ name: 'list_tables', arguments: {} }));
      expect(tables).toContain('shop.orders: id integer');
    });

    it('reports its dependencies on /health/ready and health://status', async () => {
      const res = await fetch(new URL('/health/ready', b.host.url));
      expect(res.status).toBe(200);
      const report = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
      expect(report.status).toBe('ok');
      expect(Object.keys(report.checks).sort()).toEqual(expectedChecks);
      const resource = await b.client.readResource({ uri: 'health://status' });
      expect(JSON.parse((resource.contents[0] as { text: string }).text).status).toBe('ok');
    });
  });
}

behaves('reference server, embedded (PGlite, in-memory stores)', async () => ({}), ['database']);

let redis: PrivateRedis | undefined;
afterAll(async () => redis?.stop());

behaves('reference server on PostgreSQL and Redis', async () => {
  redis = await PrivateRedis.create();
  return { DATABASE_URL: await postgresUrl(), REDIS_URL: redis.url };
}, ['database', 'redis']);

describe('reference server when Redis stops', () => {
  it('turns readiness red and keeps answering (the cache fails open)', async () => {
    const own = await PrivateRedis.create();
    const b = await boot({ DATABASE_URL: await postgresUrl(), REDIS_URL: own.url, RATE_LIMIT_RPS: '1000' });
    try {
      expect((await fetch(new URL('/health/ready', b.host.url))).status).toBe(200);
      await own.stop();
      let status = 200;
      const deadline = Date.now() + 10_000;
      while (status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1_100)); // past the health cache
        status = (await fetch(new URL('/health/ready', b.host.url))).status;
      }
      expect(status).toBe(503);
      const report = (await (await fetch(new URL('/health/ready', b.host.url))).json()) as any;
      expect(report.checks.redis.status).toBe('down');
      expect(report.checks.database.status).toBe('up');
      const answer = await b.client.callTool({
        name: 'query_data',
        arguments: { sql: 'SELECT count(*)::int AS n FROM shop.customers' },
      });
      expect(structured(answer)).toMatchObject({ rows: [{ n: 8 }], cached: false });
    } finally {
      await b.client.close();
      await b.server.close(500);
      await own.stop();
    }
  });
});

describe('reference servers sharing one Redis', () => {
  it("serve each other's cached results of the read-only tools", async () => {
    const own = await PrivateRedis.create();
    const env = { DATABASE_URL: await postgresUrl(), REDIS_URL: own.url, RATE_LIMIT_RPS: '1000' };
    const [a, b] = [await boot(env), await boot(env)];
    try {
      const args = { name: 'top_customers', arguments: { limit: 2 } };
      const first = await a.client.callTool(args);
      expect(first._meta?.['io.rampart/cached']).toBeUndefined();
      const second = await b.client.callTool(args);
      expect(second._meta?.['io.rampart/cached']).toBe(true);
      expect(text(second)).toBe(text(first));
    } finally {
      for (const x of [a, b]) {
        await x.client.close();
        await x.server.close(500);
      }
      await own.stop();
    }
  });
});
