/**
 * The Transport interface: how JSON-RPC messages reach a server and leave it. It is shaped like the
 * official SDK's Transport, so a Rampart transport can also carry an SDK client, and vice versa.
 * See docs in README ("Custom transports").
 */
import type { JsonRpcId, JsonRpcMessage } from '../protocol/jsonrpc.js';

/** Who sent a message: what the transport knows about the connection it arrived on. */
export interface MessageExtra {
  /** The transport-level session id (e.g. `Mcp-Session-Id`), when the transport has one. */
  sessionId?: string;
  /** The authenticated principal, when the transport authenticated the message. */
  authInfo?: {
    token?: string;
    clientId?: string;
    scopes?: string[];
    expiresAt?: number;
    extra?: Record<string, unknown>;
  };
  /** A correlation id the transport received or assigned (e.g. HTTP `X-Request-Id`). */
  correlationId?: string;
  /** Transport request details (HTTP headers and the like). */
  requestInfo?: { headers?: Record<string, string | string[] | undefined>; url?: URL };
}

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
}
