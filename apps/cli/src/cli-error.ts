/** Exit codes of the `dynmcp` command; docs/cli.md lists them. */
export const EXIT = {
  ok: 0,
  /** The answer is "no": `diff` found differences, `call` got a tool error, `credentials rotate` left records. */
  negative: 1,
  /** It could not be done: a refused request, an unreachable gateway, a bad file or argument. */
  failure: 2,
} as const;

/** A failure the CLI reports as one message on stderr and a non-zero exit; never a stack trace. */
export class CliError extends Error {
  override readonly name = 'CliError';
  /** The gateway's stable error code, when the gateway refused the request. */
  readonly errorCode: string | undefined;
  readonly exitCode: number;

  constructor(message: string, options: { errorCode?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.errorCode = options.errorCode;
    this.exitCode = options.exitCode ?? EXIT.failure;
  }
}

export function isCliError(error: unknown): error is CliError {
  return error instanceof CliError;
}
