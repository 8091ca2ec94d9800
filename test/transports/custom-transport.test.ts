/** The worked custom transport of docs/transports.md (a Unix domain socket), run end to end. */
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { describe, expect, it } from 'vitest';
import { listenUnix, UnixSocketClientTransport } from '../../examples/custom-transport/unix-socket.js';
import { createLogger, createServer, rateLimit } from '../../src/index.js';

describe('a custom transport over a Unix domain socket', () => {
  it('serves the official client, with session and principal carried on every message', async () => {
    const server = createServer({ name: 'uds', version: '1', logger: createLogger({ level: 'silent' }) });
    server.use(rateLimit({ rate: 0.001, burst: 3, key: 'session' }));
    server.tool('whoami', (_args, ctx) => `${ctx.auth?.subject} on ${ctx.extra?.sessionId}`);
    const path = join(mkdtempSync(join(tmpdir(), 'rampart-uds-')), 'mcp.sock');
    await listenUnix(server, path);
    const client = new Client({ name: 'uds-client', version: '1' });
    await client.connect(new UnixSocketClientTransport(path));
    const answer = await client.callTool({ name: 'whoami', arguments: {} });
    expect((answer.content as { text: string }[])[0].text).toBe('unix:uds1 on uds1');
    // The middleware stack applies as on any transport: the session's bucket runs dry.
    await client.callTool({ name: 'whoami', arguments: {} });
    await expect(client.callTool({ name: 'whoami', arguments: {} })).rejects.toThrow(/Rate limit/);
    await client.close();

    // Bad input gets a spec-shaped error, and the connection stays usable.
    const raw = connect(path);
    const lines: any[] = [];
    let buffer = '';
    raw.on('data', (d) => {
      buffer += d;
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      for (const p of parts) lines.push(JSON.parse(p));
    });
    raw.write('not json\n');
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(lines[0]).toMatchObject({ id: null, error: { code: -32700 } });
    raw.destroy();
    await server.close(100);
  });
});
