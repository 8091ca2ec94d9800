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
  /** Human-readable lines instead of JSON (development). */
  pretty?: boolean;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
const PLUMBING = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name']);

/** One JSON line as `12:00:00.123 INFO  message key=value ...`. */
export function prettyLine(json: string): string {
  let line: Record<string, unknown>;
  try {
    line = JSON.parse(json);
  } catch {
    return json;
  }
  const time = new Date(Number(line.time)).toISOString().slice(11, 23);
  const fields = Object.entries(line)
    .filter(([k]) => !PLUMBING.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time} ${LEVEL_NAMES[Number(line.level)] ?? line.level} ${line.msg ?? ''}${fields ? ` ${fields}` : ''}\n`;
}

/** A destination that writes pretty lines to stderr. */
function prettyStderr(): pino.DestinationStream {
  return { write: (chunk: string) => void process.stderr.write(prettyLine(chunk.trimEnd())) };
}

/** Creates the default server logger: JSON lines on stderr, credentials redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: [...REDACTED_PATHS, ...(options.redact ?? [])], censor: '[redacted]' },
    },
    options.destination ?? (options.pretty ? prettyStderr() : pino.destination({ fd: 2, sync: true })),
  );
}
