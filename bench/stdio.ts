/**
 * stdio benchmark: `tools/call` rates of Rampart and the official SDK (v1 and v2) servers, in one run.
 *
 *   npm run bench:stdio            # BENCH_SECONDS=3 by default, per phase and server
 *
 * Each server is a child process speaking newline-delimited JSON-RPC; this process is the client
 * (raw lines, no SDK in the loop). Phases: sequential (one call at a time; calls/s, p50, p99) and
 * pipelined (a window of WINDOW calls in flight; calls/s). With `taskset` available, servers run on
 * core 0 and this client on core 1. Every loop is bounded in time; children are killed at the end.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pinned, spawnServer } from './cores.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WARMUP_MS = 500;
const WINDOW = Number(process.env.BENCH_WINDOW ?? 256);
const root = fileURLToPath(new URL('..', import.meta.url));

const SERVERS = [
  { name: 'Rampart', script: process.env.BENCH_RAMPART_SCRIPT ?? 'bench/servers/rampart.ts' },
  { name: 'SDK v1 (1.32)', script: 'bench/servers/sdk-v1.ts' },
  { name: 'SDK v2 (2.4)', script: 'bench/servers/sdk-v2.ts' },
];

const pin = pinned;

/** A line-oriented JSON-RPC client on a child process. */
class Peer {
  private buffer = '';
  private readonly waiting = new Map<number, (at: number) => void>();
  private nextId = 1;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const now = performance.now();
      const text = this.buffer + chunk;
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        const line = text.slice(start, nl);
        start = nl + 1;
        // Only the id matters: no full parse, so the client stays off the critical path.
        const at = line.indexOf('"id":');
        const id = at === -1 ? Number.NaN : Number.parseInt(line.slice(at + 5, at + 25), 10);
        const resolve = this.waiting.get(id);
        if (resolve) {
          this.waiting.delete(id);
          resolve(now);
        }
      }
      this.buffer = text.slice(start);
    });
  }

  private readonly templates = new Map<string, string>();

  /** Serialises method and params once per method (each method has fixed params here); splices in the id. */
  private line(id: number, method: string, params: unknown): string {
    let tail = this.templates.get(method);
    if (tail === undefined) {
      tail = `,${JSON.stringify({ method, params }).slice(1)}\n`;
      this.templates.set(method, tail);
    }
    return `{"jsonrpc":"2.0","id":${id}${tail}`;
  }

  call(method: string, params: unknown): Promise<number> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin.write(this.line(id, method, params));
    });
  }

  /** Writes `count` calls in one write and resolves as each completes. */
  callMany(count: number, method: string, params: unknown, onDone: () => void): void {
    let out = '';
    for (let i = 0; i < count; i++) {
      const id = this.nextId++;
      this.waiting.set(id, onDone);
      out += this.line(id, method, params);
    }
    this.child.stdin.write(out);
  }

  notify(method: string): void {
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method })}\n`);
  }
}

const CALL = { name: 'echo', arguments: { text: 'hello' } };

async function sequential(peer: Peer, ms: number): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    const t1 = await peer.call('tools/call', CALL);
    latencies.push(t1 - t0);
  }
  return latencies;
}

async function pipelined(peer: Peer, ms: number): Promise<number> {
  let completed = 0;
  let inFlight = 0;
  const end = performance.now() + ms;
  return new Promise((resolve) => {
    const refill = () => {
      if (performance.now() >= end) {
        if (inFlight === 0) resolve(completed);
        return;
      }
      const n = WINDOW - inFlight;
      if (n >= WINDOW / 4) {
        inFlight += n;
        peer.callMany(n, 'tools/call', CALL, onDone);
      }
    };
    const onDone = () => {
      completed++;
      inFlight--;
      if (inFlight <= (WINDOW * 3) / 4) refill();
      else if (inFlight === 0) refill();
    };
    refill();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(server: (typeof SERVERS)[number]) {
  const args = ['--import', 'tsx', server.script];
  const child = spawnServer(args, {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn' },
  }) as ChildProcessWithoutNullStreams;
  child.stderr.resume();
  const peer = new Peer(child);
  try {
    await peer.call('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'bench', version: '1.0.0' },
    });
    peer.notify('notifications/initialized');
    await sequential(peer, WARMUP_MS);
    const lat = (await sequential(peer, SECONDS * 1000)).sort((a, b) => a - b);
    await pipelined(peer, WARMUP_MS);
    const piped = await pipelined(peer, SECONDS * 1000);
    return {
      name: server.name,
      seqRate: lat.length / SECONDS,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      pipeRate: piped / SECONDS,
    };
  } finally {
    child.kill('SIGKILL');
  }
}

const results = [];
for (const server of SERVERS) results.push(await run(server));
const sdkV1 = results.find((r) => r.name.startsWith('SDK v1'))!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `\nstdio tools/call, ${SECONDS} s per phase, window ${WINDOW}, node ${process.version}, pinned: ${pin ? 'server core 0, client core 1' : 'no'}\n`,
);
console.log('| server | sequential calls/s | p50 ms | p99 ms | pipelined calls/s | pipelined vs SDK v1 |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(
    `| ${r.name} | ${fmt(r.seqRate)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${fmt(r.pipeRate)} | ${(r.pipeRate / sdkV1.pipeRate).toFixed(1)}× |`,
  );
}
