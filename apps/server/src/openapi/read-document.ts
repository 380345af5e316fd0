import { dereference, validate } from '@readme/openapi-parser';
import type { ParserOptions } from '@readme/openapi-parser';
import { GatewayError } from '@dynmcp/plugin';
import swagger2openapi from 'swagger2openapi';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { assertLocalRefs } from './ref-scan.js';
import { followsSpecSchema } from './spec-schema.js';

/** A resolved OpenAPI 3 document: every local `$ref` replaced by its target (cycles stay cycles). */
export interface ReadDocument {
  /** The OpenAPI 3.x object, also for a Swagger 2.0 input (upgraded). */
  api: Record<string, unknown>;
  /** `2.0`, `3.0.x` or `3.1.x`, as the input declared it. */
  specVersion: string;
  /** Swagger 2.0 only: `scheme://host` + basePath, or a relative basePath when the document has no host. */
  swaggerBase: string | undefined;
}

const invalid = (message: string) => new GatewayError('INVALID_OPENAPI', message);

// Rules the specification states but real documents often break without harm to the mapping; they
// become warnings so a usable API is not refused over them.
const LENIENT = {
  'array-without-items': 'warning',
  'duplicate-operation-id': 'warning',
  'non-optional-path-parameters': 'warning',
  'path-parameters-not-in-parameters': 'warning',
  'path-parameters-not-in-path': 'warning',
} as const;

// `resolve.external: false` keeps the resolver away from files and URLs; assertLocalRefs has
// already refused such references, this is the second lock.
const PARSER_OPTIONS: ParserOptions = {
  resolve: { external: false, file: false },
  validate: { errors: { colorize: false }, rules: { openapi: LENIENT, swagger: { ...LENIENT, 'unknown-required-schema-property': 'warning' } } },
};

function parseText(input: string, maxBytes: number): unknown {
  if (Buffer.byteLength(input) > maxBytes) {
    throw new GatewayError('OPENAPI_TOO_LARGE', `the document is larger than ${maxBytes} bytes`);
  }
  // A byte-order mark that a Windows tool left at the start (Norway's Dialogporten publishes its
  // description so) is not JSON; RFC 8259 section 8.1 lets a parser ignore it, and YAML does.
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  if (/^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw invalid(`the document is not valid JSON: ${(error as Error).message}`);
    }
  }
  try {
    // Aliases are YAML's reference bomb; real API documents use few of them.
    return parseYaml(text, { maxAliasCount: 1000, prettyErrors: true });
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const at = error.linePos?.[0];
      throw invalid(`the document is neither JSON nor valid YAML${at ? ` (line ${at.line}, column ${at.col})` : ''}: ${error.code}`);
    }
    throw invalid(`the document is neither JSON nor valid YAML: ${(error as Error).message}`);
  }
}

function versionOf(document: Record<string, unknown>): string {
  const { openapi, swagger } = document;
  if (typeof openapi === 'string') {
    if (/^3\.[01]\.\d+$/.test(openapi)) return openapi;
    throw invalid(`/openapi: version "${openapi.slice(0, 32)}" is not supported; supported are 3.0.x, 3.1.x and Swagger 2.0`);
  }
  if (swagger !== undefined) {
    if (swagger === '2.0') return '2.0';
    throw invalid(`/swagger: version ${JSON.stringify(swagger).slice(0, 32)} is not supported; supported are 3.0.x, 3.1.x and Swagger 2.0`);
  }
  throw invalid('/: not an OpenAPI document: it has neither an "openapi" nor a "swagger" field');
}

function swaggerBaseOf(document: Record<string, unknown>): string | undefined {
  const { host, basePath, schemes } = document;
  const base = typeof basePath === 'string' ? basePath : '';
  if (typeof host !== 'string' || host === '') return base === '' ? undefined : base;
  const list = Array.isArray(schemes) ? schemes : [];
  // https when the document allows it, else its first scheme; a document without schemes means the
  // scheme it was served with, which an import does not know: https is the safe guess.
  const scheme = list.includes('https') || list.length === 0 ? 'https' : String(list[0]);
  return `${scheme}://${host}${base}`;
}

async function upgradeSwagger(document: Record<string, unknown>): Promise<Record<string, unknown>> {
  try {
    const converted = await swagger2openapi.convertObj(document as never, { patch: true, warnOnly: true, resolve: false });
    return converted.openapi as unknown as Record<string, unknown>;
  } catch (error) {
    throw invalid(`the Swagger 2.0 document could not be upgraded to OpenAPI 3: ${(error as Error).message}`);
  }
}

/**
 * A finding of the OpenAPI parser without its code frame, whose line numbers count lines of a JSON
 * rendering of the document, not of the text the operator sent (YAML, or JSON laid out otherwise):
 * the finding, then the marked line's own text and the note under it, which find the place in any
 * layout. `TYPE must be string` with a frame marking `"description": 5` and "type must be string"
 * becomes `TYPE must be string (at "description": 5: type must be string)`.
 */
export function withoutCodeFrame(message: string): string {
  const lines = message.trim().split('\n');
  const summary = (lines[0] ?? '').trim();
  const marked = lines.findIndex((line) => /^>\s*\d+\s*\|/.test(line));
  if (marked < 0) return summary;
  const text = (lines[marked] as string).replace(/^>\s*\d+\s*\|\s?/, '').trim().replace(/,$/, '');
  const note = /^\s*\|\s*\^+\s*(.*)$/.exec(lines[marked + 1] ?? '')?.[1]?.trim();
  return `${summary} (at ${text}${note ? `: ${note}` : ''})`;
}

/**
 * The OpenAPI parser's validation, which resolves a copy and collects every error: slow on a large
 * document, so it runs only on a document the schema check refused, to say what is wrong. It has
 * the last word, as it had before the schema check existed: where it finds nothing to refuse (its
 * rules differ in details, and some are lenient here), the document is read.
 */
async function assertValid(document: Record<string, unknown>): Promise<void> {
  const result = await validate(structuredClone(document) as never, PARSER_OPTIONS);
  if (result.valid) return;
  const messages = result.errors.slice(0, 3).map((error) => withoutCodeFrame(error.message).slice(0, 500));
  const more = result.errors.length + result.additionalErrors - messages.length;
  throw invalid(`the document does not follow the OpenAPI specification: ${messages.join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`);
}

/**
 * Reads an OpenAPI document: parses JSON or YAML text, checks the version and every `$ref`,
 * upgrades Swagger 2.0, validates against the specification's JSON Schema and resolves the
 * references, once. CPU- and memory-hungry on hostile input, so it runs in a worker (see
 * plan-import.ts). The document (text parsed here, or the worker's own copy of an object) is
 * resolved in place.
 * @throws GatewayError `INVALID_OPENAPI` or `OPENAPI_TOO_LARGE`, the message naming the place.
 */
export async function readDocument(input: unknown, maxBytes: number): Promise<ReadDocument> {
  let document = typeof input === 'string' ? parseText(input, maxBytes) : input;
  if (typeof input !== 'string' && Buffer.byteLength(JSON.stringify(input) ?? '') > maxBytes) {
    throw new GatewayError('OPENAPI_TOO_LARGE', `the document is larger than ${maxBytes} bytes as JSON`);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw invalid('/: the document must be a JSON or YAML object');
  }
  const specVersion = versionOf(document as Record<string, unknown>);
  assertLocalRefs(document);
  const swaggerBase = specVersion === '2.0' ? swaggerBaseOf(document as Record<string, unknown>) : undefined;
  if (specVersion === '2.0') document = await upgradeSwagger(document as Record<string, unknown>);
  const upgraded = document as Record<string, unknown>;
  const declared = typeof upgraded['openapi'] === 'string' ? upgraded['openapi'] : specVersion;
  if (!followsSpecSchema(upgraded, declared)) await assertValid(upgraded);
  const api = (await dereference(upgraded as never, { ...PARSER_OPTIONS, dereference: { circular: true } })) as unknown;
  return { api: api as Record<string, unknown>, specVersion, swaggerBase };
}
