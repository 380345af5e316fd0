import { useState } from 'preact/hooks';
import { messageOf, seg } from '../api.js';
import { useConsole } from '../state.js';
import { describedBy, Field, FormError } from '../components/ui.js';

interface ImportPlan {
  revision: number;
  instance_id: string;
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: string[];
  skipped: Array<{ operation: string; reason: string }>;
  warnings: string[];
}

export function ImportPage() {
  const { api, announce, unsupported, markUnsupported } = useConsole();
  const [documentText, setDocumentText] = useState('');
  const [instanceId, setInstanceId] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [prefix, setPrefix] = useState('');
  const [plan, setPlan] = useState<{ plan: ImportPlan; applied: boolean } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const readFile = async (file: File | undefined) => {
    if (file === undefined) return;
    setDocumentText(await file.text());
    setPlan(undefined);
  };

  const body = (dryRun: boolean) => {
    // JSON text goes as an object (smaller errors point into it); YAML as text, which the gateway parses.
    let document: unknown = documentText;
    try {
      document = JSON.parse(documentText);
    } catch {
      document = documentText;
    }
    return {
      document,
      instance_id: instanceId.trim(),
      ...(baseUrl.trim() === '' ? {} : { base_url: baseUrl.trim() }),
      ...(prefix.trim() === '' ? {} : { tool_id_prefix: prefix.trim() }),
      dry_run: dryRun,
    };
  };

  const run = async (dryRun: boolean) => {
    setError(undefined);
    if (documentText.trim() === '') return setError('Paste or upload an OpenAPI document first.');
    if (instanceId.trim() === '') return setError('Name the instance the tools go to.');
    setBusy(true);
    try {
      const answer = await api.call<ImportPlan>('POST', '/admin/import/openapi', body(dryRun));
      setPlan({ plan: answer.data, applied: !dryRun });
      if (!dryRun) announce(`Imported into instance ${answer.data.instance_id} at revision ${answer.data.revision}.`);
    } catch (caught) {
      const message = messageOf(caught);
      if ((caught as { status?: number }).status === 501) markUnsupported('import', message);
      setError(message);
    } finally {
      setBusy(false);
    }
  };

  if (unsupported.import !== undefined) {
    return (
      <section aria-labelledby="import-title">
        <h1 id="import-title">Import</h1>
        <p>This gateway cannot import OpenAPI documents: {unsupported.import}</p>
      </section>
    );
  }
  return (
    <section aria-labelledby="import-title">
      <h1 id="import-title">Import an OpenAPI document</h1>
      <p>Every operation becomes a tool of the instance. Preview first: nothing is written until you apply.</p>
      <form
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          void run(true);
        }}
      >
        <Field id="import-file" label="OpenAPI document file (JSON or YAML)">
          <input id="import-file" type="file" accept=".json,.yaml,.yml,application/json,application/yaml,text/yaml" onChange={(e) => void readFile(e.currentTarget.files?.[0])} />
        </Field>
        <Field id="import-document" label="…or paste the document">
          <textarea id="import-document" class="code" rows={12} spellcheck={false} value={documentText} onInput={(e) => { setDocumentText(e.currentTarget.value); setPlan(undefined); }} />
        </Field>
        <div class="row">
          <Field id="import-instance" label="Instance id" hint="Created when absent; served at /mcp/<id>.">
            <input id="import-instance" value={instanceId} onInput={(e) => { setInstanceId(e.currentTarget.value); setPlan(undefined); }} {...describedBy('import-instance', undefined, true)} />
          </Field>
          <Field id="import-base-url" label="Upstream base URL (optional)" hint="Replaces the document's servers.">
            <input id="import-base-url" value={baseUrl} onInput={(e) => { setBaseUrl(e.currentTarget.value); setPlan(undefined); }} {...describedBy('import-base-url', undefined, true)} />
          </Field>
          <Field id="import-prefix" label="Tool id prefix (optional)" hint="Default: <instance id>.">
            <input id="import-prefix" value={prefix} onInput={(e) => { setPrefix(e.currentTarget.value); setPlan(undefined); }} {...describedBy('import-prefix', undefined, true)} />
          </Field>
        </div>
        <FormError message={error} />
        <div class="actions">
          <button type="submit" disabled={busy}>
            Preview import
          </button>
          <button type="button" disabled={busy || plan === undefined || plan.applied} onClick={() => void run(false)} aria-describedby="apply-why">
            Apply import
          </button>
          {(plan === undefined || plan.applied) && (
            <span id="apply-why" class="muted">
              {plan === undefined ? 'Preview first.' : 'Applied.'}
            </span>
          )}
        </div>
      </form>
      {plan !== undefined && <PlanView plan={plan.plan} applied={plan.applied} />}
    </section>
  );
}

function PlanView({ plan, applied }: { plan: ImportPlan; applied: boolean }) {
  const groups = [
    ['Created', plan.created],
    ['Updated', plan.updated],
    ['Deleted', plan.deleted],
    ['Unchanged', plan.unchanged],
  ] as const;
  return (
    <section class="plan" aria-labelledby="plan-title" data-testid="import-plan">
      <h2 id="plan-title">
        {applied ? `Applied at revision ${plan.revision}` : 'Preview (nothing written yet)'}: instance{' '}
        {applied ? <a href={`#/instances/${seg(plan.instance_id)}`}>{plan.instance_id}</a> : plan.instance_id}
      </h2>
      <div class="plan-groups">
        {groups.map(([title, ids]) => (
          <div key={title}>
            <h3>
              {title} ({ids.length})
            </h3>
            {ids.length > 0 && (
              <ul>
                {ids.map((id) => (
                  <li key={id}>
                    <code>{id}</code>
                  </li>
                ))}
              </ul>
            )}
          </div>
        ))}
      </div>
      <h3>Skipped ({plan.skipped.length})</h3>
      {plan.skipped.length > 0 && (
        <ul>
          {plan.skipped.map((entry) => (
            <li key={entry.operation}>
              <code>{entry.operation}</code>: {entry.reason}
            </li>
          ))}
        </ul>
      )}
      <h3>Warnings ({plan.warnings.length})</h3>
      {plan.warnings.length > 0 && (
        <ul>
          {plan.warnings.map((warning, index) => (
            <li key={index}>{warning}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
