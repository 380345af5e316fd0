import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Logger } from '@dynmcp/plugin';
import type { GatewayMetrics } from './metrics/gateway-metrics.js';

/**
 * `server.workers` as a number of processes: `auto` is one per CPU core the process may use
 * (`os.availableParallelism`, which honours CPU affinity such as `taskset`).
 */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? Math.max(1, availableParallelism()) : setting;
}

/** True in a process the cluster primary forked. */
export const isClusterWorker = (): boolean => cluster.isWorker;

// Messages between the primary and its workers, over the cluster's IPC channel. Every message of
// ours carries `dynmcp`, so prom-client's or the cluster module's own messages are never mistaken.
type WorkerMessage =
  | { dynmcp: 'started' }
  | { dynmcp: 'metrics-request'; id: number }
  | { dynmcp: 'metrics-json'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] };
type PrimaryMessage =
  | { dynmcp: 'metrics-collect'; id: number }
  | { dynmcp: 'metrics-response'; id: number; body?: string; contentType?: string; error?: string };

const isOurs = (message: unknown): message is { dynmcp: string } =>
  typeof message === 'object' && message !== null && typeof (message as { dynmcp?: unknown }).dynmcp === 'string';

/** Options of {@link runClusterPrimary}. */
export interface ClusterPrimaryOptions {
  workers: number;
  logger: Logger;
  /**
   * How long the primary waits, after SIGTERM or SIGINT, for every worker's graceful stop; workers
   * still running then are killed (SIGKILL) and the primary exits 1.
   */
  shutdownDeadlineMs: number;
  /** Variables added to every worker's environment (e.g. a secret the workers must share). */
  env?: Record<string, string>;
  /** Whether workers serve metrics (`metrics.enabled`): the primary then gathers them on request. */
  metrics: boolean;
  /** Tests shorten these. */
  restartBackoff?: { initialMs: number; maxMs: number; healthyAfterMs: number };
}

const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000, healthyAfterMs: 10_000 };
// A worker that does not hand over its metrics within this is left out of that scrape.
const COLLECT_TIMEOUT_MS = 2_000;

/** One worker slot: the worker in it, and how often it died young in a row. */
interface Slot {
  worker?: Worker;
  startedAt: number;
  started: boolean;
  failures: number;
  timer?: NodeJS.Timeout;
}

/**
 * The cluster primary: forks `workers` processes that each run the whole gateway on the shared
 * port (node:cluster hands connections to them in turn), and does no request work itself. It
 * forks a worker again when one dies without being asked to (after 0.5 s doubling to 30 s while
 * workers keep dying within 10 s of their start), passes SIGTERM/SIGINT on to every worker (their
 * graceful stop, see `main.ts`) and exits once all have stopped, or kills them at the deadline. It
 * gathers the workers' metrics into one exposition when a worker is asked for `GET /metrics`.
 * Resolves with the exit code once every worker has stopped.
 */
export function runClusterPrimary(options: ClusterPrimaryOptions): Promise<number> {
  const { logger } = options;
  const backoff = options.restartBackoff ?? DEFAULT_BACKOFF;
  const slots: Slot[] = Array.from({ length: options.workers }, () => ({ startedAt: 0, started: false, failures: 0 }));
  const slotOf = new Map<Worker, Slot>();
  const group = options.metrics ? createGroupMetrics(options.workers) : undefined;
  let everStarted = false;
  let stopping = false;
  let exitCode = 0;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  function fork(slot: Slot): void {
    slot.timer = undefined;
    if (stopping) return;
    const worker = cluster.fork(options.env ?? {});
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.started = false;
    slotOf.set(worker, slot);
    worker.on('message', (message: unknown) => onMessage(worker, slot, message));
  }

  function onMessage(worker: Worker, slot: Slot, message: unknown): void {
    if (!isOurs(message)) return;
    const typed = message as WorkerMessage;
    if (typed.dynmcp === 'started') {
      slot.started = true;
      everStarted = true;
      logger.info('worker started', { workerPid: worker.process.pid });
    } else if (typed.dynmcp === 'metrics-request' && group !== undefined) {
      group.render(liveWorkers()).then(
        ({ body, contentType }) => send(worker, { dynmcp: 'metrics-response', id: typed.id, body, contentType }),
        (error: unknown) => send(worker, { dynmcp: 'metrics-response', id: typed.id, error: (error as Error).message }),
      );
    } else if (typed.dynmcp === 'metrics-json') {
      group?.received(typed.id, typed.metrics);
    }
  }

  const liveWorkers = () => slots.flatMap((slot) => (slot.started && slot.worker?.isConnected() ? [slot.worker] : []));

  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf.get(worker);
    slotOf.delete(worker);
    if (slot === undefined) return;
    slot.worker = undefined;
    const meta = { workerPid: worker.process.pid, code, signal };
    if (stopping) {
      logger.info('worker stopped', meta);
      if (slots.every((each) => each.worker === undefined)) finish();
      return;
    }
    // A worker that cannot start (port taken, bad plugin) before any worker ever did would fail
    // the same way forever: stop the group and let the operator read the worker's reason.
    if (!slot.started && !everStarted) {
      logger.error('worker failed to start; stopping', meta);
      exitCode = 1;
      stop('worker failed to start');
      return;
    }
    const lived = Date.now() - slot.startedAt;
    slot.failures = lived >= backoff.healthyAfterMs ? 0 : slot.failures + 1;
    const delay = slot.failures === 0 ? 0 : Math.min(backoff.maxMs, backoff.initialMs * 2 ** (slot.failures - 1));
    group?.restarted();
    logger.error('worker exited unexpectedly; starting another', { ...meta, livedMs: lived, restartInMs: delay });
    slot.timer = setTimeout(() => fork(slot), delay);
  });

  let deadline: NodeJS.Timeout | undefined;
  function finish(): void {
    if (deadline !== undefined) clearTimeout(deadline);
    logger.info('stopped', { exitCode });
    resolveDone(exitCode);
  }

  function stop(reason: string): void {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { reason, workers: slots.filter((slot) => slot.worker !== undefined).length });
    for (const slot of slots) if (slot.timer !== undefined) clearTimeout(slot.timer);
    const running = slots.flatMap((slot) => (slot.worker === undefined ? [] : [slot.worker]));
    if (running.length === 0) {
      finish();
      return;
    }
    // The same signal an operator would send one worker: a started worker stops gracefully (see
    // main.ts), one still starting has nothing to finish yet and ends at once.
    for (const worker of running) worker.process.kill('SIGTERM');
    deadline = setTimeout(() => {
      const left = slots.flatMap((slot) => (slot.worker === undefined ? [] : [slot.worker]));
      logger.error('workers did not stop within the deadline; killing them', {
        deadlineMs: options.shutdownDeadlineMs,
        workerPids: left.map((worker) => worker.process.pid),
      });
      exitCode = 1;
      for (const worker of left) worker.process.kill('SIGKILL');
    }, options.shutdownDeadlineMs);
  }

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  logger.info('starting workers', { workers: options.workers, primaryPid: process.pid });
  for (const slot of slots) fork(slot);
  return done;
}

function send(worker: Worker, message: PrimaryMessage): void {
  if (worker.isConnected()) worker.send(message);
}

/**
 * The primary's side of the group's metrics: its own process metrics and cluster counters, and
 * each started worker's registry as JSON, summed by prom-client's cluster aggregation (each
 * metric's `aggregator`: counters and histograms add up, the revision gauge takes the lowest…).
 */
function createGroupMetrics(workers: number) {
  const registry = new Registry();
  // The primary's own CPU and memory count towards the group's (`process_cpu_seconds_total` sums).
  collectDefaultMetrics({ register: registry });
  const restarts = new Counter({
    name: 'dynmcp_worker_restarts_total',
    help: 'Workers the cluster primary started again after one exited unexpectedly.',
    registers: [registry],
  });
  const live = new Gauge({ name: 'dynmcp_workers', help: 'Worker processes the cluster primary runs (server.workers).', registers: [registry] });
  live.set(workers);
  let nextId = 0;
  const pending = new Map<number, { metrics: MetricObjectWithValues<MetricValue<string>>[][]; waiting: number; settle(): void }>();

  async function collect(from: Worker[]): Promise<MetricObjectWithValues<MetricValue<string>>[][]> {
    const id = nextId++;
    const metrics: MetricObjectWithValues<MetricValue<string>>[][] = [await registry.getMetricsAsJSON()];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(settle, COLLECT_TIMEOUT_MS);
      function settle() {
        clearTimeout(timer);
        pending.delete(id);
        resolve();
      }
      pending.set(id, { metrics, waiting: from.length, settle });
      if (from.length === 0) settle();
      for (const worker of from) send(worker, { dynmcp: 'metrics-collect', id });
    });
    return metrics;
  }

  return {
    restarted: () => restarts.inc(),
    received(id: number, metrics: MetricObjectWithValues<MetricValue<string>>[]) {
      const entry = pending.get(id);
      if (entry === undefined) return;
      entry.metrics.push(metrics);
      entry.waiting -= 1;
      if (entry.waiting === 0) entry.settle();
    },
    async render(from: Worker[]): Promise<{ body: string; contentType: string }> {
      const aggregated = AggregatorRegistry.aggregate(await collect(from));
      return { body: await aggregated.metrics(), contentType: aggregated.contentType };
    },
  };
}

// How long a worker's `GET /metrics` waits for the primary's gathered answer.
const RENDER_TIMEOUT_MS = 5_000;

/**
 * In a cluster worker: `GET /metrics` answers with the metrics of the whole group, gathered by
 * the primary, and this worker hands its own registry over when the primary collects. Outside a
 * cluster: `local` as it is.
 */
export function groupMetrics(local: GatewayMetrics): GatewayMetrics {
  if (!cluster.isWorker) return local;
  let nextId = 0;
  const waiting = new Map<number, (message: Extract<PrimaryMessage, { dynmcp: 'metrics-response' }>) => void>();
  const onMessage = (message: unknown) => {
    if (!isOurs(message)) return;
    const typed = message as PrimaryMessage;
    if (typed.dynmcp === 'metrics-collect') {
      local.registry.getMetricsAsJSON().then(
        (metrics) => process.send?.({ dynmcp: 'metrics-json', id: typed.id, metrics } satisfies WorkerMessage),
        () => undefined,
      );
    } else if (typed.dynmcp === 'metrics-response') {
      waiting.get(typed.id)?.(typed);
    }
  };
  process.on('message', onMessage);
  return {
    calls: local.calls,
    registry: local.registry,
    render() {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`the cluster primary did not gather the metrics within ${RENDER_TIMEOUT_MS} ms`));
        }, RENDER_TIMEOUT_MS);
        waiting.set(id, (response) => {
          clearTimeout(timer);
          waiting.delete(id);
          if (response.body === undefined) reject(new Error(response.error ?? 'the cluster primary sent no metrics'));
          else resolve({ body: response.body, contentType: response.contentType ?? local.registry.contentType });
        });
        process.send?.({ dynmcp: 'metrics-request', id } satisfies WorkerMessage);
      });
    },
    close() {
      process.off('message', onMessage);
      local.close();
    },
  };
}

/** In a cluster worker: tells the primary this worker serves (it then counts as started). */
export function reportWorkerStarted(): void {
  if (cluster.isWorker) process.send?.({ dynmcp: 'started' } satisfies WorkerMessage);
}
