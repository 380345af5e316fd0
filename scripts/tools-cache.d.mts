// Types of tools-cache.mjs, for the TypeScript tests that install official MCP tools through it.
export declare const toolsCacheDir: string;
export declare function ensureInstalled(
  dir: string,
  spec: string,
  marker: string,
  options?: { log?: (message: string) => void; npmArgs?: string[] },
): void;
