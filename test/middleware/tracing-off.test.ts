/** tracing() with no OpenTelemetry SDK registered: requests pass straight through, until one is. */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, createServer, ToolError, tracing } from '../../src/index.js';
import { connectV2 } from '../fixtures/clients.js';

afterAll(() => {
  trace.disable();
  context.disable();
});

describe('tracing() without an SDK', () => {
  it('answers as if it were off, and starts tracing once a provider is registered', async () => {
    const s = createServer({ name: 'untraced', version: '1', logger: createLogger({ level: 'silent' }) });
    s.use(tracing());
    s.tool('hello', () => 'hi');
    s.tool('refuse', () => {
      throw new ToolError('no');
    });
    const client = await connectV2(s);
    expect((await client.callTool({ name: 'hello', arguments: {} })).content).toEqual([
      { type: 'text', text: 'hi' },
    ]);
    expect((await client.callTool({ name: 'refuse', arguments: {} })).isError).toBe(true);
    await expect(client.callTool({ name: 'missing', arguments: {} })).rejects.toThrow();

    // The tracer is a proxy: a provider registered later is used from the next request on.
    const exporter = new InMemorySpanExporter();
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    await client.callTool({ name: 'hello', arguments: {} });
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['tools/call hello']);
  });
});
