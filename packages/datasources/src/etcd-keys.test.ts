import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError, silentLogger } from '@dynmcp/plugin';
import { describeEtcdError, etcdError } from './etcd-errors.js';
import { createEtcdKeys, decodeRecord, ETCD_KEY_RULES, prefixEnd } from './etcd-keys.js';
import { checkKey } from './record-codec.js';
import { storeUnavailable } from './store-errors.js';

test('keys are <prefix>/<kind>/<id>; ids may hold slashes; other keys are not records', () => {
  const keys = createEtcdKeys('/dynmcp/');
  assert.equal(keys.root, '/dynmcp/');
  assert.equal(keys.key('tds', 'a'), '/dynmcp/tds/a');
  assert.equal(keys.kindPrefix('ids'), '/dynmcp/ids/');
  assert.deepEqual(keys.parse('/dynmcp/ids/team/one'), { kind: 'ids', id: 'team/one' });
  for (const key of ['/dynmcp/tds/', '/dynmcp/stray', '/dynmcp//x', '/dynmcpx/tds/a', '/other/tds/a']) {
    assert.equal(keys.parse(key), undefined, key);
  }
  assert.equal(createEtcdKeys('').key('tds', 'a'), '/tds/a');
  assert.throws(() => checkKey('a/b', 'x', ETCD_KEY_RULES), GatewayError);
  assert.throws(() => checkKey('tds', 'x'.repeat(256), ETCD_KEY_RULES), GatewayError);
});

test('prefixEnd is the first key after every key with the prefix', () => {
  assert.deepEqual(prefixEnd(Buffer.from('/a/')), Buffer.from('/a0'));
  assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff])), Buffer.from([0x62]));
  assert.deepEqual(prefixEnd(Buffer.from([0xff, 0xff])), Buffer.from([0]));
});

test('a value that is not JSON decodes to its text, with the mod revision as the record revision', () => {
  const keys = createEtcdKeys('/p');
  const kv = (value: string) => ({ key: Buffer.from('/p/tds/x'), value: Buffer.from(value), mod_revision: '42' });
  assert.deepEqual(decodeRecord(kv('{"a":1}'), keys, silentLogger), { kind: 'tds', id: 'x', value: { a: 1 }, revision: 42 });
  assert.deepEqual(decodeRecord(kv('{broken'), keys, silentLogger), { kind: 'tds', id: 'x', value: '{broken', revision: 42 });
});

test('store failures become STORE_UNAVAILABLE with a reason from the error class, never its message', () => {
  class GRPCUnavailableError extends Error {}
  const etcdUnavailable = (error: unknown) => storeUnavailable(error, describeEtcdError);
  const wrapped = etcdUnavailable(new GRPCUnavailableError('No connection established: connect ECONNREFUSED 10.1.2.3:2379'));
  assert.equal(wrapped.code, 'STORE_UNAVAILABLE');
  assert.equal(wrapped.message, 'store unavailable: connection unavailable');
  assert.equal(describeEtcdError(new Error('user alice password hunter2')), 'unexpected error');
  assert.equal(describeEtcdError(etcdError('DYNMCP_COMPACTED')), 'watch canceled (history compacted)');
  assert.equal(describeEtcdError(Object.assign(new Error('x'), { code: 'ERR_MODULE_NOT_FOUND' })), 'etcd client not installed');
  const precondition = new GatewayError('PRECONDITION_FAILED', 'tds x is at revision 3, not 2');
  assert.equal(etcdUnavailable(precondition), precondition, 'gateway errors pass through');
});
