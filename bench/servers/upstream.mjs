// The fast in-repo upstream: a REST API answering GET /items/{id} with a small JSON object
// (~180 bytes), and its OpenAPI document at /openapi.json (for the peer). node:http, keep-alive.
// Usage: node upstream.mjs <port>
import http from 'node:http';

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

const server = http.createServer((req, res) => {
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
