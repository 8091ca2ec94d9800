/**
 * Health checks: a registry of named dependency checks, each with a timeout and a criticality.
 * `/health/live` says the process can serve; `/health/ready` runs the checks (or reads their result
 * cached for `cacheMs`) and answers 200 or 503 with a JSON report; readiness turns 503 as soon as
 * shutdown begins. The same report can be served as the MCP resource `health://status`.
 */

export interface HealthCheckOptions {
  /** A check slower than this counts as down. Default 2 000 ms. */
  timeoutMs?: number;
  /** A critical check that is down makes the server not ready (503); others only degrade it. Default true. */
  critical?: boolean;
}

export interface CheckResult {
  status: 'up' | 'down';
  critical: boolean;
  latencyMs: number;
  error?: string;
}

export interface HealthReport {
  /** `ok`: everything up; `degraded`: a non-critical check is down; `down`: a critical one is; `shutting_down`. */
  status: 'ok' | 'degraded' | 'down' | 'shutting_down';
  checks: Record<string, CheckResult>;
  uptimeSeconds: number;
}

type Check = { fn: (signal: AbortSignal) => unknown; timeoutMs: number; critical: boolean };

/** The server's health registry (`server.health`). */
export class Health {
  private readonly checks = new Map<string, Check>();
  private cached: { at: number; report: Promise<HealthReport> } | undefined;
  private readonly started = Date.now();
  /** Set when shutdown begins: readiness answers 503 from then on. */
  shuttingDown = false;

  constructor(private readonly cacheMs = 1_000) {}

  /** Registers (or replaces) a named check; it passes unless it throws, rejects or times out. */
  check(name: string, fn: (signal: AbortSignal) => unknown, options: HealthCheckOptions = {}): this {
    const timeoutMs = options.timeoutMs ?? 2_000;
    // A timer fires a delay it cannot hold (over 2^31 - 1 ms, or not a number) after 1 ms: every run
    // would read "timed out".
    if (!(timeoutMs > 0 && timeoutMs <= 2_147_483_647)) {
      throw new RangeError(`health check "${name}": timeoutMs must be from 1 to 2147483647 ms`);
    }
    this.checks.set(name, { fn, timeoutMs, critical: options.critical ?? true });
    this.cached = undefined;
    return this;
  }

  remove(name: string): void {
    this.checks.delete(name);
    this.cached = undefined;
  }

  /** Runs every check (at most once per `cacheMs`; concurrent callers share one run). */
  report(): Promise<HealthReport> {
    const now = Date.now();
    if (this.cached === undefined || now - this.cached.at >= this.cacheMs) {
      this.cached = { at: now, report: this.run() };
    }
    return this.cached.report.then((r) =>
      this.shuttingDown ? Object.assign({}, r, { status: 'shutting_down' as const }) : r,
    );
  }

  private async run(): Promise<HealthReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => [name, await this.runOne(check)] as const),
    );
    const checks = Object.fromEntries(entries);
    const down = entries.filter(([, r]) => r.status === 'down');
    const status = down.some(([, r]) => r.critical) ? 'down' : down.length > 0 ? 'degraded' : 'ok';
    return { status, checks, uptimeSeconds: Math.round((Date.now() - this.started) / 1000) };
  }

  private async runOne(check: Check): Promise<CheckResult> {
    const start = performance.now();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const result = (status: 'up' | 'down', error?: string): CheckResult => {
      const r: CheckResult = {
        status,
        critical: check.critical,
        latencyMs: Math.round((performance.now() - start) * 100) / 100,
      };
      if (error !== undefined) r.error = error;
      return r;
    };
    try {
      await Promise.race([
        Promise.resolve().then(() => check.fn(controller.signal)),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            controller.abort();
            reject(new Error(`timed out after ${check.timeoutMs} ms`));
          }, check.timeoutMs);
        }),
      ]);
      return result('up');
    } catch (err) {
      return result('down', err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  /** 200 while ready; 503 when a critical check is down or shutdown has begun. */
  static statusCode(report: HealthReport): number {
    return report.status === 'down' || report.status === 'shutting_down' ? 503 : 200;
  }
}
