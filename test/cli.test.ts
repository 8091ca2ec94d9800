/** The `rampart` command: help, configuration errors, stdio, start with the reference server, dev reload. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { envelope } from './fixtures/raw.js';

const root = new URL('..', import.meta.url).pathname;
const BIN = join(root, 'bin/rampart.mjs');
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });

/** Waits until `pattern` has appeared `times` times on the child's stderr. */
function waitFor(
  child: ReturnType<typeof spawn>,
  pattern: RegExp,
  times = 1,
  timeoutMs = 60_000,
): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}:\n${text}`)),
      timeoutMs,
    );
    child.stderr!.on('data', (d) => {
      text += d;
      if ((text.match(new RegExp(pattern, 'g')) ?? []).length >= times) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

describe('rampart', () => {
  it('prints help for itself and each command', () => {
    const main = run(['--help']);
    expect(main.status).toBe(0);
    expect(main.stdout).toContain('start [entry]');
    for (const command of ['start', 'dev', 'stdio']) {
      const help = run([command, '--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toContain(`Usage: rampart ${command}`);
    }
    const unknown = run(['launch']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command "launch"');
    // Settings are environment variables: a flag is refused rather than taken for the entry.
    const flag = run(['start', '--port', '4000']);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--port'");
    // Names every object has are no commands either (toString once started the dev server).
    for (const name of ['toString', 'constructor', 'hasOwnProperty']) {
      const inherited = run([name, '--help']);
      expect(inherited.status).toBe(2);
      expect(inherited.stderr).toContain(`unknown command "${name}"`);
    }
  });

  it('refuses an invalid configuration with every problem listed, exit code 2', () => {
    const bad = run(['start'], { PORT: 'x', RATE_LIMIT_BURST: '0' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('PORT must be an integer');
    expect(bad.stderr).toContain('RATE_LIMIT_BURST must be a number >= 1');
  });

  it('serves the reference server over stdio to the official client', async () => {
    const client = new Client({ name: 'cli-test', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, 'stdio'],
        // HOST is for listening servers: stdio ignores it, an open one included.
        env: { ...(process.env as Record<string, string>), LOG_LEVEL: 'warn', HOST: '0.0.0.0' },
        stderr: 'ignore',
      }),
    );
    try {
      const answer = await client.callTool({
        name: 'query_data',
        arguments: { sql: 'SELECT count(*)::int AS n FROM shop.products' },
      });
      expect((answer.structuredContent as { rows: unknown[] }).rows).toEqual([{ n: 6 }]);
    } finally {
      await client.close();
    }
  });

  it('starts the reference server with no entry, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'start'], {
      env: { ...process.env, PORT: '0', ALLOWED_ORIGINS: 'https://app.example' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const logs = await waitFor(child, /rampart listening/);
    const url = new URL(/"url":"([^"]+)"/.exec(logs)![1]);
    const ready = await fetch(new URL('/health/ready', url));
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: object }).checks).toHaveProperty('database');
    const metrics = await (await fetch(new URL('/metrics', url))).text();
    expect(metrics).toContain('mcp_requests_in_flight');
    // WebSocket is on by default, next to /mcp.
    const ws = new WebSocket(`ws://${url.host}/ws`, 'mcp');
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const answered = new Promise<any>((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)))));
    ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'query_data', arguments: { sql: 'SELECT 41 + 1 AS n' }, _meta: envelope() },
      }),
    );
    expect((await answered).result.structuredContent.rows).toEqual([{ n: 42 }]);
    ws.close();
    // ALLOWED_ORIGINS reaches the host: a browser origin it does not list is refused.
    const closeCode = (origin: string) =>
      new Promise<number>((resolve) => {
        const peer = new WebSocket(`ws://${url.host}/ws`, 'mcp', { origin });
        peer.once('close', (code) => resolve(code));
        peer.once('open', () => setTimeout(() => peer.close(1000), 100));
        peer.once('error', () => undefined);
      });
    expect(await closeCode('http://localhost:5173')).toBe(1008);
    expect(await closeCode('https://app.example')).toBe(1000);
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('dev restarts the server when a source file changes, with pretty logs', async () => {
    const dir = mkdtempSync(join(root, 'test/.tmp-'));
    const entry = join(dir, 'entry.ts');
    const source = (name: string) =>
      `import { createServer } from '${join(root, 'src/index.js')}';\n` +
      `export default ({ logger }: any) => createServer({ name: '${name}', version: '1', logger });\n`;
    writeFileSync(entry, source('first'));
    const child = spawn(process.execPath, [BIN, 'dev', entry], {
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const first = await waitFor(child, /rampart listening/);
      expect(first).toMatch(/\d\d:\d\d:\d\d\.\d{3} INFO {2}rampart listening url=http/);
      setTimeout(() => writeFileSync(entry, source('second')), 300);
      await waitFor(child, /rampart listening/, 1);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
