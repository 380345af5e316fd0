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

/** Creates the gateway's winston logger: one JSON object per line, secrets redacted. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  return winston.createLogger({
    level: options.level === 'silent' ? 'error' : options.level,
    silent: options.level === 'silent',
    format: winston.format.combine(winston.format.timestamp(), redact(), winston.format.json()),
    transports: [transport],
  }) as unknown as Logger;
}
