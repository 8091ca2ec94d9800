/**
 * A server→client request the client never answers, or answers with a malformed response: it fails
 * in the handler (at once for the malformed one), and the client is told of the timeout.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, createServer } from '../../src/index.js';
import { rawPeer } from '../fixtures/raw.js';

describe('server→client requests that time out', () => {
  it('fail in the handler and send the client notifications/cancelled with the request id and why', async () => {
    const server = createServer({
      name: 't',
      version: '1',
      logger: createLogger({ level: 'silent' }),
      limits: { clientRequestTimeoutMs: 20 },
    });
    server.tool('ask', async (_args, ctx) => {
      try {
        await ctx.elicit({ message: 'name?', requestedSchema: { type: 'object', properties: {} } });
        return 'answered';
      } catch (err) {
        return `failed: ${(err as Error).message}`;
      }
    });
    const peer = await rawPeer(server);
    await peer.call(0, 'initialize', {
      protocolVersion: '2025-06-18',
      capabilities: { elicitation: {} },
      clientInfo: { name: 'raw', version: '1' },
    });
    await peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const result = await peer.call(1, 'tools/call', { name: 'ask', arguments: {} });
    expect(result.result.content[0].text).toBe('failed: Client did not answer elicitation/create in 20 ms');
    const asked = await peer.waitFor((m) => m.method === 'elicitation/create');
    const cancelled = await peer.waitFor((m) => m.method === 'notifications/cancelled');
    expect(cancelled.params).toEqual({
      requestId: asked.id,
      reason: 'Client did not answer elicitation/create in 20 ms',
    });
    await peer.close();
    await server.close(100);
  });

  it.each([
    ['a result that is no object', { result: 5 }],
    ['both a result and an error', { result: {}, error: { code: 1, message: 'x' } }],
    ['a malformed error', { error: { code: 'x' } }],
  ])('fail at once on a response with %s, which gets no answer', async (_name, body) => {
    const server = createServer({
      name: 't',
      version: '1',
      logger: createLogger({ level: 'silent' }),
      limits: { clientRequestTimeoutMs: 600_000 },
    });
    server.tool('ask', async (_args, ctx) => {
      try {
        await ctx.elicit({ message: 'name?', requestedSchema: { type: 'object', properties: {} } });
        return 'answered';
      } catch (err) {
        return `failed: ${(err as Error).message}`;
      }
    });
    const peer = await rawPeer(server);
    await peer.call(0, 'initialize', {
      protocolVersion: '2025-06-18',
      capabilities: { elicitation: {} },
      clientInfo: { name: 'raw', version: '1' },
    });
    await peer.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const result = peer.call(1, 'tools/call', { name: 'ask', arguments: {} });
    const asked = await peer.waitFor((m) => m.method === 'elicitation/create');
    await peer.send({ jsonrpc: '2.0', id: asked.id, ...body });
    expect((await result).result.content[0].text).toMatch(/^failed: Malformed response from the client/);
    // Nothing was sent back for the response itself.
    expect(peer.received.filter((m) => m.id === asked.id && 'error' in m)).toEqual([]);
    await peer.close();
    await server.close(100);
  });
});
