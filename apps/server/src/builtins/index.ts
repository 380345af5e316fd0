// Every built-in plugin of the gateway, with the settings its options come from. They register
// through the same registries as third-party plugins, so a plugin can stand in for any of them.
// Each plugin's options type comes from the plugin (its `parseOptions`), so an option renamed
// there fails to compile here.
import { isAbsolute, resolve } from 'node:path';
import { apiKeyAuthPlugin, oauthAuthPlugin, parseAdminKey, type GatewayConfig, type LiveCredentials } from '@dynmcp/common';
import { httpExecutorPlugin } from '@dynmcp/core';
import { etcdDataSourcePlugin, mysqlDataSourcePlugin, sqliteDataSourcePlugin, type SqliteDataSourcePluginOptions } from '@dynmcp/datasources';
import type { DynmcpPlugin, PluginOptionsOf } from '@dynmcp/plugin';
import type { Tracer } from '@opentelemetry/api';
import type { PluginEntry } from '../plugins/load-plugins.js';

const builtin = <P extends DynmcpPlugin>(plugin: P, options: PluginOptionsOf<P>): PluginEntry => ({ plugin, options, source: 'built-in' });

/**
 * The built-in plugins (SQLite, MySQL, etcd, API keys, OAuth, `http` tools) with their options from
 * `config`; `onEgressDenied` hears of every tool call the egress policy stopped (for the metrics),
 * `tracer` traces upstream requests.
 */
export function builtinPlugins(
  config: GatewayConfig,
  env: Readonly<Record<string, string | undefined>>,
  onEgressDenied?: () => void,
  /** Traces upstream requests of `http` tools when tracing is on (`OTEL_*`, see tracing/). */
  tracer?: Tracer,
  /** The per-principal credentials `${principal:NAME}` reads (the live credentials). */
  credentials?: LiveCredentials,
): PluginEntry[] {
  const { mysql, etcd, sqlite } = config.datasource;
  const feed = {
    pollIntervalMs: config.datasource.pollIntervalMs,
    tombstoneRetentionMs: config.datasource.tombstoneRetentionMs,
    historyRetentionMs: config.datasource.historyRetentionMs,
    historyMaxVersions: config.datasource.historyMaxVersions,
  } satisfies Omit<SqliteDataSourcePluginOptions, 'filename'>;
  return [
    builtin(sqliteDataSourcePlugin, {
      filename: isAbsolute(sqlite.path) ? sqlite.path : resolve(process.cwd(), sqlite.path),
      ...feed,
    }),
    builtin(mysqlDataSourcePlugin, {
      connection:
        mysql.url !== ''
          ? mysql.url
          : { host: mysql.host, port: mysql.port, user: mysql.user, password: mysql.password, database: mysql.database },
      pool: { min: 0, max: mysql.poolMax },
      ...feed,
    }),
    builtin(etcdDataSourcePlugin, {
      endpoints: etcd.endpoints,
      prefix: etcd.prefix,
      username: etcd.username === '' ? undefined : etcd.username,
      password: etcd.username === '' ? undefined : etcd.password,
      tls: { caFile: etcd.caFile || undefined, certFile: etcd.certFile || undefined, keyFile: etcd.keyFile || undefined },
      keepaliveMs: etcd.keepaliveMs,
      historyRetentionMs: config.datasource.historyRetentionMs,
      historyMaxVersions: config.datasource.historyMaxVersions,
    }),
    builtin(apiKeyAuthPlugin, { adminKeys: config.admin.apiKeys, keys: config.auth.keys }),
    // Created only when asked for: auth.oauth.issuer set, or "oauth" in auth.providers (see authSettingsOf).
    builtin(oauthAuthPlugin, {
      issuer: config.auth.oauth.issuer,
      audiences: config.auth.oauth.audiences,
      clockSkewSeconds: config.auth.oauth.clockSkewSeconds,
      algorithms: config.auth.oauth.algorithms,
      jwksCooldownMs: config.auth.oauth.jwksCooldownMs,
      requireAccessTokenType: config.auth.oauth.requireAccessTokenType,
      reservedIds: apiKeyPrincipalIds(config),
    }),
    builtin(httpExecutorPlugin, {
      client: config.executor.httpClient,
      defaultTimeoutMs: config.executor.timeoutMs,
      maxResponseBytes: config.executor.maxResponseBytes,
      env,
      toolEnvAllow: config.executor.toolEnvAllow,
      secretsDir: config.executor.secretsDir,
      egress: onEgressDenied === undefined ? config.executor.egress : { ...config.executor.egress, onDenied: onEgressDenied },
      protectedValues: gatewayCredentials(config),
      toolClaimsAllow: config.executor.toolClaimsAllow,
      ...(credentials === undefined ? {} : { credentials }),
      ...(tracer === undefined ? {} : { tracer }),
    }),
  ];
}

/** The principal ids of the configured API keys (named admin keys and scoped keys), which principals of other providers may not take. */
export function apiKeyPrincipalIds(config: GatewayConfig): string[] {
  const adminNames = config.admin.apiKeys.flatMap((entry) => parseAdminKey(entry).name ?? []);
  return [...adminNames, ...config.auth.keys.map((key) => key.id)];
}

/**
 * The gateway's own credentials, whatever variable or file they came from: a tool's header value
 * holding one is never sent upstream (an operator may have copied one into a variable a tool reads).
 */
function gatewayCredentials(config: GatewayConfig): string[] {
  const { mysql, etcd } = config.datasource;
  const credentials = [...config.admin.apiKeys, ...config.admin.apiKeys.map((entry) => parseAdminKey(entry).key), ...config.auth.keys.map((key) => key.key), mysql.password, etcd.password, mysql.url, config.credentials.key.trim(), ...config.credentials.previousKeys.split(',').map((key) => key.trim()), config.mcp.sessionSecret.trim()];
  if (mysql.url !== '') {
    try {
      const password = decodeURIComponent(new URL(mysql.url).password);
      credentials.push(password);
    } catch {
      // An unparsable URL fails the store's connect with its own message; the URL itself is still listed.
    }
  }
  return credentials.filter((value) => value !== '');
}
