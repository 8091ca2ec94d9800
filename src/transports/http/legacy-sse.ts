/**
 * The HTTP+SSE transport of protocol 2024-11-05, for old clients: `GET /sse` opens the session's
 * event stream and names the endpoint to POST to (`event: endpoint`); `POST /messages?sessionId=…`
 * delivers one message (202 Accepted) whose answer arrives on the stream.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, type JsonRpcMessage } from '../../protocol/jsonrpc.js';
import type { McpServer } from '../../server/server.js';
import type { Session } from '../../session/session.js';
import type { MessageExtra, Transport } from '../types.js';
import { BodyTooLargeError, type HttpExchange, readBodyText } from './exchange.js';
import { SSE_HEADERS, type SseOptions, SseStream } from './sse.js';
import {
  authenticateHttp,
  type Caller,
  HttpMessageExtra,
  isJsonType,
  refuseShuttingDown,
  rejectHttp,
  requestIdOf,
  SHUTDOWN_RETRY_MS,
} from './streamable.js';

export interface LegacySseOptions {
  /** Path of the event stream. Default `/sse`. */
  ssePath?: string;
  /** Path messages are posted to. Default `/messages`. */
  messagesPath?: string;
  /** Open SSE sessions at most. Default 10 000. */
  maxSessions?: number;
  /** Largest POST body. Default 4 MiB. */
  maxBodyBytes?: number;
  sse?: SseOptions;
}

/** The transport of one HTTP+SSE session: everything the server sends goes down the one stream. */
class SseSessionTransport implements Transport {
  onmessage?: (message: any, extra?: MessageExtra) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  /** The `retry:` hint the stream ends with when the session closes (set for a shutdown). */
  retryMs: number | undefined = undefined;
  private closed = false;

  constructor(
    readonly sessionId: string,
    private readonly stream: SseStream,
  ) {
    stream.onclose = () => void this.close();
  }

  async start(): Promise<void> {}

  async send(message: JsonRpcMessage): Promise<void> {
    await this.stream.send(message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream.close(this.retryMs);
    this.onclose?.();
  }
}

/** Serves the 2024-11-05 HTTP+SSE transport. */
export class LegacySse {
  private readonly sessions = new Map<
    string,
    { session: Session; transport: SseSessionTransport; principal: string | undefined; auth: Caller['auth'] }
  >();
  readonly ssePath: string;
  readonly messagesPath: string;
  private closing = false;

  constructor(
    private readonly server: McpServer<any>,
    private readonly options: LegacySseOptions = {},
  ) {
    this.ssePath = options.ssePath ?? '/sse';
    this.messagesPath = options.messagesPath ?? '/messages';
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Whether this request is for the HTTP+SSE endpoints. */
  handles(path: string): boolean {
    return path === this.ssePath || path === this.messagesPath;
  }

  async handle(ex: HttpExchange): Promise<void> {
    if (this.closing) return refuseShuttingDown(ex);
    if (ex.path === this.ssePath && ex.method === 'GET') return this.open(ex);
    if (ex.path === this.messagesPath && ex.method === 'POST') return this.message(ex);
    rejectHttp(ex, 405, {
      code: ErrorCode.InvalidRequest,
      message: 'Method not allowed',
      data: { type: 'method_not_allowed' },
    });
  }

  private async open(ex: HttpExchange): Promise<void> {
    const caller = await authenticateHttp(this.server, ex);
    if (caller === undefined) return;
    if (this.sessions.size >= (this.options.maxSessions ?? 10_000)) {
      rejectHttp(
        ex,
        503,
        { code: ErrorCode.Overloaded, message: 'Too many sessions', data: { type: 'overloaded' } },
        null,
        {
          'retry-after': '5',
        },
      );
      return;
    }
    const id = randomBytes(16).toString('hex');
    const stream = new SseStream(ex.stream(200, SSE_HEADERS), id, undefined, this.options.sse);
    const transport = new SseSessionTransport(id, stream);
    const session = this.server.attach(transport);
    this.sessions.set(id, { session, transport, principal: caller.principal, auth: caller.auth });
    transport.onclose = () => {
      this.sessions.delete(id);
      void session.close();
    };
    ex.onAbort(() => void transport.close());
    // The endpoint event tells the client where to POST (relative to the stream's URL).
    stream.writeRaw(`event: endpoint\ndata: ${this.messagesPath}?sessionId=${id}\n\n`);
  }

  private async message(ex: HttpExchange): Promise<void> {
    ex.setHeader('x-request-id', requestIdOf(ex));
    const caller = await authenticateHttp(this.server, ex);
    if (caller === undefined) return;
    const id = ex.query.get('sessionId');
    const entry = id ? this.sessions.get(id) : undefined;
    if (!entry) {
      rejectHttp(ex, id ? 404 : 400, {
        code: ErrorCode.InvalidRequest,
        message: id ? 'Session not found' : 'sessionId query parameter is required',
        data: { type: id ? 'session_not_found' : 'session_required' },
      });
      return;
    }
    // As on Streamable HTTP: a text/plain POST is one a browser sends cross-origin without asking.
    if (!isJsonType(ex.header('content-type'))) {
      rejectHttp(ex, 415, {
        code: ErrorCode.InvalidRequest,
        message: 'Content-Type must be application/json',
        data: { type: 'unsupported_media_type' },
      });
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBodyText(ex, this.options.maxBodyBytes ?? 4 * 1024 * 1024));
    } catch (err) {
      const tooLarge = err instanceof BodyTooLargeError;
      rejectHttp(ex, tooLarge ? 413 : 400, {
        code: tooLarge ? ErrorCode.InvalidRequest : ErrorCode.ParseError,
        message: tooLarge ? err.message : 'Parse error',
        data: { type: tooLarge ? 'payload_too_large' : 'parse_error' },
      });
      return;
    }
    // A session is bound to the principal that opened it: another token cannot use its id.
    if (entry.principal !== caller.principal) {
      rejectHttp(ex, 403, {
        code: ErrorCode.Forbidden,
        message: 'Session belongs to another principal',
        data: { type: 'session_forbidden' },
      });
      return;
    }
    ex.respond(202, { 'content-type': 'text/plain' }, 'Accepted');
    entry.transport.onmessage?.(body, new HttpMessageExtra(ex, id!, requestIdOf(ex), caller.auth));
  }

  /** Closes every SSE session, letting in-flight requests finish. */
  async close(drainMs = 5_000): Promise<void> {
    this.closing = true;
    // The streams end with a reconnect hint (see StreamableHttp.close).
    const retryMs = this.options.sse?.retryMs ?? SHUTDOWN_RETRY_MS;
    for (const entry of this.sessions.values()) entry.transport.retryMs = retryMs;
    await Promise.all([...this.sessions.values()].map((e) => e.session.close(drainMs)));
    this.sessions.clear();
  }
}
