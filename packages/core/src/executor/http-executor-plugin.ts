import { defineToolExecutorPlugin, PLUGIN_API_VERSION } from '@dynmcp/plugin';
import { createHttpExecutor, type HttpExecutorOptions } from './http-executor.js';

/**
 * The built-in `http` tool kind, registered through the same plugin interface as third-party
 * tool kinds. Options: {@link HttpExecutorOptions}.
 */
export const httpExecutorPlugin = defineToolExecutorPlugin({
  name: 'http',
  version: '0.1.0',
  apiVersion: PLUGIN_API_VERSION,
  create: ({ options }) => createHttpExecutor(options as unknown as HttpExecutorOptions),
});
