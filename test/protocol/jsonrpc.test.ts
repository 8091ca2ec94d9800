/** JSON-RPC framing: malformed messages, unknown methods, batches, ids. */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/index.js';
import { featureServer } from '../fixtures/feature-server.js';
import { rawPeer } from '../fixtures/raw.js';

function initialize(version: string) {
  return {
    jsonrpc: '2.0',
    id: 'init',
    method: 'initialize',
    params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  };
}

describe('JSON-RPC framing', () => {
  it.each([
    ['a string', 'hello'],
    ['a number', 42],
    ['a wrong jsonrpc version', { jsonrpc: '1.0', id: 1, method: 'ping' }],
    ['a non-string method', { jsonrpc: '2.0', id: 1, method: 7 }],
    ['array params', { jsonrpc: '2.0', id: 1, method: 'ping', params: [1, 2] }],
    ['a null request id', { jsonrpc: '2.0', id: null, method: 'ping' }],
    ['neither request nor response', { jsonrpc: '2.0', id: 1 }],
  ])('answers %s with -32600 Invalid Request and keeps serving', async (_name, message) => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    await peer.send(message);
    const err = await peer.waitFor((m) => m.error);
    expect(err.error.code).toBe(-32600);
    expect(err.error.data.type).toBe('invalid_request');
    const ok = await peer.request(initialize('2025-06-18'));
    expect(ok.result.protocolVersion).toBe('2025-06-18');
  });

  it('answers unknown methods with -32601', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    await peer.request(initialize('2025-11-25'));
    const r = await peer.request({ jsonrpc: '2.0', id: 1, method: 'tools/explode' });
    expect(r.error).toMatchObject({ code: -32601, message: 'Method not found: tools/explode' });
  });

  it('refuses a second initialize on a session with -32600, keeping the version the first settled', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    expect((await peer.request(initialize('2025-03-26'))).result.protocolVersion).toBe('2025-03-26');
    const again = await peer.request({ ...initialize('2024-11-05'), id: 'again' });
    expect(again.error).toMatchObject({ code: -32600 });
    // Still 2025-03-26: batches, which only that version allows, are served.
    await peer.send([{ jsonrpc: '2.0', id: 'b', method: 'ping' }]);
    const batch = await peer.waitFor((m) => Array.isArray(m));
    expect(batch[0]).toMatchObject({ id: 'b', result: {} });
  });

  it('answers the names of Object.prototype members with -32601, as requests and as notifications', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    await peer.request(initialize('2025-11-25'));
    for (const [i, method] of [
      'constructor',
      'toString',
      '__proto__',
      'hasOwnProperty',
      'valueOf',
    ].entries()) {
      await peer.send({ jsonrpc: '2.0', method });
      const r = await peer.request({ jsonrpc: '2.0', id: 10 + i, method });
      expect(r.error).toMatchObject({ code: -32601, message: `Method not found: ${method}` });
    }
  });

  it('answers wrongly typed params with -32602', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    await peer.request(initialize('2025-11-25'));
    const r = await peer.request({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 5 } });
    expect(r.error.code).toBe(-32602);
    const r2 = await peer.request({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'add', arguments: [1] },
    });
    expect(r2.error.code).toBe(-32602);
    const r3 = await peer.request({
      jsonrpc: '2.0',
      id: 3,
      method: 'resources/read',
      params: { uri: 'not a uri' },
    });
    expect(r3.error.code).toBe(-32602);
  });

  it('negotiates: echoes a supported version, counter-offers the latest for an unknown one', async () => {
    const { server } = featureServer();
    const a = await rawPeer(server);
    expect((await a.request(initialize('2024-11-05'))).result.protocolVersion).toBe('2024-11-05');
    const b = await rawPeer(server);
    expect((await b.request(initialize('1999-01-01'))).result.protocolVersion).toBe('2025-11-25');
  });

  it('refuses a second request with an id that is still in flight', async () => {
    const { server, probe } = featureServer();
    const peer = await rawPeer(server);
    await peer.request(initialize('2025-11-25'));
    void peer.send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'wait_for_cancel' } });
    await probe.started;
    const dup = await peer.request({ jsonrpc: '2.0', id: 9, method: 'ping' });
    expect(dup.error.code).toBe(-32600);
    await peer.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 9 } });
    await probe.cancelled;
  });

  it('does not answer notifications, and ignores responses to requests it never sent', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    await peer.request(initialize('2025-11-25'));
    await peer.send({ jsonrpc: '2.0', method: 'notifications/whatever', params: {} });
    await peer.send({ jsonrpc: '2.0', id: 'nobody', result: {} });
    const r = await peer.request({ jsonrpc: '2.0', id: 2, method: 'ping' });
    expect(r.result).toEqual({});
    expect(peer.received).toEqual([]);
  });
});

describe('JSON-RPC batches', () => {
  it('serves batches on 2025-03-26, the one version that has them', async () => {
    const { server } = featureServer();
    const peer = await rawPeer(server);
    await peer.request(initialize('2025-03-26'));
    const responses = await peer.request([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } },
      { jsonrpc: '2.0', id: 3, method: 'nope' },
      'garbage',
    ] as never);
    expect(responses).toHaveLength(4);
    expect(responses[0]).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
    expect(responses[1].result.structuredContent).toEqual({ sum: 3 });
    expect(responses[2].error.code).toBe(-32601);
    expect(responses[3]).toMatchObject({ id: null, error: { code: -32600 } });
  });

  it('refuses batches on versions without them, before initialization, and when empty or too large', async () => {
    const { server } = featureServer();
    const before = await rawPeer(server);
    await before.send([{ jsonrpc: '2.0', id: 1, method: 'ping' }]);
    expect((await before.waitFor((m) => m.error)).error.message).toContain('before initialization');

    const later = await rawPeer(server);
    await later.request(initialize('2025-06-18'));
    await later.send([{ jsonrpc: '2.0', id: 1, method: 'ping' }]);
    expect((await later.waitFor((m) => m.error)).error).toMatchObject({ code: -32600 });

    const batching = await rawPeer(server);
    await batching.request(initialize('2025-03-26'));
    await batching.send([]);
    await batching.send(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' })));
    await batching.send([initialize('2025-03-26')]);
    await new Promise((r) => setTimeout(r, 20));
    const errors = batching.received.flat().map((m) => m.error?.message);
    expect(errors).toEqual([
      'Invalid Request: empty batch',
      'Batch exceeds 100 messages',
      'initialize must not be part of a batch',
    ]);
  });
});

describe('error codes', () => {
  it("emit nothing from MCP's reserved ranges but the codes the specification defines", () => {
    const defined = new Set([-32020, -32021, -32022]);
    // -32002 stays for legacy resource-not-found recognition; Rampart answers -32602.
    const emitted = Object.entries(ErrorCode).filter(([name]) => name !== 'ResourceNotFound');
    for (const [name, code] of emitted) {
      const standard = code === -32700 || (code >= -32603 && code <= -32600);
      const reserved = code >= -32768 && code <= -32000;
      expect(standard || !reserved || defined.has(code), `${name} (${code})`).toBe(true);
    }
    expect(new Set(emitted.map(([, code]) => code)).size).toBe(emitted.length);
  });
});
