// The fast in-repo upstream: a REST API answering GET /items/{id} with a small JSON object
// (~180 bytes), its OpenAPI document at /openapi.json (for the peer), and GET
// /large/{plain|gzip}/{bytes}: a JSON object of exactly <bytes> bytes (one long string), sent as
// is or gzip-compressed (for the large-answers section). node:http, keep-alive.
// Usage: node upstream.mjs <port>
import http from 'node:http';
import { gzipSync } from 'node:zlib';

const port = Number(process.argv[2]);

const openapi = {
  openapi: '3.0.3',
  info: { title: 'bench upstream', version: '1.0.0' },
  servers: [{ url: `http://127.0.0.1:${port}` }],
  paths: {
    '/items/{id}': {
      get: {
        operationId: 'getItem',
        summary: 'Get one item',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { 200: { description: 'the item', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
  },
};
const openapiText = JSON.stringify(openapi);

/** Large bodies by `<encoding>/<bytes>`, made once: building 10 MiB per request would measure this process. */
const largeBodies = new Map();
function largeBody(encoding, bytes) {
  const key = `${encoding}/${bytes}`;
  let body = largeBodies.get(key);
  if (body === undefined) {
    // `{"data":"` and `"}` are 11 bytes; the rest is one string that needs no escaping.
    const plain = Buffer.from(`{"data":"${'x'.repeat(Math.max(0, bytes - 11))}"}`);
    body = encoding === 'gzip' ? gzipSync(plain) : plain;
    largeBodies.set(key, body);
  }
  return body;
}

const server = http.createServer((req, res) => {
  const large = /^\/large\/(plain|gzip)\/(\d{1,9})$/.exec(req.url);
  if (large) {
    const [, encoding, bytes] = large;
    const body = largeBody(encoding, Number(bytes));
    const headers = { 'content-type': 'application/json', 'content-length': body.length };
    res.writeHead(200, encoding === 'gzip' ? { ...headers, 'content-encoding': 'gzip' } : headers);
    res.end(body);
    return;
  }
  const match = /^\/items\/(\d+)/.exec(req.url);
  if (match) {
    const id = Number(match[1]);
    const body = JSON.stringify({
      id,
      name: `item-${id}`,
      price: 12.5,
      currency: 'EUR',
      in_stock: true,
      tags: ['bench', 'small'],
      updated_at: '2026-01-01T00:00:00Z',
      owner: { id: 42, name: 'warehouse' },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  if (req.url === '/openapi.json') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(openapiText);
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
