/**
 * Message serialisation with pre-serialised parts: large values that rarely change (a listing of
 * 100 tools) are stringified once and spliced into every response that carries them, instead of
 * being walked by JSON.stringify on each request.
 */

const cached = new WeakMap<object, string>();
/** Pre-serialised values as UTF-8, encoded the first time a response carries them whole. */
const encoded = new WeakMap<object, Buffer>();

/**
 * Serialises `value` now and remembers it; the same object is spliced in verbatim later, so it must
 * not change in between: a value handed to code that may edit it should be frozen (or come from
 * `preserializeFrozen`), or responses would carry the old text while the in-memory transport carries
 * the edit.
 */
export function preserialize<T extends object>(value: T): T {
  cached.set(value, JSON.stringify(value));
  encoded.delete(value);
  return value;
}

/**
 * `preserialize` for a value shared between responses that middleware gets to see: a deep-frozen
 * copy of `value` as JSON reads it back, pre-serialised. What a client receives is then the same on
 * every transport (the in-memory one passes the object itself), and an edit in place throws instead
 * of changing the object but not its cached text. `value` itself is left as it was.
 */
export function preserializeFrozen<T extends object>(value: T): T {
  const json = JSON.stringify(value);
  const copy = deepFreeze(JSON.parse(json)) as T;
  cached.set(copy, json);
  return copy;
}

/** Freezes a JSON value (plain objects, arrays, primitives; no cycles) and everything in it. */
function deepFreeze(value: unknown): unknown {
  if (typeof value === 'object' && value !== null) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}

function hasPreserialized(result: Record<string, unknown>): boolean {
  for (const key in result) {
    const value = result[key];
    if (typeof value === 'object' && value !== null && cached.has(value)) return true;
  }
  return false;
}

/**
 * A message whose result holds pre-serialised members, cut where they go: the JSON between them, and
 * the members themselves (written from their cache). Undefined for every other message.
 */
function segments(message: unknown): (string | object)[] | undefined {
  const result = (message as { result?: Record<string, unknown> }).result;
  if (result === undefined || typeof result !== 'object' || result === null || Array.isArray(result)) {
    return undefined;
  }
  // Nothing pre-serialised in it (the common case): the caller makes one JSON.stringify, one flat string.
  if (!hasPreserialized(result)) return undefined;
  // The result's members one by one (what JSON.stringify would write for each), so a pre-serialised
  // member is spliced in without copying the result or walking the value again.
  const m = message as { jsonrpc: string; id: unknown };
  const parts: (string | object)[] = [];
  let text = `{"jsonrpc":"2.0","id":${JSON.stringify(m.id)},"result":{`;
  let first = true;
  for (const key in result) {
    if (!Object.hasOwn(result, key)) continue;
    const value = result[key];
    const name = `${first ? '' : ','}${JSON.stringify(key)}:`;
    if (typeof value === 'object' && value !== null && cached.has(value)) {
      parts.push(text + name, value);
      text = '';
    } else {
      const json = JSON.stringify(value);
      if (json === undefined) continue; // undefined, functions and symbols are left out, as JSON does
      text += name + json;
    }
    first = false;
  }
  parts.push(`${text}}}`);
  return parts;
}

/** JSON.stringify for JSON-RPC messages, splicing in pre-serialised values found in `result`. */
export function stringifyMessage(message: unknown): string {
  const parts = segments(message);
  if (parts === undefined) return JSON.stringify(message);
  let out = '';
  for (const part of parts) out += typeof part === 'string' ? part : cached.get(part);
  return out;
}

/** A message as the pieces of its UTF-8 body: short strings, and cached bytes shared between responses. */
export class Chunks {
  constructor(
    readonly parts: readonly (string | Buffer)[],
    /** The body's length in bytes. */
    readonly bytes: number,
  ) {}
}

/**
 * `stringifyMessage` for a response sent whole: a message with pre-serialised members comes back
 * as chunks, their cached UTF-8 encoding among them, for the transport to write as they are. Built
 * as one string instead, a page of 100 tools is a fresh ~30 KB string per response, flattened and
 * then encoded again to be written; and whichever response is being built when a young collection
 * runs survives it, which under a steady tools/list load added up to a doubled young generation
 * (docs/performance.md). A fresh buffer per response instead would sit outside the heap until the
 * next young collection freed it: megabytes of them between two collections.
 */
export function serializeMessage(message: unknown): string | Chunks {
  const parts = segments(message);
  if (parts === undefined) return JSON.stringify(message);
  let bytes = 0;
  const chunks: (string | Buffer)[] = [];
  for (const part of parts) {
    if (typeof part === 'string') {
      chunks.push(part);
      bytes += Buffer.byteLength(part);
      continue;
    }
    let cachedBytes = encoded.get(part);
    if (cachedBytes === undefined) {
      cachedBytes = Buffer.from(cached.get(part)!, 'utf8');
      encoded.set(part, cachedBytes);
    }
    chunks.push(cachedBytes);
    bytes += cachedBytes.length;
  }
  return new Chunks(chunks, bytes);
}
