// The OpenAPI import on real public API descriptions through a real gateway: part 1 of the sample
// (apps/server/src/test-support/real-world-openapi.ts says what runs and why it is split).
import { describeSampleImports } from '../test-support/real-world-openapi.js';

describeSampleImports(0, 8);
