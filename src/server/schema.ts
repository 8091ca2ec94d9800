/**
 * Schemas in, JSON Schema and a validator out — once, at registration. Accepts any Standard Schema
 * (zod v4, Valibot, ArkType, ...) or a plain JSON Schema object (validated with Ajv, draft 2020-12).
 */
import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv';

/** The Standard Schema v1 interface (https://standardschema.dev), plus the optional JSON Schema converter. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) =>
      | { value: Output; issues?: undefined }
      | {
          issues: ReadonlyArray<{
            message: string;
            path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
          }>;
        }
      | Promise<
          | { value: Output; issues?: undefined }
          | {
              issues: ReadonlyArray<{
                message: string;
                path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
              }>;
            }
        >;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
    readonly jsonSchema?: {
      readonly input: (options: { target: string }) => Record<string, unknown>;
      readonly output: (options: { target: string }) => Record<string, unknown>;
    };
  };
}

/** A plain JSON Schema object. */
export type JsonSchema = Record<string, unknown>;

/** Anything Rampart accepts as a schema. */
export type SchemaLike = StandardSchemaV1 | JsonSchema;

/** The value type a schema produces (`unknown`-keyed record for plain JSON Schema). */
export type InferOutput<S> = S extends StandardSchemaV1<any, infer O> ? O : Record<string, unknown>;
export type InferInput<S> = S extends StandardSchemaV1<infer I, any> ? I : Record<string, unknown>;

/** One validation problem, in the shape sent to clients in `error.data.details`. */
export interface SchemaIssue {
  path: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: SchemaIssue[] };

/** A passed validation (a class, not a literal: one per request — see docs/performance.md). */
class Valid<T> {
  readonly ok = true as const;
  constructor(readonly value: T) {}
}

/** A schema compiled once: its JSON Schema for listings, and a validator for requests and results. */
export interface CompiledSchema<T = unknown> {
  readonly jsonSchema: JsonSchema;
  validate(value: unknown): ValidationResult<T> | Promise<ValidationResult<T>>;
}

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  return (
    typeof value === 'object' &&
    value !== null &&
    '~standard' in value &&
    typeof (value as StandardSchemaV1)['~standard']?.validate === 'function'
  );
}

const require = createRequire(import.meta.url);
type Ajv = import('ajv').default;

const AJV_OPTIONS = { strict: false, allErrors: true, validateFormats: false } as const;
/** Options of the instance a schema is compiled in: its meta-schema check has been made already. */
const COMPILE_OPTIONS = { ...AJV_OPTIONS, validateSchema: false } as const;

let Ajv2020: (new (options: typeof COMPILE_OPTIONS | typeof AJV_OPTIONS) => Ajv) | undefined;
/** Checks schemas against their meta-schema, compiled once here; it keeps none of the schemas it checks. */
let metaCheck: Ajv | undefined;

/**
 * Compiles a JSON Schema in an Ajv instance of its own, which goes when its validator does. Ajv
 * keeps every schema it compiles (by object and by `$id`) and every validator (in the scope its code
 * shares) for the instance's lifetime: one instance for the process grew by ~4 KB for every tool ever
 * registered, removed or not, and refused a second schema with an `$id` it had seen ("already
 * exists"), from another tool or another server. An instance per schema costs about what compiling
 * in a shared one does (~0.5 ms, ~2 KB); only the meta-schema check, whose own compilation is what
 * is expensive (~8 ms), is shared.
 */
function compileJsonSchema(schema: JsonSchema): ValidateFunction {
  // Draft 2020-12 is the default dialect of MCP JSON Schemas (SEP-1613).
  Ajv2020 ??= require('ajv/dist/2020').default as NonNullable<typeof Ajv2020>;
  metaCheck ??= new Ajv2020(AJV_OPTIONS);
  metaCheck.validateSchema(schema, true);
  return new Ajv2020(COMPILE_OPTIONS).compile(schema);
}

function pathToString(path: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined): string {
  if (!path || path.length === 0) return '';
  return path.map((p) => String(typeof p === 'object' ? p.key : p)).join('.');
}

function jsonSchemaOf(schema: StandardSchemaV1): JsonSchema {
  const converter = schema['~standard'].jsonSchema;
  let json: JsonSchema | undefined;
  if (converter) {
    json = converter.input({ target: 'draft-2020-12' });
  } else if (schema['~standard'].vendor === 'zod') {
    // zod 4.0/4.1 predate Standard JSON Schema; zod is the caller's dependency, loaded only then.
    const z = require('zod') as { toJSONSchema?: (s: unknown, o?: unknown) => JsonSchema };
    json = z.toJSONSchema?.(schema, { io: 'input' });
  }
  if (!json) {
    throw new TypeError(
      `Cannot derive a JSON Schema from this ${schema['~standard'].vendor} schema; pass a plain JSON Schema instead`,
    );
  }
  const { $schema: _ignored, ...rest } = json;
  return rest;
}

function fromStandard<T>(schema: StandardSchemaV1, jsonSchema: JsonSchema): CompiledSchema<T> {
  const toResult = (
    r: Awaited<ReturnType<StandardSchemaV1['~standard']['validate']>>,
  ): ValidationResult<T> =>
    r.issues
      ? { ok: false, issues: r.issues.map((i) => ({ path: pathToString(i.path), message: i.message })) }
      : new Valid((r as { value: T }).value);
  return {
    jsonSchema,
    validate(value) {
      const r = schema['~standard'].validate(value);
      return r instanceof Promise ? r.then(toResult) : toResult(r);
    },
  };
}

function fromJsonSchema<T>(jsonSchema: JsonSchema): CompiledSchema<T> {
  let check: ValidateFunction;
  try {
    check = compileJsonSchema(jsonSchema);
  } catch (err) {
    throw new TypeError(`Invalid JSON Schema: ${(err as Error).message}`);
  }
  return {
    jsonSchema,
    validate(value) {
      if (check(value)) return new Valid(value as T);
      const issues = (check.errors ?? []).map((e) => ({
        path: e.instancePath.replace(/^\//, '').replaceAll('/', '.'),
        message: e.message ?? 'invalid',
      }));
      return { ok: false, issues };
    },
  };
}

/**
 * Compiles a schema once. `requireObject` enforces MCP's rule that tool input and output schemas
 * describe objects (`type: "object"` at the root).
 */
export function compileSchema<T = unknown>(schema: SchemaLike, requireObject = false): CompiledSchema<T> {
  const standard = isStandardSchema(schema);
  const jsonSchema = standard ? jsonSchemaOf(schema) : (schema as JsonSchema);
  if (requireObject && jsonSchema.type !== 'object') {
    throw new TypeError('Tool input and output schemas must have type "object" at the root');
  }
  return standard ? fromStandard<T>(schema, jsonSchema) : fromJsonSchema<T>(jsonSchema);
}
