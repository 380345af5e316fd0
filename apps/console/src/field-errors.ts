// Puts an error message beside the field it concerns. The admin API names fields in its messages,
// either as a JSON Pointer (`/tds_ext_info/method must match …`, from the schema check) or as a
// dotted path (`tds_ext_info.domain: only http and https are allowed`, from the write-time checks);
// several problems are joined with "; ".
import type { SchemaProblem } from './schema-check.js';

/** Field names by the top-level property (or nested well-known key) a message or pointer names. */
export type FieldMap = Record<string, string>;

/** The field a JSON Pointer points into, or undefined. */
export function fieldOfPointer(pointer: string, fields: FieldMap): string | undefined {
  const first = pointer.split('/').filter((part) => part !== '')[0];
  return first === undefined ? undefined : fields[first];
}

/** Splits an API error message into the fields it names; what names none goes under `''`. */
export function errorsByField(message: string, fields: FieldMap): Record<string, string[]> {
  const detail = message.replace(/^invalid (tool|instance) definition: /, '');
  const out: Record<string, string[]> = {};
  for (const part of detail.split('; ')) {
    const field = fieldOfText(part, fields) ?? '';
    (out[field] ??= []).push(field === '' ? message : part);
  }
  // A message split only to fall back whole is shown once.
  if (out[''] !== undefined) out[''] = [message];
  return out;
}

function fieldOfText(text: string, fields: FieldMap): string | undefined {
  const required = /must have property "([^"]+)"/.exec(text);
  if (required !== null && text.startsWith('(root)')) return fields[required[1] as string];
  const named = /^\/?([A-Za-z_]+)/.exec(text.replace(/^\(root\)\s*/, ''));
  if (named !== null && fields[named[1] as string] !== undefined) return fields[named[1] as string];
  for (const [name, field] of Object.entries(fields)) {
    if (new RegExp(`(^|[\\s"(/])${name}([./:\\s"]|$)`).test(text)) return field;
  }
  return undefined;
}

/** Schema problems grouped by field, as "<pointer> <message>" lines. */
export function problemsByField(problems: SchemaProblem[], fields: FieldMap, prefix = ''): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const problem of problems) {
    const field = fieldOfPointer(problem.pointer, fields) ?? '';
    (out[field] ??= []).push(`${prefix}${problem.pointer || '(root)'} ${problem.message}`);
  }
  return out;
}

export function mergeErrors(...all: Array<Record<string, string[]>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const errors of all) for (const [field, list] of Object.entries(errors)) (out[field] ??= []).push(...list);
  return out;
}
