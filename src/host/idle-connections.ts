/**
 * Idle keep-alive connections closed by one periodic sweep instead of a timer per request.
 *
 * Why: Node's own keep-alive timeout arms a new socket timer when each response finishes and clears
 * it when the next request arrives — a `Timeout` object, a bound callback and two timer-list updates
 * per request (150–200 ns a pair in a loop on the benchmark machine, about 1 % of a 2026-07-28
 * `tools/call`), and with AsyncLocalStorage on (the `logging()` middleware) the async hooks run for
 * each timer too. The sweep costs nothing per request: a connection is idle when no response is in
 * progress on it and its byte counters (kept by libuv) have not moved since the last look.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** What the sweep last saw of one connection (one object per connection, updated in place). */
class Seen {
  constructor(
    public read: number,
    public written: number,
    /** When the counters last moved, or a response was last seen in progress. */
    public since: number,
  ) {}
}

/** Node's response in progress on a socket (`null` between requests); an internal of `node:http`. */
function busy(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: unknown })._httpMessage != null;
}

/** How often the sweep runs for a timeout: a fifth of it, between 10 ms and 1 s. */
export function sweepInterval(timeoutMs: number): number {
  return Math.min(1_000, Math.max(10, Math.floor(timeoutMs / 5)));
}

/**
 * Closes keep-alive connections of `server` that stay idle for `timeoutMs` (never sooner; at most one
 * sweep interval later). Takes over from `server.keepAliveTimeout`, which it sets to 0, while still
 * sending clients the `Keep-Alive: timeout=` hint they use to retire connections first.
 */
export class IdleConnections {
  /** Open connections: each is added when it connects and removed when it closes or is upgraded. */
  private readonly seen = new Map<Socket, Seen>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    server: Server,
    readonly timeoutMs: number,
  ) {
    server.keepAliveTimeout = 0;
    server.on('connection', (socket: Socket) => {
      this.seen.set(socket, new Seen(socket.bytesRead, socket.bytesWritten, Date.now()));
      socket.once('close', () => this.seen.delete(socket));
    });
    this.timer = setInterval(() => this.sweep(Date.now()), sweepInterval(timeoutMs)).unref();
  }

  /**
   * Called for each request: restores the `Keep-Alive: timeout=` response header Node writes from
   * its own setting (a field of `node:http`'s response; were it gone, the header would be too,
   * and nothing else).
   */
  hint(res: ServerResponse): void {
    (res as ServerResponse & { _keepAliveTimeout?: number })._keepAliveTimeout = this.timeoutMs;
  }

  /** A connection that leaves HTTP (an upgrade to WebSocket): its own protocol decides when it is idle. */
  forget(socket: Socket): void {
    this.seen.delete(socket);
  }

  /** One look at every connection, closing those idle for the timeout. */
  sweep(now: number): void {
    for (const [socket, seen] of this.seen) {
      const read = socket.bytesRead;
      const written = socket.bytesWritten;
      if (read !== seen.read || written !== seen.written || busy(socket)) {
        seen.read = read;
        seen.written = written;
        seen.since = now;
      } else if (now - seen.since >= this.timeoutMs) {
        this.seen.delete(socket);
        socket.destroy();
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
