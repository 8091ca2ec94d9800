/**
 * The WebSocket transport, server side, on `ws` (an optional peer dependency): the HTTP host serves it
 * at `/ws` (subprotocol `mcp`) next to `/mcp`. One connection is one session: the legacy era's
 * `initialize` handshake, or 2026-07-28 requests each carrying their `_meta` envelope. Messages are
 * JSON-RPC text frames. Close codes say why: 1008 policy (origin, authentication, expired token),
 * 1009 too big, 1003 binary frames, 1001 server shutting down, 1011 an unexpected server error.
 * Ping/pong heartbeats find dead peers; reading pauses while the socket's send buffer is above its
 * high-water mark.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { hasPeer, requirePeer } from '../optional-peer.js';
import { toRampartError } from '../protocol/errors.js';
import { ErrorCode, failure, type JsonRpcMessage } from '../protocol/jsonrpc.js';
import { stringifyMessage } from '../protocol/serialize.js';
import { newCorrelationId } from '../server/correlation.js';
import type { McpServer } from '../server/server.js';
import type { Session } from '../session/session.js';
import { publishTraffic } from './diagnostics.js';
import type { AuthInfo, MessageExtra, Transport } from './types.js';

export interface WebSocketOptions {
  /** Path of the endpoint. Default `/ws`. */
  path?: string;
  /** Largest message, in bytes; bigger ones close the connection with 1009. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Ping interval; a peer that has not answered the previous ping is dropped. Default 30 s. */
  heartbeatMs?: number;
  /** Bytes queued for sending above which reading pauses. Default 1 MiB. */
  highWaterMark?: number;
  /** Open connections at most; beyond it the upgrade answers 503. Default 10 000. */
  maxConnections?: number;
}

/** WebSocket close codes Rampart uses (RFC 6455 §7.4.1). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  UnsupportedData: 1003,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
} as const;

/** Longest close reason, in UTF-8 bytes: a close frame's payload is 125 bytes, 2 of them the code (RFC 6455 §5.5). */
const MAX_REASON_BYTES = 123;

/** A close reason cut to what a close frame can carry, by UTF-8 bytes, never inside a character. */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_REASON_BYTES) return reason;
  const bytes = Buffer.from(reason);
  let end = MAX_REASON_BYTES;
  // bytes[end] is the first byte left out: while it continues a character, that character goes too.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString();
}

/** Whether `ws` can be loaded (the host turns the endpoint on by default only then). */
export function websocketAvailable(): boolean {
  return hasPeer('ws');
}

/** The Transport of one WebSocket connection. */
export class WebSocketServerTransport implements Transport {
  onmessage?: (message: any, extra?: MessageExtra) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  readonly sessionId: string;
  private closed = false;
  private paused = false;
  /** Close code and reason used when the session closes the transport. */
  closeWith: { code: number; reason: string } = { code: CloseCode.GoingAway, reason: 'server shutting down' };

  constructor(
    private readonly socket: WebSocket,
    private readonly extra: MessageExtra,
    private readonly highWaterMark: number,
    id: string,
  ) {
    this.sessionId = id;
  }

  async start(): Promise<void> {
    this.socket.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
    this.socket.on('close', () => this.closed || this.finish());
    this.socket.on('error', (err) => this.onerror?.(err));
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.end(CloseCode.UnsupportedData, 'binary frames are not supported: send JSON-RPC text frames');
      return;
    }
    const text = data.toString('utf8');
    publishTraffic('websocket', 'in', text);
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      void this.send(
        failure(null, {
          code: ErrorCode.ParseError,
          message: 'Parse error',
          data: { type: 'parse_error', correlationId: newCorrelationId() },
        }),
      );
      return;
    }
    this.onmessage?.(message, this.extra);
  }

  send(message: JsonRpcMessage): Promise<void> {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) {
      return Promise.reject(new Error('WebSocket is closed'));
    }
    const text = stringifyMessage(message);
    publishTraffic('websocket', 'out', text);
    return new Promise((resolve, reject) => {
      this.socket.send(text, (err) => {
        if (this.paused && this.socket.bufferedAmount < this.highWaterMark) {
          this.paused = false;
          this.socket.resume();
        }
        if (err) reject(err);
        else resolve();
      });
      // A peer that does not read: stop reading its requests until it catches up.
      if (!this.paused && this.socket.bufferedAmount >= this.highWaterMark) {
        this.paused = true;
        this.socket.pause();
      }
    });
  }

  /** Closes the connection with a code and reason (the session ends with it). */
  end(code: number, reason: string): void {
    this.closeWith = { code, reason };
    void this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(this.closeWith.code, closeReason(this.closeWith.reason));
    }
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }

  /** Sends a heartbeat ping (the endpoint counts the pongs). */
  ping(): void {
    try {
      this.socket.ping();
    } catch {
      this.terminate();
    }
  }

  /** Drops a connection that stopped answering pings. */
  terminate(): void {
    this.socket.terminate();
    this.finish();
  }
}

/** Checks the request's Host and Origin; the HTTP router supplies it. */
export type OriginCheck = (header: (name: string) => string | undefined) => boolean;

/** The WebSocket endpoint of one server. */
export class WebSocketEndpoint {
  readonly path: string;
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<WebSocketServerTransport, { session: Session; alive: boolean }>();
  private readonly heartbeat: NodeJS.Timeout;
  private seq = 0;
  private closing = false;

  constructor(
    private readonly server: McpServer<any>,
    private readonly options: WebSocketOptions = {},
    private readonly originAllowed: OriginCheck = () => true,
  ) {
    const { WebSocketServer: Server } = requirePeer<typeof import('ws')>('ws', 'The WebSocket transport');
    this.path = options.path ?? '/ws';
    this.wss = new Server({
      noServer: true,
      maxPayload: options.maxMessageBytes ?? 4 * 1024 * 1024,
      handleProtocols: (protocols) => (protocols.has('mcp') ? 'mcp' : false),
    });
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs ?? 30_000);
    this.heartbeat.unref();
  }

  /** Upgraded connections not yet wired to a session (their credentials being checked). */
  private accepting = 0;

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Handles an HTTP upgrade for this endpoint's path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    // Connections still being authenticated count too: slow handshakes could otherwise pile up past the bound.
    if (this.closing || this.connections.size + this.accepting >= (this.options.maxConnections ?? 10_000)) {
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => void this.accept(ws, req, header));
  }

  private async accept(
    ws: WebSocket,
    req: IncomingMessage,
    header: (name: string) => string | undefined,
  ): Promise<void> {
    // Until the transport listens, a protocol error from the peer (invalid UTF-8, an oversized frame),
    // even on a connection being refused, would be an unhandled 'error' event: the process would exit.
    const early = (err: Error) =>
      this.server.logger.warn({ err }, 'WebSocket error before the session started');
    ws.on('error', early);
    // Nothing is read until the session is wired (the client may send at once; auth may take a while).
    ws.pause();
    let transport: WebSocketServerTransport | undefined;
    this.accepting++;
    try {
      const admitted = await this.admit(ws, header);
      if (admitted === undefined) return;
      // The peer may have left while we waited (its session would hang on a dead socket, counted
      // until a heartbeat reaps it), or the endpoint begun to close (close() would miss the session).
      if (ws.readyState !== ws.OPEN) return;
      if (this.closing) {
        refuse(ws, CloseCode.GoingAway, 'server shutting down');
        return;
      }
      const extra: MessageExtra = {
        authInfo: admitted.auth,
        requestInfo: { headers: req.headers, remoteAddress: req.socket.remoteAddress },
      };
      transport = new WebSocketServerTransport(
        ws,
        extra,
        this.options.highWaterMark ?? 1024 * 1024,
        `ws${++this.seq}`,
      );
      // The connection is the session, in both eras.
      extra.sessionId = transport.sessionId;
      await this.wire(transport, ws, admitted.auth);
      ws.off('error', early);
    } catch (err) {
      // The upgrade calls accept() without awaiting it: nothing may escape as an unhandled rejection.
      refuse(ws, CloseCode.InternalError, 'internal error');
      transport?.end(CloseCode.InternalError, 'internal error');
      this.server.logger.error({ err }, 'WebSocket connection failed');
    } finally {
      this.accepting--;
    }
  }

  /** Checks origin and credentials; undefined if the connection was refused. */
  private async admit(
    ws: WebSocket,
    header: (name: string) => string | undefined,
  ): Promise<{ auth?: AuthInfo } | undefined> {
    // Browsers cannot read the status of a refused upgrade: policy refusals are close codes, with a reason.
    if (!this.originAllowed(header)) {
      refuse(ws, CloseCode.PolicyViolation, 'forbidden: Host or Origin not allowed');
      return undefined;
    }
    const authenticator = this.server.authenticator;
    if (!authenticator) return {};
    let auth: AuthInfo | undefined;
    try {
      auth = await authenticator.authenticate({ header, path: this.path });
    } catch (err) {
      const error = toRampartError(err);
      if (error.code !== ErrorCode.Unauthorized && error.code !== ErrorCode.Forbidden) {
        // The authenticator broke (its database is down, say): not the peer's fault, and logged, as over HTTP.
        this.server.logger.error({ err }, 'authentication failed');
        refuse(ws, CloseCode.InternalError, 'internal error');
        return undefined;
      }
      refuse(ws, CloseCode.PolicyViolation, `unauthorized: ${error.message}`);
      return undefined;
    }
    return { auth };
  }

  /** Attaches the connection's session, counts the connection, and starts reading. */
  private async wire(
    transport: WebSocketServerTransport,
    ws: WebSocket,
    auth: AuthInfo | undefined,
  ): Promise<void> {
    const session = this.server.attach(transport);
    // A dropped connection cannot receive answers: abort its handlers at once.
    session.drainOnPeerClose = 0;
    const entry = { session, alive: true };
    this.connections.set(transport, entry);
    ws.on('pong', () => {
      entry.alive = true;
    });
    const previous = transport.onclose;
    transport.onclose = () => {
      this.connections.delete(transport);
      previous?.();
    };
    await transport.start();
    ws.resume();
    // A token that expires ends the connection it authenticated.
    if (auth?.expiresAt !== undefined) {
      const ms = auth.expiresAt * 1000 - Date.now();
      const timer = setTimeout(
        () => transport.end(CloseCode.PolicyViolation, 'unauthorized: token expired'),
        Math.max(0, Math.min(ms, 2 ** 31 - 1)),
      );
      timer.unref();
      ws.once('close', () => clearTimeout(timer));
    }
  }

  private beat(): void {
    for (const [transport, entry] of this.connections) {
      if (!entry.alive) {
        transport.terminate();
        continue;
      }
      entry.alive = false;
      transport.ping();
    }
  }

  /** Stops accepting, lets in-flight requests finish for `drainMs`, then closes with 1001. */
  async close(drainMs = 5_000): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeat);
    await Promise.all([...this.connections.values()].map((e) => e.session.close(drainMs)));
    this.connections.clear();
    this.wss.close();
  }
}

/** Closes a connection that gets no session; reading resumes, since the close handshake needs the peer's answer. */
function refuse(ws: WebSocket, code: number, reason: string): void {
  ws.resume();
  ws.close(code, closeReason(reason));
}
