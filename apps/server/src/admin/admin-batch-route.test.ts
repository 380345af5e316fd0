// POST /admin/batch on a real gateway (SQLite): one atomic write of tools and instances, its body
// checked before anything is validated or written, every refusal naming the operation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { echoTool, startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

const UPSTREAM = 'http://127.0.0.1:9';

describe('POST /admin/batch', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(() => gw.stop());

  test('writes tools and an instance at one revision; the same batch again writes nothing', async () => {
    const operations = [
      { op: 'put', kind: 'tds', id: 'b-one', value: echoTool('b-one', UPSTREAM) },
      { op: 'put', kind: 'tds', id: 'b-two', value: echoTool('b-two', UPSTREAM) },
      { op: 'put', kind: 'ids', id: 'b-inst', value: { name: 'batch', tool_ids: ['b-one', 'b-two'] } },
    ];
    const first = await gw.admin('POST', '/admin/batch', { operations });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.data.written, true);
    assert.equal(first.body.data.applied, true, 'this gateway serves the batch when it answers');
    const revision = first.body.data.revision;
    assert.deepEqual(
      first.body.data.put,
      [{ kind: 'tds', id: 'b-one', revision }, { kind: 'tds', id: 'b-two', revision }, { kind: 'ids', id: 'b-inst', revision }],
    );
    const instance = await gw.admin('GET', '/admin/ids/b-inst');
    assert.equal(instance.headers.get('etag'), `"${revision}"`);

    const deleted = await gw.admin('POST', '/admin/batch', {
      operations: [
        { op: 'delete', kind: 'ids', id: 'b-inst' },
        { op: 'delete', kind: 'tds', id: 'b-two', if_revision: revision },
        { op: 'delete', kind: 'tds', id: 'never-there' },
      ],
    });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.deepEqual(deleted.body.data.deleted, [{ kind: 'ids', id: 'b-inst' }, { kind: 'tds', id: 'b-two' }]);
    assert.equal((await gw.admin('GET', '/admin/tds/b-two')).status, 404);
    assert.equal((await gw.admin('GET', '/admin/tds/b-one')).status, 200);
  });

  test('an invalid definition names its operation and nothing of the batch is written', async () => {
    const response = await gw.admin('POST', '/admin/batch', {
      operations: [
        { op: 'put', kind: 'tds', id: 'b-ok', value: echoTool('b-ok', UPSTREAM) },
        { op: 'put', kind: 'tds', id: 'b-bad', value: { name: 'bad' } },
      ],
    });
    assert.equal(response.status, 400);
    assert.equal(response.body.error_code, 'INVALID_PAYLOAD');
    assert.match(response.body.error, /batch operation 1 \(tds "b-bad"\)/);
    assert.equal((await gw.admin('GET', '/admin/tds/b-ok')).status, 404);
  });

  test('a stale if_revision is 412 and writes nothing', async () => {
    const response = await gw.admin('POST', '/admin/batch', {
      operations: [
        { op: 'put', kind: 'tds', id: 'b-new', value: echoTool('b-new', UPSTREAM) },
        { op: 'put', kind: 'tds', id: 'b-one', value: echoTool('b-one', UPSTREAM), if_revision: 0 },
      ],
    });
    assert.equal(response.status, 412, JSON.stringify(response.body));
    assert.equal(response.body.error_code, 'PRECONDITION_FAILED');
    assert.equal((await gw.admin('GET', '/admin/tds/b-new')).status, 404);
  });

  const badBodies: Array<[string, unknown, RegExp]> = [
    ['not an object', [1, 2], /the body must be \{ "operations"/],
    ['no operations', {}, /the body must be \{ "operations"/],
    ['an unknown top-level key', { operations: [], dry_run: true }, /unknown key "dry_run"/],
    ['an operation that is not an object', { operations: ['x'] }, /operations\[0\] must be an object/],
    ['an unknown op', { operations: [{ op: 'patch', kind: 'tds', id: 'a' }] }, /operations\[0\]: op must be "put" or "delete"/],
    ['an unknown kind', { operations: [{ op: 'delete', kind: 'tools', id: 'a' }] }, /operations\[0\]: kind must be one of tds, ids/],
    ['an empty id', { operations: [{ op: 'delete', kind: 'tds', id: '' }] }, /operations\[0\]: id must be a non-empty string/],
    ['a put without value', { operations: [{ op: 'put', kind: 'tds', id: 'a' }] }, /operations\[0\]: a put needs value/],
    ['a delete with a value', { operations: [{ op: 'delete', kind: 'tds', id: 'a', value: {} }] }, /a delete takes no value/],
    ['a negative if_revision', { operations: [{ op: 'delete', kind: 'tds', id: 'a', if_revision: -1 }] }, /if_revision must be a non-negative integer/],
    ['an unknown operation key', { operations: [{ op: 'delete', kind: 'tds', id: 'a', ifRevision: 1 }] }, /unknown key "ifRevision"/],
    [
      'one record twice',
      { operations: [{ op: 'delete', kind: 'tds', id: 'a' }, { op: 'delete', kind: 'tds', id: 'a' }] },
      /operations\[1\]: tds "a" appears twice/,
    ],
  ];
  for (const [name, body, message] of badBodies) {
    test(`a body with ${name} is 400 INVALID_PAYLOAD`, async () => {
      const response = await gw.admin('POST', '/admin/batch', body);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.error_code, 'INVALID_PAYLOAD');
      assert.match(response.body.error, message);
    });
  }

  test('a body that is not JSON is 415, another method 405', async () => {
    const text = await gw.admin('POST', '/admin/batch', 'operations', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.equal((await gw.admin('GET', '/admin/batch')).status, 405);
  });
});
