/** What the HTTP benchmarks share: the request envelope, the bench JWT, bundling and start-up. */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { build } from 'esbuild';
import { SignJWT } from 'jose';

/** The `_meta` envelope of a 2026-07-28 request. */
export const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
export const ACCEPT = 'application/json, text/event-stream';

/**
 * The production stack's JWT: HS256 on a per-run secret, signed here and verified by the server
 * (which gets the secret as BENCH_JWT_SECRET).
 */
export async function benchJwt(): Promise<{ secret: string; token: string }> {
  const secret = randomBytes(32).toString('hex');
  const token = await new SignJWT({ scope: 'tools' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setIssuer('https://bench.test')
    .setAudience('bench')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
  return { secret, token };
}

/**
 * Servers run as plain JavaScript bundles (dependencies left external), so neither start-up
 * transforms nor a loader's memory count against anyone. `outfile` defaults to the script's name
 * under bench/.build.
 */
export async function bundle(script: string, outfile?: string): Promise<string> {
  const out = outfile ?? `bench/.build/${script.split('/').pop()!.replace(/\.ts$/, '.mjs')}`;
  await build({
    entryPoints: [script],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
  });
  return out;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The port a bench server reports (`ready <port>` on stdout), or a rejection after `timeoutMs`. */
export function readyPort(child: ChildProcess, name: string, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      const m = /ready (\d+)/.exec(d.toString());
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
}
