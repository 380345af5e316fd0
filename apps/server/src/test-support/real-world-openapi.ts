// Real-world OpenAPI documents for the import's integration tests: where they are (installed once
// into a cache outside the clone by scripts/openapi-corpus.mjs) and how to make arguments a tool's
// input schema accepts. Not part of the public surface.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const corpusScript = fileURLToPath(new URL('../../../../scripts/openapi-corpus.mjs', import.meta.url));

/** Paths of the pinned corpora: GitHub's REST description, and the folder of APIs.guru's documents. */
export interface OpenApiCorpora {
  github: string;
  directory: string;
}

/** Installs the corpora when missing (npm registry, once) and returns their paths. */
export function openApiCorpora(): OpenApiCorpora {
  const out = execFileSync(process.execPath, [corpusScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  return JSON.parse(out) as OpenApiCorpora;
}

/** A tool's name as MCP clients expect it. */
export const TOOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

type Schema = Record<string, unknown>;

const FORMATS: Record<string, string> = {
  'date-time': '2024-01-02T03:04:05Z',
  date: '2024-01-02',
  time: '03:04:05Z',
  email: 'someone@example.com',
  uri: 'https://example.com/x',
  url: 'https://example.com/x',
  uuid: '00000000-0000-4000-8000-000000000000',
  ipv4: '192.0.2.1',
  hostname: 'example.com',
};

/**
 * A value `schema` accepts, filling only what is required, or `undefined` when this simple
 * generator cannot be sure (a `pattern`, `not`, nesting deeper than it follows). Tests call only
 * the tools it can fill, so an invalid-argument answer never counts as the gateway's fault.
 */
export function sampleValue(schema: unknown, depth = 0): unknown {
  if (depth > 8 || typeof schema !== 'object' || schema === null) return depth > 8 ? undefined : {};
  const s = schema as Schema;
  if ('const' in s) return s['const'];
  if (Array.isArray(s['enum']) && s['enum'].length > 0) return s['enum'][0];
  if ('pattern' in s || 'not' in s || 'patternProperties' in s) return undefined;
  for (const key of ['oneOf', 'anyOf'] as const) {
    const branches = s[key];
    if (Array.isArray(branches)) return branches.length === 1 ? sampleValue(branches[0], depth + 1) : undefined;
  }
  if (Array.isArray(s['allOf'])) return undefined;
  const types = Array.isArray(s['type']) ? (s['type'] as string[]) : typeof s['type'] === 'string' ? [s['type']] : [];
  const type = types.find((t) => t !== 'null') ?? (s['properties'] ? 'object' : types[0]);
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const properties = (s['properties'] ?? {}) as Record<string, unknown>;
      for (const name of (s['required'] ?? []) as string[]) {
        const value = sampleValue(properties[name] ?? {}, depth + 1);
        if (value === undefined) return undefined;
        out[name] = value;
      }
      if (typeof s['minProperties'] === 'number' && Object.keys(out).length < s['minProperties']) return undefined;
      return out;
    }
    case 'array': {
      const min = typeof s['minItems'] === 'number' ? s['minItems'] : 0;
      if (min === 0) return [];
      const item = sampleValue(s['items'] ?? {}, depth + 1);
      return item === undefined || s['uniqueItems'] === true && min > 1 ? undefined : Array.from({ length: min }, () => item);
    }
    case 'string': {
      const format = typeof s['format'] === 'string' ? FORMATS[s['format']] : undefined;
      if (format !== undefined) return format;
      const min = typeof s['minLength'] === 'number' ? s['minLength'] : 1;
      const max = typeof s['maxLength'] === 'number' ? s['maxLength'] : Math.max(min, 8);
      return max < min ? undefined : 'x'.repeat(Math.max(min, Math.min(3, max)));
    }
    case 'integer':
    case 'number': {
      if ('multipleOf' in s || 'exclusiveMinimum' in s || 'exclusiveMaximum' in s) return undefined;
      const min = typeof s['minimum'] === 'number' ? Math.ceil(s['minimum']) : 1;
      const max = typeof s['maximum'] === 'number' ? s['maximum'] : min;
      return min <= max ? min : undefined;
    }
    case 'boolean':
      return true;
    case undefined:
      return 'x';
    default:
      return undefined;
  }
}
