/**
 * The Context every middleware and handler receives: one object per message, cheap to create —
 * the signal, logger, correlation id and metadata bag are built only when first used.
 */
import { CancelledError } from '../protocol/errors.js';
import type { JsonRpcId } from '../protocol/jsonrpc.js';
import type { ClientCapabilities, Implementation, LoggingLevel } from '../protocol/types.js';
import { type Era, META } from '../protocol/versions.js';
import type { AuthInfo, MessageExtra } from '../transports/types.js';
import { correlationIdOf, newCorrelationId } from './correlation.js';
import { identityOf } from './identity.js';
import {
  type InputRequest,
  InputRequiredSignal,
  type InputResponses,
  requireCapability,
} from './input-required.js';
import type { Logger } from './logger.js';

/** `ctx.metadata` key set once a request's error has been logged, so it is not logged twice. */
export const ERROR_LOGGED = 'rampart.errorLogged';

/** The principal a transport or the auth middleware established for a message. */
export type { AuthInfo } from '../transports/types.js';

/** What the context needs from the connection it came from (implemented by Session). */
export interface ContextSession {
  readonly id: string;
  readonly isClosed: boolean;
  /** Resolves once the session has closed. */
  whenClosed(): Promise<void>;
  readonly era: Era | undefined;
  readonly protocolVersion: string | undefined;
  readonly clientInfo: Implementation | undefined;
  readonly clientCapabilities: ClientCapabilities | undefined;
  readonly logLevel: LoggingLevel | undefined;
  notify(method: string, params: Record<string, unknown>, relatedRequestId?: JsonRpcId): Promise<void>;
  request(
    method: string,
    params: Record<string, unknown> | undefined,
    options: { signal?: AbortSignal; relatedRequestId?: JsonRpcId },
  ): Promise<Record<string, unknown>>;
  /** Whether a client-visible log line at this level passes the session's (or request's) threshold. */
  shouldLog(level: LoggingLevel, requestLevel?: LoggingLevel | null): boolean;
  /** Answers a request of this session at once with an error, its onion left to run (`answerNow`). */
  answerEarly?(ctx: Context<any>, error: unknown): void;
}

/**
 * Told once how a message ended: the result the onion produced, or the error it failed with. An
 * object with a method rather than a callback, so that an observer that is already a per-request
 * object (a log line, a timing) costs nothing more to register.
 */
export interface SettleObserver {
  settled(ctx: Context<any>, result: unknown, error: unknown, failed: boolean): void;
}

/** Per-message state shared by middleware and handlers. `Deps` is what the lifespan provides. */
export class Context<Deps = unknown> {
  /** The JSON-RPC method, e.g. `tools/call`. Middleware may rewrite `params` before `next()`. */
  readonly method: string;
  params: Record<string, unknown>;
  /** `request` expects a response; `notification` does not. */
  readonly kind: 'request' | 'notification';
  readonly requestId: JsonRpcId | undefined;
  readonly session: ContextSession;
  /** `performance.now()` when the message arrived. */
  readonly startTime: number;
  /** Transport details of the message (HTTP headers, transport session id...). */
  readonly extra: MessageExtra | undefined;
  /** The authenticated principal, set by a transport or the auth middleware. */
  auth: AuthInfo | undefined;
  /** The lifespan's dependencies. */
  deps: Deps;
  /** The era of this message: `modern` when it carries the 2026-07-28 `_meta` envelope. */
  era: Era;
  /** The protocol version this message speaks. */
  protocolVersion: string;

  /** Answers to earlier input requests (modern-era retries, or the legacy shim's re-entry). */
  inputResponses: InputResponses | undefined;
  /** The application state a handler put in `inputRequired({ requestState })`, verified. */
  requestState: string | undefined;

  private _correlationId: string | undefined;
  private _controller: AbortController | undefined;
  private _metadata: Record<string, unknown> | undefined;
  private _logger: Logger | undefined;
  private _inputSeq = 0;
  /**
   * Settle observers: the first three in fields, any more in an array (logging, metrics and a
   * timeout are three).
   */
  private _observer: SettleObserver | undefined;
  private _observer2: SettleObserver | undefined;
  private _observer3: SettleObserver | undefined;
  private _observers: SettleObserver[] | undefined;
  /** 0 until the message settles, then 1 (a result) or 2 (a failure), with what it settled with. */
  private _settled: 0 | 1 | 2 = 0;
  private _outcome: unknown;
  /** `performance.now()` when the message settled. */
  private _settledAt = 0;
  /** Whether the request may be answered before its onion is done (its session's host serves it). */
  private _early = false;
  /** Embedded-request answers, by their keys, used to replay handlers on the modern era. */
  replayAnswers: InputResponses | undefined;

  /**
   * One context per message. (Positional, not an options object: an object literal per request can
   * be pretenured by V8 and then keep the request's young objects alive — see docs/performance.md.)
   */
  constructor(
    message: { method: string; params?: Record<string, unknown>; id?: JsonRpcId },
    session: ContextSession,
    extra: MessageExtra | undefined,
    era: Era,
    protocolVersion: string,
    deps: Deps,
    private readonly baseLogger: Logger,
    /** The `_meta` key that may carry a correlation id (ServerOptions.correlationMetaKey). */
    private readonly correlationMetaKey?: string,
  ) {
    this.method = message.method;
    this.params = message.params ?? {};
    this.requestId = message.id;
    this.kind = message.id === undefined ? 'notification' : 'request';
    this.session = session;
    this.extra = extra;
    this.era = era;
    this.protocolVersion = protocolVersion;
    this.deps = deps;
    this.auth = extra?.authInfo;
    this.startTime = performance.now();
  }

  /**
   * Has `observer` told when this message has its outcome — once, after the whole onion, before the
   * answer is sent. For middleware that only watches (logging, metrics): cheaper than a `.then` on
   * `next()`, which costs a promise and two closures per request (and the async hooks'
   * callbacks besides, under AsyncLocalStorage). Observers see the outcome the client gets.
   */
  /** Whether `observer` waits on this request's outcome (it is not told yet). */
  isObservedBy(observer: SettleObserver): boolean {
    return (
      this._observer === observer ||
      this._observer2 === observer ||
      this._observer3 === observer ||
      (this._observers?.includes(observer) ?? false)
    );
  }

  onSettled(observer: SettleObserver): void {
    // Registered after the outcome (a middleware past a timeout that already answered): told now.
    if (this._settled !== 0) {
      const failed = this._settled === 2;
      this.tell(observer, failed ? undefined : this._outcome, failed ? this._outcome : undefined, failed);
      return;
    }
    if (this._observer === undefined) this._observer = observer;
    else if (this._observer2 === undefined) this._observer2 = observer;
    else if (this._observer3 === undefined) this._observer3 = observer;
    else if (this._observers === undefined) this._observers = [observer];
    else this._observers.push(observer);
  }

  /**
   * Milliseconds from the message's arrival to its outcome; while it is still being handled, to now.
   * Observers read it rather than timing the request themselves: one clock read per message.
   */
  get durationMs(): number {
    return (this._settled === 0 ? performance.now() : this._settledAt) - this.startTime;
  }

  /**
   * Tells the observers the outcome (the server calls this once per message; middleware should
   * not). An observer that throws is logged and does not stop the others.
   * @internal
   */
  settle(result: unknown, error: unknown, failed: boolean): void {
    if (this._settled !== 0) return;
    this._settled = failed ? 2 : 1;
    this._outcome = failed ? error : result;
    this._settledAt = performance.now();
    const first = this._observer;
    if (first === undefined) return;
    const second = this._observer2;
    const third = this._observer3;
    const more = this._observers;
    this._observer = this._observer2 = this._observer3 = this._observers = undefined;
    this.tell(first, result, error, failed);
    if (second !== undefined) this.tell(second, result, error, failed);
    if (third !== undefined) this.tell(third, result, error, failed);
    if (more !== undefined) for (const observer of more) this.tell(observer, result, error, failed);
  }

  /** Whether the message has its outcome (settled; for a request, answered or being answered). */
  get hasOutcome(): boolean {
    return this._settled !== 0;
  }

  /**
   * Lets the session answer this request before its onion is done (the server does, for a request
   * it serves on its own rather than in a batch). A flag, not a reference: nothing more per request.
   * @internal
   */
  allowEarlyAnswer(): void {
    this._early = true;
  }

  /**
   * Answers the request now with `error`, as if the onion had failed with it — observers are told
   * and the client gets the error — and leaves the onion running: its own outcome, when it comes,
   * is dropped (middleware around the caller see it; `onSettled` observers see `error`). Returns
   * false, doing nothing, where that cannot be done (a request in a batch, or run through
   * `handle()`), or once the request has its outcome. `timeout()` answers with it.
   */
  answerNow(error: unknown): boolean {
    if (!this.canAnswerNow) return false;
    this._early = false;
    this.session.answerEarly!(this, error);
    return true;
  }

  /** Whether `answerNow` can answer this request. */
  get canAnswerNow(): boolean {
    return this._early && this._settled === 0 && this.session.answerEarly !== undefined;
  }

  private tell(observer: SettleObserver, result: unknown, error: unknown, failed: boolean): void {
    try {
      observer.settled(this, result, error, failed);
    } catch (err) {
      try {
        this.baseLogger.error({ err, method: this.method }, 'settle observer failed');
      } catch {
        // An error pino cannot serialise: nothing more to say, and the answer must still go out.
      }
    }
  }

  /**
   * A per-request id for logs, metrics and error data: the one the transport established (HTTP
   * `X-Request-Id` or `traceparent`), else the configured `_meta` key, else the trace id of
   * `_meta.traceparent`, else a fresh one (newCorrelationId).
   */
  get correlationId(): string {
    if (this._correlationId === undefined) {
      this._correlationId =
        this.extra?.correlationId ??
        correlationIdOf(undefined, undefined, this.meta, this.correlationMetaKey) ??
        newCorrelationId();
    }
    return this._correlationId;
  }

  set correlationId(value: string) {
    this._correlationId = value;
    this._logger = undefined;
  }

  /** A bag for middleware to share data along the chain. */
  get metadata(): Record<string, unknown> {
    if (this._metadata === undefined) this._metadata = {};
    return this._metadata;
  }

  /** Reads a metadata entry without creating the bag (for hot paths). */
  peekMetadata(key: string): unknown {
    return this._metadata?.[key];
  }

  /** Aborted when the client cancels, the transport closes, or a timeout fires. */
  get signal(): AbortSignal {
    if (this._controller === undefined) this._controller = new AbortController();
    return this._controller.signal;
  }

  /** Aborts this request's signal (cancellation, timeout, shutdown). */
  abort(reason: unknown = new CancelledError()): void {
    if (this._controller === undefined) this._controller = new AbortController();
    if (!this._controller.signal.aborted) this._controller.abort(reason);
  }

  get aborted(): boolean {
    return this._controller?.signal.aborted ?? false;
  }

  /** Who the request is from: the principal's subject, else its client id. */
  get principal(): string | undefined {
    return this.auth?.subject ?? this.auth?.clientId;
  }

  /**
   * Who the request is from, as a key no two principals share (`identityOf`): what per-caller
   * state (cache entries, rate-limit buckets) is keyed on. `undefined` for an anonymous request.
   */
  get identity(): string | undefined {
    return this.auth === undefined ? undefined : identityOf(this.auth);
  }

  /** A child of the server logger carrying this request's correlation id, method and session. */
  get logger(): Logger {
    if (this._logger === undefined) {
      const bindings: Record<string, unknown> = {
        correlationId: this.correlationId,
        sessionId: this.session.id,
        method: this.method,
      };
      const target = this.target;
      if (target !== undefined) bindings.target = target;
      const principal = this.principal;
      if (principal) bindings.principal = principal;
      this._logger = this.baseLogger.child(bindings);
    }
    return this._logger;
  }

  /** The server's logger, without this request's bindings. */
  get rootLogger(): Logger {
    return this.baseLogger;
  }

  /** The tool or prompt name, or the resource URI, this request is about. */
  get target(): string | undefined {
    const p = this.params;
    if (typeof p.name === 'string') return p.name;
    if (typeof p.uri === 'string') return p.uri;
    return undefined;
  }

  /** The request's `_meta` object, if any. */
  get meta(): Record<string, unknown> | undefined {
    const m = this.params._meta;
    return typeof m === 'object' && m !== null ? (m as Record<string, unknown>) : undefined;
  }

  /** The client's identity: from the envelope (modern) or `initialize` (legacy). */
  get clientInfo(): Implementation | undefined {
    if (this.era === 'modern') return this.meta?.[META.clientInfo] as Implementation | undefined;
    return this.session.clientInfo;
  }

  /** The client's capabilities: per request on the modern era, per session on the legacy one. */
  get clientCapabilities(): ClientCapabilities {
    if (this.era === 'modern')
      return (this.meta?.[META.clientCapabilities] as ClientCapabilities | undefined) ?? {};
    return this.session.clientCapabilities ?? {};
  }

  /**
   * Reports progress when the client asked for it (a `progressToken` in `_meta`); otherwise a no-op.
   * `progress` must increase with each call.
   */
  async progress(progress: number, total?: number, message?: string): Promise<void> {
    const token = this.meta?.progressToken;
    // Progress names an operation in progress: none once the request is answered or aborted.
    if (token === undefined || this.kind !== 'request' || this.hasOutcome || this.aborted) return;
    const params: Record<string, unknown> = { progressToken: token, progress };
    if (total !== undefined) params.total = total;
    if (message !== undefined) params.message = message;
    await this.session.notify('notifications/progress', params, this.requestId);
  }

  /** Sends a client-visible log line (`notifications/message`) if the client's level lets it through. */
  async log(level: LoggingLevel, data: unknown, logger?: string): Promise<void> {
    const requestLevel =
      this.era === 'modern' ? ((this.meta?.[META.logLevel] as LoggingLevel | undefined) ?? null) : undefined;
    if (!this.session.shouldLog(level, requestLevel)) return;
    const params: Record<string, unknown> = { level, data };
    if (logger !== undefined) params.logger = logger;
    await this.session.notify('notifications/message', params, this.requestId);
  }

  /** Asks the user for input through the client (`elicitation/create`). */
  elicit(params: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.askClient({ method: 'elicitation/create', params });
  }

  /** Asks the client's model for a completion (`sampling/createMessage`). */
  sample(params: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.askClient({ method: 'sampling/createMessage', params });
  }

  /** Asks the client for its filesystem roots (`roots/list`). */
  listRoots(): Promise<Record<string, unknown>> {
    return this.askClient({ method: 'roots/list' });
  }

  /**
   * Legacy era: a real server→client request. Modern era: answered from the retry's input
   * responses when present, otherwise the handler is suspended with an `input_required` result and
   * replayed when the client retries.
   */
  private async askClient(request: InputRequest): Promise<Record<string, unknown>> {
    requireCapability(this.clientCapabilities, request, this.protocolVersion);
    if (this.era === 'legacy') {
      return this.session.request(request.method, request.params, {
        signal: this.signal,
        relatedRequestId: this.requestId,
      });
    }
    const key = `rampart-${this._inputSeq++}`;
    const answer = this.replayAnswers?.[key];
    if (answer !== undefined) return answer;
    throw new InputRequiredSignal({ [key]: request });
  }
}
