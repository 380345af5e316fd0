import { EOL } from 'node:os';
import winston from 'winston';
import type { Logger } from '@dynmcp/plugin';
import { createLinePlanner, SECRET_KEYS, type LinePlanner } from './line-plan.js';

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  level: 'error' | 'warn' | 'info' | 'debug' | 'silent';
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

type Level = 'error' | 'warn' | 'info' | 'debug';
const LEVELS: readonly Level[] = ['error', 'warn', 'info', 'debug'];

/** winston's own keys of a log entry (triple-beam): the level, and the finished line. */
const LEVEL = Symbol.for('level');
const MESSAGE = Symbol.for('message');

/** Every disabled level of every logger: one function, not one per logger. */
const skip = () => undefined;

/** What every logger of one tree shares: the format, where lines go, which levels are on. */
interface Sink {
  format: winston.Logform.Format;
  write: (line: string) => void;
  enabled: ReadonlySet<Level>;
}

/**
 * One logger of the tree: `inherited` are its ancestors' bindings merged, `own` its own. Each line
 * is the one winston would write: the entry `Object.assign({}, bindings, meta, {level,
 * message})` (a child's bindings over its parent's, the call's metadata over both) through the
 * same format (timestamp, redaction, JSON with sorted keys), with the same end of line as winston's
 * Console and Stream transports. Lines of primitive values come from the logger's
 * {@link createLinePlanner plan}, the others through the format itself. What this skips is
 * winston's per-line object streams and, for most lines, the format's per-line work: together they
 * made the info-level line of every tool call a noticeable share of a busy gateway's CPU. A
 * disabled level costs nothing, and a child costs its closures until it writes.
 */
function treeLogger(sink: Sink, inherited: Readonly<Record<string, unknown>>, own?: Record<string, unknown>): Logger {
  // Merged on the first line: a child made per call that never writes costs no copy.
  let bindings: Readonly<Record<string, unknown>> | undefined = own === undefined ? inherited : undefined;
  // Made on the first line too; `null` once the bindings are known not to suit a plan.
  let planner: LinePlanner | null | undefined;
  const formatted = (level: Level, message: string, meta: Record<string, unknown> | undefined) => {
    // Object.assign, then keys set: on Node 20, `{ ...bindings, ...meta, level, message }` costs
    // several microseconds a line.
    const entry: Record<string | symbol, unknown> = Object.assign({}, bindings, meta);
    entry[LEVEL] = level;
    entry.level = level;
    entry.message = message;
    // winston's own handling of a metadata `message` and `stack` (an Error passed as metadata).
    if (typeof meta?.message === 'string') entry.message = `${message} ${meta.message}`;
    if (meta?.stack !== undefined) entry.stack = meta.stack;
    const info = sink.format.transform(entry as winston.Logform.TransformableInfo);
    return info === false ? undefined : `${(info as Record<symbol, unknown>)[MESSAGE] as string}${EOL}`;
  };
  const write = (level: Level, message: string, meta?: Record<string, unknown>) => {
    bindings ??= Object.assign({}, inherited, own);
    if (planner === undefined) planner = createLinePlanner(bindings) ?? null;
    try {
      const line = planner?.(level, message, meta) ?? formatted(level, message, meta);
      if (line !== undefined) sink.write(line);
    } catch {
      // A line that cannot be formatted is dropped; logging never fails a request.
    }
  };
  const method = (level: Level) =>
    sink.enabled.has(level) ? (message: string, meta?: Record<string, unknown>) => write(level, message, meta) : skip;
  return {
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    child: (more) => treeLogger(sink, bindings ?? Object.assign({}, inherited, own), more),
  };
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
export function createLogger(options: CreateLoggerOptions): Logger {
  const enabled = new Set(options.level === 'silent' ? [] : LEVELS.slice(0, LEVELS.indexOf(options.level) + 1));
  return treeLogger(
    {
      format: winston.format.combine(winston.format.timestamp(), redact(), winston.format.json()),
      write: batchedWriter(options.stream ?? process.stdout),
      enabled,
    },
    {},
  );
}
