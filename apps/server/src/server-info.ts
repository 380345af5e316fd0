import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Name and version the gateway reports to MCP clients. */
export const SERVER_INFO = { name: 'dynmcp', version: pkg.version } as const;
