/**
 * Where the server's log lines go by default: a file descriptor, written in batches. Lines are kept
 * in an array and written together, synchronously, every `flushMs` (10 ms by default) or whenever
 * 64 KiB are waiting, and on exit — so nothing accepted is lost, nothing waits without bound, and a
 * line costs an array push rather than a system call.
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
  private lines: string[] = [];
  private bytes = 0;
  private scheduled = false;
  /** The flush timer, re-armed rather than made anew (with flushMs 0, none: setImmediate). */
  private timer: NodeJS.Timeout | undefined;
  private readonly due = () => {
    this.scheduled = false;
    this.flushSync();
  };

  constructor(
    private readonly fd: number,
    /** Waiting characters that force a write at once. */
    private readonly maxBuffered = 64 * 1024,
    /** How long a line may wait; 0 writes once per event-loop turn. */
    private readonly flushMs = 10,
  ) {
    if (!exitHook) {
      exitHook = true;
      process.once('exit', flushAll);
    }
  }

  /** pino's write: queue the line. */
  write(line: string): boolean {
    // Waiting lines make this destination one that exit must flush.
    if (this.lines.length === 0) pending.add(this);
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.maxBuffered) this.flushSync();
    else if (!this.scheduled) {
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
    if (this.lines.length === 0) return;
    const data = this.lines.length === 1 ? this.lines[0] : this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    // The string is written as it is (encoded by the write itself, not into a Buffer first); only a
    // partial write needs the bytes, to go on from where it stopped.
    let written = 0;
    try {
      written = writeSync(this.fd, data);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
    if (written >= data.length && written === Buffer.byteLength(data)) return;
    const buffer = Buffer.from(data);
    let offset = written;
    // A full non-blocking pipe answers EAGAIN: retry a bounded number of times, then drop the batch
    // (as any other write error does) — logging never takes the process down or stalls it for long.
    for (let attempts = 0; offset < buffer.length && attempts < MAX_ATTEMPTS; attempts++) {
      try {
        offset += writeSync(this.fd, buffer, offset);
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
