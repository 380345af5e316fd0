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

/** Encrypts and decrypts credential values under one key. */
export interface CredentialCipher {
  /**
   * A short, public fingerprint of the key (SHA-256 of a label and the key, 16 hex digits): it
   * tells keys apart in messages and reveals nothing usable about the key.
   */
  readonly keyId: string;
  encrypt(recordId: string, value: string, times: { created_at: string; updated_at: string }): StoredCredential;
  /**
   * The value of a stored credential.
   * @throws GatewayError `INTERNAL_ERROR` saying why it cannot be read (another key, a damaged or
   * moved record), never echoing the record's content.
   */
  decrypt(recordId: string, stored: unknown): string;
}

/**
 * Reads `credentials.key`: 32 bytes in base64 (the config format checked it). `undefined` for an
 * empty setting: no credential store.
 */
export function parseCredentialsKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new GatewayError('INTERNAL_ERROR', 'credentials.key (DYNMCP_CREDENTIALS_KEY) must be 32 random bytes in base64 (openssl rand -base64 32)');
  }
  return key;
}

// The additional authenticated data binds a ciphertext to its record: kind and id.
const aadOf = (recordId: string) => Buffer.from(`${CREDENTIAL_KIND}/${recordId}`, 'utf8');

const isStored = (value: unknown): value is StoredCredential => {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return ['key_id', 'iv', 'ciphertext', 'tag'].every((field) => typeof record[field] === 'string') && record.alg === ALGORITHM;
};

/** A cipher over `key` (32 bytes). */
export function createCredentialCipher(key: Buffer): CredentialCipher {
  if (key.length !== KEY_BYTES) throw new GatewayError('INTERNAL_ERROR', 'createCredentialCipher: the key must be 32 bytes');
  const keyId = createHash('sha256').update('dynmcp credentials key id\0').update(key).digest('hex').slice(0, 16);
  return {
    keyId,
    encrypt(recordId, value, times) {
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
    },
    decrypt(recordId, stored) {
      if (!isStored(stored)) {
        throw new GatewayError('INTERNAL_ERROR', `credential record "${recordId}" is not an encrypted credential (damaged or written by hand)`);
      }
      if (stored.key_id !== keyId) {
        throw new GatewayError(
          'INTERNAL_ERROR',
          `credential record "${recordId}" was encrypted with another key (key id ${stored.key_id}); this gateway's DYNMCP_CREDENTIALS_KEY has key id ${keyId}`,
        );
      }
      const iv = Buffer.from(stored.iv, 'base64');
      const tag = Buffer.from(stored.tag, 'base64');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
        throw new GatewayError('INTERNAL_ERROR', `credential record "${recordId}" is damaged (bad nonce or tag length)`);
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(aadOf(recordId));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(Buffer.from(stored.ciphertext, 'base64')), decipher.final()]).toString('utf8');
      } catch (error) {
        throw new GatewayError(
          'INTERNAL_ERROR',
          `credential record "${recordId}" does not decrypt with this gateway's DYNMCP_CREDENTIALS_KEY: it was altered or copied from another record`,
          { cause: error },
        );
      }
    },
  };
}
