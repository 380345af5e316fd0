import { EOL } from 'node:os';
import winston from 'winston';
import type { Logger } from '@dynmcp/plugin';
import { createLinePlanner, SECRET_KEYS, type LinePlanner } from './line-plan.js';

/** The levels a logger can be set to: each writes its own lines and those of the levels before it. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'silent';

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  level: LogLevel;
  /** Where lines go; stdout by default. Tests pass a stream to read them. */
  stream?: NodeJS.WritableStream;
}


const redact = winston.format((info) => {
  const scrub = (value: unknown, depth: number): unknown => {
    if (depth > 6 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = SECRET_KEYS.test(key) ? '[redacted]' : scrub(inner, depth + 1);
    }
    return out;
  };
  for (const key of Object.keys(info)) {
    if (SECRET_KEYS.test(key)) info[key] = '[redacted]';
    else if (typeof info[key] === 'object') info[key] = scrub(info[key], 0);
  }
  return info;
});

/** The levels that write lines, least verbose first: each writes its own and those before it. */
export const WRITING_LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
type Level = (typeof WRITING_LOG_LEVELS)[number];
const LEVELS: readonly Level[] = WRITING_LOG_LEVELS;

/** How many levels `level` writes: 0 for `silent`, 4 for `debug`. */
export const verbosityOf = (level: LogLevel): number => (level === 'silent' ? 0 : LEVELS.indexOf(level) + 1);

/** winston's own keys of a log entry (triple-beam): the level, and the finished line. */
const LEVEL = Symbol.for('level');
const MESSAGE = Symbol.for('message');

/** Every disabled level of every logger: one function, not one per logger. */
const skip = () => undefined;

/** What every logger of one tree shares: the format, where lines go, which levels are on. */
interface Sink {
  format: winston.Logform.Format;
  write: (line: string) => void;
  level: LogLevel;
  /** The levels {@link level} writes; changed in place, so every logger of the tree sees a change. */
  enabled: Set<Level>;
}

const levelsOf = (level: LogLevel): Level[] => LEVELS.slice(0, verbosityOf(level));

/**
 * The gateway's logger: a {@link Logger} whose tree's level can change while it runs (the admin
 * API's log level override). A level function read before a change (`logger.info`) is the one of
 * the level at that time: callers that keep one keep a closure that reads it again instead.
 */
export interface GatewayLogger extends Logger {
  /** The level of the whole tree. */
  readonly level: LogLevel;
  /** Sets the level of the whole tree (every logger made from the same {@link createLogger}). */
  setLevel(level: LogLevel): void;
  child(bindings: Record<string, unknown>): GatewayLogger;
}

type LevelFunction = (message: string, meta?: Record<string, unknown>) => void;

/**
 * One logger of the tree: `inherited` are its ancestors' bindings merged, `own` its own. Each line
 * is the one winston would write: the entry `Object.assign({}, bindings, meta, {level,
 * message})` (a child's bindings over its parent's, the call's metadata over both) through the
 * same format (timestamp, redaction, JSON with sorted keys), with the same end of line as winston's
 * Console and Stream transports. Lines of primitive values come from the logger's
 * {@link createLinePlanner plan}, the others through the format itself. What this skips is
 * winston's per-line object streams and, for most lines, the format's per-line work: together they
 * made the info-level line of every tool call a noticeable share of a busy gateway's CPU.
 *
 * A child costs one object: its bindings are merged, its plan made and each enabled level's
 * function bound on first use, and a disabled level is one shared no-op. The gateway makes a child
 * per tool call (the call's bindings, for the executor's lines), and most never write.
 */
class TreeLogger implements GatewayLogger {
  #bindings: Readonly<Record<string, unknown>> | undefined;
  // `null` once the bindings are known not to suit a plan.
  #planner: LinePlanner | null | undefined;
  #functions: Partial<Record<Level, LevelFunction>> | undefined;

  constructor(
    private readonly sink: Sink,
    private readonly inherited: Readonly<Record<string, unknown>>,
    private readonly own: Record<string, unknown> | undefined,
  ) {
    if (own === undefined) this.#bindings = inherited;
  }

  get error(): LevelFunction {
    return this.#level('error');
  }

  get warn(): LevelFunction {
    return this.#level('warn');
  }

  get info(): LevelFunction {
    return this.#level('info');
  }

  get debug(): LevelFunction {
    return this.#level('debug');
  }

  child(more: Record<string, unknown>): GatewayLogger {
    return new TreeLogger(this.sink, this.#merged(), more);
  }

  get level(): LogLevel {
    return this.sink.level;
  }

  setLevel(level: LogLevel): void {
    this.sink.level = level;
    this.sink.enabled.clear();
    for (const enabled of levelsOf(level)) this.sink.enabled.add(enabled);
  }

  /** The level's function: bound to this logger once (so it may be passed around), or the shared no-op. */
  #level(level: Level): LevelFunction {
    if (!this.sink.enabled.has(level)) return skip;
    const functions = (this.#functions ??= {});
    return (functions[level] ??= (message, meta) => this.#write(level, message, meta));
  }

  #merged(): Readonly<Record<string, unknown>> {
    return (this.#bindings ??= Object.assign({}, this.inherited, this.own));
  }

  #write(level: Level, message: string, meta: Record<string, unknown> | undefined): void {
    const bindings = this.#merged();
    if (this.#planner === undefined) this.#planner = createLinePlanner(bindings) ?? null;
    try {
      const line = this.#planner?.(level, message, meta) ?? this.#formatted(bindings, level, message, meta);
      if (line !== undefined) this.sink.write(line);
    } catch {
      // A line that cannot be formatted is dropped; logging never fails a request.
    }
  }

  #formatted(bindings: Readonly<Record<string, unknown>>, level: Level, message: string, meta: Record<string, unknown> | undefined) {
    // Object.assign, then keys set: on Node 20, `{ ...bindings, ...meta, level, message }` costs
    // several microseconds a line.
    const entry: Record<string | symbol, unknown> = Object.assign({}, bindings, meta);
    entry[LEVEL] = level;
    entry.level = level;
    entry.message = message;
    // winston's own handling of a metadata `message` and `stack` (an Error passed as metadata).
    if (typeof meta?.message === 'string') entry.message = `${message} ${meta.message}`;
    if (meta?.stack !== undefined) entry.stack = meta.stack;
    const info = this.sink.format.transform(entry as winston.Logform.TransformableInfo);
    return info === false ? undefined : `${(info as Record<symbol, unknown>)[MESSAGE] as string}${EOL}`;
  }
}

/** Writers with lines not yet written; the process's `exit` writes them. */
const pendingWriters = new Set<() => void>();
let exitHook = false;

/**
 * Writes lines to `stream` in batches: the lines of one turn of the event loop go out as one
 * write at its end (`setImmediate`), or sooner once 64 KiB are waiting. A busy gateway logs a
 * line per tool call, and one write per line (a system call each, for stdout) cost more than
 * building the line. Order is kept. Lines still waiting when the process exits, through
 * `process.exit`, an uncaught exception or the end of the loop, are written by its `exit` event
 * (stdout and stderr are synchronous for files, pipes and terminals on Linux); only a process
 * killed outright (SIGKILL, a fatal V8 error) loses the lines of its last turn.
 */
function batchedWriter(stream: NodeJS.WritableStream): (line: string) => void {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    pendingWriters.delete(flush);
    if (pending === '') return;
    const lines = pending;
    pending = '';
    stream.write(lines);
  };
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const writer of [...pendingWriters]) writer();
    });
  }
  return (line) => {
    pending += line;
    if (pending.length >= 65536) flush();
    else if (!scheduled) {
      scheduled = true;
      pendingWriters.add(flush);
      setImmediate(flush);
    }
  };
}

/** Creates the gateway's logger: one JSON object per line (winston's format), secrets redacted. */
export function createLogger(options: CreateLoggerOptions): GatewayLogger {
  return new TreeLogger(
    {
      format: winston.format.combine(winston.format.timestamp(), redact(), winston.format.json()),
      write: batchedWriter(options.stream ?? process.stdout),
      level: options.level,
      enabled: new Set(levelsOf(options.level)),
    },
    {},
    undefined,
  );
}
