/** HTTP benchmark ceiling: a bare node:http JSON-RPC echo (parse, answer, no MCP). */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { port } from './tools.js';

const http = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const msg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const text = msg.params?.arguments?.text ?? '';
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: msg.id,
      result: { content: [{ type: 'text', text }] },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
http.listen(port, '127.0.0.1', () => console.log(`ready ${(http.address() as AddressInfo).port}`));
