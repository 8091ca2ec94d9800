/**
 * Tool parameters mirrored into HTTP headers (MCP 2026-07-28, "Custom Headers from Tool
 * Parameters"): a property of a tool's `inputSchema` annotated `"x-mcp-header": "Region"` is sent by
 * clients as `Mcp-Param-Region`, so proxies can route on it; the server checks the header against
 * the body. The annotations are read once, when the tool is registered, and a tool whose annotations
 * break the specification's constraints is refused there (clients would drop it from the listing).
 */
import { isObject } from '../protocol/jsonrpc.js';

/** One annotated parameter: its header and where its value sits in the call's arguments. */
export interface ParamHeader {
  /** The header name as written in the schema (`Mcp-Param-Region`). */
  readonly name: string;
  /** The same, lowercased: how Node presents it. */
  readonly key: string;
  /** The chain of `properties` keys from the schema root. */
  readonly path: readonly string[];
  readonly type: 'string' | 'integer' | 'boolean';
}

export const NO_PARAM_HEADERS: readonly ParamHeader[] = Object.freeze([]);

/** RFC 9110 field-name token characters (`1*tchar`). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ANNOTATION = 'x-mcp-header';
/** Keywords whose value is a map of names to schemas (the names are not keywords). */
const SCHEMA_MAPS = new Set(['patternProperties', '$defs', 'definitions', 'dependentSchemas']);
/** Keywords whose value is data, not a schema. */
const DATA = new Set(['const', 'enum', 'default', 'examples']);

type Json = Record<string, unknown>;

/** The primitive type an annotated property may have: one of string/integer/boolean (or with null). */
function primitiveType(schema: Json): ParamHeader['type'] | undefined {
  const types = Array.isArray(schema.type) ? schema.type.filter((t) => t !== 'null') : [schema.type];
  if (types.length !== 1) return undefined;
  const [type] = types;
  return type === 'string' || type === 'integer' || type === 'boolean' ? type : undefined;
}

/**
 * The header-mirrored parameters of a tool's input schema (JSON Schema). Throws a TypeError naming
 * the tool when an annotation is invalid: empty or not a header token, repeated (case-insensitively),
 * on a property that is not a string, integer or boolean, or not reachable from the root through
 * `properties` alone (under `items`, `oneOf`, `$ref` targets and the like).
 */
export function paramHeadersOf(tool: string, schema: unknown): readonly ParamHeader[] {
  const found: ParamHeader[] = [];
  const seen = new Set<string>();
  const fail = (why: string): never => {
    throw new TypeError(`Tool "${tool}": invalid x-mcp-header annotation: ${why}`);
  };
  const visit = (node: unknown, path: string[] | undefined): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item, undefined);
      return;
    }
    if (!isObject(node)) return;
    for (const [keyword, value] of Object.entries(node)) {
      if (keyword === ANNOTATION) {
        const where = path === undefined ? 'a schema' : `/${path.join('/')}`;
        if (path === undefined || path.length === 0)
          fail(`${where} is not a property reached through "properties" alone`);
        if (typeof value !== 'string' || !TOKEN.test(value))
          fail(`${where}: "${String(value)}" is not an HTTP header name token`);
        const name = `Mcp-Param-${value as string}`;
        if (seen.has(name.toLowerCase())) fail(`${where}: "${value}" is used twice`);
        const type = primitiveType(node);
        if (type === undefined) fail(`${where}: only string, integer and boolean properties may be mirrored`);
        seen.add(name.toLowerCase());
        found.push({ name, key: name.toLowerCase(), path: [...path!], type: type! });
      } else if (keyword === 'properties' && isObject(value)) {
        for (const [property, schema] of Object.entries(value))
          visit(schema, path === undefined ? undefined : [...path, property]);
      } else if (SCHEMA_MAPS.has(keyword) && isObject(value)) {
        for (const schema of Object.values(value)) visit(schema, undefined);
      } else if (!DATA.has(keyword)) {
        visit(value, undefined);
      }
    }
  };
  visit(schema, []);
  return found.length === 0 ? NO_PARAM_HEADERS : Object.freeze(found);
}

/** The value at `path` in the arguments, or undefined. */
function valueAt(args: unknown, path: readonly string[]): unknown {
  let value = args;
  for (const key of path) {
    if (!isObject(value) || !Object.hasOwn(value, key)) return undefined;
    value = value[key];
  }
  return value;
}

/** An integer written in decimal, optionally with a zero fraction. */
const DECIMAL = /^-?(0|[1-9]\d*)(\.0+)?$/;

/** What HTTP allows in a field value: visible ASCII, space and tab. */
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * Checks the `Mcp-Param-*` headers of a `tools/call` against its arguments. Returns what disagrees
 * (for the -32020 error), or undefined. `decode` undoes the `=?base64?…?=` sentinel (undefined when
 * the base64 is malformed). A value of the wrong type for its schema is left to input validation.
 */
export function paramHeaderMismatch(
  params: readonly ParamHeader[],
  header: (key: string) => string | undefined,
  args: unknown,
  decode: (value: string) => string | undefined,
): { header: string; body: string } | undefined {
  for (const param of params) {
    const value = valueAt(args, param.path);
    const raw = header(param.key);
    const where = `arguments.${param.path.join('.')}`;
    if (value === undefined || value === null) {
      if (raw !== undefined)
        return { header: raw, body: `the body has no ${where} but ${param.name} is sent` };
      continue;
    }
    if (raw === undefined)
      return { header: '(missing)', body: `the body carries ${where} but ${param.name} is absent` };
    if (!FIELD_VALUE.test(raw)) return { header: raw, body: `${param.name} contains invalid characters` };
    const decoded = decode(raw);
    if (decoded === undefined) return { header: raw, body: `${param.name} carries an invalid base64 value` };
    let same: boolean;
    if (param.type === 'integer' && typeof value === 'number') {
      // Compared as numbers, in decimal only ("42.0" is 42; "0x2A", "4.2e1" and "+42" are not).
      same = DECIMAL.test(decoded) && Number(decoded) === value;
    } else if (param.type === 'boolean' && typeof value === 'boolean') {
      same = decoded === String(value);
    } else if (param.type === 'string' && typeof value === 'string') {
      same = decoded === value;
    } else {
      continue;
    }
    if (!same) return { header: raw, body: `the body carries ${where}=${JSON.stringify(value)}` };
  }
  return undefined;
}
