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

/** One line a {@link createRecordingLogger} logger received, with its child bindings merged into `meta`. */
export interface RecordedLogLine {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  meta: Record<string, unknown>;
}

/**
 * A logger that keeps every line in `lines`, for tests (the gateway's own and plugin authors')
 * that check what was logged: a child's bindings are merged into each line's `meta`.
 */
export function createRecordingLogger(): { logger: Logger; lines: RecordedLogLine[] } {
  const lines: RecordedLogLine[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at = (level: RecordedLogLine['level']) => (message: string, meta?: Record<string, unknown>) => {
      lines.push({ level, message, meta: { ...bindings, ...meta } });
    };
    return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: (more) => make({ ...bindings, ...more }) };
  };
  return { logger: make({}), lines };
}
