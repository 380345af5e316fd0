/**
 * The logging surface DynMCP hands to its parts and to plugins. Structural, so that plugin authors
 * need no logging library; the server passes a winston logger, which satisfies it.
 * Messages are constant strings; data goes in `meta`.
 */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  /** A logger that adds `bindings` to every line, e.g. `{ component: 'store' }`. */
  child(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything, for tests and library users that want silence. */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child() {
    return silentLogger;
  },
};
