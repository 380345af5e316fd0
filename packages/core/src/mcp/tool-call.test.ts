import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildInstanceView,
  compileToolDefinition,
  createSchemaCompiler,
  servedAsIs,
  toolListing,
  type InstanceView,
  type ServedTool,
} from '@dynmcp/common';
import { silentLogger, type Logger, type ToolCallContext, type ToolExecutor, type ToolResult } from '@dynmcp/plugin';
import { Cancellation } from '../cancellation.js';
import { createCallLimiter } from './call-limits.js';
import type { CallMetrics, CallOutcome, RejectionReason } from './call-metrics.js';
import { createToolCaller } from './tool-call.js';

const compiler = createSchemaCompiler();

function registryTool(definition: Record<string, unknown>, revision = 1): ServedTool {
  const compiled = compileToolDefinition(definition, compiler);
  return servedAsIs({ ...compiled, revision, listing: toolListing(compiled.definition) });
}

/** The view of an instance `inst` serving `tools`, for the call limiter. */
function viewOf(...tools: ServedTool[]): InstanceView {
  const byId = new Map(tools.map((tool) => [tool.definition.id, tool.tool]));
  return buildInstanceView({ id: 'inst', name: 'inst', tool_ids: [...byId.keys()] }, 'streamable-stateful', byId, silentLogger);
}

const definition = (extra: Record<string, unknown> = {}) => ({
  id: 'report',
  name: 'report',
  input_schema: { type: 'object', properties: { n: { type: 'integer' } } },
  tds_ext_info: { domain: 'api.example.com', method: 'GET', path: '/report' },
  ...extra,
});

/** An executor answering `result`, after running `during(context)`. */
function executor(result: ToolResult, during: (context: ToolCallContext) => void = () => undefined): ToolExecutor {
  return {
    kind: 'http',
    async execute(_tool, _args, context) {
      during(context);
      return { result, upstreamStatus: 200 };
    },
  };
}

const request = () => ({ cancellation: new Cancellation(), requestId: 'r-1' });
const outputSchema = {
  type: 'object',
  properties: { total: { type: 'integer' } },
  required: ['total'],
};

describe('createToolCaller', () => {
  it('reports every call to its metrics, resolving a tool\'s instruments once per tool version and instance', async () => {
    const resolved: string[] = [];
    const calls: Array<[string, CallOutcome, number | undefined]> = [];
    const rejections: RejectionReason[] = [];
    const metrics: CallMetrics = {
      tool(instanceId, tool) {
        const key = `${instanceId}/${tool.name}@${tool.tool.revision}`;
        resolved.push(key);
        return { called: (outcome, seconds, status) => (assert.ok(seconds >= 0), calls.push([key, outcome, status])) };
      },
      request: () => undefined,
      rejected: (reason) => rejections.push(reason),
    };
    const call = createToolCaller({ executorFor: () => executor({ content: [] }), logger: silentLogger, metrics });
    const v1 = registryTool(definition());
    await call('inst', v1, { n: 1 }, request());
    await call('inst', v1, { n: 'x' }, request());
    await call('other', v1, {}, request());
    const v2 = registryTool(definition(), 2);
    await call('inst', v2, {}, request());
    assert.deepEqual(resolved, ['inst/report@1', 'other/report@1', 'inst/report@2']);
    assert.deepEqual(calls, [
      ['inst/report@1', 'ok', 200],
      ['inst/report@1', 'invalid_arguments', undefined],
      ['other/report@1', 'ok', 200],
      ['inst/report@2', 'ok', 200],
    ]);
    assert.deepEqual(rejections, ['validation']);
  });

  it('answers invalid arguments with an error result and never runs the executor', async () => {
    let ran = false;
    const call = createToolCaller({ executorFor: () => executor({ content: [] }, () => (ran = true)), logger: silentLogger });
    const result = await call('inst', registryTool(definition()), { n: 'x' }, request());
    assert.equal(result?.isError, true);
    assert.match((result?.content[0] as { text: string }).text, /Invalid arguments for tool "report": \/n must be integer/);
    assert.equal(ran, false);
  });

  it('checks structuredContent against output_schema: conforming passes, missing or wrong is an error', async () => {
    const tool = registryTool(definition({ output_schema: outputSchema }));
    const run = (result: ToolResult) =>
      createToolCaller({ executorFor: () => executor(result), logger: silentLogger })('inst', tool, {}, request());

    const ok = await run({ content: [{ type: 'text', text: '{"total":3}' }], structuredContent: { total: 3 } });
    assert.deepEqual(ok, { content: [{ type: 'text', text: '{"total":3}' }], structuredContent: { total: 3 } });

    const wrong = await run({ content: [{ type: 'text', text: '{"total":"3"}' }], structuredContent: { total: '3' } });
    assert.equal(wrong?.isError, true);
    assert.equal(wrong?.structuredContent, undefined, 'an error result claims no conforming structured content');
    assert.equal((wrong?.content[0] as { text: string }).text, '{"total":"3"}', 'the upstream answer stays readable');
    assert.match((wrong?.content[1] as { text: string }).text, /does not match the tool's output_schema: \/total must be integer/);

    const missing = await run({ content: [{ type: 'text', text: '[1]' }] });
    assert.equal(missing?.isError, true);
    assert.match((missing?.content[1] as { text: string }).text, /declares an output_schema but the upstream answer is not a JSON object/);

    // Upstream errors pass as they are: there is no answer to check.
    const failed = await run({ content: [{ type: 'text', text: 'upstream answered 500' }], isError: true });
    assert.deepEqual(failed, { content: [{ type: 'text', text: 'upstream answered 500' }], isError: true });
  });

  it('forwards progress only when it increases, and log messages as given', async () => {
    const progress: Array<[number, number | undefined]> = [];
    const logs: Array<[string, unknown]> = [];
    const call = createToolCaller({
      executorFor: () =>
        executor({ content: [] }, (context) => {
          for (const value of [0, 50, 50, 20, 100]) context.progress(value, 100);
          context.log('info', 'working');
          context.log('debug', { step: 2 });
        }),
      logger: silentLogger,
    });
    await call('inst', registryTool(definition()), {}, {
      ...request(),
      progress: (value, total) => progress.push([value, total]),
      log: (level, data) => logs.push([level, data]),
    });
    assert.deepEqual(progress, [
      [0, 100],
      [50, 100],
      [100, 100],
    ]);
    assert.deepEqual(logs, [
      ['info', 'working'],
      ['debug', { step: 2 }],
    ]);
  });

  it('gives executors no-op channels when the client asked for no progress or logs, and the call\'s cancellation as a signal too', async () => {
    const cancellation = new Cancellation();
    let seen: AbortSignal | undefined;
    let cancelledBeforeReturn: boolean | undefined;
    const call = createToolCaller({
      executorFor: () =>
        executor({ content: [] }, (context) => {
          context.progress(1);
          context.log('error', 'x');
          seen = context.signal;
          assert.equal(context.cancellation, cancellation);
          assert.equal(seen.aborted, false);
          cancellation.abort();
          cancelledBeforeReturn = seen.aborted;
        }),
      logger: silentLogger,
    });
    await call('inst', registryTool(definition()), {}, { cancellation, requestId: undefined });
    assert.equal(cancelledBeforeReturn, true);
    // The signal is made once per call: reading it again gives the same one.
    assert.equal(seen, cancellation.signal);
  });

  it("gives each call's executor a logger bound to that call, which a copy of the context (`{ ...context }`) keeps, with the signal", async () => {
    const lines: Array<[Record<string, unknown>, string]> = [];
    const logger = (bindings: Record<string, unknown>): Logger => ({
      ...silentLogger,
      child: (more) => logger({ ...bindings, ...more }),
      debug: (message) => lines.push([bindings, message]),
    });
    const cancellations = [new Cancellation(), new Cancellation()];
    const signals: AbortSignal[] = [];
    const call = createToolCaller({
      executorFor: () =>
        executor({ content: [] }, (context) => {
          const copy = { ...context };
          copy.logger.debug('from the copy');
          context.logger.debug('from the context');
          signals.push(copy.signal);
        }),
      logger: logger({}),
    });
    const tool = registryTool(definition());
    await call('inst', tool, {}, { cancellation: cancellations[0]!, requestId: 'r1' });
    await call('inst', tool, {}, { cancellation: cancellations[1]!, requestId: 'r2' });
    assert.deepEqual(
      lines.map(([bindings, message]) => [bindings.requestId, bindings.tool, bindings.instanceId, message]),
      [
        ['r1', 'report', 'inst', 'from the copy'],
        ['r1', 'report', 'inst', 'from the context'],
        ['r2', 'report', 'inst', 'from the copy'],
        ['r2', 'report', 'inst', 'from the context'],
      ],
    );
    assert.deepEqual(signals, cancellations.map((cancellation) => cancellation.signal));
  });

  it('replaces a result over maxResultBytes, as sent, with an error result saying so', async () => {
    // 9 000 control characters: 9 000 units of text, 54 000 bytes once JSON-escaped.
    const answer = { content: [{ type: 'text' as const, text: '\u0001'.repeat(9000) }] };
    const call = (maxResultBytes: number) =>
      createToolCaller({ executorFor: () => executor(answer), logger: silentLogger, maxResultBytes })(
        'inst',
        registryTool(definition()),
        {},
        request(),
      );
    const fits = await call(60_000);
    assert.equal(fits?.isError, undefined);
    const tooLarge = await call(50_000);
    assert.equal(tooLarge?.isError, true);
    assert.equal(tooLarge?.content.length, 1);
    assert.match((tooLarge?.content[0] as { text: string }).text, /^Tool "report" produced \d+ bytes as sent, more than this gateway's limit of 50000 bytes \(mcp.maxResultBytes\)/);
  });

  it('holds one unit of the request lease while the call runs', async () => {
    const limiter = createCallLimiter({ principal: { ratePerMinute: 0, concurrency: 1 } });
    const tool = registryTool(definition());
    const view = viewOf(tool);
    let admittedDuringCall: boolean | undefined;
    const slow: ToolExecutor = {
      kind: 'http',
      async execute() {
        await new Promise((resolve) => setTimeout(resolve, 10));
        admittedDuringCall = limiter.admit('a', view, ['report']).admitted;
        return { result: { content: [] } };
      },
    };
    const call = createToolCaller({ executorFor: () => slow, logger: silentLogger });
    const admission = limiter.admit('a', view, ['report']);
    assert.ok(admission.admitted && admission.lease);
    // The response closed before the call ended: the running call still holds its unit.
    const running = call('inst', tool, {}, { ...request(), lease: admission.lease });
    admission.lease.end();
    await running;
    assert.equal(admittedDuringCall, false);
    assert.equal(limiter.admit('a', view, ['report']).admitted, true, 'released when the call ended');
  });
});
