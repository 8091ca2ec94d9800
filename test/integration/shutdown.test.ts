/**
 * Graceful shutdown of a real server process (`rampart start`) under concurrent load, both eras:
 * SIGTERM → every request the server accepted gets a complete response, new requests are refused
 * cleanly, the lifespan's disposal runs, and the process exits 0 within the drain deadline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCEPT_BOTH, openLegacySession } from '../fixtures/http.js';
import { envelope } from '../fixtures/raw.js';

const BIN = new URL('../../bin/rampart.mjs', import.meta.url).pathname;
const ENTRY = new URL('../fixtures/shutdown-entry.ts', import.meta.url).pathname;

async function startServer(env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, 'start', ENTRY], {
    env: {
      ...process.env,
      PORT: '0',
      LOG_LEVEL: 'info',
      RATE_LIMIT_RPS: '0',
      DRAIN_TIMEOUT_MS: '5000',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const url = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr}`)), 30_000);
    const check = () => {
      const m = /"url":"([^"]+)"[^\n]*"msg":"rampart listening"/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        child.stderr!.off('data', check);
        resolve(new URL(m[1]));
      }
    };
    child.stderr!.on('data', check);
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: performance.now() })),
  );
  return { child, url, exited, logs: () => stderr };
}

type Outcome =
  | { id: string; kind: 'answered'; status: number; body: any }
  | { id: string; kind: 'refused'; error: string };

async function send(url: URL, id: string, body: unknown, headers: Record<string, string>): Promise<Outcome> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH, 'x-request-id': id, ...headers },
      body: JSON.stringify(body),
    });
    return { id, kind: 'answered', status: res.status, body: await res.json() };
  } catch (err) {
    return { id, kind: 'refused', error: String((err as Error).cause ?? err) };
  }
}

async function drainUnderLoad(
  child: ChildProcess,
  exited: Promise<{ code: number | null; at: number }>,
  fire: (n: number) => Promise<Outcome>,
) {
  const outcomes: Outcome[] = [];
  let n = 0;
  let done = false;
  void exited.then(() => {
    done = true;
  });
  let signalledAt = 0;
  const workers = Array.from({ length: 16 }, async () => {
    while (!done) outcomes.push(await fire(++n));
  });
  await new Promise((r) => setTimeout(r, 600));
  signalledAt = performance.now();
  child.kill('SIGTERM');
  const exit = await exited;
  await Promise.all(workers);
  return { outcomes, exit, signalledAt };
}

/** The correlation ids the server logged a finished request for. */
function finishedIds(logs: string): Set<string> {
  const ids = new Set<string>();
  for (const line of logs.split('\n')) {
    if (!line.includes('"request finished"') && !line.includes('"request failed"')) continue;
    const m = /"correlationId":"([^"]+)"/.exec(line);
    if (m && line.includes('"method":"tools/call"')) ids.add(m[1]);
  }
  return ids;
}

function check(
  outcomes: Outcome[],
  logs: string,
  exit: { code: number | null; at: number },
  signalledAt: number,
  disposal: string,
) {
  expect(exit.code).toBe(0);
  expect(exit.at - signalledAt).toBeLessThan(5_000 + 3_000);
  expect(readFileSync(disposal, 'utf8')).toBe('disposed');
  const byId = new Map(outcomes.map((o) => [o.id, o]));
  const accepted = finishedIds(logs);
  expect(accepted.size).toBeGreaterThan(16);
  // Every request the server accepted was answered completely, with a result.
  for (const id of accepted) {
    const o = byId.get(id);
    expect(o?.kind, `request ${id}`).toBe('answered');
    if (o?.kind === 'answered') expect(o.body.result?.content?.[0]?.text, `request ${id}`).toBe('done');
  }
  // What came after the signal was refused cleanly: connection refused, or 503 shutting_down.
  const late = outcomes.filter((o) => !accepted.has(o.id));
  expect(late.length).toBeGreaterThan(0);
  for (const o of late) {
    if (o.kind === 'answered') {
      expect(o.status).toBe(503);
      expect(o.body.error.data.type).toBe('shutting_down');
    } else {
      expect(o.error).toMatch(/ECONNREFUSED|ECONNRESET|other side closed|socket/i);
    }
  }
}

describe('SIGTERM under load', () => {
  it('drains 2026-07-28 requests', async () => {
    const disposal = join(mkdtempSync(join(tmpdir(), 'rampart-')), 'disposed');
    const { child, url, exited, logs } = await startServer({ DISPOSAL_FILE: disposal });
    const headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'slow' };
    const { outcomes, exit, signalledAt } = await drainUnderLoad(child, exited, (n) =>
      send(
        url,
        `m-${n}`,
        {
          jsonrpc: '2.0',
          id: n,
          method: 'tools/call',
          params: { name: 'slow', arguments: { ms: 300 }, _meta: envelope() },
        },
        headers,
      ),
    );
    check(outcomes, logs(), exit, signalledAt, disposal);
  });

  it('exits at once with code 1 on a second signal', async () => {
    const disposal = join(mkdtempSync(join(tmpdir(), 'rampart-')), 'disposed');
    const { child, url, exited } = await startServer({ DISPOSAL_FILE: disposal, DRAIN_TIMEOUT_MS: '60000' });
    const headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'slow' };
    const pending = send(
      url,
      'long',
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'slow', arguments: { ms: 30_000 }, _meta: envelope() },
      },
      headers,
    );
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const before = performance.now();
    child.kill('SIGTERM');
    const exit = await exited;
    expect(exit.code).toBe(1);
    expect(exit.at - before).toBeLessThan(5_000);
    expect((await pending).kind).toBe('refused');
  });

  it('drains requests in a legacy session', async () => {
    const disposal = join(mkdtempSync(join(tmpdir(), 'rampart-')), 'disposed');
    const { child, url, exited, logs } = await startServer({ DISPOSAL_FILE: disposal });
    const { headers } = await openLegacySession(url, {}, 'load');
    await send(url, 'initialized', { jsonrpc: '2.0', method: 'notifications/initialized' }, headers).catch(
      () => undefined,
    );
    const { outcomes, exit, signalledAt } = await drainUnderLoad(child, exited, (n) =>
      send(
        url,
        `l-${n}`,
        { jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'slow', arguments: { ms: 300 } } },
        headers,
      ),
    );
    check(outcomes, logs(), exit, signalledAt, disposal);
    expect(existsSync(disposal)).toBe(true);
  });
});
