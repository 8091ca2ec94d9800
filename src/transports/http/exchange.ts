/**
 * One HTTP request/response pair, independent of the server stack: the MCP HTTP transports are
 * written against this, and adapters provide it for `node:http` (Express, Fastify, plain Node) and
 * for Web-standard `fetch` handlers (Hono, Bun, Deno, workers).
 */
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
  /** Runs `listener` once if the client goes away before the response is complete. */
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

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly parsedBody: unknown,
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
    // `close` without `finish` means the client went away before the response was complete.
    // (`close` is emitted once: `on` spares the wrapper `once` would allocate per request.)
    this.res.on('close', () => {
      if (!this.res.writableFinished) listener();
    });
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
    this._responded = true;
    if (body !== undefined) headers['content-length'] = String(bytes ?? Buffer.byteLength(body));
    this.res.writeHead(status, this.addPending(headers));
    this.res.end(body);
  }

  respondChunks(
    status: number,
    headers: Record<string, string>,
    pieces: readonly (string | Uint8Array)[],
    bytes: number,
  ): void {
    this._responded = true;
    headers['content-length'] = String(bytes);
    const res = this.res;
    res.writeHead(status, this.addPending(headers));
    // Corked, the pieces leave in one write (end() uncorks fully), the cached ones without a copy.
    res.cork();
    for (let i = 0; i < pieces.length - 1; i++) res.write(pieces[i]);
    res.end(pieces.length > 0 ? pieces[pieces.length - 1] : undefined);
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

/** Wraps a `node:http` request/response pair. `parsedBody` is used when a framework already read it. */
export function nodeExchange(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): HttpExchange {
  return new NodeExchange(req, res, parsedBody);
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
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          controller = c;
        },
        cancel() {
          closed = true;
          if (!complete) for (const l of abortListeners) l();
        },
      });
      respondWith(new Response(body, { status, headers: Object.assign({}, extraHeaders, h) }));
      return {
        write(chunk) {
          if (closed) return false;
          controller.enqueue(encoder.encode(chunk));
          return (controller.desiredSize ?? 1) > 0;
        },
        get buffered() {
          return controller.desiredSize !== null && controller.desiredSize < 0 ? -controller.desiredSize : 0;
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
