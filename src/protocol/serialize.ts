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

/** JSON.stringify for JSON-RPC messages, splicing in pre-serialised values found in `result`. */
export function stringifyMessage(message: unknown): string {
  const result = (message as { result?: Record<string, unknown> }).result;
  if (result === undefined || typeof result !== 'object' || result === null) return JSON.stringify(message);
  let spliced: string | undefined;
  let rest: Record<string, unknown> | undefined;
  for (const key in result) {
    const value = result[key];
    if (typeof value !== 'object' || value === null) continue;
    const json = cached.get(value);
    if (json === undefined) continue;
    rest ??= { ...result };
    delete rest[key];
    spliced = `${spliced ?? ''},${JSON.stringify(key)}:${json}`;
  }
  if (spliced === undefined) return JSON.stringify(message);
  const body = JSON.stringify(rest);
  const resultJson = body === '{}' ? `{${spliced.slice(1)}}` : `${body.slice(0, -1)}${spliced}}`;
  const m = message as { jsonrpc: string; id: unknown };
  return `{"jsonrpc":"2.0","id":${JSON.stringify(m.id)},"result":${resultJson}}`;
}
