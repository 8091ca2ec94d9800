/**
 * Configuration from the environment, 12-factor style: every setting has a default in code and an
 * environment override (`PORT`, `HOST`, `LOG_LEVEL`, `DATABASE_URL`, `REDIS_URL`, `RATE_LIMIT_RPS`,
 * `RATE_LIMIT_BURST`, `RAMPART_API_KEYS`, `JWT_*`...), validated at start-up: every problem is
 * reported at once, in words, before anything listens.
 */
import { isLoopback } from './host/http.js';
import type { ApiKey, AuthOptions } from './middleware/auth.js';

export interface RampartConfig {
  port: number;
  host: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** PostgreSQL URL; absent means the embedded default. */
  databaseUrl?: string;
  /** Redis URL; absent means in-memory stores. */
  redisUrl?: string;
  /** The default per-client rate limit; absent when `RATE_LIMIT_RPS=0`. */
  rateLimit?: { rps: number; burst: number };
  /** Authentication, when API keys or a JWT issuer are configured. */
  auth?: AuthOptions;
  /** This server's public URL (`MCP_RESOURCE_URL`), for OAuth metadata and the JWT audience. */
  resourceUrl?: string;
  /** `Host` values served (`ALLOWED_HOSTS`); browser pages of these hosts pass the Origin check. */
  allowedHosts?: string[];
  /** Browser origins served (`ALLOWED_ORIGINS`, e.g. `https://app.example`). */
  allowedOrigins?: string[];
  /** How long shutdown lets in-flight requests finish. */
  drainTimeoutMs: number;
  /** How long shutdown goes on serving, readiness 503, before the listener closes. */
  shutdownDelayMs: number;
  /** Per-request time limit. */
  requestTimeoutMs: number;
  /** Cache TTL for query results. */
  cacheTtlMs: number;
}

/** Invalid configuration: `issues` lists every problem found. */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The longest delay a Node timer holds (2^31 - 1 ms, ~24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * Parses `RAMPART_API_KEYS`: comma-separated entries, each `key`, `name=key`, or
 * `name=sha256:<hex>` (a key stored hashed); `name` becomes the principal. An entry is read as
 * `name=key` only when something precedes its first `=` and what follows is more than `=` padding:
 * a base64 key (`c2VjcmV0LWtleQ==`) is a key, whole.
 */
export function parseApiKeys(value: string): ApiKey[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const eq = entry.indexOf('=');
      const named = eq > 0 && !/^=*$/.test(entry.slice(eq + 1));
      const subject = named ? entry.slice(0, eq) : undefined;
      const secret = named ? entry.slice(eq + 1) : entry;
      return secret.toLowerCase().startsWith('sha256:')
        ? { hash: secret, subject }
        : { key: secret, subject };
    });
}

/** Reads and validates the configuration; `defaults` are the code's own values. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  defaults: Partial<RampartConfig> = {},
): RampartConfig {
  const issues: string[] = [];
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const number = (
    name: string,
    fallback: number,
    check: (n: number) => boolean,
    rule: string,
    form?: RegExp,
  ): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || !check(n) || (form !== undefined && !form.test(raw))) {
      issues.push(`${name} must be ${rule} (got "${raw}")`);
      return fallback;
    }
    return n;
  };
  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) {
        issues.push(
          `${name} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL (got "${u.protocol}//...")`,
        );
      }
    } catch {
      issues.push(`${name} is not a valid URL`);
    }
    return raw;
  };

  const port = number(
    'PORT',
    defaults.port ?? 3000,
    (n) => Number.isInteger(n) && n >= 0 && n <= 65535,
    'an integer from 0 to 65535',
    // Decimal digits only: Number() would read "0x50" as 80 and "1e3" as 1000.
    /^\d+$/,
  );
  const host = get('HOST') ?? defaults.host ?? '127.0.0.1';
  const level = get('LOG_LEVEL') ?? defaults.logLevel ?? 'info';
  if (!(LEVELS as readonly string[]).includes(level))
    issues.push(`LOG_LEVEL must be one of ${LEVELS.join(', ')} (got "${level}")`);
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']) ?? defaults.databaseUrl;
  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:']) ?? defaults.redisUrl;
  const resourceUrl = url('MCP_RESOURCE_URL', ['http:', 'https:']) ?? defaults.resourceUrl;
  const list = (name: string, valid: (item: string) => boolean, rule: string): string[] | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    const items = raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    const bad = items.filter((item) => !valid(item));
    if (items.length === 0 || bad.length > 0)
      issues.push(`${name} must be a comma-separated list of ${rule} (got "${bad[0] ?? raw}")`);
    return items;
  };
  const allowedHosts =
    list('ALLOWED_HOSTS', (h) => /^[A-Za-z0-9.\-[\]:]+$/.test(h), 'host[:port] values') ??
    defaults.allowedHosts;
  const allowedOrigins =
    list(
      'ALLOWED_ORIGINS',
      (o) => {
        try {
          return new URL(o).origin === o;
        } catch {
          return false;
        }
      },
      'origins (scheme://host[:port])',
    ) ?? defaults.allowedOrigins;
  const rps = number(
    'RATE_LIMIT_RPS',
    defaults.rateLimit?.rps ?? 50,
    (n) => n >= 0,
    'a number >= 0 (0 turns the limit off)',
  );
  const burst = number(
    'RATE_LIMIT_BURST',
    defaults.rateLimit?.burst ?? Math.max(1, rps * 2),
    (n) => n >= 1,
    'a number >= 1',
  );
  // Timers hold at most 2^31 - 1 ms; Node fires a longer one after 1 ms (a drain of 3e9 ms was none).
  const drainTimeoutMs = number(
    'DRAIN_TIMEOUT_MS',
    defaults.drainTimeoutMs ?? 10_000,
    (n) => n >= 0 && n <= MAX_TIMER_MS,
    `a number of milliseconds from 0 to ${MAX_TIMER_MS}`,
  );
  const shutdownDelayMs = number(
    'SHUTDOWN_DELAY_MS',
    defaults.shutdownDelayMs ?? 0,
    (n) => n >= 0 && n <= MAX_TIMER_MS,
    `a number of milliseconds from 0 to ${MAX_TIMER_MS}`,
  );
  const requestTimeoutMs = number(
    'REQUEST_TIMEOUT_MS',
    defaults.requestTimeoutMs ?? 30_000,
    (n) => n > 0 && n <= MAX_TIMER_MS,
    `a number of milliseconds from 1 to ${MAX_TIMER_MS}`,
  );
  const cacheTtlMs = number(
    'CACHE_TTL_MS',
    defaults.cacheTtlMs ?? 300_000,
    (n) => n > 0,
    'a number of milliseconds > 0',
  );

  let auth: AuthOptions | undefined = defaults.auth;
  const apiKeys = get('RAMPART_API_KEYS');
  const jwksUrl = url('JWT_JWKS_URL', ['http:', 'https:']);
  const issuer = get('JWT_ISSUER');
  const audience = get('JWT_AUDIENCE');
  if (apiKeys !== undefined || jwksUrl !== undefined) {
    auth = { resource: resourceUrl, ...(auth ?? {}) };
    if (apiKeys !== undefined) {
      try {
        const keys = parseApiKeys(apiKeys);
        if (keys.length === 0) throw new Error('no keys in it');
        auth.apiKeys = keys;
        for (const k of keys) {
          if (k.hash !== undefined && !/^sha256:[0-9a-f]{64}$/i.test(k.hash))
            throw new Error(`bad hash for "${k.subject ?? '?'}"`);
        }
      } catch (err) {
        issues.push(
          `RAMPART_API_KEYS: ${(err as Error).message} (entries are key, name=key or name=sha256:<64 hex>)`,
        );
      }
    }
    if (jwksUrl !== undefined) {
      if (issuer === undefined) issues.push('JWT_ISSUER is required with JWT_JWKS_URL');
      if (audience === undefined && resourceUrl === undefined) {
        issues.push('JWT_AUDIENCE (or MCP_RESOURCE_URL) is required with JWT_JWKS_URL');
      }
      auth.jwt = { jwksUrl, issuer: issuer ?? '', audience };
      auth.authorizationServers = [issuer ?? ''];
    }
  } else if (issuer !== undefined || audience !== undefined) {
    issues.push('JWT_ISSUER/JWT_AUDIENCE are set but JWT_JWKS_URL is not');
  }
  // Without authentication the server is open: only on this machine, unless explicitly allowed.
  if (auth === undefined && !isLoopback(host) && get('RAMPART_ALLOW_OPEN') !== 'true') {
    issues.push(
      `HOST=${host} exposes the server beyond this machine without authentication: set RAMPART_API_KEYS or JWT_JWKS_URL (or RAMPART_ALLOW_OPEN=true)`,
    );
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const config: RampartConfig = {
    port,
    host,
    logLevel: level as RampartConfig['logLevel'],
    drainTimeoutMs,
    shutdownDelayMs,
    requestTimeoutMs,
    cacheTtlMs,
  };
  if (databaseUrl !== undefined) config.databaseUrl = databaseUrl;
  if (redisUrl !== undefined) config.redisUrl = redisUrl;
  if (resourceUrl !== undefined) config.resourceUrl = resourceUrl;
  if (allowedHosts !== undefined) config.allowedHosts = allowedHosts;
  if (allowedOrigins !== undefined) config.allowedOrigins = allowedOrigins;
  if (rps > 0) config.rateLimit = { rps, burst };
  if (auth !== undefined) config.auth = auth;
  return config;
}
