import { GatewayError, isGatewayError, type DataSource, type Logger, type StoredRecord } from '@dynmcp/plugin';
import type { RecordSink } from '../live/live-definitions.js';
import type { CredentialCipher } from './credential-cipher.js';
import { CREDENTIAL_KIND, parseCredentialRecordId } from './credential-names.js';

/** A credential's value, or why there is none to send: a message naming the record, never a value. */
export type CredentialValue = { ok: true; value: string } | { ok: false; problem: string };

/**
 * Every replica's decrypted copy of the per-principal credentials, fed by the store's feed through
 * the live definitions (a {@link RecordSink} of kind `credential`): a rotation is one more feed
 * change, live everywhere once applied. Values are decrypted when applied and held only here.
 */
export interface LiveCredentials extends RecordSink {
  /** The value of `name` stored for `principalId`; `undefined` when none is stored. */
  credential(principalId: string, name: string): CredentialValue | undefined;
}

/** Options of {@link createLiveCredentials}. */
export interface LiveCredentialsOptions {
  /** The cipher of `credentials.key`; without one, stored credentials are held as unreadable. */
  cipher: CredentialCipher | undefined;
  logger: Logger;
}

/** Creates empty live credentials; the live definitions fill them from the feed. */
export function createLiveCredentials(options: LiveCredentialsOptions): LiveCredentials {
  const { cipher } = options;
  const logger = options.logger.child({ component: 'credentials' });
  const byPrincipal = new Map<string, Map<string, CredentialValue>>();

  function open(id: string, value: unknown): CredentialValue {
    if (cipher === undefined) {
      return { ok: false, problem: `credential record "${id}" cannot be read: this gateway has no credentials.key (DYNMCP_CREDENTIALS_KEY)` };
    }
    try {
      return { ok: true, value: cipher.decrypt(id, value) };
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      // The record's id only: the message never holds a value.
      logger.error('stored credential cannot be decrypted; calls that need it fail', { id, error: error.message });
      return { ok: false, problem: `${error.message}; the credential cannot be sent` };
    }
  }

  function set(id: string, value: unknown) {
    const key = parseCredentialRecordId(id);
    if (key === undefined) {
      logger.warn('credential record with a malformed id ignored', { id });
      return;
    }
    let names = byPrincipal.get(key.principal);
    if (names === undefined) byPrincipal.set(key.principal, (names = new Map()));
    names.set(key.name, open(id, value));
  }

  function remove(id: string) {
    const key = parseCredentialRecordId(id);
    if (key === undefined) return;
    const names = byPrincipal.get(key.principal);
    names?.delete(key.name);
    if (names?.size === 0) byPrincipal.delete(key.principal);
  }

  return {
    kind: CREDENTIAL_KIND,
    replace(records) {
      byPrincipal.clear();
      for (const record of records) set(record.id, record.value);
    },
    put: (id, value) => set(id, value),
    delete: (id) => remove(id),
    credential: (principalId, name) => byPrincipal.get(principalId)?.get(name),
  };
}

/** What the start-time check found: how many credentials are stored, and how many of them are under a previous key. */
export interface StoredCredentialsCheck {
  count: number;
  underPreviousKeys: number;
}

/**
 * The start-time check of the stored credentials: every one must decrypt under this gateway's key
 * or one of its previous keys. A gateway that could not read them would fail every call needing
 * one, replica by replica, long after the mistake; it is refused at start instead.
 * @throws GatewayError `INTERNAL_ERROR` naming the setting and the first unreadable record.
 */
export async function checkStoredCredentials(datasource: DataSource, cipher: CredentialCipher | undefined): Promise<StoredCredentialsCheck> {
  const records: StoredRecord[] = await datasource.list(CREDENTIAL_KIND);
  if (records.length === 0) return { count: 0, underPreviousKeys: 0 };
  if (cipher === undefined) {
    throw new GatewayError(
      'INTERNAL_ERROR',
      `the store holds ${records.length} per-principal credential(s) but credentials.key (DYNMCP_CREDENTIALS_KEY) is not set; set it to the key they were written with (or delete them with DELETE /admin/credentials/<principal>/<name> from a gateway that has it)`,
    );
  }
  let unreadable = 0;
  let underPreviousKeys = 0;
  let first: string | undefined;
  for (const record of records) {
    try {
      cipher.decrypt(record.id, record.value);
      if ((record.value as { key_id?: unknown }).key_id !== cipher.keyId) underPreviousKeys += 1;
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      unreadable += 1;
      first ??= error.message;
    }
  }
  if (first !== undefined) {
    throw new GatewayError(
      'INTERNAL_ERROR',
      `${unreadable} of ${records.length} stored credential(s) cannot be decrypted with credentials.key (DYNMCP_CREDENTIALS_KEY) or credentials.previousKeys: wrong key? First: ${first}`,
    );
  }
  return { count: records.length, underPreviousKeys };
}
