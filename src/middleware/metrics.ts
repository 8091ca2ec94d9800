/**
 * `metrics()`: Prometheus metrics for every request, on prom-client (an optional peer dependency,
 * loaded only when this factory is called). The HTTP host serves the registry at `/metrics`; stdio
 * servers can expose `middleware.registry` however they like.
 */
import type * as Prom from 'prom-client';
import { requirePeer } from '../optional-peer.js';
import { toRampartError } from '../protocol/errors.js';
import type { Context, SettleObserver } from '../server/context.js';
import type { McpServer } from '../server/server.js';
import { type StoreFailure, storeChannel } from '../stores/types.js';
import { TrafficTotal, trafficTotals } from '../transports/diagnostics.js';
import type { Middleware } from './compose.js';
import { type ProtectionEvent, protectionChannel } from './events.js';
import { type CounterCell, CounterCells, type HistogramCell, HistogramCells } from './metric-cells.js';

export interface MetricsOptions {
  /** Registry to register into. Default: a new one (so several servers never collide). */
  registry?: Prom.Registry;
  /** Histogram buckets for `mcp_request_duration_seconds`, in seconds. */
  buckets?: number[];
  /** Collect Node's default process metrics too. Default true. */
  defaultMetrics?: boolean;
  /** Distinct tool/resource/prompt label values kept before the rest collapse to "other". Default 200. */
  maxTargets?: number;
}

/** The middleware, with the registry it reports into. */
export type MetricsMiddleware = Middleware<Context<any>> & {
  registry: Prom.Registry;
  /** `server.use()` calls it: target labels go only to tools, prompts and resources the server has. */
  install(server: McpServer<any>): void;
};

/** One transport and direction's traffic counters. */
type TrafficCells = { bytes: CounterCell; messages: CounterCell };

/** Methods whose `target` label is the tool, prompt or resource they name. */
const TARGETED = new Set(['tools/call', 'prompts/get', 'resources/read']);

/** Method label values: MCP's methods; anything else a client sends is "other". */
const METHODS = new Set([
  'initialize',
  'ping',
  'server/discover',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'subscriptions/listen',
]);

/**
 * What one `metrics()` counts of the protection middleware's and the stores' diagnostics events:
 * events about a request count only in the registries of the server the request is on (the
 * middleware's settle observer is on its context); an HTTP authentication failure, in those of the
 * server it happened on; a store error (a store may serve many servers) everywhere.
 */
interface ProtectionSink {
  observer: SettleObserver;
  /** The server the `metrics()` is installed on, once it is. */
  server(): McpServer<any> | undefined;
  protection(event: ProtectionEvent): void;
  store(failure: StoreFailure): void;
}

/**
 * The live sinks, weakly: one subscription per channel for the whole process, however many
 * `metrics()` are made (each of those once subscribed for good, keeping its registry alive). A sink
 * lives as long as its middleware; dead ones are dropped as events or new sinks come.
 */
const sinks = new Set<WeakRef<ProtectionSink>>();
let subscribed = false;

function eachSink(visit: (sink: ProtectionSink) => void): void {
  for (const ref of sinks) {
    const sink = ref.deref();
    if (sink === undefined) sinks.delete(ref);
    else visit(sink);
  }
}

function addSink(sink: ProtectionSink): void {
  eachSink(() => undefined);
  sinks.add(new WeakRef(sink));
  if (subscribed) return;
  subscribed = true;
  protectionChannel.subscribe((message) => {
    const event = message as ProtectionEvent;
    eachSink((s) => {
      if (event.ctx !== undefined) {
        if (event.ctx.isObservedBy(s.observer)) s.protection(event);
      } else if (event.server === undefined || s.server() === undefined || event.server === s.server()) {
        s.protection(event);
      }
    });
  });
  storeChannel.subscribe((message) => eachSink((s) => s.store(message as StoreFailure)));
}

/** Counts what the protection middleware and the stores report on their diagnostics channels. */
function protectionSink(
  prom: typeof Prom,
  registry: Prom.Registry,
  observer: SettleObserver,
  server: () => McpServer<any> | undefined,
): ProtectionSink {
  const counter = (name: string, help: string, labelNames: string[]) =>
    new prom.Counter({ name, help, labelNames, registers: [registry] });
  const rateLimited = counter('mcp_rate_limited_total', 'Requests refused by a rate limit, by rule', [
    'rule',
  ]);
  const timeouts = counter('mcp_timeouts_total', 'Requests that timed out, by rule and method', [
    'rule',
    'method',
  ]);
  const concurrency = counter(
    'mcp_concurrency_total',
    'Requests a concurrency limit queued or refused, by rule and outcome',
    ['rule', 'outcome'],
  );
  const cacheRequests = counter('mcp_cache_requests_total', 'Cache lookups, by rule and result', [
    'rule',
    'result',
  ]);
  const authFailures = counter('mcp_auth_failures_total', 'Requests refused authentication, by reason', [
    'reason',
  ]);
  const storeErrors = counter(
    'mcp_store_errors_total',
    'Store operations that failed, by store and operation',
    ['store', 'operation'],
  );
  return {
    observer,
    server,
    protection(event) {
      switch (event.kind) {
        case 'rate_limited':
          return rateLimited.inc({ rule: event.rule });
        case 'timeout':
          return timeouts.inc({
            rule: event.rule,
            method: METHODS.has(event.method) ? event.method : 'other',
          });
        case 'concurrency_queued':
          return concurrency.inc({ rule: event.rule, outcome: 'queued' });
        case 'concurrency_rejected':
          return concurrency.inc({ rule: event.rule, outcome: 'rejected' });
        case 'cache':
          return cacheRequests.inc({ rule: event.rule, result: event.result });
        case 'auth_failed':
          return authFailures.inc({ reason: event.reason });
      }
    },
    store(failure) {
      storeErrors.inc({ store: failure.store, operation: failure.operation });
    },
  };
}

/** Creates the metrics middleware. Register it right after `logging()`. */
export function metrics(options: MetricsOptions = {}): MetricsMiddleware {
  const prom = requirePeer<typeof Prom>('prom-client', 'metrics()');
  const registry = options.registry ?? new prom.Registry();
  if (options.defaultMetrics ?? true) prom.collectDefaultMetrics({ register: registry });
  const requests = new CounterCells(prom, {
    name: 'mcp_requests_total',
    help: 'MCP requests handled, by method, tool and outcome status',
    labelNames: ['method', 'tool', 'status'],
    registry,
  });
  const duration = new HistogramCells({
    name: 'mcp_request_duration_seconds',
    help: 'MCP request duration in seconds',
    buckets: options.buckets ?? [
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ],
    registry,
  });
  // Counted here and read at scrape time: no prom-client call per request.
  let inFlight = 0;
  new prom.Gauge({
    name: 'mcp_requests_in_flight',
    help: 'MCP requests being handled',
    registers: [registry],
    collect() {
      this.set(inFlight);
    },
  });
  const toolErrors = new prom.Counter({
    name: 'mcp_tool_errors_total',
    help: 'Failed tool calls, by tool and error type',
    labelNames: ['tool', 'type'],
    registers: [registry],
  });
  const sessions = new Set<string>();
  new prom.Gauge({
    name: 'mcp_sessions_active',
    help: 'Connections (sessions) with a request seen and not yet closed',
    registers: [registry],
    collect() {
      this.set(sessions.size);
    },
  });
  // The transports' process-wide totals, read at scrape time: from when this registry was made.
  const totals = trafficTotals();
  const traffic: { total: TrafficTotal; seen: TrafficTotal; cells: TrafficCells }[] = [];
  const refresh = () => {
    for (const t of traffic) {
      t.cells.bytes.pending += t.total.bytes - t.seen.bytes;
      t.cells.messages.pending += t.total.messages - t.seen.messages;
      t.seen.bytes = t.total.bytes;
      t.seen.messages = t.total.messages;
    }
  };
  const bytes = new CounterCells(prom, {
    name: 'mcp_transport_bytes_total',
    help: 'Bytes of MCP messages read and written, by transport and direction',
    labelNames: ['transport', 'direction'],
    registry,
    refresh,
  });
  const messages = new CounterCells(prom, {
    name: 'mcp_transport_messages_total',
    help: 'MCP messages read and written, by transport and direction',
    labelNames: ['transport', 'direction'],
    registry,
    refresh,
  });
  for (const [transport, directions] of Object.entries(totals)) {
    for (const [direction, total] of Object.entries(directions)) {
      const labels = { transport, direction };
      const seen = Object.assign(new TrafficTotal(), total);
      traffic.push({ total, seen, cells: { bytes: bytes.cell(labels), messages: messages.cell(labels) } });
    }
  }
  const maxTargets = options.maxTargets ?? 200;
  const known = new Set<string>();
  let server: McpServer<any> | undefined;
  // Label values come from clients: only targets the server has are kept, up to maxTargets;
  // everything else is "other", so cardinality stays bounded. (Without a server to ask, a target
  // answered without not_found is taken to exist: `guess`.) A failure decides nothing: a name no
  // tool has may be refused for other reasons first (a rate limit, a missing scope).
  const label = (ctx: Context<any>, guess: boolean): string => {
    if (!TARGETED.has(ctx.method)) return '';
    const target = ctx.target ?? '';
    if (known.has(target)) return target;
    if (
      known.size < maxTargets &&
      (server === undefined ? guess : server.lookup(ctx.method, ctx.params) !== undefined)
    ) {
      known.add(target);
      return target;
    }
    return 'other';
  };
  // Legacy-era connections are sessions; a 2026-07-28 request is its own, so it is not counted.
  const track = (ctx: Context<any>) => {
    const session = ctx.session;
    if (ctx.era !== 'legacy' || sessions.has(session.id) || session.isClosed) return;
    sessions.add(session.id);
    void session.whenClosed().then(() => sessions.delete(session.id));
  };

  // Cells resolved once per method and tool (bounded by the label rules above), not per request.
  const children = new Map<string, Map<string, { duration: HistogramCell; ok: CounterCell }>>();
  const childrenFor = (method: string, tool: string) => {
    let byTool = children.get(method);
    if (byTool === undefined) {
      byTool = new Map();
      children.set(method, byTool);
    }
    let c = byTool.get(tool);
    if (c === undefined) {
      c = {
        duration: duration.cell({ method, tool }),
        ok: requests.cell({ method, tool, status: 'ok' }),
      };
      byTool.set(tool, c);
    }
    return c;
  };

  const failed = (ctx: Context<any>, method: string, seconds: number, err: unknown): void => {
    const type = toRampartError(err).type;
    const tool = label(ctx, type !== 'not_found' && type !== 'resource_not_found');
    childrenFor(method, tool).duration.observe(seconds);
    requests.counter.inc({ method, tool, status: type });
    if (method === 'tools/call') toolErrors.inc({ tool, type });
  };
  const succeeded = (ctx: Context<any>, method: string, seconds: number, result: unknown): void => {
    const tool = label(ctx, true);
    const c = childrenFor(method, tool);
    c.duration.observe(seconds);
    if ((result as { isError?: boolean } | undefined)?.isError) {
      requests.counter.inc({ method, tool, status: 'tool_error' });
      if (method === 'tools/call') toolErrors.inc({ tool, type: 'tool_error' });
    } else {
      c.ok.pending++;
    }
  };
  // One observer for every request: the method, target and duration are the context's to tell.
  const observer: SettleObserver & { sink?: ProtectionSink } = {
    settled(ctx, result, err, isFailure) {
      inFlight--;
      const method = METHODS.has(ctx.method) ? ctx.method : 'other';
      const seconds = ctx.durationMs / 1000;
      if (isFailure) failed(ctx, method, seconds, err);
      else succeeded(ctx, method, seconds, result);
    },
  }; // Held by the observer, which the middleware holds: the sink lives as long as they do.
  observer.sink = protectionSink(prom, registry, observer, () => server);
  addSink(observer.sink);

  const middleware = ((ctx, next) => {
    if (ctx.kind === 'notification') return next();
    track(ctx);
    inFlight++;
    ctx.onSettled(observer);
    return next();
  }) as MetricsMiddleware;
  middleware.registry = registry;
  middleware.install = (s) => {
    server = s;
  };
  return middleware;
}
