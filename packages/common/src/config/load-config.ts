import { existsSync } from 'node:fs';
import { join } from 'node:path';
import convict from 'convict';
import { GatewayError } from '@dynmcp/plugin';
import { configSchema } from './config-schema.js';

/** The validated, frozen configuration. */
export interface GatewayConfig {
  env: string;
  server: {
    host: string;
    port: number;
    bodyLimitBytes: number;
    allowedHosts: string[];
    allowedOrigins: string[];
    shutdownGraceMs: number;
  };
  plugins: Array<{ module: string; options?: Record<string, unknown> }>;
  auth: {
    providers: string[];
    keys: Array<{ id: string; key: string; admin?: boolean; instances?: '*' | string[] }>;
  };
  admin: { maxAuthFailures: number; authFailureWindowMs: number; apiKeys: string[] };
  datasource: {
    /** `sqlite`, `etcd`, `mysql`, or a datasource plugin's name. */
    type: string;
    startupWaitMs: number;
    pollIntervalMs: number;
    sqlite: { path: string };
    etcd: {
      endpoints: string[];
      prefix: string;
      username: string;
      password: string;
      caFile: string;
      certFile: string;
      keyFile: string;
      keepaliveMs: number;
    };
    mysql: { url: string; host: string; port: number; user: string; password: string; database: string; poolMax: number };
    tombstoneRetentionMs: number;
  };
  executor: { httpClient: 'undici' | 'got'; timeoutMs: number; maxResponseBytes: number };
  mcp: { sessionIdleTimeoutMs: number; maxSessions: number; toolsPageSize: number };
  log: { level: 'error' | 'warn' | 'info' | 'debug' | 'silent' };
}

/** Where {@link loadConfig} reads from; all optional, defaulting to the process's own. */
export interface LoadConfigOptions {
  /** Environment variables (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Folder holding default.json and <env>.json (default `$DYNMCP_CONFIG_DIR` or `./config`). */
  configDir?: string;
  /** Values laid over everything else, e.g. by tests. */
  overrides?: Record<string, unknown>;
}

/**
 * Loads the configuration: schema defaults, then `config/default.json`, then `config/<env>.json`,
 * then `DYNMCP_*` environment variables (convict lets them win over files), then `overrides`. Unknown keys in files are refused, as is
 * any value of the wrong format; the error names the key.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<GatewayConfig> {
  const env = options.env ?? process.env;
  const config = convict(configSchema, { env: env as NodeJS.ProcessEnv, args: [] });
  const configDir = options.configDir ?? env.DYNMCP_CONFIG_DIR ?? join(process.cwd(), 'config');
  try {
    for (const file of ['default.json', `${config.get('env')}.json`]) {
      const path = join(configDir, file);
      if (existsSync(path)) config.loadFile(path);
    }
    if (options.overrides) config.load(options.overrides);
    config.validate({ allowed: 'strict' });
  } catch (error) {
    throw new GatewayError('INTERNAL_ERROR', `invalid configuration: ${(error as Error).message}`, { cause: error });
  }
  return deepFreeze(config.getProperties() as GatewayConfig);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
