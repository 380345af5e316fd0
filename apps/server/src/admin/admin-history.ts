import { CREDENTIAL_KIND } from '@dynmcp/common';
import {
  GatewayError,
  isGatewayError,
  RECORD_KINDS,
  requireHistory,
  type AuditEntry,
  type DataSource,
  type HistoryEntry,
  type RecordKind,
} from '@dynmcp/plugin';
import { LOG_LEVEL_KIND } from './admin-log-level.js';
import type { AdminService } from './admin-service.js';
import { assertStoreReachable } from './admin-support.js';

/** Default `limit` of the history and audit routes. */
export const DEFAULT_HISTORY_LIMIT = 100;
/** Largest `limit` of the history and audit routes. */
export const MAX_HISTORY_LIMIT = 1000;

/**
 * The record kinds the audit shows: what the admin API manages (tools, instances, credentials, the
 * log level override).
 * The store holds internal records too (ended sessions, at the rate sessions end) that the gateway
 * writes untracked; a datasource plugin that ignores `untracked` would still put them in its
 * history, where they would bury the operators' changes.
 */
const AUDITED_KINDS: ReadonlySet<string> = new Set([...RECORD_KINDS, CREDENTIAL_KIND, LOG_LEVEL_KIND]);

/**
 * Store reads of one audit page at most: they run again only while the entries read are all of
 * internal kinds, which a datasource that honours `untracked` never returns.
 */
const MAX_AUDIT_READS = 10;

/** What `GET /admin/audit` answers in `data`. */
export interface AuditPage {
  entries: AuditEntry[];
  /**
   * Pass as `since` for the next page; equals the request's `since` when there was nothing new. It
   * can be past `since` on a page with fewer entries than asked, even none, when a datasource
   * plugin recorded many internal changes there: ask again from it.
   */
  next_since: number;
}

/** Options of {@link createAdminHistory}. */
export interface AdminHistoryOptions {
  service: AdminService;
  datasource: DataSource;
}

const what = (kind: RecordKind) => (kind === 'tds' ? 'tool' : 'instance');

/**
 * History, rollback and audit of definitions over a datasource that keeps history
 * (`DataSource.history`/`audit`; `HISTORY_UNSUPPORTED`, 501, otherwise). A rollback is a write
 * like a PUT: the old version goes through today's checks and becomes a new revision, recorded with
 * action `rollback`. Reads are not recorded.
 */
export function createAdminHistory(options: AdminHistoryOptions) {
  const { service, datasource } = options;

  return {
    /** One definition's versions, newest first; 404 for an id with neither history nor a record. */
    async history(kind: RecordKind, id: string, limit: number): Promise<HistoryEntry[]> {
      const store = requireHistory(datasource);
      assertStoreReachable(datasource, 'read');
      const entries = await store.history(kind, id, { limit });
      // A definition written before its store kept history has none yet; that is not a 404.
      if (entries.length === 0 && (await datasource.get(kind, id)) === undefined) {
        throw new GatewayError(kind === 'tds' ? 'TOOL_NOT_FOUND' : 'INSTANCE_NOT_FOUND', `no history of a ${what(kind)} with id "${id}"`);
      }
      return entries;
    },

    /**
     * Writes the version of `revision` again, as a new revision: also brings back a deleted
     * definition. `ifRevision` as for a PUT (the definition's current revision, `0`: only if absent).
     */
    async rollback(kind: RecordKind, id: string, revision: number, ifRevision: number | undefined, principal: string | undefined) {
      const store = requireHistory(datasource);
      assertStoreReachable(datasource, 'read');
      const entries = await store.history(kind, id, { limit: MAX_HISTORY_LIMIT });
      const entry = entries.find((candidate) => candidate.revision === revision);
      if (entry === undefined) {
        throw new GatewayError(
          'REVISION_NOT_FOUND',
          `${what(kind)} "${id}" has no version at revision ${revision} (it was never written then, or retention removed it); GET its history for the revisions kept`,
          { data: { kind, id, revision } },
        );
      }
      if (entry.deleted) {
        throw new GatewayError(
          'INVALID_PAYLOAD',
          `revision ${revision} deleted ${what(kind)} "${id}"; roll back to a revision with a value, or DELETE the ${what(kind)}`,
          { data: { kind, id, revision } },
        );
      }
      const metadata = { principal, action: 'rollback' as const };
      try {
        return kind === 'tds'
          ? await service.putTool(id, entry.value, ifRevision, metadata)
          : await service.putInstance(id, entry.value, ifRevision, metadata);
      } catch (error) {
        if (!isGatewayError(error) || error.status !== 400) throw error;
        throw new GatewayError(
          error.code,
          `revision ${revision} of ${what(kind)} "${id}" does not pass today's checks: ${error.message}`,
          { cause: error, data: { ...error.data, revision } },
        );
      }
    },

    /**
     * Every change of a tool, instance or credential after `since`, ascending, at most `limit`,
     * ending on a whole revision: a batch's entries are never split across two pages, unless one
     * revision alone holds more than `limit` (then its first `limit` entries, and a higher `limit`
     * shows the rest). Entries of other kinds are skipped (see {@link AUDITED_KINDS}).
     */
    async audit(since: number, limit: number): Promise<AuditPage> {
      const store = requireHistory(datasource);
      assertStoreReachable(datasource, 'read');
      const entries: AuditEntry[] = [];
      let cursor = since;
      for (let read = 0; read < MAX_AUDIT_READS && entries.length < limit; read += 1) {
        const room = limit - entries.length;
        // One more than room: tells whether the last revision continues past the page.
        const found = await store.audit({ since: cursor, limit: room + 1 });
        let scanned = found.slice(0, room);
        const next = found[room];
        if (next !== undefined && scanned.at(-1)?.revision === next.revision) {
          const whole = scanned.filter((entry) => entry.revision !== next.revision);
          // A revision larger than the page is cut only when it would otherwise be all of it.
          if (whole.length === 0 && entries.length > 0) break;
          if (whole.length > 0) scanned = whole;
        }
        const before = entries.length;
        for (const entry of scanned) if (AUDITED_KINDS.has(entry.kind)) entries.push(entry);
        cursor = scanned.at(-1)?.revision ?? cursor;
        // Read on only to fill what internal entries took up.
        if (next === undefined || entries.length - before === scanned.length) break;
      }
      return { entries, next_since: cursor };
    },
  };
}

/** The admin history's interface. */
export type AdminHistory = ReturnType<typeof createAdminHistory>;

/** A query parameter as Express hands it: a string, or an array or object when repeated or nested. */
type QueryValue = unknown;

/** `?limit=`: an integer from 1 to {@link MAX_HISTORY_LIMIT}, default {@link DEFAULT_HISTORY_LIMIT}. */
export function parseLimit(raw: QueryValue): number {
  if (raw === undefined) return DEFAULT_HISTORY_LIMIT;
  const limit = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_HISTORY_LIMIT)) {
    throw new GatewayError('INVALID_PAYLOAD', `limit must be an integer from 1 to ${MAX_HISTORY_LIMIT} (default ${DEFAULT_HISTORY_LIMIT})`);
  }
  return limit;
}

/** `?since=`: a revision, a non-negative integer; default 0 (from the start of the history kept). */
export function parseSince(raw: QueryValue): number {
  if (raw === undefined) return 0;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new GatewayError('INVALID_PAYLOAD', 'since must be a revision: a non-negative integer, e.g. the next_since of the previous page');
  }
  return Number(raw);
}

/** The body of a rollback: `{ "revision": <positive integer> }`. */
export function parseRollbackRequest(body: unknown): number {
  const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const revision = fields['revision'];
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 1) {
    throw new GatewayError('INVALID_PAYLOAD', 'send { "revision": N } with N the positive integer revision to roll back to (from GET …/history)');
  }
  // As the batch and test routes: a misspelt field is refused rather than quietly ignored.
  const unknown = Object.keys(fields).filter((key) => key !== 'revision');
  if (unknown.length > 0) {
    throw new GatewayError('INVALID_PAYLOAD', `unknown field(s) ${unknown.map((key) => JSON.stringify(key)).join(', ')}; a rollback takes only { "revision": N }`);
  }
  return revision;
}
