import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { isMap, isSeq, LineCounter, parseAllDocuments, type Node } from 'yaml';
import { CliError } from './cli-error.js';

/** The record kinds of a definitions file, and the admin API's name of each (`tds`, `ids`). */
export const KINDS = { tool: 'tds', instance: 'ids' } as const;
export type Kind = keyof typeof KINDS;

/** One definition read from a file: `kind`, and the definition exactly as the admin API takes it. */
export interface FileDefinition {
  kind: Kind;
  id: string;
  /** The definition without `kind`, `id` included. */
  value: Record<string, unknown>;
  /** `file:line` of the document, for messages. */
  where: string;
}

/**
 * A record as a definitions file holds it, as `get` prints it and `export` writes it: `kind`, then
 * `id`, then the definition's other fields in the gateway's order (a record written without `id` in
 * its body comes back with it last).
 */
export function definitionDocument(kind: Kind, record: Record<string, unknown>): Record<string, unknown> {
  const { id, ...definition } = record;
  return { kind, id, ...definition };
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** The definition files of `path`: the file itself, or every .yaml/.yml/.json file under the folder, in name order. */
export function listDefinitionFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new CliError(`${path}: no such file or folder`);
  }
  if (!stat.isDirectory()) return [path];
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue;
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (EXTENSIONS.has(extname(name).toLowerCase())) found.push(full);
    }
  };
  walk(path);
  return found;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The definitions of one file: YAML with any number of `---` documents, or JSON (which YAML
 * reads too, with the same line positions). A document may also be a list of definitions. A
 * syntax error, a duplicate key or a document that is not a definition is a {@link CliError}
 * naming `file:line:column`.
 */
export function readDefinitionFile(file: string): FileDefinition[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`${file}: ${(error as Error).message}`);
  }
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  const definitions: FileDefinition[] = [];
  for (const document of Array.isArray(documents) ? documents : [documents]) {
    const error = document.errors[0];
    if (error !== undefined) throw new CliError(`${at(error.pos[0])}: ${error.message.split('\n')[0]}`);
    const contents = document.contents as Node | null;
    if (contents === null) continue;
    const nodes = isSeq(contents) ? (contents.items as Node[]) : [contents];
    for (const node of nodes) {
      const where = at(node.range?.[0] ?? 0);
      if (!isMap(node)) throw new CliError(`${where}: expected a definition: a mapping with kind (tool or instance) and id`);
      const value = node.toJSON() as unknown;
      if (!isRecord(value)) throw new CliError(`${where}: expected a definition: a mapping with kind (tool or instance) and id`);
      const { kind, ...definition } = value;
      if (kind !== 'tool' && kind !== 'instance') {
        throw new CliError(`${where}: kind must be "tool" or "instance", got ${kind === undefined ? 'none' : JSON.stringify(kind)}`);
      }
      if (typeof definition.id !== 'string' || definition.id === '') throw new CliError(`${where}: id is required (a non-empty string)`);
      definitions.push({ kind, id: definition.id, value: definition, where });
    }
  }
  return definitions;
}

/** Every definition under `path`; the same kind and id twice is an error naming both places. */
export function readDefinitions(path: string, onFile: () => void = () => {}): FileDefinition[] {
  const all: FileDefinition[] = [];
  const seen = new Map<string, string>();
  for (const file of listDefinitionFiles(path)) {
    for (const definition of readDefinitionFile(file)) {
      const key = `${definition.kind}/${definition.id}`;
      const earlier = seen.get(key);
      if (earlier !== undefined) throw new CliError(`${definition.where}: ${definition.kind} "${definition.id}" is already defined at ${earlier}`);
      seen.set(key, definition.where);
      all.push(definition);
    }
    onFile();
  }
  return all;
}
