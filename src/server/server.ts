/**
 * McpServer: the registries, the middleware onion and the message pipeline. `createServer()` makes
 * one; `connect(transport)` serves it on a connection. The same server serves any number of
 * connections and both protocol eras.
 */

import { Health } from '../lifecycle/health.js';
import { type LifespanFn, LifespanRunner } from '../lifecycle/lifespan.js';
import { type ComposedMiddleware, compose, type Middleware } from '../middleware/compose.js';
import { type Hooks, hooks, isHooks } from '../middleware/hooks.js';
import {
  CancelledError,
  InvalidParamsError,
  MethodNotFoundError,
  RampartError,
  toRampartError,
  UnsupportedProtocolVersionError,
} from '../protocol/errors.js';
import {
  ErrorCode,
  failure,
  isRequest,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
  type JsonRpcResponse,
  success,
} from '../protocol/jsonrpc.js';
import {
  type Icon,
  type Implementation,
  LOGGING_LEVELS,
  type LoggingLevel,
  type ServerCapabilities,
} from '../protocol/types.js';
import {
  type Era,
  isModernVersion,
  LATEST_LEGACY_VERSION,
  META,
  MODERN_VERSIONS,
} from '../protocol/versions.js';
import { LiveList } from '../session/live-list.js';
import { Session, type SessionHost, type SessionLimits } from '../session/session.js';
import type { Authenticator, MessageExtra, Transport } from '../transports/types.js';
import { Context, ERROR_LOGGED } from './context.js';
import { newCorrelationId } from './correlation.js';
import { type DispatchHost, findResource, methods, notifications } from './dispatch.js';
import {
  type CacheHint,
  checkCacheHint,
  compilePrompt,
  compileResource,
  compileResourceTemplate,
  compileTool,
  type PromptArgs,
  type PromptConfig,
  type PromptEntry,
  type PromptHandler,
  type ResourceConfig,
  type ResourceEntry,
  type ResourceHandler,
  type ResourceTemplateConfig,
  type ResourceTemplateEntry,
  type ResourceTemplateHandler,
  type ToolConfig,
  type ToolEntry,
  type ToolHandler,
} from './features.js';
import { RequestStateCodec } from './input-required.js';
import { createLogger, type Logger } from './logger.js';
import { NO_PARAM_HEADERS, type ParamHeader } from './param-headers.js';
import { Registry } from './registry.js';
import type { SchemaLike } from './schema.js';

export interface ServerOptions<Deps = undefined> {
  name: string;
  version: string;
  title?: string;
  description?: string;
  websiteUrl?: string;
  icons?: Icon[];
  /** Guidance for the model on how to use this server, sent at initialize / discover. */
  instructions?: string;
  /** Extra capabilities to advertise (e.g. `experimental`). */
  capabilities?: ServerCapabilities;
  /** The server's own logger (default: pino JSON on stderr at `LOG_LEVEL`). */
  logger?: Logger;
  /** Items per page in list results; 0 disables pagination. Default 100. */
  pageSize?: number;
  /** Secret that signs `requestState` (share it across instances). Default: random per process. */
  requestStateSecret?: string;
  /** Per-connection limits (in-flight requests, pending client requests, subscriptions, batch size). */
  limits?: SessionLimits;
  /** Default cache hints for cacheable results on the 2026-07-28 era, by method. */
  cacheHints?: Partial<Record<string, CacheHint>>;
  /** Dependencies handed to every handler as `ctx.deps` (the lifespan sets these in production). */
  deps?: Deps;
  /** A `_meta` key clients may use to send their correlation id (besides `traceparent`). */
  correlationMetaKey?: string;
  /** How long a closing connection lets in-flight requests finish. Default 5 s. */
  drainTimeoutMs?: number;
  /**
   * How long, once shutdown begins, the HTTP hosts go on accepting and serving while readiness
   * answers 503 — time for a load balancer to see the probe and stop sending traffic before the
   * listener closes (Kubernetes takes a few seconds to remove an endpoint). Default 0.
   */
  shutdownDelayMs?: number;
  /**
   * Opens the server's dependencies before the first request and returns them as `ctx.deps`
   * (typed); what it registers with `life.use()` is closed on shutdown, in reverse order.
   */
  lifespan?: LifespanFn<Deps>;
  /** Health: `/health/live` and `/health/ready` on the HTTP host; `resource: true` adds `health://status`. */
  health?: { resource?: boolean; cacheMs?: number };
}

/** What an operational HTTP route sees of its request. */
export interface RouteRequest {
  method: string;
  path: string;
  header(name: string): string | undefined;
}

/** What an operational HTTP route answers; an object body is sent as JSON. */
export interface RouteResponse {
  status: number;
  headers?: Record<string, string>;
  body: string | Record<string, unknown>;
}

/** An operational HTTP route (health, metadata...), served by the HTTP host next to `/mcp`. */
export type RouteHandler = (request: RouteRequest) => RouteResponse | Promise<RouteResponse>;

/**
 * A middleware that needs the server it is mounted on (to register routes, install an
 * authenticator, or read tool annotations) carries an `install` function; `use()` calls it once.
 */
export interface Installable {
  install?(server: McpServer<any>): void;
}

/** The registered configuration a request is about, when it names a tool, prompt or resource. */
export interface FeatureRef {
  kind: 'tool' | 'prompt' | 'resource';
  name: string;
  config: { scopes?: string[]; annotations?: Record<string, unknown> | object };
}

/** A registered item's handle: update or remove it after registration. */
export interface Registered<C> {
  update(config: Partial<C>): void;
  remove(): void;
}

type ServerEvent =
  | { kind: 'tools_list_changed' | 'prompts_list_changed' | 'resources_list_changed' }
  | { kind: 'resource_updated'; uri: string };

/** The MCP server. */
export class McpServer<Deps = undefined> implements SessionHost, DispatchHost {
  readonly info: Implementation;
  readonly options: ServerOptions<Deps>;
  readonly logger: Logger;
  readonly tools: Registry<ToolEntry>;
  readonly resources: Registry<ResourceEntry>;
  readonly templates: Registry<ResourceTemplateEntry>;
  readonly prompts: Registry<PromptEntry>;
  /** Open sessions: connections, legacy HTTP sessions and per-request HTTP sessions alike. */
  readonly sessions = new LiveList<Session>();
  readonly requestState: RequestStateCodec;
  readonly pageSize: number;
  deps: Deps;
  /** Authenticates network requests (HTTP, WebSocket); installed by the `auth()` middleware. */
  authenticator: Authenticator | undefined;
  /**
   * Operational HTTP routes by path (a path ending in `/*` matches everything below it), served by the
   * HTTP host next to the MCP endpoint.
   */
  readonly routes = new Map<string, RouteHandler>();
  /** Dependency checks behind `/health/ready` (and `health://status`). */
  readonly health: Health;
  /** HTTP hosts started by `listen()`, closed by `close()`. */
  private readonly hosts = new Set<import('../host/http.js').HttpHost>();
  private readonly lifespan: LifespanRunner<Deps> | undefined;
  private starting: Promise<void> | undefined;
  private readonly closeHooks: Array<() => unknown> = [];
  private closing: Promise<void> | undefined;
  /** True once the lifespan has opened the dependencies (or there is none). */
  started = false;

  private readonly middleware: Middleware<Context<Deps>>[] = [];
  private chain: ComposedMiddleware<Context<Deps>, unknown> | undefined;
  private readonly listeners = new Set<(event: ServerEvent) => void>();
  private pendingEvents = new Set<ServerEvent['kind']>();
  private capabilitiesCache: ServerCapabilities | undefined;
  /** How many times the middleware chain was composed (observable in tests). */
  compositions = 0;

  constructor(options: ServerOptions<Deps>) {
    this.options = options;
    this.info = { name: options.name, version: options.version };
    for (const k of ['title', 'description', 'websiteUrl', 'icons'] as const) {
      if (options[k] !== undefined) (this.info as unknown as Record<string, unknown>)[k] = options[k];
    }
    for (const [method, hint] of Object.entries(options.cacheHints ?? {}))
      checkCacheHint(hint, `cacheHints["${method}"]`);
    this.logger = options.logger ?? createLogger({ name: options.name });
    this.pageSize = options.pageSize ?? 100;
    this.requestState = new RequestStateCodec(options.requestStateSecret);
    this.deps = options.deps as Deps;
    this.tools = new Registry('Tool', () => this.changed('tools_list_changed'));
    this.resources = new Registry('Resource', () => this.changed('resources_list_changed'));
    this.templates = new Registry('Resource template', () => this.changed('resources_list_changed'));
    this.prompts = new Registry('Prompt', () => this.changed('prompts_list_changed'));
    this.health = new Health(options.health?.cacheMs);
    this.lifespan =
      options.lifespan &&
      new LifespanRunner(options.lifespan, (err, what) =>
        this.logger.error({ err }, `lifespan: ${what} failed`),
      );
    if (!this.lifespan) this.started = true;
    const live = (): RouteResponse => ({ status: 200, body: { status: 'ok' } });
    const ready = async (): Promise<RouteResponse> => {
      const report = await this.health.report();
      return {
        status: Health.statusCode(report),
        headers: { 'cache-control': 'no-store' },
        body: { ...report },
      };
    };
    this.routes.set('/health/live', live);
    this.routes.set('/health/ready', ready);
    if (options.health?.resource) {
      this.resource(
        'health://status',
        { name: 'health', title: 'Server health', mimeType: 'application/json' },
        async () => JSON.stringify(await this.health.report()),
      );
    }
  }

  /**
   * Runs the lifespan (once): opens the dependencies and makes them `ctx.deps`. `listen()` and
   * `connect()` call it; a failure rejects with a LifespanError after closing what was opened.
   */
  start(): Promise<void> {
    this.starting ??= (async () => {
      if (this.lifespan) {
        this.deps = await this.lifespan.start();
        this.started = true;
      }
    })();
    return this.starting;
  }

  // -------------------------------------------------------------------------------------------
  // Registration

  /** Registers a tool. `config.inputSchema`/`outputSchema` take zod, any Standard Schema, or JSON Schema. */
  tool<In extends SchemaLike | undefined = undefined, Out extends SchemaLike | undefined = undefined>(
    name: string,
    config: ToolConfig<In, Out>,
    handler: ToolHandler<In, Out, Deps>,
  ): Registered<ToolConfig<In, Out>>;
  tool(name: string, handler: ToolHandler<undefined, undefined, Deps>): Registered<ToolConfig>;
  tool(name: string, a: unknown, b?: unknown): Registered<any> {
    const [config, handler] = (typeof a === 'function' ? [{}, a] : [a, b]) as [
      ToolConfig<any, any>,
      ToolEntry['handler'],
    ];
    this.tools.add(compileTool(name, config, handler));
    let key = name;
    return {
      update: (patch: Partial<ToolConfig<any, any>> & { name?: string; handler?: ToolEntry['handler'] }) => {
        const current = this.tools.get(key)!;
        const next = compileTool(
          patch.name ?? key,
          { ...current.config, ...patch },
          patch.handler ?? current.handler,
        );
        this.tools.replace(key, next);
        key = next.key;
      },
      remove: () => void this.tools.remove(key),
    };
  }

  /** Registers a static resource at a fixed URI. */
  resource(uri: string, config: ResourceConfig, handler: ResourceHandler<Deps>): Registered<ResourceConfig>;
  resource(uri: string, handler: ResourceHandler<Deps>): Registered<ResourceConfig>;
  resource(uri: string, a: unknown, b?: unknown): Registered<ResourceConfig> {
    let [config, handler] = (typeof a === 'function' ? [{}, a] : [a, b]) as [ResourceConfig, ResourceHandler];
    this.resources.add(compileResource(uri, config, handler));
    return {
      // Each update patches what the last one left (as a tool's does).
      update: (patch) => {
        config = { ...config, ...patch };
        this.resources.replace(uri, compileResource(uri, config, handler));
      },
      remove: () => void this.resources.remove(uri),
    };
  }

  /** Registers a resource template (RFC 6570), e.g. `users://{id}/profile`. */
  resourceTemplate(
    uriTemplate: string,
    config: ResourceTemplateConfig<Deps>,
    handler: ResourceTemplateHandler<Deps>,
  ): Registered<ResourceTemplateConfig<Deps>> {
    this.templates.add(compileResourceTemplate(uriTemplate, config, handler));
    let current = config;
    return {
      update: (patch) => {
        current = { ...current, ...patch };
        this.templates.replace(uriTemplate, compileResourceTemplate(uriTemplate, current, handler));
      },
      remove: () => void this.templates.remove(uriTemplate),
    };
  }

  /** Registers a prompt; `config.arguments` is an object schema of strings or an argument list. */
  prompt<Args extends PromptArgs = undefined>(
    name: string,
    config: PromptConfig<Args, Deps>,
    handler: PromptHandler<Args, Deps>,
  ): Registered<PromptConfig<Args, Deps>>;
  prompt(name: string, handler: PromptHandler<undefined, Deps>): Registered<PromptConfig>;
  prompt(name: string, a: unknown, b?: unknown): Registered<any> {
    let [config, handler] = (typeof a === 'function' ? [{}, a] : [a, b]) as [
      PromptConfig<any>,
      PromptEntry['handler'],
    ];
    this.prompts.add(compilePrompt(name, config, handler));
    return {
      update: (patch: Partial<PromptConfig<any>>) => {
        config = { ...config, ...patch };
        this.prompts.replace(name, compilePrompt(name, config, handler));
      },
      remove: () => void this.prompts.remove(name),
    };
  }

  /**
   * Adds middleware to the onion: a function `(ctx, next) => result`, or an object of per-method
   * hooks (`{ onCallTool, onListTools, onRequest, ... }`). Outermost first, in registration order.
   */
  use(middleware: (Middleware<Context<Deps>> & Installable) | Hooks): this {
    if (isHooks(middleware)) this.middleware.push(hooks(middleware));
    else {
      middleware.install?.(this);
      this.middleware.push(middleware);
    }
    this.chain = undefined;
    return this;
  }

  /** The composed chain, built once and again only after `use()` changes the stack. */
  private composed(): ComposedMiddleware<Context<Deps>, unknown> {
    if (!this.chain) {
      this.chain = compose(this.middleware);
      this.compositions++;
    }
    return this.chain;
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  /** Serves this server on a transport (one connection = one session). Resolves once started. */
  async connect(transport: Transport): Promise<Session> {
    await this.start();
    const session = this.open(transport);
    try {
      await session.start();
    } catch (err) {
      this.sessionClosed(session);
      throw err;
    }
    return session;
  }

  /**
   * Creates and attaches a session for a transport that needs no start (the HTTP transports' own,
   * one per request or session), synchronously: no promise on the per-request path.
   */
  attach(transport: Transport): Session {
    const session = this.open(transport);
    session.attach();
    return session;
  }

  /**
   * A session for a one-request transport whose messages the caller hands to `session.receive()`
   * itself (the HTTP transports' per-request sessions): no callbacks are wired, nothing started.
   */
  requestSession(transport: Transport): Session {
    return this.open(transport);
  }

  private open(transport: Transport): Session {
    this.composed();
    const session = new Session(transport, this, this.options.limits);
    session.drainOnPeerClose = this.options.drainTimeoutMs ?? 5_000;
    session.hostNode = this.sessions.add(session);
    return session;
  }

  /**
   * Serves this server over HTTP (Streamable HTTP at `/mcp`, both eras). Port 0 picks a free port;
   * the bound address is in the result.
   */
  async listen(
    options: import('../host/http.js').ListenOptions = {},
  ): Promise<import('../host/http.js').HttpHost> {
    await this.start();
    const { listen } = await import('../host/http.js');
    const host = await listen(this, options);
    this.hosts.add(host);
    return host;
  }

  /** Runs `hook` when the server closes, after the lifespan's disposals (last registered first). */
  onClose(hook: () => unknown): this {
    this.closeHooks.push(hook);
    return this;
  }

  /**
   * Adds middleware outside everything registered so far (the production stack, added by the CLI
   * around an application's own middleware).
   */
  useOutermost(...middleware: (Middleware<Context<Deps>> & Installable)[]): this {
    for (const m of middleware) m.install?.(this);
    this.middleware.unshift(...middleware);
    this.chain = undefined;
    return this;
  }

  /** Whether shutdown has begun. */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Graceful shutdown (idempotent): readiness turns 503, and the HTTP hosts go on serving for
   * `delayMs` (`shutdownDelayMs`); then they stop accepting and every connection lets in-flight
   * requests finish for up to `drainMs`, then what is left is aborted (clients get
   * `shutting_down`); then the lifespan disposes the dependencies, and logs are flushed.
   */
  close(
    drainMs = this.options.drainTimeoutMs ?? 5_000,
    delayMs = this.options.shutdownDelayMs ?? 0,
  ): Promise<void> {
    this.closing ??= (async () => {
      this.health.shuttingDown = true;
      if (delayMs > 0 && this.hosts.size > 0) {
        this.logger.info({ delayMs }, 'shutting down: readiness 503, serving until the delay ends');
        await new Promise((resolve) => setTimeout(resolve, Math.min(delayMs, 2_147_483_647)));
      }
      await Promise.all([...this.hosts].map((h) => h.close(drainMs)));
      this.hosts.clear();
      await Promise.all([...this.sessions].map((s) => s.close(drainMs)));
      if (this.lifespan) {
        // A lifespan still starting is waited for, so what it opens is closed too.
        await this.starting?.catch(() => undefined);
        for (const err of await this.lifespan.stop()) this.logger.error({ err }, 'lifespan: disposal failed');
      }
      for (const hook of this.closeHooks.reverse()) {
        try {
          await hook();
        } catch (err) {
          this.logger.error({ err }, 'close hook failed');
        }
      }
      await new Promise<void>((resolve) => {
        const flush = (this.logger as { flush?: (cb: (err?: Error) => void) => void }).flush;
        if (typeof flush !== 'function') return resolve();
        try {
          flush.call(this.logger, () => resolve());
        } catch {
          resolve();
        }
      });
    })();
    return this.closing;
  }

  /** `await using server = createServer(...)` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Registers an operational HTTP route (e.g. `/health/ready`); a trailing `/*` matches a subtree. */
  route(path: string, handler: RouteHandler): this {
    this.routes.set(path, handler);
    return this;
  }

  /** The tool, prompt or resource a request names, with its registered configuration. */
  /** The `Mcp-Param-*` headers a `tools/call` of `name` must carry (none for an unknown tool). */
  paramHeaders(name: string): readonly ParamHeader[] {
    return this.tools.get(name)?.paramHeaders ?? NO_PARAM_HEADERS;
  }

  lookup(method: string, params: Record<string, unknown>): FeatureRef | undefined {
    const name = params.name;
    if (method === 'tools/call' && typeof name === 'string') {
      const tool = this.tools.get(name);
      return tool && { kind: 'tool', name, config: tool.config };
    }
    if (method === 'prompts/get' && typeof name === 'string') {
      const prompt = this.prompts.get(name);
      return prompt && { kind: 'prompt', name, config: prompt.config };
    }
    const uri = params.uri;
    if ((method === 'resources/read' || method === 'resources/subscribe') && typeof uri === 'string') {
      const found = findResource(this, uri);
      return found && { kind: 'resource', name: uri, config: found.entry.config };
    }
    // A completion runs the completers of the prompt or template it names: theirs are its scopes.
    if (method === 'completion/complete') return this.completed(params.ref);
    return undefined;
  }

  /** The prompt, resource template or resource a `completion/complete` reference names. */
  private completed(ref: unknown): FeatureRef | undefined {
    if (typeof ref !== 'object' || ref === null) return undefined;
    const { type, name, uri } = ref as { type?: unknown; name?: unknown; uri?: unknown };
    if (type === 'ref/prompt' && typeof name === 'string') {
      const prompt = this.prompts.get(name);
      return prompt && { kind: 'prompt', name, config: prompt.config };
    }
    if (type === 'ref/resource' && typeof uri === 'string') {
      const entry = this.templates.get(uri) ?? this.resources.get(uri);
      return entry && { kind: 'resource', name: uri, config: entry.config };
    }
    return undefined;
  }

  /** Tells subscribed clients that a resource changed (`notifications/resources/updated`). */
  notifyResourceUpdated(uri: string): void {
    this.emit({ kind: 'resource_updated', uri });
  }

  /** Listens to server change events (used by `subscriptions/listen` and transports). */
  onEvent(listener: (event: ServerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ServerEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err }, 'server event listener failed');
      }
    }
    // Over a snapshot: a send may end a session, and so change the list, while this iterates.
    const sessions = [...this.sessions];
    if (event.kind === 'resource_updated') {
      for (const s of sessions) {
        if (s.era === 'legacy' && s.isSubscribed(event.uri)) {
          void s.notify('notifications/resources/updated', { uri: event.uri });
        }
      }
      return;
    }
    const method = `notifications/${event.kind.replace('_list_changed', '')}/list_changed`;
    for (const s of sessions) if (s.era === 'legacy' && s.initialized) void s.notify(method, {});
  }

  /** Coalesces registry changes made in one tick into one `list_changed` per kind. */
  private changed(kind: 'tools_list_changed' | 'prompts_list_changed' | 'resources_list_changed'): void {
    this.capabilitiesCache = undefined;
    if (this.pendingEvents.size === 0) {
      queueMicrotask(() => {
        const kinds = this.pendingEvents;
        this.pendingEvents = new Set();
        for (const k of kinds) this.emit({ kind: k } as ServerEvent);
      });
    }
    this.pendingEvents.add(kind);
  }

  /** The capabilities this server advertises, derived from what is registered. */
  capabilities(): ServerCapabilities {
    if (!this.capabilitiesCache) {
      const caps: ServerCapabilities = { ...this.options.capabilities };
      if (this.tools.size > 0 || this.options.capabilities?.tools) caps.tools = { listChanged: true };
      if (this.resources.size > 0 || this.templates.size > 0 || this.options.capabilities?.resources) {
        caps.resources = { subscribe: true, listChanged: true };
      }
      if (this.prompts.size > 0 || this.options.capabilities?.prompts) caps.prompts = { listChanged: true };
      caps.logging = {};
      caps.completions = {};
      this.capabilitiesCache = caps;
    }
    return this.capabilitiesCache;
  }

  // -------------------------------------------------------------------------------------------
  // The pipeline: envelope → context → middleware → dispatch → encode

  /** SessionHost: handles one request or notification from a session. */
  handle(
    session: Session,
    message: JsonRpcMessage,
    extra: MessageExtra | undefined,
  ): Promise<JsonRpcResponse | undefined> {
    return this.run(session, message, extra, false);
  }

  /** SessionHost: handles one request or notification and sends its answer on the session. */
  serve(session: Session, message: JsonRpcMessage, extra: MessageExtra | undefined): void {
    void this.run(session, message, extra, true);
  }

  /** `handle`, or with `send` `serve` — whose promise settles to undefined and never rejects. */
  private run(
    session: Session,
    message: JsonRpcMessage,
    extra: MessageExtra | undefined,
    send: boolean,
  ): Promise<JsonRpcResponse | undefined> {
    const msg = message as JsonRpcRequest;
    const id = isRequest(msg) ? msg.id : undefined;
    let era: Era;
    let version: string;
    try {
      [era, version] = this.classify(session, msg);
    } catch (err) {
      const refusal =
        id === undefined
          ? undefined
          : failure(id, toRampartError(err).toJsonRpc(extra?.correlationId ?? newCorrelationId()));
      return send ? this.deliver(session, refusal) : Promise.resolve(refusal);
    }
    const ctx = new Context<Deps>(
      msg,
      session,
      extra,
      era,
      version,
      this.deps,
      this.logger,
      this.options.correlationMetaKey,
    );
    if (id === undefined) return this.runNotification(ctx);
    session.track(id, ctx);
    return this.answer(session, ctx, id, era, send);
  }

  /** Sends a response (if any) on the session; a failure to is reported, never thrown. */
  private deliver(session: Session, response: JsonRpcResponse | undefined): Promise<undefined> {
    try {
      if (response !== undefined) void session.send(response);
    } catch (err) {
      this.reportError(err as Error, session);
    }
    return SETTLED;
  }

  /**
   * Runs a request through the onion and encodes its answer (or its error); then untracks it, and
   * with `send` sends the answer itself. (One `.then` rather than `async`/`await`, and no second one
   * for the sending: each promise costs, and AsyncLocalStorage makes each dearer still.)
   */
  private answer(
    session: Session,
    ctx: Context<Deps>,
    id: JsonRpcId,
    era: Era,
    send: boolean,
  ): Promise<JsonRpcResponse | undefined> {
    // A request served on its own may be answered before its onion is done (a timeout).
    if (send) ctx.allowEarlyAnswer();
    let pending: Promise<unknown>;
    try {
      pending = this.composed()(ctx, this.terminal);
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(
      (result) => {
        // Answered early: the onion's own outcome is dropped.
        if (ctx.hasOutcome) return undefined;
        let response: JsonRpcResponse | undefined;
        try {
          // MCP: the receiver of a request the client cancelled SHOULD NOT answer it.
          if (!(ctx.aborted && ctx.signal.reason instanceof CancelledError)) {
            response = success(
              id,
              era === 'modern' ? this.encodeModern(ctx.method, result) : (result as Record<string, unknown>),
            );
          }
        } catch (err) {
          // Observers hear what the client gets: a result that cannot be encoded is a failure.
          return this.answerFailure(session, ctx, id, err, send);
        }
        ctx.settle(result, undefined, false);
        session.untrack(id);
        return this.reply(session, response, send);
      },
      (err: unknown) => (ctx.hasOutcome ? undefined : this.answerFailure(session, ctx, id, err, send)),
    );
  }

  /** SessionHost: a request this server serves fails now (`ctx.answerNow`); its onion runs on. */
  answerEarly(ctx: Context<any>, error: unknown): void {
    this.answerFailure(ctx.session as Session, ctx as Context<Deps>, ctx.requestId!, error, true);
  }

  /** A request that failed (or whose result could not be encoded): settled, untracked, answered. */
  private answerFailure(
    session: Session,
    ctx: Context<Deps>,
    id: JsonRpcId,
    err: unknown,
    send: boolean,
  ): JsonRpcResponse | undefined {
    ctx.settle(undefined, err, true);
    session.untrack(id);
    return this.reply(session, this.failedSafely(session, ctx, id, err), send);
  }

  /** With `send`, sends the response and resolves the answer to undefined; else resolves to it. */
  private reply(
    session: Session,
    response: JsonRpcResponse | undefined,
    send: boolean,
  ): JsonRpcResponse | undefined {
    if (!send) return response;
    this.deliver(session, response);
    return undefined;
  }

  /**
   * `failed`, which never throws: should rendering the error fail too (a frozen error pino cannot
   * mark, a throwing getter), the client gets a plain internal error and the failure is reported.
   * (An answer's promise must not reject: nothing awaits a served one, and an unhandled rejection
   * ends the process.)
   */
  private failedSafely(
    session: Session,
    ctx: Context<Deps>,
    id: JsonRpcId,
    err: unknown,
  ): JsonRpcResponse | undefined {
    try {
      return this.failed(ctx, id, err);
    } catch (renderFailure) {
      this.reportError(renderFailure as Error, session);
      return failure(id, {
        code: ErrorCode.InternalError,
        message: 'Internal error',
        data: { type: 'internal', correlationId: ctx.correlationId },
      });
    }
  }

  /** The answer to a request whose handling failed: its error, or none if the client cancelled it. */
  private failed(ctx: Context<Deps>, id: JsonRpcId, err: unknown): JsonRpcResponse | undefined {
    if (!ctx.aborted) return failure(id, this.renderError(err, ctx));
    const reason = ctx.signal.reason;
    if (reason instanceof CancelledError) return undefined;
    // Aborted by a timeout or shutdown: the client learns why, not the AbortError it caused.
    return failure(id, this.renderError(reason instanceof RampartError ? reason : err, ctx));
  }

  /** Decides the era and version of one message, pinning the session's era on its first request. */
  private classify(session: Session, msg: JsonRpcRequest): [Era, string] {
    const meta = msg.params?._meta as Record<string, unknown> | undefined;
    if (meta !== undefined && typeof meta === 'object' && meta !== null && META.protocolVersion in meta) {
      const version = meta[META.protocolVersion];
      if (typeof version !== 'string' || !isModernVersion(version)) {
        throw new UnsupportedProtocolVersionError(String(version), MODERN_VERSIONS);
      }
      const caps = meta[META.clientCapabilities];
      if (msg.id !== undefined && (typeof caps !== 'object' || caps === null || Array.isArray(caps))) {
        throw new InvalidParamsError(`Invalid _meta envelope: "${META.clientCapabilities}" is required`, {
          details: [{ path: `_meta.${META.clientCapabilities}`, message: 'required object' }],
        });
      }
      const info = meta[META.clientInfo];
      if (info !== undefined && (typeof info !== 'object' || info === null || Array.isArray(info))) {
        throw new InvalidParamsError(`Invalid _meta envelope: "${META.clientInfo}" must be an object`, {
          details: [{ path: `_meta.${META.clientInfo}`, message: 'expected object' }],
        });
      }
      const level = meta[META.logLevel];
      if (level !== undefined && !LOGGING_LEVELS.includes(level as LoggingLevel)) {
        throw new InvalidParamsError(
          `Invalid _meta envelope: "${META.logLevel}" must be one of ${LOGGING_LEVELS.join(', ')}`,
          { details: [{ path: `_meta.${META.logLevel}`, message: 'expected a logging level' }] },
        );
      }
      if (session.era === undefined && msg.method !== 'server/discover' && msg.id !== undefined) {
        session.era = 'modern';
        session.protocolVersion = version;
        session.initialized = true;
      }
      return ['modern', version];
    }
    if (session.era === 'modern' && msg.method === 'initialize') {
      // Once a connection is modern it never falls back to the initialize handshake.
      throw new UnsupportedProtocolVersionError(
        String(msg.params?.protocolVersion ?? 'unknown'),
        MODERN_VERSIONS,
      );
    }
    if (session.era === 'modern' && msg.id !== undefined) {
      // Nor does it serve a request without the envelope as a legacy one: every request carries it.
      throw new InvalidParamsError(`Invalid _meta envelope: "${META.protocolVersion}" is required`, {
        details: [{ path: `_meta.${META.protocolVersion}`, message: 'required on every request' }],
      });
    }
    return [
      'legacy',
      session.era === 'legacy' ? session.protocolVersion! : (session.assumedVersion ?? LATEST_LEGACY_VERSION),
    ];
  }

  private readonly terminal = (ctx: Context<Deps>): Promise<unknown> => {
    // Own keys only: `constructor` or `__proto__` is no method (the table is a plain object).
    const method = Object.hasOwn(methods, ctx.method) ? methods[ctx.method] : undefined;
    if (method === undefined || !method.eras.includes(ctx.era)) {
      return Promise.reject(new MethodNotFoundError(ctx.method));
    }
    // Methods may answer synchronously; `next()` always resolves to a promise for middleware.
    try {
      const out = method.run(this, ctx);
      return out instanceof Promise ? out : Promise.resolve(out);
    } catch (err) {
      return Promise.reject(err);
    }
  };

  private async runNotification(ctx: Context<Deps>): Promise<undefined> {
    try {
      await this.composed()(ctx, async (c) => {
        if (Object.hasOwn(notifications, c.method)) await notifications[c.method](this, c);
        return undefined;
      });
      ctx.settle(undefined, undefined, false);
    } catch (err) {
      ctx.settle(undefined, err, true);
      ctx.logger.warn({ err }, 'notification handling failed');
    }
    return undefined;
  }

  /** Adds what the 2026-07-28 era requires on results: `resultType`, cache hints, server identity. */
  private encodeModern(method: string, result: unknown): Record<string, unknown> {
    // A copy into a class instance, not `{ ...result }`: see ModernResult.
    const out: Record<string, unknown> = Object.assign(new ModernResult(), result);
    const meta = out._meta as Record<string, unknown> | undefined;
    if (out.resultType === undefined) out.resultType = 'complete';
    if (out.resultType === 'complete' && CACHEABLE.has(method)) {
      const hint = this.options.cacheHints?.[method];
      if (typeof out.ttlMs !== 'number') out.ttlMs = hint?.ttlMs ?? 0;
      if (out.cacheScope !== 'public' && out.cacheScope !== 'private')
        out.cacheScope = hint?.cacheScope ?? 'private';
    }
    // The common case (no `_meta` of the result's own) shares one pre-serialised object.
    out._meta =
      meta === undefined ? this.serverMeta() : Object.assign({}, meta, { [META.serverInfo]: this.info });
    return out;
  }

  private serverMetaCache: Record<string, unknown> | undefined;
  /** `{ serverInfo }` for modern results, built once. */
  private serverMeta(): Record<string, unknown> {
    // Shared and frozen, not pre-serialised: it is small, and splicing costs more than it saves.
    this.serverMetaCache ??= Object.freeze({ [META.serverInfo]: this.info });
    return this.serverMetaCache;
  }

  /** The one error shape: stable code, message (redacted when internal), data with type and correlation id. */
  renderError(err: unknown, ctx: Context<any>): ReturnType<RampartError['toJsonRpc']> {
    const error = toRampartError(err);
    if (!error.expose && ctx.metadata[ERROR_LOGGED] !== true) logFailure(ctx, err);
    return error.toJsonRpc(ctx.correlationId);
  }

  /** SessionHost: a session ended. */
  sessionClosed(session: Session): void {
    if (session.hostNode !== undefined) this.sessions.remove(session.hostNode);
  }

  /** SessionHost: an error nobody awaits. */
  reportError(error: Error, session: Session): void {
    this.logger.warn({ err: error, sessionId: session.id }, 'connection error');
  }
}

/**
 * A 2026-07-28 result as sent (the handler's result plus `resultType`, cache hints and `_meta`). A
 * class rather than an object literal: V8 may pretenure a literal's allocation site, and every
 * result would then keep its request's young objects alive until a full collection
 * (docs/performance.md).
 */
class ModernResult {
  [key: string]: unknown;
}

/**
 * Logs an internal error in full — or, if the logger cannot serialise it (pino marks errors it
 * walks, which a frozen one refuses), what can be said of it.
 */
function logFailure(ctx: Context<any>, err: unknown): void {
  try {
    ctx.logger.error({ err }, 'request failed');
  } catch {
    let text: string;
    try {
      text = String(err);
    } catch {
      text = '(an error that cannot be printed)';
    }
    ctx.logger.error({ error: text }, 'request failed');
  }
}

/** What `serve` resolves to: a settled promise, shared (nothing awaits it). */
const SETTLED: Promise<undefined> = Promise.resolve(undefined);

const CACHEABLE = new Set([
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'server/discover',
]);

/** Creates an MCP server. */
export function createServer<Deps = undefined>(options: ServerOptions<Deps>): McpServer<Deps> {
  return new McpServer<Deps>(options);
}
