import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, messageOf, seg } from '../api.js';
import { clientSnippets, mcpUrl } from '../client-config.js';
import { errorsByField, mergeErrors, problemsByField, type FieldMap } from '../field-errors.js';
import { servedToolIds, without, type InstanceDefinition } from '../model.js';
import { checkSchema } from '../schema-check.js';
import { useSchema } from '../schemas.js';
import { useConsole } from '../state.js';
import { CopyButton, describedBy, Field, FormError, Json } from '../components/ui.js';
import { DeleteButton } from '../components/delete-button.js';

const INSTANCE_FIELDS: FieldMap = {
  id: 'instance-id',
  name: 'instance-name',
  tool_ids: 'instance-tools',
  overrides: 'instance-tools',
  tool_mode: 'instance-mode',
  public: 'instance-public',
};

export function InstancesPage({ selected }: { selected: string | undefined }) {
  const { instances, tools, loaded } = useConsole();
  const ids = Object.keys(instances).sort();
  return (
    <section aria-labelledby="instances-title">
      <div class="page-head">
        <h1 id="instances-title">Instances</h1>
        <a class="button" href="#/instances/+new">
          New instance
        </a>
      </div>
      {!loaded ? (
        <p>Loading…</p>
      ) : ids.length === 0 ? (
        <p>No instance yet. Create one, or import an OpenAPI document.</p>
      ) : (
        <table data-testid="instance-table">
          <caption class="visually-hidden">Instances</caption>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Name</th>
              <th scope="col">Tools</th>
              <th scope="col">MCP URL</th>
            </tr>
          </thead>
          <tbody>
            {ids.map((id) => {
              const instance = instances[id] as InstanceDefinition;
              return (
                <tr key={id} aria-current={id === selected ? 'true' : undefined}>
                  <th scope="row">
                    <a href={`#/instances/${seg(id)}`}>{id}</a>
                  </th>
                  <td>{instance.name}</td>
                  <td>{servedToolIds(instance, tools).length}</td>
                  <td>
                    <code>/mcp/{id}</code> <CopyButton text={mcpUrl(window.location.origin, id)} what={`the MCP URL of ${id}`} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {selected === '+new' ? (
        <InstanceEditor key="+new" id={undefined} />
      ) : selected !== undefined && instances[selected] !== undefined ? (
        <div class="pair">
          <InstanceEditor key={selected} id={selected} />
          <Connect id={selected} instance={instances[selected] as InstanceDefinition} />
        </div>
      ) : selected !== undefined && loaded ? (
        <p>No instance "{selected}" (deleted?).</p>
      ) : null}
    </section>
  );
}

function InstanceEditor({ id }: { id: string | undefined }) {
  const { api, instances, tools, announce } = useConsole();
  const schema = useSchema(api, 'ids');
  const original: InstanceDefinition = id === undefined ? { name: '', tool_ids: [] } : (instances[id] ?? { name: '', tool_ids: [] });
  const [instanceId, setInstanceId] = useState(id ?? '');
  const [name, setName] = useState(original.name);
  const [toolIds, setToolIds] = useState<string[]>(original.tool_ids);
  const [mode, setMode] = useState(original.tool_mode ?? 'list');
  const [isPublic, setPublic] = useState(original.public === true);
  const [search, setSearch] = useState('');
  const [apiErrors, setApiErrors] = useState<Record<string, string[]>>({});
  const [etag, setEtag] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [touched, setTouched] = useState(false);

  // A change made elsewhere replaces what is shown, unless the operator is editing it.
  useEffect(() => {
    if (id === undefined || touched) return;
    setName(original.name);
    setToolIds(original.tool_ids);
    setMode(original.tool_mode ?? 'list');
    setPublic(original.public === true);
  }, [original]);

  useEffect(() => {
    if (id === undefined) return;
    api.call('GET', `/admin/ids/${seg(id)}`).then((answer) => setEtag(answer.etag), () => undefined);
  }, [id, instances[id ?? '']]);

  const definition = useMemo(() => {
    const next: Record<string, unknown> = { ...without(original, ['id']), name, tool_ids: toolIds, tool_mode: mode };
    if (isPublic) next.public = true;
    else delete next.public;
    if (mode === 'list' && original.tool_mode === undefined) delete next.tool_mode;
    return next;
  }, [name, toolIds, mode, isPublic]);

  const localErrors = useMemo(() => {
    const local: Record<string, string[]> = {};
    if (id === undefined && instanceId.trim() === '') local['instance-id'] = ['An id is required.'];
    const problems = schema === undefined ? [] : checkSchema(schema, { ...definition, ...(instanceId === '' ? {} : { id: instanceId }) });
    return mergeErrors(local, problemsByField(problems, INSTANCE_FIELDS));
  }, [definition, instanceId, schema]);
  const shown = touched ? mergeErrors(localErrors, apiErrors) : apiErrors;

  const matches = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return Object.keys(tools)
      .filter((toolId) => {
        const tool = tools[toolId];
        return tool !== undefined && (needle === '' || `${toolId} ${tool.name} ${tool.description ?? ''}`.toLowerCase().includes(needle));
      })
      .sort();
  }, [tools, search]);
  const selectors = toolIds.filter((entry) => entry.endsWith('*') || tools[entry] === undefined);

  const toggle = (toolId: string, on: boolean) => {
    setTouched(true);
    setApiErrors({});
    setToolIds((current) => (on ? [...current.filter((entry) => entry !== toolId), toolId] : current.filter((entry) => entry !== toolId)));
  };

  const save = async (event: Event) => {
    event.preventDefault();
    setTouched(true);
    if (Object.keys(localErrors).length > 0) return;
    const targetId = id ?? instanceId.trim();
    setBusy(true);
    try {
      const answer = await api.call(
        'PUT',
        `/admin/ids/${seg(targetId)}`,
        definition,
        id === undefined ? { 'if-none-match': '*' } : etag === undefined ? {} : { 'if-match': etag },
      );
      setEtag(answer.etag);
      setTouched(false);
      setApiErrors({});
      announce(`Saved instance ${targetId}.`);
      if (id === undefined) window.location.hash = `#/instances/${seg(targetId)}`;
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        setApiErrors({ '': [id === undefined ? `An instance "${targetId}" exists already.` : 'This instance changed since you opened it; make your change again.'] });
      } else if (error instanceof ApiError && error.code === 'DUPLICATE_TOOL_NAME') {
        setApiErrors({ 'instance-tools': [error.message] });
      } else {
        setApiErrors(errorsByField(messageOf(error), INSTANCE_FIELDS));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={save} noValidate class="editor" aria-labelledby="instance-editor-title">
      <h2 id="instance-editor-title">{id === undefined ? 'New instance' : `Instance ${id}`}</h2>
      {id !== undefined && (
        <p class="muted">
          <a href={`#/history/ids/${seg(id)}`}>History</a> · <a href={`#/playground/${seg(id)}`}>Playground</a>
        </p>
      )}
      <Field id="instance-id" label="Id" hint="Served at /mcp/<id>; fixed once created." errors={shown['instance-id']}>
        <input id="instance-id" value={instanceId} disabled={id !== undefined} onInput={(e) => { setInstanceId(e.currentTarget.value); setTouched(true); }} {...describedBy('instance-id', shown['instance-id'], true)} />
      </Field>
      <Field id="instance-name" label="Name" errors={shown['instance-name']}>
        <input id="instance-name" value={name} onInput={(e) => { setName(e.currentTarget.value); setTouched(true); setApiErrors({}); }} {...describedBy('instance-name', shown['instance-name'])} />
      </Field>
      <Field id="instance-mode" label="Tool mode" errors={shown['instance-mode']}>
        <select id="instance-mode" value={mode} onChange={(e) => { setMode(e.currentTarget.value as 'list' | 'search'); setTouched(true); }}>
          <option value="list">list: clients list every tool</option>
          <option value="search">search: clients search the catalogue</option>
        </select>
      </Field>
      <div class="field checkbox">
        <input id="instance-public" type="checkbox" checked={isPublic} onChange={(e) => { setPublic(e.currentTarget.checked); setTouched(true); }} />
        <label for="instance-public">Public: serve to anyone, without credentials</label>
      </div>
      <fieldset class="tool-picker" aria-describedby={shown['instance-tools'] ? 'instance-tools-error' : undefined}>
        <legend>
          Tools ({toolIds.length} selected)
        </legend>
        <Field id="instance-tools" label="Search tools to add">
          <input id="instance-tools" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </Field>
        <ul class="picker" data-testid="tool-picker">
          {matches.map((toolId) => (
            <li key={toolId}>
              <input
                type="checkbox"
                id={`pick-${toolId}`}
                checked={toolIds.includes(toolId)}
                onChange={(e) => toggle(toolId, e.currentTarget.checked)}
              />
              <label for={`pick-${toolId}`}>
                {tools[toolId]?.name} <span class="muted">({toolId})</span>
              </label>
            </li>
          ))}
          {matches.length === 0 && <li class="muted">No tool matches.</li>}
        </ul>
        {selectors.length > 0 && (
          <p class="muted">Also listed (selectors or tools not defined yet): {selectors.join(', ')}</p>
        )}
        {shown['instance-tools'] !== undefined && (
          <ul class="error" id="instance-tools-error" data-testid="instance-tools-error">
            {shown['instance-tools'].map((error) => (
              <li key={error}>{error}</li>
            ))}
          </ul>
        )}
      </fieldset>
      <FormError message={shown['']?.join(' ')} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : id === undefined ? 'Create instance' : 'Save instance'}
        </button>
        {id !== undefined && <DeleteButton kind="ids" id={id} etag={etag} after="#/instances" what={`instance ${id}`} />}
      </div>
    </form>
  );
}

function Connect({ id, instance }: { id: string; instance: InstanceDefinition }) {
  const origin = window.location.origin;
  const url = mcpUrl(origin, id);
  return (
    <section class="connect" aria-labelledby="connect-title">
      <h2 id="connect-title">Connect a client</h2>
      <p>
        MCP URL: <code data-testid="mcp-url">{url}</code> <CopyButton text={url} what={`the MCP URL of ${id}`} />
      </p>
      {instance.public !== true && <p class="muted">Replace &lt;your-key&gt; with a key that may use this instance.</p>}
      {clientSnippets(origin, id, instance.public === true).map((snippet) => (
        <div class="snippet" key={snippet.id}>
          <h3>
            {snippet.title} <span class="muted">({snippet.where})</span>
          </h3>
          <Json value={snippet.text} label={`${snippet.title} configuration`} />
          <CopyButton text={snippet.text} what={`the ${snippet.title} configuration`} />
        </div>
      ))}
    </section>
  );
}
