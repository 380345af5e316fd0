import { defineAuthPlugin, PLUGIN_API_VERSION, readPluginOptions } from '@dynmcp/plugin';
import { createApiKeyAuthProvider, createOAuthAuthProvider, type ApiKeyAuthOptions, type OAuthAuthOptions, type ScopedApiKey } from './auth/index.js';

const VERSION = '0.1.0';

/** Options of the built-in `api-key` auth provider: admin keys and scoped keys. */
export type ApiKeyAuthPluginOptions = ApiKeyAuthOptions;

function parseScopedKeys(keys: unknown, invalid: (key: string, expected: string) => Error): ScopedApiKey[] | undefined {
  if (keys === undefined) return undefined;
  const expected = 'a list of { id, key, admin?, instances? } with string id and key';
  if (!Array.isArray(keys)) throw invalid('keys', expected);
  return keys.map((entry: unknown, index) => {
    const read = readPluginOptions('api-key', entry, `keys.${index}.`);
    const instances = read.raw.instances;
    return {
      id: read.string('id'),
      key: read.string('key'),
      admin: read.optional.boolean('admin'),
      instances: instances === undefined || instances === '*' ? instances : read.stringList('instances'),
    };
  });
}

/** The built-in API-key auth provider. */
export const apiKeyAuthPlugin = defineAuthPlugin({
  name: 'api-key',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  parseOptions(raw): ApiKeyAuthPluginOptions {
    const read = readPluginOptions('api-key', raw);
    return { adminKeys: read.stringList('adminKeys'), keys: parseScopedKeys(read.raw.keys, read.invalid) };
  },
  create: ({ options }) => createApiKeyAuthProvider(options),
});

/** Options of the built-in `oauth` auth provider (the `auth.oauth.*` settings). */
export type OAuthAuthPluginOptions = Omit<OAuthAuthOptions, 'fetch'>;

/** The built-in OAuth 2.1 resource-server provider: JWT access tokens of one issuer. */
export const oauthAuthPlugin = defineAuthPlugin({
  name: 'oauth',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  parseOptions(raw): OAuthAuthPluginOptions {
    const read = readPluginOptions('oauth', raw);
    // An option left out reads as undefined, which the provider takes as its default.
    return {
      issuer: read.string('issuer'),
      audiences: read.optional.stringList('audiences'),
      clockSkewSeconds: read.optional.number('clockSkewSeconds'),
      algorithms: read.optional.stringList('algorithms'),
      jwksCooldownMs: read.optional.number('jwksCooldownMs'),
      requireAccessTokenType: read.optional.boolean('requireAccessTokenType'),
      reservedIds: read.optional.stringList('reservedIds'),
    };
  },
  create: ({ options }) => createOAuthAuthProvider(options),
});
