import type { Command } from 'commander';
import { stringify } from 'yaml';
import { contextOf, type CliIo, type CommandContext } from '../context.js';
import { definitionDocument, KINDS, type Kind } from '../definition-files.js';

interface ReplicaStatus {
  id: string;
  host: string;
  version: string;
  applied_revision: number | null;
  connected: boolean;
  last_sync_at: string | null;
  lag: number | null;
}

interface GatewayStatus {
  store_revision: number | null;
  replica_id: string;
  replicas: ReplicaStatus[];
  note?: string;
}

const text = (value: unknown) => (value === null || value === undefined ? '-' : String(value));

async function status(context: CommandContext) {
  const { data } = await context.admin().request<GatewayStatus>('GET', '/admin/status');
  const { out } = context;
  if (out.format === 'json') return out.json(data);
  out.line(`gateway ${context.connection().url}, store revision ${text(data.store_revision)}`);
  if (data.note !== undefined) out.line(out.paint('yellow', `note: ${data.note}`));
  out.table(
    ['REPLICA', 'HOST', 'VERSION', 'APPLIED', 'LAG', 'CONNECTED', 'LAST SYNC'],
    data.replicas.map((replica) => [
      `${replica.id.slice(0, 8)}${replica.id === data.replica_id ? '*' : ''}`,
      replica.host,
      replica.version,
      text(replica.applied_revision),
      replica.lag === null ? '-' : replica.lag === 0 ? '0' : out.paint('yellow', String(replica.lag)),
      replica.connected ? 'yes' : out.paint('red', 'no'),
      text(replica.last_sync_at),
    ]),
  );
}

function summaryRow(kind: Kind, record: Record<string, unknown>): string[] {
  if (kind === 'instance') {
    const toolIds = Array.isArray(record.tool_ids) ? record.tool_ids : [];
    return [String(record.id), text(record.name), String(toolIds.length)];
  }
  const ext = (record.tds_ext_info ?? {}) as Record<string, unknown>;
  const target = ext.domain === undefined ? '-' : `${text(ext.method)} ${text(ext.domain)}${text(ext.path ?? '')}`;
  return [String(record.id), text(record.name), text(record.kind ?? 'http'), target];
}

async function list(context: CommandContext, kind: Kind) {
  const { data } = await context.admin().request<Array<Record<string, unknown>>>('GET', `/admin/${KINDS[kind]}`);
  const records = [...data].sort((a, b) => String(a.id).localeCompare(String(b.id)));
  if (context.out.format === 'json') return context.out.json(records);
  if (records.length === 0) return context.out.note(`no ${kind}s`);
  const header = kind === 'tool' ? ['ID', 'NAME', 'KIND', 'TARGET'] : ['ID', 'NAME', 'TOOLS'];
  context.out.table(header, records.map((record) => summaryRow(kind, record)));
}

/** Prints one record as a definitions file holds it (`kind`, then `id`), so the output can be edited and applied. */
async function get(context: CommandContext, kind: Kind, id: string) {
  const { data, meta } = await context.admin().request<Record<string, unknown>>('GET', `/admin/${KINDS[kind]}/${encodeURIComponent(id)}`);
  const document = definitionDocument(kind, data);
  if (context.out.format === 'json') return context.out.json(document);
  const facts = [`revision ${text(meta?.revision)}`];
  if (Array.isArray(meta?.used_by)) facts.push(`used by: ${meta.used_by.join(', ') || 'no instance'}`);
  if (Array.isArray(meta?.missing_tool_ids) && meta.missing_tool_ids.length > 0) facts.push(`missing tools: ${meta.missing_tool_ids.join(', ')}`);
  context.out.line(context.out.paint('dim', `# ${facts.join('; ')}`));
  context.out.line(stringify(document, { lineWidth: 0 }).trimEnd());
}

async function remove(context: CommandContext, kind: Kind, id: string) {
  const { meta } = await context.admin().request<null>('DELETE', `/admin/${KINDS[kind]}/${encodeURIComponent(id)}`);
  if (context.out.format === 'json') return context.out.json({ deleted: { kind, id }, ...meta });
  const users = Array.isArray(meta?.used_by) && meta.used_by.length > 0 ? `; instances that listed it: ${meta.used_by.join(', ')}` : '';
  context.out.line(`deleted ${kind} ${id} (revision ${text(meta?.revision)})${users}`);
}

/** `status`, `tools list|get|delete`, `instances list|get|delete`. */
export function registerRecordCommands(program: Command, io: CliIo, run: (work: () => Promise<void>) => Promise<void>) {
  program
    .command('status')
    .description('the gateway replicas, the store revision and how far behind each replica is')
    .action((_options, command: Command) => run(() => status(contextOf(command, io))));

  for (const [kind, plural] of [['tool', 'tools'], ['instance', 'instances']] as const) {
    const group = program.command(plural).description(`list, show or delete ${plural}`);
    group
      .command('list')
      .description(`every ${kind}, by id`)
      .action((_options, command: Command) => run(() => list(contextOf(command, io), kind)));
    group
      .command('get')
      .argument('<id>')
      .description(`one ${kind} as a definitions file holds it (kind and definition), with its revision`)
      .action((id: string, _options, command: Command) => run(() => get(contextOf(command, io), kind, id)));
    group
      .command('delete')
      .argument('<id>')
      .description(`delete one ${kind}`)
      .action((id: string, _options, command: Command) => run(() => remove(contextOf(command, io), kind, id)));
  }
}
