import { stringify } from 'yaml';
import type { AdminClient } from './admin-client.js';
import { KINDS, type FileDefinition, type Kind } from './definition-files.js';

/** A record the files and the gateway disagree on, or agree on. */
export interface PlannedChange {
  action: 'create' | 'update' | 'delete' | 'unchanged';
  kind: Kind;
  id: string;
  /** The gateway's definition (update, delete, unchanged). */
  current?: Record<string, unknown>;
  /** The files' definition (create, update, unchanged). */
  wanted?: Record<string, unknown>;
  where?: string;
}

/** What applying the files would change, and the gateway's records the files do not name. */
export interface Plan {
  changes: PlannedChange[];
  /** Records only on the gateway, when not pruning. */
  untracked: Array<{ kind: Kind; id: string }>;
}

/** JSON with the keys of every object sorted: two definitions are equal when their canonical forms are. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/** The gateway's tools and instances, by kind, then id. */
export async function fetchCurrent(client: AdminClient): Promise<Record<Kind, Map<string, Record<string, unknown>>>> {
  const [tools, instances] = await Promise.all([
    client.request<Array<Record<string, unknown>>>('GET', '/admin/tds'),
    client.request<Array<Record<string, unknown>>>('GET', '/admin/ids'),
  ]);
  const byId = (records: Array<Record<string, unknown>>) => new Map(records.map((record) => [String(record.id), record]));
  return { tool: byId(tools.data), instance: byId(instances.data) };
}

/** Compares the files' definitions with the gateway's, by canonical JSON; `prune` plans deletes of records the files leave out. */
export function makePlan(files: readonly FileDefinition[], current: Record<Kind, Map<string, Record<string, unknown>>>, prune: boolean): Plan {
  const changes: PlannedChange[] = [];
  const named = new Set<string>();
  for (const file of files) {
    named.add(`${file.kind}/${file.id}`);
    const existing = current[file.kind].get(file.id);
    const base = { kind: file.kind, id: file.id, wanted: file.value, where: file.where };
    if (existing === undefined) changes.push({ action: 'create', ...base });
    else if (canonicalJson(existing) === canonicalJson(file.value)) changes.push({ action: 'unchanged', current: existing, ...base });
    else changes.push({ action: 'update', current: existing, ...base });
  }
  const untracked: Plan['untracked'] = [];
  for (const kind of Object.keys(KINDS) as Kind[]) {
    for (const [id, existing] of current[kind]) {
      if (named.has(`${kind}/${id}`)) continue;
      if (prune) changes.push({ action: 'delete', kind, id, current: existing });
      else untracked.push({ kind, id });
    }
  }
  return { changes, untracked };
}

/** The batch of `POST /admin/batch` that carries out a plan; a create only if the record is still absent. */
export function batchOf(plan: Plan) {
  return plan.changes
    .filter((change) => change.action !== 'unchanged')
    .map((change) =>
      change.action === 'delete'
        ? { op: 'delete', kind: KINDS[change.kind], id: change.id }
        : { op: 'put', kind: KINDS[change.kind], id: change.id, value: change.wanted, ...(change.action === 'create' ? { if_revision: 0 } : {}) },
    );
}

/** A definition as YAML with sorted keys, so a diff shows only what changed. */
function yamlOf(value: Record<string, unknown> | undefined): string[] {
  if (value === undefined) return [];
  return stringify(JSON.parse(canonicalJson(value)), { lineWidth: 0 }).trimEnd().split('\n');
}

/**
 * A line diff of two definitions' YAML (longest common subsequence): `-` lines only in the
 * gateway's, `+` lines only in the files', two lines of context around each change.
 */
export function diffLines(before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): Array<[' ' | '-' | '+', string]> {
  const a = yamlOf(before);
  const b = yamlOf(after);
  const lengths: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lengths[i]![j] = a[i] === b[j] ? lengths[i + 1]![j + 1]! + 1 : Math.max(lengths[i + 1]![j]!, lengths[i]![j + 1]!);
    }
  }
  const all: Array<[' ' | '-' | '+', string]> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      all.push([' ', a[i]!]);
      i++;
      j++;
    } else if (i < a.length && (j >= b.length || lengths[i + 1]![j]! >= lengths[i]![j + 1]!)) all.push(['-', a[i++]!]);
    else all.push(['+', b[j++]!]);
  }
  const CONTEXT = 2;
  return all.filter(([mark], index) => {
    if (mark !== ' ') return true;
    for (let k = Math.max(0, index - CONTEXT); k <= Math.min(all.length - 1, index + CONTEXT); k++) if (all[k]![0] !== ' ') return true;
    return false;
  });
}
