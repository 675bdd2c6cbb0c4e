// Two protocol answers over real sockets, with the default limits: a request
// target over --max-uri-bytes is 414 even when it also overruns the header
// block (it was 431, as the block limit is crossed while the target still
// arrives; nginx answers 414), and a Host that is not host[:port] is 400
// (RFC 9112 §3.2; it was 200). The byte-split cases are in
// tests/unit/test_http_parser.c; here the TCP stream is cut in a few ways.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rawExchange, parseResponses } from '../lib/server.mjs';

let srv;
before(async () => { srv = await startServer([]); });
after(() => srv.stop());

// The bytes of raw cut into pieces of `size` (the last one shorter).
const pieces = (raw, size) => Array.from({ length: Math.ceil(raw.length / size) },
  (_, i) => raw.slice(i * size, (i + 1) * size));

async function answerTo(raw, opts) {
  const { data, closed } = await rawExchange(srv.port, raw, opts);
  const rs = parseResponses(data);
  assert.equal(rs.length, 1, `one answer, got ${JSON.stringify(data.slice(0, 120))}`);
  return { ...rs[0], closed };
}

test('a 100 KB target is 414 URI Too Long, however the stream is cut', async () => {
  const raw = `GET /${'u'.repeat(100 * 1024)} HTTP/1.1\r\nHost: t\r\n\r\n`;
  // whole; in 1 KB pieces; split right at the 8 KiB target and 16 KiB block limits
  for (const cut of [raw, pieces(raw, 1024), [raw.slice(0, 8197), raw.slice(8197)],
    [raw.slice(0, 16385), raw.slice(16385)]]) {
    const r = await answerTo(cut, { pauseMs: 1 });
    assert.equal(r.status, 414, `${Array.isArray(cut) ? cut.length : 1} pieces`);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.match(JSON.parse(r.body).detail, /target exceeds 8192 bytes/);
    assert.equal(r.headers.connection, 'close');
    assert.ok(r.closed);
  }
  // A header block over 16 KiB with a short target stays 431.
  const big = await answerTo(`GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: ${'p'.repeat(17000)}\r\n\r\n`);
  assert.equal(big.status, 431);
});

test('a Host that is not host[:port] is 400 and the connection closed', async () => {
  for (const host of ['a b', 'a/b', 'user@host', '[::1', 'h:port', 'h:80:80', '%zz']) {
    const r = await answerTo(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n`);
    assert.equal(r.status, 400, `Host: ${host}`);
    assert.match(JSON.parse(r.body).detail, /Host/);
    assert.ok(r.closed);
  }
  for (const host of ['localhost:8080', '127.0.0.1', '[::1]:80', 'cafe.example', 'x ']) {
    const r = await answerTo(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 200, `Host: ${host}`);
  }
});

test('CONNECT is 501 Not Implemented, and the connection closed (we are not a proxy)', async () => {
  // Breakage caught: the status line's reason phrase (read from the table for
  // every response) wrong or "Unknown" for 501, or CONNECT taken for a request.
  const r = await answerTo('CONNECT cafe.example:443 HTTP/1.1\r\nHost: cafe.example:443\r\n\r\n');
  assert.equal(r.head, 'HTTP/1.1 501 Not Implemented');
  assert.equal(r.headers['content-type'], 'application/problem+json');
  assert.match(JSON.parse(r.body).detail, /CONNECT is not supported/);
  assert.ok(r.closed);
});
