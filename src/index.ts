/** Rampart: a framework for production-grade MCP servers. */

export { ConfigError, loadConfig, parseApiKeys, type RampartConfig } from './config.js';
export {
  fetchHandler,
  type HttpHost,
  type HttpOptions,
  HttpRouter,
  type ListenOptions,
  listen,
  nodeHandler,
} from './host/http.js';
export {
  type CheckResult,
  Health,
  type HealthCheckOptions,
  type HealthReport,
} from './lifecycle/health.js';
export { type Lifespan, LifespanError, type LifespanFn } from './lifecycle/lifespan.js';
export { handleSignals, type ShutdownOptions } from './lifecycle/shutdown.js';
export {
  type ApiKey,
  type AuthMiddleware,
  type AuthOptions,
  auth,
  type JwtOptions,
} from './middleware/auth.js';
export {
  CACHED_META,
  type CacheMiddleware,
  type CacheOptions,
  cache,
  canonicalJson,
} from './middleware/cache.js';
export {
  type ComposedMiddleware,
  compose,
  type Middleware,
  type Next,
  NextCalledTwiceError,
} from './middleware/compose.js';
export {
  type ConcurrencyMiddleware,
  type ConcurrencyOptions,
  concurrency,
} from './middleware/concurrency.js';
export { type ErrorsOptions, errors } from './middleware/errors.js';
export { type ProtectionEvent, protectionChannel } from './middleware/events.js';
export { type Hooks, hooks } from './middleware/hooks.js';
export { clientIp, type KeyStrategy, type Scope, type TrustProxy } from './middleware/keys.js';
export { currentContext, getLogger, type LoggingOptions, logging } from './middleware/logging.js';
export { type MetricsMiddleware, type MetricsOptions, metrics } from './middleware/metrics.js';
export { type RateLimitOptions, rateLimit } from './middleware/rate-limit.js';
export { type TimeoutOptions, timeout } from './middleware/timeout.js';
export { type TracingOptions, tracing } from './middleware/tracing.js';
export { type ProductionStack, productionStack } from './production.js';
export * from './protocol/errors.js';
export {
  ErrorCode,
  type JsonRpcErrorObject,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './protocol/jsonrpc.js';
export type * from './protocol/types.js';
export {
  type Era,
  LATEST_LEGACY_VERSION,
  LATEST_VERSION,
  LEGACY_VERSIONS,
  META,
  MODERN_VERSIONS,
} from './protocol/versions.js';
export { type AuthInfo, Context, type SettleObserver } from './server/context.js';
export type {
  CacheHint,
  Completer,
  PromptArgument,
  PromptConfig,
  PromptHandler,
  ResourceConfig,
  ResourceHandler,
  ResourceTemplateConfig,
  ResourceTemplateHandler,
  ToolConfig,
  ToolHandler,
} from './server/features.js';
export {
  type InputRequest,
  type InputRequests,
  type InputRequiredResult,
  type InputResponses,
  inputRequired,
  RequestStateCodec,
} from './server/input-required.js';
export { BatchedDestination } from './server/log-destination.js';
export { createLogger, type Logger, type LoggerOptions, REDACTED_PATHS } from './server/logger.js';
export type { JsonSchema, SchemaLike, StandardSchemaV1 } from './server/schema.js';
export {
  createServer,
  type FeatureRef,
  type Installable,
  McpServer,
  type Registered,
  type RouteHandler,
  type RouteRequest,
  type RouteResponse,
  type ServerOptions,
} from './server/server.js';
export { UriTemplate } from './server/uri-template.js';
export { Session, type SessionLimits } from './session/session.js';
export { MemoryStore, type MemoryStoreOptions, memoryStore } from './stores/memory.js';
export { RedisStore, type RedisStoreOptions, redisStore } from './stores/redis.js';
export type {
  BucketSpec,
  CacheStore,
  RateLimitStore,
  Store,
  StoreFailure,
  TakeResult,
} from './stores/types.js';
export { type EventStore, MemoryEventStore, type StoredEvent } from './transports/http/event-store.js';
export { LegacySse, type LegacySseOptions } from './transports/http/legacy-sse.js';
export { StreamableHttp, type StreamableHttpOptions } from './transports/http/streamable.js';
export { createMemoryPair, MemoryTransport } from './transports/memory.js';
export { StdioServerTransport, type StdioTransportOptions } from './transports/stdio.js';
export type {
  Authenticator,
  AuthRequest,
  MessageExtra,
  SendOptions,
  Transport,
} from './transports/types.js';
export {
  CloseCode,
  WebSocketEndpoint,
  type WebSocketOptions,
  WebSocketServerTransport,
} from './transports/websocket.js';
export { type WebSocketClientOptions, WebSocketClientTransport } from './transports/websocket-client.js';
