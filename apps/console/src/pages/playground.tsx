import { useMemo, useState } from 'preact/hooks';
import { messageOf, seg } from '../api.js';
import { callThroughMcp, type McpExchange } from '../mcp-call.js';
import { servedToolIds } from '../model.js';
import { useConsole } from '../state.js';
import { Field, FormError, IdOptions, Json } from '../components/ui.js';
import { SchemaForm, type Arguments } from '../components/schema-form.js';

interface TestReport {
  tool: { id: string; name: string; revision: number; listed_by: string[] };
  valid: boolean;
  problems?: string;
  sent: boolean;
  request?: unknown;
  would_be_refused?: unknown;
  response?: unknown;
  result?: unknown;
}

type Outcome = { kind: 'test'; report: TestReport } | { kind: 'mcp'; exchange: McpExchange };

/** The name an instance serves a tool under: its override's, else the tool's own. */
function servedName(overrides: unknown, toolId: string, name: string): string {
  const override = (overrides as Record<string, { name?: string }> | undefined)?.[toolId];
  return typeof override?.name === 'string' ? override.name : name;
}

export function PlaygroundPage(props: { instanceId: string | undefined; toolId: string | undefined }) {
  const { api, tools, instances } = useConsole();
  const instanceId = props.instanceId === '-' ? '' : (props.instanceId ?? '');
  const instance = instanceId === '' ? undefined : instances[instanceId];
  const toolIds = useMemo(() => (instance === undefined ? Object.keys(tools).sort() : servedToolIds(instance, tools)), [instance, tools]);
  const toolId = props.toolId !== undefined && toolIds.includes(props.toolId) ? props.toolId : (toolIds[0] ?? '');
  const tool = tools[toolId];
  const [args, setArgs] = useState<Arguments>({});
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const go = (nextInstance: string, nextTool: string) => {
    setArgs({});
    setOutcome(undefined);
    setError(undefined);
    window.location.hash = `#/playground/${nextInstance === '' ? '-' : seg(nextInstance)}${nextTool === '' ? '' : `/${seg(nextTool)}`}`;
  };

  const run = async (how: 'dry' | 'send' | 'mcp') => {
    setBusy(true);
    setError(undefined);
    try {
      if (how === 'mcp') {
        const name = servedName(instance?.overrides, toolId, tool?.name ?? toolId);
        const exchange = await callThroughMcp(api.key, instanceId, name, args);
        setOutcome({ kind: 'mcp', exchange });
        if (exchange.status === 403) setError('The gateway refused this browser\'s Origin (403): add this host to server.allowedOrigins to call /mcp from the console.');
      } else {
        const answer = await api.call<TestReport>('POST', `/admin/tds/${seg(toolId)}/test`, { arguments: args, send: how === 'send' });
        setOutcome({ kind: 'test', report: answer.data });
      }
    } catch (caught) {
      setError(messageOf(caught));
    } finally {
      setBusy(false);
    }
  };

  const mcpReason = instance === undefined ? 'Pick an instance to call through its MCP endpoint.' : undefined;
  return (
    <section aria-labelledby="playground-title">
      <h1 id="playground-title">Playground</h1>
      <div class="row">
        <Field id="play-instance" label="Instance">
          <select id="play-instance" value={instanceId} onChange={(e) => go(e.currentTarget.value, '')}>
            <option value="">(none: test calls only)</option>
            <IdOptions ids={Object.keys(instances)} />
          </select>
        </Field>
        <Field id="play-tool" label="Tool">
          <select id="play-tool" value={toolId} onChange={(e) => go(instanceId, e.currentTarget.value)}>
            {toolIds.length === 0 && <option value="">(no tool)</option>}
            {toolIds.map((id) => (
              <option key={id} value={id}>
                {tools[id]?.name} ({id})
              </option>
            ))}
          </select>
        </Field>
      </div>
      {tool === undefined ? (
        <p class="muted">No tool to try{instance === undefined ? '' : ' in this instance'}.</p>
      ) : (
        <form
          key={toolId}
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            void run('send');
          }}
        >
          {tool.description !== undefined && <p>{tool.description}</p>}
          <SchemaForm schema={tool.input_schema} value={args} onChange={setArgs} />
          <p class="muted">
            Arguments: <code data-testid="play-arguments">{JSON.stringify(args)}</code>
          </p>
          <div class="actions">
            <button type="button" class="secondary" disabled={busy} onClick={() => void run('dry')}>
              Show request (dry run)
            </button>
            <button type="submit" disabled={busy}>
              Test call
            </button>
            <button type="button" disabled={busy || mcpReason !== undefined} aria-describedby={mcpReason === undefined ? undefined : 'mcp-why'} onClick={() => void run('mcp')}>
              Call through the MCP endpoint
            </button>
            {mcpReason !== undefined && (
              <span id="mcp-why" class="muted">
                {mcpReason}
              </span>
            )}
          </div>
          <FormError message={error} />
        </form>
      )}
      {outcome !== undefined && <OutcomeView outcome={outcome} />}
    </section>
  );
}

function OutcomeView({ outcome }: { outcome: Outcome }) {
  if (outcome.kind === 'mcp') {
    const { exchange } = outcome;
    return (
      <section aria-labelledby="outcome-title" data-testid="play-outcome">
        <h2 id="outcome-title">MCP call: HTTP {exchange.status}</h2>
        <h3>Request sent to the MCP endpoint</h3>
        <Json value={exchange.request} label="MCP request" />
        <h3>JSON-RPC answer</h3>
        <Json value={exchange.response} label="MCP answer" />
      </section>
    );
  }
  const { report } = outcome;
  return (
    <section aria-labelledby="outcome-title" data-testid="play-outcome">
      <h2 id="outcome-title">
        {report.sent ? 'Test call' : 'Dry run'} of {report.tool.name} ({report.tool.id}, revision {report.tool.revision})
      </h2>
      {!report.valid && (
        <p class="error" role="alert">
          The arguments do not match the input schema: {report.problems}
        </p>
      )}
      {report.would_be_refused !== undefined && <Json value={report.would_be_refused} label="Refused by the egress policy" />}
      {report.request !== undefined && (
        <>
          <h3>Upstream request{report.sent ? ' sent' : ' (not sent)'}</h3>
          <Json value={report.request} label="Upstream request" />
        </>
      )}
      {report.response !== undefined && (
        <>
          <h3>Upstream response</h3>
          <Json value={report.response} label="Upstream response" />
        </>
      )}
      {report.result !== undefined && (
        <>
          <h3>Tool result</h3>
          <Json value={report.result} label="Tool result" />
        </>
      )}
    </section>
  );
}
