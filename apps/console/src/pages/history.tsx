import { useEffect, useState } from 'preact/hooks';
import { ApiError, messageOf, seg } from '../api.js';
import { diffLines, withContext } from '../diff.js';
import { useConsole } from '../state.js';
import { FormError } from '../components/ui.js';

interface HistoryEntry {
  revision: number;
  at: number;
  principal: string;
  action: string;
  deleted: boolean;
  value?: unknown;
}

const text = (entry: HistoryEntry | undefined) => (entry === undefined || entry.deleted ? '' : JSON.stringify(entry.value, null, 2));

export function HistoryPage({ kind, id }: { kind: 'tds' | 'ids'; id: string }) {
  const { api, announce, revision, unsupported, markUnsupported } = useConsole();
  const [entries, setEntries] = useState<HistoryEntry[] | undefined>();
  const [selected, setSelected] = useState<number | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const what = kind === 'tds' ? 'tool' : 'instance';
  const base = `/admin/${kind}/${seg(id)}`;

  useEffect(() => {
    api.call<HistoryEntry[]>('GET', `${base}/history?limit=100`).then(
      (answer) => {
        setEntries(answer.data);
        setError(undefined);
      },
      (caught) => {
        if (caught instanceof ApiError && caught.status === 501) markUnsupported('history', caught.message);
        setError(messageOf(caught));
      },
    );
  }, [base, revision]);

  if (unsupported.history !== undefined) {
    return <p>This gateway keeps no history of definitions: {unsupported.history}</p>;
  }

  const rollback = async (target: number) => {
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api.call('POST', `${base}/rollback`, { revision: target });
      announce(`Rolled ${what} ${id} back to revision ${target}; now at revision ${String(answer.meta?.revision ?? '')}.`);
    } catch (caught) {
      setError(messageOf(caught));
    } finally {
      setBusy(false);
    }
  };

  const index = entries === undefined ? -1 : selected === undefined ? 0 : entries.findIndex((entry) => entry.revision === selected);
  const shown = entries?.[index];
  const older = entries?.[index + 1];
  return (
    <section aria-labelledby="history-title">
      <h1 id="history-title">
        History of {what} {id}
      </h1>
      <p>
        <a href={`#/${kind === 'tds' ? 'tools' : 'instances'}/${seg(id)}`}>Back to the {what}</a>
      </p>
      <FormError message={error} />
      {entries === undefined ? (
        <p>Loading…</p>
      ) : (
        <div class="split">
          <div class="list-pane">
            <table data-testid="history-table">
              <caption class="visually-hidden">Versions, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Revision</th>
                  <th scope="col">Change</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {entries.map((entry, position) => (
                  <tr key={entry.revision} aria-current={entry === shown ? 'true' : undefined}>
                    <th scope="row">
                      <button type="button" class="link" onClick={() => setSelected(entry.revision)} aria-label={`Show the changes of revision ${entry.revision}`}>
                        {entry.revision}
                      </button>
                    </th>
                    <td>
                      {entry.action}
                      {entry.deleted ? ' (deleted)' : ''} by {entry.principal}
                      <br />
                      <span class="muted">{new Date(entry.at).toLocaleString()}</span>
                    </td>
                    <td>
                      {position > 0 && !entry.deleted && (
                        <button type="button" class="secondary small" disabled={busy} onClick={() => void rollback(entry.revision)}>
                          Roll back to {entry.revision}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="detail-pane">
            {shown !== undefined && (
              <>
                <h2>
                  Revision {shown.revision} {older === undefined ? '(first version)' : `against revision ${older.revision}`}
                </h2>
                <pre class="code diff" aria-label={`Changes of revision ${shown.revision}`} tabIndex={0} data-testid="history-diff">
                  {withContext(diffLines(text(older), text(shown))).map((line, n) =>
                    line === undefined ? (
                      <span key={n} class="gap">
                        {'⋯\n'}
                      </span>
                    ) : (
                      <span key={n} class={line.op === '+' ? 'add' : line.op === '-' ? 'del' : undefined}>
                        {line.op} {line.text}
                        {'\n'}
                      </span>
                    ),
                  )}
                </pre>
              </>
            )}
          </div>
        </div>
      )}
    </section>
  );
}
