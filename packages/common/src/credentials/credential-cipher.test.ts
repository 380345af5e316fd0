import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createCredentialCipher, parseCredentialsKey } from './credential-cipher.js';
import { parseCredentialRecordId } from './credential-names.js';

const times = { created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' };

describe('credential encryption (AES-256-GCM)', () => {
  const cipher = createCredentialCipher(randomBytes(32));

  it('round-trips a value with a fresh nonce per write and stores no plaintext', () => {
    const one = cipher.encrypt('alice/gh', 'ghp_secret', times);
    const two = cipher.encrypt('alice/gh', 'ghp_secret', times);
    assert.notEqual(one.iv, two.iv);
    assert.notEqual(one.ciphertext, two.ciphertext);
    assert.ok(!JSON.stringify(one).includes('ghp_secret'));
    assert.equal(cipher.decrypt('alice/gh', one), 'ghp_secret');
    assert.equal(cipher.decrypt('alice/gh', JSON.parse(JSON.stringify(two))), 'ghp_secret');
  });

  it('binds a ciphertext to its record: copied to another record it does not decrypt', () => {
    const alice = cipher.encrypt('alice/gh', 'ghp_alice', times);
    assert.throws(() => cipher.decrypt('mallory/gh', alice), /"mallory\/gh" does not decrypt .*altered or copied from another record/);
    const tampered = { ...alice, ciphertext: Buffer.from('x').toString('base64') };
    assert.throws(() => cipher.decrypt('alice/gh', tampered), /does not decrypt/);
  });

  it('names a wrong key as such, and damaged records as damaged, never quoting the record', () => {
    const other = createCredentialCipher(randomBytes(32));
    const stored = other.encrypt('alice/gh', 'ghp_alice', times);
    assert.throws(() => cipher.decrypt('alice/gh', stored), (error: Error) => {
      assert.match(error.message, new RegExp(`encrypted with another key \\(key id ${other.keyId}\\); .* has key id ${cipher.keyId}`));
      assert.ok(!error.message.includes(stored.ciphertext));
      return true;
    });
    assert.throws(() => cipher.decrypt('alice/gh', 'plain text'), /not an encrypted credential/);
    assert.throws(() => cipher.decrypt('alice/gh', { ...cipher.encrypt('alice/gh', 'v', times), iv: 'AAAA' }), /bad nonce or tag length/);
  });

  it('reads the key setting: empty is no store, 32 bytes in base64 is a key', () => {
    assert.equal(parseCredentialsKey(''), undefined);
    assert.equal(parseCredentialsKey(` ${randomBytes(32).toString('base64')} `)?.length, 32);
    assert.throws(() => parseCredentialsKey(randomBytes(16).toString('base64')), /32 random bytes in base64/);
  });

  it('splits record ids at the last "/", so principals may hold one', () => {
    assert.deepEqual(parseCredentialRecordId('https://as.example/u1/gh'), { principal: 'https://as.example/u1', name: 'gh' });
    assert.equal(parseCredentialRecordId('no-slash'), undefined);
    assert.equal(parseCredentialRecordId('alice/bad name'), undefined);
  });
});
