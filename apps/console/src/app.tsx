import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, createApi, messageOf, seg, storedKey, storeKey, type Api } from './api.js';
import { followChanges, type LiveMode } from './events.js';
import type { DefinitionChange, InstanceDefinition, Instances, ToolDefinition, Tools } from './model.js';
import { ConsoleContext, type Console } from './state.js';
import { SignIn } from './pages/sign-in.js';
import { InstancesPage } from './pages/instances.js';
import { ToolsPage } from './pages/tools.js';
import { ImportPage } from './pages/import.js';
import { PlaygroundPage } from './pages/playground.js';
import { StatusPage } from './pages/status.js';
import { HistoryPage } from './pages/history.js';

const PAGES = [
  { path: 'instances', title: 'Instances' },
  { path: 'tools', title: 'Tools' },
  { path: 'import', title: 'Import' },
  { path: 'playground', title: 'Playground' },
  { path: 'status', title: 'Status & audit' },
] as const;

/** The route in the URL's fragment: `#/tools/<id>` → ['tools', '<id>']. */
function useRoute(): string[] {
  const read = () =>
    window.location.hash
      .replace(/^#\/?/, '')
      .split('/')
      .filter((part) => part !== '')
      .map((part) => decodeURIComponent(part));
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function App() {
  const [api, setApi] = useState<Api | undefined>(() => {
    const key = storedKey();
    return key === undefined ? undefined : createApi(key);
  });
  if (api === undefined) {
    return (
      <SignIn
        onSignedIn={(key) => {
          storeKey(key);
          setApi(createApi(key));
        }}
      />
    );
  }
  return (
    <SignedIn
      api={api}
      onSignOut={() => {
        storeKey(undefined);
        setApi(undefined);
      }}
    />
  );
}

function SignedIn({ api, onSignOut }: { api: Api; onSignOut(): void }) {
  const [tools, setTools] = useState<Tools>({});
  const [instances, setInstances] = useState<Instances>({});
  const [revision, setRevision] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [loadError, setLoadError] = useState<string | undefined>();
  const [live, setLive] = useState<{ mode: LiveMode; detail?: string }>({ mode: 'connecting' });
  const [unsupported, setUnsupported] = useState<Record<string, string>>({});
  const [announcement, setAnnouncement] = useState('');
  const route = useRoute();

  const reload = useCallback(async () => {
    try {
      const [toolAnswer, instanceAnswer] = await Promise.all([
        api.call<Tools>('GET', '/admin/tds'),
        api.call<Instances>('GET', '/admin/ids'),
      ]);
      setTools(toolAnswer.data ?? {});
      setInstances(instanceAnswer.data ?? {});
      setLoaded(true);
      setLoadError(undefined);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) onSignOut();
      else setLoadError(messageOf(error));
    }
  }, [api]);

  // Changes are applied one revision at a time, in order: a later event waits for an earlier one's reads.
  const queue = useRef(Promise.resolve());
  const applyChanges = useCallback(
    (changes: DefinitionChange[]) => {
      queue.current = queue.current.then(async () => {
        await Promise.all(
          changes.map(async (change) => {
            const path = `/admin/${change.kind === 'tool' ? 'tds' : 'ids'}/${seg(change.id)}`;
            let value: ToolDefinition | InstanceDefinition | undefined;
            if (change.op === 'put') {
              try {
                value = (await api.call<ToolDefinition | InstanceDefinition>('GET', path)).data;
              } catch (error) {
                if (!(error instanceof ApiError && error.status === 404)) throw error;
              }
            }
            const update = <T,>(all: Record<string, T>) => {
              const next = { ...all };
              if (value === undefined) delete next[change.id];
              else next[change.id] = value as T;
              return next;
            };
            if (change.kind === 'tool') setTools(update);
            else setInstances(update);
          }),
        ).catch(() => reload());
      });
    },
    [api, reload],
  );

  useEffect(() => {
    void reload();
    const stop = new AbortController();
    void followChanges(
      api,
      {
        ready: (at) => {
          setRevision(at);
          // Whatever changed between the first read and the stream's start is read again.
          void reload();
        },
        change: (at, changes) => {
          setRevision((current) => Math.max(current, at));
          applyChanges(changes);
        },
        reset: () => void reload(),
        mode: (mode, detail) => setLive(detail === undefined ? { mode } : { mode, detail }),
      },
      stop.signal,
    );
    return () => stop.abort();
  }, [api]);

  const value = useMemo<Console>(
    () => ({
      api,
      tools,
      instances,
      revision,
      loaded,
      live,
      unsupported,
      markUnsupported: (feature, reason) => setUnsupported((all) => (all[feature] === reason ? all : { ...all, [feature]: reason })),
      reload,
      announce: (message) => {
        // Cleared first so that the same message twice is announced twice.
        setAnnouncement('');
        setTimeout(() => setAnnouncement(message), 50);
      },
      signOut: onSignOut,
    }),
    [api, tools, instances, revision, loaded, live, unsupported, reload],
  );

  const page = route[0] ?? 'instances';
  const current = PAGES.find((entry) => entry.path === page);
  useEffect(() => {
    document.title = `${current?.title ?? (page === 'history' ? 'History' : 'Not found')} · DynMCP console`;
  }, [page]);

  return (
    <ConsoleContext.Provider value={value}>
      <a class="skip" href="#main" onClick={(event) => { event.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">DynMCP console</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((entry) => (
              <li key={entry.path}>
                <a href={`#/${entry.path}`} aria-current={entry.path === page ? 'page' : undefined}>
                  {entry.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <LiveBadge mode={live.mode} detail={live.detail} />
        <button type="button" class="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {loadError !== undefined && (
          <p class="error" role="alert">
            Could not read the definitions: {loadError}{' '}
            <button type="button" onClick={() => void reload()}>
              Retry
            </button>
          </p>
        )}
        {page === 'instances' && <InstancesPage selected={route[1]} />}
        {page === 'tools' && <ToolsPage selected={route[1]} />}
        {page === 'import' && <ImportPage />}
        {page === 'playground' && <PlaygroundPage instanceId={route[1]} toolId={route[2]} />}
        {page === 'status' && <StatusPage />}
        {page === 'history' && <HistoryPage kind={route[1] === 'ids' ? 'ids' : 'tds'} id={route[2] ?? ''} />}
        {current === undefined && page !== 'history' && (
          <p>
            No page here. <a href="#/instances">Go to the instances</a>.
          </p>
        )}
      </main>
      <div class="visually-hidden" role="status" aria-live="polite" data-testid="announcer">
        {announcement}
      </div>
    </ConsoleContext.Provider>
  );
}

const LIVE_TEXT: Record<LiveMode, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  offline: 'Offline',
};

function LiveBadge({ mode, detail }: { mode: LiveMode; detail: string | undefined }) {
  return (
    <span class={`live live-${mode}`} title={detail} data-testid="live" data-mode={mode}>
      <span aria-hidden="true">●</span> {LIVE_TEXT[mode]}
      {detail !== undefined && <span class="visually-hidden">: {detail}</span>}
    </span>
  );
}
