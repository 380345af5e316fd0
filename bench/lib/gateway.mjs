// The gateway under test: the built bin started as its own process, configured through its
// environment, with tools and instances defined through the admin API like an operator would.
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, spawnPinned, waitFor } from './proc.mjs';

export const ADMIN_KEY = 'bench-admin-key';

/** The built entry point, or a message saying to build first. */
export function gatewayBin(root) {
  const bin = join(root, 'apps/server/dist/bin.js');
  return existsSync(bin) ? { bin } : { missing: `${bin} is missing: run \`pnpm build\` first` };
}

/** True when the built configuration schema knows `env` (a setting added after some builds). */
export function gatewaySupportsEnv(root, env) {
  const schema = join(root, 'packages/common/dist/config/config-schema.js');
  return existsSync(schema) && readFileSync(schema, 'utf8').includes(`'${env}'`);
}

async function readyStatus(port) {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  await res.arrayBuffer();
  return res.status === 200;
}

/**
 * Starts `node apps/server/dist/bin.js` pinned to `core`. With `heapFile`, the process also gets
 * `--expose-gc --require heap-preload.cjs` so {@link heapStats} can ask it for a GC'd heap figure.
 * Resolves once /readyz answers 200, with the time that took from spawn.
 */
export async function startGateway({ root, core, name = 'gateway', sqlitePath, env = {}, heapFile, readyTimeoutMs = 60000 }) {
  const port = await freePort();
  const nodeArgs = heapFile ? ['--expose-gc', '--require', join(root, 'bench/lib/heap-preload.cjs')] : [];
  const started = performance.now();
  const proc = spawnPinned(core, process.execPath, [...nodeArgs, join(root, 'apps/server/dist/bin.js')], {
    cwd: root,
    name,
    env: {
      // The production profile (no placeholder admin key), kept on loopback.
      DYNMCP_ENV: 'production',
      DYNMCP_PORT: String(port),
      DYNMCP_HOST: '127.0.0.1',
      DYNMCP_API_KEYS: ADMIN_KEY,
      DYNMCP_LOG_LEVEL: 'error',
      // The bench upstreams run on loopback, which production's egress policy denies otherwise.
      DYNMCP_EGRESS_ALLOW: '127.0.0.1',
      // The memory scenario opens thousands of sessions with one key; the per-principal cap would refuse them.
      DYNMCP_MAX_SESSIONS_PER_PRINCIPAL: '0',
      // The tools/list scenarios measure one answer of up to 500 tools, above the default page size.
      DYNMCP_TOOLS_PAGE_SIZE: '500',
      ...(sqlitePath ? { DYNMCP_SQLITE_PATH: sqlitePath } : {}),
      ...(heapFile ? { BENCH_HEAP_FILE: heapFile } : {}),
      ...env,
    },
  });
  await waitFor(() => readyStatus(port), { timeoutMs: readyTimeoutMs, intervalMs: 5, what: `${name} /readyz 200`, proc });
  const readyMs = performance.now() - started;
  return { proc, port, pid: proc.pid, name, readyMs, heapFile, url: `http://127.0.0.1:${port}` };
}

/** One admin API call; throws with the envelope's error on a non-2xx answer. */
export async function admin(gateway, method, path, body) {
  const res = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs `jobs` (functions returning promises) with at most `limit` in flight. */
export async function inParallel(jobs, limit) {
  let next = 0;
  const results = new Array(jobs.length);
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/** The benchmark's tools/call tool: GET /items/{id} on the upstream, grouped arguments. */
export function itemTool(upstreamPort, name = 'get_item', description = 'Fetch one item by id') {
  return {
    name,
    description,
    input_schema: {
      type: 'object',
      properties: { path: { type: 'object', properties: { id: { type: 'integer', minimum: 0 } }, required: ['id'] } },
      required: ['path'],
    },
    annotations: { readOnlyHint: true },
    tds_ext_info: { domain: `http://127.0.0.1:${upstreamPort}`, method: 'GET', path: '/items/{id}', required_params: {} },
  };
}

/** A filler tool with a three-field schema and a realistic description (for tools/list sizes). */
export function fillerTool(upstreamPort, name) {
  return {
    name,
    description: `Search ${name} records by text, with a page size and an optional status filter.`,
    input_schema: {
      type: 'object',
      properties: {
        query: {
          type: 'object',
          properties: {
            q: { type: 'string', description: 'Free text to search for' },
            limit: { type: 'integer', minimum: 1, maximum: 100, description: 'Page size' },
            status: { type: 'string', enum: ['open', 'closed', 'any'], description: 'Status filter' },
          },
          required: ['q'],
        },
      },
      required: ['query'],
    },
    tds_ext_info: { domain: `http://127.0.0.1:${upstreamPort}`, method: 'GET', path: `/search/${name}`, required_params: {} },
  };
}

/** Instance definition; `stateless` selects `proto_type: streamable-stateless`. */
export function instanceDef(name, toolIds, { stateless = false } = {}) {
  return {
    name,
    tool_ids: toolIds,
    public: true,
    ...(stateless ? { metadata: { proto_type: 'streamable-stateless' } } : {}),
  };
}

/**
 * Asks a gateway started with `heapFile` for memory after a forced full GC (see heap-preload.cjs).
 * Returns process.memoryUsage() as the gateway saw it.
 */
export async function heapStats(gateway) {
  const previous = existsSync(gateway.heapFile) ? JSON.parse(readFileSync(gateway.heapFile, 'utf8')).seq : 0;
  process.kill(gateway.pid, 'SIGUSR2');
  return waitFor(
    () => {
      if (!existsSync(gateway.heapFile) || statSync(gateway.heapFile).size === 0) return undefined;
      const stats = JSON.parse(readFileSync(gateway.heapFile, 'utf8'));
      return stats.seq > previous ? stats : undefined;
    },
    { timeoutMs: 30000, intervalMs: 10, what: 'heap statistics', proc: gateway.proc },
  );
}

/** Removes an SQLite file and its WAL/SHM companions. */
export function removeSqlite(path) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}

