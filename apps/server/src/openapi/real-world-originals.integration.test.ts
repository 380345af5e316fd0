// The OpenAPI import on real documents as their authors wrote them (Swagger 2.0 in YAML and JSON,
// OpenAPI 3.0 and 3.1 in YAML) through a real gateway (apps/server/src/test-support/real-world-openapi.ts
// says what runs).
import { describeOriginalImports } from '../test-support/real-world-openapi.js';

describeOriginalImports();
