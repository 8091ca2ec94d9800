/**
 * A tool's JSON Schema lives as long as the tool: compiling it registers nothing process-wide, so a
 * removed tool leaves nothing behind and `$id`s do not collide between tools or servers.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, createServer } from '../../src/index.js';
import { compileSchema } from '../../src/server/schema.js';
import { collectGarbage } from '../fixtures/gc.js';
import { rawPeer } from '../fixtures/raw.js';

const logger = createLogger({ level: 'silent' });
const argsSchema = () => ({
  $id: 'https://example.com/args.json',
  type: 'object',
  properties: { a: { type: 'string' } },
  required: ['a'],
});

/** Registers `count` tools with JSON Schemas of their own, removes them, and keeps only weak references. */
function registerAndRemove(count: number): WeakRef<object>[] {
  const server = createServer({ name: 'cycles', version: '1', logger });
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < count; i++) {
    const schema = { type: 'object', properties: { a: { type: 'string', description: `argument ${i}` } } };
    const handle = server.tool(`tool_${i}`, { inputSchema: schema }, () => 'x');
    // Compiled and in use: a bad argument is refused.
    expect(server.tools.get(`tool_${i}`)!.input!.validate({ a: 1 })).toMatchObject({ ok: false });
    handle.remove();
    refs.push(new WeakRef(schema));
  }
  expect(server.tools.size).toBe(0);
  return refs;
}

describe('JSON Schema validators', () => {
  it('keep nothing of a removed tool: its schema can be collected', async () => {
    const refs = registerAndRemove(50);
    await collectGarbage();
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
  });

  it('let two tools of one server have schemas with the same $id', async () => {
    const server = createServer({ name: 'ids', version: '1', logger });
    server.tool('a', { inputSchema: argsSchema() }, ({ a }) => `a:${a}`);
    server.tool('b', { inputSchema: argsSchema() }, ({ a }) => `b:${a}`);
    const peer = await rawPeer(server);
    await peer.call(0, 'initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'raw', version: '1' },
    });
    const b = await peer.call(1, 'tools/call', { name: 'b', arguments: { a: 'x' } });
    expect(b.result.content).toEqual([{ type: 'text', text: 'b:x' }]);
    // Its own schema, not b's: a's requires "a" too (a tool execution error on 2025-11-25).
    const bad = await peer.call(2, 'tools/call', { name: 'a', arguments: {} });
    expect(bad.result).toMatchObject({ isError: true });
    await peer.close();
  });

  it('let a tool registered again, or another server, reuse an $id', () => {
    const first = createServer({ name: 'one', version: '1', logger });
    first.tool('t', { inputSchema: argsSchema() }, () => 'x').remove();
    expect(() => first.tool('t', { inputSchema: argsSchema() }, () => 'x')).not.toThrow();
    const second = createServer({ name: 'two', version: '1', logger });
    expect(() => second.tool('t', { inputSchema: argsSchema() }, () => 'x')).not.toThrow();
  });

  it('still refuse an invalid JSON Schema at registration', () => {
    expect(() => compileSchema({ type: 'object', properties: { a: { type: 'text' } } }, true)).toThrow(
      /^Invalid JSON Schema: schema is invalid/,
    );
    expect(() =>
      compileSchema({ type: 'object', properties: { a: { $ref: 'https://nowhere/x.json' } } }),
    ).toThrow(/^Invalid JSON Schema: can't resolve reference/);
  });
});
