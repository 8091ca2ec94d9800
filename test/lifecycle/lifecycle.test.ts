/** Lifespan, health checks and graceful close, in process. */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, createServer, type HttpHost, handleSignals, LifespanError } from '../../src/index.js';
import { callToolModern } from '../fixtures/http.js';
import { envelope, rawPeer } from '../fixtures/raw.js';

const silent = createLogger({ level: 'silent' });
const hosts: HttpHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close(100);
});

describe('lifespan', () => {
  it('opens typed dependencies before the first request and closes them in reverse order', async () => {
    const events: string[] = [];
    const server = createServer({
      name: 'life',
      version: '1',
      logger: silent,
      lifespan: async (life) => {
        const db = life.use({ query: (q: string) => `rows for ${q}` }, () => void events.push('close db'));
        const cache = life.use(new Map<string, string>(), () => void events.push('close cache'));
        events.push('opened');
        return { db, cache };
      },
    });
    server.tool('query', (_args, ctx) => ctx.deps.db.query('users'));
    const peer = await rawPeer(server);
    expect(events).toEqual(['opened']);
    const answer = await peer.call(1, 'tools/call', { name: 'query', arguments: {}, _meta: envelope() });
    expect(answer.result.content[0].text).toBe('rows for users');
    await server.close(100);
    expect(events).toEqual(['opened', 'close cache', 'close db']);
    await server.close(100); // idempotent
    expect(events).toHaveLength(3);
  });

  it('runs every disposal even when one fails, and reports the failure', async () => {
    const events: string[] = [];
    const server = createServer({
      name: 'life',
      version: '1',
      logger: silent,
      lifespan: (life) => {
        life.defer(() => void events.push('first'));
        life.defer(() => {
          throw new Error('second failed');
        });
        life.defer(() => void events.push('third'));
        return {};
      },
    });
    await server.start();
    await server.close(100);
    expect(events).toEqual(['third', 'first']);
  });

  it('aborts listen() with a clear error when start-up fails, closing what was opened', async () => {
    const events: string[] = [];
    const server = createServer({
      name: 'life',
      version: '1',
      logger: silent,
      lifespan: async (life) => {
        life.use('db', () => void events.push('closed db'));
        throw new Error('redis unreachable');
      },
    });
    const failure = await server.listen({ port: 0 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(LifespanError);
    expect((failure as Error).message).toBe('Server start-up failed: redis unreachable');
    expect(events).toEqual(['closed db']);
  });

  it('stops background tasks on shutdown', async () => {
    let ticks = 0;
    let aborted = false;
    const server = createServer({
      name: 'life',
      version: '1',
      logger: silent,
      lifespan: (life) => {
        life.every(5, () => void ticks++);
        life.signal.addEventListener('abort', () => {
          aborted = true;
        });
        return {};
      },
    });
    await server.start();
    while (ticks < 2) await new Promise((r) => setTimeout(r, 5));
    await server.close(100);
    const after = ticks;
    await new Promise((r) => setTimeout(r, 40));
    expect(ticks).toBe(after);
    expect(aborted).toBe(true);
  });

  it('lets a background task run under way finish before the disposals close what it uses', async () => {
    const events: string[] = [];
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const server = createServer({
      name: 'life',
      version: '1',
      logger: silent,
      lifespan: (life) => {
        const db = life.use({ open: true }, (d) => {
          d.open = false;
          events.push('db closed');
        });
        life.every(5, async () => {
          if (events.length > 0) return;
          started();
          await new Promise((r) => setTimeout(r, 60));
          events.push(`task done, db open: ${db.open}`);
        });
        return { db };
      },
    });
    await server.start();
    await running;
    await server.close(100);
    expect(events).toEqual(['task done, db open: true', 'db closed']);
  });
});

describe('health', () => {
  it('refuses a check timeout no timer can hold (it would read "timed out" at once)', () => {
    const server = createServer({ name: 'h', version: '1', logger: silent });
    for (const timeoutMs of [3e9, Number.POSITIVE_INFINITY, Number.NaN, 0])
      expect(() => server.health.check('slow', () => undefined, { timeoutMs })).toThrow(RangeError);
    expect(() => server.health.check('ok', () => undefined, { timeoutMs: 2_147_483_647 })).not.toThrow();
  });

  it('serves liveness, and readiness from the checks with status, latency and error', async () => {
    const server = createServer({ name: 'h', version: '1', logger: silent, health: { cacheMs: 0 } });
    let dbUp = true;
    server.health.check('db', () => {
      if (!dbUp) throw new Error('connection refused');
    });
    server.health.check('cache', () => new Promise(() => {}), { timeoutMs: 30, critical: false });
    const host = await server.listen({ port: 0 });
    hosts.push(host);
    const live = await fetch(new URL('/health/live', host.url));
    expect(live.status).toBe(200);
    let ready = await fetch(new URL('/health/ready', host.url));
    expect(ready.status).toBe(200);
    const report = (await ready.json()) as any;
    expect(report.status).toBe('degraded');
    expect(report.checks.db).toMatchObject({ status: 'up', critical: true });
    expect(report.checks.cache).toMatchObject({
      status: 'down',
      critical: false,
      error: 'timed out after 30 ms',
    });
    expect(typeof report.checks.db.latencyMs).toBe('number');
    dbUp = false;
    ready = await fetch(new URL('/health/ready', host.url));
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as any).checks.db.error).toBe('connection refused');
  });

  it('serves the report as the health://status resource when asked', async () => {
    const server = createServer({ name: 'h', version: '1', logger: silent, health: { resource: true } });
    server.health.check('db', () => true);
    const peer = await rawPeer(server);
    const read = await peer.call(1, 'resources/read', { uri: 'health://status', _meta: envelope() });
    const report = JSON.parse(read.result.contents[0].text);
    expect(report.status).toBe('ok');
    expect(report.checks.db.status).toBe('up');
    await peer.close();
  });
});

describe('close()', () => {
  it('turns readiness 503, lets in-flight requests finish, and refuses new ones', async () => {
    const server = createServer({ name: 'c', version: '1', logger: silent });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = 0;
    server.tool('slow', async () => {
      started++;
      await gate;
      return 'finished';
    });
    const host = await server.listen({ port: 0 });
    const inflight = callToolModern(host.url, 'slow');
    while (started === 0) await new Promise((r) => setTimeout(r, 5));
    const closing = server.close(5_000);
    expect(server.health.shuttingDown).toBe(true);
    const report = await server.health.report();
    expect(report.status).toBe('shutting_down');
    setTimeout(release, 50);
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).result.content[0].text).toBe('finished');
    await closing;
    await expect(callToolModern(host.url, 'slow')).rejects.toThrow();
  });

  it('with shutdownDelayMs, goes on accepting and serving for the delay, readiness 503, then stops', async () => {
    const server = createServer({ name: 'c', version: '1', logger: silent, shutdownDelayMs: 400 });
    server.tool('quick', () => 'served');
    const host = await server.listen({ port: 0 });
    const ready = new URL('/health/ready', host.url);
    expect((await fetch(ready)).status).toBe(200);
    let closed = false;
    const closing = server.close(1_000).then(() => {
      closed = true;
    });
    // New connections (agent-less requests) are still accepted: the probe answers 503, calls are served.
    const probe = await fetch(ready, { headers: { connection: 'close' } });
    expect(probe.status).toBe(503);
    expect(((await probe.json()) as any).status).toBe('shutting_down');
    const call = await callToolModern(host.url, 'quick', {}, { connection: 'close' });
    expect(call.status).toBe(200);
    expect(((await call.json()) as any).result.content[0].text).toBe('served');
    expect(closed).toBe(false);
    await closing;
    await expect(fetch(ready)).rejects.toThrow();
  });

  it('aborts what is still running at the drain deadline: the handler signal fires, the client gets shutting_down', async () => {
    const server = createServer({ name: 'c', version: '1', logger: silent });
    let aborted = false;
    server.tool('forever', (_args, ctx) => {
      return new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
          reject(ctx.signal.reason);
        });
      });
    });
    const peer = await rawPeer(server);
    const pending = peer.call(1, 'tools/call', { name: 'forever', arguments: {}, _meta: envelope() });
    await new Promise((r) => setTimeout(r, 20));
    await server.close(50);
    const answer = await pending;
    expect(aborted).toBe(true);
    expect(answer.error.data.type).toBe('shutting_down');
  });
});

describe('handleSignals()', () => {
  it('drains and exits 0 on the first signal, and exits 1 when the disposals outlast closeTimeoutMs', async () => {
    const make = (hang: boolean) =>
      createServer({
        name: 'sig',
        version: '1',
        logger: silent,
        lifespan: (life) => {
          life.defer(() => (hang ? new Promise(() => {}) : undefined));
          return {};
        },
      });
    for (const hang of [false, true]) {
      const server = make(hang);
      await server.start();
      const code = new Promise<number>((resolve) => {
        const off = handleSignals(server, {
          signals: ['SIGUSR2'],
          drainTimeoutMs: 10,
          closeTimeoutMs: 50,
          exit: (c) => {
            off();
            resolve(c);
          },
        });
      });
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(await code).toBe(hang ? 1 : 0);
    }
  });
});
