// RAW_PROXY baseline: the practical limit of one Node hop. node:http takes a JSON-RPC tools/call,
// forwards it to the upstream with an undici Pool (keep-alive) and wraps the answer in a JSON-RPC
// result shaped like an MCP tool result. No validation, no SDK, no framework.
// Usage: node raw-proxy.mjs <port> <upstreamPort> <undiciModulePath>
import http from 'node:http';

const [port, upstreamPort, undiciPath] = process.argv.slice(2);
const { Pool } = await import(undiciPath);
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 64, pipelining: 1 });

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    let message;
    try {
      message = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const id = message.id ?? null;
    try {
      const itemId = message.params?.arguments?.path?.id ?? 0;
      const upstream = await pool.request({ method: 'GET', path: `/items/${encodeURIComponent(itemId)}` });
      const text = await upstream.body.text();
      const result = { content: [{ type: 'text', text }], isError: upstream.statusCode >= 400 };
      const body = JSON.stringify({ jsonrpc: '2.0', id, result });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (error) {
      const body = JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32603, message: error.message } });
      res.writeHead(500, { 'content-type': 'application/json' }).end(body);
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => pool.close().then(() => process.exit(0))));
