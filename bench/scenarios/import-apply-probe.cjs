// Preloaded into the gateways of the apply scenario (NODE_OPTIONS=--require …): measures how long
// the main thread runs between two turns of its event loop, in CPU time of that thread (Linux
// schedstat, nanoseconds), so time spent waiting for a core on a busy machine does not count. A
// 1 ms timer marks each turn; every stretch over 2 ms is appended to $BENCH_LOOP_FILE as
// "<epoch ms> <stretch ms> <monotonic µs>" lines, which the scenario reads for its window (the
// last field matches the timestamps of a --cpu-prof profile, to see what ran).
'use strict';
const { appendFileSync, readFileSync } = require('node:fs');
const { isMainThread } = require('node:worker_threads');

const file = process.env.BENCH_LOOP_FILE;
// Preloads run in worker threads too (the OpenAPI import's): only the main thread serves requests.
if (file && isMainThread) {
  const ran = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  let last = ran();
  const tick = () => {
    const now = ran();
    const stretch = now - last;
    if (stretch > 2) appendFileSync(file, `${Date.now()} ${stretch.toFixed(2)} ${process.hrtime.bigint() / 1000n}\n`);
    // Read again: the append itself is no part of the next stretch.
    last = ran();
  };
  setInterval(tick, 1).unref();
}
