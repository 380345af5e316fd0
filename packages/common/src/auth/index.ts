export { createApiKeyAuthProvider, presentedApiKey } from './api-key-auth.js';
export type { ApiKeyAuthOptions, ScopedApiKey } from './api-key-auth.js';
