import { readFileSync } from 'node:fs';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { Command } from 'commander';
import { unreachable } from '../admin-client.js';
import { CliError, EXIT } from '../cli-error.js';
import { contextOf, type CliIo, type CommandContext } from '../context.js';
import type { Output } from '../output.js';

interface ImportOptions {
  instance: string;
  name?: string;
  prefix?: string;
  baseUrl?: string;
  auth: string[];
  dryRun?: boolean;
}

interface ImportPlan {
  revision?: number;
  instance_id: string;
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: string[];
  skipped: Array<{ operation: string; reason: string }>;
  warnings: string[];
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** The document's text: a URL is fetched here, by the CLI, so the gateway never fetches for an admin. */
async function readDocument(source: string): Promise<string> {
  if (/^https?:\/\//i.test(source)) {
    let response: Response;
    try {
      response = await fetch(source, { signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      throw new CliError(`cannot fetch ${source}: ${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message}`);
    }
    if (!response.ok) throw new CliError(`cannot fetch ${source}: HTTP ${response.status}`);
    return response.text();
  }
  try {
    return readFileSync(source, 'utf8');
  } catch (error) {
    throw new CliError(`${source}: ${(error as Error).message}`);
  }
}

function authOf(pairs: readonly string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const auth: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new CliError(`--auth takes scheme=template, e.g. --auth 'bearer=Bearer \${env:TOKEN}', not "${pair}"`);
    auth[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return auth;
}

async function importOpenApi(context: CommandContext, source: string, options: ImportOptions) {
  const body = {
    // As text: the gateway reads JSON and YAML alike, and reports positions in the text it was given.
    document: await readDocument(source),
    instance_id: options.instance,
    instance_name: options.name,
    tool_id_prefix: options.prefix,
    base_url: options.baseUrl,
    auth: authOf(options.auth),
    dry_run: options.dryRun === true,
  };
  const { data } = await context.admin().request<ImportPlan>('POST', '/admin/import/openapi', body);
  const { out } = context;
  if (out.format === 'json') return out.json(data);
  const rows: string[][] = [];
  for (const [action, ids] of [['created', data.created], ['updated', data.updated], ['deleted', data.deleted], ['unchanged', data.unchanged]] as const) {
    for (const id of ids) rows.push([action, id]);
  }
  if (rows.length > 0) out.table(['ACTION', 'TOOL'], rows);
  for (const skipped of data.skipped) out.line(out.paint('yellow', `skipped ${skipped.operation}: ${skipped.reason}`));
  for (const warning of data.warnings) out.line(out.paint('yellow', `warning: ${warning}`));
  const what = `${data.created.length} created, ${data.updated.length} updated, ${data.deleted.length} deleted, ${data.unchanged.length} unchanged, ${data.skipped.length} skipped`;
  out.line(options.dryRun === true ? `dry run, nothing written: instance ${data.instance_id} would have ${what}` : `instance ${data.instance_id}: ${what}${data.revision === undefined ? '' : ` (revision ${data.revision})`}`);
}

/** Sets `path` (dotted: `query.q`) in `target`, creating objects on the way. */
function setPath(target: Record<string, unknown>, path: string[], value: unknown) {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}

/** The JSON Schema type the tool's input schema declares at `path`, if it says. */
function typeAt(schema: unknown, path: readonly string[]): unknown {
  let node = schema as { properties?: Record<string, unknown>; type?: unknown } | undefined;
  for (const key of path) node = node?.properties?.[key] as typeof node;
  return node?.type;
}

/**
 * The call's arguments: `--json` first, then each `--arg key=value` over it (`a.b=…` nests). A
 * value is JSON (number, boolean, object…) unless the tool's schema declares a string there or it
 * does not parse as JSON: `--arg q=42` sends the string "42" to a string parameter.
 */
function argumentsOf(json: string | undefined, pairs: readonly string[], inputSchema: unknown): Record<string, unknown> {
  let args: Record<string, unknown> = {};
  if (json !== undefined) {
    try {
      args = JSON.parse(json) as Record<string, unknown>;
    } catch (error) {
      throw new CliError(`--json is not JSON: ${(error as Error).message}`);
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new CliError('--json must be a JSON object of arguments');
  }
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new CliError(`--arg takes key=value, not "${pair}"`);
    const path = pair.slice(0, equals).split('.');
    const raw = pair.slice(equals + 1);
    let value: unknown = raw;
    if (typeAt(inputSchema, path) !== 'string') {
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
    }
    setPath(args, path, value);
  }
  return args;
}

interface CallResult {
  content?: Array<{ type: string; text?: string }>;
  structuredContent?: unknown;
  isError?: boolean;
}

// A gateway that takes longer to end a session than this is not worth a hung CLI: it drops the
// session itself once idle (mcp.sessionIdleTimeoutMs).
const END_SESSION_MS = 5_000;

/**
 * Ends the 2025-era MCP session the call opened, with the HTTP `DELETE` of the Streamable HTTP
 * transport: `close()` only drops the connection, and the gateway would keep the session, counted
 * against the caller's `mcp.maxSessionsPerPrincipal`, until it idles out; a script calling in a
 * loop would soon be refused. Without a session (a stateless instance, the 2026-07-28 protocol, a
 * connect that failed) there is nothing to end. The call's outcome is decided by then, so a
 * failure here is only a note on stderr.
 */
async function endSession(transport: StreamableHTTPClientTransport, out: Output): Promise<void> {
  const session = transport.sessionId;
  if (session === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, END_SESSION_MS, 'late')));
  try {
    // When late, the `close()` that follows aborts the request.
    const ended = await Promise.race([transport.terminateSession(), late]);
    if (ended === 'late') out.note(`note: the gateway did not end MCP session ${session} within ${END_SESSION_MS / 1000} s; it drops it once idle`);
  } catch (error) {
    out.note(`note: could not end MCP session ${session} (${(error as Error).message}); the gateway drops it once idle`);
  } finally {
    clearTimeout(timer);
  }
}

async function call(context: CommandContext, instance: string, tool: string, options: { arg: string[]; json?: string }): Promise<number> {
  const connection = context.connection();
  const headers: Record<string, string> = connection.key === undefined ? {} : { authorization: `Bearer ${connection.key}` };
  const endpoint = new URL(`${connection.url}/mcp/${encodeURIComponent(instance)}`);
  const client = new Client({ name: 'dynmcp-cli', version: '0.1.0' });
  const transport = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers } });
  try {
    try {
      await client.connect(transport);
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      if (cause !== undefined || (error as Error).name === 'TypeError') throw unreachable(connection.url, error);
      throw new CliError(`cannot open an MCP session on ${endpoint.href}: ${(error as Error).message}`);
    }
    const { tools } = await client.listTools();
    const found = tools.find((candidate) => candidate.name === tool);
    if (found === undefined) {
      throw new CliError(`instance ${instance} has no tool named "${tool}"; it has: ${tools.map((candidate) => candidate.name).join(', ') || 'none'}`);
    }
    const args = argumentsOf(options.json, options.arg, found.inputSchema);
    let result: CallResult;
    try {
      result = (await client.callTool({ name: tool, arguments: args })) as CallResult;
    } catch (error) {
      throw new CliError(`the gateway refused the call of ${tool}: ${(error as Error).message}`);
    }
    const { out } = context;
    if (out.format === 'json') out.json(result);
    else {
      for (const block of result.content ?? []) out.line(block.type === 'text' ? (block.text ?? '') : JSON.stringify(block));
      if ((result.content ?? []).length === 0 && result.structuredContent !== undefined) out.json(result.structuredContent);
      if (result.isError === true) out.note(out.paint('red', `${tool} answered with a tool error`));
    }
    return result.isError === true ? EXIT.negative : EXIT.ok;
  } finally {
    await endSession(transport, context.out);
    await client.close().catch(() => undefined);
  }
}

/** `import openapi` and `call`. */
export function registerImportAndCall(program: Command, io: CliIo, run: (work: () => Promise<number | void>) => Promise<void>) {
  program
    .command('import')
    .description('import tools from an API description')
    .command('openapi')
    .argument('<file|url>', 'an OpenAPI 3.0/3.1 or Swagger 2.0 document, JSON or YAML; a URL is fetched by the CLI')
    .description('turn an OpenAPI document into tools of one instance (POST /admin/import/openapi) and print the plan')
    .requiredOption('--instance <id>', 'the instance that serves the tools (created when absent)')
    .option('--name <name>', 'the instance name')
    .option('--prefix <prefix>', 'tool id prefix (default: the instance id and a dot)')
    .option('--base-url <url>', 'replace the servers of the document')
    .option('--auth <scheme=template>', 'header value of a security scheme, e.g. bearer=Bearer ${env:TOKEN}; repeatable', collect, [])
    .option('--dry-run', 'print the plan, write nothing')
    .action((source: string, options: ImportOptions, command: Command) => run(() => importOpenApi(contextOf(command, io), source, options)));
  program
    .command('call')
    .argument('<instance>')
    .argument('<tool>', 'the tool name, as tools/list shows it')
    .description('call a tool through /mcp/<instance> with an MCP client; exit 1 when the result is a tool error')
    .option('--arg <key=value>', 'an argument; a.b=value nests; repeatable', collect, [])
    .option('--json <object>', 'the arguments as a JSON object (--arg values go over it)')
    .action((instance: string, tool: string, options: { arg: string[]; json?: string }, command: Command) =>
      run(() => call(contextOf(command, io), instance, tool, options)),
    );
}
