/**
 * The lifespan: opens a server's dependencies before the first request, hands them to every
 * handler as typed `ctx.deps`, and closes them on shutdown — in reverse order, each one even when an
 * earlier disposal failed. A start-up that fails closes what it had already opened. Background
 * tasks started here (`life.every`, or anything watching `life.signal`) stop on shutdown.
 */

/** What a lifespan function gets: a place to register disposals and background work. */
export interface Lifespan {
  /** Registers `value`'s disposal (run on shutdown, last registered first) and returns `value`. */
  use<T>(value: T, dispose: (value: T) => unknown): T;
  /** Registers a disposal step with no value. */
  defer(dispose: () => unknown): void;
  /** Aborted when shutdown begins: background loops should stop. */
  readonly signal: AbortSignal;
  /**
   * Runs `task` every `ms` until shutdown (never two at once; errors are reported, not thrown).
   * Returns the timer's stop function.
   */
  every(ms: number, task: (signal: AbortSignal) => unknown): () => void;
}

/** Opens dependencies and returns them: `async (life) => ({ db: life.use(await open(), (db) => db.end()) })`. */
export type LifespanFn<Deps> = (life: Lifespan) => Promise<Deps> | Deps;

/** How long shutdown waits for background task runs under way to end (they are told by their signal). */
const TASK_GRACE_MS = 5_000;

/** Start-up failed; `cause` says why. What had been opened is closed already. */
export class LifespanError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LifespanError';
  }
}

/** Runs one lifespan: `start()` once, `stop()` once (both idempotent). */
export class LifespanRunner<Deps> {
  private readonly disposals: Array<() => unknown> = [];
  private readonly controller = new AbortController();
  /** Runs of `every` tasks under way: shutdown waits for them before disposing what they use. */
  private readonly running = new Set<Promise<void>>();
  private started: Promise<Deps> | undefined;
  private stopped: Promise<Error[]> | undefined;

  constructor(
    private readonly fn: LifespanFn<Deps>,
    private readonly onError: (err: unknown, what: string) => void,
  ) {}

  /** Opens the dependencies; on failure disposes what was opened and rejects with a LifespanError. */
  start(): Promise<Deps> {
    this.started ??= this.open();
    return this.started;
  }

  private async open(): Promise<Deps> {
    const life: Lifespan = {
      use: (value, dispose) => {
        this.disposals.push(() => dispose(value));
        return value;
      },
      defer: (dispose) => void this.disposals.push(dispose),
      signal: this.controller.signal,
      every: (ms, task) => this.every(ms, task),
    };
    try {
      return await this.fn(life);
    } catch (err) {
      const errors = await this.stop();
      for (const e of errors) this.onError(e, 'disposal after failed start-up');
      const why = err instanceof Error ? err.message : String(err);
      throw new LifespanError(`Server start-up failed: ${why}`, { cause: err });
    }
  }

  private every(ms: number, task: (signal: AbortSignal) => unknown): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.controller.signal.aborted) return;
      running = true;
      const run = (async () => {
        try {
          await task(this.controller.signal);
        } catch (err) {
          this.onError(err, 'background task');
        } finally {
          running = false;
        }
      })();
      this.running.add(run);
      void run.then(() => this.running.delete(run));
    }, ms);
    timer.unref();
    const stop = () => clearInterval(timer);
    this.controller.signal.addEventListener('abort', stop, { once: true });
    return stop;
  }

  /**
   * Stops background work — aborts its signal and waits for runs under way, up to `TASK_GRACE_MS`
   * (a task still using the database when it closes would fail, or worse) — then disposes in
   * reverse order; resolves with the disposals' errors.
   */
  stop(): Promise<Error[]> {
    this.stopped ??= (async () => {
      this.controller.abort();
      if (this.running.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, TASK_GRACE_MS);
        });
        await Promise.race([Promise.allSettled([...this.running]), grace]);
        clearTimeout(timer);
        if (this.running.size > 0) {
          this.onError(
            new Error(`${this.running.size} background task(s) still running after ${TASK_GRACE_MS} ms`),
            'shutdown',
          );
        }
      }
      const errors: Error[] = [];
      while (this.disposals.length > 0) {
        const dispose = this.disposals.pop()!;
        try {
          await dispose();
        } catch (err) {
          errors.push(err instanceof Error ? err : new Error(String(err)));
        }
      }
      return errors;
    })();
    return this.stopped;
  }
}
