/**
 * Streamable HTTP (MCP "Transports › Streamable HTTP"), both eras on one endpoint:
 * - 2026-07-28: every POST stands alone (per-request `_meta` envelope); JSON or SSE response;
 *   `subscriptions/listen` streams; closing the stream cancels the request.
 * - 2025-03-26 … 2025-11-25: `initialize` opens a session (`Mcp-Session-Id`), later POSTs name it,
 *   GET opens the standalone server→client stream, DELETE ends the session; idle sessions are
 *   reaped. Streams are resumable with `Last-Event-ID` through an EventStore. A stateless mode
 *   serves legacy requests without sessions.
 */
import { randomBytes } from 'node:crypto';
import { InvalidRequestError, toRampartError } from '../../protocol/errors.js';
import {
  checkMessage,
  ErrorCode,
  failure,
  type JsonRpcErrorObject,
  type JsonRpcId,
} from '../../protocol/jsonrpc.js';
import {
  isModernVersion,
  isSupportedVersion,
  META,
  MODERN_VERSIONS,
  versionAtLeast,
} from '../../protocol/versions.js';
import { correlationIdOf, newCorrelationId } from '../../server/correlation.js';
import type { McpServer } from '../../server/server.js';
import { LiveList, type LiveNode } from '../../session/live-list.js';
import { serialId } from '../../session/serial.js';
import type { Session } from '../../session/session.js';
import { publishTraffic } from '../diagnostics.js';
import type { AuthInfo, MessageExtra } from '../types.js';
import { type EventStore, MemoryEventStore } from './event-store.js';
import { BodyTooLargeError, type HttpExchange } from './exchange.js';
import { checkModernHeaders } from './headers.js';
import { HttpSessionTransport, Outbox, OutboxVariants, RequestTransport } from './outbox.js';
import { SSE_HEADERS, type SseOptions, SseStream } from './sse.js';

export interface StreamableHttpOptions {
  /** Legacy-era sessions (`Mcp-Session-Id`). `false` serves legacy requests statelessly. Default true. */
  stateful?: boolean;
  /** Answer with JSON rather than SSE whenever the client accepts both. Default false. */
  jsonResponse?: boolean;
  /** Sessions idle this long are closed. Default 30 min. */
  sessionIdleTtlMs?: number;
  /** Open legacy sessions at most; `initialize` beyond it gets 503. Default 10 000. */
  maxSessions?: number;
  /** Largest POST body. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Where SSE events are kept for `Last-Event-ID` replay; `false` disables resumability. */
  eventStore?: EventStore | false;
  /** SSE keep-alive, slow-client bound and retry hint. */
  sse?: SseOptions;
}

interface LegacySession {
  session: Session;
  transport: HttpSessionTransport;
  lastSeen: number;
  /** The principal that opened the session: nobody else may use it. */
  principal: string | undefined;
  /** How this session's POSTs are answered (with its `Mcp-Session-Id`). */
  variants: OutboxVariants;
}

/** Who sent an HTTP request, as the server's authenticator (if any) established. */
export class Caller {
  constructor(
    readonly auth: AuthInfo | undefined,
    /** A stable identity for session binding (AuthInfo's subject or client id). */
    readonly principal: string | undefined,
  ) {}
}

export const ANONYMOUS = new Caller(undefined, undefined);

/**
 * Authenticates a request before its body is read (MCP "Authorization"): no or bad credentials
 * answer 401 with a `WWW-Authenticate` challenge naming the protected-resource metadata, and resolve
 * `undefined` (the request is answered). The exchange is the AuthRequest (header() and path).
 */
export function authenticateHttp(
  server: McpServer<any>,
  ex: HttpExchange,
): Caller | undefined | Promise<Caller | undefined> {
  const authenticator = server.authenticator;
  if (authenticator === undefined) return ANONYMOUS;
  // A cached token answers synchronously: no promise on the common path.
  let pending: AuthInfo | undefined | Promise<AuthInfo | undefined>;
  try {
    pending = authenticator.authenticate(ex);
  } catch (err) {
    return refuseHttp(server, ex, err);
  }
  if (!(pending instanceof Promise)) return new Caller(pending, authenticator.principalOf(pending));
  return pending.then(
    (auth) => new Caller(auth, authenticator.principalOf(auth)),
    (err: unknown) => refuseHttp(server, ex, err),
  );
}

/** Answers a request whose credentials were refused: 401/403 with a challenge, or 500. */
function refuseHttp(server: McpServer<any>, ex: HttpExchange, err: unknown): undefined {
  const authenticator = server.authenticator!;
  const error = toRampartError(err);
  const body = error.toJsonRpc(requestIdOf(ex));
  if (error.code !== ErrorCode.Unauthorized && error.code !== ErrorCode.Forbidden) {
    server.logger.error({ err }, 'authentication failed');
    rejectHttp(ex, 500, body);
    return undefined;
  }
  const value = authenticator.challenge(body, ex);
  rejectHttp(
    ex,
    error.code === ErrorCode.Unauthorized ? 401 : 403,
    body,
    null,
    value === undefined ? {} : { 'www-authenticate': value },
  );
  return undefined;
}

const JSON_TYPE = { 'content-type': 'application/json' };

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The error for a POST of notifications and responses only when one of them is malformed: the
 * server cannot accept it, so it answers 400 rather than 202.
 */
function malformedInput(body: Record<string, any> | Record<string, any>[]): JsonRpcErrorObject | undefined {
  const count = Array.isArray(body) ? body.length : 1;
  for (let i = 0; i < count; i++) {
    const bad = checkMessage(Array.isArray(body) ? body[i] : body);
    if (bad !== undefined)
      return { code: bad.error.code, message: bad.error.message, data: { type: 'invalid_request' } };
  }
  return undefined;
}

/**
 * Whether a session's SSE streams open with a priming event: from 2025-11-25, which asks for one
 * (clients of earlier versions may not take an event with empty data).
 */
function primes(session: Session): boolean {
  return versionAtLeast(session.protocolVersion, '2025-11-25');
}

/** A request (a method and an id), not a notification or a response. */
function isRequestMessage(m: Record<string, any>): boolean {
  return 'method' in m && m.id !== undefined && m.id !== null;
}

/**
 * A request whose id is neither a string nor a (finite) number — JSON-RPC allows no other, and MCP
 * forbids null: no answer could be routed back to it.
 */
function hasInvalidId(m: Record<string, any>): boolean {
  if (!('method' in m) || !('id' in m)) return false;
  const id = m.id;
  return typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id));
}

/** The answer to a request whose id is still in flight on another POST of the same session. */
function inFlight(id: JsonRpcId) {
  return failure(id, new InvalidRequestError(`Request id ${id} is already in flight`).toJsonRpc());
}

/** The headers of a failed `initialize`'s answer: no `Mcp-Session-Id`, as no session was opened. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The `retry:` hint (ms) streams end with on shutdown, unless `sse.retryMs` sets one. */
export const SHUTDOWN_RETRY_MS = 1_000;

/** Whether a Content-Type is JSON's: `application/json`, parameters (`; charset=utf-8`) aside. */
export function isJsonType(type: string | undefined): boolean {
  if (type === undefined) return false;
  const semicolon = type.indexOf(';');
  return (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase() === 'application/json';
}

function accepts(ex: HttpExchange, type: string): boolean {
  const accept = ex.header('accept');
  if (accept === undefined) return false;
  return accept.includes(type) || accept.includes('*/*');
}

/**
 * The correlation id of an HTTP request, fixed on first use: from its headers (`X-Request-Id`,
 * `traceparent`) or, once the body is known, its `_meta` — else a fresh one. It is echoed as
 * `X-Request-Id` on the response and carried into every context of the request.
 */
export function requestIdOf(ex: HttpExchange, meta?: Record<string, unknown>, metaKey?: string): string {
  ex.correlationId ??=
    correlationIdOf(ex.header('x-request-id'), ex.header('traceparent'), meta, metaKey) ?? newCorrelationId();
  return ex.correlationId;
}

/** A request whose handling failed unexpectedly: logged, and answered 500 if nothing was sent yet. */
export function failSafe(server: McpServer<any>, ex: HttpExchange, err: unknown): void {
  server.logger.error({ err }, 'HTTP request failed');
  if (!ex.responded)
    rejectHttp(ex, 500, {
      code: ErrorCode.InternalError,
      message: 'Internal error',
      data: { type: 'internal' },
    });
}

/** Sends a JSON-RPC error as a whole HTTP response. */
export function rejectHttp(
  ex: HttpExchange,
  status: number,
  error: JsonRpcErrorObject,
  id: JsonRpcId | null = null,
  headers: Record<string, string> = {},
): void {
  const correlationId = requestIdOf(ex);
  // The one error format: every error's data names the request's correlation id.
  const data = error.data;
  const body =
    isObject(data) && data.correlationId === undefined
      ? { code: error.code, message: error.message, data: { ...data, correlationId } }
      : error;
  ex.respond(
    status,
    { 'x-request-id': correlationId, ...JSON_TYPE, ...headers },
    JSON.stringify(failure(id, body)),
  );
}

/** Answers a request that arrives once the endpoint is closing: 503 `shutting_down`, connection closed. */
export function refuseShuttingDown(ex: HttpExchange): void {
  rejectHttp(ex, 503, httpError(ErrorCode.ShuttingDown, 'Server is shutting down', 'shutting_down'), null, {
    connection: 'close',
  });
}

/** What an HTTP request's messages carry to the session: its headers are read only when asked for. */
export class HttpMessageExtra implements MessageExtra {
  private info: HttpRequestInfo | undefined;
  constructor(
    private readonly ex: HttpExchange,
    readonly sessionId: string | undefined,
    readonly correlationId: string,
    readonly authInfo: AuthInfo | undefined,
  ) {}

  get requestInfo(): HttpRequestInfo {
    this.info ??= new HttpRequestInfo(this.ex);
    return this.info;
  }
}

class HttpRequestInfo {
  constructor(private readonly ex: HttpExchange) {}
  get headers(): Record<string, string | string[] | undefined> {
    return this.ex.headers();
  }
  get remoteAddress(): string | undefined {
    return this.ex.remoteAddress;
  }
}

/** Whether a message carries the 2026-07-28 `_meta` envelope (its protocol version). */
function claimsModern(message: Record<string, any>): boolean {
  const meta = message.params?._meta;
  return isObject(meta) && META.protocolVersion in meta;
}

function httpError(code: number, message: string, type: string): JsonRpcErrorObject {
  return { code, message, data: { type } };
}

/** The Streamable HTTP endpoint handler for one server. */
export class StreamableHttp {
  private readonly sessions = new Map<string, LegacySession>();
  /** Per-request sessions in flight (stateless and 2026-07-28 requests); bounded by open requests. */
  private readonly ephemeral = new LiveList<Session>();
  private readonly stateful: boolean;
  private readonly store: EventStore | undefined;
  private readonly ttl: number;
  private readonly maxSessions: number;
  private readonly maxBody: number;
  private readonly reaper: NodeJS.Timeout;
  private closing = false;
  private streamSeq = 0;
  /** Dropped POSTs whose requests still run (`Outbox.orphan`); bounded by `maxSessions`. */
  private orphans = 0;
  /** Ids of per-request sessions: never sent to clients, so a counter is enough. */
  private ephemeralSeq = 0;
  /** How per-request sessions' POSTs are answered. */
  private readonly variants: OutboxVariants;
  private readonly auth = () => this.server.authenticator;

  constructor(
    private readonly server: McpServer<any>,
    private readonly options: StreamableHttpOptions = {},
  ) {
    this.stateful = options.stateful ?? true;
    this.store = options.eventStore === false ? undefined : (options.eventStore ?? new MemoryEventStore());
    this.ttl = options.sessionIdleTtlMs ?? 30 * 60_000;
    this.maxSessions = options.maxSessions ?? 10_000;
    this.maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.variants = new OutboxVariants({}, options.sse, this.auth);
    this.reaper = setInterval(() => this.reap(), Math.min(this.ttl / 2, 60_000));
    this.reaper.unref();
  }

  /** Open legacy sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Handles one HTTP request on the MCP endpoint. Resolves once the request is handed on (not
   * answered); answers what it refuses itself. (No `async`: returning another async method's promise
   * from an async function costs a promise and two microtask turns per request.)
   */
  handle(ex: HttpExchange): Promise<void> | undefined {
    if (this.closing) {
      refuseShuttingDown(ex);
      return undefined;
    }
    if (ex.method !== 'POST') ex.setHeader('x-request-id', requestIdOf(ex));
    const caller = authenticateHttp(this.server, ex);
    if (caller === undefined) return undefined;
    if (!(caller instanceof Promise)) return this.route(ex, caller);
    return caller.then((c) => (c === undefined ? undefined : this.route(ex, c)));
  }

  private route(ex: HttpExchange, caller: Caller): Promise<void> | undefined {
    switch (ex.method) {
      case 'POST':
        return this.post(ex, caller);
      case 'GET':
        return this.get(ex, caller);
      case 'DELETE':
        return this.delete(ex, caller);
      default:
        rejectHttp(
          ex,
          405,
          httpError(ErrorCode.InvalidRequest, 'Method not allowed', 'method_not_allowed'),
          null,
          { allow: 'GET, POST, DELETE' },
        );
        return undefined;
    }
  }

  private post(ex: HttpExchange, caller: Caller): undefined {
    if (!isJsonType(ex.header('content-type'))) {
      rejectHttp(
        ex,
        415,
        httpError(
          ErrorCode.InvalidRequest,
          'Content-Type must be application/json',
          'unsupported_media_type',
        ),
      );
      return undefined;
    }
    if (!accepts(ex, 'application/json') && !accepts(ex, 'text/event-stream')) {
      rejectHttp(
        ex,
        406,
        httpError(
          ErrorCode.InvalidRequest,
          'Accept must include application/json and text/event-stream',
          'not_acceptable',
        ),
      );
      return undefined;
    }
    ex.readBody(this.maxBody, (err, text, bytes) => {
      try {
        if (err === undefined) this.posted(ex, caller, text, bytes);
        else if (err instanceof BodyTooLargeError) {
          rejectHttp(ex, 413, httpError(ErrorCode.InvalidRequest, err.message, 'payload_too_large'), null, {
            connection: 'close',
          });
        } else throw err;
      } catch (failure) {
        failSafe(this.server, ex, failure);
      }
    });
    return undefined;
  }

  /** A POST's body has arrived: parse it and pick the era. */
  private posted(ex: HttpExchange, caller: Caller, text: string, bytes: number | undefined) {
    let body: any;
    try {
      body = JSON.parse(text);
      publishTraffic('http', 'in', bytes ?? text, Array.isArray(body) ? body.length : 1);
    } catch {
      return rejectHttp(ex, 400, httpError(ErrorCode.ParseError, 'Parse error', 'parse_error'));
    }
    // One message or a batch; a single message is not wrapped in an array (nothing allocated for it).
    const batch = Array.isArray(body);
    const first: unknown = batch ? body[0] : body;
    const meta = isObject(first) && isObject(first.params?._meta) ? first.params._meta : undefined;
    ex.setHeader('x-request-id', requestIdOf(ex, meta, this.server.options.correlationMetaKey));
    if (batch ? body.length === 0 || !body.every(isObject) : !isObject(body)) {
      return rejectHttp(ex, 400, httpError(ErrorCode.InvalidRequest, 'Invalid Request', 'invalid_request'));
    }
    if (batch ? body.some(hasInvalidId) : hasInvalidId(body)) {
      const why = 'Invalid Request: id must be a string or a number';
      return rejectHttp(ex, 400, httpError(ErrorCode.InvalidRequest, why, 'invalid_request'));
    }
    const versionHeader = ex.header('mcp-protocol-version')?.trim();
    const modernHeader = versionHeader !== undefined && isModernVersion(versionHeader);
    if (modernHeader || (batch ? body.some(claimsModern) : claimsModern(body))) {
      if (batch) {
        const why = 'Batches are not part of protocol 2026-07-28';
        return rejectHttp(ex, 400, httpError(ErrorCode.InvalidRequest, why, 'invalid_request'));
      }
      return this.modern(ex, body as Record<string, any>, caller);
    }
    return this.legacy(ex, body as Record<string, any> | Record<string, any>[], caller);
  }

  /**
   * The 2026-07-28 validation ladder, before dispatch: the `_meta` envelope (-32602), the standard
   * headers against the body (-32020), then the version (-32022) — each HTTP 400, with the request id.
   */
  private modernRejection(ex: HttpExchange, message: Record<string, any>): JsonRpcErrorObject | undefined {
    const meta = message.params?._meta;
    const missing: string[] = [];
    if (!isObject(meta)) missing.push('_meta');
    else {
      if (!(META.protocolVersion in meta)) missing.push(`_meta.${META.protocolVersion}`);
      if (message.id !== undefined && !isObject(meta[META.clientCapabilities])) {
        missing.push(`_meta.${META.clientCapabilities}`);
      }
    }
    if (missing.length > 0) {
      return {
        code: ErrorCode.InvalidParams,
        message: `Invalid params: missing ${missing.join(', ')}`,
        data: { type: 'invalid_params', details: missing.map((path) => ({ path, message: 'required' })) },
      };
    }
    const headerError = checkModernHeaders(ex, message as never, this.server);
    if (headerError) return headerError;
    const version = meta[META.protocolVersion];
    if (typeof version !== 'string' || !isModernVersion(version)) {
      return {
        code: ErrorCode.UnsupportedProtocolVersion,
        message: `Unsupported protocol version: ${String(version)}`,
        data: { type: 'unsupported_protocol_version', supported: [...MODERN_VERSIONS], requested: version },
      };
    }
    return undefined;
  }

  /** 2026-07-28: one POST, one ephemeral session, answered as JSON or SSE. */
  private modern(ex: HttpExchange, message: Record<string, any>, caller: Caller) {
    const id =
      typeof message.id === 'string' || typeof message.id === 'number'
        ? (message.id as JsonRpcId)
        : undefined;
    const rejection = this.modernRejection(ex, message);
    if (rejection) return rejectHttp(ex, 400, rejection, id ?? null);
    const transport = new RequestTransport(serialId('m', ++this.ephemeralSeq));
    const session = this.server.requestSession(transport);
    const node = this.ephemeral.add(session);
    if (id === undefined || !('method' in message)) {
      session.receive(message, this.extra(ex, undefined, caller));
      const malformed = malformedInput(message);
      if (malformed !== undefined) rejectHttp(ex, 400, malformed);
      else ex.respond(202, {});
      this.release(session, node);
      return;
    }
    const streaming = message.method === 'subscriptions/listen';
    const options = this.variants.get(false, streaming || this.prefersSse(ex), true, streaming);
    const outbox = new Outbox(`${transport.sessionId}/0`, id, ex, undefined, options);
    transport.outbox = outbox;
    // Closures reach properties through locals: V8 pretenures a function literal assigned straight
    // to one, and an old closure keeps its whole request alive through young collections
    // (docs/performance.md).
    const onfinish = () => this.release(session, node);
    outbox.onfinish = onfinish;
    // Closing the stream (or the connection) cancels the request; a cancelled request gets no
    // answer, so the outbox lets go at once (its onfinish releases the session).
    ex.onAbort(() => {
      session.cancel(id, 'client closed the connection');
      outbox.discard();
    });
    session.receive(message, this.extra(ex, undefined, caller));
  }

  private prefersSse(ex: HttpExchange): boolean {
    return (
      accepts(ex, 'text/event-stream') && !(this.options.jsonResponse && accepts(ex, 'application/json'))
    );
  }

  /** Answers 400 to a request whose `MCP-Protocol-Version` this server does not serve (POST, GET, DELETE). */
  private refusesVersion(ex: HttpExchange): boolean {
    const versionHeader = ex.header('mcp-protocol-version');
    if (versionHeader === undefined || isSupportedVersion(versionHeader.trim())) return false;
    rejectHttp(
      ex,
      400,
      httpError(
        ErrorCode.InvalidRequest,
        `Unsupported MCP-Protocol-Version: ${versionHeader}`,
        'unsupported_protocol_version',
      ),
    );
    return true;
  }

  /** Legacy era: sessions (or stateless), JSON or SSE per POST. */
  private legacy(ex: HttpExchange, body: Record<string, any> | Record<string, any>[], caller: Caller) {
    if (this.refusesVersion(ex)) return;
    const batch = Array.isArray(body);
    const isInit = batch ? body.some((m) => m.method === 'initialize') : body.method === 'initialize';
    let entry: LegacySession | undefined;
    if (!this.stateful) {
      // Served statelessly: a per-request session below.
    } else if (isInit) {
      if (batch && body.length > 1) {
        return rejectHttp(
          ex,
          400,
          httpError(ErrorCode.InvalidRequest, 'initialize must be sent alone', 'invalid_request'),
        );
      }
      if (this.sessions.size >= this.maxSessions) {
        return rejectHttp(
          ex,
          503,
          httpError(ErrorCode.Overloaded, 'Too many sessions', 'overloaded'),
          (batch ? body[0] : body).id ?? null,
          { 'retry-after': '5' },
        );
      }
      entry = this.open(caller);
    } else {
      entry = this.find(ex, caller);
      if (entry === undefined) return;
    }
    let session: Session;
    let transport: HttpSessionTransport;
    /** The per-request session's place among the in-flight ones (stateless mode). */
    let node: LiveNode<Session> | undefined;
    if (entry) {
      ({ session, transport } = entry);
      entry.lastSeen = Date.now();
    } else {
      transport = new HttpSessionTransport(serialId('s', ++this.ephemeralSeq), undefined);
      session = this.server.requestSession(transport);
      // No handshake: the version is the header's (checked above), or 2025-03-26 without one.
      session.assumedVersion = ex.header('mcp-protocol-version')?.trim() || '2025-03-26';
      node = this.ephemeral.add(session);
    }
    if (batch) {
      // A batch the session refuses as a whole (no batches on its version, too many messages) is
      // answered here: the session's one error for it has no id to find this POST by.
      const refusal = session.batchRefusal(body.length);
      if (refusal !== undefined) {
        rejectHttp(ex, 400, refusal);
        if (node) this.release(session, node);
        else if (isInit) this.forget(entry!);
        return;
      }
    }
    const variants = entry ? entry.variants : this.variants;
    // The ids of the requests (not notifications or responses) the POST carries.
    const ids = batch ? body.filter(isRequestMessage).map((m) => m.id as JsonRpcId) : undefined;
    const extra = this.extra(ex, entry ? transport.sessionId : undefined, caller);
    if (batch ? ids!.length === 0 : !isRequestMessage(body)) {
      // Notifications and responses only: accepted. (An `initialize` without an id opens nothing.)
      if (entry && isInit) this.forget(entry);
      const malformed = malformedInput(body);
      if (malformed !== undefined) rejectHttp(ex, 400, malformed);
      else ex.respond(202, entry && !isInit ? { 'mcp-session-id': transport.sessionId } : {});
      // Even refused: a malformed response still fails the server->client request it names.
      session.receive(body, extra);
      if (node) this.release(session, node, 1_000);
      return;
    }
    // Ids still in flight on another POST of this session (a per-request session has none).
    const taken = entry === undefined ? undefined : this.taken(transport, batch ? ids! : body.id);
    const useSse = this.prefersSse(ex);
    // `p` first: a bare base-36 count could spell the standalone stream's `get` (21269 does).
    const streamId = serialId(`${transport.sessionId}/p`, ++this.streamSeq);
    const outbox = new Outbox(
      streamId,
      ids ?? (body as Record<string, any>).id,
      ex,
      entry ? this.store : undefined,
      variants.get(batch, useSse, false),
    );
    transport.register(outbox);
    if (entry !== undefined) outbox.prime = primes(session);
    if (node !== undefined) {
      const registered = outbox.onfinish;
      const onfinish = () => {
        registered?.();
        this.release(session, node);
      };
      outbox.onfinish = onfinish;
    } else if (isInit) this.initializing(outbox, entry!);
    let received: Record<string, any> | Record<string, any>[] = body;
    if (taken !== undefined) {
      // Refused here, not by the session: its refusal would be routed to the POST that owns the id.
      for (const id of taken) void outbox.deliver(inFlight(id));
      if (!batch) return;
      received = body.filter((m) => !isRequestMessage(m) || !taken.includes(m.id));
      if (received.length === 0) return;
    }
    ex.onAbort(() => {
      // Stop writing to the dead connection; what follows is recorded for a resumption, if any.
      outbox.dropped();
      // With a store, the stream can be resumed: it goes on as it was. Without, the requests still
      // run to their end (MCP: a disconnection is not a cancellation; the client sends
      // notifications/cancelled for that) and their answers are dropped.
      if (entry && this.store && useSse) return;
      // At most maxSessions of them run on at once: beyond, they are cancelled (and not answered).
      if (this.orphans < this.maxSessions) {
        this.orphans++;
        // However it ends — every answer in, or abandoned by a session closing — it is counted out.
        const registered = outbox.onfinish;
        const onfinish = () => {
          this.orphans--;
          registered?.();
        };
        outbox.onfinish = onfinish;
        outbox.orphan();
        return;
      }
      for (const id of outbox.pending.keys()) {
        if (transport.routes.get(id) === outbox) session.cancel(id, 'client closed the connection');
      }
      outbox.discard();
    });
    session.receive(received, extra);
  }

  /** The ids of `ids` still routed to another POST of the session, if any. */
  private taken(transport: HttpSessionTransport, ids: JsonRpcId | JsonRpcId[]): JsonRpcId[] | undefined {
    if (!Array.isArray(ids)) return transport.routes.has(ids) ? [ids] : undefined;
    const taken = ids.filter((id) => transport.routes.has(id));
    return taken.length === 0 ? undefined : taken;
  }

  /**
   * An `initialize` POST: its session stays only if the answer is a success. A failed (or dropped)
   * one is forgotten, and its answer goes out without `Mcp-Session-Id`.
   */
  private initializing(outbox: Outbox, entry: LegacySession): void {
    let kept = false;
    const registered = outbox.onfinish;
    outbox.onanswer = (response) => {
      kept = !('error' in response);
      if (!kept) outbox.headers = NO_HEADERS;
    };
    outbox.onfinish = () => {
      registered?.();
      if (!kept) this.forget(entry);
    };
  }

  /** Drops a session that never opened (its `initialize` failed or was refused). */
  private forget(entry: LegacySession): void {
    this.sessions.delete(entry.transport.sessionId);
    void entry.session.close();
  }

  /** GET: the standalone server→client stream of a session, or the resumption of a dropped one. */
  private async get(ex: HttpExchange, caller: Caller): Promise<void> {
    if (!accepts(ex, 'text/event-stream')) {
      return rejectHttp(
        ex,
        406,
        httpError(ErrorCode.InvalidRequest, 'Accept must include text/event-stream', 'not_acceptable'),
      );
    }
    if (!this.stateful) {
      return rejectHttp(
        ex,
        405,
        httpError(
          ErrorCode.InvalidRequest,
          'This endpoint is stateless: no GET stream',
          'method_not_allowed',
        ),
        null,
        { allow: 'POST' },
      );
    }
    if (this.refusesVersion(ex)) return;
    const found = this.find(ex, caller);
    if (found === undefined) return;
    const { transport } = found;
    found.lastSeen = Date.now();
    const lastEventId = ex.header('last-event-id');
    const headers = Object.assign({}, SSE_HEADERS, { 'mcp-session-id': transport.sessionId });
    if (lastEventId && this.store) {
      const streamId = await this.store.streamOf(lastEventId);
      if (streamId?.startsWith(`${transport.sessionId}/`)) {
        const stream = new SseStream(ex.stream(200, headers), streamId, this.store, this.options.sse);
        ex.onAbort(() => stream.close());
        for (const event of await this.store.after(lastEventId)) {
          try {
            stream.writeEvent(event.message, event.id);
          } catch {
            // JSON cannot encode it: an answer went out as an internal error, a notification is
            // skipped (the failure was reported when it was first sent).
          }
        }
        const outbox = transport.outboxes.get(streamId);
        if (outbox && !outbox.finished) outbox.resume(stream);
        else if (streamId === transport.standaloneStreamId) this.attachStandalone(transport, stream);
        else stream.close();
        return;
      }
    }
    if (transport.standalone?.isOpen) {
      return rejectHttp(
        ex,
        409,
        httpError(
          ErrorCode.InvalidRequest,
          'A standalone stream is already open for this session',
          'conflict',
        ),
      );
    }
    const stream = new SseStream(
      ex.stream(200, headers),
      transport.standaloneStreamId,
      this.store,
      this.options.sse,
      primes(found.session),
    );
    // A dropped GET frees the slot, so the client can reconnect (and resume with Last-Event-ID).
    ex.onAbort(() => stream.close());
    this.attachStandalone(transport, stream);
  }

  private attachStandalone(transport: HttpSessionTransport, stream: SseStream): void {
    transport.standalone?.close();
    transport.standalone = stream;
  }

  private async delete(ex: HttpExchange, caller: Caller): Promise<void> {
    if (!this.stateful) {
      return rejectHttp(
        ex,
        405,
        httpError(ErrorCode.InvalidRequest, 'This endpoint is stateless: no sessions', 'method_not_allowed'),
        null,
        { allow: 'POST' },
      );
    }
    if (this.refusesVersion(ex)) return;
    const found = this.find(ex, caller);
    if (found === undefined) return;
    this.sessions.delete(found.transport.sessionId);
    await found.session.close();
    ex.respond(200, {});
  }

  /** Looks up the session a request names; answers 400/404 itself when it cannot. */
  private find(ex: HttpExchange, caller: Caller): LegacySession | undefined {
    const id = ex.header('mcp-session-id');
    if (id === undefined) {
      rejectHttp(
        ex,
        400,
        httpError(
          ErrorCode.InvalidRequest,
          'Bad Request: Mcp-Session-Id header is required',
          'session_required',
        ),
      );
      return undefined;
    }
    const entry = this.sessions.get(id);
    if (!entry || entry.session.isClosed) {
      rejectHttp(ex, 404, httpError(ErrorCode.InvalidRequest, 'Session not found', 'session_not_found'));
      return undefined;
    }
    // A session is bound to the principal that opened it: another token cannot use its id.
    if (entry.principal !== caller.principal) {
      rejectHttp(
        ex,
        403,
        httpError(ErrorCode.Forbidden, 'Session belongs to another principal', 'session_forbidden'),
      );
      return undefined;
    }
    return entry;
  }

  private open(caller: Caller): LegacySession {
    const transport = new HttpSessionTransport(randomBytes(16).toString('hex'), this.store);
    const session = this.server.attach(transport);
    const entry: LegacySession = {
      session,
      transport,
      lastSeen: Date.now(),
      principal: caller.principal,
      variants: new OutboxVariants({ 'mcp-session-id': transport.sessionId }, this.options.sse, this.auth),
    };
    this.sessions.set(transport.sessionId, entry);
    const onclose = () => this.sessions.delete(transport.sessionId);
    transport.onclose = onclose;
    return entry;
  }

  private extra(ex: HttpExchange, sessionId: string | undefined, caller: Caller): MessageExtra {
    return new HttpMessageExtra(ex, sessionId, requestIdOf(ex), caller.auth);
  }

  /** Ends a per-request session (tracked in `ephemeral` while in flight, so that close() drains it). */
  private release(session: Session, node: LiveNode<Session>, drainMs?: number): void {
    this.ephemeral.remove(node);
    void session.close(drainMs);
  }

  /** Closes sessions idle for longer than the TTL. */
  reap(now = Date.now()): void {
    for (const [id, entry] of this.sessions) {
      if (now - entry.lastSeen > this.ttl && entry.session.inflight.size === 0) {
        this.sessions.delete(id);
        void entry.session.close();
      }
    }
  }

  /** Stops accepting, drains and closes every session (streams get a reconnect hint). */
  async close(drainMs = 5_000): Promise<void> {
    this.closing = true;
    clearInterval(this.reaper);
    // Streams end with a reconnect hint: the client comes back (to this server once restarted, or
    // to another instance) rather than giving up.
    const retryMs = this.options.sse?.retryMs ?? SHUTDOWN_RETRY_MS;
    for (const entry of this.sessions.values()) entry.transport.retryMs = retryMs;
    for (const session of this.ephemeral) {
      (session.transport as RequestTransport | HttpSessionTransport).retryMs = retryMs;
    }
    await Promise.all([
      ...[...this.sessions.values()].map((e) => e.session.close(drainMs)),
      ...[...this.ephemeral].map((s) => s.close(drainMs)),
    ]);
    this.ephemeral.clear();
    this.sessions.clear();
  }
}
