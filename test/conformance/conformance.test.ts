/**
 * The official MCP conformance suite, both releases, against the everything example over HTTP.
 * The suite needs Node >= 22, so it runs under the `node@22` package from the registry (via npx);
 * Rampart itself runs in this Node. No expected-failures baseline: every scored scenario must pass.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEverythingServer } from '../../examples/everything.js';
import type { HttpHost } from '../../src/index.js';

const require = createRequire(import.meta.url);
const suiteEntry = (pkg: string) => join(dirname(require.resolve(`${pkg}/package.json`)), 'dist/index.js');
const LATEST = suiteEntry('@modelcontextprotocol/conformance');
const NEXT = suiteEntry('conformance-next');

let host: HttpHost;
beforeAll(async () => {
  const server = createEverythingServer();
  server.logger.level = 'warn';
  host = await server.listen({ port: 0 });
});
afterAll(() => host.close(100));

function runSuite(entry: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'npx',
      ['-y', '-p', 'node@22', 'node', entry, 'server', '--url', host.url.href, ...args],
      { timeout: 240_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        const out = `${stdout}\n${stderr}`;
        if (err && !out.includes('=== SUMMARY ==='))
          reject(new Error(`conformance suite did not run:\n${out}`));
        else resolve(out);
      },
    );
  });
}

/** Scenario results from the summary; `unscored` are the ones the suite says do not count. */
function summarize(out: string) {
  const summary = out.slice(out.indexOf('=== SUMMARY ==='));
  const failed = [...summary.matchAll(/^✗ ([\w-]+):/gm)].map((m) => m[1]);
  const passed = [...summary.matchAll(/^✓ ([\w-]+):/gm)].map((m) => m[1]);
  const notScored = summary.indexOf('Not scored');
  const unscored =
    notScored === -1 ? [] : [...summary.slice(notScored).matchAll(/^\s+[✗✓] ([\w-]+)/gm)].map((m) => m[1]);
  return { failed: failed.filter((f) => !unscored.includes(f)), passed, unscored };
}

describe('official conformance suite', () => {
  it('passes every server scenario of @modelcontextprotocol/conformance 0.1.16 (--suite all)', async () => {
    const out = await runSuite(LATEST, ['--suite', 'all']);
    const { failed, passed } = summarize(out);
    expect(failed, out).toEqual([]);
    expect(passed.length).toBeGreaterThanOrEqual(32);
  });

  it('passes every scored scenario of 0.2.0-alpha.12 for --requirements 2026-07-28', async () => {
    const out = await runSuite(NEXT, ['--requirements', '2026-07-28']);
    const { failed, passed, unscored } = summarize(out);
    expect(failed, out).toEqual([]);
    expect(passed).toEqual(
      expect.arrayContaining(['server-stateless', 'caching', 'sep-2164-resource-not-found']),
    );
    expect(passed.filter((p) => p.startsWith('input-required-result-'))).toHaveLength(14);
    // Only extensions and pending scenarios may be left out of the score.
    expect(unscored.every((u) => out.includes(`${u} (extension)`) || out.includes(`${u} (pending)`))).toBe(
      true,
    );
  });

  it('passes the pending http-custom-header-server-validation scenario (x-mcp-header parameters)', async () => {
    const out = await runSuite(NEXT, ['--scenario', 'http-custom-header-server-validation']);
    expect(out, out).toMatch(/Passed: (\d+)\/\1, 0 failed/);
  });

  it.each(['2025-11-25', '2025-06-18', '2025-03-26'])(
    'passes every 0.2.0-alpha.12 scenario for %s',
    async (version) => {
      const out = await runSuite(NEXT, ['--spec-version', version]);
      const { failed, passed } = summarize(out);
      expect(failed, out).toEqual([]);
      expect(passed.length).toBeGreaterThan(0);
    },
  );
});
