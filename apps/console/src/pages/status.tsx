import { useEffect, useState } from 'preact/hooks';
import { ApiError, messageOf, seg } from '../api.js';
import { useConsole } from '../state.js';
import { FormError } from '../components/ui.js';
import { LogLevelPanel } from '../components/log-level-panel.js';

interface Status {
  store_revision: number | null;
  replica_id: string;
  replicas: Array<{ id: string; host: string; version: string; started_at: string; applied_revision: number; connected: boolean; last_sync_at: string | null; lag: number | null }>;
  note?: string;
}

interface AuditEntry {
  revision: number;
  at: number;
  principal: string;
  action: string;
  /** `tds` and `ids` have a history; the audit also lists `credential` and `log_level` records. */
  kind: string;
  id: string;
  deleted: boolean;
}

const AUDIT_PAGE = 50;

/** Names of the audited kinds that have no history page. */
const OTHER_KINDS: Record<string, string> = { credential: 'credential', log_level: 'log level' };

/** What an audit entry changed: a tool or an instance links to its history, another record is named only. */
function Changed({ entry }: { entry: AuditEntry }) {
  if (entry.kind !== 'tds' && entry.kind !== 'ids') return <>{`${OTHER_KINDS[entry.kind] ?? entry.kind} ${entry.id}`}</>;
  return (
    <a href={`#/history/${entry.kind}/${seg(entry.id)}`}>
      {entry.kind === 'tds' ? 'tool' : 'instance'} {entry.id}
    </a>
  );
}

export function StatusPage() {
  const { api, revision, unsupported, markUnsupported } = useConsole();
  const [status, setStatus] = useState<Status | undefined>();
  const [audit, setAudit] = useState<AuditEntry[]>([]);
  const [error, setError] = useState<string | undefined>();
  // A log level write moves the store's revision and adds an audit entry, but no definition event says so.
  const [logLevelWrites, setLogLevelWrites] = useState(0);

  useEffect(() => {
    api.call<Status>('GET', '/admin/status').then(
      (answer) => setStatus(answer.data),
      (caught) => setError(messageOf(caught)),
    );
  }, [revision, logLevelWrites]);

  // The newest entries: the audit log pages upwards from a revision, so start one page below the current one.
  useEffect(() => {
    const since = Math.max(0, revision - AUDIT_PAGE);
    api.call<{ entries: AuditEntry[] }>('GET', `/admin/audit?since=${since}&limit=1000`).then(
      (answer) => setAudit([...answer.data.entries].reverse()),
      (caught) => {
        if (caught instanceof ApiError && caught.status === 501) markUnsupported('audit', caught.message);
        else setError(messageOf(caught));
      },
    );
  }, [revision, logLevelWrites]);

  return (
    <section aria-labelledby="status-title">
      <h1 id="status-title">Status</h1>
      <FormError message={error} />
      {status !== undefined && (
        <>
          <p>
            Store revision: <strong data-testid="store-revision">{status.store_revision ?? 'unknown'}</strong> · this replica:{' '}
            <code>{status.replica_id}</code>
          </p>
          {status.note !== undefined && <p class="muted">{status.note}</p>}
          <table data-testid="replica-table">
            <caption>Replicas</caption>
            <thead>
              <tr>
                <th scope="col">Replica</th>
                <th scope="col">Host</th>
                <th scope="col">Version</th>
                <th scope="col">Applied revision</th>
                <th scope="col">Lag</th>
                <th scope="col">Store</th>
                <th scope="col">Last sync</th>
              </tr>
            </thead>
            <tbody>
              {status.replicas.map((replica) => (
                <tr key={replica.id}>
                  <th scope="row">
                    <code>{replica.id.slice(0, 8)}</code>
                    {replica.id === status.replica_id ? ' (this one)' : ''}
                  </th>
                  <td>{replica.host}</td>
                  <td>{replica.version}</td>
                  <td>{replica.applied_revision}</td>
                  <td>{replica.lag ?? '—'}</td>
                  <td>{replica.connected ? 'connected' : 'not connected'}</td>
                  <td>{replica.last_sync_at === null ? '—' : new Date(replica.last_sync_at).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <LogLevelPanel onWritten={() => setLogLevelWrites((count) => count + 1)} />
      <h2>Audit log</h2>
      {unsupported.audit !== undefined ? (
        <p>This gateway keeps no audit log: {unsupported.audit}</p>
      ) : audit.length === 0 ? (
        <p class="muted">No change recorded in the last {AUDIT_PAGE} revisions.</p>
      ) : (
        <table data-testid="audit-table">
          <caption class="visually-hidden">Changes, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Revision</th>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Record</th>
            </tr>
          </thead>
          <tbody>
            {audit.map((entry) => (
              <tr key={`${entry.revision}-${entry.kind}-${entry.id}`}>
                <td>{entry.revision}</td>
                <td>{new Date(entry.at).toLocaleString()}</td>
                <td>{entry.principal}</td>
                <td>
                  {entry.action}
                  {entry.deleted ? ' (deleted)' : ''}
                </td>
                <td>
                  <Changed entry={entry} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
