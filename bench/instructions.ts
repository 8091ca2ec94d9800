/**
 * Instructions a request, counted by valgrind's callgrind: what throughput on a busy machine cannot
 * tell apart (a change of a few percent) mostly repeats here. The HTTP bench server runs under
 * callgrind with instrumentation off while autocannon sends it WARMUP requests (the JIT settles),
 * then on for REQUESTS more on the same connections; the count over the window, divided by the
 * answers that fell inside it (REQUESTS, give or take the few dozen around each switch), is a run's
 * figure. Each variant runs RUNS times in a fresh process, and the median is printed, with
 * the range.
 *
 *   npm run bench:instructions                        # the raw echo, bare, full observability, production stack
 *   INSTR_ONLY=obs npm run bench:instructions         # variants whose name contains "obs"
 *   INSTR_WARMUP=20000 INSTR_REQUESTS=10000 INSTR_RUNS=3   # the defaults
 *
 * Needs valgrind (Debian: `apt-get install valgrind`). A run takes about a minute. The JIT's
 * functions have no names in callgrind's output; `--perf-basic-prof-only-functions` writes
 * /tmp/perf-<pid>.map, which names them (docs/performance.md, "Counting instructions").
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ACCEPT, benchJwt, bundle, MODERN_META, median, readyPort } from './http-common.js';

const WARMUP = Number(process.env.INSTR_WARMUP ?? 20_000);
const REQUESTS = Number(process.env.INSTR_REQUESTS ?? 10_000);
const RUNS = Math.max(1, Number(process.env.INSTR_RUNS ?? 3));
const only = process.env.INSTR_ONLY;

const { secret: SECRET, token: TOKEN } = await benchJwt();

const VARIANTS: { name: string; env: Record<string, string>; auth?: boolean; raw?: boolean }[] = [
  // The ceiling of bench:http, sent the same request.
  { name: 'raw node:http echo (ceiling)', env: {}, raw: true },
  { name: 'bare', env: {} },
  { name: 'obs (logging, metrics, tracing)', env: { OBSERVE: '1' } },
  { name: 'production stack', env: { PRODUCTION: '1', BENCH_JWT_SECRET: SECRET }, auth: true },
];

const BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: {
    name: 'echo',
    arguments: { text: 'hello' },
    _meta: MODERN_META,
  },
});

function headers(auth: boolean): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': 'application/json',
    accept: ACCEPT,
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': 'echo',
  };
  if (auth) h.authorization = `Bearer ${TOKEN}`;
  return h;
}

/** Runs callgrind_control without waiting for it: the load goes on meanwhile. */
function control(args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('callgrind_control', args, (err) => (err ? reject(err) : resolve())),
  );
}

/**
 * Sends WARMUP requests, then turns instrumentation on, lets REQUESTS more be answered, and turns
 * it off, all over the same 16 connections and without pausing the load; returns how many answers
 * fell inside the window. Pausing the load to switch would leave the server idle in `epoll_wait`,
 * where valgrind reads no commands until a timer wakes it: the keep-alive timeout, which closes the
 * connections, and the new ones autocannon opens make V8 deoptimise and recompile much of Node's
 * HTTP path (new hidden classes) inside the window — up to a fifth of a request's count, and most
 * of the variation between runs. A switch takes effect somewhere between the command being sent and
 * its exit (a few dozen answers apart), so each edge is taken halfway between.
 */
async function send(port: number, auth: boolean, pid: string): Promise<number> {
  let answered = 0;
  const edges: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}/mcp`,
        method: 'POST',
        headers: headers(auth),
        body: BODY,
        connections: 16,
        // Ends sooner, when the window closes; this only bounds it.
        amount: WARMUP + 3 * REQUESTS,
        timeout: 60,
      },
      (err, done) => (err ? reject(err) : resolve(done)),
    );
    const edge = (args: string[], then?: () => void) => {
      edges.push(answered);
      control(args).then(() => {
        edges.push(answered);
        then?.();
      }, reject);
    };
    instance.on('response', () => {
      answered++;
      if (answered === WARMUP) edge(['-i', 'on', pid]);
      else if (edges.length === 2 && answered === edges[1] + REQUESTS) {
        edge(['-i', 'off', pid], () => instance.stop());
      }
    });
  });
  if (edges.length !== 4) throw new Error(`the load ended before the window closed (${answered} answers)`);
  const [onSent, onDone, offSent, offDone] = edges;
  if (result.non2xx > 0) throw new Error(`${result.non2xx} of ${answered} answers were not 2xx`);
  return (offSent + offDone - onSent - onDone) / 2;
}

/**
 * Of a dump's instructions, those spent by TurboFan compiling (V8's `compiler::` functions): a
 * function first found hot inside the window (a timer's, say, which fires far more often per request
 * under valgrind) is compiled there, once, and its cost is no request's.
 */
function compiling(dump: string): number {
  const annotated = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', dump], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  let sum = 0;
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+)\s.*v8::internal::compiler::/.exec(line);
    if (m) sum += Number(m[1].replaceAll(',', ''));
  }
  return sum;
}

interface Count {
  /** Instructions a request. */
  total: number;
  /** Of which TurboFan compiling. */
  compiling: number;
}

async function measure(script: string, variant: (typeof VARIANTS)[number]): Promise<Count> {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-instr-'));
  const child: ChildProcess = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(dir, 'out.%p')}`,
      process.execPath,
      '--perf-basic-prof-only-functions',
      // The JIT compiles on the main thread, when a function is found hot: under valgrind, which
      // runs one thread at a time, a background compile could otherwise land long after, inside
      // the window.
      '--no-concurrent-recompilation',
      script,
    ],
    {
      env: { ...process.env, ...variant.env, PORT: '0', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr?.resume();
  try {
    const port = await readyPort(child, `${variant.name} under valgrind`, 120_000);
    const pid = String(child.pid);
    const measured = await send(port, variant.auth === true, pid);
    await control(['-d', pid]);
    // The dump holds the measured window (the largest file: the final one at exit is near empty).
    const files = readdirSync(dir).map((f) => join(dir, f));
    const dump = files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
    const totals = /^totals:\s+(\d+)/m.exec(readFileSync(dump, 'utf8'));
    if (!totals) throw new Error(`${variant.name}: no totals in ${dump}`);
    return { total: Number(totals[1]) / measured, compiling: compiling(dump) / measured };
  } finally {
    child.kill();
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('valgrind is not installed (Debian: apt-get install valgrind)');
  process.exit(1);
}
// Their own bundles, so that a bench:http running meanwhile does not rebuild them underneath.
const script = await bundle('bench/servers/http-rampart.ts', 'bench/.build/instructions-rampart.mjs');
const rawScript = await bundle('bench/servers/http-raw.ts', 'bench/.build/instructions-raw.mjs');
const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
console.log(
  `| variant | instructions a tools/call, median of ${RUNS} (range) | of which compiling (median) | ceiling's over the variant's |`,
);
console.log('| --- | ---: | ---: | ---: |');
let ceiling: number | undefined;
for (const variant of VARIANTS) {
  if (only && !variant.name.includes(only)) continue;
  const counts: Count[] = [];
  for (let i = 0; i < RUNS; i++) counts.push(await measure(variant.raw ? rawScript : script, variant));
  const runs = counts.map((c) => c.total).sort((a, b) => a - b);
  const middle = median(runs);
  const compiled = median(counts.map((c) => c.compiling));
  if (variant.raw) ceiling = middle;
  // What bench:http's "vs ceiling" would read if time went as instructions do.
  const ratio = ceiling === undefined ? '—' : `${Math.round((ceiling / middle) * 100)} %`;
  console.log(
    `| ${variant.name} | ${k(middle)} (${k(runs[0])}–${k(runs[runs.length - 1])}) | ${k(compiled)} | ${ratio} |`,
  );
}
