/** `npm run example:http`: the everything example served over HTTP, as a user runs it. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ACCEPT_BOTH } from '../fixtures/http.js';
import { envelope } from '../fixtures/raw.js';

const root = new URL('../..', import.meta.url).pathname;
let child: ReturnType<typeof spawn>;
let url: URL;
let logs = '';

beforeAll(async () => {
  child = spawn('npm', ['run', '--silent', 'example:http'], {
    cwd: root,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group: npm, tsx and node all get the signal.
    detached: true,
  });
  child.stderr!.on('data', (d) => {
    logs += d;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const m = /"url":"([^"]+)"[^\n]*everything example listening/.exec(logs);
    if (m) {
      url = new URL(m[1]);
      break;
    }
    if (Date.now() > deadline) throw new Error(`example did not start:\n${logs}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}, 70_000);

afterAll(async () => {
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
});

describe('npm run example:http', () => {
  it('echoes the X-Request-Id a client sent, and logs it as the correlation id', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: ACCEPT_BOTH,
        'x-request-id': 'req-from-client-42',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/list',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: envelope() } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-from-client-42');
    await res.text();
    const deadline = Date.now() + 5_000;
    while (!logs.includes('"correlationId":"req-from-client-42"') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(logs).toContain('"correlationId":"req-from-client-42"');
  });

  it('serves /metrics, /health/ready and WebSocket on the same host', async () => {
    expect(await (await fetch(new URL('/metrics', url))).text()).toContain('mcp_requests_total');
    expect((await fetch(new URL('/health/ready', url))).status).toBe(200);
    const ws = new WebSocket(`ws://${url.host}/ws`, 'mcp');
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const answered = new Promise<any>((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)))));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: envelope() } }));
    expect((await answered).result.tools.length).toBeGreaterThan(5);
    ws.close();
  });
});
