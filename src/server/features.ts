/**
 * Tool, resource, resource-template and prompt definitions: what users register, compiled once into
 * registry entries with their wire descriptors and validators.
 */
import type {
  CallToolResult,
  ContentBlock,
  GetPromptResult,
  Icon,
  ReadResourceResult,
  ResourceContents,
  ToolAnnotations,
} from '../protocol/types.js';
import type { Context } from './context.js';
import type { InputRequiredResult } from './input-required.js';
import { type ParamHeader, paramHeadersOf } from './param-headers.js';
import {
  type CompiledSchema,
  compileSchema,
  type InferOutput,
  type JsonSchema,
  type SchemaLike,
  type StandardSchemaV1,
} from './schema.js';
import { UriTemplate } from './uri-template.js';

/** Cache hints for cacheable results on the 2026-07-28 era (SEP-2549). */
export interface CacheHint {
  ttlMs?: number;
  cacheScope?: 'public' | 'private';
}

/** What a tool handler may return: a full result, text, or (with an outputSchema) the structured value. */
export type ToolReturn<Out> =
  | CallToolResult
  | InputRequiredResult
  | string
  | (Out extends Record<string, unknown> ? Out : Record<string, unknown>);

export interface ToolConfig<
  In extends SchemaLike | undefined = undefined,
  Out extends SchemaLike | undefined = undefined,
> {
  title?: string;
  description?: string;
  /** Arguments schema: zod v4 or any Standard Schema, or plain JSON Schema (root type "object"). */
  inputSchema?: In;
  /** Structured result schema; results are validated against it. */
  outputSchema?: Out;
  annotations?: ToolAnnotations;
  icons?: Icon[];
  _meta?: Record<string, unknown>;
  /** OAuth scopes a caller needs to see and call this tool (enforced by `auth()`). */
  scopes?: string[];
}

export type ToolHandler<In, Out, Deps = any> = (
  args: In extends SchemaLike ? InferOutput<In> : Record<string, never>,
  ctx: Context<Deps>,
) =>
  | Promise<ToolReturn<Out extends SchemaLike ? InferOutput<Out> : unknown>>
  | ToolReturn<Out extends SchemaLike ? InferOutput<Out> : unknown>;

export interface ToolEntry {
  key: string;
  descriptor: Record<string, unknown>;
  input: CompiledSchema | undefined;
  output: CompiledSchema | undefined;
  handler: (args: any, ctx: Context<any>) => unknown;
  config: ToolConfig<any, any>;
  /** The parameters its input schema mirrors into `Mcp-Param-*` headers (2026-07-28 HTTP). */
  paramHeaders: readonly ParamHeader[];
}

/** MCP tool names: 1–128 characters of letters, digits, `_`, `-`, `.` and `/` (SEP-986). */
const TOOL_NAME = /^[A-Za-z0-9_\-./]{1,128}$/;

const EMPTY_OBJECT_SCHEMA: JsonSchema = { type: 'object', additionalProperties: false };

export function compileTool(
  name: string,
  config: ToolConfig<any, any>,
  handler: ToolEntry['handler'],
): ToolEntry {
  if (!TOOL_NAME.test(name)) {
    throw new TypeError(`Invalid tool name "${name}": use 1-128 of A-Z a-z 0-9 _ - . /`);
  }
  const input = config.inputSchema === undefined ? undefined : compileSchema(config.inputSchema, true);
  const output = config.outputSchema === undefined ? undefined : compileSchema(config.outputSchema, true);
  const descriptor: Record<string, unknown> = { name };
  if (config.title !== undefined) descriptor.title = config.title;
  if (config.description !== undefined) descriptor.description = config.description;
  descriptor.inputSchema = input?.jsonSchema ?? EMPTY_OBJECT_SCHEMA;
  if (output) descriptor.outputSchema = output.jsonSchema;
  if (config.annotations !== undefined) descriptor.annotations = config.annotations;
  if (config.icons !== undefined) descriptor.icons = config.icons;
  if (config._meta !== undefined) descriptor._meta = config._meta;
  const paramHeaders = paramHeadersOf(name, descriptor.inputSchema);
  return { key: name, descriptor, input, output, handler, config, paramHeaders };
}

/** Turns what a tool handler returned into a CallToolResult. */
export function toCallToolResult(value: unknown, hasOutputSchema: boolean): CallToolResult {
  if (typeof value === 'string') return { content: [{ type: 'text', text: value }] };
  if (value === undefined || value === null) return { content: [] };
  if (typeof value === 'object' && Array.isArray((value as CallToolResult).content))
    return value as CallToolResult;
  if (typeof value === 'object' && !Array.isArray(value)) {
    const text = JSON.stringify(value);
    return hasOutputSchema
      ? { content: [{ type: 'text', text }], structuredContent: value as Record<string, unknown> }
      : { content: [{ type: 'text', text }] };
  }
  return { content: [{ type: 'text', text: JSON.stringify(value) }] };
}

// ---------------------------------------------------------------------------------------------
// Resources

export interface ResourceConfig {
  name?: string;
  title?: string;
  description?: string;
  mimeType?: string;
  size?: number;
  annotations?: Record<string, unknown>;
  icons?: Icon[];
  _meta?: Record<string, unknown>;
  /** Cache hint for `resources/read` on the 2026-07-28 era. */
  cache?: CacheHint;
  /** OAuth scopes a caller needs to see and read this resource (enforced by `auth()`). */
  scopes?: string[];
}

/** What a resource handler may return: the full result, one contents item, or text. */
export type ResourceReturn = ReadResourceResult | ResourceContents | InputRequiredResult | string;

export type ResourceHandler<Deps = any> = (
  uri: URL,
  ctx: Context<Deps>,
) => Promise<ResourceReturn> | ResourceReturn;

export interface ResourceEntry {
  key: string;
  descriptor: Record<string, unknown>;
  handler: (uri: URL, ctx: Context<any>, vars?: Record<string, string | string[]>) => unknown;
  config: ResourceConfig;
}

/**
 * Refuses a cache hint the specification does not allow (`ttlMs` must be a number >= 0, the scope
 * `public` or `private`); `where` names it in the error.
 */
export function checkCacheHint(hint: CacheHint | undefined, where: string): void {
  if (hint === undefined) return;
  if (hint.ttlMs !== undefined && !(Number.isFinite(hint.ttlMs) && hint.ttlMs >= 0))
    throw new RangeError(`${where}: cache ttlMs must be a number >= 0 (got ${hint.ttlMs})`);
  if (hint.cacheScope !== undefined && hint.cacheScope !== 'public' && hint.cacheScope !== 'private')
    throw new RangeError(
      `${where}: cacheScope must be "public" or "private" (got ${String(hint.cacheScope)})`,
    );
}

function resourceDescriptor(config: ResourceConfig, base: Record<string, unknown>): Record<string, unknown> {
  checkCacheHint(config.cache, `Resource ${String(base.uri ?? base.uriTemplate)}`);
  const d = base;
  for (const k of ['title', 'description', 'mimeType', 'size', 'annotations', 'icons', '_meta'] as const) {
    if (config[k] !== undefined) d[k] = config[k];
  }
  return d;
}

export function compileResource(
  uri: string,
  config: ResourceConfig,
  handler: ResourceHandler,
): ResourceEntry {
  try {
    new URL(uri);
  } catch {
    throw new TypeError(`Invalid resource URI "${uri}"`);
  }
  const descriptor = resourceDescriptor(config, { uri, name: config.name ?? uri });
  return { key: uri, descriptor, handler: (u, ctx) => handler(u, ctx), config };
}

export type Completer<Deps = any> = (
  value: string,
  context: { arguments?: Record<string, string>; ctx: Context<Deps> },
) => Promise<string[]> | string[];

export interface ResourceTemplateConfig<Deps = any> extends ResourceConfig {
  name: string;
  /** Lists the concrete resources this template currently has (shown in `resources/list`). */
  list?: (ctx: Context<Deps>) => Promise<Record<string, unknown>[]> | Record<string, unknown>[];
  /** Completers for the template's variables (`completion/complete` with `ref/resource`). */
  complete?: Record<string, Completer<Deps>>;
}

export type ResourceTemplateHandler<Deps = any> = (
  uri: URL,
  variables: Record<string, string | string[]>,
  ctx: Context<Deps>,
) => Promise<ResourceReturn> | ResourceReturn;

export interface ResourceTemplateEntry extends ResourceEntry {
  template: UriTemplate;
  config: ResourceTemplateConfig;
}

export function compileResourceTemplate(
  uriTemplate: string,
  config: ResourceTemplateConfig,
  handler: ResourceTemplateHandler,
): ResourceTemplateEntry {
  const template = new UriTemplate(uriTemplate);
  const descriptor = resourceDescriptor(config, { uriTemplate, name: config.name });
  return {
    key: uriTemplate,
    descriptor,
    template,
    handler: (u, ctx, vars) => handler(u, vars ?? {}, ctx),
    config,
  };
}

/** Turns what a resource handler returned into a ReadResourceResult. */
export function toReadResourceResult(
  value: unknown,
  uri: string,
  mimeType: string | undefined,
): ReadResourceResult {
  if (typeof value === 'string') {
    return { contents: [mimeType ? { uri, mimeType, text: value } : { uri, text: value }] };
  }
  if (typeof value === 'object' && value !== null) {
    if (Array.isArray((value as ReadResourceResult).contents)) return value as ReadResourceResult;
    if ('text' in value || 'blob' in value) {
      const item = { uri, ...(mimeType ? { mimeType } : {}), ...(value as object) } as ResourceContents;
      return { contents: [item] };
    }
  }
  throw new TypeError('A resource handler must return a string, a contents item, or { contents: [...] }');
}

// ---------------------------------------------------------------------------------------------
// Prompts

export interface PromptArgument {
  name: string;
  title?: string;
  description?: string;
  required?: boolean;
}

/** What a prompt's `arguments` may be: an object schema of strings, or the argument list itself. */
export type PromptArgs = SchemaLike | PromptArgument[] | undefined;

export interface PromptConfig<Args extends PromptArgs = undefined, Deps = any> {
  title?: string;
  description?: string;
  /** An object schema of string arguments, or the argument list itself. */
  arguments?: Args;
  icons?: Icon[];
  _meta?: Record<string, unknown>;
  complete?: Record<string, Completer<Deps>>;
  /** OAuth scopes a caller needs to see and get this prompt (enforced by `auth()`). */
  scopes?: string[];
}

export type PromptReturn = GetPromptResult | InputRequiredResult | string;

export type PromptHandler<Args, Deps = any> = (
  args: Args extends StandardSchemaV1 ? InferOutput<Args> : Record<string, string | undefined>,
  ctx: Context<Deps>,
) => Promise<PromptReturn> | PromptReturn;

export interface PromptEntry {
  key: string;
  descriptor: Record<string, unknown>;
  validator: CompiledSchema | undefined;
  required: string[];
  handler: (args: any, ctx: Context<any>) => unknown;
  config: PromptConfig<any>;
}

export function compilePrompt(
  name: string,
  config: PromptConfig<any>,
  handler: PromptEntry['handler'],
): PromptEntry {
  let args: PromptArgument[] = [];
  let validator: CompiledSchema | undefined;
  if (Array.isArray(config.arguments)) {
    args = config.arguments;
  } else if (config.arguments !== undefined) {
    validator = compileSchema(config.arguments as SchemaLike, true);
    const json = validator.jsonSchema;
    const props = (json.properties ?? {}) as Record<string, { description?: string; title?: string }>;
    const required = new Set((json.required as string[] | undefined) ?? []);
    args = Object.entries(props).map(([argName, p]) => {
      const a: PromptArgument = { name: argName };
      if (p.title !== undefined) a.title = p.title;
      if (p.description !== undefined) a.description = p.description;
      a.required = required.has(argName);
      return a;
    });
  }
  const descriptor: Record<string, unknown> = { name };
  if (config.title !== undefined) descriptor.title = config.title;
  if (config.description !== undefined) descriptor.description = config.description;
  if (args.length > 0) descriptor.arguments = args;
  if (config.icons !== undefined) descriptor.icons = config.icons;
  if (config._meta !== undefined) descriptor._meta = config._meta;
  const required = args.filter((a) => a.required).map((a) => a.name);
  return { key: name, descriptor, validator, required, handler, config };
}

/** Turns what a prompt handler returned into a GetPromptResult. */
export function toGetPromptResult(value: unknown): GetPromptResult {
  if (typeof value === 'string') {
    return { messages: [{ role: 'user', content: { type: 'text', text: value } as ContentBlock }] };
  }
  if (typeof value === 'object' && value !== null && Array.isArray((value as GetPromptResult).messages)) {
    return value as GetPromptResult;
  }
  throw new TypeError('A prompt handler must return a string or { messages: [...] }');
}
