import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type GatewayConfig } from '@dynmcp/common';
import { silentLogger, type Logger } from '@dynmcp/plugin';
import { startGateway, type RunningGateway } from '../start-gateway.js';

/** The admin key every test gateway accepts. */
export const TEST_KEY = 'test-admin-key';

/** A gateway for tests: real HTTP on 127.0.0.1, a fresh SQLite file, silent logs. */
export interface TestGateway extends RunningGateway {
  config: GatewayConfig;
  dataDir: string;
  /** Calls the admin API with the test key; resolves with status, headers and parsed body. */
  admin(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<AdminResponse>;
  /** Stops the gateway and deletes the data directory it made (unless `keepData`: then at exit). */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface AdminResponse {
  status: number;
  headers: Headers;
  body: any;
}

/**
 * Data directories this process made for test gateways. `stop({ keepData: true })` keeps one for a
 * later gateway of the same test; whatever is left goes when the test process exits, so that a
 * test that reuses a directory, or fails half-way, leaves nothing in the temporary folder.
 */
const madeDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
});

/** Starts a test gateway; `overrides` are laid over the configuration (e.g. to reuse a data dir). */
export async function startTestGateway(
  overrides: Record<string, unknown> = {},
  /** `env`: the variables `${env:NAME}` headers read (none by default). */
  options: { dataDir?: string; logger?: Logger; env?: Record<string, string | undefined> } = {},
): Promise<TestGateway> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'dynmcp-test-'));
  if (options.dataDir === undefined) madeDirs.add(dataDir);
  const config = loadConfig({
    env: {},
    configDir: join(dataDir, 'no-config-files'),
    overrides: deepMerge(
      {
        server: { port: 0, host: '127.0.0.1', shutdownGraceMs: 500 },
        admin: { apiKeys: [TEST_KEY] },
        datasource: { sqlite: { path: join(dataDir, 'dynmcp.sqlite') }, pollIntervalMs: 100 },
        log: { level: 'silent' },
      },
      overrides,
    ),
  });
  const running = await startGateway(config, options.logger ?? silentLogger, options.env);
  return {
    ...running,
    config,
    dataDir,
    async admin(method, path, body, headers = {}) {
      const response = await fetch(`${running.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TEST_KEY}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
    async stop(stopOptions = {}) {
      await running.close();
      if (!stopOptions.keepData && options.dataDir === undefined) {
        rmSync(dataDir, { recursive: true, force: true });
        madeDirs.delete(dataDir);
      }
    },
  };
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object'
        ? deepMerge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/** A tool definition calling `upstream` with grouped arguments, for tests. */
export function echoTool(id: string, upstream: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: id.replace(/[^A-Za-z0-9_.-]/g, '_'),
    description: `Echo tool ${id}`,
    input_schema: {
      type: 'object',
      properties: {
        path: { type: 'object', properties: { item: { type: 'string' } }, required: ['item'] },
        query: { type: 'object', properties: { q: { type: 'string' } } },
      },
      required: ['path'],
    },
    tds_ext_info: { domain: upstream, method: 'GET', path: '/items/{item}', required_params: {}, ext_info: {} },
    ...extra,
  };
}
