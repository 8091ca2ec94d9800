/**
 * An in-memory linked pair of transports, for tests and for embedding a server in the same process
 * as its client. Compatible with the official SDK clients' Transport interface.
 */
import type { JsonRpcMessage } from '../protocol/jsonrpc.js';
import type { MessageExtra, Transport } from './types.js';

/** Messages a side will hold before `start()`; past this, the sender gets an error. */
const MAX_QUEUED = 10_000;

/** One end of an in-memory pair. */
export class MemoryTransport implements Transport {
  onmessage?: (message: any, extra?: MessageExtra) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  sessionId?: string;

  private peer?: MemoryTransport;
  private started = false;
  private closed = false;
  private readonly queue: unknown[] = [];

  /** Creates two linked transports: what one sends, the other receives. */
  static createLinkedPair(): [MemoryTransport, MemoryTransport] {
    const a = new MemoryTransport();
    const b = new MemoryTransport();
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('MemoryTransport already started');
    this.started = true;
    for (const message of this.queue.splice(0)) this.onmessage?.(message);
  }

  /** Accepts any JSON-RPC message shape, ours or the official SDK's. */
  async send(message: JsonRpcMessage | Record<string, unknown>): Promise<void> {
    if (this.closed) throw new Error('MemoryTransport is closed');
    const peer = this.peer;
    if (!peer || peer.closed) throw new Error('MemoryTransport peer is closed');
    peer.receive(message);
  }

  private receive(message: unknown): void {
    if (!this.started) {
      if (this.queue.length >= MAX_QUEUED) throw new Error('MemoryTransport queue is full');
      this.queue.push(message);
      return;
    }
    // Deliver asynchronously, as a real transport would, so neither side re-enters the other.
    queueMicrotask(() => {
      if (!this.closed) this.onmessage?.(message);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const peer = this.peer;
    this.onclose?.();
    await peer?.close();
  }
}

/** Creates a linked pair: `[clientSide, serverSide]`. */
export function createMemoryPair(): [MemoryTransport, MemoryTransport] {
  return MemoryTransport.createLinkedPair();
}
