import { defineToolExecutorPlugin, PLUGIN_API_VERSION, readPluginOptions } from '@dynmcp/plugin';
import { createHttpExecutor, HTTP_CLIENTS, type HttpClientName, type HttpExecutorOptions } from './http-executor.js';
import type { HostResolver } from './egress-lookup.js';
import type { PrincipalCredentials } from './template-values.js';
import type { Tracer } from './upstream-span.js';

const isHttpClient = (value: unknown): value is HttpClientName => HTTP_CLIENTS.includes(value as HttpClientName);

/**
 * The built-in `http` tool kind, registered through the same plugin interface as third-party
 * tool kinds. Options: {@link HttpExecutorOptions}.
 */
export const httpExecutorPlugin = defineToolExecutorPlugin({
  name: 'http',
  version: '0.1.0',
  apiVersion: PLUGIN_API_VERSION,
  parseOptions(raw): HttpExecutorOptions {
    const read = readPluginOptions('http', raw);
    const client = read.raw.client;
    if (client !== undefined && !isHttpClient(client)) throw read.invalid('client', HTTP_CLIENTS.join(' or '));
    // Kept as the very object given (the process environment): `${env:…}` reads it at call time.
    const env = read.object('env').raw;
    if (!Object.values(env).every((value) => value === undefined || typeof value === 'string')) {
      throw read.invalid('env', 'an object of strings (the environment)');
    }
    const egress = read.optional.object('egress');
    const resolve = egress?.raw.resolve;
    if (resolve !== undefined && typeof resolve !== 'function') throw read.invalid('egress.resolve', 'a function');
    const onDenied = egress?.raw.onDenied;
    if (onDenied !== undefined && typeof onDenied !== 'function') throw read.invalid('egress.onDenied', 'a function');
    const credentials = read.raw.credentials;
    if (credentials !== undefined && typeof (credentials as Partial<PrincipalCredentials> | null)?.credential !== 'function') {
      throw read.invalid('credentials', 'the live credentials (an object with credential(principalId, name))');
    }
    const tracer = read.raw.tracer;
    if (tracer !== undefined && typeof (tracer as Partial<Tracer> | null)?.startSpan !== 'function') {
      throw read.invalid('tracer', 'an OpenTelemetry Tracer');
    }
    return {
      client,
      defaultTimeoutMs: read.number('defaultTimeoutMs'),
      maxResponseBytes: read.number('maxResponseBytes'),
      env: env as Readonly<Record<string, string | undefined>>,
      toolEnvAllow: read.optional.stringList('toolEnvAllow'),
      secretsDir: read.optional.string('secretsDir'),
      protectedValues: read.optional.stringList('protectedValues'),
      toolClaimsAllow: read.optional.stringList('toolClaimsAllow'),
      ...(credentials === undefined ? {} : { credentials: credentials as PrincipalCredentials }),
      ...(tracer === undefined ? {} : { tracer: tracer as Tracer }),
      ...(egress === undefined
        ? {}
        : { egress: { allow: egress.optional.stringList('allow'), deny: egress.optional.stringList('deny'), resolve: resolve as HostResolver | undefined, onDenied: onDenied as (() => void) | undefined } }),
    };
  },
  create: ({ options }) => createHttpExecutor(options),
});
