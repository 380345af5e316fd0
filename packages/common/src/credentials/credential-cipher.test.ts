import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createCredentialCipher, parseCredentialsKey, parsePreviousCredentialsKeys } from './credential-cipher.js';
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

  it('decrypts under previous keys, encrypts only under the current one, and re-encrypts what is not under it', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = createCredentialCipher(oldKey);
    const stored = before.encrypt('alice/gh', 'ghp_alice', { created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-02-01T00:00:00.000Z' });
    // The current key listed again among the previous ones is the same key, counted once.
    const rotating = createCredentialCipher(newKey, [oldKey, newKey, oldKey]);
    assert.deepEqual(rotating.previousKeyIds, [before.keyId]);
    assert.equal(rotating.decrypt('alice/gh', stored), 'ghp_alice');
    assert.equal(rotating.encrypt('alice/gh', 'v', times).key_id, rotating.keyId);
    const moved = rotating.reencrypt('alice/gh', stored);
    assert.ok(moved !== undefined);
    assert.equal(moved.key_id, rotating.keyId);
    assert.deepEqual([moved.created_at, moved.updated_at], [stored.created_at, stored.updated_at]);
    assert.equal(createCredentialCipher(newKey).decrypt('alice/gh', moved), 'ghp_alice');
    assert.equal(rotating.reencrypt('alice/gh', moved), undefined, 'already under the current key');
    // A previous key decrypts only what it encrypted, bound to its record as any other.
    assert.throws(() => rotating.reencrypt('mallory/gh', stored), /does not decrypt with the key it names/);
    const stranger = createCredentialCipher(randomBytes(32)).encrypt('alice/gh', 'x', times);
    assert.throws(() => rotating.decrypt('alice/gh', stranger), new RegExp(`has key id ${rotating.keyId}; previous keys ${before.keyId}`));
    assert.throws(() => createCredentialCipher(newKey, [randomBytes(16)]), /every key must be 32 bytes/);
  });

  it('reads the previous keys setting: keys in base64 separated by commas, blanks ignored', () => {
    const [one, two] = [randomBytes(32), randomBytes(32)];
    assert.deepEqual(parsePreviousCredentialsKeys(''), []);
    assert.deepEqual(parsePreviousCredentialsKeys(` ${one.toString('base64')} ,, ${two.toString('base64')} `), [one, two]);
    assert.throws(() => parsePreviousCredentialsKeys(randomBytes(31).toString('base64')), /each of credentials\.previousKeys .* must be 32 random bytes/);
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
