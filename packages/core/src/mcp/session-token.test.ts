/**
 * Session tokens: a token verifies only with the secret that signed it, for the instance and the
 * caller it names, until it expires; every other id (tampered, garbage, another secret) is
 * `undefined`, which the session store answers like any unknown session.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSessionTokens, randomSessionSecret } from './session-token.js';

let clock = 1_700_000_000_000;
const secret = randomSessionSecret();
const tokens = createSessionTokens({ secret, ttlMs: 60_000, now: () => clock });
const init = { protocolVersion: '2025-11-25', capabilities: { roots: { listChanged: true }, sampling: {}, experimental: { x: {} } } };

test('a token verifies for its instance and owner, and says how the client initialized', () => {
  const { token, claims } = tokens.issue('shop', 'team-a', init);
  assert.match(token, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/, 'visible ASCII only, as session ids must be');
  assert.ok(token.length < 300, `compact (${token.length} characters)`);
  const verified = tokens.verify(token, 'shop', 'team-a');
  assert.deepEqual(verified, claims);
  assert.equal(verified?.protocolVersion, '2025-11-25');
  assert.deepEqual(verified?.capabilities, ['roots', 'sampling'], 'only the capabilities a later request needs');
  assert.equal(verified?.expiresAt, clock + 60_000);
  assert.ok(!token.includes('team-a') && !Buffer.from(token.split('.')[1]!, 'base64url').toString().includes('team-a'), 'the owner is not readable in the id');
  assert.notEqual(tokens.issue('shop', 'team-a', init).token, token, 'two sessions never share an id');
});

test('another instance, another owner, or expiry: refused', () => {
  const { token } = tokens.issue('shop', 'team-a', init);
  assert.equal(tokens.verify(token, 'other', 'team-a'), undefined);
  assert.equal(tokens.verify(token, 'shop', 'team-b'), undefined);
  assert.equal(tokens.verify(token, 'shop', 'anonymous@127.0.0.1'), undefined);
  const issuedAt = clock;
  clock = issuedAt + 59_999;
  assert.notEqual(tokens.verify(token, 'shop', 'team-a'), undefined);
  clock = issuedAt + 60_000;
  assert.equal(tokens.verify(token, 'shop', 'team-a'), undefined, 'expired at its expiry');
  clock = issuedAt;
});

test('another secret: refused; the same secret in another process: accepted', () => {
  const { token } = tokens.issue('shop', 'team-a', init);
  const other = createSessionTokens({ secret: randomSessionSecret(), ttlMs: 60_000, now: () => clock });
  assert.equal(other.verify(token, 'shop', 'team-a'), undefined);
  const sameSecret = createSessionTokens({ secret: Buffer.from(secret), ttlMs: 1, now: () => clock });
  assert.notEqual(sameSecret.verify(token, 'shop', 'team-a'), undefined, 'the expiry is the one signed in, not the verifier\'s TTL');
});

test('tampered tokens are refused: payload, MAC, or claims re-encoded without the secret', () => {
  const { token } = tokens.issue('shop', 'team-a', init);
  const [version, payload, mac] = token.split('.') as [string, string, string];
  const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
  assert.equal(tokens.verify(`${version}.${flip(payload, 5)}.${mac}`, 'shop', 'team-a'), undefined);
  assert.equal(tokens.verify(`${version}.${payload}.${flip(mac, 0)}`, 'shop', 'team-a'), undefined);
  assert.equal(tokens.verify(`${version}.${payload}.${mac.slice(0, -2)}`, 'shop', 'team-a'), undefined, 'a shorter MAC');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const extended = Buffer.from(JSON.stringify({ ...claims, e: clock + 10 * 60_000 })).toString('base64url');
  assert.equal(tokens.verify(`${version}.${extended}.${mac}`, 'shop', 'team-a'), undefined, 'a longer life');
  assert.equal(tokens.verify(`v2.${payload}.${mac}`, 'shop', 'team-a'), undefined, 'another format version');
});

test('garbage is refused without throwing', () => {
  for (const garbage of ['', '.', '..', 'v1', 'v1.', 'v1..', 'v1.e30.', '6f1b1a52-0000-4000-8000-000000000000', 'v1.%%%.%%%', 'v1.'.padEnd(5000, 'a'), 'ünïcödé.x.y']) {
    assert.equal(tokens.verify(garbage, 'shop', 'team-a'), undefined, JSON.stringify(garbage.slice(0, 40)));
  }
});

test('a short secret or a TTL that is not a positive integer is refused at creation', () => {
  assert.throws(() => createSessionTokens({ secret: Buffer.alloc(16), ttlMs: 1000 }), /at least 32 bytes/);
  assert.throws(() => createSessionTokens({ secret, ttlMs: 0 }), /positive integer/);
});
