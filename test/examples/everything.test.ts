/** The everything example, exercised through both official clients in both eras. */
import { describe, expect, it } from 'vitest';
import { createEverythingServer } from '../../examples/everything.js';
import { connectV1, connectV2 } from '../fixtures/clients.js';

const CAPS = { sampling: {}, elicitation: { form: {} }, roots: {} };

describe.each([
  ['legacy (SDK v1)', (caps: Record<string, unknown>) => connectV1(createEverythingServer(), caps)],
  ['modern (SDK v2)', (caps: Record<string, unknown>) => connectV2(createEverythingServer(), caps)],
])('everything example, %s', (_era, connect) => {
  async function client(): Promise<{ c: any }> {
    return { c: await connect(CAPS) };
  }

  it('serves the conformance content tools', async () => {
    const { c } = await client();
    expect((await c.callTool({ name: 'test_simple_text', arguments: {} })).content).toEqual([
      { type: 'text', text: 'This is a simple text response for testing.' },
    ]);
    expect((await c.callTool({ name: 'test_image_content', arguments: {} })).content[0]).toMatchObject({
      type: 'image',
      mimeType: 'image/png',
    });
    expect((await c.callTool({ name: 'test_audio_content', arguments: {} })).content[0].mimeType).toBe(
      'audio/wav',
    );
    expect((await c.callTool({ name: 'test_multiple_content_types', arguments: {} })).content).toHaveLength(
      3,
    );
    expect(await c.callTool({ name: 'test_error_handling', arguments: {} })).toMatchObject({ isError: true });
    const tools = (await c.listTools()).tools;
    expect(tools.find((t: any) => t.name === 'json_schema_2020_12_tool').inputSchema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $defs: { address: { type: 'object' } },
      additionalProperties: false,
    });
  });

  it('reads resources and templates, gets prompts and completes arguments', async () => {
    const { c } = await client();
    expect((await c.readResource({ uri: 'test://template/123/data' })).contents[0].text).toBe(
      '{"id":"123","templateTest":true,"data":"Data for ID: 123"}',
    );
    expect((await c.readResource({ uri: 'test://static-binary' })).contents[0]).toMatchObject({
      mimeType: 'image/png',
    });
    const prompt = await c.getPrompt({
      name: 'test_prompt_with_arguments',
      arguments: { arg1: 'hello', arg2: 'world' },
    });
    expect(prompt.messages[0].content.text).toBe("Prompt with arguments: arg1='hello', arg2='world'");
    const done = await c.complete({
      ref: { type: 'ref/resource', uri: 'weather://{city}/today' },
      argument: { name: 'city', value: 'b' },
    });
    expect(done.completion.values).toEqual(['Berlin', 'Bern']);
    const summary = await c.getPrompt({ name: 'summarize', arguments: { text: 'abc', style: 'haiku' } });
    expect(summary.messages[0].content.text).toContain('as haiku');
  });

  it('samples and elicits through the client', async () => {
    const { c } = await client();
    const { ElicitRequestSchema, CreateMessageRequestSchema } = await import(
      '@modelcontextprotocol/sdk/types.js'
    );
    const isV2 = 'listen' in c;
    const elicit = async (req: any) => ({
      action: 'accept',
      content: req.params.message.startsWith('Delete') ? { confirm: true } : { username: 'u', email: 'e@x' },
    });
    const sample = async () => ({ role: 'assistant', content: { type: 'text', text: 'pong' }, model: 'm' });
    if (isV2) {
      c.setRequestHandler('elicitation/create', elicit);
      c.setRequestHandler('sampling/createMessage', sample);
    } else {
      c.setRequestHandler(ElicitRequestSchema, elicit);
      c.setRequestHandler(CreateMessageRequestSchema, sample);
    }
    expect((await c.callTool({ name: 'test_sampling', arguments: { prompt: 'ping' } })).content[0].text).toBe(
      'LLM response: pong',
    );
    expect(
      (await c.callTool({ name: 'test_elicitation', arguments: { message: 'who?' } })).content[0].text,
    ).toBe('User response: action=accept, content={"username":"u","email":"e@x"}');
    expect(
      (await c.callTool({ name: 'confirm_delete', arguments: { path: '/tmp/x' } })).content[0].text,
    ).toBe('deleted /tmp/x');
  });

  it('reports progress and structured output', async () => {
    const { c } = await client();
    const seen: number[] = [];
    const isV2 = 'listen' in c;
    const onprogress = (p: { progress: number }) => seen.push(p.progress);
    const r = isV2
      ? await c.callTool({ name: 'slow_count', arguments: { to: 3, delayMs: 5 } }, { onprogress })
      : await c.callTool({ name: 'slow_count', arguments: { to: 3, delayMs: 5 } }, undefined, { onprogress });
    expect(r.content[0].text).toBe('counted to 3');
    expect(seen).toEqual([1, 2, 3]);
    expect((await c.callTool({ name: 'add', arguments: { a: 1.5, b: 2 } })).structuredContent).toEqual({
      sum: 3.5,
    });
  });
});
