import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import { contextOf, type CliIo, type CommandContext } from '../context.js';

/** A stored credential as `GET /admin/credentials` lists it: never its value. */
interface CredentialListing {
  principal: string;
  name: string;
  key_id: string;
  created_at: string;
  updated_at: string;
  revision: number;
}

/** What `POST /admin/credentials/rotate` did. */
interface RotationResult {
  key_id: string;
  rotated: number;
  current: number;
  changed: string[];
  unreadable: string[];
  revision?: number;
}

const path = (principal: string, name?: string) =>
  `/admin/credentials/${encodeURIComponent(principal)}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

async function list(context: CommandContext, principal: string | undefined) {
  const { data } = await context.admin().request<CredentialListing[]>('GET', principal === undefined ? '/admin/credentials' : path(principal));
  if (context.out.format === 'json') return context.out.json(data);
  if (data.length === 0) return context.out.note(principal === undefined ? 'no credentials' : `no credentials for ${principal}`);
  context.out.table(
    ['PRINCIPAL', 'NAME', 'KEY ID', 'UPDATED', 'REVISION'],
    data.map((entry) => [entry.principal, entry.name, entry.key_id, entry.updated_at, String(entry.revision)]),
  );
}

/**
 * The value to store: the file's content, or what arrives on stdin, without one trailing line
 * break (what `echo` and most editors add). Never an argument: those end up in shell history and
 * in every process listing.
 */
async function readValue(io: CliIo, file: string | undefined): Promise<string> {
  let text: string;
  if (file !== undefined) {
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new CliError(`cannot read --value-file ${file}: ${(error as Error).message}`);
    }
  } else {
    if (io.stdin.isTTY === true) {
      throw new CliError('pipe the value on stdin (printf %s "$TOKEN" | dynmcp credentials set <principal> <name>) or name a file with --value-file');
    }
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    text = Buffer.concat(chunks).toString('utf8');
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new CliError(file === undefined ? 'nothing arrived on stdin: pipe the value in' : `--value-file ${file} is empty`);
  return value;
}

async function set(context: CommandContext, principal: string, name: string, file: string | undefined) {
  const value = await readValue(context.io, file);
  const { data } = await context.admin().request<CredentialListing>('PUT', path(principal, name), { value });
  if (context.out.format === 'json') return context.out.json(data);
  context.out.line(`stored ${name} for ${principal} (revision ${data.revision}, key ${data.key_id})`);
}

async function remove(context: CommandContext, principal: string, name: string) {
  const { meta } = await context.admin().request<null>('DELETE', path(principal, name));
  if (context.out.format === 'json') return context.out.json({ deleted: { principal, name }, ...meta });
  context.out.line(`deleted ${name} of ${principal} (revision ${String(meta?.revision ?? '-')})`);
}

/** Exit 1 when something was left for a second run: records changed meanwhile, or unreadable ones. */
async function rotate(context: CommandContext): Promise<number> {
  const { data } = await context.admin().request<RotationResult>('POST', '/admin/credentials/rotate');
  const leftOver = data.changed.length + data.unreadable.length > 0 ? EXIT.negative : EXIT.ok;
  if (context.out.format === 'json') {
    context.out.json(data);
    return leftOver;
  }
  context.out.line(`${data.rotated} re-encrypted, ${data.current} already under key ${data.key_id}`);
  if (data.changed.length > 0) context.out.line(context.out.paint('yellow', `changed meanwhile, run again: ${data.changed.join(', ')}`));
  if (data.unreadable.length > 0) context.out.line(context.out.paint('red', `under no configured key, left alone: ${data.unreadable.join(', ')}`));
  return leftOver;
}

/** `credentials list|set|delete|rotate`: the per-principal credential store (`/admin/credentials`). */
export function registerCredentialCommands(program: Command, io: CliIo, run: (work: () => Promise<number | void>) => Promise<void>) {
  const group = program.command('credentials').description('per-principal upstream credentials: list, set, delete, rotate the key');
  group
    .command('list')
    .argument('[principal]')
    .description('stored credentials (all, or one principal\'s): principal, name, key id, last update; never a value')
    .action((principal: string | undefined, _options, command: Command) => run(() => list(contextOf(command, io), principal)));
  group
    .command('set')
    .argument('<principal>')
    .argument('<name>')
    .option('--value-file <path>', 'read the value from this file instead of stdin')
    .description('store or replace a value, read from stdin (or --value-file), never from the command line')
    .action((principal: string, name: string, options: { valueFile?: string }, command: Command) =>
      run(() => set(contextOf(command, io), principal, name, options.valueFile)),
    );
  group
    .command('delete')
    .argument('<principal>')
    .argument('<name>')
    .description('delete one stored credential')
    .action((principal: string, name: string, _options, command: Command) => run(() => remove(contextOf(command, io), principal, name)));
  group
    .command('rotate')
    .description('re-encrypt every credential under a previous key with the current credentials.key; exit 1 when some are left')
    .action((_options, command: Command) => run(() => rotate(contextOf(command, io))));
}
