/**
 * Resumability (MCP "Streamable HTTP › Resumability and Redelivery"): every SSE event gets an id and
 * is kept, bounded, so a client that lost a stream can reconnect with `Last-Event-ID` and receive what
 * it missed. The in-memory store is the embedded default; a shared store lets any instance replay.
 */
import type { JsonRpcMessage } from '../../protocol/jsonrpc.js';

export interface StoredEvent {
  id: string;
  message: JsonRpcMessage;
}

export interface EventStore {
  /** Stores a message sent on `streamId` and returns its event id. */
  append(streamId: string, message: JsonRpcMessage): Promise<string> | string;
  /** The stream an event id belongs to, or undefined if unknown or expired. */
  streamOf(eventId: string): Promise<string | undefined> | string | undefined;
  /** Events of the same stream after `eventId`, oldest first. */
  after(eventId: string): Promise<StoredEvent[]> | StoredEvent[];
  /** Forgets a stream (its session ended). */
  drop(streamId: string): Promise<void> | void;
  /**
   * Optional: an id naming where `streamId` stands now, before its next event (`after(id)` then
   * returns what comes next). With it, a stream opens with a priming event (that id, empty data), so a client
   * can resume a stream it lost before its first event (2025-11-25 and later).
   */
  prime?(streamId: string): string;
}

export interface MemoryEventStoreOptions {
  /** Events kept per stream (oldest dropped first). Default 1 000. */
  maxEventsPerStream?: number;
  /** Streams kept (least recently written dropped first). Default 10 000. */
  maxStreams?: number;
}

/** A bounded in-memory EventStore. Event ids are `<streamId>#<sequence>`. */
export class MemoryEventStore implements EventStore {
  private readonly streams = new Map<string, { seq: number; events: StoredEvent[] }>();
  private readonly maxEvents: number;
  private readonly maxStreams: number;

  constructor(options: MemoryEventStoreOptions = {}) {
    this.maxEvents = options.maxEventsPerStream ?? 1_000;
    this.maxStreams = options.maxStreams ?? 10_000;
  }

  /** The stream's current position: a stream opened again (a session's GET) resumes after it. */
  prime(streamId: string): string {
    return `${streamId}#${(this.streams.get(streamId) ?? this.stream(streamId)).seq}`;
  }

  append(streamId: string, message: JsonRpcMessage): string {
    const stream = this.stream(streamId);
    const id = `${streamId}#${++stream.seq}`;
    stream.events.push({ id, message });
    if (stream.events.length > this.maxEvents) stream.events.shift();
    return id;
  }

  /** The stream's record, made most recently written (the least recently written go first). */
  private stream(streamId: string): { seq: number; events: StoredEvent[] } {
    let stream = this.streams.get(streamId);
    if (stream) {
      // Map order is insertion order: re-insert so the least recently written stream is first.
      this.streams.delete(streamId);
    } else {
      stream = { seq: 0, events: [] };
      if (this.streams.size >= this.maxStreams) this.streams.delete(this.streams.keys().next().value!);
    }
    this.streams.set(streamId, stream);
    return stream;
  }

  streamOf(eventId: string): string | undefined {
    const hash = eventId.lastIndexOf('#');
    if (hash <= 0) return undefined;
    const streamId = eventId.slice(0, hash);
    return this.streams.has(streamId) ? streamId : undefined;
  }

  after(eventId: string): StoredEvent[] {
    const streamId = this.streamOf(eventId);
    if (streamId === undefined) return [];
    const seq = Number(eventId.slice(eventId.lastIndexOf('#') + 1));
    return this.streams
      .get(streamId)!
      .events.filter((e) => Number(e.id.slice(e.id.lastIndexOf('#') + 1)) > seq);
  }

  drop(streamId: string): void {
    this.streams.delete(streamId);
  }
}
