export {
  CREDENTIAL_KIND,
  CREDENTIAL_NAME,
  MAX_CREDENTIAL_VALUE_BYTES,
  PRINCIPAL_ID,
  assertCredentialName,
  assertPrincipalId,
  credentialRecordId,
  parseCredentialRecordId,
} from './credential-names.js';
export { createCredentialCipher, parseCredentialsKey, parsePreviousCredentialsKeys } from './credential-cipher.js';
export type { CredentialCipher, StoredCredential } from './credential-cipher.js';
export { checkStoredCredentials, createLiveCredentials } from './live-credentials.js';
export type { CredentialValue, LiveCredentials, LiveCredentialsOptions, StoredCredentialsCheck } from './live-credentials.js';
