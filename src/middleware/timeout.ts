/**
 * `timeout()`: bounds how long a request may run. When the time is up the handler's `ctx.signal`
 * aborts (so its I/O can stop) and the client gets the standard `timeout` error at once, whether
 * or not the handler notices.
 */
import { TimeoutError } from '../protocol/errors.js';
import type { Context } from '../server/context.js';
import { LiveList, type LiveNode } from '../session/live-list.js';
import type { Middleware } from './compose.js';
import { publishProtection } from './events.js';
import { matcher, type Scope } from './keys.js';

export interface TimeoutOptions extends Scope {
  /** Default limit for every request, in milliseconds. */
  ms: number;
  /** Limits for particular tools (or prompts/resources), by name. */
  perTool?: Record<string, number>;
  /** The rule's name, on metrics. Default `default`. */
  name?: string;
}

/** Long-lived by design: never timed out unless listed in `methods`. */
const STREAMING = new Set(['subscriptions/listen']);

/**
 * A request being timed: its deadline, and how to fail it — through `reject` (the promise the rule
 * returned), or with none, `ctx.answerNow`. Listed until the rest of the chain, inside the rule, is
 * done (`done`): what runs outside it, after it, is not the rule's to bound.
 */
class Timed {
  /** Failed already (it stays listed until its handler settles). */
  expired = false;
  node: LiveNode<Timed> | undefined = undefined;
  constructor(
    readonly deadline: number,
    readonly ms: number,
    readonly ctx: Context<any>,
    readonly reject: ((err: unknown) => void) | undefined,
    private readonly deadlines: Deadlines,
  ) {}

  /** The work inside the rule settled: the request is no longer timed. */
  readonly done = (): void => {
    if (this.node !== undefined) this.deadlines.remove(this.node);
    this.node = undefined;
  };
}

/**
 * One rule's requests in flight, checked on a coarse tick: one interval per rule while requests
 * run, instead of a timer set and cleared per request (with AsyncLocalStorage on, Node runs its
 * async hooks for every timer too). A request times out within one tick (a twentieth of the
 * shortest limit, 5 ms to 1 s) after its deadline.
 */
class Deadlines {
  private readonly live = new LiveList<Timed>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tickMs: number,
    private readonly expire: (timed: Timed) => void,
  ) {}

  /** Lists a request until its `done`. */
  add(timed: Timed): Timed {
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), this.tickMs);
      this.timer.unref();
    }
    timed.node = this.live.add(timed);
    return timed;
  }

  remove(node: LiveNode<Timed>): void {
    this.live.remove(node);
  }

  private sweep(): void {
    // An idle rule stops ticking; the next request starts it again.
    if (this.live.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = performance.now();
    for (const timed of [...this.live]) {
      if (timed.expired || timed.deadline > now) continue;
      timed.expired = true;
      this.expire(timed);
    }
  }
}

/** Creates a timeout rule. */
export function timeout(options: TimeoutOptions): Middleware<Context<any>> {
  if (!(options.ms > 0)) throw new TypeError('timeout: ms must be > 0');
  const applies = matcher(options);
  const rule = options.name ?? 'default';
  const perTool = options.perTool ?? {};
  const explicit = new Set(options.methods ?? []);
  const shortest = Math.min(options.ms, ...Object.values(perTool));
  const deadlines = new Deadlines(Math.min(1_000, Math.max(5, shortest / 20)), (timed) => {
    publishProtection({ kind: 'timeout', rule, method: timed.ctx.method, ctx: timed.ctx });
    const error = new TimeoutError(`Request timed out after ${timed.ms} ms`, {
      details: { timeoutMs: timed.ms },
    });
    // The request's AbortController is made only now (one per request would cost more than the rest).
    timed.ctx.abort(error);
    if (timed.reject !== undefined) timed.reject(error);
    else timed.ctx.answerNow(error);
  });
  return (ctx, next) => {
    if (!applies(ctx) || (STREAMING.has(ctx.method) && !explicit.has(ctx.method))) return next();
    const target = ctx.target;
    const ms = (target !== undefined ? perTool[target] : undefined) ?? options.ms;
    const deadline = performance.now() + ms;
    // A request the server can answer early needs no promise of the rule's own to fail: the
    // deadline is listed until the work inside the rule is done, and when it passes the server
    // answers with the timeout error (the rule still returns the chain's own promise).
    if (ctx.canAnswerNow) {
      const timed = deadlines.add(new Timed(deadline, ms, ctx, undefined, deadlines));
      const inner = next();
      inner.then(timed.done, timed.done);
      return inner;
    }
    // In a batch (or through handle()), the answer is this promise: it fails at the deadline.
    return new Promise((resolve, reject) => {
      const timed = deadlines.add(new Timed(deadline, ms, ctx, reject, deadlines));
      next().then(
        (value) => {
          timed.done();
          resolve(value);
        },
        (err) => {
          timed.done();
          reject(err);
        },
      );
    });
  };
}
