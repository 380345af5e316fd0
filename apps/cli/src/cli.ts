import { Command, CommanderError, Option } from 'commander';
import { EXIT, isCliError } from './cli-error.js';
import { registerCompletion } from './commands/completion.js';
import { registerCredentialCommands } from './commands/credentials.js';
import { registerImportAndCall } from './commands/import-call.js';
import { registerLogLevel } from './commands/log-level.js';
import { registerRecordCommands } from './commands/records.js';
import { registerServe } from './commands/serve.js';
import { registerSyncCommands } from './commands/sync.js';
import { registerWatch } from './commands/watch.js';
import type { CliIo } from './context.js';

export const VERSION = '0.1.0';

/**
 * Runs the `dynmcp` command line with `argv` (without node and the script) and resolves with the
 * exit code: 0 done, 1 a negative answer (`diff` differs, `call` got a tool error, `credentials
 * rotate` left records), 2 a failure.
 * Failures are one line on stderr, never a stack trace.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const run = async (work: () => Promise<number | void>) => {
    try {
      const code = await work();
      exitCode = typeof code === 'number' ? code : EXIT.ok;
    } catch (error) {
      if (!isCliError(error)) throw error;
      io.stderr.write(`dynmcp: ${error.message}\n`);
      exitCode = error.exitCode;
    }
  };
  const program = new Command('dynmcp')
    .description('Manage a running DynMCP gateway through its admin API.')
    .version(VERSION)
    .option('--url <url>', 'the gateway (default: DYNMCP_URL, the profile, else http://127.0.0.1:8080)')
    .option('--key <key>', 'an admin key (default: DYNMCP_API_KEY, else the profile); prefer those to this flag')
    .option('--profile <name>', 'a profile of ~/.config/dynmcp/config.yaml (default: DYNMCP_PROFILE, else "default")')
    .addOption(new Option('-o, --output <format>', 'table or json').choices(['table', 'json']).default('table'))
    .option('--no-color', 'no colours (also when NO_COLOR is set or stdout is not a terminal)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  registerRecordCommands(program, io, run);
  registerSyncCommands(program, io, run);
  registerImportAndCall(program, io, run);
  registerCredentialCommands(program, io, run);
  registerWatch(program, io, run);
  registerLogLevel(program, io, run);
  registerServe(program, io, run);
  registerCompletion(program, io, run);
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are successes; every usage error (unknown option, missing argument) fails.
      return error.exitCode === 0 ? EXIT.ok : EXIT.failure;
    }
    if (isCliError(error)) {
      io.stderr.write(`dynmcp: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
  return exitCode;
}
