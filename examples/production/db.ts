/**
 * The reference server's database: embedded PostgreSQL (PGlite, in memory) by default, real
 * PostgreSQL (`pg`) when `DATABASE_URL` is set — the same SQL and the same code path. Queries from
 * tools run read-only and bounded: inside a READ ONLY transaction, on the extended protocol (one
 * statement, parameters bound), with a statement timeout and a row limit.
 */
import { SCHEMA, SEED } from './seed.js';

/** A result, with `truncated` when the row limit cut it. */
export interface QueryResult {
  columns: string[];
  rows: Record<string, unknown>[];
  rowCount: number;
  truncated: boolean;
}

export interface ReadOnlyOptions {
  timeoutMs: number;
  maxRows: number;
}

/** What both engines offer: one statement with bound parameters. */
interface Queryable {
  query(
    sql: string,
    params: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; fields: { name: string }[] }>;
}

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  /** Runs one read-only statement with parameters, bounded in time and rows. */
  readOnly(sql: string, params: unknown[], options: ReadOnlyOptions): Promise<QueryResult>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The shared path: read-only transaction, statement timeout, one bound statement, row limit. */
async function boundedQuery(
  conn: Queryable,
  sql: string,
  params: unknown[],
  options: ReadOnlyOptions,
): Promise<QueryResult> {
  await conn.query('SET TRANSACTION READ ONLY', []);
  await conn.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(options.timeoutMs))}`, []);
  const result = await conn.query(sql, params);
  const truncated = result.rows.length > options.maxRows;
  const rows = truncated ? result.rows.slice(0, options.maxRows) : result.rows;
  return { columns: result.fields.map((f) => f.name), rows, rowCount: rows.length, truncated };
}

async function seed(conn: { exec(sql: string): Promise<unknown> }): Promise<void> {
  await conn.exec(SCHEMA);
  await conn.exec(SEED);
}

/** Opens PGlite (no URL) or a pg pool (URL), creating and seeding the demo schema if needed. */
export async function openDatabase(url: string | undefined): Promise<Database> {
  if (url === undefined) {
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create();
    await seed(db);
    return {
      kind: 'pglite',
      // PGlite runs one transaction at a time; transaction() queues the others.
      readOnly: (sql, params, options) =>
        db.transaction((tx) => boundedQuery(tx as Queryable, sql, params, options)),
      ping: async () => void (await db.query('SELECT 1')),
      close: () => db.close(),
    };
  }
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5_000 });
  // An idle client's error (the server restarted...) is reported by the health check, not thrown.
  pool.on('error', () => {});
  const client = await pool.connect();
  try {
    // Instances starting together take turns: CREATE ... IF NOT EXISTS is not race-free.
    await client.query('SELECT pg_advisory_lock(7270001)');
    await seed({ exec: (sql) => client.query(sql) });
  } finally {
    await client.query('SELECT pg_advisory_unlock(7270001)').catch(() => undefined);
    client.release();
  }
  return {
    kind: 'postgres',
    async readOnly(sql, params, options) {
      const conn = await pool.connect();
      try {
        await conn.query('BEGIN');
        const extended: Queryable = {
          // queryMode 'extended': one statement, always — "...; COMMIT; DROP ..." cannot run.
          query: (text, values) => conn.query({ text, values, queryMode: 'extended' } as never),
        };
        return await boundedQuery(extended, sql, params, options);
      } finally {
        await conn.query('ROLLBACK').catch(() => undefined);
        conn.release();
      }
    },
    ping: async () => void (await pool.query('SELECT 1')),
    close: () => pool.end(),
  };
}
