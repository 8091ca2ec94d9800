/**
 * Where a session's outgoing messages go on HTTP. Each POST that carries requests gets an Outbox that
 * answers it — as one JSON body, or as an SSE stream that also carries the requests' notifications and
 * server→client requests — and the session's standalone GET stream takes what relates to no request.
 */
import { RampartError } from '../../protocol/errors.js';
import {
  ErrorCode,
  failure,
  isResponse,
  type JsonRpcErrorObject,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';
import { type Chunks, serializeMessage, stringifyMessage } from '../../protocol/serialize.js';
import { SmallMap } from '../../session/small-map.js';
import { publishTraffic } from '../diagnostics.js';
import { type Authenticator, type MessageExtra, SENT, type SendOptions, type Transport } from '../types.js';
import type { EventStore } from './event-store.js';
import type { HttpExchange } from './exchange.js';
import { SSE_HEADERS, type SseOptions, SseStream, unencodable } from './sse.js';

/** Builds the `WWW-Authenticate` challenge for an auth error (the auth middleware provides it). */
export type ChallengeFn = (error: JsonRpcErrorObject) => string | undefined;

/**
 * The HTTP status (and headers) of a response answered as a whole. Errors from handlers stay in-band
 * (200), except: -32021 (400, by the spec); on 2026-07-28, -32601 (404: the method does not exist
 * here); and the protection errors, which say so to proxies and clients too — 401/403 with a
 * `WWW-Authenticate` challenge, 429 and 503 with `Retry-After`. A batch always answers 200.
 */
export function statusFor(
  response: JsonRpcResponse | JsonRpcResponse[] | undefined,
  modern: boolean,
  challenge?: ChallengeFn,
): { status: number; headers?: Record<string, string> } {
  if (response === undefined || Array.isArray(response) || !('error' in response)) return OK;
  const error = response.error;
  switch (error.code) {
    case ErrorCode.MissingRequiredClientCapability:
      return { status: 400 };
    case ErrorCode.MethodNotFound:
      return modern ? { status: 404 } : OK;
    case ErrorCode.RateLimited:
      return { status: 429, headers: retryAfter(error) };
    case ErrorCode.Overloaded:
    case ErrorCode.ShuttingDown:
      return { status: 503, headers: retryAfter(error) };
    case ErrorCode.Unauthorized:
    case ErrorCode.Forbidden: {
      const value = challenge?.(error);
      return {
        status: error.code === ErrorCode.Unauthorized ? 401 : 403,
        headers: value === undefined ? undefined : { 'www-authenticate': value },
      };
    }
    default:
      return OK;
  }
}

const OK = { status: 200 };

function retryAfter(error: JsonRpcErrorObject): Record<string, string> | undefined {
  const ms = (error.data as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof ms === 'number' && ms >= 0 ? { 'retry-after': String(Math.ceil(ms / 1000)) } : undefined;
}

/**
 * How an Outbox answers. These do not vary per request: transports build each variant once (per
 * endpoint, or per legacy session), so a POST allocates no options of its own.
 */
export interface OutboxOptions {
  /** The POST carried a JSON array (the answer is one too). */
  readonly batch: boolean;
  /** The client accepts SSE and the server prefers it: a stream opens once something besides the answer is sent. */
  readonly sse: boolean;
  /** Open the stream at once (long-lived requests such as `subscriptions/listen`). */
  readonly sseNow?: boolean;
  /** 2026-07-28 status rules for whole responses. */
  readonly modern: boolean;
  /** Headers of every answer (e.g. `Mcp-Session-Id`). */
  readonly headers: Readonly<Record<string, string>>;
  readonly sseOptions?: SseOptions;
  /** Builds `WWW-Authenticate` for 401/403 answers. */
  readonly authenticator?: Authenticator;
}

/** The OutboxOptions one endpoint (or one legacy session) answers with, each variant built once. */
export class OutboxVariants {
  private readonly built: (OutboxOptions | undefined)[] = [];
  private builtFor: Authenticator | undefined;

  constructor(
    private readonly headers: Readonly<Record<string, string>>,
    private readonly sseOptions: SseOptions | undefined,
    /** The server's authenticator now (auth() may install it after the endpoint exists). */
    private readonly authenticator: () => Authenticator | undefined,
  ) {}

  get(batch: boolean, sse: boolean, modern: boolean, sseNow = false): OutboxOptions {
    const authenticator = this.authenticator();
    if (authenticator !== this.builtFor) {
      this.built.length = 0;
      this.builtFor = authenticator;
    }
    const index = (batch ? 1 : 0) | (sse ? 2 : 0) | (modern ? 4 : 0) | (sseNow ? 8 : 0);
    let options = this.built[index];
    if (options === undefined) {
      options = {
        batch,
        sse,
        sseNow,
        modern,
        headers: this.headers,
        sseOptions: this.sseOptions,
        authenticator,
      };
      this.built[index] = options;
    }
    return options;
  }
}

/** The answer to a request still unanswered when its outbox is given up (MCP: `shutting_down`). */
function shuttingDown(id: JsonRpcId, correlationId: string | undefined): JsonRpcResponse {
  return failure(
    id,
    new RampartError('shutting_down', ErrorCode.ShuttingDown, 'Session closed').toJsonRpc(correlationId),
  );
}

/** A whole response's body: one answer, or a batch's. */
type Answer = JsonRpcResponse | JsonRpcResponse[];

/** Answers one POST. */
export class Outbox {
  /** The ids of the POST's requests still unanswered. */
  readonly pending = new SmallMap<JsonRpcId, true>();
  /** The answer of a single request; a batch collects `answers`. */
  private answer: JsonRpcResponse | undefined;
  private answers: JsonRpcResponse[] | undefined;
  sse: SseStream | undefined;
  /** The stream this POST's own response carries (`sse` moves to a resumed one). */
  private own: SseStream | undefined;
  private done = false;
  /** Its stream opens with a priming event (a 2025-11-25+ session with an event store). */
  prime = false;
  /** Its client went away for good: answers are counted, not written (`orphan`). */
  private orphaned = false;
  /** The headers of this POST's response (the options' own, unless an `onanswer` replaced them). */
  headers: Readonly<Record<string, string>>;
  /** Called once every request of the POST is answered (or the outbox is abandoned). */
  onfinish?: () => void;
  /** Told of each answer before it goes out (an `initialize` POST decides there whether its session stays). */
  onanswer?: (response: JsonRpcResponse) => void;

  constructor(
    readonly streamId: string,
    ids: JsonRpcId | readonly JsonRpcId[],
    private readonly ex: HttpExchange,
    private readonly store: EventStore | undefined,
    private readonly options: OutboxOptions,
  ) {
    if (Array.isArray(ids)) for (const id of ids) this.pending.set(id, true);
    else this.pending.set(ids as JsonRpcId, true);
    this.headers = options.headers;
    if (options.batch) this.answers = [];
    if (options.sseNow) this.openStream();
  }

  /** Whether messages besides the answer can be delivered (a stream is open or may open). */
  get streams(): boolean {
    return this.options.sse;
  }

  private openStream(): SseStream {
    if (!this.sse) {
      const sink = this.ex.stream(200, Object.assign({}, SSE_HEADERS, this.headers));
      this.sse = new SseStream(sink, this.streamId, this.store, this.options.sseOptions, this.prime);
      this.sse.correlationId = this.ex.correlationId;
      this.own = this.sse;
      // A batch's answers given before the stream opened (a refused reused id) go first on it: the
      // JSON body they were kept for will not be written.
      const waiting = this.answers;
      if (waiting !== undefined && waiting.length > 0) {
        this.answers = [];
        // An answer JSON cannot encode goes out as an error; its failure has nobody left to tell.
        for (const answer of waiting) this.sse.send(answer).catch(() => undefined);
      }
    }
    return this.sse;
  }

  get finished(): boolean {
    return this.done;
  }

  /** Delivers a message for one of this POST's requests. */
  deliver(message: JsonRpcMessage): Promise<void> {
    if (this.done) return SENT;
    const response = isResponse(message);
    if (this.orphaned) {
      if (response) this.answered(message);
      return SENT;
    }
    if (response && this.onanswer !== undefined) this.onanswer(message);
    // The stream opens lazily: an answer with nothing before it goes out as plain JSON, with its status.
    if (!this.sse && this.options.sse && !response) this.openStream();
    if (this.sse) return this.stream(this.sse, message, response);
    if (response) {
      if (this.answers === undefined) this.answer = message;
      else this.answers.push(message);
      this.answered(message);
    }
    return SENT;
  }

  private async stream(sse: SseStream, message: JsonRpcMessage, response: boolean): Promise<void> {
    try {
      if (sse.isOpen) await sse.send(message);
      // A dropped stream keeps recording, so the client can resume it with Last-Event-ID.
      else if (this.store) await this.store.append(this.streamId, message);
    } finally {
      // Even when it could not be sent (an answer JSON cannot encode went out as an error instead):
      // the POST must not wait for it for ever.
      if (response) this.answered(message as JsonRpcResponse);
    }
  }

  private answered(response: JsonRpcResponse): void {
    if (response.id === null) return;
    this.pending.delete(response.id);
    if (this.pending.size === 0) this.finish();
  }

  /** Moves the rest of this outbox onto a resumed stream; the stream it replaces ends. */
  resume(stream: SseStream): void {
    const previous = this.sse;
    this.sse = stream;
    if (previous !== undefined && previous !== stream) previous.close();
  }

  private finish(): void {
    this.done = true;
    let failed: Error | undefined;
    if (this.orphaned) {
      // Nobody to write to.
    } else if (this.sse) {
      this.sse.close();
    } else if (!this.ex.responded) {
      failed = this.respondWhole((this.answers ?? this.answer)!);
    }
    this.answer = undefined;
    this.onfinish?.();
    // Answered in its place, but still a failure to report (the session logs what a send throws).
    if (failed !== undefined) throw failed;
  }

  /**
   * Sends `body` as one JSON response, with its status. An answer JSON cannot encode goes out as an
   * internal error instead (`unencodable`), and the encoding failure is returned.
   */
  private respondWhole(body: Answer): Error | undefined {
    const ex = this.ex;
    let text: string | Chunks;
    let failed: Error | undefined;
    try {
      text = Array.isArray(body)
        ? JSON.stringify(body)
        : ex.respondChunks !== undefined
          ? serializeMessage(body)
          : stringifyMessage(body);
    } catch (err) {
      failed = err instanceof Error ? err : new Error(String(err));
      body = Array.isArray(body)
        ? body.map((answer) => (encodes(answer) ? answer : this.standIn(answer)))
        : this.standIn(body);
      text = JSON.stringify(body);
    }
    // A challenge is built only by a server with an authenticator (none, no closure per response).
    const authenticator = this.options.authenticator;
    const challenge =
      authenticator === undefined ? undefined : (e: JsonRpcErrorObject) => authenticator.challenge(e, ex);
    const { status, headers } = statusFor(body, this.options.modern, challenge);
    // Measured once, for the Content-Length and the traffic count both.
    const bytes = typeof text === 'string' ? Buffer.byteLength(text) : text.bytes;
    publishTraffic('http', 'out', bytes, Array.isArray(body) ? body.length : 1);
    const head = this.responseHeaders(headers);
    if (typeof text === 'string') ex.respond(status, head, text, bytes);
    else ex.respondChunks!(status, head, text.parts, bytes);
    return failed;
  }

  private standIn(answer: JsonRpcResponse): JsonRpcResponse {
    return answer.id === null ? answer : unencodable(answer.id, this.ex.correlationId);
  }

  /** A whole response's headers: JSON, the outbox's headers, and the status' own (the caller's object). */
  private responseHeaders(extra?: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const own = this.headers;
    for (const name in own) headers[name] = own[name];
    if (extra !== undefined) for (const name in extra) headers[name] = extra[name];
    return headers;
  }

  /**
   * Gives up (session closed): every request still unanswered gets a `shutting_down` error — in the
   * JSON response with what was collected, or on the stream, which then ends (with `retryMs`, a
   * reconnect hint).
   */
  abandon(retryMs?: number): void {
    if (this.done) return;
    this.done = true;
    const refusals: JsonRpcResponse[] = [];
    for (const id of this.pending.keys()) refusals.push(shuttingDown(id, this.ex.correlationId));
    if (this.sse) {
      const sse = this.sse;
      if (sse.isOpen) for (const refusal of refusals) sse.writeEvent(refusal, undefined);
      sse.close(retryMs);
    } else if (!this.ex.responded) {
      if (this.answers !== undefined) this.answers.push(...refusals);
      // A single request is unanswered, or it would have finished.
      this.respondWhole(this.answers ?? refusals[0]);
    }
    this.answer = undefined;
    this.onfinish?.();
  }

  /**
   * Lets go of a POST whose client went away: nothing more is written to it, and it stops waiting
   * for answers (what comes later for its requests is dropped).
   */
  discard(): void {
    if (this.done) return;
    this.done = true;
    this.sse?.close();
    this.answer = undefined;
    this.answers = undefined;
    this.onfinish?.();
  }

  /**
   * Its client went away and cannot resume the stream: the requests run on — MCP: a disconnection
   * is not a cancellation — their answers are dropped as they come (a cancelled one has none), and
   * the outbox lets go (`onfinish`) once every one has come.
   */
  orphan(): void {
    if (this.done) return;
    this.orphaned = true;
    this.sse?.close();
    this.answer = undefined;
    if (this.answers !== undefined) this.answers = [];
    if (this.pending.size === 0) this.finish();
  }

  /** One of its requests will get no answer (the client cancelled it): stop waiting for it. */
  unanswered(id: JsonRpcId): void {
    if (this.done || !this.pending.delete(id)) return;
    // A live JSON response waits on: its client cancelled, and drops it (then it is orphaned).
    if (this.pending.size === 0 && (this.orphaned || this.sse !== undefined)) this.finish();
  }

  /** Ends this POST's own stream (its connection went away), not one it was resumed on. */
  dropped(): void {
    this.own?.close();
  }
}

/** Whether JSON can encode `answer`. */
function encodes(answer: JsonRpcResponse): boolean {
  try {
    JSON.stringify(answer);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Transport of one 2026-07-28 POST: the request's answer, and what relates to it, go to its
 * outbox; there is no standalone stream to take anything else.
 */
export class RequestTransport implements Transport {
  onmessage?: (message: any, extra?: MessageExtra) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  outbox: Outbox | undefined;
  /** The `retry:` hint its stream ends with when the session closes (set for a shutdown). */
  retryMs: number | undefined = undefined;
  private closed = false;

  constructor(readonly sessionId: string) {}

  async start(): Promise<void> {}

  send(message: JsonRpcMessage, options?: SendOptions): Promise<void> {
    const outbox = this.outbox;
    if (outbox === undefined) return SENT;
    const id = isResponse(message) ? message.id : options?.relatedRequestId;
    if (id === undefined || id === null || !outbox.pending.has(id)) return SENT;
    return isResponse(message) || outbox.streams ? outbox.deliver(message) : SENT;
  }

  close(): Promise<void> {
    if (this.closed) return SENT;
    this.closed = true;
    this.outbox?.abandon(this.retryMs);
    this.onclose?.();
    return SENT;
  }
}

/** Finished POST streams a session keeps resumable at most; past it, the oldest are dropped from the store. */
const MAX_FINISHED_STREAMS = 1_000;

/**
 * The Transport a session sees on HTTP: routes responses to the POST that asked, related messages to
 * that POST's stream, and everything else to the standalone GET stream.
 */
export class HttpSessionTransport implements Transport {
  onmessage?: (message: any, extra?: MessageExtra) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  // SmallMaps, not Maps: they live as long as the session and change with every request.
  readonly routes = new SmallMap<JsonRpcId, Outbox>();
  /** Outboxes by stream id, for resumption. */
  readonly outboxes = new SmallMap<string, Outbox>();
  standalone: SseStream | undefined;
  /**
   * POST streams that carried SSE and have finished, oldest first: their events stay in the store
   * (a client may still resume one) until the session ends, or until this many more have finished.
   */
  private finishedStreams: Set<string> | undefined;
  /** The `retry:` hint its streams end with when the session closes (set for a shutdown). */
  retryMs: number | undefined = undefined;
  private closed = false;

  constructor(
    readonly sessionId: string,
    private readonly store: EventStore | undefined,
  ) {}

  get standaloneStreamId(): string {
    return `${this.sessionId}/get`;
  }

  async start(): Promise<void> {}

  /**
   * Registers a POST's outbox for its request ids — all but those still routed to another POST (a
   * request id in flight), which the caller answers itself.
   */
  register(outbox: Outbox): void {
    for (const id of outbox.pending.keys()) if (!this.routes.has(id)) this.routes.set(id, outbox);
    this.outboxes.set(outbox.streamId, outbox);
    // Through a local: a function literal assigned straight to a property is pretenured by V8
    // (docs/performance.md).
    const onfinish = () => this.finished(outbox);
    outbox.onfinish = onfinish;
  }

  /** Transport: a request of this session will get no answer (cancelled): its POST stops waiting. */
  unanswered(id: JsonRpcId): void {
    const outbox = this.routes.get(id);
    if (outbox === undefined) return;
    this.routes.delete(id);
    outbox.unanswered(id);
  }

  private finished(outbox: Outbox): void {
    this.outboxes.delete(outbox.streamId);
    for (const id of outbox.pending.keys()) if (this.routes.get(id) === outbox) this.routes.delete(id);
    if (outbox.sse !== undefined && this.store !== undefined) this.keepResumable(outbox.streamId);
  }

  /** Remembers a finished stream whose events are in the store, to drop them with the session. */
  private keepResumable(streamId: string): void {
    this.finishedStreams ??= new Set();
    this.finishedStreams.add(streamId);
    if (this.finishedStreams.size > MAX_FINISHED_STREAMS) {
      const oldest = this.finishedStreams.values().next().value!;
      this.finishedStreams.delete(oldest);
      this.dropStream(oldest);
    }
  }

  private dropStream(streamId: string): Promise<void> | undefined {
    try {
      const dropped = this.store!.drop(streamId);
      if (dropped instanceof Promise) return dropped.catch((err: Error) => this.onerror?.(err));
    } catch (err) {
      this.onerror?.(err as Error);
    }
    return undefined;
  }

  async send(message: JsonRpcMessage | JsonRpcMessage[], options?: SendOptions): Promise<void> {
    if (Array.isArray(message)) {
      // Every message goes, whatever one of them does (an answer JSON cannot encode went out as an
      // error and threw): the first failure is reported once the rest are delivered.
      let failed: unknown;
      for (const m of message) {
        try {
          await this.send(m, options);
        } catch (err) {
          failed ??= err;
        }
      }
      if (failed !== undefined) throw failed;
      return;
    }
    if (isResponse(message)) {
      const outbox = message.id === null ? undefined : this.routes.get(message.id);
      if (outbox) {
        this.routes.delete(message.id!);
        await outbox.deliver(message);
      }
      return;
    }
    const related = options?.relatedRequestId;
    const outbox = related === undefined ? undefined : this.routes.get(related);
    if (outbox?.streams) {
      await outbox.deliver(message);
      return;
    }
    if (this.standalone?.isOpen) await this.standalone.send(message);
    else if (this.store) await this.store.append(this.standaloneStreamId, message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Abandoned, the outboxes with a stream join finishedStreams: every stream this session wrote
    // to the store is dropped below.
    for (const outbox of this.outboxes.values()) outbox.abandon(this.retryMs);
    this.standalone?.close(this.retryMs);
    if (this.store !== undefined) {
      const streams = [this.standaloneStreamId];
      if (this.finishedStreams !== undefined) streams.push(...this.finishedStreams);
      this.finishedStreams = undefined;
      await Promise.all(streams.map((id) => this.dropStream(id)));
    }
    this.onclose?.();
  }
}
