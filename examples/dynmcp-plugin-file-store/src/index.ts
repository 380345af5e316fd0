import { defineDataSourcePlugin, PLUGIN_API_VERSION, readPluginOptions } from '@dynmcp/plugin';
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
  // Checked before create(): a missing or mistyped option stops the gateway's start, named.
  parseOptions(raw) {
    const read = readPluginOptions('file-store', raw);
    const dir = read.string('dir');
    if (dir === '') throw read.invalid('dir', 'the definitions directory, not empty');
    return { dir, debounceMs: read.optional.number('debounceMs') };
  },
  create: ({ logger, options }) => createFileStore({ ...options, logger }),
});
