/**
 * `tracing()`: an OpenTelemetry server span per request, on `@opentelemetry/api` alone (an optional
 * peer dependency). With no SDK registered the API is a no-op, so this costs next to nothing until an
 * application installs a tracer provider. Attributes follow the OpenTelemetry MCP semantic conventions
 * where they exist (`mcp.method.name`, `mcp.session.id`, `gen_ai.tool.name`, ...).
 */
import type * as OTel from '@opentelemetry/api';
import { requirePeer } from '../optional-peer.js';
import { toRampartError } from '../protocol/errors.js';
import type { Context, SettleObserver } from '../server/context.js';
import { parseTraceparent } from '../server/correlation.js';
import type { Middleware } from './compose.js';

export interface TracingOptions {
  /** Tracer name. Default "rampart". */
  tracerName?: string;
  /** Trace notifications too. Default false. */
  notifications?: boolean;
}

/** The remote parent named by `_meta.traceparent`, else by the HTTP `traceparent` header. */
function parentOf(ctx: Context<any>): { traceId: string; spanId: string; traceFlags: number } | undefined {
  const header = ctx.extra?.requestInfo?.headers?.traceparent;
  const value = ctx.meta?.traceparent ?? (Array.isArray(header) ? header[0] : header);
  const parent = parseTraceparent(value);
  // A parent needs a span id too (all zeros is invalid).
  return parent && parent.spanId !== '0'.repeat(16) ? parent : undefined;
}

function attributesOf(ctx: Context<any>): OTel.Attributes {
  const attributes: OTel.Attributes = {
    'mcp.method.name': ctx.method,
    'mcp.session.id': ctx.session.id,
    'mcp.protocol.version': ctx.protocolVersion,
    'network.transport': ctx.extra?.requestInfo ? 'tcp' : 'pipe',
  };
  if (ctx.requestId !== undefined) attributes['jsonrpc.request.id'] = String(ctx.requestId);
  const target = ctx.target;
  if (ctx.method === 'tools/call' && target) {
    attributes['gen_ai.operation.name'] = 'execute_tool';
    attributes['gen_ai.tool.name'] = target;
  } else if (ctx.method === 'prompts/get' && target) {
    attributes['gen_ai.prompt.name'] = target;
  } else if (ctx.method.startsWith('resources/') && target) {
    attributes['mcp.resource.uri'] = target;
  }
  return attributes;
}

/** Ends a request's span with its outcome: status, error type, the exception of an internal error. */
class SpanEnd implements SettleObserver {
  constructor(
    private readonly api: typeof OTel,
    private readonly span: OTel.Span,
  ) {}

  settled(_ctx: Context<any>, result: unknown, err: unknown, failed: boolean): void {
    const { api, span } = this;
    if (!failed) {
      if ((result as { isError?: boolean } | undefined)?.isError) {
        span.setAttribute('error.type', 'tool_error');
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: 'tool returned isError' });
      }
    } else {
      const error = toRampartError(err);
      span.setAttribute('error.type', error.type);
      span.setAttribute('rpc.jsonrpc.error_code', error.code);
      if (!error.expose) span.recordException(err instanceof Error ? err : new Error(String(err)));
      span.setStatus({
        code: api.SpanStatusCode.ERROR,
        message: error.expose ? error.message : 'Internal error',
      });
    }
    span.end();
  }
}

/** Creates the tracing middleware. Register it after `logging()` and `metrics()`. */
export function tracing(options: TracingOptions = {}): Middleware<Context<any>> {
  const api = requirePeer<typeof OTel>('@opentelemetry/api', 'tracing()');
  // The global tracer is a proxy: it picks up a provider registered later, so one lookup suffices.
  const tracer = api.trace.getTracer(options.tracerName ?? 'rampart');
  // The API's no-op provider, what the global proxy delegates to until an SDK registers one.
  const noop = new api.ProxyTracerProvider().getDelegate();
  const noSdk = () =>
    (api.trace.getTracerProvider() as { getDelegate?: () => unknown }).getDelegate?.() === noop;
  return (ctx, next) => {
    if (ctx.kind === 'notification' && !options.notifications) return next();
    const remote = parentOf(ctx);
    // No SDK and no remote parent: no span would be recorded and no trace carried on, so the
    // request runs as if tracing were off — not even a no-op span is made.
    if (remote === undefined && noSdk()) return next();
    const parent = remote
      ? api.trace.setSpanContext(api.context.active(), Object.assign({}, remote, { isRemote: true }))
      : api.context.active();
    const target = ctx.target;
    const span = tracer.startSpan(
      target && ctx.method !== 'resources/list' ? `${ctx.method} ${target}` : ctx.method,
      { kind: api.SpanKind.SERVER },
      parent,
    );
    // Building attributes is wasted work on a span nobody records (no SDK, or sampled out). Samplers
    // therefore see the span name (`tools/call <tool>`), not the attributes.
    if (span.isRecording()) span.setAttributes(attributesOf(ctx));
    // A provider this copy of the API cannot recognise as the no-op one (another copy's), yet no
    // trace to record or carry on: the request runs as if tracing were off here too.
    else if (remote === undefined && !api.trace.isSpanContextValid(span.spanContext())) return next();
    // The span ends with the outcome the client gets — told once the request settles, which a
    // timeout() inside may bring before the handler is done.
    ctx.onSettled(new SpanEnd(api, span));
    return api.context.with(api.trace.setSpan(parent, span), next);
  };
}
