/** JSON-RPC 2.0 message shapes and codec helpers (MCP "Base Protocol"). */

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcSuccess {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: Record<string, unknown>;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcFailure {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** Standard JSON-RPC error codes, plus the MCP-specific ones. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** MCP before SEP-2164: resource not found. Clients still accept it; Rampart answers -32602. */
  ResourceNotFound: -32002,
  /** MCP 2026-07-28: HTTP headers and body disagree (SEP-2243). */
  HeaderMismatch: -32020,
  /** MCP 2026-07-28: the request needs a client capability the client did not declare. */
  MissingRequiredClientCapability: -32021,
  /** MCP 2026-07-28: the request's protocol version is unknown or unsupported. */
  UnsupportedProtocolVersion: -32022,
  /** A request the client cancelled (outside JSON-RPC's reserved range, as MCP asks). */
  RequestCancelled: -32800,
  /**
   * Rampart's own codes: outside JSON-RPC's reserved -32768..-32000, as MCP 2026-07-28 asks of codes
   * it does not define (-32020..-32099 are the specification's, -32000..-32019 legacy).
   */
  RequestTimeout: -31001,
  RateLimited: -31002,
  Unauthorized: -31003,
  Forbidden: -31004,
  Overloaded: -31005,
  ShuttingDown: -31006,
} as const;

export function isRequest(m: JsonRpcMessage): m is JsonRpcRequest {
  return 'method' in m && 'id' in m && m.id !== undefined;
}

export function isNotification(m: JsonRpcMessage): m is JsonRpcNotification {
  return 'method' in m && !('id' in m && m.id !== undefined);
}

export function isResponse(m: JsonRpcMessage): m is JsonRpcResponse {
  return !('method' in m) && ('result' in m || 'error' in m);
}

/*
 * Responses are class instances rather than object literals: V8 may pretenure a literal's allocation
 * site, and a pretenured response keeps its request's young objects alive (docs/performance.md).
 */
class Success implements JsonRpcSuccess {
  readonly jsonrpc = '2.0' as const;
  id: JsonRpcId;
  result: Record<string, unknown>;
  constructor(id: JsonRpcId, result: Record<string, unknown>) {
    this.id = id;
    this.result = result;
  }
}

class Failure implements JsonRpcFailure {
  readonly jsonrpc = '2.0' as const;
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
  constructor(id: JsonRpcId | null, error: JsonRpcErrorObject) {
    this.id = id;
    this.error = error;
  }
}

export function success(id: JsonRpcId, result: Record<string, unknown>): JsonRpcSuccess {
  return new Success(id, result);
}

export function failure(id: JsonRpcId | null, error: JsonRpcErrorObject): JsonRpcFailure {
  return new Failure(id, error);
}

function isValidId(id: unknown): id is JsonRpcId {
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

/** A JSON object: not null, not an array. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Why a parsed value is not a JSON-RPC 2.0 message, with its id when one could be read. */
export interface InvalidMessage {
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
  /** It has the shape of a response (no method; a result or an error): nothing answers it. */
  response?: boolean;
}

function invalid(id: JsonRpcId | null, why: string): InvalidMessage {
  return { id, error: { code: ErrorCode.InvalidRequest, message: `Invalid Request: ${why}` } };
}

/**
 * Checks that a parsed value is a well-formed JSON-RPC 2.0 message: `undefined` when it is (the
 * value is the message — nothing is allocated on that path), else what is wrong.
 */
export function checkMessage(value: unknown): InvalidMessage | undefined {
  if (!isObject(value)) return invalid(null, 'not an object');
  const id = isValidId(value.id) ? value.id : null;
  if (value.jsonrpc !== '2.0') return invalid(id, 'jsonrpc must be "2.0"');
  if ('method' in value) {
    if (typeof value.method !== 'string' || value.method.length === 0)
      return invalid(id, 'method must be a string');
    if ('params' in value && value.params !== undefined && !isObject(value.params)) {
      return invalid(id, 'params must be an object');
    }
    // MCP forbids null ids on requests.
    if ('id' in value && !isValidId(value.id)) return invalid(id, 'id must be a string or number');
    return undefined;
  }
  if ('result' in value || 'error' in value) {
    const why = responseProblem(value);
    return why === undefined ? undefined : { ...invalid(id, why), response: true };
  }
  return invalid(id, 'neither a request, a notification nor a response');
}

/** What is wrong with a value shaped like a response, if anything. */
function responseProblem(value: Record<string, unknown>): string | undefined {
  if (!('id' in value)) return 'response without id';
  if ('result' in value && 'error' in value) return 'a response with both result and error';
  if ('error' in value) {
    const e = value.error;
    if (!isObject(e) || typeof e.code !== 'number' || typeof e.message !== 'string')
      return 'malformed error object';
  } else if (!isObject(value.result)) {
    return 'result must be an object';
  }
  return undefined;
}
