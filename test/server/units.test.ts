/** Building blocks: schema compilation, URI templates, request-state signing. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RequestStateCodec, UriTemplate } from '../../src/index.js';
import { durationJson } from '../../src/server/logger.js';
import { compileSchema } from '../../src/server/schema.js';
import { LiveList } from '../../src/session/live-list.js';
import { serialId } from '../../src/session/serial.js';
import { Session, type SessionHost } from '../../src/session/session.js';
import { SmallMap } from '../../src/session/small-map.js';
import type { Transport } from '../../src/transports/types.js';

describe('compileSchema', () => {
  it('derives JSON Schema from zod once and validates with it', async () => {
    const compiled = compileSchema(z.object({ a: z.number(), tags: z.array(z.string()).optional() }), true);
    expect(compiled.jsonSchema).toMatchObject({ type: 'object', required: ['a'] });
    expect(compiled.jsonSchema.$schema).toBeUndefined();
    expect(await compiled.validate({ a: 1 })).toEqual({ ok: true, value: { a: 1 } });
    const bad = await compiled.validate({ a: 'x', tags: [1] });
    expect(bad).toMatchObject({ ok: false });
    expect((bad as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(['a', 'tags.0']);
  });

  it('validates plain JSON Schema (draft 2020-12) with Ajv', async () => {
    const compiled = compileSchema({
      type: 'object',
      properties: { n: { type: 'integer' }, items: { type: 'array', prefixItems: [{ type: 'string' }] } },
      required: ['n'],
    });
    expect((await compiled.validate({ n: 1 })).ok).toBe(true);
    expect(await compiled.validate({ n: 1.5 })).toMatchObject({ ok: false, issues: [{ path: 'n' }] });
    expect((await compiled.validate({ n: 1, items: [3] })).ok).toBe(false);
  });

  it('accepts any Standard Schema, including async validators', async () => {
    const schema = {
      '~standard': {
        version: 1 as const,
        vendor: 'custom',
        validate: async (v: unknown) =>
          typeof (v as { x?: unknown }).x === 'string'
            ? { value: v }
            : { issues: [{ message: 'x must be a string', path: ['x'] }] },
        jsonSchema: {
          input: () => ({ type: 'object', properties: { x: { type: 'string' } } }),
          output: () => ({ type: 'object' }),
        },
      },
    };
    const compiled = compileSchema(schema, true);
    expect(compiled.jsonSchema).toEqual({ type: 'object', properties: { x: { type: 'string' } } });
    expect(await compiled.validate({ x: 'ok' })).toEqual({ ok: true, value: { x: 'ok' } });
    expect(await compiled.validate({ x: 1 })).toEqual({
      ok: false,
      issues: [{ path: 'x', message: 'x must be a string' }],
    });
  });

  it('refuses tool schemas whose root is not an object, and invalid JSON Schemas', () => {
    expect(() => compileSchema(z.string(), true)).toThrow(/type "object"/);
    expect(() => compileSchema({ type: 'object', properties: { a: { type: 'nonsense' } } })).toThrow(
      /Invalid JSON Schema/,
    );
  });
});

describe('UriTemplate', () => {
  it('matches simple, reserved and query expressions', () => {
    expect(new UriTemplate('users://{id}/profile').match('users://42/profile')).toEqual({ id: '42' });
    expect(new UriTemplate('users://{id}/profile').match('users://42/other')).toBeUndefined();
    expect(new UriTemplate('users://{id}/profile').match('users://a/b/profile')).toBeUndefined();
    expect(new UriTemplate('file:///{+path}').match('file:///a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(new UriTemplate('search://q{?term,limit}').match('search://q?limit=5&term=cats')).toEqual({
      term: 'cats',
      limit: '5',
    });
    expect(new UriTemplate('x://{a},{b}').match('x://1,2')).toEqual({ a: '1', b: '2' });
    expect(new UriTemplate('x://{name}').match('x://hello%20world')).toEqual({ name: 'hello world' });
  });

  it('expands variables with encoding', () => {
    expect(new UriTemplate('users://{id}/profile').expand({ id: 'a b' })).toBe('users://a%20b/profile');
    expect(new UriTemplate('file:///{+path}').expand({ path: 'a/b' })).toBe('file:///a/b');
    expect(new UriTemplate('s://q{?term}').expand({ term: 'x' })).toBe('s://q?term=x');
  });
});

describe('RequestStateCodec', () => {
  it('round-trips what it signed, for the same target only', () => {
    const codec = new RequestStateCodec('secret');
    const state = codec.sign({ target: 'tools/call:a', answers: { k: { action: 'accept' } }, app: 'mine' });
    expect(codec.verify(state, 'tools/call:a')).toMatchObject({
      answers: { k: { action: 'accept' } },
      app: 'mine',
    });
    expect(() => codec.verify(state, 'tools/call:b')).toThrow(/another request/);
  });

  it('refuses states signed with another secret, tampered, expired or oversized', () => {
    const a = new RequestStateCodec('one');
    const b = new RequestStateCodec('two');
    const state = a.sign({ target: 't', answers: {} });
    expect(() => b.verify(state, 't')).toThrow(/signature/);
    const [body, mac] = state.split('.');
    const forged = Buffer.from(
      JSON.stringify({ target: 't', answers: { x: {} }, exp: Date.now() + 1e6 }),
    ).toString('base64url');
    expect(() => a.verify(`${forged}.${mac}`, 't')).toThrow(/signature/);
    expect(() => a.verify(body, 't')).toThrow(/malformed/);
    const expired = new RequestStateCodec('one', -1).sign({ target: 't', answers: {} });
    expect(() => a.verify(expired, 't')).toThrow(/expired/);
    expect(() => a.verify('x'.repeat(300_000), 't')).toThrow(/malformed/);
  });

  it('refuses to sign a state it would refuse to take back', () => {
    const codec = new RequestStateCodec('secret');
    const big = { k: { action: 'accept', content: { text: 'x'.repeat(200_000) } } };
    expect(() => codec.sign({ target: 't', answers: big })).toThrow(/over the 262144 a client may send back/);
    const fits = codec.sign({
      target: 't',
      answers: { k: { action: 'accept', content: { text: 'x'.repeat(100_000) } } },
    });
    expect(codec.verify(fits, 't').target).toBe('t');
  });

  it('lets instances that share a secret accept each other’s states', () => {
    const state = new RequestStateCodec('shared').sign({ target: 't', answers: {} });
    expect(new RequestStateCodec('shared').verify(state, 't').target).toBe('t');
  });
});

describe('Session.close', () => {
  function harness(closeTransport: () => Promise<void> = async () => {}) {
    const events: string[] = [];
    const transport: Transport = {
      start: async () => {},
      send: async () => {},
      close: () => {
        events.push('transport closed');
        return closeTransport();
      },
    };
    const host: SessionHost = {
      handle: async () => undefined,
      serve: () => undefined,
      sessionClosed: () => events.push('host told'),
      reportError: (err) => events.push(`error: ${err.message}`),
    };
    return { session: new Session(transport, host), events };
  }

  it('closes an idle session once, however often it is asked, and resolves whenClosed', async () => {
    const { session, events } = harness();
    const closed = session.whenClosed();
    const first = session.close();
    expect(session.close(1_000)).toBe(first);
    await first;
    await closed;
    await session.close();
    expect(events).toEqual(['transport closed', 'host told']);
    expect(session.isClosed).toBe(true);
  });

  it('reports a transport that fails to close, and still ends the session', async () => {
    const failing = harness(async () => {
      throw new Error('socket gone');
    });
    await failing.session.close();
    expect(failing.events).toEqual(['transport closed', 'error: socket gone', 'host told']);
    const throwing = harness(() => {
      throw new Error('sync failure');
    });
    await throwing.session.close();
    expect(throwing.events).toEqual(['transport closed', 'error: sync failure', 'host told']);
  });
});

describe('LiveList', () => {
  it('adds, removes by handle (idempotently), iterates and clears', () => {
    const list = new LiveList<string>();
    const a = list.add('a');
    const b = list.add('b');
    const c = list.add('c');
    expect(list.size).toBe(3);
    expect(new Set(list)).toEqual(new Set(['a', 'b', 'c']));
    list.remove(b);
    list.remove(b);
    expect(list.size).toBe(2);
    expect(new Set(list)).toEqual(new Set(['a', 'c']));
    // A removed node lets go of its value and neighbours.
    expect(b).toMatchObject({ value: undefined, prev: undefined, next: undefined });
    list.remove(c);
    list.remove(a);
    expect([...list]).toEqual([]);
    list.add('d');
    list.clear();
    expect(list.size).toBe(0);
    expect([...list]).toEqual([]);
  });
});

describe('SmallMap', () => {
  it('behaves as a Map through one entry, several, deletes and clear', () => {
    const map = new SmallMap<number | string, string>();
    expect(map.size).toBe(0);
    expect(map.delete(1)).toBe(false);
    map.set(1, 'a');
    expect([map.size, map.has(1), map.get(1), map.has('1')]).toEqual([1, true, 'a', false]);
    map.set(1, 'A');
    expect(map.get(1)).toBe('A');
    map.set('x', 'b').set(3, 'c');
    expect(map.size).toBe(3);
    expect(map.keys()).toEqual([1, 'x', 3]);
    expect(map.values()).toEqual(['A', 'b', 'c']);
    // Snapshots: deleting while iterating is safe.
    for (const key of map.keys()) if (key !== 3) map.delete(key);
    expect([map.size, map.get(3), map.get(1)]).toEqual([1, 'c', undefined]);
    expect(map.delete('x')).toBe(false);
    map.clear();
    expect([map.size, map.keys(), map.values()]).toEqual([0, [], []]);
  });

  it('keeps its entries across the periodic rebuild and when emptied back to one entry', () => {
    const map = new SmallMap<number, number>();
    const model = new Map<number, number>();
    // Churn past several rebuilds (one per 256 deletes) with ~32 live entries, as a busy session does.
    for (let i = 0; i < 2_000; i++) {
      map.set(i, i * 2);
      model.set(i, i * 2);
      if (i >= 32) {
        expect(map.delete(i - 32)).toBe(true);
        model.delete(i - 32);
      }
    }
    expect(map.size).toBe(model.size);
    expect(map.keys()).toEqual([...model.keys()]);
    expect(map.values()).toEqual([...model.values()]);
    for (const key of map.keys()) map.delete(key);
    expect(map.size).toBe(0);
    map.set(7, 70);
    expect([map.size, map.get(7), map.keys()]).toEqual([1, 70, [7]]);
    map.set(8, 80);
    expect(map.values()).toEqual([70, 80]);
  });
});

describe('durationJson', () => {
  it('writes a duration rounded to the microsecond exactly as JSON.stringify writes that number', () => {
    const samples = [
      0, 0.0004, 0.0005, 0.001, 0.01, 0.1, 0.12, 0.123, 1, 1.5, 2.6399999, 41.007, 999.9995, 12_345.678,
    ];
    // Plus random values across the ranges a request takes (sub-millisecond to minutes).
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      samples.push((seed / 2 ** 31) * 10 ** ((i % 7) - 2));
    }
    for (const ms of samples) expect(durationJson(ms)).toBe(JSON.stringify(Math.round(ms * 1000) / 1000));
  });
});

describe('serialId', () => {
  it('writes the counter in base 36, as toString(36) does', () => {
    const checked = [
      ...Array.from({ length: 5000 }, (_, i) => i),
      1295,
      1296,
      1297,
      46_655,
      46_656,
      2 ** 31,
      2 ** 32 + 7,
      Number.MAX_SAFE_INTEGER,
    ];
    for (const n of checked) expect(serialId('m', n)).toBe(`m${n.toString(36)}`);
  });

  it('keeps two counters apart, whatever their leading digits', () => {
    // Three counters interleaved, each past the 1,296 ids its cached leading part covers.
    const counters = [1_000, 50_000, 9_000_000];
    for (let step = 0; step < 3000; step++) {
      for (let c = 0; c < counters.length; c++) {
        const n = counters[c] + step * (c + 1);
        expect(serialId(`c${c}-`, n)).toBe(`c${c}-${n.toString(36)}`);
      }
    }
  });

  it('falls back to toString for what is not a safe non-negative integer', () => {
    for (const n of [-1, 1.5, Number.MAX_SAFE_INTEGER + 2, Number.NaN]) {
      expect(serialId('x', n)).toBe(`x${n.toString(36)}`);
    }
  });
});
