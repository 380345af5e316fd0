import type { LiveDefinitions, ServedTool } from '@dynmcp/common';
import { CALL_OUTCOMES, MCP_ERAS, MCP_METHODS, REJECTION_REASONS, type CallMetrics, type McpEra, type McpMethod, type RejectionReason } from '@dynmcp/core';
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import { DURATION_BUCKETS, STATUS_CLASSES, ToolCells } from './tool-cells.js';

/** The gateway's Prometheus metrics: what the MCP layer counts, and the exposition of `/metrics`. */
export interface GatewayMetrics {
  /** Handed to the MCP gateway and the MCP front, which count into it. */
  readonly calls: CallMetrics;
  /** The exposition in the Prometheus text format, and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
  /** This process's registry (a cluster worker hands it to the primary, see `cluster.ts`). */
  readonly registry: Registry;
  /** Stops following definitions changes. */
  close(): void;
}

/** What {@link createGatewayMetrics} reads at scrape time. */
export interface GatewayMetricsOptions {
  definitions: LiveDefinitions;
  /** Open 2025-era sessions (`McpGateway.sessionCount`); the gateway is built after the metrics. */
  sessions(): number;
  now?: () => number;
}

type Cells = Float64Array;

const DURATION = 'dynmcp_tool_call_duration_seconds';

/**
 * The call duration histogram, read from {@link ToolCells}: prom-client's own `Histogram.observe`
 * hashes the label values on every call, which the hot path should not pay. It hands the registry
 * what prom-client's histograms hand it (the registry reads `name`, `help`, `type` and `get()`;
 * `reset()` on `resetMetrics`), so the exposition is prom-client's. Its typings declare `Metric` as
 * the union of prom-client's own classes, hence the cast.
 */
function durationHistogram(source: () => Iterable<ToolCells>): Metric {
  const help = 'Duration of tool calls as the gateway measured them (validation, upstream call, result checks), in seconds.';
  const snapshot = async () => {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const cells of source()) {
      const { instance, tool } = cells;
      let cumulative = 0;
      DURATION_BUCKETS.forEach((bound, index) => {
        cumulative += cells.buckets[index] as number;
        values.push({ labels: { instance, tool, le: bound }, value: cumulative, metricName: `${DURATION}_bucket` });
      });
      values.push({ labels: { instance, tool, le: '+Inf' }, value: cells.count, metricName: `${DURATION}_bucket` });
      values.push({ labels: { instance, tool }, value: cells.sum, metricName: `${DURATION}_sum` });
      values.push({ labels: { instance, tool }, value: cells.count, metricName: `${DURATION}_count` });
    }
    return { name: DURATION, help, type: 'histogram', aggregator: 'sum', values };
  };
  const metric = { name: DURATION, help, type: 'histogram', aggregator: 'sum', get: snapshot, reset: () => undefined };
  return metric as unknown as Metric;
}

/** One cell per member of a fixed set, indexed by the member. */
function fixedCells<T extends string>(members: readonly T[]): Map<T, number> {
  return new Map(members.map((member) => [member, 0]));
}

/**
 * Creates the metrics of one gateway on a registry of its own (with prom-client's default process
 * and GC metrics). Every label value comes from the definitions or from a fixed set: a tool's
 * series exist once a call of a tool the definitions serve was counted, and are dropped when the
 * tool leaves its instance or the instance is deleted, so series follow the definitions.
 */
export function createGatewayMetrics(options: GatewayMetricsOptions): GatewayMetrics {
  const now = options.now ?? Date.now;
  const { definitions } = options;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const tools = new Map<string, Map<string, ToolCells>>(); // instance id → tool name → cells
  const requests = new Map<McpMethod, Map<McpEra, number>>(MCP_METHODS.map((method) => [method, fixedCells(MCP_ERAS)]));
  const rejections = fixedCells(REJECTION_REASONS);

  function* allCells(): Iterable<ToolCells> {
    for (const byTool of tools.values()) yield* byTool.values();
  }
  const served = (instance: string, tool: string) => definitions.instance(instance)?.toolsByName.has(tool) === true;
  function insert(cells: ToolCells) {
    let byTool = tools.get(cells.instance);
    if (byTool === undefined) tools.set(cells.instance, (byTool = new Map()));
    byTool.set(cells.tool, cells);
  }
  // A call that started before its tool left the instance is dropped with it; a tool served
  // again (the same definition put back) takes its cells back on its next call.
  function revive(cells: ToolCells) {
    if (!served(cells.instance, cells.tool) || tools.get(cells.instance)?.has(cells.tool) === true) return;
    cells.dropped = false;
    insert(cells);
  }
  function drop(instance: string, keep: (tool: string) => boolean) {
    const byTool = tools.get(instance);
    if (byTool === undefined) return;
    for (const [tool, cells] of byTool) {
      if (keep(tool)) continue;
      cells.dropped = true;
      byTool.delete(tool);
    }
    if (byTool.size === 0) tools.delete(instance);
  }
  const unsubscribe = definitions.onChange((change) => {
    for (const instance of change.deletedInstances) drop(instance, () => false);
    for (const instance of change.changedInstances) {
      const view = definitions.instance(instance);
      drop(instance, (tool) => view?.toolsByName.has(tool) === true);
    }
  });

  const calls: CallMetrics = {
    tool(instance: string, tool: ServedTool) {
      const name = tool.name;
      const known = tools.get(instance)?.get(name);
      if (known !== undefined) return known;
      const cells = new ToolCells(instance, name, revive);
      insert(cells);
      return cells;
    },
    request(method, era) {
      const byEra = requests.get(method) as Map<McpEra, number>;
      byEra.set(era, (byEra.get(era) as number) + 1);
    },
    rejected(reason: RejectionReason) {
      rejections.set(reason, (rejections.get(reason) as number) + 1);
    },
  };

  // Counters are filled from the cells at scrape time, so the hot path never touches prom-client.
  const toolCalls: Counter<string> = new Counter({
    name: 'dynmcp_tool_calls_total',
    help: 'Tool calls by instance, tool and outcome (ok, error, invalid_arguments, cancelled, result_too_large, no_executor, failed).',
    labelNames: ['instance', 'tool', 'outcome'],
    registers: [registry],
    collect: () => {
      toolCalls.reset();
      for (const cells of allCells()) copy(toolCalls, cells.outcomes, CALL_OUTCOMES, 'outcome', cells);
    },
  });
  const upstream: Counter<string> = new Counter({
    name: 'dynmcp_upstream_responses_total',
    help: 'Upstream answers to tool calls by instance, tool and status class (1xx to 5xx, none when no answer came).',
    labelNames: ['instance', 'tool', 'status_class'],
    registers: [registry],
    collect: () => {
      upstream.reset();
      for (const cells of allCells()) copy(upstream, cells.statuses, STATUS_CLASSES, 'status_class', cells);
    },
  });
  registry.registerMetric(durationHistogram(allCells));
  const mcpRequests: Counter<string> = new Counter({
    name: 'dynmcp_mcp_requests_total',
    help: 'MCP messages received on /mcp by method (a fixed list; anything else is "other") and protocol era.',
    labelNames: ['method', 'era'],
    registers: [registry],
    collect: () => {
      mcpRequests.reset();
      for (const [method, byEra] of requests) for (const [era, value] of byEra) mcpRequests.inc({ method, era }, value);
    },
  });
  const rejected: Counter<string> = new Counter({
    name: 'dynmcp_rejections_total',
    help: 'Requests and tool calls the gateway refused, by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect: () => {
      rejected.reset();
      for (const [reason, value] of rejections) rejected.inc({ reason }, value);
    },
  });
  const sessions: Gauge = new Gauge({
    name: 'dynmcp_sessions',
    help: 'Open 2025-era MCP sessions.',
    registers: [registry],
    collect: () => sessions.set(options.sessions()),
  });
  const revision: Gauge = new Gauge({
    name: 'dynmcp_config_revision',
    help: 'Store revision of the definitions this replica has applied.',
    // Cluster workers (server.workers): the group is as current as its least current worker.
    aggregator: 'min',
    registers: [registry],
    collect: () => revision.set(definitions.revision),
  });
  const connected: Gauge = new Gauge({
    name: 'dynmcp_store_connected',
    help: '1 while the definitions store is reachable and its feed current, else 0.',
    aggregator: 'min',
    registers: [registry],
    collect: () => connected.set(definitions.status().store.connected ? 1 : 0),
  });
  const syncAge: Gauge = new Gauge({
    name: 'dynmcp_store_sync_age_seconds',
    help: "Seconds since the store's feed was last known current.",
    aggregator: 'max',
    registers: [registry],
    collect: () => {
      const status = definitions.status();
      const lastSyncAt = status.store.lastSyncAt;
      syncAge.set(lastSyncAt === undefined ? status.staleMs / 1000 : Math.max(0, now() - lastSyncAt) / 1000);
    },
  });

  return {
    calls,
    registry,
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    close() {
      unsubscribe();
    },
  };
}

/** Sets `counter`'s series of one tool from its cells; members never counted are left out. */
function copy(counter: Counter<string>, values: Cells, members: readonly string[], label: string, cells: ToolCells) {
  members.forEach((member, index) => {
    const value = values[index] as number;
    if (value > 0) counter.inc({ instance: cells.instance, tool: cells.tool, [label]: member }, value);
  });
}
