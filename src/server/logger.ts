/**
 * The server's own logger (distinct from MCP's client-visible `notifications/message`). pino, writing
 * JSON to stderr so stdio servers keep stdout for protocol messages only.
 */
import { pino } from 'pino';
import { BatchedDestination } from './log-destination.js';

/** The structured logger handlers and middleware receive (a pino logger). */
export type Logger = pino.Logger;

const CENSOR = '[redacted]';
/** Keys whose values never reach the logs, at the top of a line or one level down. */
const SECRET_KEYS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'token',
  'accessToken',
  'password',
  'secret',
  'apiKey',
];
/** Headers censored wherever a `headers` object appears (at the top of a line or one level down). */
const SECRET_HEADERS = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'];

/**
 * Paths pino censors in every log line: credentials never reach the logs. Exact paths only: pino's
 * wildcard paths (`*.token`) run its redaction on every key of every line — measured at ~12 µs a
 * line against ~6 µs for the whole line without them. One level down is `censorNested`'s job.
 */
export const REDACTED_PATHS = [...SECRET_KEYS, ...SECRET_HEADERS.map((h) => `headers[${JSON.stringify(h)}]`)];

/** `value` with its secret keys (and its `headers`' secret headers) censored; itself if it has none. */
function censorObject(value: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key of SECRET_KEYS) {
    if (key in value && value[key] !== undefined) {
      copy ??= { ...value };
      copy[key] = CENSOR;
    }
  }
  const headers = value.headers;
  if (typeof headers === 'object' && headers !== null) {
    let censored: Record<string, unknown> | undefined;
    for (const name of SECRET_HEADERS) {
      if (name in headers) {
        censored ??= { ...(headers as Record<string, unknown>) };
        censored[name] = CENSOR;
      }
    }
    if (censored !== undefined) {
      copy ??= { ...value };
      copy.headers = censored;
    }
  }
  return copy ?? value;
}

/**
 * pino's `formatters.log`: censors credentials one level down (`{ config: { token } }`,
 * `{ req: { headers: { authorization } } }`) without wildcard paths — a few type checks on a flat line.
 * The line is copied only when something is censored.
 */
export function censorNested(line: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in line) {
    const value = line[key];
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Error)
      continue;
    const censored = censorObject(value as Record<string, unknown>);
    if (censored !== value) {
      out ??= { ...line };
      out[key] = censored;
    }
  }
  return out ?? line;
}

export interface LoggerOptions {
  name?: string;
  /** pino level; defaults to `LOG_LEVEL` or "info". */
  level?: string;
  /** Where lines go; defaults to stderr (fd 2), written in batches (see BatchedDestination). */
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

/**
 * Loggers `createLogger` made that write plain lines: no extra redaction paths, no destination that
 * wants pino's per-line metadata (a multistream). For these, `writeLine` may build a line itself.
 */
const plain = new WeakSet<Logger>();

/** Creates the default server logger: JSON lines on stderr, credentials redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? (options.pretty ? prettyStderr() : new BatchedDestination(2));
  const logger = pino(
    {
      name: options.name,
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: [...REDACTED_PATHS, ...(options.redact ?? [])], censor: CENSOR },
      formatters: { log: censorNested },
    },
    destination,
  );
  const needsMetadata = (destination as unknown as Record<symbol, unknown>)[pino.symbols.needsMetadataGsym];
  if (!options.redact?.length && needsMetadata !== true) plain.add(logger);
  return logger;
}

type Internals = Record<symbol, any>;

/** Whether `writeLine` may write for this logger: a plain `createLogger` one. */
export function isPlain(logger: Logger): boolean {
  return plain.has(logger);
}

/**
 * A string as JSON, as JSON.stringify writes it: between quotes as it is when nothing in it needs
 * escaping (the usual id, method or name — checked faster than JSON.stringify runs), else stringified.
 */
export function jsonString(value: string): string {
  if (value.length > 64) return JSON.stringify(value);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // Control characters, `"`, `\`, and surrogates (a lone one is escaped).
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(value);
  }
  return `"${value}"`;
}

/**
 * Writes one line whose fields (`,"key":value` pairs, already JSON) the caller built, exactly as pino
 * would write them with `msg` — level, time, bindings, fields, message — for a logger `isPlain`
 * accepts, at a level the caller checked is enabled. The fields must hold no credentials (pino's
 * redaction does not see them).
 *
 * Why: pino's generic path (walk the object, type-switch each value, run the formatter and the
 * redaction) measured ~4 µs of a request's ~50 for the logging middleware's one line under load; a
 * line built from known fields costs a few string joins.
 */
export function writeLine(logger: Logger, level: pino.Level, fields: string, msg: string): void {
  const s = pino.symbols;
  const self = logger as unknown as Internals;
  const time = self[s.timeSym] === pino.stdTimeFunctions.epochTime ? epochTime() : self[s.timeSym]();
  (self[s.streamSym] as pino.DestinationStream).write(
    `${self[s.lsCacheSym][logger.levels.values[level]]}${time}${self[s.chindingsSym]}${fields},"msg":${jsonString(msg)}${self[s.endSym]}`,
  );
}

let epochMs = -1;
let epochField = '';

/**
 * pino's default time field (`,"time":<epoch ms>`), made once per millisecond: a busy server writes
 * many lines in one, and turning the number into digits cost more than the rest of the field.
 */
function epochTime(): string {
  const now = Date.now();
  if (now !== epochMs) {
    epochMs = now;
    epochField = `,"time":${now}`;
  }
  return epochField;
}

/** `0`–`999` thousandths as the digits after a decimal point, trailing zeros dropped (`5` → `005`). */
const THOUSANDTHS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0').replace(/0+$/, ''));

/**
 * A millisecond duration rounded to the microsecond, as JSON.stringify writes that number
 * (`Math.round(ms * 1000) / 1000`: `0.12`, `3`, `41.007`), from whole numbers and a table of
 * fractions: converting the double to digits cost a log line ~250 ns.
 */
export function durationJson(ms: number): string {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us < 1e15)) return JSON.stringify(us / 1000);
  const whole = Math.floor(us / 1000);
  const fraction = us - whole * 1000;
  return fraction === 0 ? `${whole}` : `${whole}.${THOUSANDTHS[fraction]}`;
}
