// RAW_JSON baseline: node:http reading a small JSON-RPC POST, parsing it and answering a small
// JSON body. The most a Node process does per request on one core.
// `POST /bytes/<n>` answers a precomputed JSON body of n bytes instead, so the cost of writing an
// answer as large as a tools/list page can be measured on its own.
// Usage: node raw-json.mjs <port>
import http from 'node:http';

const port = Number(process.argv[2]);
const sized = new Map();

function sizedBody(bytes) {
  let body = sized.get(bytes);
  if (body === undefined) {
    const shell = '{"jsonrpc":"2.0","id":1,"result":{"pad":""}}';
    body = Buffer.from(shell.replace('""', `"${'x'.repeat(Math.max(0, bytes - shell.length))}"`));
    sized.set(bytes, body);
  }
  return body;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let id = null;
    try {
      id = JSON.parse(Buffer.concat(chunks).toString('utf8')).id ?? null;
    } catch {
      // answer anyway
    }
    const match = /^\/bytes\/(\d+)$/.exec(req.url);
    const body = match ? sizedBody(Number(match[1])) : JSON.stringify({ jsonrpc: '2.0', id, result: { hello: 'world' } });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
