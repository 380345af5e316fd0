// The OpenAPI import on public APIs' descriptions as their publishers ship them on npm (Swagger 2.0
// JSON, OpenAPI 3.0 in JSON and YAML, OpenAPI 3.1 in YAML and JSON) through a real gateway
// (apps/server/src/test-support/real-world-openapi.ts says what runs).
import { describePublishedImports } from '../test-support/real-world-openapi.js';

describePublishedImports();
