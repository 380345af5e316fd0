import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { CliError, EXIT } from '../cli-error.js';
import { contextOf, type CliIo, type CommandContext } from '../context.js';
import { definitionDocument, listDefinitionFiles, readDefinitions, type Kind } from '../definition-files.js';
import { batchOf, diffLines, fetchCurrent, makePlan, type Plan, type PlannedChange } from '../plan.js';

const MARKS = { create: '+', update: '~', delete: '-', unchanged: '=' } as const;
const STYLES = { create: 'green', update: 'yellow', delete: 'red', unchanged: 'dim' } as const;

async function planFor(context: CommandContext, path: string, prune: boolean): Promise<Plan> {
  const progress = context.out.progress('reading', listDefinitionFiles(path).length);
  const files = readDefinitions(path, () => progress.tick());
  progress.done();
  return makePlan(files, await fetchCurrent(context.admin()), prune);
}

const counts = (plan: Plan) => {
  const count = (action: PlannedChange['action']) => plan.changes.filter((change) => change.action === action).length;
  return { created: count('create'), updated: count('update'), deleted: count('delete'), unchanged: count('unchanged') };
};

const refs = (plan: Plan, action: PlannedChange['action']) =>
  plan.changes.filter((change) => change.action === action).map(({ kind, id }) => ({ kind, id }));

function planJson(plan: Plan) {
  return {
    created: refs(plan, 'create'),
    updated: refs(plan, 'update'),
    deleted: refs(plan, 'delete'),
    unchanged: refs(plan, 'unchanged'),
    untracked: plan.untracked,
  };
}

function printChanges(context: CommandContext, plan: Plan, withDiff: boolean) {
  const { out } = context;
  for (const change of plan.changes) {
    if (change.action === 'unchanged') continue;
    out.line(out.paint(STYLES[change.action], `${MARKS[change.action]} ${change.kind} ${change.id} (${change.action})`));
    if (!withDiff) continue;
    for (const [mark, text] of diffLines(change.current, change.action === 'delete' ? undefined : change.wanted)) {
      const line = `    ${mark} ${text}`;
      out.line(mark === '+' ? out.paint('green', line) : mark === '-' ? out.paint('red', line) : out.paint('dim', line));
    }
  }
  if (plan.untracked.length > 0) {
    out.note(`${plan.untracked.length} record(s) on the gateway are not in the files (--prune deletes them): ${plan.untracked.map(({ kind, id }) => `${kind} ${id}`).join(', ')}`);
  }
}

async function diff(context: CommandContext, options: { file: string; prune?: boolean }): Promise<number> {
  const plan = await planFor(context, options.file, options.prune === true);
  const { created, updated, deleted } = counts(plan);
  const differs = created + updated + deleted > 0;
  if (context.out.format === 'json') context.out.json({ differs, ...planJson(plan) });
  else {
    printChanges(context, plan, true);
    context.out.line(differs ? `${created} to create, ${updated} to update, ${deleted} to delete` : 'no differences: the gateway matches the files');
  }
  return differs ? EXIT.negative : EXIT.ok;
}

/** Asks on a terminal; elsewhere a delete needs `--yes`, so a script never prunes by accident. */
async function confirmDeletes(context: CommandContext, plan: Plan, yes: boolean) {
  const deletes = refs(plan, 'delete');
  if (deletes.length === 0 || yes) return;
  if (context.io.stdin.isTTY !== true || context.io.stderr.isTTY !== true) {
    throw new CliError(`--prune would delete ${deletes.length} record(s) (${deletes.map(({ kind, id }) => `${kind} ${id}`).join(', ')}); add --yes to confirm when not on a terminal; nothing was changed`);
  }
  const prompt = createInterface({ input: context.io.stdin, output: context.io.stderr as NodeJS.WritableStream });
  try {
    const answer = await prompt.question(`Delete ${deletes.length} record(s) not in the files? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('not confirmed; nothing was changed');
  } finally {
    prompt.close();
  }
}

async function apply(context: CommandContext, options: { file: string; dryRun?: boolean; prune?: boolean; yes?: boolean }) {
  const plan = await planFor(context, options.file, options.prune === true);
  const summary = counts(plan);
  const operations = batchOf(plan);
  const { out } = context;
  if (operations.length === 0 || options.dryRun === true) {
    if (out.format === 'json') return out.json({ dry_run: options.dryRun === true, written: false, ...planJson(plan) });
    printChanges(context, plan, false);
    if (operations.length === 0) out.line(`nothing to change: the gateway matches the files (${summary.unchanged} unchanged)`);
    else out.line(`dry run, nothing written: would create ${summary.created}, update ${summary.updated}, delete ${summary.deleted} (${summary.unchanged} unchanged)`);
    return;
  }
  if (out.format === 'table') printChanges(context, plan, false);
  await confirmDeletes(context, plan, options.yes === true);
  const { data } = await context.admin().request<{ revision: number; written: boolean; applied?: boolean }>('POST', '/admin/batch', { operations });
  if (out.format === 'json') return out.json({ dry_run: false, written: data.written, revision: data.revision, applied: data.applied, ...planJson(plan) });
  out.line(`applied at revision ${data.revision}: ${summary.created} created, ${summary.updated} updated, ${summary.deleted} deleted, ${summary.unchanged} unchanged`);
}

/** A file name for an id: ids may hold ':' (not allowed in Windows file names), so it is percent-encoded. */
const fileNameOf = (id: string) => `${id.replace(/%/g, '%25').replace(/:/g, '%3A')}.yaml`;

async function exportAll(context: CommandContext, dir: string) {
  const current = await fetchCurrent(context.admin());
  const folders: Record<Kind, string> = { tool: 'tools', instance: 'instances' };
  const total = current.tool.size + current.instance.size;
  const progress = context.out.progress('writing', total);
  const written: string[] = [];
  for (const kind of ['tool', 'instance'] as const) {
    const folder = join(dir, folders[kind]);
    mkdirSync(folder, { recursive: true });
    for (const [id, record] of [...current[kind]].sort(([a], [b]) => a.localeCompare(b))) {
      const path = join(folder, fileNameOf(id));
      writeFileSync(path, stringify(definitionDocument(kind, record), { lineWidth: 0 }));
      written.push(path);
      progress.tick();
    }
  }
  progress.done();
  if (context.out.format === 'json') return context.out.json({ files: written });
  context.out.line(`wrote ${current.tool.size} tool(s) and ${current.instance.size} instance(s) to ${dir}`);
}

/** `apply`, `diff`, `export`: definitions kept in files, brought in line with a gateway. */
export function registerSyncCommands(program: Command, io: CliIo, run: (work: () => Promise<number | void>) => Promise<void>) {
  program
    .command('apply')
    .description('bring the gateway in line with definition files, in one atomic write; only what differs is written')
    .requiredOption('-f, --file <path>', 'a YAML or JSON file, or a folder of them')
    .option('--dry-run', 'print what would change, write nothing')
    .option('--prune', 'also delete tools and instances the files do not define (asks first)')
    .option('-y, --yes', 'do not ask before deleting (needed with --prune when not on a terminal)')
    .action((options: { file: string; dryRun?: boolean; prune?: boolean; yes?: boolean }, command: Command) =>
      run(() => apply(contextOf(command, io), options)),
    );
  program
    .command('diff')
    .description('show how the gateway differs from definition files; exit 0 when it matches, 1 when it differs')
    .requiredOption('-f, --file <path>', 'a YAML or JSON file, or a folder of them')
    .option('--prune', 'count records the files do not define as differences')
    .action((options: { file: string; prune?: boolean }, command: Command) => run(() => diff(contextOf(command, io), options)));
  program
    .command('export')
    .argument('<dir>', 'folder to write into (created when absent); files of records already deleted are not removed')
    .description('write every tool and instance as a YAML file, tools/<id>.yaml and instances/<id>.yaml')
    .action((dir: string, _options, command: Command) => run(() => exportAll(contextOf(command, io), dir)));
}
