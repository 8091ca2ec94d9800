/**
 * Multi-round-trip requests (MCP 2026-07-28, SEP-2322): instead of sending server→client requests,
 * a handler answers `input_required` with embedded requests; the client fulfils them and retries the
 * original request with `inputResponses` and the opaque `requestState`. Rampart signs the state
 * (HMAC-SHA256) so a client can neither forge nor replay it against another request.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidParamsError, MissingCapabilityError } from '../protocol/errors.js';
import { isObject } from '../protocol/jsonrpc.js';
import type { ClientCapabilities } from '../protocol/types.js';
import { versionAtLeast } from '../protocol/versions.js';

/** One embedded request: a de-JSON-RPC'd `elicitation/create`, `sampling/createMessage` or `roots/list`. */
export interface InputRequest {
  method: 'elicitation/create' | 'sampling/createMessage' | 'roots/list';
  params?: Record<string, unknown>;
}

export type InputRequests = Record<string, InputRequest>;
export type InputResponses = Record<string, Record<string, unknown>>;

/** The value a handler returns to ask the client for input. */
export interface InputRequiredResult {
  resultType: 'input_required';
  inputRequests?: InputRequests;
  requestState?: string;
  [key: string]: unknown;
}

/** Builds an `input_required` result; at least one of `inputRequests` or `requestState` is required. */
export function inputRequired(spec: {
  inputRequests?: InputRequests;
  requestState?: string;
}): InputRequiredResult {
  const hasRequests = spec.inputRequests !== undefined && Object.keys(spec.inputRequests).length > 0;
  if (!hasRequests && typeof spec.requestState !== 'string') {
    throw new TypeError('inputRequired() needs inputRequests (at least one) or requestState');
  }
  const result: InputRequiredResult = { resultType: 'input_required' };
  if (hasRequests) result.inputRequests = spec.inputRequests;
  if (spec.requestState !== undefined) result.requestState = spec.requestState;
  return result;
}

/** An embedded form- or URL-mode elicitation request. */
inputRequired.elicit = (params: Record<string, unknown>): InputRequest => ({
  method: 'elicitation/create',
  params,
});
/** An embedded sampling request. */
inputRequired.createMessage = (params: Record<string, unknown>): InputRequest => ({
  method: 'sampling/createMessage',
  params,
});
/** An embedded roots listing request. */
inputRequired.listRoots = (): InputRequest => ({ method: 'roots/list' });

/**
 * Input requests go only to clients that declared the capability they need — down to the mode or
 * feature: a URL-mode elicitation needs `elicitation.url` (an empty `elicitation` means form only,
 * so form mode needs `elicitation.form` once anything is declared), a sampling request with tools
 * `sampling.tools`, one including context `sampling.context` (from 2025-11-25, which defines it).
 * Otherwise the request fails with -32021 (MissingRequiredClientCapability).
 */
export function requireCapability(
  capabilities: ClientCapabilities,
  request: InputRequest,
  version: string | undefined,
): void {
  const method = request.method;
  const capability =
    method === 'elicitation/create' ? 'elicitation' : method === 'roots/list' ? 'roots' : 'sampling';
  const declared: unknown = capabilities[capability];
  if (declared === undefined) throw new MissingCapabilityError(capability);
  const given = isObject(declared) ? declared : {};
  const params = isObject(request.params) ? request.params : {};
  if (method === 'elicitation/create') {
    const mode = params.mode === 'url' ? 'url' : 'form';
    const formOnly = given.form === undefined && given.url === undefined;
    if (mode === 'url' ? given.url === undefined : !formOnly && given.form === undefined)
      throw new MissingCapabilityError(`elicitation.${mode}`);
  } else if (method === 'sampling/createMessage') {
    const withTools =
      (Array.isArray(params.tools) && params.tools.length > 0) || params.toolChoice !== undefined;
    if (withTools && given.tools === undefined) throw new MissingCapabilityError('sampling.tools');
    // `sampling.context` exists from 2025-11-25: earlier clients could not declare it.
    const context = params.includeContext;
    const declarable = versionAtLeast(version, '2025-11-25');
    if ((context === 'thisServer' || context === 'allServers') && declarable && given.context === undefined)
      throw new MissingCapabilityError('sampling.context');
  }
}

export function isInputRequiredResult(value: unknown): value is InputRequiredResult {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as InputRequiredResult).resultType === 'input_required'
  );
}

/**
 * Thrown inside a handler by `ctx.elicit()`/`ctx.sample()`/`ctx.listRoots()` on the modern era when the
 * answer is not yet known; the server turns it into an `input_required` result and, on the retry,
 * replays the handler with the answers so far.
 */
export class InputRequiredSignal extends Error {
  constructor(readonly inputRequests: InputRequests) {
    super('input required');
    this.name = 'InputRequiredSignal';
  }
}

/** What Rampart keeps in a signed request state. */
export interface RequestStatePayload {
  /** The method and target (tool/prompt name or resource URI) the state belongs to. */
  target: string;
  /** Answers received in earlier rounds, replayed to the handler. */
  answers: InputResponses;
  /** The application's own state, when the handler returned `inputRequired({ requestState })`. */
  app?: string;
  /** Expiry, ms since the epoch. */
  exp: number;
}

/** Signs and verifies request states. Instances sharing a secret accept each other's states. */
export class RequestStateCodec {
  private readonly key: Buffer;

  constructor(
    secret?: string | Buffer,
    private readonly ttlMs = 10 * 60_000,
    /** Largest state accepted back from a client, in characters. */
    private readonly maxLength = 256 * 1024,
  ) {
    this.key = secret === undefined ? randomBytes(32) : Buffer.from(secret);
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest();
  }

  sign(payload: Omit<RequestStatePayload, 'exp'>): string {
    const body = Buffer.from(
      JSON.stringify(Object.assign({}, payload, { exp: Date.now() + this.ttlMs })),
    ).toString('base64url');
    const state = `${body}.${this.mac(body).toString('base64url')}`;
    // A state verify() would refuse is never handed out: the round trip fails here, and says why.
    if (state.length > this.maxLength) {
      throw new Error(
        `requestState would be ${state.length} characters, over the ${this.maxLength} a client may send back (the answers gathered so far are too large to carry)`,
      );
    }
    return state;
  }

  /** Returns the payload of a state this codec signed for `target`, or throws invalid params. */
  verify(state: unknown, target: string): RequestStatePayload {
    const invalid = (why: string) => new InvalidParamsError(`Invalid requestState: ${why}`);
    if (typeof state !== 'string' || state.length > this.maxLength) throw invalid('malformed');
    const dot = state.indexOf('.');
    if (dot <= 0) throw invalid('malformed');
    const body = state.slice(0, dot);
    const given = Buffer.from(state.slice(dot + 1), 'base64url');
    const expected = this.mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw invalid('signature mismatch');
    let payload: RequestStatePayload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw invalid('malformed');
    }
    if (payload.target !== target) throw invalid('issued for another request');
    if (typeof payload.exp !== 'number' || payload.exp < Date.now()) throw invalid('expired');
    return payload;
  }
}
