/** loadConfig(): environment overrides, validated with every problem reported at once. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseApiKeys } from '../../src/index.js';

describe('loadConfig()', () => {
  it('has working defaults: loopback, port 3000, a per-client rate limit, no auth', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      logLevel: 'info',
      rateLimit: { rps: 50, burst: 100 },
    });
    expect(config.auth).toBeUndefined();
    expect(config.databaseUrl).toBeUndefined();
  });

  it('reads the environment', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      LOG_LEVEL: 'debug',
      DATABASE_URL: 'postgres://db/app',
      REDIS_URL: 'redis://cache:6379',
      RATE_LIMIT_RPS: '10',
      RATE_LIMIT_BURST: '20',
      RAMPART_API_KEYS: `ci=abc, plain, ops=sha256:${'a'.repeat(64)}`,
      MCP_RESOURCE_URL: 'https://mcp.example.com/mcp',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      logLevel: 'debug',
      databaseUrl: 'postgres://db/app',
      redisUrl: 'redis://cache:6379',
      rateLimit: { rps: 10, burst: 20 },
      resourceUrl: 'https://mcp.example.com/mcp',
    });
    expect(config.auth?.apiKeys).toEqual([
      { key: 'abc', subject: 'ci' },
      { key: 'plain', subject: undefined },
      { hash: `sha256:${'a'.repeat(64)}`, subject: 'ops' },
    ]);
  });

  it('configures JWT from JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE', () => {
    const config = loadConfig({
      JWT_JWKS_URL: 'https://auth.example.com/jwks',
      JWT_ISSUER: 'https://auth.example.com',
      JWT_AUDIENCE: 'https://mcp.example.com/mcp',
    });
    expect(config.auth?.jwt).toEqual({
      jwksUrl: 'https://auth.example.com/jwks',
      issuer: 'https://auth.example.com',
      audience: 'https://mcp.example.com/mcp',
    });
    expect(config.auth?.authorizationServers).toEqual(['https://auth.example.com']);
  });

  it('turns the rate limit off with RATE_LIMIT_RPS=0', () => {
    expect(loadConfig({ RATE_LIMIT_RPS: '0' }).rateLimit).toBeUndefined();
  });

  it('reports every problem at once, readably', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://x/y',
        REDIS_URL: '::nonsense',
        RATE_LIMIT_RPS: '-1',
        JWT_JWKS_URL: 'https://auth.example.com/jwks',
        RAMPART_API_KEYS: 'x=sha256:nothex',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    expect(issues).toContain('PORT must be an integer from 0 to 65535 (got "eighty")');
    expect(issues).toContain('LOG_LEVEL must be one of');
    expect(issues).toContain('DATABASE_URL must be a postgres:// or postgresql:// URL');
    expect(issues).toContain('REDIS_URL is not a valid URL');
    expect(issues).toContain('RATE_LIMIT_RPS must be a number >= 0');
    expect(issues).toContain('JWT_ISSUER is required with JWT_JWKS_URL');
    expect(issues).toContain('JWT_AUDIENCE (or MCP_RESOURCE_URL) is required');
    expect(issues).toContain('RAMPART_API_KEYS: bad hash for "x"');
    expect((error as Error).message.split('\n')[0]).toBe('Invalid configuration:');
  });

  it('refuses ports in other notations, timeouts no timer can hold, and a key list with no keys', () => {
    const issuesOf = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        return (err as ConfigError).issues;
      }
    };
    expect(issuesOf({ PORT: '0x50' })).toEqual(['PORT must be an integer from 0 to 65535 (got "0x50")']);
    expect(issuesOf({ PORT: '1e3' })).toHaveLength(1);
    expect(loadConfig({ PORT: '8080' }).port).toBe(8080);
    expect(issuesOf({ DRAIN_TIMEOUT_MS: '3000000000' })[0]).toMatch(
      /^DRAIN_TIMEOUT_MS must be a number of milliseconds from 0 to 2147483647/,
    );
    expect(issuesOf({ REQUEST_TIMEOUT_MS: '1e10' })).toHaveLength(1);
    expect(loadConfig({ DRAIN_TIMEOUT_MS: '2147483647' }).drainTimeoutMs).toBe(2_147_483_647);
    expect(loadConfig({}).shutdownDelayMs).toBe(0);
    expect(
      loadConfig({
        ALLOWED_ORIGINS: 'https://app.example, http://localhost:5173',
        ALLOWED_HOSTS: 'mcp.example',
      }),
    ).toMatchObject({
      allowedOrigins: ['https://app.example', 'http://localhost:5173'],
      allowedHosts: ['mcp.example'],
    });
    expect(issuesOf({ ALLOWED_ORIGINS: 'https://app.example/path' })[0]).toMatch(/^ALLOWED_ORIGINS must be/);
    expect(issuesOf({ ALLOWED_HOSTS: 'bad host' })[0]).toMatch(/^ALLOWED_HOSTS must be/);
    expect(loadConfig({ SHUTDOWN_DELAY_MS: '5000' }).shutdownDelayMs).toBe(5_000);
    expect(issuesOf({ SHUTDOWN_DELAY_MS: '-1' })[0]).toMatch(
      /^SHUTDOWN_DELAY_MS must be a number of milliseconds/,
    );
    expect(issuesOf({ RAMPART_API_KEYS: ',' })[0]).toMatch(/^RAMPART_API_KEYS: no keys in it/);
  });

  it('refuses to expose an open server beyond this machine unless told to', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/without authentication/);
    expect(loadConfig({ HOST: '0.0.0.0', RAMPART_ALLOW_OPEN: 'true' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '0.0.0.0', RAMPART_API_KEYS: 'k' }).auth).toBeDefined();
  });
});

describe('parseApiKeys()', () => {
  it('reads key, name=key and name=sha256:<hex> entries', () => {
    expect(parseApiKeys(' a , b=c ,, d=SHA256:ff')).toEqual([
      { key: 'a', subject: undefined },
      { key: 'c', subject: 'b' },
      { hash: 'SHA256:ff', subject: 'd' },
    ]);
  });

  it('reads a base64 key, padding and all, as a key rather than as a name and "="', () => {
    expect(parseApiKeys('c2VjcmV0LWtleQ==,YWJjZA=,ci=c2VjcmV0LWtleQ==,team/ops=s3cret')).toEqual([
      { key: 'c2VjcmV0LWtleQ==', subject: undefined },
      { key: 'YWJjZA=', subject: undefined },
      { key: 'c2VjcmV0LWtleQ==', subject: 'ci' },
      // A name may hold any character but "=" and ",".
      { key: 's3cret', subject: 'team/ops' },
    ]);
  });
});
