export { createApiKeyAuthProvider, presentedApiKey } from './api-key-auth.js';
