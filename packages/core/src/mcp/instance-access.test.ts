/**
 * The access rule a changed instance's sessions are held to (instance-access.ts), the one the HTTP
 * front's access check applies to every request: the end-to-end cases (a real gateway, real
 * streams) are in apps/server/src/security/mcp-sessions.security.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InstanceDefinition, Principal } from '@dynmcp/plugin';
import { missingScopes, servesCaller } from './instance-access.js';

const shop: InstanceDefinition = { id: 'shop', name: 'shop', tool_ids: [], allowed_principals: ['user-1'], required_scopes: ['mcp:tools', 'shop:read'] };
const key: Principal = { id: 'team-a', admin: false, instances: ['shop'] };
const token = (scope: string): Principal => ({ id: 'user-1', admin: false, instances: [], claims: { sub: 'user-1', scope } });

test('a principal is served by its own grant or by allowed_principals; anyone by a public instance', () => {
  assert.equal(servesCaller(key, shop), true, 'its own grant; an API key is asked no scopes');
  assert.equal(servesCaller(key, { ...shop, id: 'other' }), false);
  assert.equal(servesCaller(token('mcp:tools shop:read'), shop), true, 'allowed_principals');
  assert.equal(servesCaller(token('mcp:tools shop:read'), { ...shop, allowed_principals: [] }), false);
  assert.equal(servesCaller(undefined, shop), false, 'anonymous');
  assert.equal(servesCaller(undefined, { ...shop, public: true }), true);
  assert.equal(servesCaller(token(''), { ...shop, public: true }), true, 'a public instance asks no scopes');
});

test('a token principal must hold every required scope', () => {
  assert.deepEqual(missingScopes(token('mcp:tools'), shop), ['shop:read']);
  assert.equal(servesCaller(token('mcp:tools'), shop), false);
  assert.deepEqual(missingScopes(token('shop:read mcp:tools extra'), shop), []);
  assert.deepEqual(missingScopes(key, shop), []);
  assert.deepEqual(missingScopes(undefined, shop), []);
});
