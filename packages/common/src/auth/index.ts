export { createApiKeyAuthProvider, parseAdminKey, presentedApiKey } from './api-key-auth.js';
export type { AdminKey, ApiKeyAuthOptions, ScopedApiKey } from './api-key-auth.js';
export { createOAuthAuthProvider, grantedScopes, presentedBearerToken } from './oauth-auth.js';
export type { OAuthAuthOptions } from './oauth-auth.js';
export { createIssuerKeys, issuerMetadataUrls } from './oauth-issuer.js';
export type { FetchLike, IssuerKeys, IssuerKeysOptions } from './oauth-issuer.js';
export { anonymousPrincipalId, apiKeyPrincipalId, gatewayPrincipalPrefix } from './principal-ids.js';
