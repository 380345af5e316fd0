/** Absolute path of the built console (index.html and assets/), with a trailing separator. */
export declare const consoleDir: string;
