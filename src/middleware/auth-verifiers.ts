/**
 * The credential verifiers behind `auth()`: static API keys (stored as SHA-256 hashes, compared in
 * constant time), JWT bearer tokens (jose, an optional peer dependency: JWKS URL or keys, issuer,
 * audience, expiry with clock skew), and custom functions. Each answers a principal, `undefined`
 * ("not mine, ask the next"), or throws an UnauthorizedError.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type * as Jose from 'jose';
import { requirePeer } from '../optional-peer.js';
import { UnauthorizedError } from '../protocol/errors.js';
import type { AuthInfo, AuthRequest } from '../transports/types.js';

/** A verifier: the principal, `undefined` when the token is not its kind, or a thrown error. */
export type Verifier = (token: string, request: AuthRequest | undefined) => Promise<AuthInfo | undefined>;

/** One API key: the key itself (hashed at start-up, never kept) or its hash, and who it belongs to. */
export interface ApiKey {
  /** The key in clear (read from the environment, say). Only its SHA-256 is kept. */
  key?: string;
  /** `sha256:<hex>` (or bare hex) of the key, for keys stored hashed at rest. */
  hash?: string;
  /** The principal the key authenticates. Default: `key:<first 8 hex of the hash>`. */
  subject?: string;
  scopes?: string[];
}

/** Refusals that may not hold a moment later (the keys could not be fetched, say): never cached. */
const transient = new WeakSet<UnauthorizedError>();

/**
 * The invalid-token error, with the RFC 6750 error code in details (for the challenge). `lasting`
 * false marks a refusal that says nothing about the token itself, which `auth()` does not remember.
 */
export function invalidToken(description: string, lasting = true): UnauthorizedError {
  const err = new UnauthorizedError(`Invalid token: ${description}`, {
    details: { error: 'invalid_token', description },
  });
  return lasting ? err : notLasting(err);
}

/** Marks a refusal as one `auth()` must not remember (see `invalidToken`). */
export function notLasting(err: UnauthorizedError): UnauthorizedError {
  transient.add(err);
  return err;
}

/** Whether a refusal holds for its token whenever it comes again, as far as can be told (see `invalidToken`). */
export function isLasting(err: UnauthorizedError): boolean {
  return !transient.has(err);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** Verifies static API keys. Every stored hash is compared, so timing does not say which matched. */
export function apiKeyVerifier(keys: Array<ApiKey | string>): Verifier {
  const entries = keys.map((entry) => {
    const k: ApiKey = typeof entry === 'string' ? { key: entry } : entry;
    let digest: Buffer;
    if (k.key !== undefined) digest = sha256(k.key);
    else if (k.hash !== undefined) digest = Buffer.from(k.hash.replace(/^sha256:/i, ''), 'hex');
    else throw new TypeError('auth: an API key needs `key` or `hash`');
    if (digest.length !== 32) throw new TypeError('auth: an API key hash must be 64 hex digits of SHA-256');
    return {
      digest,
      subject: k.subject ?? `key:${digest.toString('hex').slice(0, 8)}`,
      scopes: k.scopes ?? [],
    };
  });
  return async (token) => {
    const presented = sha256(token);
    let match: (typeof entries)[number] | undefined;
    for (const entry of entries) if (timingSafeEqual(presented, entry.digest) && !match) match = entry;
    if (!match) return undefined;
    return { token, subject: match.subject, clientId: match.subject, scopes: match.scopes };
  };
}

export interface JwtOptions {
  /** Where the authorization server publishes its keys; fetched and cached, refetched on an unknown `kid`. */
  jwksUrl?: string;
  /** Keys given directly: a JWKS (`{ keys: [...] }`), one JWK, or a shared secret (HS256). */
  keys?: { keys: Record<string, unknown>[] } | Record<string, unknown> | string;
  /** Accepted `iss` values. Required. */
  issuer: string | string[];
  /** Accepted `aud` values. Default: the `resource` given to `auth()`. */
  audience?: string | string[];
  /** Accepted algorithms. Default: what the key allows (RS256, ES256, EdDSA... never `none`). */
  algorithms?: string[];
  /** Clock skew tolerated on `exp`/`nbf`, in seconds. Default 30. */
  clockToleranceSec?: number;
  /** Least time between JWKS refetches, in milliseconds (key rotation). Default 30 000. */
  jwksCooldownMs?: number;
}

const looksLikeJwt = (token: string) => /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);

function scopesOf(payload: Record<string, unknown>): string[] {
  const raw = payload.scope ?? payload.scp;
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

/** Verifies JWT bearer tokens with jose. */
export function jwtVerifier(options: JwtOptions, defaultAudience: string | undefined): Verifier {
  const audience = options.audience ?? defaultAudience;
  if (audience === undefined) {
    throw new TypeError('auth: JWT verification needs an audience (jwt.audience, or auth({ resource }))');
  }
  if (!options.jwksUrl && !options.keys) throw new TypeError('auth: JWT verification needs jwksUrl or keys');
  // jose and the key are loaded once, at the first token.
  let loaded: Promise<{ jose: typeof Jose; key: unknown }> | undefined;
  const load = async () => {
    const jose = requirePeer<typeof Jose>('jose', 'auth({ jwt })');
    const keys = options.keys;
    let key: unknown;
    if (options.jwksUrl) {
      key = jose.createRemoteJWKSet(new URL(options.jwksUrl), {
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
      });
    } else if (typeof keys === 'string') key = new TextEncoder().encode(keys);
    else if (Array.isArray((keys as { keys?: unknown }).keys)) key = jose.createLocalJWKSet(keys as never);
    else key = await jose.importJWK(keys as never);
    return { jose, key };
  };
  return async (token) => {
    if (!looksLikeJwt(token)) return undefined;
    loaded ??= load();
    const { jose, key } = await loaded;
    const tolerance = options.clockToleranceSec ?? 30;
    // An expired token is refused before its signature is checked: refusing it grants nothing, and
    // the check (WebCrypto, on the thread pool) costs tens of microseconds a token.
    if (expired(jose, token, tolerance)) throw invalidToken('token expired');
    try {
      const { payload } = await jose.jwtVerify(token, key as never, {
        issuer: options.issuer,
        audience,
        algorithms: options.algorithms,
        clockTolerance: tolerance,
        requiredClaims: ['exp'],
      });
      return {
        token,
        subject: payload.sub,
        clientId: (payload.client_id ?? payload.azp ?? payload.sub) as string | undefined,
        scopes: scopesOf(payload),
        expiresAt: payload.exp,
        extra: { claims: payload },
      };
    } catch (err) {
      throw invalidToken(describeJoseError(err), lasting(err));
    }
  };
}

/** Whether the token's `exp`, read without verifying it, passed more than `tolerance` seconds ago. */
function expired(jose: typeof Jose, token: string, tolerance: number): boolean {
  let exp: unknown;
  try {
    exp = jose.decodeJwt(token).exp;
  } catch {
    return false; // jwtVerify says what is wrong with it
  }
  return typeof exp === 'number' && exp <= Math.floor(Date.now() / 1000) - tolerance;
}

/**
 * Whether jose's refusal holds for the token whenever it comes again. Not when it depends on the time
 * (`nbf` still ahead) or on keys that may yet appear (a key id the JWKS lacks, until it is refetched
 * after a rotation), nor when it says nothing about the token (the JWKS could not be fetched).
 */
function lasting(err: unknown): boolean {
  const e = err as { code?: string; claim?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWS_INVALID':
      return true;
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return e.claim !== 'nbf';
    default:
      return false;
  }
}

/** A short, safe reason from a jose error (never the token or key material). */
function describeJoseError(err: unknown): string {
  const e = err as { code?: string; claim?: string; message?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return 'token expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `${e.claim ?? 'claim'} claim check failed`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature verification failed';
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'no key matches the token';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'algorithm not allowed';
    case 'ERR_JWT_INVALID':
    case 'ERR_JWS_INVALID':
      return 'malformed token';
    default:
      return 'token could not be verified';
  }
}
