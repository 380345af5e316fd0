/**
 * Longest stretch of a store's own work on one large write or read (encoding a batch's records,
 * its statements, decoding feed rows) before other work runs, as the live definitions slice theirs.
 */
export const SLICE_MS = 5;

/**
 * A function to await between the steps of a large piece of work: it yields to the event loop
 * once {@link SLICE_MS} of work has gone by. A change of a thousand imported tools is several MB of
 * JSON to encode, write and decode, tens of milliseconds in each step that would otherwise hold
 * every request of the replica at once. SQLite statements run synchronously and their promises
 * resolve without a turn of the event loop, so awaiting them alone lets nothing else in.
 */
export function slicer(): () => Promise<void> {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart < SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    sliceStart = performance.now();
  };
}
