/** errors(): application exceptions mapped onto the one error format. */
import { describe, expect, it } from 'vitest';
import {
  createLogger,
  createServer,
  errors,
  ForbiddenError,
  InsufficientScopeError,
  InternalError,
  NotFoundError,
  OverloadedError,
  RateLimitedError,
  TimeoutError,
  ToolError,
  UnauthorizedError,
} from '../../src/index.js';
import { connectV1 } from '../fixtures/clients.js';
import { ACCEPT_BOTH } from '../fixtures/http.js';
import { envelope, rawPeer } from '../fixtures/raw.js';

class DriverTimeout extends Error {}
class NoSuchOrder extends Error {
  constructor(readonly orderId: string) {
    super(`order ${orderId} missing (table orders, shard 7)`);
  }
}

describe('errors()', () => {
  it('maps application errors to catalogue errors, and leaves the rest redacted', async () => {
    const server = createServer({ name: 'e', version: '1', logger: createLogger({ level: 'silent' }) });
    server.use(
      errors({
        map: (err) => {
          if (err instanceof DriverTimeout)
            return new TimeoutError('The database did not answer in time', { retryAfterMs: 500 });
          if (err instanceof NoSuchOrder)
            return new NotFoundError(`No order ${err.orderId}`, { details: { orderId: err.orderId } });
          return undefined;
        },
      }),
    );
    server.tool('slow', () => {
      throw new DriverTimeout('pool exhausted at 10.0.0.5');
    });
    server.tool('order', () => {
      throw new NoSuchOrder('A-1');
    });
    server.tool('bug', () => {
      throw new TypeError('cannot read x of undefined');
    });
    const client = await connectV1(server);
    const slow = await client.callTool({ name: 'slow', arguments: {} }).catch((e) => e);
    expect(slow.code).toBe(-31001);
    expect(slow.message).toContain('The database did not answer in time');
    expect(slow.data).toMatchObject({ type: 'timeout', retryAfterMs: 500 });
    expect(JSON.stringify(slow)).not.toContain('10.0.0.5');
    const order = await client.callTool({ name: 'order', arguments: {} }).catch((e) => e);
    expect(order.code).toBe(-32602);
    expect(order.data).toMatchObject({ type: 'not_found', details: { orderId: 'A-1' } });
    expect(JSON.stringify(order)).not.toContain('shard');
    const bug = await client.callTool({ name: 'bug', arguments: {} }).catch((e) => e);
    expect(bug.code).toBe(-32603);
    expect(bug.message).toContain('Internal error');
    expect(bug.data.type).toBe('internal');
    expect(JSON.stringify(bug)).not.toContain('undefined');
  });
});

describe('refusals', () => {
  it('are made without a stack trace; other errors keep theirs, and the limit is left as it was', () => {
    const frames = (err: Error) =>
      (err.stack ?? '').split('\n').filter((l) => l.trimStart().startsWith('at ')).length;
    const limit = Error.stackTraceLimit;
    for (const refusal of [
      new UnauthorizedError('no'),
      new ForbiddenError('no'),
      new InsufficientScopeError(['admin']),
      new RateLimitedError('slow down', { retryAfterMs: 100 }),
      new OverloadedError(),
    ]) {
      expect(frames(refusal)).toBe(0);
      expect(refusal.stack).toContain(refusal.message);
      expect(Error.stackTraceLimit).toBe(limit);
    }
    // A message that cannot be made a string throws from Error's constructor: the limit is restored.
    expect(() => new UnauthorizedError(Symbol('no') as never)).toThrow(TypeError);
    expect(Error.stackTraceLimit).toBe(limit);
    class Traced extends RateLimitedError {
      static override readonly refusal = false;
    }
    expect(frames(new Traced())).toBeGreaterThan(0);
    expect(frames(new InternalError('boom'))).toBeGreaterThan(0);
    expect(frames(new ToolError('tool failed'))).toBeGreaterThan(0);
    expect(frames(new Error('plain'))).toBeGreaterThan(0);
  });
});

describe('errors raised before a request reaches the server', () => {
  const newServer = () => {
    const server = createServer({ name: 'e', version: '1', logger: createLogger({ level: 'silent' }) });
    server.tool('t', () => 'ok');
    return server;
  };

  it('carry a correlation id in data over HTTP, the one X-Request-Id names', async () => {
    const server = newServer();
    const host = await server.listen({ port: 0 });
    try {
      const raw = (body: string, headers: Record<string, string> = {}, path = '/mcp') =>
        fetch(new URL(path, host.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH, ...headers },
          body,
        });
      for (const res of [
        await raw('{not json'),
        await raw('{"jsonrpc":"2.0","id":1}'),
        await raw('[]'),
        await raw('{}', {}, '/nowhere'),
        await raw('{"jsonrpc":"2.0","id":1,"method":"ping"}', { 'mcp-session-id': 'no-such-session' }),
      ]) {
        const body = (await res.json()) as any;
        expect(body.error.data.correlationId).toBeTypeOf('string');
        expect(body.error.data.correlationId).toBe(res.headers.get('x-request-id'));
      }
      const sent = await raw('{not json', { 'x-request-id': 'client-chosen-1' });
      expect(((await sent.json()) as any).error.data.correlationId).toBe('client-chosen-1');
    } finally {
      await host.close(100);
      await server.close(100);
    }
  });

  it('carry a correlation id in data on any transport: invalid requests, duplicate ids, unsupported versions', async () => {
    const server = newServer();
    server.tool('wait', async () => new Promise((r) => setTimeout(() => r('done'), 100)));
    const peer = await rawPeer(server);
    const invalid = await peer.request({ jsonrpc: '2.0', id: 1, method: 7 });
    expect(invalid.error.data).toMatchObject({ type: 'invalid_request', correlationId: expect.any(String) });
    const version = await peer.call(2, 'tools/list', {
      _meta: envelope({ 'io.modelcontextprotocol/protocolVersion': '1999-01-01' }),
    });
    expect(version.error.data).toMatchObject({ correlationId: expect.any(String) });
    const wait = {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'wait', arguments: {}, _meta: envelope() },
    };
    await peer.send(wait);
    await peer.send(wait);
    const again = await peer.waitFor((m) => m.id === 3 && m.error !== undefined);
    expect(again.error.data).toMatchObject({ type: 'invalid_request', correlationId: expect.any(String) });
    expect((await peer.waitFor((m) => m.id === 3 && m.result !== undefined)).result).toBeDefined();
    await peer.close();
  });
});
