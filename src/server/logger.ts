/**
 * The server's own logger (distinct from MCP's client-visible `notifications/message`). pino, writing
 * JSON to stderr so stdio servers keep stdout for protocol messages only.
 */
import { pino } from 'pino';

/** The structured logger handlers and middleware receive (a pino logger). */
export type Logger = pino.Logger;

export interface LoggerOptions {
  name?: string;
  /** pino level; defaults to `LOG_LEVEL` or "info". */
  level?: string;
}

/** Creates the default server logger: JSON lines on stderr. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    { name: options.name, level: options.level ?? process.env.LOG_LEVEL ?? 'info' },
    pino.destination({ fd: 2, sync: true }),
  );
}
