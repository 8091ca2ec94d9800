/**
 * Listings are pre-serialised and shared by every request (docs/performance.md). What a client
 * receives is still what middleware returned, on every transport: a filtered copy goes out as it is,
 * and an edit in place of the shared listing throws instead of reaching one transport and not another.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, createServer, type HttpHost } from '../../src/index.js';
import { listToolsModern } from '../fixtures/http.js';
import { envelope, type RawPeer, rawPeer } from '../fixtures/raw.js';

const hosts: HttpHost[] = [];
const peers: RawPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) await p.close();
  for (const h of hosts.splice(0)) await h.close(100);
});

type Edit = (result: { tools: Record<string, any>[] }) => unknown;

/** A server whose `onListTools` hook applies `edit` (while one is set) and records what it threw. */
async function start(
  schema: Record<string, unknown> = { type: 'object', properties: { q: { type: 'string' } } },
) {
  const server = createServer({ name: 'listing', version: '1', logger: createLogger({ level: 'silent' }) });
  server.tool('public_tool', { description: 'for everyone', inputSchema: schema }, () => 'x');
  server.tool('admin_only', { description: 'for admins' }, () => 'x');
  const state: { edit?: Edit; thrown: unknown[] } = { thrown: [] };
  server.use({
    onListTools: async (_ctx, next) => {
      const result = (await next()) as { tools: Record<string, any>[] };
      if (!state.edit) return result;
      try {
        return state.edit(result);
      } catch (err) {
        state.thrown.push(err);
        throw err;
      }
    },
  });
  const host = await server.listen({ port: 0 });
  hosts.push(host);
  const peer = await rawPeer(server);
  peers.push(peer);
  let id = 0;
  /** The `tools/list` response over HTTP and over the in-memory transport. */
  const list = async () => ({
    http: (await (await listToolsModern(host.url)).json()) as any,
    memory: await peer.call(++id, 'tools/list', { _meta: envelope() }),
  });
  return { server, state, list };
}

const names = (response: any) => response.result.tools.map((t: { name: string }) => t.name);

describe('a listing edited by middleware', () => {
  it('goes out as the middleware returned it when filtered into a new array, over HTTP and in memory', async () => {
    const { state, list } = await start();
    state.edit = (r) => ({ ...r, tools: r.tools.filter((t) => t.name !== 'admin_only') });
    const { http, memory } = await list();
    expect(names(http)).toEqual(['public_tool']);
    expect(names(memory)).toEqual(['public_tool']);
  });

  it('refuses an edit in place of the shared listing with a TypeError, the same over HTTP and in memory', async () => {
    const { state, list } = await start();
    state.edit = (r) => {
      r.tools.splice(
        r.tools.findIndex((t) => t.name === 'admin_only'),
        1,
      );
      return r;
    };
    const { http, memory } = await list();
    // Neither client gets the unedited listing the middleware meant to hide a tool from.
    expect(http.result).toBeUndefined();
    expect(memory.result).toBeUndefined();
    expect(http.error).toMatchObject({ code: -32603 });
    expect(memory.error).toMatchObject({ code: -32603 });
    expect(state.thrown).toHaveLength(2);
    for (const err of state.thrown) expect(err).toBeInstanceOf(TypeError);
  });

  it('refuses edits in place of a listed tool and of what it holds, and leaves the registered objects alone', async () => {
    const schema = { type: 'object', properties: { q: { type: 'string' } } };
    const { state, list } = await start(schema);
    const edits: Edit[] = [
      (r) => {
        r.tools[0].description = 'edited';
        return r;
      },
      (r) => {
        r.tools[0].inputSchema.properties.injected = { type: 'string' };
        return r;
      },
      (r) => {
        r.tools.length = 0;
        return r;
      },
    ];
    for (const edit of edits) {
      state.edit = edit;
      const { http, memory } = await list();
      expect(http.error).toMatchObject({ code: -32603 });
      expect(memory.error).toMatchObject({ code: -32603 });
    }
    expect(state.thrown).toHaveLength(edits.length * 2);
    for (const err of state.thrown) expect(err).toBeInstanceOf(TypeError);
    // The schema the tool was registered with is the caller's: it is not frozen.
    expect(Object.isFrozen(schema)).toBe(false);
    expect(Object.isFrozen(schema.properties)).toBe(false);
  });

  it('leaves the registry listing intact for later requests, on every transport', async () => {
    const { state, list } = await start();
    state.edit = (r) => {
      try {
        r.tools.splice(1, 1);
        r.tools[0].description = 'edited';
      } catch {
        // A middleware that swallows the error still cannot change the cached listing.
      }
      return r;
    };
    await list();
    state.edit = undefined;
    const { http, memory } = await list();
    expect(memory.result.tools).toEqual(http.result.tools);
    expect(http.result.tools).toMatchObject([
      { name: 'public_tool', description: 'for everyone' },
      { name: 'admin_only', description: 'for admins' },
    ]);
  });

  it('is the same value on every transport: the in-memory one carries the listing as JSON reads it', async () => {
    const { server, list } = await start();
    // Values JSON writes differently from what they are: a network client gets the JSON.
    server.tool(
      'dated',
      { _meta: { 'example.com/since': new Date(0), 'example.com/gone': undefined } },
      () => 'x',
    );
    const { http, memory } = await list();
    expect(memory.result.tools).toStrictEqual(http.result.tools);
    expect(http.result.tools[2]._meta).toStrictEqual({ 'example.com/since': '1970-01-01T00:00:00.000Z' });
  });
});
