/**
 * The `rampart` command.
 *
 *   rampart start [entry]   production: HTTP, the production middleware stack, JSON logs
 *   rampart dev [entry]     development: restarts when a file changes, pretty logs
 *   rampart stdio [entry]   serve the entry over stdio (logs on stderr)
 *
 * With no entry, the reference production server (examples/production) runs. An entry module's
 * default export is an McpServer, or a function `({ config, logger }) => McpServer`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type RampartConfig } from '../config.js';
import { handleSignals } from '../lifecycle/shutdown.js';
import { productionStack } from '../production.js';
import { createLogger, type Logger } from '../server/logger.js';
import { McpServer } from '../server/server.js';
import { StdioServerTransport } from '../transports/stdio.js';

const HELP: Record<string, string> = {
  main: `Usage: rampart <command> [entry] [options]

Commands:
  start [entry]   Serve over HTTP for production: logging, metrics, tracing, auth (when configured),
                  the per-client rate limit and request timeouts; JSON logs on stderr.
  dev [entry]     Like start, restarting when a source file changes, with pretty logs.
  stdio [entry]   Serve over stdio (for clients that launch the server).

With no entry, the reference production server runs (embedded PostgreSQL, in-memory stores).
Run "rampart <command> --help" for a command's options.
`,
  start: `Usage: rampart start [entry]

Serves the entry over Streamable HTTP at /mcp (plus /sse, /health/live, /health/ready, /metrics)
with the production middleware stack, and drains on SIGTERM/SIGINT.

Environment:
  PORT, HOST                 where to listen (default 3000, 127.0.0.1)
  LOG_LEVEL                  trace | debug | info | warn | error | fatal | silent (default info)
  DATABASE_URL, REDIS_URL    PostgreSQL and Redis (default: embedded database, in-memory stores)
  RATE_LIMIT_RPS, RATE_LIMIT_BURST   per-client token bucket (default 50/s, burst 100; 0 = off)
  RAMPART_API_KEYS           key, name=key or name=sha256:<hex>, comma-separated
  JWT_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE   JWT bearer tokens
  MCP_RESOURCE_URL           this server's public URL (OAuth metadata, default JWT audience)
  DRAIN_TIMEOUT_MS           how long shutdown waits for in-flight requests (default 10000)
  REQUEST_TIMEOUT_MS         per-request time limit (default 30000)
`,
  dev: `Usage: rampart dev [entry]

Runs "rampart start" in a child process that restarts when a source file changes; logs are
pretty-printed. Same environment as "rampart start".
`,
  stdio: `Usage: rampart stdio [entry]

Serves the entry over stdio: JSON-RPC on stdin/stdout, logs on stderr. Same environment as
"rampart start" (PORT and HOST are ignored).
`,
};

type Factory = (init: { config: RampartConfig; logger: Logger }) => McpServer<any> | Promise<McpServer<any>>;

/** The reference server's module, next to this package's sources. */
function referenceEntry(): string {
  const here = fileURLToPath(import.meta.url);
  for (const candidate of ['../../examples/production/server.ts', '../../../examples/production/server.ts']) {
    const path = resolve(here, candidate);
    if (existsSync(path)) return path;
  }
  throw new Error(
    'The reference server is not in this installation: give an entry (rampart start ./server.js)',
  );
}

async function loadServer(
  entry: string | undefined,
  config: RampartConfig,
  logger: Logger,
): Promise<McpServer<any>> {
  const path = entry === undefined ? referenceEntry() : resolve(entry);
  const mod = (await import(pathToFileURL(path).href)) as { default?: unknown; server?: unknown };
  const exported = mod.default ?? mod.server;
  if (exported instanceof McpServer) return exported;
  if (typeof exported === 'function') {
    const server = await (exported as Factory)({ config, logger });
    if (server instanceof McpServer) return server;
  }
  throw new Error(
    `${path} must export (default) an McpServer or a function ({ config, logger }) => McpServer`,
  );
}

async function start(entry: string | undefined, pretty: boolean): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, pretty });
  const server = await loadServer(entry, config, logger);
  const { metrics } = productionStack(server, config);
  const host = await server.listen({
    port: config.port,
    host: config.host,
    metrics,
    allowedHosts: config.allowedHosts,
    allowedOrigins: config.allowedOrigins,
  });
  handleSignals(server, { drainTimeoutMs: config.drainTimeoutMs, shutdownDelayMs: config.shutdownDelayMs });
  logger.info(
    { url: host.url.href, auth: config.auth !== undefined, rateLimit: config.rateLimit },
    'rampart listening',
  );
}

async function stdio(entry: string | undefined): Promise<void> {
  // Nothing listens: HOST means nothing here (and must not trip the open-host guard).
  const config = loadConfig({ ...process.env, HOST: undefined }, { rateLimit: { rps: 0, burst: 1 } });
  const logger = createLogger({ level: config.logLevel });
  const server = await loadServer(entry, config, logger);
  productionStack(server, { ...config, rateLimit: undefined });
  const transport = new StdioServerTransport();
  await server.connect(transport);
  handleSignals(server, { drainTimeoutMs: config.drainTimeoutMs });
  const previous = transport.onclose;
  transport.onclose = () => {
    previous?.();
    void server.close(config.drainTimeoutMs).then(() => process.exit(0));
  };
}

/** `rampart dev`: `rampart start` in a child that node's watch mode restarts on changes. */
function dev(entry: string | undefined): void {
  const bin = fileURLToPath(new URL('../../bin/rampart.mjs', import.meta.url));
  const args = ['--watch', bin, 'start', ...(entry ? [entry] : [])];
  const child = spawn(process.execPath, args, {
    stdio: 'inherit',
    env: { ...process.env, RAMPART_PRETTY_LOGS: '1' },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  // A child ended by a signal has no exit code: that is a failure, not a clean exit.
  child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let help: boolean;
  let entry: string | undefined;
  try {
    // Settings come from the environment; the only option is --help, and at most one entry.
    const { values, positionals } = parseArgs({
      args: rest,
      options: { help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
    if (positionals.length > 1) throw new Error(`one entry at most (got ${positionals.join(', ')})`);
    help = values.help === true;
    entry = positionals[0];
  } catch (err) {
    process.stderr.write(
      `rampart: ${(err as Error).message} (settings are environment variables: see --help)\n`,
    );
    process.exitCode = 2;
    return;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP.main);
    return;
  }
  // Own keys only: `toString` or `constructor` is no command.
  if (!Object.hasOwn(HELP, command) || command === 'main') {
    process.stderr.write(`rampart: unknown command "${command}"\n\n${HELP.main}`);
    process.exitCode = 2;
    return;
  }
  if (help) {
    process.stdout.write(HELP[command]);
    return;
  }
  try {
    if (command === 'start') await start(entry, process.env.RAMPART_PRETTY_LOGS === '1');
    else if (command === 'stdio') await stdio(entry);
    else dev(entry);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`rampart: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`rampart: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
