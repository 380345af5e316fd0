import express, { type RequestHandler } from 'express';
import {
  assertCredentialName,
  assertPrincipalId,
  CREDENTIAL_KIND,
  credentialRecordId,
  MAX_CREDENTIAL_VALUE_BYTES,
  parseCredentialRecordId,
  type CredentialCipher,
  type LiveDefinitions,
  type StoredCredential,
} from '@dynmcp/common';
import { GatewayError, isGatewayError, type DataSource, type StoredRecord } from '@dynmcp/plugin';
import { sendSuccess } from '../http/envelope.js';
import { optionalJsonBody } from './admin-json-body.js';
import { assertStoreReachable, asyncRoute, methodNotAllowed } from './admin-support.js';

/** What the admin API shows of a stored credential: never its value. */
export interface CredentialListing {
  principal: string;
  name: string;
  /** The fingerprint of the key it is encrypted under (see `credentials.previousKeys`). */
  key_id: string;
  created_at: string;
  updated_at: string;
  revision: number;
}

/** What `POST /admin/credentials/rotate` did. */
export interface RotationResult {
  /** The current key's fingerprint: every credential rotated or current is under it. */
  key_id: string;
  /** Re-encrypted under the current key by this request. */
  rotated: number;
  /** Already under the current key. */
  current: number;
  /** Changed by another write while the rotation ran, and left as that write made it; rotate again to cover them. */
  changed: string[];
  /** Under no key this gateway has (`<principal>/<name>`): left as they are. */
  unreadable: string[];
  /** The store's revision once the last re-encryption was applied here; absent when nothing was written. */
  revision?: number;
}

/** Options of {@link createCredentialAdmin}. */
export interface CredentialAdminOptions {
  datasource: DataSource;
  /** A write answers once this replica applied it, so the next call here already uses it. */
  definitions: Pick<LiveDefinitions, 'waitForRevision'>;
  /** The cipher of `credentials.key`; without one every write is refused. */
  cipher: CredentialCipher | undefined;
  now?: () => Date;
  applyTimeoutMs?: number;
}

/** A write's precondition: a revision (`0`: only if absent), or `*`: only if present. */
export type Precondition = number | '*';

const absent = (principal: string, name: string) =>
  new GatewayError('PRECONDITION_FAILED', `If-Match: * but no credential "${name}" is stored for principal "${principal}"`);

/** The credential store's admin operations (`/admin/credentials`). */
export interface CredentialAdmin {
  list(principal?: string): Promise<CredentialListing[]>;
  /**
   * `ifRevision`: write only over that revision (`0`: only if absent; `*`: only if present), as
   * `If-Match` and `If-None-Match: *` ask; otherwise `PRECONDITION_FAILED`.
   */
  put(principal: string, name: string, body: unknown, writer: string | undefined, ifRevision?: Precondition): Promise<CredentialListing>;
  remove(principal: string, name: string, writer: string | undefined, ifRevision?: Precondition): Promise<number>;
  /**
   * Re-encrypts every stored credential that is under a previous key (`credentials.previousKeys`)
   * under the current one, each only over the revision it read, so a write made meanwhile is never
   * undone. Values never leave the gateway; each re-encryption is a `put` in the store's history.
   */
  rotate(writer: string | undefined): Promise<RotationResult>;
}

/** True when `value` holds a control character other than tab: a header would refuse it at call time, so a write refuses it early. */
function hasControlCharacter(value: string): boolean {
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** The `value` of a PUT body, checked. Messages never quote it. */
function parseValue(body: unknown): string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('INVALID_PAYLOAD', 'send {"value": "<the credential>"}');
  }
  const unknown = Object.keys(body).filter((key) => key !== 'value');
  if (unknown.length > 0) {
    throw new GatewayError('INVALID_PAYLOAD', `unknown key(s) ${unknown.map((key) => JSON.stringify(key)).join(', ')}; send only {"value": "…"}`);
  }
  const value = (body as { value?: unknown }).value;
  if (typeof value !== 'string' || value === '') throw new GatewayError('INVALID_PAYLOAD', '"value" must be a non-empty string');
  if (Buffer.byteLength(value, 'utf8') > MAX_CREDENTIAL_VALUE_BYTES) {
    throw new GatewayError('INVALID_PAYLOAD', `"value" must be at most ${MAX_CREDENTIAL_VALUE_BYTES} bytes of UTF-8`);
  }
  if (hasControlCharacter(value)) {
    throw new GatewayError('INVALID_PAYLOAD', '"value" must not contain control characters (CR, LF, NUL…): it is sent in headers and query strings');
  }
  return value;
}

/** Code-unit order, the order the store lists ids in. */
const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function listing(record: StoredRecord): CredentialListing | undefined {
  const key = parseCredentialRecordId(record.id);
  if (key === undefined) return undefined;
  const stored = record.value as Partial<StoredCredential> | null;
  return {
    principal: key.principal,
    name: key.name,
    key_id: typeof stored?.key_id === 'string' ? stored.key_id : '',
    created_at: typeof stored?.created_at === 'string' ? stored.created_at : '',
    updated_at: typeof stored?.updated_at === 'string' ? stored.updated_at : '',
    revision: record.revision,
  };
}

/**
 * Stores per-principal credentials in the gateway's datasource, encrypted (credential-cipher.ts),
 * under the record kind `credential` and the id `<principal>/<name>`. The history the datasource
 * keeps of each write holds the ciphertext; the audit names the record, never a value.
 */
export function createCredentialAdmin(options: CredentialAdminOptions): CredentialAdmin {
  const { datasource, cipher } = options;
  const now = options.now ?? (() => new Date());
  const applyTimeoutMs = options.applyTimeoutMs ?? 2000;

  function requireCipher(): CredentialCipher {
    if (cipher !== undefined) return cipher;
    throw new GatewayError(
      'CREDENTIALS_DISABLED',
      'this gateway has no credential store key: set credentials.key (DYNMCP_CREDENTIALS_KEY) to 32 random bytes in base64 (openssl rand -base64 32), the same on every replica, and restart',
    );
  }

  return {
    async list(principal) {
      if (principal !== undefined) assertPrincipalId(principal);
      assertStoreReachable(datasource);
      const records = await datasource.list(CREDENTIAL_KIND);
      const shown = records.map(listing).filter((entry): entry is CredentialListing => entry !== undefined);
      // By principal, then name: the store orders by record id, where "alice.b/x" comes before "alice/x".
      shown.sort((a, b) => compareText(a.principal, b.principal) || compareText(a.name, b.name));
      return principal === undefined ? shown : shown.filter((entry) => entry.principal === principal);
    },
    async put(principal, name, body, writer, ifRevision) {
      assertPrincipalId(principal);
      assertCredentialName(name);
      const value = parseValue(body);
      const writing = requireCipher();
      assertStoreReachable(datasource);
      const id = credentialRecordId(principal, name);
      const previous = await datasource.get(CREDENTIAL_KIND, id);
      if (ifRevision === '*' && previous === undefined) throw absent(principal, name);
      const at = now().toISOString();
      const createdAt = (previous?.value as Partial<StoredCredential> | undefined)?.created_at;
      const stored = writing.encrypt(id, value, { created_at: typeof createdAt === 'string' ? createdAt : at, updated_at: at });
      const record = await datasource.put(CREDENTIAL_KIND, id, stored, { ifRevision: ifRevision === '*' ? previous?.revision : ifRevision, metadata: { principal: writer, action: 'put' } });
      await options.definitions.waitForRevision(record.revision, applyTimeoutMs);
      return listing(record) as CredentialListing;
    },
    async remove(principal, name, writer, ifRevision) {
      assertPrincipalId(principal);
      assertCredentialName(name);
      assertStoreReachable(datasource);
      const revision = await datasource.delete(CREDENTIAL_KIND, credentialRecordId(principal, name), {
        ifRevision: ifRevision === '*' ? undefined : ifRevision,
        metadata: { principal: writer, action: 'delete' },
      });
      if (revision === undefined) {
        if (ifRevision === '*') throw absent(principal, name);
        throw new GatewayError('CREDENTIAL_NOT_FOUND', `no credential "${name}" is stored for principal "${principal}"`);
      }
      await options.definitions.waitForRevision(revision, applyTimeoutMs);
      return revision;
    },
    async rotate(writer) {
      const rotating = requireCipher();
      assertStoreReachable(datasource);
      const result: RotationResult = { key_id: rotating.keyId, rotated: 0, current: 0, changed: [], unreadable: [] };
      for (const record of await datasource.list(CREDENTIAL_KIND)) {
        let reencrypted: StoredCredential | undefined;
        try {
          reencrypted = rotating.reencrypt(record.id, record.value);
        } catch (error) {
          if (!isGatewayError(error)) throw error;
          result.unreadable.push(record.id);
          continue;
        }
        if (reencrypted === undefined) {
          result.current += 1;
          continue;
        }
        try {
          const written = await datasource.put(CREDENTIAL_KIND, record.id, reencrypted, { ifRevision: record.revision, metadata: { principal: writer, action: 'put' } });
          result.rotated += 1;
          result.revision = written.revision;
        } catch (error) {
          if (!isGatewayError(error) || error.code !== 'PRECONDITION_FAILED') throw error;
          result.changed.push(record.id);
        }
      }
      if (result.revision !== undefined) await options.definitions.waitForRevision(result.revision, applyTimeoutMs);
      return result;
    },
  };
}

/**
 * `GET /admin/credentials`, `GET /admin/credentials/:principal`, `PUT` and `DELETE
 * /admin/credentials/:principal/:name`, and `POST /admin/credentials/rotate`, mounted on the admin router (after its admin check);
 * `body` is the admin router's JSON body parsing, `precondition` its reading of `If-Match` and
 * `If-None-Match`, so a rotation can be made conditional like any other write.
 */
export function credentialsRouter(admin: CredentialAdmin, body: RequestHandler[], precondition: (req: express.Request) => number | undefined): express.Router {
  const router = express.Router({ caseSensitive: true, strict: false });
  const writer = (req: express.Request) => req.principal?.id;
  const ifRevisionOf = (req: express.Request): Precondition | undefined =>
    req.headers['if-none-match'] === undefined && req.headers['if-match']?.trim() === '*' ? '*' : precondition(req);
  router.get('/', asyncRoute(async (_req, res) => sendSuccess(res, await admin.list())));
  // Before the `/:principal` routes, which answer 405 to a POST: a principal named "rotate" keeps
  // its GET, PUT and DELETE.
  // A rotation takes no body, or {}.
  router.post(
    '/rotate',
    optionalJsonBody(body),
    asyncRoute(async (req, res) => {
      const sent: unknown = req.body;
      const empty = typeof sent === 'object' && sent !== null && !Array.isArray(sent) && Object.keys(sent).length === 0;
      if (!empty) throw new GatewayError('INVALID_PAYLOAD', 'POST /admin/credentials/rotate takes no body (or {}): it re-encrypts every stored credential under credentials.key');
      sendSuccess(res, await admin.rotate(writer(req)));
    }),
  );
  router.get('/:principal', asyncRoute(async (req, res) => sendSuccess(res, await admin.list(req.params.principal as string))));
  router.put(
    '/:principal/:name',
    body,
    asyncRoute(async (req, res) => {
      const entry = await admin.put(req.params.principal as string, req.params.name as string, req.body, writer(req), ifRevisionOf(req));
      res.setHeader('etag', `"${entry.revision}"`);
      sendSuccess(res, entry);
    }),
  );
  router.delete(
    '/:principal/:name',
    asyncRoute(async (req, res) => {
      const revision = await admin.remove(req.params.principal as string, req.params.name as string, writer(req), ifRevisionOf(req));
      sendSuccess(res, null, { revision });
    }),
  );
  router.all(['/', '/:principal', '/:principal/:name'], methodNotAllowed);
  return router;
}
