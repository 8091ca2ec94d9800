/** StdioServerTransport framing on in-process streams. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StdioServerTransport } from '../../src/index.js';

function setup(maxMessageBytes?: number) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const transport = new StdioServerTransport({ stdin, stdout, maxMessageBytes });
  const messages: unknown[] = [];
  const written: unknown[] = [];
  let closed = 0;
  transport.onmessage = (m) => messages.push(m);
  transport.onclose = () => closed++;
  stdout.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) written.push(JSON.parse(line));
  });
  return { stdin, stdout, transport, messages, written, closed: () => closed };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('StdioServerTransport', () => {
  it('parses newline-delimited messages split across chunks, with CRLF and blank lines', async () => {
    const t = setup();
    await t.transport.start();
    t.stdin.write('{"jsonrpc":"2.0","id":1,');
    t.stdin.write('"method":"ping"}\r\n\n{"jsonrpc":"2.0","method":"n"}\n');
    await tick();
    expect(t.messages).toEqual([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'n' },
    ]);
  });

  it('answers an unparseable line with a parse error and keeps reading', async () => {
    const t = setup();
    await t.transport.start();
    t.stdin.write('this is not json\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
    await tick();
    expect(t.written).toEqual([
      {
        jsonrpc: '2.0',
        id: null,
        error: {
          code: -32700,
          message: 'Parse error',
          data: { type: 'parse_error', correlationId: expect.any(String) },
        },
      },
    ]);
    expect(t.messages).toEqual([{ jsonrpc: '2.0', id: 2, method: 'ping' }]);
  });

  it('drops an oversized message without buffering it whole, answers an error, and recovers', async () => {
    const t = setup(1024);
    await t.transport.start();
    for (let i = 0; i < 10; i++) t.stdin.write('x'.repeat(500));
    t.stdin.write('\n{"jsonrpc":"2.0","id":3,"method":"ping"}\n');
    t.stdin.write(`${'y'.repeat(2000)}\n`);
    await tick();
    expect(t.written).toHaveLength(2);
    expect(t.written[0]).toMatchObject({
      id: null,
      error: { code: -32600, message: 'Message exceeds 1024 bytes' },
    });
    expect(t.messages).toEqual([{ jsonrpc: '2.0', id: 3, method: 'ping' }]);
  });

  it('closes once on EOF and writes one line per message', async () => {
    const t = setup();
    await t.transport.start();
    await t.transport.send({ jsonrpc: '2.0', id: 1, result: {} });
    await t.transport.send({
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level: 'info', data: 'x' },
    });
    t.stdin.end();
    await tick();
    await t.transport.close();
    expect(t.closed()).toBe(1);
    expect(t.written).toHaveLength(2);
  });
});
