/**
 * Message serialisation with pre-serialised parts: large values that rarely change (a listing of
 * 100 tools) are stringified once and spliced into every response that carries them, instead of
 * being walked by JSON.stringify on each request.
 */

const cached = new WeakMap<object, string>();

/** Serialises `value` now and remembers it; the same object is spliced in verbatim later. */
export function preserialize<T extends object>(value: T): T {
  cached.set(value, JSON.stringify(value));
  return value;
}

function hasPreserialized(result: Record<string, unknown>): boolean {
  for (const key in result) {
    const value = result[key];
    if (typeof value === 'object' && value !== null && cached.has(value)) return true;
  }
  return false;
}

/** JSON.stringify for JSON-RPC messages, splicing in pre-serialised values found in `result`. */
export function stringifyMessage(message: unknown): string {
  const result = (message as { result?: Record<string, unknown> }).result;
  if (result === undefined || typeof result !== 'object' || result === null || Array.isArray(result)) {
    return JSON.stringify(message);
  }
  // Nothing pre-serialised in it (the common case): one JSON.stringify, one flat string.
  if (!hasPreserialized(result)) return JSON.stringify(message);
  // The result's members one by one (what JSON.stringify would write for each), so a pre-serialised
  // member is spliced in without copying the result or walking the value again.
  let out = '';
  for (const key in result) {
    if (!Object.hasOwn(result, key)) continue;
    const value = result[key];
    const json = (typeof value === 'object' && value !== null && cached.get(value)) || JSON.stringify(value);
    if (json === undefined) continue; // undefined, functions and symbols are left out, as JSON does
    out += `${out === '' ? '' : ','}${JSON.stringify(key)}:${json}`;
  }
  const m = message as { jsonrpc: string; id: unknown };
  return `{"jsonrpc":"2.0","id":${JSON.stringify(m.id)},"result":{${out}}}`;
}
