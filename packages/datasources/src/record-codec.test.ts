import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGatewayError } from '@dynmcp/plugin';
import { ETCD_KEY_RULES } from './etcd-keys.js';
import { checkKey, checkWriteOptions, deleteWrite, putWrite } from './record-codec.js';

const refused = (run: () => unknown, message: RegExp) =>
  assert.throws(run, (error: unknown) => isGatewayError(error) && error.code === 'INVALID_PAYLOAD' && message.test(error.message));

test('key limits are shared; each store adds only its own refusals', () => {
  for (const rules of [{}, { noTrailingSpace: true }, ETCD_KEY_RULES]) {
    refused(() => checkKey('', 'x', rules), /kind must be 1 to 16 characters/);
    refused(() => checkKey('k'.repeat(17), 'x', rules), /kind must be 1 to 16 characters/);
    refused(() => checkKey('tds', 'i'.repeat(256), rules), /id must be 1 to 255 characters/);
    checkKey('k'.repeat(16), 'i'.repeat(255), rules);
  }
  refused(() => checkKey('a/b', 'x', ETCD_KEY_RULES), /characters without "\/"/);
  checkKey('tds', 'team/one', ETCD_KEY_RULES);
  checkKey('tds', 'x ', ETCD_KEY_RULES);
  refused(() => checkKey('tds', 'x ', { noTrailingSpace: true }), /must not end with a space/);
  checkKey('a/b', 'x', { noTrailingSpace: true });
});

test('a put is checked and serialised before any store sees it', () => {
  assert.deepEqual(putWrite('tds', 'x', undefined, undefined, {}), { kind: 'tds', id: 'x', text: 'null', ifRevision: undefined, action: 'put' });
  assert.equal(putWrite('tds', 'x', { a: [1] }, { ifRevision: 0 }, {}).ifRevision, 0);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  refused(() => putWrite('tds', 'x', cyclic, undefined, {}), /not serialisable as JSON/);
  for (const ifRevision of [-1, 1.5, Number.NaN, 2 ** 53]) {
    refused(() => checkWriteOptions({ ifRevision }), /ifRevision must be a non-negative integer/);
  }
});

test('a write carries its history metadata: the principal and action given, or put/delete by default', () => {
  assert.deepEqual(
    putWrite('tds', 'x', {}, { metadata: { principal: 'alice', action: 'rollback' } }, {}),
    { kind: 'tds', id: 'x', text: '{}', ifRevision: undefined, action: 'rollback', principal: 'alice' },
  );
  assert.equal(deleteWrite('tds', 'x', undefined, {}).action, 'delete');
  assert.equal(putWrite('tds', 'x', {}, { metadata: { principal: 'p'.repeat(300) } }, {}).principal?.length, 255);
  refused(() => putWrite('tds', 'x', {}, { metadata: { action: 'edit' as never } }, {}), /write action must be one of put, delete, import, rollback/);
  refused(() => putWrite('tds', 'x', {}, { metadata: { principal: 42 as never } }, {}), /principal must be a string/);
});
