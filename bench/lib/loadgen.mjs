// A small HTTP/1.1 load generator on raw keep-alive sockets: one request in flight per
// connection, no pipelining (like wrk -c N). It writes pre-serialised requests and parses just
// enough of each response (status, Content-Length or chunked framing) to know where it ends and
// to check it. A raw socket costs the load side far less CPU than node:http's client, which
// matters because the load generator shares its core with the upstream.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const CRLF2 = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/** Serialises one HTTP/1.1 request (a string body is sent as UTF-8). */
export function httpRequest(method, path, { host, headers = {}, body } = {}) {
  const payload = body === undefined ? undefined : Buffer.from(body);
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (payload !== undefined) head += `Content-Length: ${payload.length}\r\n`;
  head += '\r\n';
  return payload === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

/**
 * Incremental response parser for one connection. Calls `done(status, body, headText)` per answer.
 * `buf` holds unread bytes from `pos` on. Chunks that cannot complete anything yet wait in
 * `pending` and are joined once enough bytes arrived, so a large answer is copied once rather
 * than once per arriving chunk.
 */
function createResponseParser(done) {
  let buf = null;
  let pos = 0;
  let pending = [];
  let pendingBytes = 0;
  let need = 0; // bytes (from pos) the next step needs before it can progress
  let inBody = false;
  let status = 0;
  let headText = '';
  let length = -1;
  let chunked = false;
  let parts = [];

  function complete(bodyEnd, body) {
    const rest = buf.subarray(bodyEnd);
    const s = status;
    const h = headText;
    inBody = false;
    parts = [];
    buf = rest.length > 0 ? rest : null;
    pos = 0;
    need = 0;
    done(s, body, h);
  }

  /** Parses what it can; returns false and sets `need` when it needs more bytes. */
  function step() {
    if (buf === null) return false;
    if (!inBody) {
      const idx = buf.indexOf(CRLF2, pos);
      if (idx < 0) {
        need = buf.length - pos + 1;
        return false;
      }
      headText = buf.toString('latin1', pos, idx);
      status = Number(headText.slice(9, 12));
      const lower = headText.toLowerCase();
      const cl = lower.indexOf('\r\ncontent-length:');
      length = -1;
      if (cl >= 0) {
        const eol = lower.indexOf('\r\n', cl + 2);
        length = parseInt(lower.slice(cl + 17, eol < 0 ? undefined : eol), 10);
      }
      chunked = lower.includes('\r\ntransfer-encoding: chunked');
      if (!chunked && length < 0) length = 0; // a bodiless answer; we never read to close
      inBody = true;
      pos = idx + 4;
    }
    if (!chunked) {
      if (buf.length - pos < length) {
        need = length;
        return false;
      }
      complete(pos + length, buf.subarray(pos, pos + length));
      return true;
    }
    for (;;) {
      const lineEnd = buf.indexOf(CRLF, pos);
      if (lineEnd < 0) {
        need = buf.length - pos + 1;
        return false;
      }
      const size = parseInt(buf.toString('latin1', pos, lineEnd), 16);
      if (size === 0) {
        // The last chunk, then an empty trailer section (no server we load sends trailers).
        if (buf.length < lineEnd + 4) {
          need = lineEnd + 4 - pos;
          return false;
        }
        complete(lineEnd + 4, parts.length === 1 ? parts[0] : Buffer.concat(parts));
        return true;
      }
      if (buf.length < lineEnd + 2 + size + 2) {
        need = lineEnd + 2 + size + 2 - pos;
        return false;
      }
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      pos = lineEnd + 2 + size + 2;
    }
  }

  return {
    push(chunk) {
      if (buf === null) {
        buf = chunk;
        pos = 0;
      } else {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (buf.length - pos + pendingBytes < need) return;
        // Completed chunk bodies in `parts` keep referencing the old buffer, which stays valid.
        buf = Buffer.concat([buf.subarray(pos), ...pending]);
        pos = 0;
        pending = [];
        pendingBytes = 0;
      }
      while (step()) {
        /* a connection carries one answer at a time; loop in case of leftovers */
      }
    },
  };
}

/**
 * Percentiles of a latency sample (milliseconds).
 * @param {Float64Array|number[]} values
 */
export function summarise(values) {
  if (values.length === 0) return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1], mean: sum / sorted.length };
}

/**
 * Drives `connections` keep-alive connections against host:port.
 *
 * Closed loop (default): each connection sends its next request as soon as the previous answer
 * arrives. Open loop (`rate`): requests are due at a fixed rate and go out on the next idle
 * connection; latency counts from the moment a request was due, so queueing inside the load
 * generator is charged to the server (no coordinated omission).
 *
 * The measured window starts after `warmupMs` and lasts `durationMs` (or, with `count`, until that
 * many answers arrived, at most `maxMs`). `onWindow(start|end)` runs synchronously at both edges
 * so the caller can read the server's CPU time there. `setup(i)` may prepare per-connection state
 * (a session id) that `request(seq, state)` uses. With `keepSamples`, the answer also carries every
 * measured latency (`samples`), so that several windows can be pooled.
 *
 * @returns {Promise<{requests:number, errors:number, seconds:number, rps:number, latency:object, errorSamples:string[]}>}
 */
export async function runLoad({
  port,
  host = '127.0.0.1',
  connections,
  warmupMs = 0,
  durationMs,
  count,
  maxMs = 600000,
  rate,
  request,
  check = defaultCheck,
  onWindow = () => {},
  setup,
  keepSamples = false,
}) {
  const latencies = [];
  let errors = 0;
  const errorSamples = [];
  let measuring = false;
  let stopping = false;
  let measured = 0;
  let seq = 0;
  let windowStart = 0;
  let windowEnd = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const idle = [];
  const due = []; // open loop: due times of queued requests
  const sockets = new Set();

  function endWindow() {
    if (!measuring) return;
    measuring = false;
    stopping = true;
    windowEnd = performance.now();
    onWindow('end');
    finish();
  }

  function makeConnection(index, state) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, noDelay: true });
      sockets.add(socket);
      const conn = { index, socket, state, startedAt: 0, dueAt: 0, busy: false };
      const parser = createResponseParser((status, body, head) => {
        const now = performance.now();
        conn.busy = false;
        if (measuring) {
          const problem = check(status, body, head);
          if (problem !== undefined) {
            errors += 1;
            if (errorSamples.length < 3) errorSamples.push(`${status} ${problem}: ${body.toString('utf8', 0, 300)}`);
          } else {
            latencies.push(now - (rate ? conn.dueAt : conn.startedAt));
            measured += 1;
            if (count !== undefined && measured >= count) endWindow();
          }
        }
        next(conn);
      });
      socket.on('data', (chunk) => parser.push(chunk));
      socket.once('connect', () => resolve(conn));
      socket.on('error', (error) => {
        if (!conn.startedAt) reject(error);
        else if (!stopping) {
          errors += 1;
          if (errorSamples.length < 3) errorSamples.push(`socket: ${error.message}`);
        }
      });
      socket.on('close', () => {
        sockets.delete(socket);
        if (stopping || !conn.startedAt) return;
        // The server closed a keep-alive connection: count the request in flight and reconnect.
        if (conn.busy && measuring) errors += 1;
        makeConnection(index, state).then(next, () => {});
      });
    });
  }

  function send(conn, dueAt) {
    conn.busy = true;
    conn.startedAt = performance.now();
    conn.dueAt = dueAt;
    conn.socket.write(request(seq++, conn.state));
  }

  function next(conn) {
    if (stopping) return;
    if (!rate) return send(conn, 0);
    if (due.length > 0) return send(conn, due.shift());
    idle.push(conn);
  }

  const states = [];
  for (let i = 0; i < connections; i += 1) states.push(setup ? await setup(i) : {});
  const conns = await Promise.all(states.map((state, i) => makeConnection(i, state)));
  const begin = performance.now();
  let ticker;
  if (rate) {
    let issued = 0;
    idle.push(...conns);
    ticker = setInterval(() => {
      const now = performance.now();
      const target = Math.floor(((now - begin) * rate) / 1000);
      while (issued < target) {
        const dueAt = begin + ((issued + 1) * 1000) / rate;
        issued += 1;
        const conn = idle.shift();
        if (conn) send(conn, dueAt);
        else due.push(dueAt);
      }
    }, 1);
  } else {
    for (const conn of conns) send(conn, 0);
  }
  const startTimer = setTimeout(() => {
    windowStart = performance.now();
    onWindow('start');
    measuring = true;
    latencies.length = 0;
    if (durationMs !== undefined) setTimeout(endWindow, durationMs);
  }, warmupMs);
  // A count-bounded run that keeps failing must still end.
  const guard = setTimeout(endWindow, warmupMs + (durationMs ?? maxMs));
  await finished;
  clearTimeout(startTimer);
  clearTimeout(guard);
  if (ticker) clearInterval(ticker);
  for (const socket of sockets) socket.destroy();
  const seconds = (windowEnd - windowStart) / 1000;
  return {
    requests: measured,
    errors,
    seconds,
    rps: measured / seconds,
    latency: summarise(latencies),
    queued: due.length,
    errorSamples,
    ...(keepSamples ? { samples: Float64Array.from(latencies) } : {}),
  };
}

function defaultCheck(status) {
  return status === 200 ? undefined : 'status';
}
