import type { Command } from 'commander';
import { createAdminClient, type AdminClient } from './admin-client.js';
import { CliError } from './cli-error.js';
import { createOutput, type OutStream, type Output } from './output.js';
import { resolveConnection, type Connection } from './settings.js';

/** What a run of the CLI is given: its environment and streams (a test passes its own). */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: OutStream;
  stderr: OutStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** The global options every command inherits. */
export interface GlobalOptions {
  url?: string;
  key?: string;
  profile?: string;
  output: string;
  color: boolean;
}

/** One command's view of the run: output, connection and admin client, made when first needed. */
export interface CommandContext {
  io: CliIo;
  out: Output;
  connection(): Connection;
  admin(): AdminClient;
}

/** The context of the command being run, from its own and the inherited global options. */
export function contextOf(command: Command, io: CliIo): CommandContext {
  const options = command.optsWithGlobals<GlobalOptions>();
  if (options.output !== 'table' && options.output !== 'json') throw new CliError(`--output must be table or json, not "${options.output}"`);
  const noColor = !options.color || (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '');
  const out = createOutput({ format: options.output, stdout: io.stdout, stderr: io.stderr, noColor });
  let connection: Connection | undefined;
  const connect = () => (connection ??= resolveConnection(options, io.env));
  return {
    io,
    out,
    connection: connect,
    admin: () => createAdminClient(connect(), out.note),
  };
}
