// The gateway's way to the built console: `vite build` writes the app to dist/, and the server
// serves that folder at /ui/ (apps/server/src/http/console-route.ts). Plain JavaScript, not built,
// so that resolving the folder never depends on a build of this file.
import { fileURLToPath } from 'node:url';

/** Absolute path of the built console (index.html and assets/), with a trailing separator. */
export const consoleDir = fileURLToPath(new URL('./dist/', import.meta.url));
