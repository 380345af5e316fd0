import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterReason, globMatches } from './filters.js';

describe('import filters', () => {
  it('matches path globs: * within a segment, ** across segments', () => {
    assert.equal(globMatches('/pets/*', '/pets/{id}'), true);
    assert.equal(globMatches('/pets/*', '/pets/{id}/photo'), false);
    assert.equal(globMatches('/pets/**', '/pets/{id}/photo'), true);
    assert.equal(globMatches('/pets', '/pets'), true);
    assert.equal(globMatches('/pet', '/pets'), false);
  });

  it('matches a glob of many stars against a long path quickly', () => {
    const started = Date.now();
    assert.equal(globMatches(`${'*'.repeat(200)}b`, `/${'a'.repeat(2000)}`), false);
    assert.ok(Date.now() - started < 1000);
  });

  it('needs every include field to match and any exclude field to exclude', () => {
    const subject = { path: '/pets', operationId: 'listPets', tags: ['pets'] };
    assert.equal(filterReason({ tags: ['pets'], operation_ids: ['listPets'] }, undefined, subject), undefined);
    assert.equal(filterReason({ tags: ['pets'], operation_ids: ['other'] }, undefined, subject), 'not selected by include.operation_ids');
    assert.equal(filterReason(undefined, { paths: ['/users/**', '/pets'] }, subject), 'excluded by exclude.paths');
    assert.equal(filterReason(undefined, { tags: ['admin'] }, subject), undefined);
  });
});
