import type { ImportFilters } from './import-options.js';

/**
 * Matches `path` against a glob: `**` stands for any characters, `*` for any characters but `/`,
 * everything else for itself. Dynamic programming over both strings, so a glob with many stars
 * costs at most length × length steps (no backtracking regular expression).
 */
export function globMatches(glob: string, path: string): boolean {
  const tokens: string[] = [];
  for (let index = 0; index < glob.length; index++) {
    if (glob.startsWith('**', index)) {
      tokens.push('**');
      index++;
    } else tokens.push(glob[index] as string);
  }
  // row[j]: tokens so far match path.slice(0, j).
  let row = new Array<boolean>(path.length + 1).fill(false);
  row[0] = true;
  for (const token of tokens) {
    const next = new Array<boolean>(path.length + 1).fill(false);
    if (token === '*' || token === '**') {
      next[0] = row[0] as boolean;
      for (let j = 1; j <= path.length; j++) {
        next[j] = (row[j] as boolean) || ((next[j - 1] as boolean) && (token === '**' || path[j - 1] !== '/'));
      }
    } else {
      for (let j = 1; j <= path.length; j++) next[j] = (row[j - 1] as boolean) && path[j - 1] === token;
    }
    row = next;
  }
  return row[path.length] as boolean;
}

/** What a filter looks at in one operation. */
export interface FilterSubject {
  path: string;
  operationId: string | undefined;
  tags: readonly string[];
}

function matchesField(filters: ImportFilters, subject: FilterSubject): Record<'tags' | 'operation_ids' | 'paths', boolean | undefined> {
  return {
    tags: filters.tags === undefined ? undefined : subject.tags.some((tag) => filters.tags?.includes(tag)),
    operation_ids: filters.operation_ids === undefined ? undefined : subject.operationId !== undefined && filters.operation_ids.includes(subject.operationId),
    paths: filters.paths === undefined ? undefined : filters.paths.some((glob) => globMatches(glob, subject.path)),
  };
}

/**
 * Why the filters leave the operation out, or `undefined` when they keep it. `include`: every
 * field given must match (any entry of it); `exclude`: any field matching excludes.
 */
export function filterReason(include: ImportFilters | undefined, exclude: ImportFilters | undefined, subject: FilterSubject): string | undefined {
  if (include !== undefined) {
    const failed = Object.entries(matchesField(include, subject)).find(([, matched]) => matched === false);
    if (failed !== undefined) return `not selected by include.${failed[0]}`;
  }
  if (exclude !== undefined) {
    const hit = Object.entries(matchesField(exclude, subject)).find(([, matched]) => matched === true);
    if (hit !== undefined) return `excluded by exclude.${hit[0]}`;
  }
  return undefined;
}
