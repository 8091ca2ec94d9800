/**
 * Standard MCP HTTP headers of the 2026-07-28 era (SEP-2243): `MCP-Protocol-Version`, `Mcp-Method`
 * and `Mcp-Name` must be present on request POSTs and agree with the body, so proxies and middleware
 * can route without parsing it; so must the `Mcp-Param-*` headers of a tool's `x-mcp-header`
 * parameters. Disagreement is HTTP 400 with JSON-RPC -32020.
 */
import { ErrorCode, type JsonRpcErrorObject, type JsonRpcRequest } from '../../protocol/jsonrpc.js';
import { META } from '../../protocol/versions.js';
import { type ParamHeader, paramHeaderMismatch } from '../../server/param-headers.js';
import type { HttpExchange } from './exchange.js';

/** Which body field `Mcp-Name` mirrors, per method. */
const NAME_SOURCE: Record<string, 'name' | 'uri'> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** Decodes a header value that may use the `=?base64?...?=` sentinel for non-ASCII text. */
export function decodeHeaderValue(value: string): string | undefined {
  // Nearly every value is plain: one character comparison instead of a regular expression run.
  if (value.charCodeAt(0) !== 0x3d /* = */) return value;
  // The markers are lowercase, exactly (case-sensitive, as the specification says).
  const m = /^=\?base64\?(.*)\?=$/.exec(value);
  if (!m) return value;
  // Canonical base64 only: whole 4-character groups, padding included.
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(m[1])) return undefined;
  return Buffer.from(m[1], 'base64').toString('utf8');
}

function mismatch(header: string, body: string): JsonRpcErrorObject {
  return {
    code: ErrorCode.HeaderMismatch,
    message: `Bad Request: the request headers and body disagree: ${body}`,
    data: { type: 'header_mismatch', mismatch: { header, body } },
  };
}

/** Checks the standard headers of a modern request against its body; returns the error, if any. */
export function checkModernHeaders(
  ex: HttpExchange,
  message: JsonRpcRequest,
  tools?: { paramHeaders(name: string): readonly ParamHeader[] },
): JsonRpcErrorObject | undefined {
  const version = ex.header('mcp-protocol-version')?.trim();
  const claimed = (message.params?._meta as Record<string, unknown> | undefined)?.[META.protocolVersion];
  if (version === undefined) {
    return mismatch(
      '(missing)',
      `the body names protocol version ${String(claimed)} but MCP-Protocol-Version is absent`,
    );
  }
  if (version !== claimed) {
    return mismatch(version, `the body names protocol version ${String(claimed)}`);
  }
  if (message.id === undefined) return undefined;
  const method = ex.header('mcp-method')?.trim();
  if (method === undefined)
    return mismatch('(missing)', `the body names method ${message.method} but Mcp-Method is absent`);
  if (method !== message.method) return mismatch(method, `the body names method ${message.method}`);
  const field = NAME_SOURCE[message.method];
  const bodyValue = field === undefined ? undefined : message.params?.[field];
  if (typeof bodyValue !== 'string') return undefined;
  const raw = ex.header('mcp-name')?.trim();
  if (raw === undefined)
    return mismatch('(missing)', `the body carries params.${field}="${bodyValue}" but Mcp-Name is absent`);
  const decoded = decodeHeaderValue(raw);
  if (decoded === undefined) return mismatch(raw, 'the Mcp-Name header carries an invalid base64 value');
  if (decoded !== bodyValue) return mismatch(raw, `the body carries params.${field}="${bodyValue}"`);
  if (tools === undefined || message.method !== 'tools/call') return undefined;
  const params = tools.paramHeaders(bodyValue);
  if (params.length === 0) return undefined;
  const wrong = paramHeaderMismatch(
    params,
    (key) => ex.header(key),
    message.params?.arguments,
    decodeHeaderValue,
  );
  return wrong === undefined ? undefined : mismatch(wrong.header, wrong.body);
}
