/**
 * WebSocket load for the HTTP benchmark: `tools/call` over Rampart's `/ws`, sequential on one
 * connection (c=1), pipelined 32 deep on one connection, and sequential on each of 32 connections.
 * Every phase is bounded in time; requests are 2026-07-28 messages with their `_meta` envelope.
 */
import { WebSocket } from 'ws';

export interface WsPhase {
  rps: number;
  /** Mean latency in ms (in-flight requests / throughput). */
  mean: number;
  errors: number;
}

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'mcp');
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Keeps `depth` requests in flight on each of `connections` sockets for `seconds`. */
export async function wsLoad(
  url: string,
  connections: number,
  depth: number,
  seconds: number,
): Promise<WsPhase> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => open(url)));
  let done = 0;
  let errors = 0;
  const stopAt = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          let id = 0;
          let inflight = 0;
          const send = () => {
            inflight++;
            ws.send(
              JSON.stringify({
                jsonrpc: '2.0',
                id: ++id,
                method: 'tools/call',
                params: { name: 'echo', arguments: { text: 'hello' }, _meta: META },
              }),
            );
          };
          ws.on('message', (data) => {
            inflight--;
            done++;
            if (!String(data).includes('"result"')) errors++;
            if (performance.now() < stopAt) send();
            else if (inflight === 0) resolve();
          });
          for (let i = 0; i < depth; i++) send();
        }),
    ),
  );
  const elapsed = (performance.now() - start) / 1000;
  for (const ws of sockets) ws.terminate();
  const rps = done / elapsed;
  return { rps, mean: ((connections * depth) / rps) * 1000, errors };
}
