/**
 * Signals → graceful shutdown. The first SIGTERM/SIGINT runs `server.close()` (readiness 503, serve on
 * for the shutdown delay, stop accepting, drain in-flight requests up to the drain timeout, abort the rest, dispose the lifespan,
 * flush logs) and exits 0; a second signal exits at once with code 1, and so does a shutdown still not
 * done `closeTimeoutMs` after the delay and the drain deadline.
 */
import type { McpServer } from '../server/server.js';

export interface ShutdownOptions {
  /** Default `['SIGTERM', 'SIGINT']`. */
  signals?: NodeJS.Signals[];
  /** How long in-flight requests may finish. Default: the server's `drainTimeoutMs` (5 s). */
  drainTimeoutMs?: number;
  /**
   * How long the HTTP hosts go on serving, readiness 503, before they stop accepting. Default: the
   * server's `shutdownDelayMs` (0).
   */
  shutdownDelayMs?: number;
  /** Called with the exit code when shutdown is done (default `process.exit`). */
  exit?: (code: number) => void;
  /**
   * How long the disposals and close hooks may take after the drain before the process exits
   * anyway, with code 1 (a pool that never ends must not keep it alive until it is killed).
   * Default 10 000 ms.
   */
  closeTimeoutMs?: number;
}

/** Installs the signal handlers; returns a function that removes them. */
export function handleSignals(server: McpServer<any>, options: ShutdownOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    if (received > 1) {
      server.logger.warn({ signal }, 'second signal: exiting now');
      exit(1);
      return;
    }
    server.logger.info({ signal }, 'shutting down: draining in-flight requests');
    const drainMs = options.drainTimeoutMs ?? server.options.drainTimeoutMs ?? 5_000;
    const delayMs = options.shutdownDelayMs ?? server.options.shutdownDelayMs ?? 0;
    const deadline = setTimeout(
      () => {
        server.logger.error(
          { signal },
          'shutdown still not done after the drain and closeTimeoutMs: exiting',
        );
        exit(1);
      },
      Math.min(delayMs + drainMs + (options.closeTimeoutMs ?? 10_000), 2_147_483_647),
    );
    deadline.unref();
    server.close(drainMs, delayMs).then(
      () => {
        clearTimeout(deadline);
        exit(0);
      },
      (err) => {
        clearTimeout(deadline);
        server.logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
