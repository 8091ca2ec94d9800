/**
 * Rampart's error catalogue. Every failure that reaches a client is a RampartError (or is turned into
 * one): a stable string `type`, a JSON-RPC `code`, and an `expose` flag deciding whether the message
 * may be shown to the client. Throwing is the way to fail; the dispatcher renders the one wire shape.
 */
import { ErrorCode, type JsonRpcErrorObject } from './jsonrpc.js';

const brand = Symbol.for('rampart.error');

export interface RampartErrorOptions {
  /** May the message reach the client? Defaults to true for 4xx-like errors, false for internal ones. */
  expose?: boolean;
  /** Machine-readable details for the client (validation issues, limits, ...). */
  details?: unknown;
  /** Suggested wait before retrying, in milliseconds. */
  retryAfterMs?: number;
  cause?: unknown;
}

/** Sets `Error.stackTraceLimit`; false where it cannot be set (frozen intrinsics). */
function setStackTraceLimit(limit: number): boolean {
  try {
    Error.stackTraceLimit = limit;
    return true;
  } catch {
    return false;
  }
}

/** Base class of every error Rampart renders to clients. */
export class RampartError extends Error {
  readonly type: string;
  readonly code: number;
  readonly expose: boolean;
  readonly details?: unknown;
  readonly retryAfterMs?: number;

  /**
   * Set on the errors that refuse a request (authentication, authorisation, rate limits, overload),
   * and inherited by their subclasses: they are made without a stack trace. Their stack is never
   * shown, nor logged when they are exposed (as refusals are by default), and under attack they are
   * made at the rate requests arrive: capturing one through optimised, inlined frames cost a refused
   * request more than the rest of its refusal. A subclass that wants its stack sets it to false.
   */
  static readonly refusal: boolean = false;

  constructor(type: string, code: number, message: string, options: RampartErrorOptions = {}) {
    const limit = Error.stackTraceLimit;
    const refusal = (new.target as typeof RampartError).refusal && setStackTraceLimit(0);
    try {
      super(message, options.cause === undefined ? undefined : { cause: options.cause });
    } finally {
      if (refusal) setStackTraceLimit(limit);
    }
    this.name = new.target.name;
    this.type = type;
    this.code = code;
    this.expose = options.expose ?? code !== ErrorCode.InternalError;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
    Object.defineProperty(this, brand, { value: true });
  }

  /** `instanceof` that survives duplicate copies of this package in one process. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: subclasses keep the ordinary prototype check.
    if (this !== RampartError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  /** The JSON-RPC error object for the wire; internal messages are replaced when not exposed. */
  toJsonRpc(correlationId?: string): JsonRpcErrorObject {
    const data: Record<string, unknown> = { type: this.type };
    if (correlationId !== undefined) data.correlationId = correlationId;
    if (this.retryAfterMs !== undefined) data.retryAfterMs = this.retryAfterMs;
    if (this.expose && this.details !== undefined) data.details = this.details;
    return { code: this.code, message: this.expose ? this.message : 'Internal error', data };
  }
}

/** The request's parameters are invalid (JSON-RPC -32602); `details` carries the validation issues. */
export class InvalidParamsError extends RampartError {
  constructor(message: string, options?: RampartErrorOptions) {
    super('invalid_params', ErrorCode.InvalidParams, message, options);
  }
}

/** The message is not a valid request (JSON-RPC -32600). */
export class InvalidRequestError extends RampartError {
  constructor(message: string, options?: RampartErrorOptions) {
    super('invalid_request', ErrorCode.InvalidRequest, message, options);
  }
}

/** No handler exists for the method (JSON-RPC -32601). */
export class MethodNotFoundError extends RampartError {
  constructor(method: string, options?: RampartErrorOptions) {
    super('method_not_found', ErrorCode.MethodNotFound, `Method not found: ${method}`, options);
  }
}

/** A named tool, prompt or resource does not exist. MCP answers these as invalid params. */
export class NotFoundError extends RampartError {
  constructor(message: string, options?: RampartErrorOptions) {
    super('not_found', ErrorCode.InvalidParams, message, options);
  }
}

/** A resource URI matches nothing: -32602 on every protocol version (SEP-2164). */
export class ResourceNotFoundError extends RampartError {
  readonly uri: string;
  constructor(uri: string, options?: RampartErrorOptions) {
    super('resource_not_found', ErrorCode.InvalidParams, `Resource not found: ${uri}`, {
      details: { uri },
      ...options,
    });
    this.uri = uri;
  }
}

/** Something failed inside the server; the client sees only "Internal error" and the correlation id. */
export class InternalError extends RampartError {
  constructor(message = 'Internal error', options?: RampartErrorOptions) {
    super('internal', ErrorCode.InternalError, message, { expose: false, ...options });
  }
}

/** The client sent a protocol version this server does not serve (data lists the supported ones). */
export class UnsupportedProtocolVersionError extends RampartError {
  constructor(requested: string, supported: readonly string[], options?: RampartErrorOptions) {
    super(
      'unsupported_protocol_version',
      ErrorCode.UnsupportedProtocolVersion,
      `Unsupported protocol version: ${requested}`,
      {
        details: { requested, supported },
        ...options,
      },
    );
  }

  override toJsonRpc(correlationId?: string) {
    const e = super.toJsonRpc(correlationId);
    // MCP puts `supported` and `requested` at the top of `data` (and there only: not again in `details`).
    const { details: _, ...rest } = e.data as Record<string, unknown>;
    return Object.assign({}, e, { data: Object.assign({}, this.details, rest) });
  }
}

/** The request needs a client capability the client did not declare (MCP -32021). */
export class MissingCapabilityError extends RampartError {
  /** `capability` may name a nested one (`elicitation.url`): `requiredCapabilities` nests it. */
  constructor(capability: string, options?: RampartErrorOptions) {
    let required: Record<string, unknown> = {};
    for (const key of capability.split('.').reverse()) required = { [key]: required };
    super(
      'missing_client_capability',
      ErrorCode.MissingRequiredClientCapability,
      `Client does not support ${capability}`,
      {
        details: { requiredCapabilities: required },
        ...options,
      },
    );
  }

  override toJsonRpc(correlationId?: string) {
    const e = super.toJsonRpc(correlationId);
    return Object.assign({}, e, { data: Object.assign({}, this.details, e.data) });
  }
}

/** The request was cancelled by the client or by shutdown. */
export class CancelledError extends RampartError {
  constructor(message = 'Request cancelled', options?: RampartErrorOptions) {
    super('cancelled', ErrorCode.RequestCancelled, message, options);
  }
}

/** The request took longer than allowed. */
export class TimeoutError extends RampartError {
  constructor(message = 'Request timed out', options?: RampartErrorOptions) {
    super('timeout', ErrorCode.RequestTimeout, message, options);
  }
}

/** The caller exceeded a rate limit; `retryAfterMs` says when to try again. */
export class RateLimitedError extends RampartError {
  static override readonly refusal: boolean = true;
  constructor(message = 'Rate limit exceeded', options?: RampartErrorOptions) {
    super('rate_limited', ErrorCode.RateLimited, message, options);
  }
}

/** The caller is not authenticated. */
export class UnauthorizedError extends RampartError {
  static override readonly refusal: boolean = true;
  constructor(message = 'Unauthorized', options?: RampartErrorOptions) {
    super('unauthorized', ErrorCode.Unauthorized, message, options);
  }
}

/** The caller is authenticated but may not do this. */
export class ForbiddenError extends RampartError {
  static override readonly refusal: boolean = true;
  constructor(message = 'Forbidden', options?: RampartErrorOptions) {
    super('forbidden', ErrorCode.Forbidden, message, options);
  }
}

/**
 * The principal lacks a scope the tool, resource or prompt requires (OAuth `insufficient_scope`); on
 * HTTP it answers 403 with a `WWW-Authenticate` scope challenge.
 */
export class InsufficientScopeError extends RampartError {
  static override readonly refusal: boolean = true;
  readonly requiredScopes: string[];
  constructor(requiredScopes: string[], options?: RampartErrorOptions) {
    super(
      'insufficient_scope',
      ErrorCode.Forbidden,
      `Insufficient scope: requires ${requiredScopes.join(' ')}`,
      {
        details: { requiredScopes },
        ...options,
      },
    );
    this.requiredScopes = requiredScopes;
  }
}

/** The server (or one of its bulkheads) is at capacity; `retryAfterMs` hints when to retry. */
export class OverloadedError extends RampartError {
  static override readonly refusal: boolean = true;
  constructor(message = 'Server overloaded', options?: RampartErrorOptions) {
    super('overloaded', ErrorCode.Overloaded, message, options);
  }
}

/**
 * A failure inside a tool that the model should see: returned as a tool result with `isError: true`
 * and this message as its text, not as a JSON-RPC error (MCP "Tools › Error Handling").
 */
export class ToolError extends RampartError {
  constructor(message: string, options?: RampartErrorOptions) {
    super('tool_error', ErrorCode.InternalError, message, { expose: true, ...options });
  }
}

/** Turns anything thrown into a RampartError; unknown errors become a redacted InternalError. */
export function toRampartError(err: unknown): RampartError {
  if (err instanceof RampartError) return err as RampartError;
  return new InternalError('Internal error', { cause: err });
}
