// Builds the console into dist/, served by the gateway at /ui/ (apps/server/src/http/console-route.ts).
// JSX goes through esbuild (Preact's automatic runtime) rather than a Babel-based preset: the
// build stays a few seconds. Nothing is inlined as a data: URI and no script is inline, so the
// gateway's Content-Security-Policy can forbid both.
import { gzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

/** Most JavaScript the console may ship, gzipped, in bytes; the build fails above it. */
export const JS_BUDGET_GZIP_BYTES = 250 * 1024;

/** Fails the build when the gzipped JavaScript of all chunks together passes the budget. */
function bundleBudget(limit) {
  return {
    name: 'dynmcp-bundle-budget',
    apply: 'build',
    generateBundle(_options, bundle) {
      let total = 0;
      for (const file of Object.values(bundle)) {
        if (file.type === 'chunk') total += gzipSync(file.code).length;
      }
      if (total > limit) {
        this.error(`console JavaScript is ${(total / 1024).toFixed(1)} KiB gzipped, over the budget of ${limit / 1024} KiB`);
      }
    },
  };
}

/** The gateway `vite` (the dev server) sends API and MCP requests to, so the app runs same-origin as in production. */
const gateway = process.env.CONSOLE_GATEWAY_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/ui/',
  server: { proxy: { '/admin': gateway, '/mcp': gateway } },
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  plugins: [bundleBudget(Number(process.env.CONSOLE_JS_BUDGET_BYTES ?? JS_BUDGET_GZIP_BYTES))],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
  },
});
