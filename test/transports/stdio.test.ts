/** End to end over stdio: real child processes, official clients, hostile input. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { JsonRpcMessage } from '../../src/protocol/jsonrpc.js';
import { StdioServerTransport } from '../../src/transports/stdio.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = 'test/fixtures/stdio-feature-server.ts';
const TSX = ['--import', 'tsx'];

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function params(script: string, env: Record<string, string> = {}) {
  return {
    command: process.execPath,
    args: [...TSX, script],
    cwd: root,
    env: { ...process.env, ...env } as Record<string, string>,
    stderr: 'pipe' as const,
  };
}

describe('stdio with the official clients', () => {
  it('serves the SDK v1 client (legacy era): tools, resources, prompts, elicitation', async () => {
    const client = new ClientV1({ name: 'v1', version: '1' }, { capabilities: { elicitation: {} } });
    closers.push(() => client.close());
    client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept',
      content: { name: 'Lin' },
    }));
    await client.connect(new StdioV1(params(FIXTURE)));
    expect(client.getServerVersion()?.name).toBe('features');
    expect((await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).structuredContent).toEqual({
      sum: 3,
    });
    expect((await client.callTool({ name: 'ask_name', arguments: {} })).content).toEqual([
      { type: 'text', text: 'hello Lin' },
    ]);
    expect((await client.readResource({ uri: 'users://5/profile' })).contents[0]).toMatchObject({
      text: '{"id":"5"}',
    });
    expect((await client.getPrompt({ name: 'greet', arguments: { name: 'A' } })).messages).toHaveLength(1);
    const progress: number[] = [];
    await client.callTool({ name: 'progress', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2, 3]);
  });

  it('serves the SDK v2 client on the 2026-07-28 era, input_required included', async () => {
    const client = new ClientV2({ name: 'v2', version: '2' }, {
      capabilities: { elicitation: { form: {} } },
      versionNegotiation: { mode: 'auto' },
    } as never);
    closers.push(() => client.close());
    client.setRequestHandler('elicitation/create', async () => ({
      action: 'accept',
      content: { name: 'Kay' },
    }));
    await client.connect(new StdioV2(params(FIXTURE)));
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect((await client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).structuredContent).toEqual({
      sum: 4,
    });
    expect((await client.callTool({ name: 'ask_name', arguments: {} })).content).toEqual([
      { type: 'text', text: 'hello Kay' },
    ]);
    const sub = await client.listen({ toolsListChanged: true });
    expect(sub.honoredFilter).toEqual({ toolsListChanged: true });
    await sub.close();
  });

  it('serves the everything example (npm run example:stdio) to both clients', async () => {
    const v1 = new ClientV1({ name: 'v1', version: '1' });
    closers.push(() => v1.close());
    await v1.connect(new StdioV1(params('examples/everything-stdio.ts')));
    const tools = (await v1.listTools()).tools;
    expect(tools.length).toBeGreaterThan(5);
    expect((await v1.callTool({ name: 'test_simple_text', arguments: {} })).content).toMatchObject([
      { type: 'text' },
    ]);
    const v2 = new ClientV2({ name: 'v2', version: '2' }, { versionNegotiation: { mode: 'auto' } } as never);
    closers.push(() => v2.close());
    await v2.connect(new StdioV2(params('examples/everything-stdio.ts')));
    expect(v2.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect((await v2.listTools()).tools.map((t) => t.name)).toEqual(tools.map((t) => t.name));
  });
});

/** A raw line-oriented peer on a spawned server. */
function rawChild(env: Record<string, string> = {}) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [...TSX, FIXTURE], {
    cwd: root,
    env: { ...process.env, ...env },
  });
  closers.push(() => {
    if (child.exitCode === null) child.kill();
  });
  const lines: any[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line));
    for (const w of waiters.splice(0)) w();
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const next = async (count: number) => {
    while (lines.length < count) await new Promise<void>((r) => waiters.push(r));
    return lines.slice(0, count);
  };
  return { child, lines, next, stderr: () => stderr, write: (s: string) => child.stdin.write(s) };
}

describe('stdio hostile input', () => {
  it('answers garbage, wrong JSON-RPC, unknown methods, invalid params and oversized lines, and keeps serving', async () => {
    const peer = rawChild({ MAX_MESSAGE_BYTES: '65536' });
    peer.write(
      '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}\n',
    );
    peer.write('%%% not json %%%\n');
    peer.write('{"jsonrpc":"2.0","id":1,"method":42}\n');
    peer.write('{"jsonrpc":"2.0","id":2,"method":"no/such/method"}\n');
    peer.write(
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{"a":"x","b":1}}}\n',
    );
    peer.write(
      `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"add","arguments":{"a":"${'z'.repeat(100_000)}"}}}\n`,
    );
    peer.write('[{"jsonrpc":"2.0","id":5,"method":"ping"}]\n');
    peer.write(
      '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":1}}}\n',
    );
    const out = await peer.next(8);
    const byId = (id: unknown) => out.find((m) => m.id === id);
    expect(byId(0).result.protocolVersion).toBe('2025-11-25');
    const nullIds = out.filter((m) => m.id === null).map((m) => m.error.code);
    expect(nullIds.sort()).toEqual([-32700, -32600, -32600].sort());
    expect(byId(1).error.code).toBe(-32600);
    expect(byId(2).error.code).toBe(-32601);
    // On 2025-11-25 arguments that fail the schema are a tool execution error the model can read.
    expect(byId(3).result).toMatchObject({ isError: true, content: [{ type: 'text' }] });
    expect(byId(3).result.content[0].text).toMatch(/^Invalid arguments for tool add: a: /);
    expect(byId(4)).toBeUndefined();
    expect(byId(6).result.structuredContent).toEqual({ sum: 2 });
    expect(peer.child.exitCode).toBeNull();
  });

  it('keeps stdout for protocol messages only, and exits cleanly on EOF after answering', async () => {
    const peer = rawChild();
    peer.write(
      '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}\n',
    );
    peer.write('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fail_internal"}}\n');
    peer.write(
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"progress","arguments":{}}}\n',
    );
    peer.child.stdin.end();
    const code = await new Promise((r) => peer.child.on('exit', r));
    expect(code).toBe(0);
    expect(peer.lines.map((m) => m.id)).toEqual([0, 1, 2]);
    expect(peer.lines.every((m) => m.jsonrpc === '2.0')).toBe(true);
    expect(peer.lines[1].error.message).toBe('Internal error');
    // The server logged the real error on stderr, with the correlation id the client got.
    expect(peer.stderr()).toContain('hunter2');
    expect(peer.stderr()).toContain(peer.lines[1].error.data.correlationId);
  });
});

describe('StdioServerTransport', () => {
  it('keeps a character whole when its bytes arrive in two chunks', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const transport = new StdioServerTransport({ stdin, stdout });
    const received: JsonRpcMessage[] = [];
    transport.onmessage = (m) => received.push(m);
    await transport.start();
    const bytes = Buffer.from(
      `${JSON.stringify({ jsonrpc: '2.0', method: 'note', params: { text: 'héllo €' } })}\n`,
    );
    const cut = bytes.indexOf(Buffer.from('é')) + 1;
    stdin.write(bytes.subarray(0, cut));
    stdin.write(bytes.subarray(cut));
    await new Promise((r) => setImmediate(r));
    expect(received).toEqual([{ jsonrpc: '2.0', method: 'note', params: { text: 'héllo €' } }]);
    await transport.close();
  });
});
