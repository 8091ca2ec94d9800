/**
 * One client connection: binds a transport to a server, validates every incoming message, tracks
 * in-flight requests (for cancellation and draining) and the server→client requests awaiting answers,
 * and holds the connection's negotiated state (era, version, client capabilities, log level,
 * resource subscriptions).
 */
import { randomBytes } from 'node:crypto';
import { CancelledError, InvalidRequestError, RampartError } from '../protocol/errors.js';
import {
  checkMessage,
  ErrorCode,
  failure,
  type InvalidMessage,
  isRequest,
  isResponse,
  type JsonRpcErrorObject,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../protocol/jsonrpc.js';
import {
  type ClientCapabilities,
  type Implementation,
  LOGGING_LEVELS,
  type LoggingLevel,
} from '../protocol/types.js';
import { allowsBatches, type Era } from '../protocol/versions.js';
import type { Context } from '../server/context.js';
import { newCorrelationId } from '../server/correlation.js';
import { type MessageExtra, SENT, type Transport } from '../transports/types.js';
import type { LiveNode } from './live-list.js';
import { SmallMap } from './small-map.js';

/** What a session asks of the server that owns it. */
export interface SessionHost {
  /** Handles one request or notification; resolves to the response (undefined for notifications). */
  handle(
    session: Session,
    message: JsonRpcMessage,
    extra: MessageExtra | undefined,
  ): Promise<JsonRpcResponse | undefined>;
  /**
   * Handles one request or notification and sends its response on the session itself (one promise
   * fewer than `handle` and a `.then`); failures are reported, never thrown or rejected.
   */
  serve(session: Session, message: JsonRpcMessage, extra: MessageExtra | undefined): void;
  /** Answers a request it serves at once with an error, its onion left to run (`ctx.answerNow`). */
  answerEarly?(ctx: Context<any>, error: unknown): void;
  /** Called once when the session ends. */
  sessionClosed(session: Session): void;
  /** Reports an error nobody awaits (transport failures, late responses). */
  reportError(error: Error, session: Session): void;
}

export interface SessionLimits {
  /** Requests processed at once; more are refused with an overload error. Default 10 000. */
  maxInflight?: number;
  /** Server→client requests awaiting an answer. Default 1 000. */
  maxPendingClientRequests?: number;
  /** How long a server→client request waits for its answer. Default 60 s. */
  clientRequestTimeoutMs?: number;
  /** Resource subscriptions per session. Default 1 000. */
  maxSubscriptions?: number;
  /** Messages in one JSON-RPC batch. Default 100. */
  maxBatchSize?: number;
  /** Client-visible log lines (`notifications/message`) per second, sustained. Default 100. */
  clientLogRate?: number;
  /** Client-visible log lines allowed in a burst. Default 200. */
  clientLogBurst?: number;
}

/** An in-flight request's cancellation handle. */
interface Inflight {
  abort(reason?: unknown): void;
}

/** Grace period for aborted handlers to send their final responses before the transport closes. */
const ABORT_GRACE_MS = 100;

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  cleanup?: () => void;
}

const LEVEL_RANK = new Map(LOGGING_LEVELS.map((l, i) => [l, i]));

const NO_LIMITS: SessionLimits = {};
/** Resolved limits per options object: servers open a session per HTTP request, so resolve once. */
const resolvedLimits = new WeakMap<SessionLimits, Required<SessionLimits>>();

function resolveLimits(limits: SessionLimits): Required<SessionLimits> {
  let resolved = resolvedLimits.get(limits);
  if (resolved === undefined) {
    resolved = {
      maxInflight: limits.maxInflight ?? 10_000,
      maxPendingClientRequests: limits.maxPendingClientRequests ?? 1_000,
      clientRequestTimeoutMs: limits.clientRequestTimeoutMs ?? 60_000,
      maxSubscriptions: limits.maxSubscriptions ?? 1_000,
      maxBatchSize: limits.maxBatchSize ?? 100,
      clientLogRate: limits.clientLogRate ?? 100,
      clientLogBurst: limits.clientLogBurst ?? 200,
    };
    resolvedLimits.set(limits, resolved);
  }
  return resolved;
}

const CLOSED: Promise<void> = Promise.resolve();

/** The correlation id of an answer given before a request reaches the server: its transport's, or a new one. */
function correlationOf(extra: MessageExtra | undefined): string {
  return extra?.correlationId ?? newCorrelationId();
}

/** The answer to a request the session will not run. */
function refused(id: JsonRpcId, error: RampartError, extra: MessageExtra | undefined): JsonRpcResponse {
  return failure(id, error.toJsonRpc(correlationOf(extra)));
}

/** A malformed message's error, in the one error shape. */
function invalidRequest(error: JsonRpcErrorObject, extra: MessageExtra | undefined): JsonRpcErrorObject {
  return {
    code: error.code,
    message: error.message,
    data: { type: 'invalid_request', correlationId: correlationOf(extra) },
  };
}

/** A client's connection to the server. */
export class Session {
  /** The transport's session id (e.g. `Mcp-Session-Id`), or a fresh random one. */
  readonly id: string;
  era: Era | undefined;
  protocolVersion: string | undefined;
  /**
   * The legacy version a session without a handshake serves until (unless) one happens: a stateless
   * HTTP request's `MCP-Protocol-Version`, or 2025-03-26 without one, as the specification says to
   * assume.
   */
  assumedVersion: string | undefined;
  clientInfo: Implementation | undefined;
  clientCapabilities: ClientCapabilities | undefined;
  /** Set by `initialize` (legacy) or the first valid envelope (modern). */
  initialized = false;
  /** The minimum level for `notifications/message`; unset sends everything. */
  logLevel: LoggingLevel | undefined;
  readonly inflight = new SmallMap<JsonRpcId, Inflight>();
  private _state: Map<string, unknown> | undefined;
  private _subscriptions: Set<string> | undefined;
  /** Server→client requests awaiting answers (created on the first one). */
  private pending: Map<JsonRpcId, Pending> | undefined;
  /** Long-lived requests (subscription streams) that end first when the session closes. */
  private streams: Set<JsonRpcId> | undefined;
  private nextRequestId = 0;
  private closed = false;
  private readonly limits: Required<SessionLimits>;
  private idleWaiters: (() => void)[] | undefined;
  /** The session's place in its host's list of open sessions (set by the host). */
  hostNode: LiveNode<Session> | undefined;

  constructor(
    readonly transport: Transport,
    private readonly host: SessionHost,
    limits: SessionLimits = NO_LIMITS,
  ) {
    this.id = transport.sessionId ?? randomBytes(16).toString('hex');
    this.limits = resolveLimits(limits);
  }

  /** The resource URIs this (legacy) session subscribed to. */
  get subscriptions(): Set<string> {
    if (this._subscriptions === undefined) this._subscriptions = new Set();
    return this._subscriptions;
  }

  /** Whether the session subscribed to `uri` (without creating the set). */
  isSubscribed(uri: string): boolean {
    return this._subscriptions?.has(uri) ?? false;
  }

  /** Arbitrary per-session state for middleware and handlers (bounded by what they put in it). */
  get state(): Map<string, unknown> {
    if (this._state === undefined) this._state = new Map();
    return this._state;
  }

  get maxSubscriptions(): number {
    return this.limits.maxSubscriptions;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Wires the transport to this session and starts it. */
  async start(): Promise<void> {
    this.attach();
    await this.transport.start();
  }

  /** Wires the transport's callbacks to this session, for transports with nothing to start. */
  attach(): void {
    // Through locals: V8 allocates a function literal assigned straight to a property in the old
    // generation, where it keeps this session's request alive through young collections
    // (docs/performance.md, "Function literals are not assigned straight to properties").
    const onmessage: Transport['onmessage'] = (message, extra) => this.receive(message, extra);
    // The peer went away (EOF on stdin, closed socket): finish what was accepted, then end.
    const onclose = () => void this.close(this.drainOnPeerClose);
    const onerror = (err: Error) => this.host.reportError(err, this);
    this.transport.onmessage = onmessage;
    this.transport.onclose = onclose;
    this.transport.onerror = onerror;
  }

  /** Entry point for every raw message from the transport (already JSON-parsed; arrays are batches). */
  receive(raw: unknown, extra?: MessageExtra): void {
    if (Array.isArray(raw)) {
      void this.receiveBatch(raw, extra);
      return;
    }
    const invalid = checkMessage(raw);
    if (invalid !== undefined) {
      if (invalid.response) this.malformedResponse(invalid);
      else this.send(failure(invalid.id, invalidRequest(invalid.error, extra)));
      return;
    }
    const message = raw as JsonRpcMessage;
    if (isResponse(message)) {
      this.settle(message);
      return;
    }
    const refusal = this.refusal(message as JsonRpcRequest, extra);
    if (refusal !== undefined) this.send(refusal);
    else this.host.serve(this, message, extra);
  }

  private async receiveBatch(batch: unknown[], extra?: MessageExtra): Promise<void> {
    const refusal = this.batchRefusal(batch.length, correlationOf(extra));
    if (refusal !== undefined) {
      this.send(failure(null, refusal));
      return;
    }
    const responses = await Promise.all(
      batch.map(async (item): Promise<JsonRpcResponse | undefined> => {
        const invalid = checkMessage(item);
        if (invalid !== undefined) {
          if (!invalid.response) return failure(invalid.id, invalidRequest(invalid.error, extra));
          this.malformedResponse(invalid);
          return undefined;
        }
        const message = item as JsonRpcMessage;
        if (isResponse(message)) {
          this.settle(message);
          return undefined;
        }
        if ((message as JsonRpcRequest).method === 'initialize') {
          const id = isRequest(message) ? message.id : null;
          return failure(
            id,
            new InvalidRequestError('initialize must not be part of a batch').toJsonRpc(correlationOf(extra)),
          );
        }
        return this.process(message as JsonRpcRequest, extra);
      }),
    );
    const out = responses.filter((r): r is JsonRpcResponse => r !== undefined);
    if (out.length > 0) this.send(out as unknown as JsonRpcMessage);
  }

  /**
   * Why this session refuses a batch of `length` messages as a whole (empty, none allowed on its
   * protocol version, past `maxBatchSize`), or undefined. Transports that answer a batch as one
   * response ask first: the session's error for it has no id (`null`) to route by. The error carries
   * `correlationId` when given.
   */
  batchRefusal(length: number, correlationId?: string): JsonRpcErrorObject | undefined {
    if (length === 0) return new InvalidRequestError('Invalid Request: empty batch').toJsonRpc(correlationId);
    const version = this.protocolVersion ?? this.assumedVersion;
    if (!allowsBatches(version)) {
      const why = version
        ? `JSON-RPC batches are not supported in protocol version ${version}`
        : 'JSON-RPC batches are not allowed before initialization';
      return new InvalidRequestError(why).toJsonRpc(correlationId);
    }
    if (length > this.limits.maxBatchSize) {
      return new InvalidRequestError(`Batch exceeds ${this.limits.maxBatchSize} messages`).toJsonRpc(
        correlationId,
      );
    }
    return undefined;
  }

  /** ContextSession: a request this session's host serves is answered now (`ctx.answerNow`). */
  answerEarly(ctx: Context<any>, error: unknown): void {
    this.host.answerEarly?.(ctx, error);
  }

  /**
   * Runs one request or notification through the server. The host tracks a request while it runs
   * (`track`, then `untrack` once it has its answer); this refuses what cannot be run.
   */
  process(message: JsonRpcRequest, extra?: MessageExtra): Promise<JsonRpcResponse | undefined> {
    const refusal = this.refusal(message, extra);
    return refusal !== undefined ? Promise.resolve(refusal) : this.host.handle(this, message, extra);
  }

  /** The error answer to a request this session will not run (closed, duplicate id, overloaded). */
  private refusal(message: JsonRpcRequest, extra: MessageExtra | undefined): JsonRpcResponse | undefined {
    if (!isRequest(message)) return undefined;
    if (this.closed) {
      return refused(
        message.id,
        new RampartError('shutting_down', ErrorCode.ShuttingDown, 'Session is closed'),
        extra,
      );
    }
    if (this.inflight.has(message.id)) {
      return refused(
        message.id,
        new InvalidRequestError(`Request id ${message.id} is already in flight`),
        extra,
      );
    }
    if (this.inflight.size >= this.limits.maxInflight) {
      return refused(
        message.id,
        new RampartError('overloaded', ErrorCode.Overloaded, 'Too many requests in flight', {
          retryAfterMs: 100,
        }),
        extra,
      );
    }
    return undefined;
  }

  /** Registers the cancellation handle of a request the host started. */
  track(id: JsonRpcId, handle: Inflight): void {
    this.inflight.set(id, handle);
  }

  /** The host is done with a request (it has its answer, or none is due): wakes idle() waiters. */
  untrack(id: JsonRpcId): void {
    this.inflight.delete(id);
    this.streams?.delete(id);
    if (this.inflight.size === 0 && this.idleWaiters !== undefined) {
      const waiters = this.idleWaiters;
      this.idleWaiters = undefined;
      for (const wake of waiters) wake();
    }
  }

  /** Marks an in-flight request as a stream that only ends on cancel or close (`subscriptions/listen`). */
  markStream(id: JsonRpcId): void {
    if (this.streams === undefined) this.streams = new Set();
    this.streams.add(id);
  }

  /** `notifications/cancelled`: aborts the named in-flight request, if any. */
  cancel(id: JsonRpcId, reason?: string): boolean {
    const handle = this.inflight.get(id);
    if (!handle) return false;
    handle.abort(new CancelledError(reason ? `Request cancelled: ${reason}` : 'Request cancelled'));
    // A cancelled request is not answered: whatever waits for its answer stops waiting.
    this.transport.unanswered?.(id);
    return true;
  }

  /** Sends a message; failures of a closed or broken transport are reported, never thrown. */
  send(message: JsonRpcMessage, relatedRequestId?: JsonRpcId): Promise<void> {
    const sent = this.transport.send(
      message,
      relatedRequestId === undefined ? undefined : { relatedRequestId },
    );
    if (sent === SENT) return sent;
    return sent.catch((err) => {
      // After close, a vanished peer is expected; before it, a failed send is worth a log line.
      if (!this.closed) this.host.reportError(err as Error, this);
    });
  }

  /** Sends a notification to the client. */
  notify(method: string, params: Record<string, unknown>, relatedRequestId?: JsonRpcId): Promise<void> {
    return this.send({ jsonrpc: '2.0', method, params }, relatedRequestId);
  }

  /** Sends a server→client request and resolves with its result. */
  request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: { signal?: AbortSignal; relatedRequestId?: JsonRpcId; timeoutMs?: number } = {},
  ): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new CancelledError('Session is closed'));
    this.pending ??= new Map();
    const pending = this.pending;
    if (pending.size >= this.limits.maxPendingClientRequests) {
      return Promise.reject(
        new RampartError('overloaded', ErrorCode.Overloaded, 'Too many pending client requests'),
      );
    }
    const id = `s-${this.nextRequestId++}`;
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.limits.clientRequestTimeoutMs;
      const entry: Pending = {
        resolve,
        reject,
        timer: setTimeout(() => this.timedOut(id, method, timeoutMs, options.relatedRequestId), timeoutMs),
      };
      const signal = options.signal;
      if (signal) {
        if (signal.aborted) {
          clearTimeout(entry.timer);
          reject(signal.reason);
          return;
        }
        const onAbort = () => {
          this.failPending(id, signal.reason instanceof Error ? signal.reason : new CancelledError());
          void this.notify('notifications/cancelled', { requestId: id, reason: 'The request was cancelled' });
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const cleanup = () => signal.removeEventListener('abort', onAbort);
        entry.cleanup = cleanup;
      }
      pending.set(id, entry);
      const message: JsonRpcMessage =
        params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
      this.send(message, options.relatedRequestId);
    });
  }

  /**
   * A server→client request went unanswered for `timeoutMs`: it fails here, and on the legacy era the
   * client is told it was cancelled (MCP "Cancellation"), so it stops working on it.
   */
  private timedOut(id: JsonRpcId, method: string, timeoutMs: number, relatedRequestId?: JsonRpcId): void {
    if (!this.pending?.has(id)) return;
    const why = `Client did not answer ${method} in ${timeoutMs} ms`;
    this.failPending(id, new RampartError('timeout', ErrorCode.RequestTimeout, why));
    if (this.era === 'legacy' && !this.closed) {
      void this.notify('notifications/cancelled', { requestId: id, reason: why }, relatedRequestId);
    }
  }

  private failPending(id: JsonRpcId, error: Error): void {
    const entry = this.pending?.get(id);
    if (!entry) return;
    this.pending!.delete(id);
    clearTimeout(entry.timer);
    entry.cleanup?.();
    entry.reject(error);
  }

  /**
   * A malformed response is not answered (JSON-RPC answers no response): the server→client request
   * it was meant for fails now, rather than waiting out its timeout; with none, it is reported.
   */
  private malformedResponse(invalid: InvalidMessage): void {
    const why = `Malformed response from the client: ${invalid.error.message}`;
    if (invalid.id !== null && this.pending?.has(invalid.id)) {
      this.failPending(invalid.id, new RampartError('client_error', ErrorCode.InvalidRequest, why));
    } else {
      this.host.reportError(new Error(why), this);
    }
  }

  private settle(response: JsonRpcResponse): void {
    const entry = response.id === null ? undefined : this.pending?.get(response.id);
    if (!entry) {
      this.host.reportError(new Error(`Response for unknown request id ${String(response.id)}`), this);
      return;
    }
    this.pending!.delete(response.id!);
    clearTimeout(entry.timer);
    entry.cleanup?.();
    if ('error' in response) {
      const e = response.error;
      entry.reject(new RampartError('client_error', e.code, e.message, { details: e.data }));
    } else {
      entry.resolve(response.result);
    }
  }

  /** Whether a client-visible log at `level` passes. `requestLevel` null means the request asked for none. */
  shouldLog(level: LoggingLevel, requestLevel?: LoggingLevel | null): boolean {
    if (requestLevel === null) return false;
    const threshold = requestLevel ?? this.logLevel;
    if (threshold !== undefined && (LEVEL_RANK.get(level) ?? 0) < (LEVEL_RANK.get(threshold) ?? 0))
      return false;
    return this.takeLogToken();
  }

  private logTokens: number | undefined;
  private logRefilledAt = 0;
  /** Client log lines dropped by the rate limit. */
  droppedLogs = 0;

  /** A token bucket (lazy refill) so a chatty handler cannot flood the client with log lines. */
  private takeLogToken(): boolean {
    const { clientLogRate: rate, clientLogBurst: burst } = this.limits;
    const now = performance.now();
    const tokens =
      this.logTokens === undefined
        ? burst
        : Math.min(burst, this.logTokens + ((now - this.logRefilledAt) / 1000) * rate);
    this.logRefilledAt = now;
    if (tokens < 1) {
      this.logTokens = tokens;
      this.droppedLogs++;
      return false;
    }
    this.logTokens = tokens - 1;
    return true;
  }

  private closedPromise: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;

  /** Resolves once the session has closed (for one closing now, once it is done). */
  whenClosed(): Promise<void> {
    if (this.closed) return this.closing ?? CLOSED;
    this.closedPromise ??= new Promise((resolve) => (this.resolveClosed = resolve));
    return this.closedPromise;
  }

  /** Resolves once no request is in flight (or at once when none is). */
  idle(): Promise<void> {
    if (this.inflight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters ??= [];
      this.idleWaiters.push(resolve);
    });
  }

  /**
   * Ends the session: waits up to `drainMs` for in-flight requests, aborts the rest, fails pending
   * client requests, and closes the transport. Idempotent.
   */
  close(drainMs = 0): Promise<void> {
    if (this.closed) return this.closing ?? CLOSED;
    this.closed = true;
    // The common case — nothing in flight, no client requests, no streams (every per-request HTTP
    // session ends so) — skips the drain and grace steps.
    const quiet = this.inflight.size === 0 && !this.pending?.size && !this.streams?.size;
    this.closing = quiet ? this.release() : this.drainAndRelease(drainMs);
    return this.closing;
  }

  private closing: Promise<void> | undefined;

  private async drainAndRelease(drainMs: number): Promise<void> {
    const shutdown = () => new RampartError('shutting_down', ErrorCode.ShuttingDown, 'Session closed');
    // Streams never finish on their own: end them first so they can send their closing result.
    for (const id of this.streams ?? []) this.inflight.get(id)?.abort(shutdown());
    if (drainMs > 0) await this.idleWithin(drainMs);
    for (const handle of this.inflight.values()) handle.abort(shutdown());
    if (this.pending) for (const id of [...this.pending.keys()]) this.failPending(id, shutdown());
    // Let aborted handlers answer (with their result or a shutdown error) before the transport goes.
    await this.idleWithin(ABORT_GRACE_MS);
    await this.release();
  }

  /** Closes the transport and tells the host; never rejects. */
  private release(): Promise<void> {
    this._subscriptions?.clear();
    let closed: Promise<void>;
    try {
      closed = this.transport.close();
    } catch (err) {
      closed = Promise.reject(err);
    }
    if (closed === SENT) {
      this.released();
      return SENT;
    }
    return closed.then(this.released, (err) => {
      this.host.reportError(err as Error, this);
      this.released();
    });
  }

  private readonly released = (): void => {
    this.host.sessionClosed(this);
    this.resolveClosed?.();
    this.resolveClosed = undefined;
  };

  private async idleWithin(ms: number): Promise<void> {
    if (this.inflight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /** How long to let in-flight requests finish after the peer closed the connection. */
  drainOnPeerClose = 5_000;
}
