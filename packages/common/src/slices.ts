/**
 * Longest stretch of one large piece of work on the main thread (compiling a change's schemas,
 * checking and parsing a large admin body, encoding, writing or decoding a store's records) before
 * other work, the requests on /mcp among them, gets a turn of the event loop.
 */
export const SLICE_MS = 5;

/**
 * A function to await between the steps of a large piece of work: it yields to the event loop
 * (`setImmediate`) once {@link SLICE_MS} of work has gone by since the last yield, and otherwise
 * returns `undefined` at once, so a step that need not yield costs no promise. A change of a
 * thousand imported tools is megabytes of JSON to check, encode, write and decode: tens of
 * milliseconds in each step that would otherwise hold every request of the replica at once.
 * SQLite statements run synchronously and their promises resolve without a turn of the event loop,
 * so awaiting them alone lets nothing else in.
 */
export function slicer(): () => Promise<void> | undefined {
  let sliceStart = performance.now();
  return () => {
    if (performance.now() - sliceStart < SLICE_MS) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        sliceStart = performance.now();
        resolve();
      }),
    );
  };
}
