/**
 * The Transport interface: how JSON-RPC messages reach a server and leave it. It is shaped like the
 * official SDK's Transport, so a Rampart transport can also carry an SDK client, and vice versa.
 * See docs/transports.md for writing one.
 */
import type { JsonRpcId, JsonRpcMessage } from '../protocol/jsonrpc.js';

/** Who sent a message: what the transport knows about the connection it arrived on. */
export interface MessageExtra {
  /** The transport-level session id (e.g. `Mcp-Session-Id`), when the transport has one. */
  sessionId?: string;
  /** The authenticated principal, when the transport authenticated the message. */
  authInfo?: AuthInfo;
  /** A correlation id the transport received or assigned (e.g. HTTP `X-Request-Id`). */
  correlationId?: string;
  /** Transport request details (HTTP headers and the like). */
  requestInfo?: {
    headers?: Record<string, string | string[] | undefined>;
    url?: URL;
    /** The peer's address (the socket's; proxies are the rate limiter's business). */
    remoteAddress?: string;
  };
}

/** An authenticated principal (shaped like the official SDK's AuthInfo, plus `subject`). */
export interface AuthInfo {
  token?: string;
  clientId?: string;
  /** The user or service the credentials belong to (JWT `sub`, an API key's owner...). */
  subject?: string;
  scopes?: string[];
  /** Expiry, in seconds since the epoch. */
  expiresAt?: number;
  /** Everything else the verifier knows (JWT claims, an API key's metadata). */
  extra?: Record<string, unknown>;
}

/** What an authenticator sees of a network request (HTTP, or a WebSocket upgrade). */
export interface AuthRequest {
  header(name: string): string | undefined;
  /** Path of the endpoint the request reached (e.g. `/mcp`). */
  path: string;
}

/**
 * Authenticates network requests before any of their messages is handled. The `auth()` middleware
 * installs one on the server; transports that carry credentials (HTTP, WebSocket) call it.
 */
export interface Authenticator {
  /**
   * The principal of a request: `undefined` when it carries no credentials and anonymous access is
   * allowed; rejects (or throws) an UnauthorizedError otherwise. Cached tokens answer synchronously.
   */
  authenticate(request: AuthRequest): AuthInfo | undefined | Promise<AuthInfo | undefined>;
  /** The `WWW-Authenticate` value for a 401/403 answer carrying `error`. */
  challenge(error: { code: number; data?: unknown }, request: AuthRequest): string | undefined;
  /** A stable identity for session binding (another principal cannot use the session). */
  principalOf(auth: AuthInfo | undefined): string | undefined;
}

/**
 * A send (or close) already done: transports may return it for what they handed on synchronously.
 * The session recognises it and skips the failure handler it would attach to any other promise.
 */
export const SENT: Promise<void> = Promise.resolve();

export interface SendOptions {
  /** The request this message belongs to (lets HTTP route it onto that request's stream). */
  relatedRequestId?: JsonRpcId;
}

/**
 * A bidirectional message channel. `start()` begins delivery to `onmessage`; `send()` resolves once
 * the message is handed to the wire (respecting backpressure); `close()` is idempotent and fires
 * `onclose` once.
 */
export interface Transport {
  start(): Promise<void>;
  send(message: JsonRpcMessage, options?: SendOptions): Promise<void>;
  close(): Promise<void>;
  /** Receives each parsed message. It may be malformed: the server validates it. Arrays are batches. */
  onmessage?: (message: any, extra?: MessageExtra) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  sessionId?: string;
  /**
   * Optional: told that a request will get no answer (the client cancelled it), so a transport that
   * waits for each request's answer (an HTTP POST) can stop waiting.
   */
  unanswered?(id: JsonRpcId): void;
}
