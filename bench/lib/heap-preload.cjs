// Bench-only preload for the gateway process (`node --expose-gc --require <this> bin.js`).
// The gateway cannot be garbage-collected from outside, so this adds one thing to the process and
// nothing to its code: on SIGUSR2 it runs a full GC (twice, so finalizers' garbage goes too) and
// writes process.memoryUsage() to $BENCH_HEAP_FILE with a sequence number. The handler runs on
// the event loop between requests, like any other callback.
'use strict';
const { writeFileSync, renameSync } = require('node:fs');

const file = process.env.BENCH_HEAP_FILE;
let seq = 0;
if (file && typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    globalThis.gc();
    globalThis.gc();
    seq += 1;
    const usage = process.memoryUsage();
    writeFileSync(`${file}.tmp`, JSON.stringify({ seq, ...usage }));
    renameSync(`${file}.tmp`, file);
  });
}
