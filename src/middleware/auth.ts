/**
 * `auth()`: authentication and authorisation. Credentials are verified by API keys, JWT bearer tokens
 * (jose) or a custom function; the principal lands on `ctx.auth`. On HTTP the transport asks before
 * reading the body: no or bad credentials answer 401 with a `WWW-Authenticate` challenge naming the
 * OAuth Protected Resource Metadata (RFC 9728), served at `/.well-known/oauth-protected-resource`.
 * Tools, resources and prompts may require scopes (`scopes: [...]` in their config): a caller without
 * them gets `insufficient_scope` (403 with a scope challenge on HTTP), and listings hide them. stdio
 * and in-memory connections are local: a token from the environment, or trusted as they are.
 */
import { LRUCache } from 'lru-cache';
import { InsufficientScopeError, UnauthorizedError } from '../protocol/errors.js';
import type { Context } from '../server/context.js';
import { identityOf } from '../server/identity.js';
import type { McpServer, RouteRequest } from '../server/server.js';
import type { Authenticator, AuthInfo, AuthRequest } from '../transports/types.js';
import {
  type ApiKey,
  apiKeyVerifier,
  invalidToken,
  isLasting,
  type JwtOptions,
  jwtVerifier,
  notLasting,
  type Verifier,
} from './auth-verifiers.js';
import type { Middleware } from './compose.js';
import { publishProtection } from './events.js';

export type { ApiKey, JwtOptions } from './auth-verifiers.js';

export interface AuthOptions {
  /** Static API keys, presented as `Authorization: Bearer <key>`. */
  apiKeys?: Array<ApiKey | string>;
  /** JWT bearer tokens from an authorization server. */
  jwt?: JwtOptions;
  /** A custom verifier: the principal, `undefined` (not recognised), or throw. Tried last. */
  verify?: (
    token: string,
    request: AuthRequest | undefined,
  ) => AuthInfo | undefined | Promise<AuthInfo | undefined>;
  /**
   * This server's canonical resource URI (e.g. `https://mcp.example.com/mcp`): the default JWT
   * audience and the `resource` of the protected-resource metadata. Default: derived from each
   * request's Host and path.
   */
  resource?: string;
  /** Authorization servers clients should get tokens from (protected-resource metadata). */
  authorizationServers?: string[];
  /** Scopes this server understands (protected-resource metadata). */
  scopesSupported?: string[];
  /** A human-readable name for the metadata. */
  resourceName?: string;
  /** Let requests without credentials through, with no principal. Default false. */
  anonymous?: boolean;
  /** Hide from listings what the principal lacks the scopes to use. Default true. */
  hideUnauthorized?: boolean;
  /**
   * Local connections (stdio, in-memory): the environment variable holding their token (default
   * `RAMPART_AUTH_TOKEN`), and whether one is required. Without a token, local connections are
   * trusted as the user who started the process: no scope checks. Default `required: false`.
   */
  local?: { env?: string; required?: boolean };
  /** Verified tokens kept, so a token is checked once per `cacheTtlMs`. Default 10 000. */
  cacheSize?: number;
  /** How long a verified token is trusted before it is checked again (never past its expiry); 0 checks every request. Default 60 s. */
  cacheTtlMs?: number;
  /**
   * How long a refused credential is refused again, for the same reason, without being checked: a
   * client retrying an expired or forged token costs a lookup rather than a signature check each time.
   * Only the same header finds it (another spelling, another token is checked). Not kept: refusals
   * that may not hold a moment later (`nbf` still ahead, a key id the JWKS lacks, a JWKS that could
   * not be fetched), those of a custom `verify`, headers over 4 KiB. 0 checks every request. Default 5 s.
   */
  rejectedCacheTtlMs?: number;
  /** Refused credentials kept (see `rejectedCacheTtlMs`); 0 keeps none. Default 1 000. */
  rejectedCacheSize?: number;
}

/** The middleware with its authenticator; `server.use()` installs both. */
export type AuthMiddleware = Middleware<Context<any>> & {
  authenticator: Authenticator;
  install(server: McpServer<any>): void;
  /** Verifies a token as a request would (for transports and tests). */
  verifyToken(token: string): Promise<AuthInfo>;
};

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** Listing methods and the field holding their items. */
const LISTINGS: Record<string, string> = {
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
};

const quote = (value: string) => `"${value.replace(/["\\]/g, '')}"`;

/** A verified credential: the exact `Authorization` value, and what it proved. */
class Verified {
  constructor(
    readonly credential: string,
    readonly info: AuthInfo,
  ) {}
}

/** The longest header whose refusal is remembered (4 KiB: at most ~4 MB for 1 000 of them). */
const MAX_REMEMBERED = 4_096;

/** A credential refused before, and why (a fresh error is made from it for each refusal). */
class Refused {
  constructor(
    readonly credential: string,
    readonly description: string,
  ) {}
}

/** Characters of a credential that key the verified cache (its end: a signature's, a key's). */
const KEY_CHARS = 24;

/**
 * The cache key of a credential: its last characters. The header is a new string on every request,
 * and a Map lookup hashes the whole of it (~450 ns for a JWT, more than the rest of the lookup);
 * its tail is as unique, costs a fraction, and a hit is then compared whole — two credentials that
 * share a tail only evict each other.
 */
function cacheKey(credential: string): string {
  return credential.length <= KEY_CHARS ? credential : credential.slice(-KEY_CHARS);
}

/** Creates the auth middleware. Register it early (after logging/metrics, before rate limits). */
export function auth(options: AuthOptions): AuthMiddleware {
  const verifiers: Verifier[] = [];
  if (options.apiKeys?.length) verifiers.push(apiKeyVerifier(options.apiKeys));
  if (options.jwt) verifiers.push(jwtVerifier(options.jwt, options.resource));
  if (options.verify) {
    const custom = options.verify;
    // What a custom check refuses may be accepted a moment later (a token just issued, say): its
    // refusals are not remembered.
    verifiers.push(async (token, request) => {
      try {
        return await custom(token, request);
      } catch (err) {
        if (err instanceof UnauthorizedError) notLasting(err);
        throw err;
      }
    });
  }
  if (verifiers.length === 0 && !options.anonymous) {
    throw new TypeError('auth: configure apiKeys, jwt or verify (or anonymous: true)');
  }
  const cacheTtlMs = options.cacheTtlMs ?? 60_000;
  // `ttlResolution: 0`: the clock is read at each lookup. lru-cache otherwise caches it for 1 ms with
  // a timer, which under load is a timer a millisecond (and AsyncLocalStorage's hooks for each).
  const verified = new LRUCache<string, Verified>({
    max: options.cacheSize ?? 10_000,
    ttl: cacheTtlMs,
    ttlResolution: 0,
  });
  const rejectedTtlMs = Math.round(options.rejectedCacheTtlMs ?? 5_000);
  const rejectedSize = Math.floor(options.rejectedCacheSize ?? 1_000);
  // Filled by clients nobody has authenticated: bounded always (lru-cache reads a max of 0 as none).
  const refused =
    rejectedTtlMs > 0 && rejectedSize > 0
      ? new LRUCache<string, Refused>({ max: rejectedSize, ttl: rejectedTtlMs, ttlResolution: 0 })
      : undefined;
  /** Fails with a token's refusal, remembering it (under the header it came in, by `key`) when it lasts. */
  const refuse = (header: string, key: string, err: unknown): never => {
    if (
      refused !== undefined &&
      header.length <= MAX_REMEMBERED &&
      err instanceof UnauthorizedError &&
      isLasting(err)
    ) {
      const description = (err.details as { description?: unknown } | undefined)?.description;
      if (typeof description === 'string') refused.set(key, new Refused(header, description));
    }
    return fail(err as UnauthorizedError);
  };
  const hide = options.hideUnauthorized ?? true;
  const localEnv = options.local?.env ?? 'RAMPART_AUTH_TOKEN';
  /** The local token's verification, kept until the token expires or `cacheTtlMs` passes. */
  let localPrincipal: { token: string; info: Promise<AuthInfo>; until: number } | undefined;
  let server: McpServer<any> | undefined;

  /** Verifies a token and caches what it proved under `credential` (the header it came in). */
  const verifyToken = async (
    token: string,
    request?: AuthRequest,
    credential = `Bearer ${token}`,
  ): Promise<AuthInfo> => {
    for (const verifier of verifiers) {
      const info = await verifier(token, request);
      if (info === undefined) continue;
      const left = info.expiresAt === undefined ? cacheTtlMs : info.expiresAt * 1000 - Date.now();
      // `cacheTtlMs: 0` turns the cache off (lru-cache would read a ttl of 0 as "forever").
      if (left > 0 && cacheTtlMs > 0) {
        verified.set(cacheKey(credential), new Verified(credential, info), {
          ttl: Math.min(left, cacheTtlMs),
        });
      }
      return info;
    }
    throw invalidToken('unknown credentials', options.verify === undefined);
  };

  const fail = (err: UnauthorizedError): never => {
    const details = err.details as { error?: string } | undefined;
    publishProtection({ kind: 'auth_failed', reason: details?.error ?? 'missing_token', server });
    throw err;
  };

  const authenticate = (request: AuthRequest): AuthInfo | undefined | Promise<AuthInfo | undefined> => {
    const header = request.header('authorization');
    if (header === undefined || header === '') {
      if (options.anonymous) return undefined;
      return fail(new UnauthorizedError('Authentication required'));
    }
    // A header seen and verified before answers at once: the same bytes, the same principal. (The
    // comparison is not constant-time; reaching it takes a live credential's last 24 characters,
    // and a Map keyed by the whole token compared strings just the same after a hash match.)
    const key = cacheKey(header);
    const hit = verified.get(key);
    if (hit !== undefined && hit.credential === header) return hit.info;
    const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
    if (!match) return fail(invalidToken('expected "Authorization: Bearer <token>"'));
    const before = refused?.get(key);
    if (before !== undefined && before.credential === header) return fail(invalidToken(before.description));
    return verifyToken(match[1], request, header).catch((err) => refuse(header, key, err));
  };

  /** The resource URI for a request: configured, else this host and path. */
  const resourceFor = (request: { header(name: string): string | undefined }, path: string): URL =>
    new URL(options.resource ?? `http://${request.header('host') ?? 'localhost'}${path}`);

  /** RFC 9728 §3.1: the metadata URL inserts the well-known path before the resource's path. */
  const metadataUrl = (resource: URL): string =>
    `${resource.origin}${WELL_KNOWN}${resource.pathname === '/' ? '' : resource.pathname}`;

  const authenticator: Authenticator = {
    authenticate,
    challenge(error, request) {
      const parts = [`resource_metadata=${quote(metadataUrl(resourceFor(request, request.path)))}`];
      const data = error.data as {
        type?: string;
        details?: { error?: string; description?: string; requiredScopes?: string[] };
      };
      const details = data?.details;
      if (data?.type === 'insufficient_scope') {
        parts.unshift('error="insufficient_scope"');
        if (details?.requiredScopes) parts.push(`scope=${quote(details.requiredScopes.join(' '))}`);
      } else if (details?.error) {
        parts.unshift(`error=${quote(details.error)}`);
        if (details.description) parts.push(`error_description=${quote(details.description)}`);
      }
      return `Bearer ${parts.join(', ')}`;
    },
    principalOf(info) {
      return info === undefined ? undefined : identityOf(info);
    },
  };

  const metadata = (request: RouteRequest) => {
    const suffix = request.path.slice(WELL_KNOWN.length);
    const resource = resourceFor(request, suffix === '' ? '/mcp' : suffix);
    const body: Record<string, unknown> = { resource: resource.href, bearer_methods_supported: ['header'] };
    if (options.authorizationServers) body.authorization_servers = options.authorizationServers;
    if (options.scopesSupported) body.scopes_supported = options.scopesSupported;
    if (options.resourceName) body.resource_name = options.resourceName;
    return { status: 200, headers: { 'cache-control': 'max-age=300' }, body };
  };

  const missingScopes = (auth: AuthInfo | undefined, required: string[] | undefined): boolean => {
    if (!required || required.length === 0) return false;
    const granted = auth?.scopes ?? [];
    return required.some((s) => !granted.includes(s));
  };

  /** The scopes an item of a listing requires. */
  const scopesOfItem = (method: string, item: Record<string, unknown>): string[] | undefined => {
    const s = server!;
    switch (method) {
      case 'tools/list':
        return s.tools.get(String(item.name))?.config.scopes;
      case 'prompts/list':
        return s.prompts.get(String(item.name))?.config.scopes;
      case 'resources/templates/list':
        return s.templates.get(String(item.uriTemplate))?.config.scopes;
      default:
        return s.lookup('resources/read', { uri: item.uri })?.config.scopes;
    }
  };

  /**
   * Local connections: the environment's token, verified as a bearer token would be and the result
   * kept as long as the verified-credential cache would keep it (a failure is not kept: the next
   * request tries again); or trusted (`undefined`).
   */
  const local = async (): Promise<AuthInfo | 'trusted'> => {
    const token = process.env[localEnv];
    if (!token) {
      if (options.local?.required) throw new UnauthorizedError(`Authentication required: set ${localEnv}`);
      return 'trusted';
    }
    const now = Date.now();
    if (localPrincipal === undefined || localPrincipal.token !== token || now >= localPrincipal.until) {
      const entry = { token, info: verifyToken(token), until: Number.POSITIVE_INFINITY };
      localPrincipal = entry;
      entry.info.then(
        (info) => {
          const expires = info.expiresAt === undefined ? Number.POSITIVE_INFINITY : info.expiresAt * 1000;
          entry.until = Math.min(now + cacheTtlMs, expires);
        },
        () => {
          if (localPrincipal === entry) localPrincipal = undefined;
        },
      );
    }
    return (await localPrincipal.info) ?? 'trusted';
  };

  /** The scopes of every resource a `subscriptions/listen` subscribes to. */
  const listenScopes = (ctx: Context<any>): void => {
    const uris = (ctx.params.notifications as { resourceSubscriptions?: unknown } | undefined)
      ?.resourceSubscriptions;
    if (!Array.isArray(uris)) return;
    for (const uri of uris) {
      if (typeof uri !== 'string') continue;
      const needed = server!.lookup('resources/subscribe', { uri })?.config.scopes;
      if (!missingScopes(ctx.auth, needed)) continue;
      if (ctx.auth === undefined) throw new UnauthorizedError('Authentication required');
      throw new InsufficientScopeError(needed!);
    }
  };

  /** Scope checks and listing filters, once the principal is known. */
  const authorised = (ctx: Context<any>, next: () => Promise<unknown>): Promise<unknown> => {
    const ref = server?.lookup(ctx.method, ctx.params);
    const required = ref?.config.scopes;
    if (missingScopes(ctx.auth, required)) {
      if (ctx.auth === undefined) throw new UnauthorizedError('Authentication required');
      throw new InsufficientScopeError(required!);
    }
    // A 2026-07-28 listen names the resources it subscribes to: each is checked as a subscribe is.
    if (ctx.method === 'subscriptions/listen' && server !== undefined) listenScopes(ctx);
    const field = LISTINGS[ctx.method];
    if (field === undefined || !hide || server === undefined) return next();
    return next().then((value) => {
      const result = value as Record<string, unknown>;
      const items = result?.[field];
      if (!Array.isArray(items)) return result;
      // An index loop, and a new array only once something is hidden: listings are frozen, and on
      // Node 20 `filter` over a frozen array of 100 tools took ~3–4 µs against ~0.2.
      let visible: unknown[] | undefined;
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        const hidden = missingScopes(ctx.auth, scopesOfItem(ctx.method, item));
        if (hidden && visible === undefined) visible = items.slice(0, i);
        else if (!hidden && visible !== undefined) visible.push(item);
      }
      return visible === undefined ? result : Object.assign({}, result, { [field]: visible });
    });
  };

  // Not `async`: on HTTP the transport has already authenticated, so the common path adds no promise.
  const middleware = ((ctx, next) => {
    if (ctx.auth !== undefined) return authorised(ctx, next);
    const headers = ctx.extra?.requestInfo?.headers;
    if (headers !== undefined) {
      // A network transport that did not authenticate: do it here, from its headers.
      const header = (name: string) => {
        const v = headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      return Promise.resolve(authenticate({ header, path: '' })).then((info) => {
        ctx.auth = info;
        return authorised(ctx, next);
      });
    }
    return local().then((principal) => {
      if (principal === 'trusted') return next();
      ctx.auth = principal;
      return authorised(ctx, next);
    });
  }) as AuthMiddleware;
  middleware.authenticator = authenticator;
  middleware.verifyToken = (token) => verifyToken(token);
  middleware.install = (s) => {
    server = s;
    s.authenticator = authenticator;
    s.route(WELL_KNOWN, metadata);
    s.route(`${WELL_KNOWN}/*`, metadata);
  };
  return middleware;
}
