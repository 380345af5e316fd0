import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, messageOf, seg } from '../api.js';
import { errorsByField, mergeErrors, problemsByField, type FieldMap } from '../field-errors.js';
import { servedToolIds, without, type ToolDefinition } from '../model.js';

/** The fields the editor shows one by one; the others are edited together as JSON. */
const SHOWN = ['id', 'name', 'title', 'description', 'input_schema', 'tds_ext_info'];
import { checkSchema } from '../schema-check.js';
import { useSchema } from '../schemas.js';
import { useConsole } from '../state.js';
import { describedBy, Field, FormError, IdOptions, JsonEditor } from '../components/ui.js';
import { DeleteButton } from '../components/delete-button.js';

/** Which editor field each top-level property of a tool (or a key a message names) belongs to. */
const TOOL_FIELDS: FieldMap = {
  id: 'tool-id',
  name: 'tool-name',
  title: 'tool-title',
  description: 'tool-description',
  input_schema: 'tool-input-schema',
  tds_ext_info: 'tool-upstream',
  ext_info: 'tool-upstream',
  domain: 'tool-upstream',
  method: 'tool-upstream',
  path: 'tool-upstream',
  output_schema: 'tool-extra',
  annotations: 'tool-extra',
  kind: 'tool-extra',
};

const NEW_TOOL: ToolDefinition = {
  name: '',
  description: '',
  input_schema: { type: 'object', properties: { query: { type: 'object', properties: { q: { type: 'string' } } } } },
  tds_ext_info: { domain: '', method: 'GET', path: '/search', required_params: {}, ext_info: {} },
};

export function ToolsPage({ selected }: { selected: string | undefined }) {
  const { tools, instances, loaded } = useConsole();
  const [search, setSearch] = useState('');
  const [instanceFilter, setInstanceFilter] = useState('');
  const ids = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const instance = instanceFilter === '' ? undefined : instances[instanceFilter];
    const within = instance === undefined ? Object.keys(tools) : servedToolIds(instance, tools);
    return within
      .filter((id) => {
        const tool = tools[id];
        if (tool === undefined) return false;
        return needle === '' || `${id} ${tool.name} ${tool.title ?? ''} ${tool.description ?? ''}`.toLowerCase().includes(needle);
      })
      .sort();
  }, [tools, instances, search, instanceFilter]);

  return (
    <section aria-labelledby="tools-title">
      <div class="page-head">
        <h1 id="tools-title">Tools</h1>
        <a class="button" href="#/tools/+new">
          New tool
        </a>
      </div>
      <div class="split">
        <div class="list-pane">
          <div class="filters">
            <Field id="tool-search" label="Search tools">
              <input id="tool-search" type="search" value={search} onInput={(event) => setSearch(event.currentTarget.value)} />
            </Field>
            <Field id="tool-instance-filter" label="Instance">
              <select id="tool-instance-filter" value={instanceFilter} onChange={(event) => setInstanceFilter(event.currentTarget.value)}>
                <option value="">All instances</option>
                <IdOptions ids={Object.keys(instances)} />
              </select>
            </Field>
          </div>
          {!loaded ? (
            <p>Loading…</p>
          ) : ids.length === 0 ? (
            <p>No tool matches.</p>
          ) : (
            <ul class="items" aria-label="Tools" data-testid="tool-list">
              {ids.map((id) => (
                <li key={id}>
                  <a href={`#/tools/${seg(id)}`} aria-current={id === selected ? 'true' : undefined}>
                    <strong>{tools[id]?.name}</strong> <span class="muted">{id}</span>
                  </a>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div class="detail-pane">
          {selected === '+new' ? (
            <ToolEditor key="+new" id={undefined} />
          ) : selected !== undefined && tools[selected] !== undefined ? (
            <ToolEditor key={selected} id={selected} />
          ) : selected !== undefined && loaded ? (
            <p>No tool "{selected}" (deleted?).</p>
          ) : (
            <p class="muted">Pick a tool to edit it, or create one.</p>
          )}
        </div>
      </div>
    </section>
  );
}

const pretty = (value: unknown) => JSON.stringify(value ?? {}, null, 2);

function parseJson(text: string, label: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: `${label} is not valid JSON: ${messageOf(error)}` };
  }
}

function ToolEditor({ id }: { id: string | undefined }) {
  const { api, tools, announce } = useConsole();
  const schema = useSchema(api, 'tds');
  const original = id === undefined ? NEW_TOOL : (tools[id] ?? NEW_TOOL);
  const [toolId, setToolId] = useState(id ?? '');
  const [name, setName] = useState(original.name);
  const [title, setTitle] = useState(original.title ?? '');
  const [description, setDescription] = useState(original.description ?? '');
  const [inputSchema, setInputSchema] = useState(pretty(original.input_schema));
  const [upstream, setUpstream] = useState(pretty(original.tds_ext_info));
  const [extra, setExtra] = useState(pretty(without(original, SHOWN)));
  const [apiErrors, setApiErrors] = useState<Record<string, string[]>>({});
  const [etag, setEtag] = useState<string | undefined>();
  const [usedBy, setUsedBy] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [touched, setTouched] = useState(false);

  // A change made elsewhere replaces what is shown, unless the operator is editing it.
  useEffect(() => {
    if (id === undefined || touched) return;
    setName(original.name);
    setTitle(original.title ?? '');
    setDescription(original.description ?? '');
    setInputSchema(pretty(original.input_schema));
    setUpstream(pretty(original.tds_ext_info));
    setExtra(pretty(without(original, SHOWN)));
  }, [original]);

  useEffect(() => {
    if (id === undefined) return;
    api.call<ToolDefinition>('GET', `/admin/tds/${seg(id)}`).then(
      (answer) => {
        setEtag(answer.etag);
        setUsedBy(Array.isArray(answer.meta?.used_by) ? (answer.meta.used_by as string[]) : []);
      },
      () => undefined,
    );
  }, [id, tools[id ?? '']]);

  // The definition as typed, and what is wrong with it before the gateway is asked.
  const draft = useMemo(() => {
    const parsed = {
      input: parseJson(inputSchema, 'The input schema'),
      upstream: parseJson(upstream, 'The upstream'),
      extra: parseJson(extra, 'The other fields'),
    };
    const local: Record<string, string[]> = {};
    if (parsed.input.error) local['tool-input-schema'] = [parsed.input.error];
    if (parsed.upstream.error) local['tool-upstream'] = [parsed.upstream.error];
    if (parsed.extra.error) local['tool-extra'] = [parsed.extra.error];
    const extraFields = typeof parsed.extra.value === 'object' && parsed.extra.value !== null ? parsed.extra.value : {};
    const definition: Record<string, unknown> = { ...extraFields, name, input_schema: parsed.input.value, tds_ext_info: parsed.upstream.value };
    if (title !== '') definition.title = title;
    if (description !== '') definition.description = description;
    if (id === undefined && toolId.trim() === '') (local['tool-id'] ??= []).push('An id is required.');
    let problems: Record<string, string[]> = {};
    if (schema !== undefined && Object.keys(local).length === 0) {
      problems = problemsByField(checkSchema(schema, { ...definition, ...(toolId === '' ? {} : { id: toolId }) }), TOOL_FIELDS);
    }
    return { definition, errors: mergeErrors(local, problems) };
  }, [toolId, name, title, description, inputSchema, upstream, extra, schema]);

  const shown = touched ? mergeErrors(draft.errors, apiErrors) : apiErrors;
  const errorsOf = (field: string) => shown[field];
  const edit = (set: (value: string) => void) => (value: string) => {
    set(value);
    setTouched(true);
    setApiErrors({});
  };

  const save = async (event: Event) => {
    event.preventDefault();
    setTouched(true);
    if (Object.keys(draft.errors).length > 0) {
      const first = Object.keys(draft.errors).find((field) => field !== '');
      if (first !== undefined) document.getElementById(first)?.focus();
      return;
    }
    setBusy(true);
    const targetId = id ?? toolId.trim();
    try {
      const answer = await api.call<ToolDefinition>(
        'PUT',
        `/admin/tds/${seg(targetId)}`,
        draft.definition,
        id === undefined ? { 'if-none-match': '*' } : etag === undefined ? {} : { 'if-match': etag },
      );
      setEtag(answer.etag);
      setApiErrors({});
      setTouched(false);
      announce(`Saved tool ${targetId}.`);
      if (id === undefined) window.location.hash = `#/tools/${seg(targetId)}`;
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        setApiErrors({ '': [id === undefined ? `A tool "${targetId}" exists already.` : 'This tool changed since you opened it: its newest version is shown; make your change again.'] });
      } else if (error instanceof ApiError && error.code === 'ID_MISMATCH') {
        setApiErrors({ 'tool-id': [error.message] });
      } else if (error instanceof ApiError && error.code === 'DUPLICATE_TOOL_NAME') {
        setApiErrors({ 'tool-name': [error.message] });
      } else {
        setApiErrors(errorsByField(messageOf(error), TOOL_FIELDS));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={save} noValidate aria-labelledby="tool-editor-title" class="editor">
      <h2 id="tool-editor-title">{id === undefined ? 'New tool' : `Tool ${id}`}</h2>
      {id !== undefined && (
        <p class="muted">
          Used by: {usedBy.length === 0 ? 'no instance' : usedBy.join(', ')} ·{' '}
          <a href={`#/history/tds/${seg(id)}`}>History</a> · <a href={`#/playground/-/${seg(id)}`}>Try it</a>
        </p>
      )}
      <Field id="tool-id" label="Id" hint="Letters, digits and _ . : -; fixed once created." errors={errorsOf('tool-id')}>
        <input id="tool-id" value={toolId} disabled={id !== undefined} onInput={(e) => edit(setToolId)(e.currentTarget.value)} {...describedBy('tool-id', errorsOf('tool-id'), true)} />
      </Field>
      <Field id="tool-name" label="Name" hint="The MCP tool name clients call." errors={errorsOf('tool-name')}>
        <input id="tool-name" value={name} onInput={(e) => edit(setName)(e.currentTarget.value)} {...describedBy('tool-name', errorsOf('tool-name'), true)} />
      </Field>
      <Field id="tool-title" label="Title (optional)" errors={errorsOf('tool-title')}>
        <input id="tool-title" value={title} onInput={(e) => edit(setTitle)(e.currentTarget.value)} {...describedBy('tool-title', errorsOf('tool-title'))} />
      </Field>
      <Field id="tool-description" label="Description" errors={errorsOf('tool-description')}>
        <textarea id="tool-description" rows={3} value={description} onInput={(e) => edit(setDescription)(e.currentTarget.value)} {...describedBy('tool-description', errorsOf('tool-description'))} />
      </Field>
      <JsonEditor id="tool-input-schema" label="Input schema (JSON Schema)" hint="http tools group arguments under path, query, body and headers." value={inputSchema} errors={errorsOf('tool-input-schema')} onInput={edit(setInputSchema)} />
      <JsonEditor id="tool-upstream" label="Upstream (tds_ext_info)" hint="domain, method, path, required_params, ext_info (headers, timeout_ms, result, limits…)." value={upstream} errors={errorsOf('tool-upstream')} onInput={edit(setUpstream)} />
      <JsonEditor id="tool-extra" label="Other fields (output_schema, annotations, kind)" rows={4} value={extra} errors={errorsOf('tool-extra')} onInput={edit(setExtra)} />
      <FormError message={shown['']?.join(' ')} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : id === undefined ? 'Create tool' : 'Save tool'}
        </button>
        {id !== undefined && <DeleteButton kind="tds" id={id} etag={etag} after="#/tools" what={`tool ${id}`} />}
      </div>
    </form>
  );
}
