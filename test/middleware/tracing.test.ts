/** tracing(): real spans from the OpenTelemetry SDK's in-memory exporter. */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createLogger,
  createMemoryPair,
  createServer,
  ToolError,
  timeout,
  tracing,
} from '../../src/index.js';
import { connectV1, connectV2 } from '../fixtures/clients.js';
import { envelope } from '../fixtures/raw.js';

const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
});
afterAll(() => {
  trace.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

function server() {
  const s = createServer({ name: 'traced', version: '1', logger: createLogger({ level: 'silent' }) });
  s.use(tracing());
  s.tool('lookup', async () => {
    // A child span made by application code inside the handler, after an await.
    await new Promise((r) => setTimeout(r, 2));
    await trace.getTracer('app').startActiveSpan('db.query', async (span) => {
      await new Promise((r) => setTimeout(r, 2));
      span.end();
    });
    return 'found';
  });
  s.tool('refuse', () => {
    throw new ToolError('no');
  });
  s.tool('crash', () => {
    throw new Error('boom');
  });
  return s;
}

describe('tracing()', () => {
  it('makes a server span per request named like "tools/call <tool>" with MCP attributes', async () => {
    const client = await connectV1(server());
    await client.callTool({ name: 'lookup', arguments: {} });
    const span = exporter.getFinishedSpans().find((s) => s.name === 'tools/call lookup')!;
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'lookup',
      'gen_ai.operation.name': 'execute_tool',
      'mcp.protocol.version': '2025-11-25',
    });
    expect(typeof span.attributes['mcp.session.id']).toBe('string');
    expect(exporter.getFinishedSpans().some((s) => s.name === 'initialize')).toBe(true);
  });

  it('parents spans made inside the handler to the request span', async () => {
    const client = await connectV1(server());
    await client.callTool({ name: 'lookup', arguments: {} });
    const spans = exporter.getFinishedSpans();
    const request = spans.find((s) => s.name === 'tools/call lookup')!;
    const child = spans.find((s) => s.name === 'db.query')!;
    expect(child.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(child.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
  });

  it('answers outside the request’s span: a request sent on hearing the answer starts its own trace', async () => {
    const s = server();
    const [client, side] = createMemoryPair();
    await s.connect(side);
    const answered = new Promise<void>((resolve) => {
      client.onmessage = (m: any) => {
        // Sent from the callback that hears the first answer, in whatever context that runs.
        if (m.id === 1)
          void client.send({
            jsonrpc: '2.0',
            id: 2,
            method: 'tools/call',
            params: { name: 'lookup', arguments: {}, _meta: envelope() },
          } as never);
        if (m.id === 2) resolve();
      };
    });
    await client.start();
    await client.send({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'lookup', arguments: {}, _meta: envelope() },
    } as never);
    await answered;
    const requests = exporter.getFinishedSpans().filter((span) => span.name === 'tools/call lookup');
    expect(requests).toHaveLength(2);
    expect(requests[0].spanContext().traceId).not.toBe(requests[1].spanContext().traceId);
    expect(requests.map((span) => span.parentSpanContext)).toEqual([undefined, undefined]);
    await client.close();
  });

  it('continues the trace named by traceparent in _meta', async () => {
    const client = await connectV2(server());
    await client.callTool({
      name: 'lookup',
      arguments: {},
      _meta: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    const span = exporter.getFinishedSpans().find((s) => s.name === 'tools/call lookup')!;
    expect(span.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(span.attributes['mcp.protocol.version']).toBe('2026-07-28');
  });

  it('records errors: tool errors, protocol errors, and internal exceptions', async () => {
    const client = await connectV1(server());
    await client.callTool({ name: 'refuse', arguments: {} });
    await client.callTool({ name: 'crash', arguments: {} }).catch(() => undefined);
    await client.callTool({ name: 'missing', arguments: {} }).catch(() => undefined);
    const spans = exporter.getFinishedSpans();
    const refuse = spans.find((s) => s.name === 'tools/call refuse')!;
    expect(refuse.status.code).toBe(SpanStatusCode.ERROR);
    expect(refuse.attributes['error.type']).toBe('tool_error');
    const crash = spans.find((s) => s.name === 'tools/call crash')!;
    expect(crash.attributes).toMatchObject({ 'error.type': 'internal', 'rpc.jsonrpc.error_code': -32603 });
    expect(crash.events.map((e) => e.name)).toContain('exception');
    expect(crash.status.message).toBe('Internal error');
    const missing = spans.find((s) => s.name === 'tools/call missing')!;
    expect(missing.attributes['error.type']).toBe('not_found');
    expect(missing.events).toHaveLength(0);
  });

  it('ends the span of a request a timeout() answered with the timeout, while its handler still runs', async () => {
    const s = createServer({ name: 'traced', version: '1', logger: createLogger({ level: 'silent' }) });
    s.use(tracing()).use(timeout({ ms: 30 }));
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    s.tool('ignores', async () => {
      await released;
      return 'late';
    });
    const client = await connectV1(s);
    await expect(client.callTool({ name: 'ignores', arguments: {} })).rejects.toThrow(/timed out/);
    const span = exporter.getFinishedSpans().find((x) => x.name === 'tools/call ignores')!;
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({ 'error.type': 'timeout', 'rpc.jsonrpc.error_code': -31001 });
    // The handler's late success changes nothing: one span, still the timeout's.
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(exporter.getFinishedSpans().filter((x) => x.name === 'tools/call ignores')).toHaveLength(1);
    await client.close();
  });
});
