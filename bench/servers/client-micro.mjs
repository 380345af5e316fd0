// Outbound HTTP client micro-benchmark: this process (pinned to the gateway's core) keeps
// `concurrency` GETs in flight against the upstream with one client library and reports
// completed requests per second of its own CPU time (process.cpuUsage over the window).
// Each answer is read whole and JSON-parsed, as the executor does.
// Usage: node client-micro.mjs <client> <upstreamPort> <concurrency> <warmupMs> <durationMs> <modulePath>
// Prints one JSON line.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const [client, port, concurrencyText, warmupText, durationText, modulePath] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const origin = `http://127.0.0.1:${port}`;

async function makeClient() {
  switch (client) {
    case 'undici': {
      const { Pool } = await import(modulePath);
      const pool = new Pool(origin, { connections: concurrency });
      return async (path) => {
        const res = await pool.request({ method: 'GET', path });
        return JSON.parse(await res.body.text());
      };
    }
    case 'got': {
      // got, the gateway's alternative client, with the options a gateway needs: keep-alive agent, a timeout,
      // no retries, no throwing on status, whole answer as a buffer.
      const { default: got } = await import(modulePath);
      const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
      const instance = got.extend({ agent: { http: agent }, retry: { limit: 0 }, throwHttpErrors: false, timeout: { request: 30000 }, responseType: 'buffer' });
      return async (path) => JSON.parse((await instance(`${origin}${path}`)).body.toString('utf8'));
    }
    case 'node-http': {
      const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
      return (path) =>
        new Promise((resolve, reject) => {
          http
            .get(`${origin}${path}`, { agent }, (res) => {
              const chunks = [];
              res.on('data', (chunk) => chunks.push(chunk));
              res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
              res.on('error', reject);
            })
            .on('error', reject);
        });
    }
    case 'fetch':
      return async (path) => (await fetch(`${origin}${path}`)).json();
    default:
      throw new Error(`unknown client ${client}`);
  }
}

const call = await makeClient();
let measuring = false;
let stopping = false;
let count = 0;
let errors = 0;
let seq = 0;

async function loop() {
  while (!stopping) {
    try {
      await call(`/items/${seq++ % 1000}`);
      if (measuring) count += 1;
    } catch {
      if (measuring) errors += 1;
    }
  }
}

const loops = Array.from({ length: concurrency }, loop);
await sleep(Number(warmupText));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
measuring = true;
await sleep(Number(durationText));
measuring = false;
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
stopping = true;
await Promise.race([Promise.all(loops), sleep(2000)]);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
process.stdout.write(`${JSON.stringify({ client, requests: count, errors, seconds, cpuSeconds, rps: count / seconds, perCpuSecond: count / cpuSeconds })}\n`);
process.exit(0);
