export { createApiKeyAuthProvider, parseAdminKey, presentedApiKey } from './api-key-auth.js';
export type { AdminKey, ApiKeyAuthOptions, ScopedApiKey } from './api-key-auth.js';
