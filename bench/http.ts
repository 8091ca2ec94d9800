/**
 * HTTP benchmark, one invocation, side by side: Rampart stateless (2026-07-28) and stateful (legacy
 * sessions), the official SDK v1 stateless and stateful, SDK v2 `createMcpHandler`, and a bare
 * node:http JSON-RPC echo as the ceiling.
 *
 *   npm run bench:http            # BENCH_SECONDS=4 per phase, BENCH_ROUNDS=5 c=32 rounds by default
 *   BENCH_ONLY=production npm run bench:http   # only matching rows (+ ceiling and SDK v2)
 *
 * Phases per server: tools/call at concurrency 1 and 32, tools/list (100 tools) at 32. Loopback only,
 * autocannon, every phase bounded in time. With `taskset`, the servers run on core 0 and the load
 * generator (this process) on core 1. A shared machine's speed drifts by tens of percent within a
 * minute, so the ceiling stays up for the whole run and each row, started alone next to it, runs its
 * c=32 tools/call phase BENCH_ROUNDS times (default 5) alternating with the ceiling's: the row
 * reports its median, and its ratio to the ceiling is the median of the ratios of adjacent phases.
 * In each of those the ceiling is sent the row's own request, byte for byte (the raw echo ignores
 * the MCP headers, the session id, the bearer token and `_meta`, but still receives and parses
 * them), so that a ratio measures the server, not the size of its request.
 * RSS is read from /proc after the rounds and again after a last tools/call phase.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { pinned, spawnServer } from './cores.js';
import { ACCEPT, benchJwt, bundle, MODERN_META, median, readyPort } from './http-common.js';
import { wsLoad } from './websocket.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const root = fileURLToPath(new URL('..', import.meta.url));

type Era = 'modern' | 'legacy-session' | 'legacy-stateless' | 'raw';
interface Target {
  name: string;
  script: string;
  era: Era;
  env?: Record<string, string>;
  /** Rows without a tools/list phase (the raw echo has no tools). */
  noList?: boolean;
  /** Send the bench JWT as a bearer token. */
  auth?: boolean;
}

/** The production row's JWT. */
const { secret: JWT_SECRET, token: BENCH_TOKEN } = await benchJwt();

const TARGETS: Target[] = [
  { name: 'raw node:http echo (ceiling)', script: 'bench/servers/http-raw.ts', era: 'raw', noList: true },
  { name: 'Rampart stateless (2026-07-28)', script: 'bench/servers/http-rampart.ts', era: 'modern' },
  {
    name: 'Rampart stateless + logging, metrics, tracing',
    script: 'bench/servers/http-rampart.ts',
    era: 'modern',
    env: { OBSERVE: '1' },
  },
  {
    name: 'Rampart stateless, full production stack',
    script: 'bench/servers/http-rampart.ts',
    era: 'modern',
    env: { PRODUCTION: '1', BENCH_JWT_SECRET: JWT_SECRET },
    auth: true,
  },
  {
    name: 'Rampart stateful (legacy session)',
    script: 'bench/servers/http-rampart.ts',
    era: 'legacy-session',
  },
  {
    name: 'SDK v1 stateless',
    script: 'bench/servers/http-sdk-v1.ts',
    era: 'legacy-stateless',
    env: { MODE: 'stateless' },
  },
  { name: 'SDK v1 stateful', script: 'bench/servers/http-sdk-v1.ts', era: 'legacy-session' },
  { name: 'SDK v2 createMcpHandler (2026-07-28)', script: 'bench/servers/http-sdk-v2.ts', era: 'modern' },
];

const pin = pinned;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function startServer(target: Target): Promise<{ child: ChildProcess; port: number }> {
  const args = [await bundle(target.script)];
  const env = { ...process.env, ...target.env, PORT: '0', LOG_LEVEL: 'warn' };
  const child = spawnServer(args, { cwd: root, env });
  child.stderr?.resume();
  const port = await readyPort(child, target.name, 20_000);
  return { child, port };
}

/** Headers and body for one request of `method` in the target's era (opening a session if needed). */
async function requestFor(target: Target, url: string, method: string, params: Record<string, unknown>) {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: ACCEPT };
  if (target.auth) headers.authorization = `Bearer ${BENCH_TOKEN}`;
  // The ceiling's own request is the 2026-07-28 one, byte for byte the bare row's.
  if (target.era === 'modern' || target.era === 'raw') {
    headers['mcp-protocol-version'] = '2026-07-28';
    headers['mcp-method'] = method;
    if (typeof params.name === 'string') headers['mcp-name'] = params.name;
    return {
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: MODERN_META } }),
    };
  }
  if (target.era === 'legacy-session') {
    const init = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'bench', version: '1' },
        },
      }),
    });
    await init.text();
    const session = init.headers.get('mcp-session-id')!;
    headers['mcp-session-id'] = session;
    headers['mcp-protocol-version'] = '2025-11-25';
    await (
      await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      })
    ).text();
  }
  if (target.era === 'legacy-stateless') headers['mcp-protocol-version'] = '2025-11-25';
  return { headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) };
}

interface Phase {
  rps: number;
  /**
   * Mean latency in ms by Little's law (connections / throughput): exact for a closed loop, where
   * autocannon's own latency figures have a 1 ms resolution that is too coarse here.
   */
  mean: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(
  url: string,
  connections: number,
  req: { headers: Record<string, string>; body: string },
) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    pipelining: 1,
    duration: SECONDS,
    headers: req.headers,
    body: req.body,
  });
  return {
    rps: result.requests.average,
    mean: (connections / result.requests.average) * 1000,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
  } satisfies Phase;
}

/** tools/call over WebSocket against the same Rampart server build, in the same run. */
async function measureWs() {
  const target = TARGETS.find((t) => t.name === 'Rampart stateless (2026-07-28)')!;
  const { child, port } = await startServer(target);
  const url = `ws://127.0.0.1:${port}/ws`;
  try {
    await wsLoad(url, 8, 1, 1); // warm-up
    const c1 = await wsLoad(url, 1, 1, SECONDS);
    const pipelined = await wsLoad(url, 1, 32, SECONDS);
    const c32 = await wsLoad(url, 32, 1, SECONDS);
    return { c1, pipelined, c32, rss: rssMb(child.pid!) };
  } finally {
    child.kill('SIGKILL');
  }
}

/** A started server, its requests, and what was measured of it. */
interface Run {
  target: Target;
  child: ChildProcess;
  url: string;
  call: { headers: Record<string, string>; body: string };
  c1?: Phase;
  c32: Phase[];
  /** The ceiling's c=32 rate in the phase just before each of this row's. */
  beside: number[];
  list?: Phase;
  again?: Phase;
  rssAfterCall?: number;
  rss?: number;
}

const sameRequest = (a: Run['call'], b: Run['call']) =>
  a.body === b.body && JSON.stringify(a.headers) === JSON.stringify(b.headers);

async function prepare(target: Target): Promise<Run> {
  const { child, port } = await startServer(target);
  const url = `http://127.0.0.1:${port}/mcp`;
  const call = await requestFor(target, url, 'tools/call', { name: 'echo', arguments: { text: 'hello' } });
  await load(url, 8, call); // warm-up
  return { target, child, url, call, c32: [], beside: [] };
}

// BENCH_ONLY=<text> measures only the rows whose name contains it (plus the ceiling and SDK v2).
const only = process.env.BENCH_ONLY;
const selected = TARGETS.filter(
  (t, i) => !only || i === 0 || t.name.startsWith('SDK v2') || t.name.includes(only),
);
const runs: Run[] = [];
const ceiling = await prepare(selected[0]);
try {
  ceiling.c1 = await load(ceiling.url, 1, ceiling.call);
  runs.push(ceiling);
  for (const target of selected.slice(1)) {
    const run = await prepare(target);
    try {
      run.c1 = await load(run.url, 1, run.call);
      for (let round = 0; round < ROUNDS; round++) {
        const base = await load(ceiling.url, 32, run.call);
        // The ceiling's own row reports the phases sent its own request (the bare row's).
        if (sameRequest(run.call, ceiling.call)) ceiling.c32.push(base);
        run.beside.push(base.rps);
        run.c32.push(await load(run.url, 32, run.call));
      }
      run.rssAfterCall = rssMb(run.child.pid!);
      if (!run.target.noList)
        run.list = await load(run.url, 32, await requestFor(run.target, run.url, 'tools/list', {}));
      // Another round of the same load: RSS should not keep climbing.
      run.again = await load(run.url, 32, run.call);
      run.rss = rssMb(run.child.pid!);
    } finally {
      run.child.kill('SIGKILL');
    }
    runs.push(run);
    process.stderr.write(`measured ${target.name}\n`);
  }
  ceiling.again = await load(ceiling.url, 32, ceiling.call);
  if (ceiling.c32.length === 0) ceiling.c32.push(ceiling.again);
  ceiling.rssAfterCall = ceiling.rss = rssMb(ceiling.child.pid!);
} finally {
  ceiling.child.kill('SIGKILL');
}
ceiling.beside = ceiling.c32.map((p) => p.rps);
const v2 = runs.find((r) => r.target.name.startsWith('SDK v2'))!;
const rate = (run: Run) => median(run.c32.map((p) => p.rps));
/** The median of this row's c=32 rate over the ceiling's in the phase beside it. */
const vsCeiling = (run: Run) => median(run.c32.map((p, i) => p.rps / run.beside[i]));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `\nHTTP, ${SECONDS} s per phase, c=32 tools/call over ${ROUNDS} rounds (median), node ${process.version}, pinned: ${pin ? 'server core 0, load core 1' : 'no'}\n`,
);
console.log(
  '| server | call c=1 req/s | mean ms | p99 ms | call c=32 req/s | mean ms | p99 ms | list(100) c=32 req/s | RSS MB (last round) | vs ceiling | vs SDK v2 | errors |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of runs) {
  const c32 = rate(r);
  const mean = (32 / c32) * 1000;
  const p99 = median(r.c32.map((p) => p.p99));
  const errors =
    r.c1!.errors + r.c32.reduce((n, p) => n + p.errors, 0) + (r.list?.errors ?? 0) + r.again!.errors;
  console.log(
    `| ${r.target.name} | ${fmt(r.c1!.rps)} | ${r.c1!.mean.toFixed(3)} | ${r.c1!.p99} | ${fmt(c32)} | ${mean.toFixed(3)} | ${p99} | ${r.list ? fmt(r.list.rps) : '—'} | ${r.rssAfterCall!.toFixed(0)} (${r.rss!.toFixed(0)}) | ${Math.round(vsCeiling(r) * 100)} % | ${(c32 / rate(v2)).toFixed(1)}× | ${errors} |`,
  );
}
console.log("\nc=32 rounds, req/s (the ceiling beside each, sent that row's request, in brackets):");
for (const r of runs.slice(1)) {
  const rounds = r.c32.map((p, i) => `${fmt(p.rps)} (${fmt(r.beside[i])})`).join(' / ');
  console.log(`- ${r.target.name}: ${rounds}`);
}

const ws = await measureWs();
process.stderr.write('measured Rampart over WebSocket\n');
console.log('\nWebSocket (same run, same Rampart build, `/ws`, 2026-07-28 requests):\n');
console.log('| phase | req/s | mean ms | vs HTTP c=32 (Rampart stateless) | errors |');
console.log('| --- | ---: | ---: | ---: | ---: |');
const stateless = runs.find((r) => r.target.name === 'Rampart stateless (2026-07-28)');
const httpRampart = stateless ? median(stateless.c32.map((p) => p.rps)) : undefined;
for (const [name, p] of [
  ['tools/call c=1 (one connection, sequential)', ws.c1],
  ['tools/call c=32 pipelined over one connection', ws.pipelined],
  ['tools/call c=32 over 32 connections', ws.c32],
] as const) {
  const ratio = httpRampart ? `${(p.rps / httpRampart).toFixed(1)}×` : '—';
  console.log(`| ${name} | ${fmt(p.rps)} | ${p.mean.toFixed(3)} | ${ratio} | ${p.errors} |`);
}
console.log(`\nRSS after the WebSocket phases: ${ws.rss.toFixed(0)} MB`);
