/** `x-mcp-header` tool parameters and their `Mcp-Param-*` headers (2026-07-28 Streamable HTTP). */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger, createServer, type HttpHost } from '../../src/index.js';
import { paramHeadersOf } from '../../src/server/param-headers.js';
import { callToolModern } from '../fixtures/http.js';

const hosts: HttpHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close(100);
});

const b64 = (s: string) => `=?base64?${Buffer.from(s).toString('base64')}?=`;

describe('x-mcp-header annotations', () => {
  it('are read from properties reached through "properties" alone', () => {
    const params = paramHeadersOf('t', {
      type: 'object',
      properties: {
        region: { type: 'string', 'x-mcp-header': 'Region' },
        limits: { type: 'object', properties: { shard: { type: 'integer', 'x-mcp-header': 'Shard' } } },
        dryRun: { type: ['boolean', 'null'], 'x-mcp-header': 'Dry-Run' },
        query: { type: 'string', default: { 'x-mcp-header': 'not an annotation: data' } },
      },
    });
    expect(params).toEqual([
      { name: 'Mcp-Param-Region', key: 'mcp-param-region', path: ['region'], type: 'string' },
      { name: 'Mcp-Param-Shard', key: 'mcp-param-shard', path: ['limits', 'shard'], type: 'integer' },
      { name: 'Mcp-Param-Dry-Run', key: 'mcp-param-dry-run', path: ['dryRun'], type: 'boolean' },
    ]);
    expect(paramHeadersOf('t', { type: 'object', properties: { q: { type: 'string' } } })).toEqual([]);
  });

  it.each([
    ['an empty name', { a: { type: 'string', 'x-mcp-header': '' } }, /not an HTTP header name token/],
    ['a name with a space', { a: { type: 'string', 'x-mcp-header': 'Two Words' } }, /token/],
    [
      'a name used twice (in any case)',
      { a: { type: 'string', 'x-mcp-header': 'Region' }, b: { type: 'string', 'x-mcp-header': 'region' } },
      /used twice/,
    ],
    ['a number property', { a: { type: 'number', 'x-mcp-header': 'N' } }, /only string, integer and boolean/],
    [
      'an object property',
      { a: { type: 'object', 'x-mcp-header': 'O' } },
      /only string, integer and boolean/,
    ],
    [
      'a property under items',
      { a: { type: 'array', items: { type: 'string', 'x-mcp-header': 'I' } } },
      /not a property reached through "properties" alone/,
    ],
    [
      'a property under anyOf',
      { a: { anyOf: [{ type: 'string', 'x-mcp-header': 'A' }] } },
      /not a property reached through "properties" alone/,
    ],
  ])('refuse a tool with %s at registration', (_name, properties, why) => {
    const server = createServer({ name: 'p', version: '1', logger: createLogger({ level: 'silent' }) });
    expect(() => server.tool('bad', { inputSchema: { type: 'object', properties } }, () => 'x')).toThrow(why);
  });
});

describe('Mcp-Param-* headers', () => {
  async function start() {
    const server = createServer({ name: 'p', version: '1', logger: createLogger({ level: 'silent' }) });
    server.tool(
      'execute_sql',
      {
        inputSchema: {
          type: 'object',
          properties: {
            region: { type: 'string', 'x-mcp-header': 'Region' },
            shard: { type: 'integer', 'x-mcp-header': 'Shard' },
            verbose: { type: 'boolean', 'x-mcp-header': 'Verbose' },
            query: { type: 'string' },
          },
          required: ['query'],
        },
      },
      (args) => `ran in ${(args.region as string | undefined) ?? 'default'}`,
    );
    // zod's .meta() carries the annotation into the advertised schema.
    server.tool(
      'greet',
      { inputSchema: z.object({ who: z.string().meta({ 'x-mcp-header': 'Who' }) }) },
      ({ who }) => `hello ${who}`,
    );
    const host = await server.listen({ port: 0 });
    hosts.push(host);
    return host.url;
  }

  const outcome = async (res: Response) => {
    const body = (await res.json()) as any;
    return res.status === 200
      ? body.result.content[0].text
      : [res.status, body.error.code, body.error.message];
  };

  it('serves a call whose headers match its arguments', async () => {
    const url = await start();
    const args = { region: 'us-west1', shard: 42, verbose: false, query: 'SELECT 1' };
    const headers = {
      'mcp-param-region': 'us-west1',
      'mcp-param-shard': '42.0',
      'mcp-param-verbose': 'false',
    };
    expect(await outcome(await callToolModern(url, 'execute_sql', args, headers))).toBe('ran in us-west1');
    // Base64 for what a header cannot carry plainly; absent values need no header.
    const spaced = { region: ' eu west ', query: 'q' };
    expect(
      await outcome(
        await callToolModern(url, 'execute_sql', spaced, { 'mcp-param-region': b64(' eu west ') }),
      ),
    ).toBe('ran in  eu west ');
    expect(await outcome(await callToolModern(url, 'execute_sql', { query: 'q' }))).toBe('ran in default');
    expect(
      await outcome(await callToolModern(url, 'greet', { who: 'wörld' }, { 'mcp-param-who': b64('wörld') })),
    ).toBe('hello wörld');
  });

  it.each([
    ['a header that disagrees', { region: 'us-west1', query: 'q' }, { 'mcp-param-region': 'eu-north9' }],
    ['a missing header', { region: 'us-west1', query: 'q' }, {}],
    ['a header for a value the body lacks', { query: 'q' }, { 'mcp-param-region': 'us-west1' }],
    ['an integer that differs', { shard: 42, query: 'q' }, { 'mcp-param-shard': '43' }],
    ['an integer in hexadecimal', { shard: 42, query: 'q' }, { 'mcp-param-shard': '0x2A' }],
    ['an integer with an exponent', { shard: 42, query: 'q' }, { 'mcp-param-shard': '4.2e1' }],
    ['an integer with a plus sign', { shard: 42, query: 'q' }, { 'mcp-param-shard': '+42' }],
    ['a boolean in the wrong case', { verbose: true, query: 'q' }, { 'mcp-param-verbose': 'True' }],
    ['malformed base64', { region: 'x', query: 'q' }, { 'mcp-param-region': '=?base64?*?=' }],
    // The markers are lowercase: an uppercase one is a plain value, which disagrees.
    ['an uppercase sentinel', { region: 'x', query: 'q' }, { 'mcp-param-region': `=?BASE64?${btoa('x')}?=` }],
  ])('refuses %s with 400 and -32020', async (_name, args, headers) => {
    const url = await start();
    const [status, code] = await outcome(await callToolModern(url, 'execute_sql', args, headers));
    expect([status, code]).toEqual([400, -32020]);
  });
});
