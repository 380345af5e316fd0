import { defineDataSourcePlugin, PLUGIN_API_VERSION } from '@dynmcp/plugin';
import { createFileStore } from './file-store.js';

export { createFileStore } from './file-store.js';
export type { FileStoreOptions } from './file-store.js';

/**
 * The plugin: `datasource.type: file-store`, options `{ dir, debounceMs? }`.
 */
export default defineDataSourcePlugin({
  name: 'file-store',
  version: '0.1.0',
  apiVersion: PLUGIN_API_VERSION,
  create({ logger, options }) {
    if (typeof options.dir !== 'string' || options.dir === '') {
      throw new Error('option "dir" (the definitions directory) is required');
    }
    const debounceMs = typeof options.debounceMs === 'number' ? options.debounceMs : undefined;
    return createFileStore({ dir: options.dir, debounceMs, logger });
  },
});
