import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { GatewayError } from '@dynmcp/plugin';
import { CREDENTIAL_KIND } from './credential-names.js';

/** Bytes of an AES-256 key. */
const KEY_BYTES = 32;
/** Bytes of a GCM nonce: 96 bits, the size GCM is specified for (NIST SP 800-38D §5.2.1.1). */
const IV_BYTES = 12;
/** Bytes of a GCM tag: the full 128 bits. */
const TAG_BYTES = 16;
const ALGORITHM = 'A256GCM';

/**
 * How a credential is stored: the value encrypted with AES-256-GCM under the gateway's key, a
 * fresh random nonce per write, the record's id as additional authenticated data (a ciphertext
 * copied to another record does not decrypt there), the key's id (so a wrong key is named as
 * such), and the timestamps the admin listing shows. Never the value in clear.
 */
export interface StoredCredential {
  alg: typeof ALGORITHM;
  /** {@link CredentialCipher.keyId} of the key that encrypted it. */
  key_id: string;
  iv: string;
  ciphertext: string;
  tag: string;
  /** ISO 8601: when the credential was first stored, and when this value was. */
  created_at: string;
  updated_at: string;
}

/**
 * Encrypts credential values under the current key and decrypts them under it or any previous key,
 * so that the key can be rotated: a replica given the new key and the old one as previous reads
 * every record, and {@link CredentialCipher.reencrypt} moves records to the new key.
 */
export interface CredentialCipher {
  /**
   * A short, public fingerprint of the current key (SHA-256 of a label and the key, 16 hex
   * digits): it tells keys apart in messages and listings and reveals nothing usable about the key.
   */
  readonly keyId: string;
  /** The fingerprints of the previous keys, which decrypt but never encrypt. */
  readonly previousKeyIds: readonly string[];
  encrypt(recordId: string, value: string, times: { created_at: string; updated_at: string }): StoredCredential;
  /**
   * The value of a stored credential, under whichever known key its `key_id` names.
   * @throws GatewayError `INTERNAL_ERROR` saying why it cannot be read (an unknown key, a damaged or
   * moved record), never echoing the record's content.
   */
  decrypt(recordId: string, stored: unknown): string;
  /**
   * `stored` encrypted under the current key (same value, same timestamps, a fresh nonce), or
   * `undefined` when it already is.
   * @throws GatewayError as {@link CredentialCipher.decrypt} does.
   */
  reencrypt(recordId: string, stored: unknown): StoredCredential | undefined;
}

/** 32 bytes from base64 `text`, or an error naming `setting`. */
function decodeKey(text: string, setting: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES) throw new GatewayError('INTERNAL_ERROR', `${setting} must be 32 random bytes in base64 (openssl rand -base64 32)`);
  return key;
}

/**
 * Reads `credentials.key`: 32 bytes in base64 (the config format checked it). `undefined` for an
 * empty setting: no credential store.
 */
export function parseCredentialsKey(text: string): Buffer | undefined {
  return text.trim() === '' ? undefined : decodeKey(text, 'credentials.key (DYNMCP_CREDENTIALS_KEY)');
}

/**
 * Reads `credentials.previousKeys`: keys of 32 bytes in base64, separated by commas (the config
 * format checked them); none for an empty setting.
 */
export function parsePreviousCredentialsKeys(text: string): Buffer[] {
  const entries = text.split(',').filter((entry) => entry.trim() !== '');
  return entries.map((entry) => decodeKey(entry, 'each of credentials.previousKeys (DYNMCP_CREDENTIALS_PREVIOUS_KEYS)'));
}

// The additional authenticated data binds a ciphertext to its record: kind and id.
const aadOf = (recordId: string) => Buffer.from(`${CREDENTIAL_KIND}/${recordId}`, 'utf8');

const isStored = (value: unknown): value is StoredCredential => {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return ['key_id', 'iv', 'ciphertext', 'tag'].every((field) => typeof record[field] === 'string') && record.alg === ALGORITHM;
};

/** The public fingerprint of a key (see {@link CredentialCipher.keyId}). */
function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('dynmcp credentials key id\0').update(key).digest('hex').slice(0, 16);
}

/**
 * A cipher over `key` (32 bytes), which also decrypts what any of `previous` (32 bytes each)
 * encrypted. A previous key equal to the current one, or repeated, is the same key and counts once.
 */
export function createCredentialCipher(key: Buffer, previous: readonly Buffer[] = []): CredentialCipher {
  for (const candidate of [key, ...previous]) {
    if (candidate.length !== KEY_BYTES) throw new GatewayError('INTERNAL_ERROR', 'createCredentialCipher: every key must be 32 bytes');
  }
  const keyId = keyIdOf(key);
  const keys = new Map<string, Buffer>([[keyId, key]]);
  for (const old of previous) {
    const id = keyIdOf(old);
    if (!keys.has(id)) keys.set(id, old);
  }
  const previousKeyIds = [...keys.keys()].slice(1);
  const known = previousKeyIds.length === 0 ? `key id ${keyId}` : `key id ${keyId}; previous keys ${previousKeyIds.join(', ')}`;

  function encrypt(recordId: string, value: string, times: { created_at: string; updated_at: string }): StoredCredential {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aadOf(recordId));
    const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return {
      alg: ALGORITHM,
      key_id: keyId,
      iv: iv.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      created_at: times.created_at,
      updated_at: times.updated_at,
    };
  }

  function decrypt(recordId: string, stored: unknown): string {
    if (!isStored(stored)) {
      throw new GatewayError('INTERNAL_ERROR', `credential record "${recordId}" is not an encrypted credential (damaged or written by hand)`);
    }
    const storedKey = keys.get(stored.key_id);
    if (storedKey === undefined) {
      throw new GatewayError(
        'INTERNAL_ERROR',
        `credential record "${recordId}" was encrypted with another key (key id ${stored.key_id}); this gateway's DYNMCP_CREDENTIALS_KEY has ${known} (DYNMCP_CREDENTIALS_PREVIOUS_KEYS)`,
      );
    }
    const iv = Buffer.from(stored.iv, 'base64');
    const tag = Buffer.from(stored.tag, 'base64');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
      throw new GatewayError('INTERNAL_ERROR', `credential record "${recordId}" is damaged (bad nonce or tag length)`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', storedKey, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aadOf(recordId));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(stored.ciphertext, 'base64')), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new GatewayError(
        'INTERNAL_ERROR',
        `credential record "${recordId}" does not decrypt with the key it names (key id ${stored.key_id}): it was altered or copied from another record`,
        { cause: error },
      );
    }
  }

  return {
    keyId,
    previousKeyIds,
    encrypt,
    decrypt,
    reencrypt(recordId, stored) {
      const value = decrypt(recordId, stored);
      const { key_id: storedKeyId, created_at: createdAt, updated_at: updatedAt } = stored as StoredCredential;
      if (storedKeyId === keyId) return undefined;
      return encrypt(recordId, value, {
        created_at: typeof createdAt === 'string' ? createdAt : '',
        updated_at: typeof updatedAt === 'string' ? updatedAt : '',
      });
    },
  };
}
