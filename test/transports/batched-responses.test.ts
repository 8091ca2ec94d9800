/**
 * Whole responses written together at the end of their event-loop pass (`batchResponses`, off by
 * default): each still arrives, in order, outside any request's async context, and none is lost when
 * the host closes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, createServer, type HttpHost, nodeHandler } from '../../src/index.js';
import { nodeExchange } from '../../src/transports/http/exchange.js';
import { envelope } from '../fixtures/raw.js';

const hosts: HttpHost[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close(100);
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

async function start(batchResponses?: boolean) {
  const server = createServer({ name: 'batch', version: '1', logger: createLogger({ level: 'silent' }) });
  server.tool(
    'echo',
    { inputSchema: { type: 'object', properties: { text: { type: 'string' }, ms: { type: 'number' } } } },
    async (args) => {
      const { text, ms } = args as { text: string; ms?: number };
      if (ms) await new Promise((resolve) => setTimeout(resolve, ms));
      return text;
    },
  );
  const host = await server.listen({ port: 0, legacySse: false, batchResponses });
  hosts.push(host);
  return host;
}

function call(id: number, text: string, ms?: number): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text, ms }, _meta: envelope() },
  });
}

function post(body: string): string {
  return (
    'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    'Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n' +
    `Mcp-Method: tools/call\r\nMcp-Name: echo\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** Writes `text` in one piece on a new connection; resolves with what came back once `count` bodies did. */
function exchange(port: number, text: string, count: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.on('data', (d) => {
      received += d.toString('utf8');
      if ((received.match(/"jsonrpc"/g) ?? []).length >= count) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

describe('batched responses', () => {
  for (const batched of [true, undefined]) {
    it(`answers requests pipelined in one packet, in order (batchResponses: ${batched ?? 'default'})`, async () => {
      const host = await start(batched);
      const text = [1, 2, 3, 4, 5].map((i) => post(call(i, `t${i}`))).join('');
      const received = await exchange(host.port, text, 5);
      const ids = [...received.matchAll(/"id":(\d+)/g)].map((m) => Number(m[1]));
      expect(ids).toEqual([1, 2, 3, 4, 5]);
      for (const i of [1, 2, 3, 4, 5]) expect(received).toContain(`"text":"t${i}"`);
      expect(received.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(5);
    });
  }

  it('holds a whole response until its pass ends, then writes it outside the request context', async () => {
    const storage = new AsyncLocalStorage<string>();
    const seen: Record<string, unknown> = {};
    const http = createHttpServer((req, res) => {
      const batched = req.url !== '/now';
      const ex = nodeExchange(req, res, undefined, batched);
      storage.run(`request ${req.url}`, () => {
        res.on('finish', () => {
          seen.finishStore = storage.getStore();
        });
        ex.respond(200, { 'content-type': 'text/plain' }, 'hello');
        seen.headersSent = res.headersSent;
        seen.endedAtOnce = res.writableEnded;
        setImmediate(() => {
          seen.endedAfterPass = res.writableEnded;
        });
      });
    });
    servers.push(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;

    const batched = await fetch(`http://127.0.0.1:${port}/batched`);
    expect(await batched.text()).toBe('hello');
    expect(seen).toEqual({
      headersSent: true,
      endedAtOnce: false,
      endedAfterPass: true,
      finishStore: undefined,
    });

    const now = await fetch(`http://127.0.0.1:${port}/now`);
    expect(await now.text()).toBe('hello');
    expect(seen.endedAtOnce).toBe(true);
    expect(seen.finishStore).toBe('request /now');
  });

  for (const batched of [true, false]) {
    it(`throws a bad header to the caller at once, leaving it free to answer otherwise (batched: ${batched})`, async () => {
      let thrown: unknown;
      let respondedAfterThrow: boolean | undefined;
      const http = createHttpServer((req, res) => {
        const ex = nodeExchange(req, res, undefined, batched);
        try {
          ex.respond(200, { 'x-bad': 'a\nb' }, 'never');
        } catch (err) {
          thrown = err;
          respondedAfterThrow = ex.responded;
          ex.respond(500, { 'content-type': 'text/plain' }, 'fallback');
        }
      });
      servers.push(http);
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const { port } = http.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/`);
      expect(response.status).toBe(500);
      expect(await response.text()).toBe('fallback');
      expect((thrown as NodeJS.ErrnoException).code).toBe('ERR_INVALID_CHAR');
      expect(respondedAfterThrow).toBe(false);
    });
  }

  it('writes a listing (a response in pieces) whole', async () => {
    const host = await start(true);
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/list',
      params: { _meta: envelope() },
    });
    const text = post(body).replace(
      'Mcp-Method: tools/call\r\nMcp-Name: echo\r\n',
      'Mcp-Method: tools/list\r\n',
    );
    const received = await exchange(host.port, text, 1);
    const json = JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4));
    expect(json.id).toBe(3);
    expect(json.result.tools.map((t: { name: string }) => t.name)).toEqual(['echo']);
  });

  it('writes the answers made as the host closes, pipelined ones too, before closing connections', async () => {
    const host = await start(true);
    hosts.splice(hosts.indexOf(host), 1);
    const text = [7, 8, 9].map((i) => post(call(i, `last${i}`, 60))).join('');
    const answers = exchange(host.port, text, 3);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await host.close(2_000);
    const received = await answers;
    expect(received.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);
    for (const i of [7, 8, 9]) expect(received).toContain(`"text":"last${i}"`);
  });

  it("nodeHandler's close() writes the answers it holds", async () => {
    const server = createServer({ name: 'batch', version: '1', logger: createLogger({ level: 'silent' }) });
    server.tool('slow', { inputSchema: { type: 'object' } }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 60));
      return 'done';
    });
    const handler = nodeHandler(server, { batchResponses: true });
    const http = createHttpServer(handler);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'slow', arguments: {}, _meta: envelope() },
    });
    const answer = exchange(port, post(body).replace('Mcp-Name: echo', 'Mcp-Name: slow'), 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await handler.close(2_000);
    http.closeAllConnections();
    http.close();
    const received = await answer;
    expect(received).toContain('HTTP/1.1 200 OK');
    expect(received).toContain('"text":"done"');
  });
});
