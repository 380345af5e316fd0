// Admin key names: `name:key` entries authenticate with the key (and, as before, with the whole
// entry) under the name; plain keys, including ones with a `:` that do not fit the rule, keep the
// digest-prefix principal they always had.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { isGatewayError } from '@dynmcp/plugin';
import { createApiKeyAuthProvider, parseAdminKey } from './api-key-auth.js';

const bearer = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
const digestId = (key: string) => `api-key:${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;

test('parseAdminKey: name:key only for a valid name and a key of 8 characters or more; anything else is the key, whole', () => {
  assert.deepEqual(parseAdminKey('alice:s3cret-key'), { name: 'alice', key: 's3cret-key' });
  assert.deepEqual(parseAdminKey('ci.deploy-1_x:a:b:c:d:e'), { name: 'ci.deploy-1_x', key: 'a:b:c:d:e' });
  assert.deepEqual(parseAdminKey('plain-key'), { key: 'plain-key' });
  assert.deepEqual(parseAdminKey('alice:short'), { key: 'alice:short' }, 'key under 8 characters');
  assert.deepEqual(parseAdminKey(':no-name-here'), { key: ':no-name-here' });
  assert.deepEqual(parseAdminKey('bad name:long-enough-key'), { key: 'bad name:long-enough-key' });
  assert.deepEqual(parseAdminKey(`${'n'.repeat(65)}:long-enough-key`), { key: `${'n'.repeat(65)}:long-enough-key` });
});

test('a named admin key authenticates as its name, by the key or the whole entry; plain keys keep their digest id', async () => {
  const provider = createApiKeyAuthProvider({
    adminKeys: ['alice:alice-key-123', 'plain-admin-key', 'x:short'],
    keys: [{ id: 'team-a', key: 'team-a-key-1', instances: ['shop'] }],
  });
  assert.deepEqual(await provider.authenticate(bearer('alice-key-123')), { id: 'alice', admin: true, instances: '*' });
  assert.deepEqual(await provider.authenticate(bearer('alice:alice-key-123')), { id: 'alice', admin: true, instances: '*' });
  assert.deepEqual(await provider.authenticate(bearer('plain-admin-key')), { id: digestId('plain-admin-key'), admin: true, instances: '*' });
  // Does not fit the rule (key too short): a plain key, whole, as before.
  assert.deepEqual(await provider.authenticate(bearer('x:short')), { id: digestId('x:short'), admin: true, instances: '*' });
  assert.deepEqual(await provider.authenticate(bearer('team-a-key-1')), { id: 'team-a', admin: false, instances: ['shop'] });
  for (const wrong of ['alice', 'short', 'alice:']) {
    await assert.rejects(async () => provider.authenticate(bearer(wrong)), (error: unknown) => isGatewayError(error) && error.code === 'UNAUTHORIZED');
  }
});
