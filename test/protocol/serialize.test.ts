import { describe, expect, it } from 'vitest';
import { Chunks, preserialize, serializeMessage, stringifyMessage } from '../../src/protocol/serialize.js';

describe('stringifyMessage', () => {
  it('splices pre-serialised values and matches JSON.stringify exactly in meaning', () => {
    const tools = preserialize([{ name: 'a', inputSchema: { type: 'object' } }, { name: 'b"quote' }]);
    const message = { jsonrpc: '2.0', id: 'x"1', result: { tools, nextCursor: 'c', _meta: { k: 1 } } };
    const text = stringifyMessage(message);
    expect(JSON.parse(text)).toEqual(message);
    expect(text).toContain(JSON.stringify(tools));
  });

  it('handles a result made only of pre-serialised values, and leaves other messages alone', () => {
    const prompts = preserialize([{ name: 'p' }]);
    expect(JSON.parse(stringifyMessage({ jsonrpc: '2.0', id: 3, result: { prompts } }))).toEqual({
      jsonrpc: '2.0',
      id: 3,
      result: { prompts },
    });
    const plain = { jsonrpc: '2.0', id: 4, result: { content: [] } };
    expect(stringifyMessage(plain)).toBe(JSON.stringify(plain));
    const error = { jsonrpc: '2.0', id: 5, error: { code: -1, message: 'x' } };
    expect(stringifyMessage(error)).toBe(JSON.stringify(error));
  });

  it('writes what JSON.stringify writes for every kind of member', () => {
    const inherited = Object.create({ hidden: 1 }) as Record<string, unknown>;
    inherited.own = 'yes';
    const results: unknown[] = [
      {},
      { a: undefined, b: () => 1, c: Symbol('s'), d: null, e: 0, f: false, 'g"h\n': 'x' },
      { when: new Date(0), big: { toJSON: () => 'custom' }, nested: { deep: [1, { x: undefined }] } },
      inherited,
      [1, 2],
      'text',
      null,
    ];
    for (const result of results) {
      const message = { jsonrpc: '2.0', id: 7, result };
      expect(stringifyMessage(message)).toBe(JSON.stringify(message));
    }
  });
});

describe('serializeMessage', () => {
  const joined = (chunks: Chunks) =>
    Buffer.concat(chunks.parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));

  it('gives the UTF-8 pieces of stringifyMessage for a message with pre-serialised members', () => {
    const tools = preserialize([{ name: 'café', description: 'naïve 🚀 "quoted"' }, { name: 'b' }]);
    const messages = [
      { jsonrpc: '2.0', id: 'é1', result: { tools, nextCursor: 'ç', _meta: { k: '✓' } } },
      { jsonrpc: '2.0', id: 2, result: { tools } },
      { jsonrpc: '2.0', id: 3, result: { before: 1, tools, after: undefined, last: [tools] } },
    ];
    for (const message of messages) {
      const chunks = serializeMessage(message);
      expect(chunks).toBeInstanceOf(Chunks);
      const bytes = joined(chunks as Chunks);
      expect(bytes.equals(Buffer.from(stringifyMessage(message), 'utf8'))).toBe(true);
      expect((chunks as Chunks).bytes).toBe(bytes.length);
      expect(JSON.parse(bytes.toString('utf8'))).toEqual(JSON.parse(JSON.stringify(message)));
    }
  });

  it('encodes a pre-serialised value once and hands the same bytes to every response', () => {
    const tools = preserialize([{ name: 'x' }]);
    const first = serializeMessage({ jsonrpc: '2.0', id: 1, result: { tools } }) as Chunks;
    const second = serializeMessage({ jsonrpc: '2.0', id: 2, result: { tools } }) as Chunks;
    const cachedOf = (c: Chunks) => c.parts.find((p) => typeof p !== 'string');
    expect(cachedOf(first)).toBeDefined();
    expect(cachedOf(second)).toBe(cachedOf(first));
  });

  it('encodes a value again once it is pre-serialised again', () => {
    const tools = preserialize([{ name: 'before' }]);
    const message = { jsonrpc: '2.0', id: 1, result: { tools } };
    const joinedText = () => joined(serializeMessage(message) as Chunks).toString('utf8');
    expect(joinedText()).toContain('before');
    tools[0].name = 'after';
    preserialize(tools);
    expect(joinedText()).toBe(JSON.stringify(message));
  });

  it('leaves every other message a string, as JSON.stringify writes it', () => {
    for (const message of [
      { jsonrpc: '2.0', id: 4, result: { content: [{ type: 'text', text: 'é' }] } },
      { jsonrpc: '2.0', id: 5, error: { code: -1, message: 'x' } },
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } },
    ]) {
      expect(serializeMessage(message)).toBe(JSON.stringify(message));
    }
  });
});
