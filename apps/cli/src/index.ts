// The public surface of @dynmcp/cli: run the command line in-process. Named exports only.
export { runCli, VERSION } from './cli.js';
export type { CliIo } from './context.js';
export { EXIT } from './cli-error.js';
