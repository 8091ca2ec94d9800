/**
 * `WebSocketClientTransport`: the client side of the WebSocket transport, shaped like the official
 * SDK's Transport so `new Client(...).connect(new WebSocketClientTransport(url))` works. On `ws` (an
 * optional peer dependency). With `reconnect`, a dropped connection is re-opened with exponential
 * backoff and messages sent meanwhile wait in a bounded queue — transparent on the 2026-07-28 era,
 * where every request stands alone (a legacy-era session does not survive: the server sees a new
 * connection).
 */
import type { WebSocket } from 'ws';
import { requirePeer } from '../optional-peer.js';
import type { JsonRpcMessage } from '../protocol/jsonrpc.js';
import type { Transport } from './types.js';

export interface WebSocketClientOptions {
  /** Extra handshake headers (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** Re-open dropped connections. Default off. */
  reconnect?: {
    /** Attempts before giving up (then `onclose` fires). Default 10. */
    retries?: number;
    /** First delay; doubles each attempt (with jitter). Default 100 ms. */
    minDelayMs?: number;
    /** Longest delay. Default 5 000 ms. */
    maxDelayMs?: number;
  };
  /** Messages kept while reconnecting; beyond it `send` rejects. Default 1 000. */
  maxQueue?: number;
  /** How long an opening handshake may take before the attempt fails. Default 10 000 ms. */
  handshakeTimeoutMs?: number;
}

/** A client transport over one WebSocket (subprotocol `mcp`). */
export class WebSocketClientTransport implements Transport {
  onmessage?: (message: any) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  /** Called after each successful reconnect. */
  onreconnect?: () => void;

  private socket: WebSocket | undefined;
  private closed = false;
  private readonly queue: string[] = [];
  private attempt = 0;
  /** The pending reconnect, cleared by `close()` (a timer left behind held the process open). */
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly url: URL | string,
    private readonly options: WebSocketClientOptions = {},
  ) {}

  /** Opens the connection; rejects if the first attempt fails. */
  start(): Promise<void> {
    if (this.socket) throw new Error('WebSocketClientTransport already started');
    return this.open();
  }

  private open(): Promise<void> {
    const { WebSocket: Socket } = requirePeer<typeof import('ws')>('ws', 'WebSocketClientTransport');
    return new Promise((resolve, reject) => {
      // A peer that accepts the connection and then says nothing fails the attempt in bounded time.
      const socket = new Socket(this.url, 'mcp', {
        headers: this.options.headers,
        handshakeTimeout: this.options.handshakeTimeoutMs ?? 10_000,
      });
      this.socket = socket;
      let opened = false;
      socket.on('open', () => {
        opened = true;
        this.attempt = 0;
        for (const text of this.queue.splice(0)) socket.send(text);
        resolve();
      });
      socket.on('message', (data, isBinary) => {
        if (isBinary) return;
        let message: unknown;
        try {
          message = JSON.parse(data.toString());
        } catch (err) {
          this.onerror?.(err as Error);
          return;
        }
        this.onmessage?.(message);
      });
      socket.on('error', (err) => {
        if (!opened) reject(err);
        else this.onerror?.(err);
      });
      socket.on('close', (code, reason) => {
        if (!opened) return;
        if (this.closed) this.finish();
        else this.dropped(code, reason.toString());
      });
    });
  }

  /** The connection dropped: reconnect with backoff, or give up. */
  private dropped(code: number, reason: string): void {
    const retry = this.options.reconnect;
    // Policy and size refusals will not get better by retrying.
    if (!retry || code === 1008 || code === 1009 || code === 1003) {
      if (code !== 1000) this.onerror?.(new Error(`WebSocket closed: ${code} ${reason}`));
      this.finish();
      return;
    }
    if (this.attempt >= (retry.retries ?? 10)) {
      this.finish();
      return;
    }
    const base = Math.min((retry.minDelayMs ?? 100) * 2 ** this.attempt, retry.maxDelayMs ?? 5_000);
    this.attempt++;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        if (this.closed) return;
        this.open().then(
          () => this.onreconnect?.(),
          () => this.dropped(1006, 'reconnect failed'),
        );
      },
      base / 2 + Math.random() * (base / 2),
    );
  }

  /** Sends one message (typed loosely so the official SDK clients' messages fit). */
  send(message: JsonRpcMessage | object): Promise<void> {
    if (this.closed) return Promise.reject(new Error('WebSocket transport is closed'));
    const text = JSON.stringify(message);
    const socket = this.socket;
    if (!socket || socket.readyState !== socket.OPEN) {
      if (this.queue.length >= (this.options.maxQueue ?? 1_000)) {
        return Promise.reject(new Error('WebSocket is reconnecting and its queue is full'));
      }
      this.queue.push(text);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => socket.send(text, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const socket = this.socket;
    if (socket && (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.close(1000);
        setTimeout(() => {
          socket.terminate();
          resolve();
        }, 2_000).unref();
      });
    }
    this.finish();
  }

  private finished = false;
  private finish(): void {
    this.closed = true;
    if (this.finished) return;
    this.finished = true;
    this.onclose?.();
  }
}
