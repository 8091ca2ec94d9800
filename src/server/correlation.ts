/**
 * Where a request's correlation id comes from, in order: an `X-Request-Id` header, the trace id of a
 * `traceparent` header, a configurable `_meta` key, the trace id of `_meta.traceparent`. Callers
 * generate one when none is present.
 */

import { randomBytes } from 'node:crypto';
import { serialId } from '../session/serial.js';

const ID = /^[\w\-.:@]{1,128}$/;

/** This process' part of generated ids: 48 random bits, so that instances never collide. */
const PREFIX = `${randomBytes(6).toString('hex')}-`;
let sequence = 0;

/**
 * A fresh correlation id: this process' random prefix and a counter (`3f9a0c21d7e4-1b`). Unique
 * across instances like a UUID, sortable within one process, and one small string to make — a
 * UUID cost a request ~600 bytes of intermediate strings.
 */
export function newCorrelationId(): string {
  return serialId(PREFIX, ++sequence);
}

/** The parts of a W3C `traceparent` value (`00-<trace-id>-<span-id>-<flags>`), if well-formed. */
export function parseTraceparent(
  value: unknown,
): { traceId: string; spanId: string; traceFlags: number } | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value.trim());
  if (!m || m[1] === '0'.repeat(32)) return undefined;
  return { traceId: m[1], spanId: m[2], traceFlags: Number.parseInt(m[3], 16) };
}

/** The trace id of a `traceparent` value, if valid. */
export function traceIdOf(traceparent: unknown): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}

function validId(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const id = value.trim();
  return ID.test(id) ? id : undefined;
}

/**
 * The correlation id a request carries, if any: from the `X-Request-Id` header, a `traceparent`
 * header, the configured `_meta` key (ServerOptions.correlationMetaKey), or `_meta.traceparent`.
 */
export function correlationIdOf(
  requestIdHeader: string | undefined,
  traceparentHeader: string | undefined,
  meta: Record<string, unknown> | undefined,
  metaKey: string | undefined,
): string | undefined {
  return (
    validId(requestIdHeader) ??
    traceIdOf(traceparentHeader) ??
    (metaKey === undefined ? undefined : validId(meta?.[metaKey])) ??
    traceIdOf(meta?.traceparent)
  );
}
