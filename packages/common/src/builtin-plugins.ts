import { defineAuthPlugin, PLUGIN_API_VERSION } from '@dynmcp/plugin';
import { createApiKeyAuthProvider, type ApiKeyAuthOptions } from './auth/index.js';

const VERSION = '0.1.0';

/** The built-in API-key auth provider. Options: `{ adminKeys, keys? }` (see {@link ApiKeyAuthOptions}). */
export const apiKeyAuthPlugin = defineAuthPlugin({
  name: 'api-key',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  create: ({ options }) => createApiKeyAuthProvider(options as unknown as ApiKeyAuthOptions),
});
