/**
 * The everything example: one server that exercises every feature of Rampart's core — tools with and
 * without arguments, structured output, every content type, progress, cancellation, client logging,
 * sampling and elicitation (in both protocol eras), resources, templates, subscriptions, prompts and
 * completions. It also implements the tools, resources and prompts the official MCP conformance suite
 * expects of a server, so the suite can be pointed at it.
 *
 * Serve it with `npm run example:stdio`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { type Context, createServer, inputRequired, type McpServer, ToolError } from '../src/index.js';

/** A 1×1 red PNG. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
/** A WAV file with no samples. */
const WAV = 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=';

const CITIES = [
  'Amsterdam',
  'Athens',
  'Berlin',
  'Bern',
  'Lisbon',
  'London',
  'Madrid',
  'Paris',
  'Prague',
  'Rome',
];

/** Builds a fresh everything server. */
export function createEverythingServer(): McpServer {
  const server = createServer({
    name: 'rampart-everything',
    version: '1.0.0',
    title: 'Rampart everything example',
    instructions: 'A demonstration server: every tool, resource and prompt is safe to call.',
  });
  registerConformanceTools(server);
  registerMultiRoundTools(server);
  registerShowcaseTools(server);
  registerResources(server);
  registerPrompts(server);
  return server;
}

/** The tools the conformance suite calls by name. */
function registerConformanceTools(server: McpServer): void {
  server.tool('test_simple_text', { description: 'Returns a simple text' }, () => ({
    content: [{ type: 'text', text: 'This is a simple text response for testing.' }],
  }));
  server.tool('test_image_content', { description: 'Returns an image' }, () => ({
    content: [{ type: 'image', data: PNG, mimeType: 'image/png' }],
  }));
  server.tool('test_audio_content', { description: 'Returns audio' }, () => ({
    content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }],
  }));
  server.tool('test_embedded_resource', { description: 'Returns an embedded resource' }, () => ({
    content: [
      {
        type: 'resource',
        resource: {
          uri: 'test://embedded-resource',
          mimeType: 'text/plain',
          text: 'This is an embedded resource content.',
        },
      },
    ],
  }));
  server.tool('test_multiple_content_types', { description: 'Returns text, image and a resource' }, () => ({
    content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: PNG, mimeType: 'image/png' },
      {
        type: 'resource',
        resource: {
          uri: 'test://mixed-content-resource',
          mimeType: 'application/json',
          text: JSON.stringify({ test: 'data', value: 123 }),
        },
      },
    ],
  }));
  server.tool(
    'test_tool_with_logging',
    { description: 'Logs to the client while it runs' },
    async (_args, ctx) => {
      await ctx.log('info', 'Tool execution started');
      await sleep(50);
      await ctx.log('info', 'Tool processing data');
      await sleep(50);
      await ctx.log('info', 'Tool execution completed');
      return 'Logging test completed';
    },
  );
  server.tool('test_error_handling', { description: 'Always fails' }, () => {
    throw new ToolError('This tool intentionally returns an error for testing');
  });
  server.tool('test_tool_with_progress', { description: 'Reports progress' }, async (_args, ctx) => {
    for (const progress of [0, 50, 100]) {
      await ctx.progress(progress, 100);
      await sleep(50);
    }
    return 'Progress test completed';
  });
  server.tool(
    'test_sampling',
    { description: 'Asks the client model', inputSchema: z.object({ prompt: z.string() }) },
    async ({ prompt }, ctx) => {
      const result = await ctx.sample({
        messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
        maxTokens: 100,
      });
      const content = result.content as { type: string; text?: string };
      return `LLM response: ${content.type === 'text' ? content.text : JSON.stringify(content)}`;
    },
  );
  server.tool(
    'test_elicitation',
    { description: 'Asks the user', inputSchema: z.object({ message: z.string() }) },
    async ({ message }, ctx) => {
      const result = await ctx.elicit({
        message,
        requestedSchema: {
          type: 'object',
          properties: {
            username: { type: 'string', description: "User's response" },
            email: { type: 'string', description: "User's email address" },
          },
          required: ['username', 'email'],
        },
      });
      return `User response: action=${String(result.action)}, content=${JSON.stringify(result.content ?? {})}`;
    },
  );
  server.tool(
    'test_elicitation_sep1034_defaults',
    { description: 'Elicitation with defaults' },
    async (_a, ctx) => {
      const result = await ctx.elicit({
        message: 'Please review and update the form fields with defaults',
        requestedSchema: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'User name', default: 'John Doe' },
            age: { type: 'integer', description: 'User age', default: 30 },
            score: { type: 'number', description: 'User score', default: 95.5 },
            status: {
              type: 'string',
              description: 'User status',
              enum: ['active', 'inactive', 'pending'],
              default: 'active',
            },
            verified: { type: 'boolean', description: 'Verification status', default: true },
          },
        },
      });
      return elicitationSummary(result);
    },
  );
  server.tool(
    'test_elicitation_sep1330_enums',
    { description: 'Elicitation with every enum form' },
    async (_a, ctx) => {
      const result = await ctx.elicit({
        message: 'Please select options from the enum fields',
        requestedSchema: {
          type: 'object',
          properties: {
            untitledSingle: {
              type: 'string',
              description: 'Untitled',
              enum: ['option1', 'option2', 'option3'],
            },
            titledSingle: {
              type: 'string',
              description: 'Titled',
              oneOf: [
                { const: 'value1', title: 'First Option' },
                { const: 'value2', title: 'Second Option' },
                { const: 'value3', title: 'Third Option' },
              ],
            },
            legacyEnum: {
              type: 'string',
              description: 'Legacy titled',
              enum: ['opt1', 'opt2', 'opt3'],
              enumNames: ['Option One', 'Option Two', 'Option Three'],
            },
            untitledMulti: {
              type: 'array',
              description: 'Untitled multi',
              items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
            },
            titledMulti: {
              type: 'array',
              description: 'Titled multi',
              items: {
                anyOf: [
                  { const: 'value1', title: 'First Choice' },
                  { const: 'value2', title: 'Second Choice' },
                  { const: 'value3', title: 'Third Choice' },
                ],
              },
            },
          },
        },
      });
      return elicitationSummary(result);
    },
  );
  server.tool(
    'json_schema_2020_12_tool',
    {
      description: 'Tool with JSON Schema 2020-12 features',
      inputSchema: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        $defs: {
          address: {
            $anchor: 'addressDef',
            type: 'object',
            properties: { street: { type: 'string' }, city: { type: 'string' } },
          },
        },
        properties: {
          name: { type: 'string' },
          address: { $ref: '#/$defs/address' },
          contactMethod: { type: 'string', enum: ['phone', 'email'] },
          phone: { type: 'string' },
          email: { type: 'string' },
        },
        allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
        if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
        // biome-ignore lint/suspicious/noThenProperty: a JSON Schema keyword, never awaited.
        then: { required: ['phone'] },
        else: { required: ['email'] },
        additionalProperties: false,
      },
    },
    (args) => `Received: ${JSON.stringify(args)}`,
  );
}

const NAME_REQUEST = inputRequired.elicit({
  message: 'What is your name?',
  requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
});

/** The answer the client gave for `key` in this retry, if any. */
function answer(ctx: Context<unknown>, key: string): Record<string, any> | undefined {
  const value = ctx.inputResponses?.[key];
  return typeof value === 'object' && value !== null ? value : undefined;
}

/**
 * Multi-round-trip tools (2026-07-28 `input_required`, SEP-2322) written in the explicit style: the
 * handler names its input requests and reads `ctx.inputResponses` on the retry. On the legacy era
 * Rampart fulfils the same requests as server→client requests and calls the handler again.
 */
function registerMultiRoundTools(server: McpServer): void {
  server.tool('test_input_required_result_elicitation', { description: 'Asks for a name' }, (_a, ctx) => {
    const reply = answer(ctx, 'user_name');
    if (reply?.action !== 'accept' || typeof reply.content?.name !== 'string') {
      return inputRequired({ inputRequests: { user_name: NAME_REQUEST } });
    }
    return `Hello, ${reply.content.name}!`;
  });
  server.tool('test_input_required_result_sampling', { description: 'Asks the model' }, (_a, ctx) => {
    const reply = answer(ctx, 'capital_question');
    if (!reply) {
      return inputRequired({
        inputRequests: {
          capital_question: inputRequired.createMessage({
            messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
            maxTokens: 100,
          }),
        },
      });
    }
    return `The model answered: ${reply.content?.text ?? JSON.stringify(reply.content)}`;
  });
  server.tool('test_input_required_result_list_roots', { description: 'Asks for roots' }, (_a, ctx) => {
    const reply = answer(ctx, 'client_roots');
    if (!Array.isArray(reply?.roots))
      return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
    return `Roots: ${reply.roots.map((r: { uri: string }) => r.uri).join(', ')}`;
  });
  server.tool('test_input_required_result_request_state', { description: 'Round-trips state' }, (_a, ctx) => {
    const reply = answer(ctx, 'confirm');
    if (!reply || ctx.requestState !== 'awaiting-confirmation') {
      return inputRequired({
        inputRequests: {
          confirm: inputRequired.elicit({
            message: 'Please confirm',
            requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
          }),
        },
        requestState: 'awaiting-confirmation',
      });
    }
    return `state-ok: confirmed=${reply.content?.ok === true}`;
  });
  server.tool(
    'test_input_required_result_multiple_inputs',
    { description: 'Asks three things' },
    (_a, ctx) => {
      const name = answer(ctx, 'user_name');
      const greeting = answer(ctx, 'greeting');
      const roots = answer(ctx, 'client_roots');
      if (!name || !greeting || !roots) {
        return inputRequired({
          inputRequests: {
            user_name: NAME_REQUEST,
            greeting: inputRequired.createMessage({
              messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }],
              maxTokens: 50,
            }),
            client_roots: inputRequired.listRoots(),
          },
          requestState: 'multiple',
        });
      }
      return `name=${name.content?.name}, greeting=${greeting.content?.text}, roots=${roots.roots?.length ?? 0}`;
    },
  );
  server.tool('test_input_required_result_multi_round', { description: 'Asks twice' }, (_a, ctx) => {
    const step1 = answer(ctx, 'step1');
    const step2 = answer(ctx, 'step2');
    if (ctx.requestState?.startsWith('round-2:') && step2) {
      return `name=${ctx.requestState.slice(8)}, color=${step2.content?.color}`;
    }
    if (step1?.content?.name !== undefined) {
      return inputRequired({
        inputRequests: {
          step2: inputRequired.elicit({
            message: 'Step 2: What is your favorite color?',
            requestedSchema: {
              type: 'object',
              properties: { color: { type: 'string' } },
              required: ['color'],
            },
          }),
        },
        requestState: `round-2:${step1.content.name}`,
      });
    }
    return inputRequired({
      inputRequests: {
        step1: inputRequired.elicit({
          message: 'Step 1: What is your name?',
          requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        }),
      },
      requestState: 'round-1',
    });
  });
  server.tool('test_input_required_result_tampered_state', { description: 'Signed state' }, (_a, ctx) => {
    if (!answer(ctx, 'confirm')) {
      return inputRequired({
        inputRequests: {
          confirm: inputRequired.elicit({
            message: 'Please confirm',
            requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
          }),
        },
        requestState: 'signed-by-rampart',
      });
    }
    return 'state verified';
  });
  server.tool(
    'test_input_required_result_capabilities',
    { description: 'Asks as the client can' },
    (_a, ctx) => {
      const reply = answer(ctx, 'user_name');
      if (reply) return `Hello, ${reply.content?.name ?? reply.content?.text}!`;
      // Only ask through a capability this request declared.
      if (ctx.clientCapabilities.elicitation)
        return inputRequired({ inputRequests: { user_name: NAME_REQUEST } });
      const ask = inputRequired.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: 'Suggest a name for the user' } }],
        maxTokens: 20,
      });
      return inputRequired({ inputRequests: { user_name: ask } });
    },
  );
  server.prompt(
    'test_input_required_result_prompt',
    { description: 'A prompt that asks first' },
    (_a, ctx) => {
      const reply = answer(ctx, 'user_context');
      if (!reply) {
        return inputRequired({
          inputRequests: {
            user_context: inputRequired.elicit({
              message: 'What context should the prompt use?',
              requestedSchema: {
                type: 'object',
                properties: { context: { type: 'string' } },
                required: ['context'],
              },
            }),
          },
        });
      }
      return `Use this context: ${reply.content?.context}`;
    },
  );
  server.tool(
    'test_missing_capability',
    { description: 'Needs the sampling capability' },
    async (_a, ctx) => {
      const result = await ctx.sample({
        messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }],
        maxTokens: 5,
      });
      return JSON.stringify(result.content);
    },
  );
  server.tool('test_streaming_elicitation', { description: 'Elicits in either era' }, async (_a, ctx) => {
    const reply = await ctx.elicit({
      message: 'Your name?',
      requestedSchema: { type: 'object', properties: { name: { type: 'string' } } },
    });
    return `got ${JSON.stringify(reply.content ?? {})}`;
  });
  server.tool('test_logging_tool', { description: 'Logs at several levels' }, async (_a, ctx) => {
    await ctx.log('debug', 'debug message');
    await ctx.log('info', 'info message');
    await ctx.log('error', 'error message');
    return 'logged';
  });
}

function elicitationSummary(result: Record<string, unknown>): string {
  return `Elicitation completed: action=${String(result.action)}, content=${JSON.stringify(result.content ?? {})}`;
}

/** Tools that show the framework's conveniences to people reading the example. */
function registerShowcaseTools(server: McpServer): void {
  server.tool(
    'add',
    {
      title: 'Add numbers',
      description: 'Adds two numbers and returns the sum as structured output',
      inputSchema: z.object({
        a: z.number().describe('First addend'),
        b: z.number().describe('Second addend'),
      }),
      outputSchema: z.object({ sum: z.number() }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ a, b }) => ({ sum: a + b }),
  );
  server.tool('server_time', { description: 'The server clock, no arguments' }, () =>
    new Date().toISOString(),
  );
  // Over 2026-07-28 HTTP, clients mirror `region` into an `Mcp-Param-Region` header (for routing);
  // the server checks it against the body.
  server.tool(
    'regional_lookup',
    {
      description: 'Looks a key up in a region (its region travels as the Mcp-Param-Region header too)',
      inputSchema: z.object({
        region: z.string().meta({ 'x-mcp-header': 'Region' }),
        key: z.string().optional(),
      }),
    },
    ({ region, key }) => `${key ?? '(no key)'} in ${region}`,
  );
  server.tool(
    'slow_count',
    {
      description: 'Counts slowly, reporting progress; stops early when cancelled',
      inputSchema: z.object({
        to: z.number().int().min(1).max(100),
        delayMs: z.number().int().min(0).max(1000),
      }),
    },
    async ({ to, delayMs }, ctx) => {
      for (let i = 1; i <= to; i++) {
        if (ctx.signal.aborted) return `cancelled at ${i - 1}`;
        await ctx.progress(i, to, `counted ${i}`);
        await sleep(delayMs, undefined, { signal: ctx.signal }).catch(() => undefined);
      }
      return `counted to ${to}`;
    },
  );
  server.tool(
    'confirm_delete',
    {
      description: 'Asks the user to confirm before "deleting" a file (elicitation in either era)',
      inputSchema: z.object({ path: z.string() }),
      annotations: { destructiveHint: true },
    },
    async ({ path }, ctx) => {
      const answer = await ctx.elicit({
        message: `Delete ${path}?`,
        requestedSchema: {
          type: 'object',
          properties: { confirm: { type: 'boolean' } },
          required: ['confirm'],
        },
      });
      const confirmed =
        answer.action === 'accept' && (answer.content as { confirm?: boolean })?.confirm === true;
      return confirmed ? `deleted ${path}` : `kept ${path}`;
    },
  );
  server.tool('list_roots', { description: "Lists the client's roots" }, async (_args, ctx) => {
    const { roots } = (await ctx.listRoots()) as { roots: { uri: string; name?: string }[] };
    return roots.map((r) => r.uri).join('\n') || '(no roots)';
  });
}

function registerResources(server: McpServer): void {
  server.resource(
    'test://static-text',
    { name: 'Static text', mimeType: 'text/plain', description: 'A static text resource' },
    () => 'This is the content of the static text resource.',
  );
  server.resource(
    'test://static-binary',
    { name: 'Static binary', mimeType: 'image/png', description: 'A static binary resource' },
    (uri) => ({ uri: uri.href, blob: PNG }),
  );
  server.resource(
    'test://watched-resource',
    { name: 'Watched resource', mimeType: 'text/plain', description: 'Subscribe to hear when it changes' },
    () => `Watched resource at ${new Date().toISOString()}`,
  );
  server.resourceTemplate(
    'test://template/{id}/data',
    { name: 'Template data', mimeType: 'application/json', description: 'Data by id' },
    (_uri, { id }) => JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
  );
  server.resourceTemplate(
    'weather://{city}/today',
    {
      name: 'Weather today',
      mimeType: 'application/json',
      description: 'A made-up forecast for a city',
      list: () =>
        CITIES.slice(0, 3).map((city) => ({ uri: `weather://${city}/today`, name: `Weather in ${city}` })),
      complete: { city: (value) => CITIES.filter((c) => c.toLowerCase().startsWith(value.toLowerCase())) },
    },
    (_uri, { city }) => JSON.stringify({ city, celsius: 12 + (String(city).length % 10), sky: 'clear' }),
  );
}

function registerPrompts(server: McpServer): void {
  server.prompt('test_simple_prompt', { description: 'A prompt without arguments' }, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
  }));
  server.prompt(
    'test_prompt_with_arguments',
    {
      description: 'A prompt with arguments',
      arguments: [
        { name: 'arg1', description: 'First test argument', required: true },
        { name: 'arg2', description: 'Second test argument', required: true },
      ],
      complete: {
        arg1: (value) => ['test', 'testing', 'tested', 'other'].filter((v) => v.startsWith(value)),
      },
    },
    (args) => ({
      messages: [
        {
          role: 'user',
          content: { type: 'text', text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` },
        },
      ],
    }),
  );
  server.prompt(
    'test_prompt_with_embedded_resource',
    {
      description: 'A prompt embedding a resource',
      arguments: [{ name: 'resourceUri', description: 'URI of the resource to embed', required: true }],
    },
    (args) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: {
              uri: String(args.resourceUri),
              mimeType: 'text/plain',
              text: 'Embedded resource content for testing.',
            },
          },
        },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }),
  );
  server.prompt('test_prompt_with_image', { description: 'A prompt with an image' }, () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ],
  }));
  server.prompt(
    'summarize',
    {
      title: 'Summarize a text',
      description: 'Asks the model for a summary in a given style',
      arguments: z.object({
        text: z.string().describe('The text to summarize'),
        style: z.string().optional().describe('bullet points, one sentence, ...'),
      }),
      complete: { style: (v) => ['bullet points', 'one sentence', 'haiku'].filter((s) => s.startsWith(v)) },
    },
    ({ text, style }) => `Summarize the following as ${style ?? 'one paragraph'}:\n\n${text}`,
  );
}
