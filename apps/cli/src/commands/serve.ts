import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { CliError, EXIT } from '../cli-error.js';
import type { CliIo } from '../context.js';

/**
 * Where the gateway's own start script is: `@dynmcp/server` is an optional peer of the CLI (a
 * client needs no server), found next to it when installed (always so in a clone of the repository).
 */
function serverBin(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@dynmcp/server')), 'bin.js');
  } catch {
    throw new CliError('dynmcp serve needs the gateway package: install @dynmcp/server next to @dynmcp/cli (npm install -g @dynmcp/server)');
  }
}

/**
 * `dynmcp serve`: starts the gateway in the foreground, exactly as `pnpm start` does after a build,
 * with the same settings (`config/`, `DYNMCP_*`). SIGINT and SIGTERM are passed on, so the gateway
 * stops gracefully; the CLI exits with the gateway's exit code.
 */
export function registerServe(program: Command, io: CliIo, run: (work: () => Promise<number | void>) => Promise<void>): void {
  program
    .command('serve')
    .description('start the gateway in the foreground (the same as `pnpm start`; settings from config/ and DYNMCP_*)')
    .action(() =>
      run(async () => {
        const bin = serverBin();
        const child = spawn(process.execPath, [bin], { stdio: 'inherit', env: { ...io.env } });
        const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
        const onInt = forward('SIGINT');
        const onTerm = forward('SIGTERM');
        process.on('SIGINT', onInt);
        process.on('SIGTERM', onTerm);
        try {
          return await new Promise<number>((resolve, reject) => {
            child.once('error', (error) => reject(new CliError(`could not start the gateway: ${error.message}`)));
            child.once('exit', (code, signal) => resolve(code ?? (signal === null ? EXIT.ok : EXIT.failure)));
          });
        } finally {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
        }
      }),
    );
}
