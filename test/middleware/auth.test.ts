/** auth(): API keys, JWT (jose, JWKS rotation), 401/403 challenges, metadata, scopes, session binding. */
import { createHook } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  auth,
  createLogger,
  createServer,
  type HttpHost,
  metrics,
  UnauthorizedError,
} from '../../src/index.js';
import { callToolModern, listToolsModern, openLegacySession, postJson } from '../fixtures/http.js';
import { envelope, rawPeer } from '../fixtures/raw.js';

const silent = createLogger({ level: 'silent' });
const ISSUER = 'https://issuer.test';
const hosts: HttpHost[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const h of hosts.splice(0)) await h.close(100);
});

// A JWKS endpoint whose keys the tests rotate.
type Key = { kid: string; privateKey: Parameters<SignJWT['sign']>[0]; jwk: JWK };
async function makeKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    kid,
    privateKey,
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256' },
  };
}
let published: Key[] = [];
let jwks: Server;
let jwksUrl: string;
beforeAll(async () => {
  published = [await makeKey('k1')];
  jwks = createHttpServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
});
afterAll(() => new Promise<void>((r) => jwks.close(() => r())));

async function token(
  key: Key,
  claims: Record<string, unknown> = {},
  options: { issuer?: string; audience?: string; expiresIn?: string | number } = {},
) {
  return new SignJWT({ scope: 'read', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setSubject(String(claims.sub ?? 'alice'))
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? 'http://mcp.test/mcp')
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(key.privateKey);
}

async function start(options: Partial<Parameters<typeof auth>[0]> = {}) {
  const server = createServer({ name: 'auth', version: '1', logger: silent });
  const m = metrics({ defaultMetrics: false });
  server.use(m);
  server.use(
    auth({
      resource: 'http://mcp.test/mcp',
      jwt: { jwksUrl, issuer: ISSUER, jwksCooldownMs: 0 },
      authorizationServers: [ISSUER],
      scopesSupported: ['read', 'admin'],
      ...options,
    }),
  );
  server.tool('whoami', (_args, ctx) => `${ctx.auth?.subject} [${ctx.auth?.scopes?.join(',')}]`);
  server.tool('admin_reset', { scopes: ['admin'] }, () => 'reset');
  const host = await server.listen({ port: 0, metrics: m });
  hosts.push(host);
  return { host, server, metrics: m };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const challengeOf = (res: Response) => res.headers.get('www-authenticate') ?? '';

describe('auth() over HTTP with JWT bearer tokens', () => {
  it('answers 401 with a resource_metadata challenge when credentials are missing', async () => {
    const { host } = await start();
    const res = await callToolModern(host.url, 'whoami');
    expect(res.status).toBe(401);
    expect(challengeOf(res)).toBe(
      'Bearer resource_metadata="http://mcp.test/.well-known/oauth-protected-resource/mcp"',
    );
    const body = (await res.json()) as { error: { code: number; data: { type: string } } };
    expect(body.error.code).toBe(-31003);
    expect(body.error.data.type).toBe('unauthorized');
  });

  it('serves the protected resource metadata (RFC 9728) at both well-known paths', async () => {
    const { host } = await start();
    for (const path of [
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
    ]) {
      const res = await fetch(new URL(path, host.url));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        resource: 'http://mcp.test/mcp',
        authorization_servers: [ISSUER],
        scopes_supported: ['read', 'admin'],
        bearer_methods_supported: ['header'],
      });
    }
  });

  it('accepts a valid token and puts the principal on ctx.auth', async () => {
    const { host } = await start();
    const res = await callToolModern(host.url, 'whoami', {}, bearer(await token(published[0])));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { content: { text: string }[] } };
    expect(body.result.content[0].text).toBe('alice [read]');
  });

  it.each([
    ['malformed header', async () => ({ authorization: 'Basic abc' }), /Bearer/],
    ['garbage token', async () => bearer('not.a.jwt'), /malformed|unknown/],
    [
      'expired token',
      async () => bearer(await token(published[0], {}, { expiresIn: Math.floor(Date.now() / 1000) - 120 })),
      /expired/,
    ],
    [
      'wrong issuer',
      async () => bearer(await token(published[0], {}, { issuer: 'https://evil.test' })),
      /iss/,
    ],
    [
      'wrong audience',
      async () => bearer(await token(published[0], {}, { audience: 'http://other.test/mcp' })),
      /aud/,
    ],
    [
      'wrong signature',
      async () => {
        const impostor = await makeKey('k1');
        return bearer(await token(impostor));
      },
      /signature/,
    ],
  ])('refuses a %s with 401 invalid_token', async (_name, headers, reason) => {
    const { host, metrics: m } = await start();
    const res = await callToolModern(host.url, 'whoami', {}, await headers());
    expect(res.status).toBe(401);
    expect(challengeOf(res)).toMatch(
      /^Bearer error="invalid_token", resource_metadata="[^"]+", error_description="/,
    );
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(reason);
    expect(await m.registry.metrics()).toContain('mcp_auth_failures_total{reason="invalid_token"} 1');
  });

  it('follows key rotation through the JWKS', async () => {
    const { host } = await start();
    const old = published[0];
    expect((await callToolModern(host.url, 'whoami', {}, bearer(await token(old)))).status).toBe(200);
    const next = await makeKey('k2');
    published = [next];
    expect((await callToolModern(host.url, 'whoami', {}, bearer(await token(next)))).status).toBe(200);
    published = [old];
  });

  it('hides tools the principal lacks scopes for, and refuses calls with a 403 scope challenge', async () => {
    const { host } = await start();
    const reader = bearer(await token(published[0], { scope: 'read' }));
    const admin = bearer(await token(published[0], { sub: 'root', scope: 'read admin' }));
    const names = async (headers: Record<string, string>) => {
      const body = (await (await listToolsModern(host.url, headers)).json()) as {
        result: { tools: { name: string }[] };
      };
      return body.result.tools.map((t) => t.name);
    };
    expect(await names(reader)).toEqual(['whoami']);
    expect(await names(admin)).toEqual(['whoami', 'admin_reset']);
    const refused = await callToolModern(host.url, 'admin_reset', {}, reader);
    expect(refused.status).toBe(403);
    expect(challengeOf(refused)).toBe(
      'Bearer error="insufficient_scope", resource_metadata="http://mcp.test/.well-known/oauth-protected-resource/mcp", scope="admin"',
    );
    const body = (await refused.json()) as {
      error: { code: number; data: { type: string; details: unknown } };
    };
    expect(body.error.code).toBe(-31004);
    expect(body.error.data).toMatchObject({
      type: 'insufficient_scope',
      details: { requiredScopes: ['admin'] },
    });
    expect((await callToolModern(host.url, 'admin_reset', {}, admin)).status).toBe(200);
  });

  it('shows every tool when hideUnauthorized is false (calls are still refused)', async () => {
    const { host } = await start({ hideUnauthorized: false });
    const reader = bearer(await token(published[0], { scope: 'read' }));
    const body = (await (await listToolsModern(host.url, reader)).json()) as {
      result: { tools: { name: string }[] };
    };
    expect(body.result.tools.map((t) => t.name)).toEqual(['whoami', 'admin_reset']);
    expect((await callToolModern(host.url, 'admin_reset', {}, reader)).status).toBe(403);
  });

  it('binds a legacy session to its principal: another token cannot use the session id', async () => {
    const { host } = await start();
    const alice = bearer(await token(published[0], { sub: 'alice' }));
    const mallory = bearer(await token(published[0], { sub: 'mallory' }));
    const { sessionId, headers } = await openLegacySession(host.url, alice, 'a');
    expect(sessionId).toBeTruthy();
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    const hijack = await postJson(host.url, list, { ...headers, ...mallory });
    expect(hijack.status).toBe(403);
    expect(((await hijack.json()) as { error: { data: { type: string } } }).error.data.type).toBe(
      'session_forbidden',
    );
    const del = await fetch(host.url, { method: 'DELETE', headers: { ...headers, ...mallory } });
    expect(del.status).toBe(403);
    const get = await fetch(host.url, { headers: { ...headers, ...mallory, accept: 'text/event-stream' } });
    expect(get.status).toBe(403);
    const own = await postJson(host.url, list, { ...headers, ...alice });
    expect(own.status).toBe(200);
  });

  it('serves the official SDK client that sends its token', async () => {
    const { host } = await start();
    const client = new Client({ name: 'sdk', version: '1' });
    clients.push(client);
    await client.connect(
      new StreamableHTTPClientTransport(host.url, {
        requestInit: { headers: bearer(await token(published[0], { sub: 'sdk-user' })) },
      }),
    );
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect((result.content as { text: string }[])[0].text).toBe('sdk-user [read]');
  });
});

describe('auth() with API keys', () => {
  const hash = `sha256:${createHash('sha256').update('s3cret-key').digest('hex')}`;

  it('accepts a key stored hashed at rest and refuses others', async () => {
    const { host } = await start({
      jwt: undefined,
      apiKeys: [{ hash, subject: 'ci-bot', scopes: ['read'] }],
    });
    const ok = await callToolModern(host.url, 'whoami', {}, bearer('s3cret-key'));
    expect(((await ok.json()) as { result: { content: { text: string }[] } }).result.content[0].text).toBe(
      'ci-bot [read]',
    );
    const bad = await callToolModern(host.url, 'whoami', {}, bearer('s3cret-kez'));
    expect(bad.status).toBe(401);
  });

  it('refuses a JWT audience it cannot know', () => {
    expect(() => auth({ jwt: { jwksUrl: 'http://x', issuer: ISSUER } })).toThrow(/audience/);
  });
});

describe('auth() verified-token cache', () => {
  const textOf = async (res: Response) =>
    ((await res.json()) as { result: { content: { text: string }[] } }).result.content[0].text;

  it('verifies a credential once, and never mistakes one for another that ends the same', async () => {
    const seen: string[] = [];
    const { host } = await start({
      jwt: undefined,
      verify: (t) => {
        seen.push(t);
        return t.startsWith('good-') ? { subject: t.slice(5, 10), scopes: ['read'] } : undefined;
      },
    });
    // 24 shared trailing characters: the cache's key; the whole header still decides.
    const tail = 'x'.repeat(24);
    const alice = `good-alice${tail}`;
    const bobby = `good-bobby${tail}`;
    expect(await textOf(await callToolModern(host.url, 'whoami', {}, bearer(alice)))).toBe('alice [read]');
    expect(await textOf(await callToolModern(host.url, 'whoami', {}, bearer(alice)))).toBe('alice [read]');
    expect(seen).toEqual([alice]);
    expect(await textOf(await callToolModern(host.url, 'whoami', {}, bearer(bobby)))).toBe('bobby [read]');
    expect(await textOf(await callToolModern(host.url, 'whoami', {}, bearer(alice)))).toBe('alice [read]');
    expect(seen).toEqual([alice, bobby, alice]);
    // A refused credential sharing a verified one's tail is refused, and is not cached.
    const forged = `bad-0alice${tail}`;
    expect((await callToolModern(host.url, 'whoami', {}, bearer(forged))).status).toBe(401);
    expect((await callToolModern(host.url, 'whoami', {}, bearer(forged))).status).toBe(401);
    expect(seen).toEqual([alice, bobby, alice, forged, forged]);
    // The same token under another spelling of the scheme is checked (and then cached) on its own.
    expect(
      await textOf(await callToolModern(host.url, 'whoami', {}, { authorization: `bearer  ${bobby}` })),
    ).toBe('bobby [read]');
    expect(seen).toHaveLength(6);
    // Malformed headers are still refused, cached or not.
    expect((await callToolModern(host.url, 'whoami', {}, { authorization: `Basic ${tail}` })).status).toBe(
      401,
    );
  });
});

describe('auth() refused-credential cache', () => {
  const refusal = async (res: Response) => {
    expect(res.status).toBe(401);
    return ((await res.json()) as { error: { message: string; data: { correlationId: string } } }).error;
  };

  /** An authenticator's answer to one header: a value, a promise (a check ran) or a refusal thrown at once. */
  const attempt = (middleware: ReturnType<typeof auth>, header: string) => {
    const request = {
      path: '/mcp',
      header: (name: string) => (name === 'authorization' ? header : undefined),
    };
    try {
      const answer = middleware.authenticator.authenticate(request);
      return answer instanceof Promise
        ? answer.then(
            (info) => ({ checked: true, info, error: undefined as string | undefined }),
            (err: Error) => ({ checked: true, info: undefined, error: err.message }),
          )
        : { checked: false, info: answer, error: undefined };
    } catch (err) {
      return { checked: false, info: undefined, error: (err as Error).message };
    }
  };
  const jwtAuth = (extra: Partial<Parameters<typeof auth>[0]> = {}) =>
    auth({ resource: 'http://mcp.test/mcp', jwt: { jwksUrl, issuer: ISSUER, jwksCooldownMs: 0 }, ...extra });

  it('refuses a token it refused before without checking it again, until rejectedCacheTtlMs passes', async () => {
    const middleware = jwtAuth({ rejectedCacheTtlMs: 100 });
    const forged = `Bearer ${await token(await makeKey('k1'))}`; // k1's id, another key: a bad signature
    const first = await attempt(middleware, forged);
    expect(first).toMatchObject({ checked: true, error: expect.stringMatching(/signature/) });
    expect(await attempt(middleware, forged)).toEqual({
      checked: false,
      info: undefined,
      error: first.error,
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await attempt(middleware, forged)).toMatchObject({ checked: true, error: first.error });
  });

  it('checks a refused token every time when rejectedCacheTtlMs or rejectedCacheSize is 0', async () => {
    for (const off of [{ rejectedCacheTtlMs: 0 }, { rejectedCacheSize: 0 }]) {
      const middleware = jwtAuth(off);
      const forged = `Bearer ${await token(await makeKey('k1'))}`;
      await attempt(middleware, forged);
      expect(await attempt(middleware, forged)).toMatchObject({ checked: true, error: expect.any(String) });
    }
  });

  it('never refuses a valid credential for a refused one that ends the same', async () => {
    const tail = 'y'.repeat(24);
    const middleware = auth({ apiKeys: [{ key: `good-${tail}`, subject: 'bot', scopes: [] }] });
    await attempt(middleware, `Bearer evil-${tail}`);
    expect(await attempt(middleware, `Bearer evil-${tail}`)).toMatchObject({
      checked: false,
      error: /unknown/,
    });
    expect((await attempt(middleware, `Bearer good-${tail}`)).info).toMatchObject({ subject: 'bot' });
  });

  it('does not remember what may pass a moment later: nbf ahead, an unknown key id, a custom verify', async () => {
    const later = `Bearer ${await token(published[0], { nbf: Math.floor(Date.now() / 1000) + 60 })}`;
    const unknownKid = `Bearer ${await token(await makeKey('k9'))}`;
    const middleware = jwtAuth({ jwt: { jwksUrl, issuer: ISSUER, jwksCooldownMs: 0, clockToleranceSec: 0 } });
    for (const header of [later, unknownKid]) {
      expect((await attempt(middleware, header)).error).toMatch(/nbf|no key/);
      expect(await attempt(middleware, header)).toMatchObject({ checked: true });
    }
    let calls = 0;
    const custom = auth({
      verify: () => {
        calls++;
        throw new UnauthorizedError('not yet', {
          details: { error: 'invalid_token', description: 'not yet' },
        });
      },
    });
    await attempt(custom, 'Bearer fresh-token');
    expect(await attempt(custom, 'Bearer fresh-token')).toMatchObject({ checked: true, error: 'not yet' });
    expect(calls).toBe(2);
  });

  it('gives each refusal from the cache its own correlation id, and counts it', async () => {
    const { host, metrics: m } = await start();
    const forged = bearer(await token(await makeKey('k1')));
    const first = await refusal(await callToolModern(host.url, 'whoami', {}, forged));
    const second = await refusal(await callToolModern(host.url, 'whoami', {}, forged));
    expect(second.message).toBe(first.message);
    expect(second.data.correlationId).not.toBe(first.data.correlationId);
    expect(await m.registry.metrics()).toContain('mcp_auth_failures_total{reason="invalid_token"} 2');
  });

  it("counts an HTTP authentication failure only in its own server's metrics", async () => {
    const a = await start();
    const b = await start();
    const forged = bearer(await token(await makeKey('k1')));
    expect((await callToolModern(a.host.url, 'whoami', {}, forged)).status).toBe(401);
    expect(await a.metrics.registry.metrics()).toContain('mcp_auth_failures_total{reason="invalid_token"} 1');
    expect(await b.metrics.registry.metrics()).not.toContain('mcp_auth_failures_total{reason=');
  });

  it('accepts a token that expired within the clock tolerance', async () => {
    const middleware = jwtAuth({
      jwt: { jwksUrl, issuer: ISSUER, jwksCooldownMs: 0, clockToleranceSec: 30 },
    });
    const recent = `Bearer ${await token(published[0], {}, { expiresIn: Math.floor(Date.now() / 1000) - 10 })}`;
    expect((await attempt(middleware, recent)).info).toMatchObject({ subject: 'alice' });
  });

  it('refuses an expired token before checking its signature', async () => {
    const { host } = await start();
    const impostor = await makeKey('k1');
    const stale = bearer(await token(impostor, {}, { expiresIn: Math.floor(Date.now() / 1000) - 120 }));
    expect((await refusal(await callToolModern(host.url, 'whoami', {}, stale))).message).toMatch(/expired/);
  });

  it('does not remember a refusal that says nothing about the token (its keys could not be fetched)', async () => {
    const probe = createHttpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { host } = await start({
      jwt: { jwksUrl: `http://127.0.0.1:${port}/jwks.json`, issuer: ISSUER, jwksCooldownMs: 0 },
    });
    const valid = bearer(await token(published[0]));
    expect((await refusal(await callToolModern(host.url, 'whoami', {}, valid))).message).toMatch(
      /could not be verified/,
    );
    const late = createHttpServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
    });
    await new Promise<void>((r) => late.listen(port, '127.0.0.1', r));
    try {
      expect((await callToolModern(host.url, 'whoami', {}, valid)).status).toBe(200);
    } finally {
      await new Promise<void>((r) => late.close(() => r()));
    }
  });
});

describe('auth() with caching off', () => {
  it('checks every request when cacheTtlMs is 0, so an expired credential is never served from a cache', async () => {
    let calls = 0;
    let expiresAt = Math.floor(Date.now() / 1000) + 60;
    const { host } = await start({
      jwt: undefined,
      cacheTtlMs: 0,
      verify: () => {
        calls++;
        return expiresAt * 1000 > Date.now() ? { subject: 'carol', scopes: ['read'], expiresAt } : undefined;
      },
    });
    expect((await callToolModern(host.url, 'whoami', {}, bearer('tok'))).status).toBe(200);
    expect((await callToolModern(host.url, 'whoami', {}, bearer('tok'))).status).toBe(200);
    expect(calls).toBe(2);
    expiresAt = Math.floor(Date.now() / 1000) - 1;
    expect((await callToolModern(host.url, 'whoami', {}, bearer('tok'))).status).toBe(401);
  });
});

describe('auth() on local connections', () => {
  const ENV = 'RAMPART_TEST_TOKEN';
  const local = (options: Parameters<typeof auth>[0]) => {
    const server = createServer({ name: 'auth', version: '1', logger: silent });
    server.use(auth(options));
    server.tool('whoami', (_args, ctx) => String(ctx.auth?.subject ?? 'trusted'));
    server.tool('admin_reset', { scopes: ['admin'] }, () => 'reset');
    return rawPeer(server);
  };
  const call = (peer: Awaited<ReturnType<typeof rawPeer>>, name: string) =>
    peer.call(1, 'tools/call', { name, arguments: {}, _meta: envelope() });

  it('trusts a connection without a token (the user who started the process)', async () => {
    delete process.env[ENV];
    const peer = await local({ apiKeys: ['k'], local: { env: ENV } });
    expect((await call(peer, 'admin_reset')).result.content[0].text).toBe('reset');
    await peer.close();
  });

  it('uses the token from the environment, with its scopes', async () => {
    process.env[ENV] = 'env-key';
    try {
      const peer = await local({
        apiKeys: [{ key: 'env-key', subject: 'ops', scopes: [] }],
        local: { env: ENV },
      });
      expect((await call(peer, 'whoami')).result.content[0].text).toBe('ops');
      expect((await call(peer, 'admin_reset')).error.data.type).toBe('insufficient_scope');
      await peer.close();
    } finally {
      delete process.env[ENV];
    }
  });

  it('verifies the token again once its verification is as old as cacheTtlMs, and keeps no failure', async () => {
    process.env[ENV] = 'env-token';
    let verdicts = ['down', 'ok', 'revoked'];
    try {
      const peer = await local({
        cacheTtlMs: 30,
        local: { env: ENV },
        verify: () => {
          const verdict = verdicts[0];
          verdicts = verdicts.slice(1);
          if (verdict === 'down') throw new Error('issuer unreachable');
          return verdict === 'ok' ? { subject: 'ops', scopes: [] } : undefined;
        },
      });
      // A failed verification is not remembered: the next request tries again.
      expect((await call(peer, 'whoami')).error).toBeDefined();
      expect((await call(peer, 'whoami')).result.content[0].text).toBe('ops');
      await new Promise((r) => setTimeout(r, 60));
      // Revoked since: refused once the verification is stale.
      expect((await call(peer, 'whoami')).error.code).toBe(-31003);
      await peer.close();
    } finally {
      delete process.env[ENV];
    }
  });

  it('checks the scopes of the prompt or template whose completers a completion runs', async () => {
    process.env[ENV] = 'env-key';
    try {
      const server = createServer({ name: 'auth', version: '1', logger: silent });
      server.use(auth({ apiKeys: [{ key: 'env-key', subject: 'ops', scopes: [] }], local: { env: ENV } }));
      const complete = { who: () => ['alice (salary 250k)'] };
      server.prompt('payroll', { scopes: ['admin'], complete }, () => 'p');
      server.resourceTemplate('staff://{who}', { name: 'staff', scopes: ['admin'], complete }, () => 'r');
      server.prompt('open', { complete }, () => 'p');
      const peer = await rawPeer(server);
      const completion = (ref: Record<string, string>) =>
        peer.call(1, 'completion/complete', { ref, argument: { name: 'who', value: '' }, _meta: envelope() });
      expect((await completion({ type: 'ref/prompt', name: 'payroll' })).error.data.type).toBe(
        'insufficient_scope',
      );
      expect((await completion({ type: 'ref/resource', uri: 'staff://{who}' })).error.data.type).toBe(
        'insufficient_scope',
      );
      expect((await completion({ type: 'ref/prompt', name: 'open' })).result.completion.values).toEqual([
        'alice (salary 250k)',
      ]);
      await peer.close();
    } finally {
      delete process.env[ENV];
    }
  });

  it('checks the scopes of each resource a subscriptions/listen subscribes to', async () => {
    process.env[ENV] = 'env-key';
    try {
      const server = createServer({ name: 'auth', version: '1', logger: silent });
      server.use(auth({ apiKeys: [{ key: 'env-key', subject: 'ops', scopes: [] }], local: { env: ENV } }));
      server.resource('staff://salaries', { scopes: ['admin'] }, () => 's');
      server.resource('staff://holidays', () => 'h');
      const peer = await rawPeer(server);
      const listen = (id: number, uris: string[]) =>
        peer.send({
          jsonrpc: '2.0',
          id,
          method: 'subscriptions/listen',
          params: { notifications: { resourceSubscriptions: uris }, _meta: envelope() },
        });
      await listen(1, ['staff://holidays', 'staff://salaries']);
      const refused = await peer.waitFor((m) => m.id === 1);
      expect(refused.error.data.type).toBe('insufficient_scope');
      await listen(2, ['staff://holidays']);
      const ack = await peer.waitFor((m) => m.method === 'notifications/subscriptions/acknowledged');
      expect(ack.params.notifications.resourceSubscriptions).toEqual(['staff://holidays']);
      await peer.close();
    } finally {
      delete process.env[ENV];
    }
  });

  it('refuses when a token is required and missing', async () => {
    const peer = await local({ apiKeys: ['k'], local: { env: ENV, required: true } });
    const answer = await call(peer, 'whoami');
    expect(answer.error.code).toBe(-31003);
    await peer.close();
  });
});

describe('the verified-credential cache', () => {
  it('answers cached credentials without setting a timer (lru-cache would, once a millisecond)', async () => {
    const middleware = auth({ apiKeys: [{ key: 'cached-key', subject: 'bot', scopes: [] }] });
    const request = {
      path: '/mcp',
      header: (name: string) => (name === 'authorization' ? 'Bearer cached-key' : undefined),
    };
    // The first call verifies and caches; those after it are cache hits, answered synchronously.
    await middleware.authenticator.authenticate(request);
    let timers = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'Timeout') timers++;
      },
    }).enable();
    let hits = 0;
    try {
      // Lookups spread over 30 ms (setImmediate between them sets no timer of its own).
      const until = performance.now() + 30;
      while (performance.now() < until) {
        const info = middleware.authenticator.authenticate(request);
        expect(info).not.toBeInstanceOf(Promise);
        hits++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      hook.disable();
    }
    expect(hits).toBeGreaterThan(10);
    // The test runner may set one or two of its own meanwhile; the cache's clock set ~30.
    expect(timers).toBeLessThan(5);
  });
});
