/**
 * Where the server's log lines go by default: a file descriptor, written in batches. Lines are
 * encoded into one buffer as they come and written together, synchronously, every `flushMs` (10 ms
 * by default) or when the next line might not fit in the buffer (64 KiB), and on exit — so nothing
 * accepted is lost, nothing waits without bound, and a line costs a copy rather than a system call.
 *
 * Why not pino's own destinations: `sync: true` is one write(2) per line (~3 µs); its asynchronous
 * mode re-measures the whole pending chunk on every line (`Buffer.byteLength` of a growing string),
 * which measured ~4 µs a line under load, more than formatting the line. Why a timer and not every
 * event-loop turn: a busy server turns its loop for a request or two, so a write per turn measured
 * ~4 % of a request (docs/performance.md); every 10 ms is a write per hundreds of lines.
 */
import { writeSync } from 'node:fs';

/** Write attempts per batch before it is dropped (a pipe nobody reads). */
const MAX_ATTEMPTS = 1_000;

/** Destinations with lines waiting, written out if the process exits first. */
const pending = new Set<BatchedDestination>();
let exitHook = false;

function flushAll(): void {
  for (const destination of pending) destination.flushSync();
}

/** A pino destination that batches lines onto a file descriptor. */
export class BatchedDestination {
  /**
   * Waiting lines, already encoded: each is copied in as it is written — while its pieces are
   * still in the cache, and so that no line string outlives its request to be copied by a young
   * collection — and the batch is written from here, its length known in bytes.
   */
  private readonly buffer: Buffer;
  private used = 0;
  private scheduled = false;
  /** The flush timer, re-armed rather than made anew (with flushMs 0, none: setImmediate). */
  private timer: NodeJS.Timeout | undefined;
  private readonly due = () => {
    this.scheduled = false;
    this.flushSync();
  };

  constructor(
    private readonly fd: number,
    /** The batch buffer's size: a line that might not fit in what is left (3 bytes a UTF-16 unit) sends what waits first. */
    maxBuffered = 64 * 1024,
    /** How long a line may wait; 0 writes once per event-loop turn. */
    private readonly flushMs = 10,
  ) {
    this.buffer = Buffer.allocUnsafeSlow(Math.max(1, Math.floor(maxBuffered)));
    if (!exitHook) {
      exitHook = true;
      process.once('exit', flushAll);
    }
  }

  /** pino's write: queue the line. */
  write(line: string): boolean {
    const buffer = this.buffer;
    // A UTF-16 unit is at most 3 UTF-8 bytes: a line that may not fit goes after what is waiting,
    // and one that may not fit at all goes straight out.
    if (line.length * 3 > buffer.length - this.used) {
      this.flushSync();
      if (line.length * 3 > buffer.length) {
        const bytes = Buffer.from(line);
        this.writeOut(bytes, bytes.length);
        return true;
      }
    }
    // Waiting lines make this destination one that exit must flush.
    if (this.used === 0) pending.add(this);
    this.used += buffer.write(line, this.used);
    if (!this.scheduled) {
      this.scheduled = true;
      if (this.flushMs <= 0) setImmediate(this.due).unref();
      else if (this.timer === undefined) this.timer = setTimeout(this.due, this.flushMs).unref();
      else this.timer.refresh();
    }
    return true;
  }

  /** Writes what is waiting, now. */
  flushSync(): void {
    pending.delete(this);
    const used = this.used;
    if (used === 0) return;
    this.used = 0;
    this.writeOut(this.buffer, used);
  }

  /**
   * Writes `length` bytes of `data`. A full non-blocking pipe takes part of them or answers EAGAIN:
   * retry from where it stopped a bounded number of times, then drop the rest (as any other write
   * error does) — logging never takes the process down or stalls it for long.
   */
  private writeOut(data: Buffer, length: number): void {
    let offset = 0;
    for (let attempts = 0; offset < length && attempts < MAX_ATTEMPTS; attempts++) {
      try {
        offset += writeSync(this.fd, data, offset, length - offset);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      }
    }
  }

  /** pino's `logger.flush(cb)`. */
  flush(cb?: (err?: Error) => void): void {
    this.flushSync();
    cb?.();
  }

  end(): void {
    this.flushSync();
  }
}
