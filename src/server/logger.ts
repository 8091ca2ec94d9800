/**
 * The server's own logger (distinct from MCP's client-visible `notifications/message`). pino, writing
 * JSON to stderr so stdio servers keep stdout for protocol messages only.
 */
import { pino } from 'pino';

/** The structured logger handlers and middleware receive (a pino logger). */
export type Logger = pino.Logger;

/** Paths pino censors in every log line: credentials never reach the logs. */
export const REDACTED_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
  '*.headers.authorization',
  '*.headers.cookie',
  'authorization',
  'token',
  'accessToken',
  'password',
  'secret',
  'apiKey',
  '*.token',
  '*.password',
  '*.secret',
  '*.apiKey',
];

export interface LoggerOptions {
  name?: string;
  /** pino level; defaults to `LOG_LEVEL` or "info". */
  level?: string;
  /** Where lines go; defaults to stderr (fd 2), synchronously. */
  destination?: pino.DestinationStream;
  /** Extra paths to censor, in pino's redact syntax. */
  redact?: string[];
}

/** Creates the default server logger: JSON lines on stderr, credentials redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: [...REDACTED_PATHS, ...(options.redact ?? [])], censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}
