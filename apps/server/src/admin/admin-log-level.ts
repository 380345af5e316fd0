import express, { type RequestHandler } from 'express';
import { verbosityOf, WRITING_LOG_LEVELS, type GatewayLogger, type LiveDefinitions, type LogLevel, type RecordSink } from '@dynmcp/common';
import { GatewayError, type DataSource, type Logger } from '@dynmcp/plugin';
import { sendSuccess } from '../http/envelope.js';
import { assertStoreReachable, asyncRoute, methodNotAllowed, settleWrite } from './admin-support.js';

/**
 * The log level override: `PUT /admin/log-level` raises (or lowers) the log level of every replica
 * and worker for a while, without a restart, and `DELETE` ends it early. It is one record in the
 * store, so every process applies it from the store's feed like a definition, and each returns to
 * its configured level (`log.level`) when the override expires: one forgotten `debug` does not log
 * every call for good.
 */
export const LOG_LEVEL_KIND = 'log_level';
const OVERRIDE_ID = 'override';

/** The levels an override may set; `silent` is for the configuration only (it would hide errors). */
const OVERRIDE_LEVELS = WRITING_LOG_LEVELS;
type OverrideLevel = (typeof OVERRIDE_LEVELS)[number];

export const DEFAULT_OVERRIDE_SECONDS = 900;
export const MAX_OVERRIDE_SECONDS = 86_400;

/** The stored record's value. */
interface StoredOverride {
  level: OverrideLevel;
  /** ISO time at which every process returns to its configured level. */
  expires_at: string;
  /** The principal that set it. */
  set_by?: string;
}

/** What the admin API shows: this process's level, its configured one, and the override it applies. */
export interface LogLevelState {
  level: LogLevel;
  configured: LogLevel;
  override: (StoredOverride & { revision: number }) | null;
}

const isOverrideLevel = (value: unknown): value is OverrideLevel => (OVERRIDE_LEVELS as readonly unknown[]).includes(value);

/** A stored value as an override, or `undefined` when it is not one (written by hand, or by a later version). */
function readStored(value: unknown): { stored: StoredOverride; expiresAt: number } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { level, expires_at: expiresAt, set_by: setBy } = value as Record<string, unknown>;
  const at = typeof expiresAt === 'string' ? Date.parse(expiresAt) : Number.NaN;
  if (!isOverrideLevel(level) || !Number.isFinite(at)) return undefined;
  return { stored: { level, expires_at: expiresAt as string, ...(typeof setBy === 'string' ? { set_by: setBy } : {}) }, expiresAt: at };
}

/** This process's side of the override: a {@link RecordSink} the live definitions feed. */
export interface LogLevelOverride extends RecordSink {
  state(): LogLevelState;
  close(): void;
}

/**
 * Follows the override record from the feed and sets `logger`'s level: the override's until it
 * expires (a timer of this process; a replica whose clock runs ahead ends it earlier), the level
 * `logger` had when this was made otherwise. Each change is logged at `warn`, at the more verbose
 * of the two levels, so that a gateway configured at `warn` shows when and why it logs more.
 */
export function createLogLevelOverride(options: { logger: GatewayLogger; now?: () => number }): LogLevelOverride {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const configured = logger.level;
  const log = logger.child({ component: 'log-level' });
  let applied: LogLevelState['override'] = null;
  let timer: NodeJS.Timeout | undefined;

  /** `meta` names no `level`: a line's own `level` is its severity, which would hide it. */
  function change(level: LogLevel, message: string, meta: Record<string, unknown>) {
    const louder = verbosityOf(level) > verbosityOf(logger.level);
    if (!louder) log.warn(message, meta);
    logger.setLevel(level);
    if (louder) log.warn(message, meta);
  }

  function restore(reason: 'expired' | 'removed') {
    clearTimeout(timer);
    timer = undefined;
    if (applied === null) return;
    applied = null;
    change(configured, 'log level back to the configured level', { configured, reason });
  }

  function apply(value: unknown, revision: number) {
    const read = readStored(value);
    if (read === undefined) {
      log.warn('log level override record ignored: not an override this version reads', { id: OVERRIDE_ID, revision });
      return restore('removed');
    }
    const left = read.expiresAt - now();
    if (left <= 0) return restore('expired');
    clearTimeout(timer);
    timer = setTimeout(() => restore('expired'), left);
    timer.unref();
    // A snapshot delivers the record again: said once per override, not per delivery.
    if (applied?.revision === revision) return;
    applied = { ...read.stored, revision };
    change(read.stored.level, 'log level set by the admin API', { override: read.stored.level, configured, expiresAt: read.stored.expires_at, setBy: read.stored.set_by });
  }

  return {
    kind: LOG_LEVEL_KIND,
    replace(records) {
      const record = records.find((entry) => entry.id === OVERRIDE_ID);
      if (record === undefined) restore('removed');
      else apply(record.value, record.revision);
    },
    put(id, value, revision) {
      if (id === OVERRIDE_ID) apply(value, revision);
    },
    delete(id) {
      if (id === OVERRIDE_ID) restore('removed');
    },
    state: () => ({ level: logger.level, configured, override: applied }),
    close() {
      clearTimeout(timer);
    },
  };
}

/** The body of `PUT /admin/log-level`: `{ "level": …, "duration_seconds"?: … }`. */
export function parseOverrideRequest(body: unknown): { level: OverrideLevel; seconds: number } {
  const usage = `send { "level": "${OVERRIDE_LEVELS.join('" | "')}", "duration_seconds": 1..${MAX_OVERRIDE_SECONDS} (default ${DEFAULT_OVERRIDE_SECONDS}) }`;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new GatewayError('INVALID_PAYLOAD', usage);
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => key !== 'level' && key !== 'duration_seconds');
  if (unknown.length > 0) throw new GatewayError('INVALID_PAYLOAD', `unknown field(s) ${unknown.map((key) => JSON.stringify(key)).join(', ')}; ${usage}`);
  const { level, duration_seconds: seconds = DEFAULT_OVERRIDE_SECONDS } = fields;
  if (!isOverrideLevel(level)) {
    const silent = level === 'silent' ? ' ("silent" only as the configured level: an override cannot hide errors)' : '';
    throw new GatewayError('INVALID_PAYLOAD', `level must be one of ${OVERRIDE_LEVELS.join(', ')}, got ${JSON.stringify(level) ?? 'nothing'}${silent}; ${usage}`);
  }
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_OVERRIDE_SECONDS) {
    throw new GatewayError(
      'INVALID_PAYLOAD',
      `duration_seconds must be a whole number of seconds from 1 to ${MAX_OVERRIDE_SECONDS} (a day), got ${JSON.stringify(seconds)}; for a lasting level set log.level (DYNMCP_LOG_LEVEL)`,
    );
  }
  return { level, seconds };
}

/** Options of {@link logLevelRouter}. */
export interface LogLevelAdminOptions {
  override: LogLevelOverride;
  datasource: DataSource;
  /** A write answers once this replica applied it (`applied: false` when the wait ran out). */
  definitions: Pick<LiveDefinitions, 'waitForRevision' | 'revision'>;
  logger: Logger;
  now?: () => number;
  applyTimeoutMs?: number;
}

/**
 * `GET`, `PUT` and `DELETE /admin/log-level`, mounted on the admin router (after its admin check);
 * `body` is its JSON body parsing. Writes go through the store, so they reach every replica; the
 * answer is this replica's state once it applied the write.
 */
export function logLevelRouter(options: LogLevelAdminOptions, body: RequestHandler[]): express.Router {
  const { datasource, definitions, override } = options;
  const now = options.now ?? Date.now;
  const applyTimeoutMs = options.applyTimeoutMs ?? 2000;
  const router = express.Router({ caseSensitive: true, strict: false });

  const settled = async (revision: number) => ({ applied: await settleWrite(definitions, revision, applyTimeoutMs, options.logger) });

  router.get('/', (_req, res) => sendSuccess(res, override.state()));
  router.put(
    '/',
    body,
    asyncRoute(async (req, res) => {
      const { level, seconds } = parseOverrideRequest(req.body);
      assertStoreReachable(datasource);
      const setBy = req.principal?.id;
      const value: StoredOverride = { level, expires_at: new Date(now() + seconds * 1000).toISOString(), ...(setBy === undefined ? {} : { set_by: setBy }) };
      const record = await datasource.put(LOG_LEVEL_KIND, OVERRIDE_ID, value, { metadata: { principal: setBy, action: 'put' } });
      const meta = await settled(record.revision);
      sendSuccess(res, override.state(), meta);
    }),
  );
  router.delete(
    '/',
    asyncRoute(async (req, res) => {
      assertStoreReachable(datasource);
      const revision = await datasource.delete(LOG_LEVEL_KIND, OVERRIDE_ID, { metadata: { principal: req.principal?.id, action: 'delete' } });
      // No override stored: nothing to end, and this replica is at its configured level already.
      const meta = revision === undefined ? { applied: override.state().override === null } : await settled(revision);
      sendSuccess(res, override.state(), meta);
    }),
  );
  router.all('/', methodNotAllowed);
  return router;
}
