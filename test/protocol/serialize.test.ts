import { describe, expect, it } from 'vitest';
import { preserialize, stringifyMessage } from '../../src/protocol/serialize.js';

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
