import winston from 'winston';
import type { Logger } from '@dynmcp/plugin';

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  level: 'error' | 'warn' | 'info' | 'debug' | 'silent';
  /** Where lines go; stdout by default. Tests pass a stream to read them. */
  stream?: NodeJS.WritableStream;
}

/** Keys whose values never reach a log line, wherever they appear in the metadata. */
const SECRET_KEYS = /^(authorization|x-api-key|api[-_]?key|password|secret|token|cookie)$/i;

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

/**
 * Wraps a winston logger so that a disabled level costs nothing: winston itself builds the entry
 * and pushes it through its stream before its transports drop it, and the hot path logs at debug.
 * Children are created lazily, on the first line actually written.
 */
function wrap(make: () => winston.Logger, enabled: ReadonlySet<Level>): Logger {
  let real: winston.Logger | undefined;
  const get = () => (real ??= make());
  const method = (level: Level) =>
    enabled.has(level) ? (message: string, meta?: Record<string, unknown>) => void get().log(level, message, meta) : () => undefined;
  return {
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    child: (bindings) => wrap(() => get().child(bindings), enabled),
  };
}

/** Creates the gateway's winston logger: one JSON object per line, secrets redacted. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  const root = winston.createLogger({
    level: options.level === 'silent' ? 'error' : options.level,
    silent: options.level === 'silent',
    format: winston.format.combine(winston.format.timestamp(), redact(), winston.format.json()),
    transports: [transport],
  });
  const enabled = new Set(options.level === 'silent' ? [] : LEVELS.slice(0, LEVELS.indexOf(options.level) + 1));
  return wrap(() => root, enabled);
}
