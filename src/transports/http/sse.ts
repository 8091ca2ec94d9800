/**
 * A Server-Sent Events stream carrying JSON-RPC messages: event ids through the EventStore, keep-alive
 * comments, and a bound on what may wait for a slow client — past it the stream is cut, never grown.
 */
import { InternalError } from '../../protocol/errors.js';
import {
  failure,
  isResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.js';
import { stringifyMessage } from '../../protocol/serialize.js';
import { publishTraffic } from '../diagnostics.js';
import type { EventStore } from './event-store.js';
import type { StreamSink } from './exchange.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

export interface SseOptions {
  /** Keep-alive comment interval; 0 disables. Default 15 s. */
  keepAliveMs?: number;
  /** Bytes a slow client may leave unread before the stream is cut. Default 4 MiB. */
  maxBufferedBytes?: number;
  /** The `retry:` hint (ms) sent when the stream opens and closes. */
  retryMs?: number;
}

/**
 * What goes out in place of an answer JSON cannot encode (a BigInt, a cycle): an internal error for
 * the same id, so the request is not left waiting for an answer that never comes.
 */
export function unencodable(id: JsonRpcId, correlationId: string | undefined): JsonRpcResponse {
  return failure(id, new InternalError().toJsonRpc(correlationId));
}

/** One SSE response stream. */
export class SseStream {
  private timer: NodeJS.Timeout | undefined;
  private open = true;
  private readonly maxBuffered: number;
  /** Called once when the stream ends, for whatever reason. */
  onclose?: () => void;
  /** The correlation id of the request the stream answers, if one (for an answer's stand-in). */
  correlationId: string | undefined = undefined;

  constructor(
    private readonly sink: StreamSink,
    readonly streamId: string,
    private readonly store: EventStore | undefined,
    options: SseOptions = {},
    /** Open with a priming event (an id, empty data) when the store can name the stream's start. */
    prime = false,
  ) {
    this.maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;
    const retry = options.retryMs !== undefined ? `retry: ${options.retryMs}\n` : '';
    const start = prime ? store?.prime?.(streamId) : undefined;
    // Clients see the stream open; primed, they can resume it from here with Last-Event-ID.
    if (start !== undefined) sink.write(`id: ${start}\n${retry}data: \n\n`);
    else sink.write(retry !== '' ? `${retry}\n` : ': open\n\n');
    const every = options.keepAliveMs ?? 15_000;
    if (every > 0) {
      this.timer = setInterval(() => this.writeRaw(': keepalive\n\n'), every);
      this.timer.unref();
    }
  }

  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Sends a message as an SSE event (with an id when a store is configured). When the store cannot
   * keep it, it still goes out live, without an id (it cannot be replayed), and the store's failure
   * is thrown after.
   */
  async send(message: JsonRpcMessage): Promise<void> {
    if (!this.open) return;
    if (this.store === undefined) return this.writeEvent(message, undefined);
    let id: string | undefined;
    let failed = false;
    let error: unknown;
    try {
      id = await this.store.append(this.streamId, message);
    } catch (err) {
      failed = true;
      error = err;
    }
    this.writeEvent(message, id);
    if (failed) throw error;
  }

  /**
   * Writes an already-stored event (replay after `Last-Event-ID`). A message JSON cannot encode
   * throws; an answer is first written as an internal error in its place (`unencodable`).
   */
  writeEvent(message: JsonRpcMessage, id: string | undefined): void {
    let data: string;
    try {
      data = stringifyMessage(message);
    } catch (err) {
      if (!isResponse(message) || message.id === null) throw err;
      this.writeData(JSON.stringify(unencodable(message.id, this.correlationId)), id);
      throw err;
    }
    this.writeData(data, id);
  }

  private writeData(data: string, id: string | undefined): void {
    publishTraffic('sse', 'out', data);
    this.writeRaw(
      id === undefined ? `event: message\ndata: ${data}\n\n` : `id: ${id}\nevent: message\ndata: ${data}\n\n`,
    );
  }

  /** Writes raw SSE text (comments, custom events). */
  writeRaw(chunk: string): void {
    if (!this.open) return;
    this.sink.write(chunk);
    if (this.sink.buffered > this.maxBuffered) this.close();
  }

  /** Ends the stream; with `retryMs`, tells the client when to reconnect. Idempotent. */
  close(retryMs?: number): void {
    if (!this.open) return;
    if (retryMs !== undefined) this.sink.write(`retry: ${retryMs}\n\n`);
    this.open = false;
    clearInterval(this.timer);
    this.sink.end();
    this.onclose?.();
  }
}
