// The OpenAPI import of GitHub's REST description (@octokit/openapi: about 1,200 operations, 13 MB
// of JSON) through a real gateway, timed; then its catalogue paged with the official v1 client the
// way that client pages when it compiles output schemas between pages. The description is installed
// once from the npm registry into a cache outside the clone (scripts/openapi-corpus.mjs); the test
// itself talks only to 127.0.0.1.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startUpstream } from '@dynmcp/testing';
import type { TestUpstream } from '@dynmcp/testing';
import { assertListing, count, importOpenApi, listAllLegacy, openApiCorpora } from '../test-support/real-world-openapi.js';
import { startTestGateway } from '../test-support/test-gateway.js';
import type { TestGateway } from '../test-support/test-gateway.js';

describe("OpenAPI import of GitHub's REST description", () => {
  let github: string;
  let upstream: TestUpstream;
  let gateway: TestGateway;
  let created = 0;

  before(async () => {
    github = openApiCorpora().github;
    upstream = await startUpstream();
    // The import's own time limit stays generous here: the test's stopwatch judges the time, below.
    gateway = await startTestGateway({ admin: { importTimeoutMs: 60_000 } });
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  it('imports in well under 20 s', async (t) => {
    const document = readFileSync(github, 'utf8');
    const answer = await importOpenApi(gateway, { document, instance_id: 'github', base_url: `${upstream.url}/api` });
    assert.equal(answer.status, 200, JSON.stringify(answer.body).slice(0, 500));
    created = count(answer.body.data.created);
    t.diagnostic(`GitHub: ${created} tools, ${answer.body.data.skipped.length} skipped, ${answer.body.data.warnings.length} warnings, ${Math.round(answer.ms)} ms`);
    assert.ok(created > 1000, `only ${created} tools`);
    // docs/performance.md has the figure of a quieter machine; shared CI machines are far noisier.
    assert.ok(answer.ms < 20_000, `the import took ${Math.round(answer.ms)} ms`);
  });

  it('pages through the catalogue with the v1 client, pausing past a 5 s keep-alive, each tool once', async () => {
    assert.ok(created > 0, 'the import did not run');
    const { tools, pages } = await listAllLegacy(`${gateway.url}/mcp/github`, 6_000);
    assert.ok(pages > 1, 'the catalogue fits one page; the pause crossed nothing');
    assertListing(tools, created, 'GitHub (v1)');
  });
});
