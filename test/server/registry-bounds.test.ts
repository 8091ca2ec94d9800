/**
 * Listing cursors are opaque, but a client can still forge one: only the page boundaries the server
 * issues are accepted, so the pre-serialised pages it keeps stay one per page of the current listing.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, createServer } from '../../src/index.js';
import type { Page, Registry } from '../../src/server/registry.js';
import { collectGarbage } from '../fixtures/gc.js';
import { envelope, rawPeer } from '../fixtures/raw.js';

const TOOLS = 35;
const PAGE_SIZE = 10;

function server() {
  const s = createServer({
    name: 'pages',
    version: '1',
    pageSize: PAGE_SIZE,
    logger: createLogger({ level: 'silent' }),
  });
  for (let i = 0; i < TOOLS; i++) s.tool(`t${i}`, { description: `tool ${i}` }, () => 'x');
  return s;
}

/** A cursor for `offset` in the listing `issued` (one of the server's own cursors) belongs to. */
function forge(issued: string, offset: number): string {
  const [version] = Buffer.from(issued, 'base64url').toString().split(':');
  return Buffer.from(`${version}:${offset}`).toString('base64url');
}

/** The pages a registry keeps (private: what this file is about). */
function cachedPages(registry: Registry<any>): number {
  return (registry as unknown as { pages: Map<number, unknown> }).pages.size;
}

/** Every page of a registry's current listing, through its own cursors. */
function everyPage(registry: Registry<any>): Page<unknown>[] {
  const pages = [registry.page(undefined, PAGE_SIZE)];
  while (pages.at(-1)!.nextCursor !== undefined)
    pages.push(registry.page(pages.at(-1)!.nextCursor, PAGE_SIZE));
  return pages;
}

describe('listing cursors', () => {
  it('accepts only the page boundaries its own cursors carry, and refuses any other offset as invalid params', async () => {
    const s = server();
    const peer = await rawPeer(s);
    const first = await peer.call(0, 'tools/list', { _meta: envelope() });
    const issued = first.result.nextCursor as string;
    const accepted: number[] = [];
    for (let offset = 0; offset <= TOOLS + 1; offset++) {
      const r = await peer.call(offset + 1, 'tools/list', {
        cursor: forge(issued, offset),
        _meta: envelope(),
      });
      if (r.error)
        expect(r.error).toMatchObject({ code: -32602, message: 'Invalid cursor for Tool listing' });
      else accepted.push(offset);
    }
    expect(accepted).toEqual([10, 20, 30]);
    await peer.close();
  });

  it('walks the whole listing with the cursors it issues', async () => {
    const s = server();
    const peer = await rawPeer(s);
    const names: string[] = [];
    let cursor: string | undefined;
    let id = 0;
    do {
      const params: Record<string, unknown> = { _meta: envelope() };
      if (cursor !== undefined) params.cursor = cursor;
      const r = await peer.call(++id, 'tools/list', params);
      names.push(...r.result.tools.map((t: { name: string }) => t.name));
      cursor = r.result.nextCursor;
    } while (cursor !== undefined);
    expect(names).toEqual(Array.from({ length: TOOLS }, (_, i) => `t${i}`));
    await peer.close();
  });

  it('keeps at most one pre-serialised page per page of the listing, however many cursors are forged', async () => {
    const s = server();
    const peer = await rawPeer(s);
    const first = await peer.call(0, 'tools/list', { _meta: envelope() });
    const issued = first.result.nextCursor as string;
    for (let round = 0; round < 2; round++) {
      for (let offset = 1; offset <= TOOLS; offset++) {
        await peer.call(`${round}:${offset}`, 'tools/list', {
          cursor: forge(issued, offset),
          _meta: envelope(),
        });
      }
    }
    expect(cachedPages(s.tools)).toBeLessThanOrEqual(Math.ceil(TOOLS / PAGE_SIZE));
    await peer.close();
  });

  it('drops the pages of a listing once the listing changes', async () => {
    const s = server();
    const registry = s.tools;
    const refs = everyPage(registry).map((page) => new WeakRef(page.items));
    expect(refs).toHaveLength(Math.ceil(TOOLS / PAGE_SIZE));
    const stale = registry.page(undefined, PAGE_SIZE).nextCursor!;
    s.tool('late', () => 'x');
    // The new listing's pages replace the old ones; the old cursors are refused.
    registry.page(undefined, PAGE_SIZE);
    expect(() => registry.page(stale, PAGE_SIZE)).toThrow('Invalid cursor');
    await collectGarbage();
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    expect(cachedPages(registry)).toBe(1);
  });
});
