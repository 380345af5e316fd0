// The log level override of the status page: `GET`, `PUT` and `DELETE /admin/log-level`
// (docs/admin-api.md#log-level-override). The override is a store record, so it reaches every
// replica; what is shown is the state of the replica that answered.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, messageOf } from '../api.js';
import { useConsole } from '../state.js';
import { Field, FormError } from './ui.js';

interface LogLevelState {
  level: string;
  configured: string;
  override: { level: string; expires_at: string; set_by?: string; revision: number } | null;
}

/** The levels an override may set (`silent` is for the configuration only). */
const LEVELS = ['error', 'warn', 'info', 'debug'] as const;
const DURATIONS = [
  { seconds: 300, label: '5 minutes' },
  { seconds: 900, label: '15 minutes' },
  { seconds: 3_600, label: '1 hour' },
  { seconds: 14_400, label: '4 hours' },
  { seconds: 86_400, label: '1 day' },
] as const;
const DEFAULT_SECONDS = 900;

/** The `unsupported` entry when the gateway has no such route (404): older, or started with a logger of its own. */
const NO_ROUTE = 'this gateway has no log level override (an older version, or one started with a logger of its own).';

const localTime = (iso: string) => new Date(iso).toLocaleString();

/** `onWritten`: after each stored write, for what else the page shows of the store (its revision, the audit log). */
export function LogLevelPanel({ onWritten }: { onWritten(): void }) {
  const { api, announce, revision, unsupported, markUnsupported } = useConsole();
  const [state, setState] = useState<LogLevelState | undefined>();
  const [level, setLevel] = useState<string>('debug');
  const [seconds, setSeconds] = useState(DEFAULT_SECONDS);
  const [error, setError] = useState<string | undefined>();
  const [notApplied, setNotApplied] = useState(false);
  const [busy, setBusy] = useState(false);
  const levelChoice = useRef<HTMLSelectElement>(null);

  const refused = (caught: unknown) => {
    if (caught instanceof ApiError && caught.status === 404) markUnsupported('logLevel', NO_ROUTE);
    else setError(messageOf(caught));
  };

  const read = () =>
    api.call<LogLevelState>('GET', '/admin/log-level').then((answer) => {
      setState(answer.data);
      setNotApplied(false);
      setError(undefined);
    }, refused);

  useEffect(() => void read(), [revision]);

  // The override changes no definition, so no live event says when it ends: read again once it has.
  const expiresAt = state?.override?.expires_at;
  useEffect(() => {
    if (expiresAt === undefined) return;
    const timer = setTimeout(() => void read(), Math.max(0, Date.parse(expiresAt) - Date.now()) + 1_000);
    return () => clearTimeout(timer);
  }, [expiresAt]);

  const write = async (method: 'PUT' | 'DELETE', said: (state: LogLevelState) => string) => {
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api.call<LogLevelState>(method, '/admin/log-level', method === 'PUT' ? { level, duration_seconds: seconds } : undefined);
      const applied = answer.meta?.applied !== false;
      setState(answer.data);
      setNotApplied(!applied);
      announce(applied ? said(answer.data) : 'Log level override stored; the replica that answered has not applied it yet.');
      onWritten();
      return true;
    } catch (caught) {
      refused(caught);
      return false;
    } finally {
      setBusy(false);
    }
  };

  const set = async (event: Event) => {
    event.preventDefault();
    await write('PUT', (now) => `Log level set to ${level}${now.override === null ? '' : ` until ${localTime(now.override.expires_at)}`}.`);
  };

  const end = async () => {
    // The button goes with the override: the focus moves to the start of the form, not to the page's top.
    if (await write('DELETE', (now) => `Log level override ended; back at ${now.level}.`)) levelChoice.current?.focus();
  };

  return (
    <section aria-labelledby="log-level-title">
      <h2 id="log-level-title">Log level</h2>
      {unsupported.logLevel !== undefined ? (
        <p class="muted" data-testid="log-level-unsupported">
          Not available: {unsupported.logLevel}
        </p>
      ) : (
        <>
          {state !== undefined && (
            <dl class="facts" data-testid="log-level">
              <dt>This replica logs at</dt>
              <dd>
                <strong>{state.level}</strong>
              </dd>
              <dt>Configured level</dt>
              <dd>
                {state.configured} <span class="muted">(log.level)</span>
              </dd>
              <dt>Override</dt>
              <dd data-testid="log-override">
                {state.override === null ? (
                  'none'
                ) : (
                  <>
                    <strong>{state.override.level}</strong> until <time dateTime={state.override.expires_at}>{localTime(state.override.expires_at)}</time>
                    {state.override.set_by !== undefined && (
                      <>
                        , set by <code>{state.override.set_by}</code>
                      </>
                    )}
                  </>
                )}
              </dd>
            </dl>
          )}
          {notApplied && (
            <p class="muted" data-testid="log-level-not-applied">
              Stored, but the replica that answered had not applied it yet: what is shown may be its state before the change. Every replica applies it from the store shortly.
            </p>
          )}
          <p class="muted">An override sets the level of every replica and worker until it ends; each then returns to its configured level.</p>
          <form class="row log-level-form" onSubmit={set} aria-label="Set the log level for a while">
            <Field id="log-level-choice" label="Level">
              <select id="log-level-choice" ref={levelChoice} value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
                {LEVELS.map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </select>
            </Field>
            <Field id="log-level-duration" label="Duration">
              <select id="log-level-duration" value={seconds} onChange={(e) => setSeconds(Number(e.currentTarget.value))}>
                {DURATIONS.map((choice) => (
                  <option key={choice.seconds} value={choice.seconds}>
                    {choice.label}
                  </option>
                ))}
              </select>
            </Field>
            <div class="actions">
              <button type="submit" disabled={busy}>
                Set log level
              </button>
              {state !== undefined && state.override !== null && (
                <button type="button" class="secondary" disabled={busy} onClick={() => void end()}>
                  End override
                </button>
              )}
            </div>
          </form>
          <FormError message={error} />
        </>
      )}
    </section>
  );
}
