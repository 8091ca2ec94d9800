/**
 * One HTTP request/response pair, independent of the server stack: the MCP HTTP transports are
 * written against this, and adapters provide it for `node:http` (Express, Fastify, plain Node) and
 * for Web-standard `fetch` handlers (Hono, Bun, Deno, workers).
 */
import { AsyncResource } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A response body being streamed (Server-Sent Events). */
export interface StreamSink {
  /** Writes a chunk; false means the peer is not keeping up (check `buffered`). */
  write(chunk: string): boolean;
  /** Bytes accepted but not yet flushed to the peer. */
  readonly buffered: number;
  end(): void;
}

export interface HttpExchange {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** A request header, lower-case name; repeated headers are joined with ", ". */
  header(name: string): string | undefined;
  /** Every request header (lower-case names), for `requestInfo`. */
  headers(): Record<string, string | string[] | undefined>;
  /** The remote address, when known. */
  readonly remoteAddress: string | undefined;
  /**
   * Reads the body as text and calls `done` once: with the text, or with an error
   * (`BodyTooLargeError` past `limit` bytes). A callback rather than a promise: on the request path
   * every promise costs, and AsyncLocalStorage makes each dearer. `done` must not throw.
   */
  readBody(limit: number, done: BodyCallback): void;
  /**
   * Runs `listener` once if the client goes away before the response is complete (for a whole
   * response, before it is made: once made, there is nothing left to abort).
   */
  onAbort(listener: () => void): void;
  /** Sets a header on whatever response follows. */
  setHeader(name: string, value: string): void;
  /** Sends a complete response; `bytes` is the body's UTF-8 length, when the caller measured it. */
  respond(status: number, headers: Record<string, string>, body?: string, bytes?: number): void;
  /**
   * Optional: sends a complete response whose body comes in pieces, written in order (`bytes` in
   * all). A response that carries a pre-serialised listing uses it, to write the listing's cached
   * UTF-8 bytes as they are; an exchange without it gets the body as one string through `respond`.
   */
  respondChunks?(
    status: number,
    headers: Record<string, string>,
    pieces: readonly (string | Uint8Array)[],
    bytes: number,
  ): void;
  /** Starts a streamed response. */
  stream(status: number, headers: Record<string, string>): StreamSink;
  /** Whether a response has started. */
  readonly responded: boolean;
  /** The request's correlation id, fixed by the transport on first use (echoed as `X-Request-Id`). */
  correlationId?: string;
}

/**
 * What `readBody` calls: `(undefined, text, bytes)` or `(error, '')`. `bytes`, the body's size as it
 * arrived, may be left out (it is then measured from the text when traffic is counted).
 */
export type BodyCallback = (err: Error | undefined, text: string, bytes?: number) => void;

/** `ex.readBody` as a promise, where one is wanted anyway. */
export function readBodyText(ex: HttpExchange, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    ex.readBody(limit, (err, text) => (err === undefined ? resolve(text) : reject(err)));
  });
}

/** The request body exceeded the configured limit. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`Request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

function joinHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

type Body = string | readonly (string | Uint8Array)[] | undefined;

/** Ends `res` with `body`: one string, or pieces written corked so that they leave in one write. */
function endWith(res: ServerResponse, body: Body): void {
  if (typeof body === 'string' || body === undefined) {
    res.end(body);
    return;
  }
  // end() uncorks fully; the cached pieces are written without a copy.
  res.cork();
  for (let i = 0; i < body.length - 1; i++) res.write(body[i]);
  res.end(body.length > 0 ? body[body.length - 1] : undefined);
}

/**
 * Whole responses of one pass of the event loop's I/O phase, ended together right after it
 * (`setImmediate` runs then). Their heads are stored when they are made (a bad header still throws to
 * the caller); only the write waits.
 *
 * Why: a response written to a peer asleep in `epoll_wait` wakes it — on a virtual machine a
 * cross-core interrupt, charged as kernel time to the writer — and a peer that keeps up reads that
 * one response and sleeps again. Written together, the responses to the requests one pass read wake
 * each peer once: measured over loopback at 0.7–1 µs less kernel time a request, 4–8 % more
 * throughput under load (docs/performance.md). A response waits at most for the rest of its pass.
 *
 * Bounded: it holds only responses already made, at most those of one pass.
 */
class EndBatch {
  private readonly responses: (ServerResponse | undefined)[] = [];
  private readonly bodies: Body[] = [];
  private count = 0;
  /**
   * Run in the async context current when this module loaded (at start-up: none), not in the first
   * request's of the pass: the writes and what Node emits for them ('finish') belong to no request.
   */
  private readonly run = AsyncResource.bind(() => this.endAll());

  add(res: ServerResponse, body: Body): void {
    const i = this.count++;
    this.responses[i] = res;
    this.bodies[i] = body;
    if (i === 0) setImmediate(this.run);
  }

  /** Ends every waiting response, now (also before a closing host destroys the connections). */
  endAll(): void {
    // Responses added while these are ended (nothing in Node does so synchronously) join this pass.
    for (let i = 0; i < this.count; i++) {
      const res = this.responses[i]!;
      const body = this.bodies[i];
      this.responses[i] = undefined;
      this.bodies[i] = undefined;
      try {
        endWith(res, body);
      } catch (err) {
        // Nothing is left to answer with: the head went out with the error. Say so, and drop the
        // connection (a client waits for an answer on it otherwise).
        process.emitWarning(err as Error);
        res.destroy(err as Error);
      }
    }
    this.count = 0;
  }
}

const batch = new EndBatch();

/**
 * Ends the responses `nodeExchange` holds for the end of the current I/O pass, now, and resolves
 * once Node has written them and the responses pipelined behind them on the same connections (each
 * waits for the one before it to finish, a tick later): before a closing server drops its
 * connections.
 */
export function flushPendingResponses(): Promise<void> {
  batch.endAll();
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs `first`, then `second`. */
function both(first: () => void, second: () => void): () => void {
  return () => {
    first();
    second();
  };
}

/** A `node:http` request/response pair (a class, so the per-request cost is one object). */
class NodeExchange implements HttpExchange {
  readonly method: string;
  readonly path: string;
  private readonly rawQuery: string;
  private _query: URLSearchParams | undefined;
  private _responded = false;
  correlationId: string | undefined = undefined;
  /**
   * Headers set before the response, written with it: kept here rather than with `res.setHeader`,
   * so that Node writes the head straight from one object.
   */
  private pendingHeaders: Record<string, string> | undefined;
  /** What `onAbort` asked to run if the client goes away first (until a whole response is made). */
  private abortListener: (() => void) | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly parsedBody: unknown,
    /** Whole responses are ended with the rest of their I/O pass (`EndBatch`), not at once. */
    private readonly batched: boolean,
  ) {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.method = req.method ?? 'GET';
    this.path = q === -1 ? url : url.slice(0, q);
    this.rawQuery = q === -1 ? '' : url.slice(q + 1);
  }

  get query(): URLSearchParams {
    if (this._query === undefined) this._query = new URLSearchParams(this.rawQuery);
    return this._query;
  }

  get remoteAddress(): string | undefined {
    return this.req.socket?.remoteAddress;
  }

  get responded(): boolean {
    return this._responded;
  }

  header(name: string): string | undefined {
    return joinHeader(this.req.headers[name]);
  }

  headers(): Record<string, string | string[] | undefined> {
    return this.req.headers;
  }

  readBody(limit: number, done: BodyCallback): void {
    const { req, parsedBody } = this;
    if (parsedBody !== undefined) {
      const text = typeof parsedBody === 'string' ? parsedBody : JSON.stringify(parsedBody);
      const bytes = Buffer.byteLength(text);
      if (bytes > limit) done(new BodyTooLargeError(limit), '');
      else done(undefined, text, bytes);
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      done(new BodyTooLargeError(limit), '');
      return;
    }
    // Most bodies arrive in one chunk: keep it alone, and collect into an array only past it.
    let first: Buffer | undefined;
    let more: Buffer[] | undefined;
    let size = 0;
    let settled = false;
    const settle = (err: Error | undefined, text: string) => {
      if (settled) return;
      settled = true;
      done(err, text, size);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop reading; the caller answers 413 and the connection is closed after it.
        req.off('data', onData);
        req.pause();
        settle(new BodyTooLargeError(limit), '');
        return;
      }
      if (first === undefined) first = chunk;
      else if (more === undefined) more = [first, chunk];
      else more.push(chunk);
    };
    req.on('data', onData);
    // `end` and `error` settle once; `on` spares the wrappers `once` allocates.
    req.on('end', () => {
      if (more !== undefined) settle(undefined, Buffer.concat(more).toString('utf8'));
      else settle(undefined, first === undefined ? '' : first.toString('utf8'));
    });
    req.on('error', (err) => settle(err, ''));
  }

  onAbort(listener: () => void): void {
    const previous = this.abortListener;
    if (previous !== undefined) this.abortListener = both(previous, listener);
    else {
      this.abortListener = listener;
      this.listenForClose();
    }
  }

  /**
   * `close` without `finish` means the client went away before the response was complete. The
   * listener is made here, apart from `onAbort`'s arguments: a closure made beside them would share
   * their scope and keep them (the request's session, outbox and context) alive with the response.
   * (`close` is emitted once: `on` spares the wrapper `once` would allocate per request.)
   */
  private listenForClose(): void {
    this.res.on('close', () => {
      const aborted = this.abortListener;
      this.abortListener = undefined;
      if (aborted !== undefined && !this.res.writableFinished) aborted();
    });
  }

  /**
   * A whole response has been made: a client leaving now aborts nothing. The listeners go, so that
   * what they reach (the request's session, outbox and context) is not kept alive with the response
   * while it waits for the end of its pass.
   */
  private made(): void {
    this._responded = true;
    this.abortListener = undefined;
  }

  setHeader(name: string, value: string): void {
    if (this.pendingHeaders === undefined) this.pendingHeaders = {};
    this.pendingHeaders[name.toLowerCase()] = value;
  }

  /** Adds the pending headers under `headers` (the response's own win), in place. */
  private addPending(headers: Record<string, string>): Record<string, string> {
    const pending = this.pendingHeaders;
    if (pending !== undefined)
      for (const name in pending) if (!(name in headers)) headers[name] = pending[name];
    return headers;
  }

  /**
   * Completes the response. `headers` is the caller's own object: the length (measured here unless
   * the caller did) and pending headers join it.
   */
  respond(status: number, headers: Record<string, string>, body?: string, bytes?: number): void {
    if (body !== undefined) headers['content-length'] = String(bytes ?? Buffer.byteLength(body));
    this.complete(status, headers, body);
  }

  respondChunks(
    status: number,
    headers: Record<string, string>,
    pieces: readonly (string | Uint8Array)[],
    bytes: number,
  ): void {
    headers['content-length'] = String(bytes);
    this.complete(status, headers, pieces);
  }

  /** Writes the head, then ends the response with `body` now or with the rest of its pass. */
  private complete(status: number, headers: Record<string, string>, body: Body): void {
    // A head Node refuses (a bad header value) throws before anything counts as made: the caller
    // can still answer with an error.
    this.res.writeHead(status, this.addPending(headers));
    this.made();
    if (this.batched) batch.add(this.res, body);
    else endWith(this.res, body);
  }

  stream(status: number, headers: Record<string, string>): StreamSink {
    this._responded = true;
    const res = this.res;
    res.writeHead(
      status,
      this.pendingHeaders === undefined ? headers : this.addPending(Object.assign({}, headers)),
    );
    res.flushHeaders();
    return {
      write: (chunk) => res.write(chunk),
      get buffered() {
        return res.writableLength;
      },
      end: () => res.end(),
    };
  }
}

/**
 * Wraps a `node:http` request/response pair. `parsedBody` is used when a framework already read it.
 * With `batched`, whole responses are written at the end of the I/O pass they were made in (see
 * `EndBatch`; a streamed response is written as it goes, either way).
 */
export function nodeExchange(
  req: IncomingMessage,
  res: ServerResponse,
  parsedBody?: unknown,
  batched = false,
): HttpExchange {
  return new NodeExchange(req, res, parsedBody, batched);
}

/** A Web `Request`'s body as text, refused past `limit` bytes. */
async function readWebBody(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length'));
  if (declared > limit) throw new BodyTooLargeError(limit);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Bytes a streamed Web response queues before `write` reports that its reader is not keeping up. */
const STREAM_HIGH_WATER = 64 * 1024;
/**
 * A streamed Web response's queue counts bytes, not chunks (the default strategy's count would
 * never reach `maxBufferedBytes`). Shared: a strategy is read once, when a stream is made.
 */
const STREAM_QUEUE = new ByteLengthQueuingStrategy({ highWaterMark: STREAM_HIGH_WATER });

/** Wraps a Web-standard Request; the Response is delivered through `respondWith` once known. */
export function fetchExchange(request: Request, respondWith: (response: Response) => void): HttpExchange {
  const url = new URL(request.url);
  let responded = false;
  const abortListeners: (() => void)[] = [];
  let complete = false;
  request.signal?.addEventListener('abort', () => {
    if (!complete) for (const l of abortListeners) l();
  });
  const headers: Record<string, string> = {};
  request.headers.forEach((value, key) => {
    headers[key] = value;
  });
  const extraHeaders: Record<string, string> = {};
  return {
    correlationId: undefined,
    method: request.method,
    path: url.pathname,
    query: url.searchParams,
    remoteAddress: undefined,
    header: (name) => request.headers.get(name) ?? undefined,
    headers: () => headers,
    readBody(limit, done) {
      readWebBody(request, limit).then(
        (text) => done(undefined, text),
        (err: Error) => done(err, ''),
      );
    },
    onAbort(listener) {
      abortListeners.push(listener);
    },
    setHeader(name, value) {
      extraHeaders[name] = value;
    },
    respond(status, h, body) {
      responded = true;
      complete = true;
      respondWith(new Response(body ?? null, { status, headers: Object.assign({}, extraHeaders, h) }));
    },
    stream(status, h) {
      responded = true;
      const encoder = new TextEncoder();
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      let closed = false;
      const body = new ReadableStream<Uint8Array>(
        {
          start(c) {
            controller = c;
          },
          cancel() {
            closed = true;
            if (!complete) for (const l of abortListeners) l();
          },
        },
        STREAM_QUEUE,
      );
      respondWith(new Response(body, { status, headers: Object.assign({}, extraHeaders, h) }));
      return {
        write(chunk) {
          if (closed) return false;
          controller.enqueue(encoder.encode(chunk));
          return (controller.desiredSize ?? 1) > 0;
        },
        // Bytes queued for the reader: the high-water mark less what the queue still wants.
        get buffered() {
          const wanted = controller.desiredSize;
          return wanted === null ? 0 : STREAM_HIGH_WATER - wanted;
        },
        end() {
          if (closed) return;
          closed = true;
          complete = true;
          controller.close();
        },
      };
    },
    get responded() {
      return responded;
    },
  };
}
