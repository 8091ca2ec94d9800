/**
 * The dispatch table: one function per MCP method, the innermost layer of the onion. Each entry
 * names the eras it exists in; a method called outside its era is "method not found".
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../protocol/canonical-json.js';
import {
  InvalidParamsError,
  InvalidRequestError,
  NotFoundError,
  RampartError,
  ResourceNotFoundError,
  ToolError,
} from '../protocol/errors.js';
import { ErrorCode } from '../protocol/jsonrpc.js';
import {
  type CallToolResult,
  type Implementation,
  LOGGING_LEVELS,
  type LoggingLevel,
} from '../protocol/types.js';
import {
  type Era,
  inputErrorsAreToolResults,
  META,
  MODERN_VERSIONS,
  negotiateLegacyVersion,
} from '../protocol/versions.js';
import type { Session } from '../session/session.js';
import type { Context } from './context.js';
import {
  type CacheHint,
  type PromptEntry,
  type ResourceEntry,
  type ResourceTemplateEntry,
  type ToolEntry,
  toCallToolResult,
  toGetPromptResult,
  toReadResourceResult,
} from './features.js';
import {
  type InputRequests,
  InputRequiredSignal,
  type InputResponses,
  isInputRequiredResult,
  type RequestStateCodec,
  requireCapability,
} from './input-required.js';
import { InvalidCursorError, type Registry } from './registry.js';
import type { SchemaIssue } from './schema.js';

/** What dispatch needs from the server. */
export interface DispatchHost {
  readonly info: Implementation;
  readonly options: { instructions?: string };
  readonly tools: Registry<ToolEntry>;
  readonly resources: Registry<ResourceEntry>;
  readonly templates: Registry<ResourceTemplateEntry>;
  readonly prompts: Registry<PromptEntry>;
  readonly requestState: RequestStateCodec;
  readonly pageSize: number;
  capabilities(): Record<string, unknown>;
  onEvent(listener: (event: { kind: string; uri?: string }) => void): () => void;
}

/** A method's implementation: its result, or a promise of it (the server awaits either). */
type MethodFn = (host: DispatchHost, ctx: Context<any>) => unknown;

const BOTH: Era[] = ['legacy', 'modern'];
const LEGACY: Era[] = ['legacy'];
const MODERN: Era[] = ['modern'];

/** Legacy input-required shim: rounds of server→client requests before giving up. */
const MAX_INPUT_ROUNDS = 8;

function session(ctx: Context<any>): Session {
  return ctx.session as Session;
}

function stringParam(ctx: Context<any>, key: string): string {
  const v = ctx.params[key];
  if (typeof v !== 'string' || v.length === 0) {
    throw new InvalidParamsError(`Invalid params: "${key}" must be a non-empty string`, {
      details: [{ path: key, message: 'required string' }],
    });
  }
  return v;
}

function cursorParam(ctx: Context<any>): string | undefined {
  const c = ctx.params.cursor;
  if (c === undefined) return undefined;
  if (typeof c !== 'string') throw new InvalidParamsError('Invalid params: "cursor" must be a string');
  return c;
}

function page<E extends { key: string; descriptor: Record<string, unknown> }>(
  host: DispatchHost,
  ctx: Context<any>,
  registry: Registry<E>,
  field: string,
): Record<string, unknown> {
  try {
    const p = registry.page(cursorParam(ctx), host.pageSize);
    return p.nextCursor === undefined ? { [field]: p.items } : { [field]: p.items, nextCursor: p.nextCursor };
  } catch (err) {
    if (err instanceof InvalidCursorError) throw new InvalidParamsError(err.message);
    throw err;
  }
}

function validate(
  schema: { validate(v: unknown): unknown } | undefined,
  value: unknown,
  what: string,
): unknown {
  if (!schema) return value;
  const out = schema.validate(value);
  // Most validators answer synchronously: only wait for the ones that do not.
  return out instanceof Promise ? out.then((r) => checked(r, what)) : checked(out, what);
}

function checked(result: unknown, what: string): unknown {
  const r = result as { ok: boolean; value?: unknown; issues?: SchemaIssue[] };
  if (r.ok) return r.value;
  const summary = r.issues!.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  throw new InvalidParamsError(`Invalid ${what}: ${summary}`, { details: r.issues });
}

/**
 * Runs a handler that may need client input (tools/call, prompts/get, resources/read), in either era:
 * modern — `input_required` results with a signed `requestState`, handlers replayed on retry;
 * legacy — embedded requests fulfilled as real server→client requests, then the handler re-entered.
 * `run` calls the handler, which may answer synchronously; `shape` turns its value into the result,
 * `fail` its error into a result or a rethrow. All three run in one step after the handler, so the
 * common path (no input needed) adds one promise to an asynchronous handler's, and none to a
 * synchronous one.
 */
function withInput(
  host: DispatchHost,
  ctx: Context<any>,
  kind: string,
  name: string,
  run: () => unknown,
  shape: (value: unknown) => unknown,
  fail: (err: unknown) => unknown = rethrow,
): unknown {
  if (ctx.era === 'modern') prepareReplay(host, ctx, kind, name);
  let out: unknown;
  try {
    out = run();
  } catch (err) {
    return handlerFailed(host, ctx, kind, name, err, run, shape, fail);
  }
  // Two closures for an asynchronous handler, none for a synchronous one; what only the rare
  // paths need (a legacy re-entry, a failure) is made on those paths.
  if (isThenable(out)) {
    return Promise.resolve(out).then(
      (value) => settled(host, ctx, kind, name, shape(value), run, shape, fail),
      (err) => handlerFailed(host, ctx, kind, name, err, run, shape, fail),
    );
  }
  return settled(host, ctx, kind, name, shape(out), run, shape, fail);
}

/** A handler threw or rejected: `fail` makes it a result (a ToolError's), or it stays an error. */
function handlerFailed(
  host: DispatchHost,
  ctx: Context<any>,
  kind: string,
  name: string,
  err: unknown,
  run: () => unknown,
  shape: (value: unknown) => unknown,
  fail: (err: unknown) => unknown,
): unknown {
  let result: unknown;
  try {
    result = fail(err);
  } catch (thrown) {
    return inputSignalled(host, ctx, kind, name, thrown);
  }
  return settled(host, ctx, kind, name, result, run, shape, fail);
}

/** The handler run again (the legacy era's re-entry), shaped the same way. */
function rerun(run: () => unknown, shape: (value: unknown) => unknown, fail: (err: unknown) => unknown) {
  let value: unknown;
  try {
    value = run();
  } catch (err) {
    return fail(err);
  }
  return isThenable(value) ? Promise.resolve(value).then(shape, fail) : shape(value);
}

function rethrow(err: unknown): never {
  throw err;
}

/** A promise, or another thenable a handler returned (another realm's promise, a library's). */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value instanceof Promise ||
    (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function')
  );
}

/**
 * What a request state is bound to: the method and target, and a digest of the caller and of the
 * arguments, so answers gathered for one call (a confirmation, say) cannot be replayed on a call
 * with other arguments, or by another principal.
 */
function stateTarget(ctx: Context<any>, kind: string, name: string): string {
  const args = kind === 'resources/read' ? '' : canonicalJson(ctx.params.arguments ?? {});
  const digest = createHash('sha256')
    .update(`${ctx.identity ?? ''}\u0000${args}`)
    .digest('base64url');
  return `${kind}:${name}#${digest}`;
}

/** Modern era: the answers of earlier rounds (signed in `requestState`) plus this retry's responses. */
function prepareReplay(host: DispatchHost, ctx: Context<any>, kind: string, name: string): void {
  const responses = ctx.params.inputResponses as InputResponses | undefined;
  if (responses !== undefined && (typeof responses !== 'object' || responses === null)) {
    throw new InvalidParamsError('Invalid params: "inputResponses" must be an object');
  }
  // The answers so far: none on a first call (nothing is allocated for them then).
  let answers: InputResponses | undefined;
  if (ctx.params.requestState !== undefined) {
    const state = host.requestState.verify(ctx.params.requestState, stateTarget(ctx, kind, name));
    answers = state.answers;
    ctx.requestState = state.app;
  }
  if (responses) answers = answers === undefined ? responses : Object.assign({}, answers, responses);
  ctx.replayAnswers = answers;
  ctx.inputResponses = responses;
}

/** A handler's result: passed through, unless it asks for input. */
function settled(
  host: DispatchHost,
  ctx: Context<any>,
  kind: string,
  name: string,
  result: unknown,
  run: () => unknown,
  shape: (value: unknown) => unknown,
  fail: (err: unknown) => unknown,
): unknown {
  if (!isInputRequiredResult(result)) return result;
  if (ctx.era !== 'modern') return legacyRounds(ctx, result, () => rerun(run, shape, fail));
  for (const request of Object.values(result.inputRequests ?? {}))
    requireCapability(ctx.clientCapabilities, request, ctx.protocolVersion);
  return {
    resultType: 'input_required',
    ...(result.inputRequests && { inputRequests: result.inputRequests }),
    requestState: host.requestState.sign({
      target: stateTarget(ctx, kind, name),
      answers: ctx.replayAnswers ?? {},
      app: result.requestState,
    }),
  };
}

/** A handler that awaited `ctx.elicit()` (and the like) on the modern era suspends with its requests. */
function inputSignalled(host: DispatchHost, ctx: Context<any>, kind: string, name: string, err: unknown) {
  if (ctx.era !== 'modern' || !(err instanceof InputRequiredSignal)) throw err;
  return {
    resultType: 'input_required',
    inputRequests: err.inputRequests,
    requestState: host.requestState.sign({
      target: stateTarget(ctx, kind, name),
      answers: ctx.replayAnswers ?? {},
    }),
  };
}

/** Legacy era: fulfils an input_required result's requests as server→client requests, then re-enters. */
async function legacyRounds(
  ctx: Context<any>,
  first: { inputRequests?: InputRequests; requestState?: string },
  run: () => unknown,
): Promise<unknown> {
  let result: unknown = first;
  for (let round = 0; isInputRequiredResult(result); round++) {
    if (round >= MAX_INPUT_ROUNDS) {
      throw new RampartError('input_rounds_exceeded', ErrorCode.InternalError, 'Too many input rounds');
    }
    ctx.inputResponses = await fulfil(ctx, result.inputRequests ?? {});
    ctx.requestState = result.requestState;
    result = await run();
  }
  return result;
}

async function fulfil(ctx: Context<any>, requests: InputRequests): Promise<InputResponses> {
  const entries = await Promise.all(
    Object.entries(requests).map(async ([key, req]) => {
      requireCapability(ctx.clientCapabilities, req, ctx.protocolVersion);
      const answer = await session(ctx).request(req.method, req.params, {
        signal: ctx.signal,
        relatedRequestId: ctx.requestId,
      });
      return [key, answer] as const;
    }),
  );
  return Object.fromEntries(entries);
}

// ---------------------------------------------------------------------------------------------

async function initialize(host: DispatchHost, ctx: Context<any>): Promise<unknown> {
  const s = session(ctx);
  const p = ctx.params;
  if (typeof p.protocolVersion !== 'string') {
    throw new InvalidParamsError('Invalid params: "protocolVersion" must be a string');
  }
  // Once: a session's version and capabilities are what its first initialize settled.
  if (s.era === 'legacy' && s.protocolVersion !== undefined) {
    throw new InvalidRequestError('Invalid Request: the session is already initialized');
  }
  const version = negotiateLegacyVersion(p.protocolVersion);
  s.era = 'legacy';
  s.protocolVersion = version;
  s.clientInfo = p.clientInfo as Session['clientInfo'];
  s.clientCapabilities = (p.capabilities as Session['clientCapabilities']) ?? {};
  s.initialized = true;
  ctx.protocolVersion = version;
  const result: Record<string, unknown> = {
    protocolVersion: version,
    capabilities: host.capabilities(),
    serverInfo: host.info,
  };
  if (host.options.instructions !== undefined) result.instructions = host.options.instructions;
  return result;
}

async function discover(host: DispatchHost): Promise<unknown> {
  const result: Record<string, unknown> = {
    supportedVersions: [...MODERN_VERSIONS],
    capabilities: host.capabilities(),
  };
  if (host.options.instructions !== undefined) result.instructions = host.options.instructions;
  return result;
}

function callTool(host: DispatchHost, ctx: Context<any>): unknown {
  const name = stringParam(ctx, 'name');
  const tool = host.tools.get(name);
  if (!tool) throw new NotFoundError(`Unknown tool: ${name}`, { details: { name } });
  const rawArgs = ctx.params.arguments ?? {};
  if (typeof rawArgs !== 'object' || rawArgs === null || Array.isArray(rawArgs)) {
    throw new InvalidParamsError('Invalid params: "arguments" must be an object');
  }
  let validated: unknown;
  try {
    validated = validate(tool.input, rawArgs, `arguments for tool ${name}`);
  } catch (err) {
    return invalidArguments(ctx, err);
  }
  return validated instanceof Promise
    ? validated.then(
        (args) => invokeTool(host, ctx, tool, name, args),
        (err) => invalidArguments(ctx, err),
      )
    : invokeTool(host, ctx, tool, name, validated);
}

/**
 * Arguments that fail the input schema: from 2025-11-25 on a tool execution error the model can
 * read and correct (`isError: true`, the issues as text), before that a -32602 protocol error.
 */
function invalidArguments(ctx: Context<any>, err: unknown): CallToolResult {
  if (!(err instanceof InvalidParamsError) || !inputErrorsAreToolResults(ctx.protocolVersion)) throw err;
  return { content: [{ type: 'text', text: err.message }], isError: true };
}

function invokeTool(host: DispatchHost, ctx: Context<any>, tool: ToolEntry, name: string, args: unknown) {
  const result = withInput(
    host,
    ctx,
    'tools/call',
    name,
    () => tool.handler(args, ctx),
    tool.output === undefined ? toolResult : structuredToolResult,
    toolFailure,
  );
  if (!tool.output) return result;
  return result instanceof Promise
    ? result.then((r) => checkOutput(tool, name, r))
    : checkOutput(tool, name, result);
}

/** A tool's value as a CallToolResult (an input_required result passes through). */
function toolResult(value: unknown): unknown {
  return isInputRequiredResult(value) ? value : toCallToolResult(value, false);
}

/** The same, for a tool with an outputSchema: an object value is its structuredContent too. */
function structuredToolResult(value: unknown): unknown {
  return isInputRequiredResult(value) ? value : toCallToolResult(value, true);
}

/** A ToolError a tool threw becomes an `isError` result; anything else stays an error. */
function toolFailure(err: unknown): unknown {
  if (err instanceof ToolError) return { content: [{ type: 'text', text: err.message }], isError: true };
  throw err;
}

/** A tool with an outputSchema must return matching structuredContent (unless it failed). */
async function checkOutput(tool: ToolEntry, name: string, result: unknown): Promise<unknown> {
  if (isInputRequiredResult(result)) return result;
  const r = result as { isError?: boolean; structuredContent?: unknown };
  if (r.isError) return result;
  if (r.structuredContent === undefined) {
    throw new RampartError(
      'invalid_tool_output',
      ErrorCode.InternalError,
      `Tool ${name} has an outputSchema but returned no structuredContent`,
      { expose: true },
    );
  }
  const check = (await tool.output!.validate(r.structuredContent)) as { ok: boolean; issues?: SchemaIssue[] };
  if (!check.ok) {
    throw new RampartError(
      'invalid_tool_output',
      ErrorCode.InternalError,
      `Tool ${name} returned structuredContent that does not match its outputSchema`,
      { expose: true, details: check.issues },
    );
  }
  return result;
}

/** The static resource or the template serving a URI. */
export function findResource(
  host: DispatchHost,
  uri: string,
): { entry: ResourceEntry; vars?: Record<string, string | string[]> } | undefined {
  const exact = host.resources.get(uri);
  if (exact) return { entry: exact };
  for (const t of host.templates.values()) {
    const vars = t.template.match(uri);
    if (vars) return { entry: t, vars };
  }
  return undefined;
}

async function readResource(host: DispatchHost, ctx: Context<any>): Promise<unknown> {
  const uri = stringParam(ctx, 'uri');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InvalidParamsError(`Invalid params: "${uri}" is not a valid URI`);
  }
  const found = findResource(host, uri);
  if (!found) throw new ResourceNotFoundError(uri);
  return withInput(
    host,
    ctx,
    'resources/read',
    uri,
    () => found.entry.handler(url, ctx, found.vars),
    (value) =>
      isInputRequiredResult(value)
        ? value
        : withCacheHint(
            ctx,
            toReadResourceResult(value, uri, found.entry.config.mimeType),
            found.entry.config.cache,
          ),
  );
}

/**
 * A resource's own cache hint (`ResourceConfig.cache`) on its 2026-07-28 read result, where the
 * result names none itself; the server-wide `cacheHints` fill in what is still missing.
 */
function withCacheHint(ctx: Context<any>, result: unknown, hint: CacheHint | undefined): unknown {
  if (hint === undefined || ctx.era !== 'modern') return result;
  const r = result as { ttlMs?: unknown; cacheScope?: unknown };
  const ttlMs = typeof r.ttlMs === 'number' ? r.ttlMs : hint.ttlMs;
  const cacheScope = r.cacheScope === 'public' || r.cacheScope === 'private' ? r.cacheScope : hint.cacheScope;
  return Object.assign(
    {},
    result,
    ttlMs === undefined ? {} : { ttlMs },
    cacheScope === undefined ? {} : { cacheScope },
  );
}

async function listResources(host: DispatchHost, ctx: Context<any>): Promise<unknown> {
  const listed = page(host, ctx, host.resources, 'resources');
  if (ctx.params.cursor !== undefined) return listed;
  // Templates with a `list` callback contribute their current resources to the first page.
  const dynamic: Record<string, unknown>[] = [];
  for (const t of host.templates.values()) {
    if (t.config.list) dynamic.push(...(await t.config.list(ctx)));
  }
  if (dynamic.length === 0) return listed;
  return Object.assign({}, listed, { resources: [...(listed.resources as unknown[]), ...dynamic] });
}

async function subscribe(host: DispatchHost, ctx: Context<any>): Promise<unknown> {
  const uri = stringParam(ctx, 'uri');
  const s = session(ctx);
  if (!s.subscriptions.has(uri)) {
    if (s.subscriptions.size >= s.maxSubscriptions) {
      throw new RampartError(
        'too_many_subscriptions',
        ErrorCode.InvalidRequest,
        `At most ${s.maxSubscriptions} subscriptions per session`,
      );
    }
    if (!findResource(host, uri)) throw new ResourceNotFoundError(uri);
    s.subscriptions.add(uri);
  }
  return {};
}

async function getPrompt(host: DispatchHost, ctx: Context<any>): Promise<unknown> {
  const name = stringParam(ctx, 'name');
  const prompt = host.prompts.get(name);
  if (!prompt) throw new NotFoundError(`Unknown prompt: ${name}`, { details: { name } });
  const raw = ctx.params.arguments ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidParamsError('Invalid params: "arguments" must be an object');
  }
  const missing = prompt.required.filter((a) => (raw as Record<string, unknown>)[a] === undefined);
  if (missing.length > 0) {
    throw new InvalidParamsError(`Missing required arguments for prompt ${name}: ${missing.join(', ')}`, {
      details: missing.map((m) => ({ path: m, message: 'required' })),
    });
  }
  const args = await validate(prompt.validator, raw, `arguments for prompt ${name}`);
  return withInput(
    host,
    ctx,
    'prompts/get',
    name,
    () => prompt.handler(args, ctx),
    (value) => (isInputRequiredResult(value) ? value : toGetPromptResult(value)),
  );
}

async function complete(host: DispatchHost, ctx: Context<any>): Promise<unknown> {
  const ref = ctx.params.ref as { type?: string; name?: string; uri?: string } | undefined;
  const argument = ctx.params.argument as { name?: string; value?: string } | undefined;
  if (!ref || typeof ref !== 'object' || !argument || typeof argument.name !== 'string') {
    throw new InvalidParamsError('Invalid params: "ref" and "argument.name" are required');
  }
  let completers: Record<string, unknown> | undefined;
  if (ref.type === 'ref/prompt') {
    const prompt = host.prompts.get(String(ref.name));
    if (!prompt) throw new NotFoundError(`Unknown prompt: ${ref.name}`);
    completers = prompt.config.complete;
  } else if (ref.type === 'ref/resource') {
    const template = host.templates.get(String(ref.uri));
    if (!template && !host.resources.get(String(ref.uri))) throw new ResourceNotFoundError(String(ref.uri));
    completers = template?.config.complete;
  } else {
    throw new InvalidParamsError(`Invalid params: unknown ref type ${String(ref.type)}`);
  }
  // Own keys only: an argument named `constructor` or `toString` has no completer.
  const completer = (
    completers !== undefined && Object.hasOwn(completers, argument.name)
      ? completers[argument.name]
      : undefined
  ) as
    | ((
        value: string,
        c: { arguments?: Record<string, string>; ctx: Context<any> },
      ) => Promise<string[]> | string[])
    | undefined;
  if (typeof completer !== 'function') return { completion: { values: [], hasMore: false } };
  const context = ctx.params.context as { arguments?: Record<string, string> } | undefined;
  const all = await completer(String(argument.value ?? ''), { arguments: context?.arguments, ctx });
  if (!Array.isArray(all)) throw new Error(`The completer of "${argument.name}" returned no array`);
  return { completion: { values: all.slice(0, 100), total: all.length, hasMore: all.length > 100 } };
}

async function setLevel(_host: DispatchHost, ctx: Context<any>): Promise<unknown> {
  const level = ctx.params.level;
  if (typeof level !== 'string' || !LOGGING_LEVELS.includes(level as LoggingLevel)) {
    throw new InvalidParamsError(`Invalid params: "level" must be one of ${LOGGING_LEVELS.join(', ')}`);
  }
  session(ctx).logLevel = level as LoggingLevel;
  return {};
}

/**
 * `subscriptions/listen` (2026-07-28): a long-lived request. The server acknowledges with the honoured
 * filter, streams the notifications the client asked for (each stamped with the subscription id),
 * and answers the request only when it ends the subscription gracefully.
 */
async function listen(host: DispatchHost, ctx: Context<any>): Promise<unknown> {
  const filter = (ctx.params.notifications ?? {}) as {
    toolsListChanged?: boolean;
    promptsListChanged?: boolean;
    resourcesListChanged?: boolean;
    resourceSubscriptions?: string[];
  };
  if (typeof filter !== 'object' || filter === null) {
    throw new InvalidParamsError('Invalid params: "notifications" must be an object');
  }
  const caps = host.capabilities() as {
    tools?: { listChanged?: boolean };
    prompts?: { listChanged?: boolean };
    resources?: { listChanged?: boolean; subscribe?: boolean };
  };
  const honored: typeof filter = {};
  if (filter.toolsListChanged === true && caps.tools?.listChanged) honored.toolsListChanged = true;
  if (filter.promptsListChanged === true && caps.prompts?.listChanged) honored.promptsListChanged = true;
  if (filter.resourcesListChanged === true && caps.resources?.listChanged)
    honored.resourcesListChanged = true;
  if (
    Array.isArray(filter.resourceSubscriptions) &&
    filter.resourceSubscriptions.length > 0 &&
    caps.resources?.subscribe
  ) {
    const max = session(ctx).maxSubscriptions;
    if (filter.resourceSubscriptions.length > max) {
      throw new InvalidParamsError(`At most ${max} resource subscriptions per listen`);
    }
    honored.resourceSubscriptions = filter.resourceSubscriptions.filter((u) => typeof u === 'string');
  }
  const subscriptionId = ctx.requestId!;
  const stamp = { [META.subscriptionId]: subscriptionId };
  const s = session(ctx);
  s.markStream(subscriptionId);
  await s.notify(
    'notifications/subscriptions/acknowledged',
    { _meta: stamp, notifications: honored },
    subscriptionId,
  );
  const uris = new Set(honored.resourceSubscriptions ?? []);
  const off = host.onEvent((event) => {
    let method: string | undefined;
    let params: Record<string, unknown> = { _meta: stamp };
    if (event.kind === 'tools_list_changed' && honored.toolsListChanged)
      method = 'notifications/tools/list_changed';
    else if (event.kind === 'prompts_list_changed' && honored.promptsListChanged)
      method = 'notifications/prompts/list_changed';
    else if (event.kind === 'resources_list_changed' && honored.resourcesListChanged)
      method = 'notifications/resources/list_changed';
    else if (event.kind === 'resource_updated' && event.uri && uris.has(event.uri)) {
      method = 'notifications/resources/updated';
      params = { uri: event.uri, _meta: stamp };
    }
    if (method) void s.notify(method, params, subscriptionId);
  });
  // Held open until the client cancels, the connection ends, or the server shuts down.
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  off();
  return { _meta: stamp };
}

/** Method table. */
export const methods: Record<string, { eras: Era[]; run: MethodFn }> = {
  initialize: { eras: LEGACY, run: initialize },
  ping: { eras: LEGACY, run: async () => ({}) },
  'server/discover': { eras: MODERN, run: discover },
  'tools/list': { eras: BOTH, run: async (h, c) => page(h, c, h.tools, 'tools') },
  'tools/call': { eras: BOTH, run: callTool },
  'resources/list': { eras: BOTH, run: listResources },
  'resources/templates/list': {
    eras: BOTH,
    run: async (h, c) => page(h, c, h.templates, 'resourceTemplates'),
  },
  'resources/read': { eras: BOTH, run: readResource },
  'resources/subscribe': { eras: LEGACY, run: subscribe },
  'resources/unsubscribe': {
    eras: LEGACY,
    run: async (_h, c) => {
      session(c).subscriptions.delete(stringParam(c, 'uri'));
      return {};
    },
  },
  'prompts/list': { eras: BOTH, run: async (h, c) => page(h, c, h.prompts, 'prompts') },
  'prompts/get': { eras: BOTH, run: getPrompt },
  'completion/complete': { eras: BOTH, run: complete },
  'logging/setLevel': { eras: LEGACY, run: setLevel },
  'subscriptions/listen': { eras: MODERN, run: listen },
};

/** Built-in notification handlers. */
export const notifications: Record<string, (host: DispatchHost, ctx: Context<any>) => void | Promise<void>> =
  {
    'notifications/initialized': (_h, ctx) => {
      session(ctx).initialized = true;
    },
    'notifications/cancelled': (_h, ctx) => {
      const id = ctx.params.requestId;
      if (typeof id === 'string' || typeof id === 'number') {
        session(ctx).cancel(id, typeof ctx.params.reason === 'string' ? ctx.params.reason : undefined);
      }
    },
  };
