// The HTTP/1.1 engine over real sockets: framing, keep-alive, pipelining,
// HEAD, 100-continue, limits, smuggling defences, timeouts, caps, shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, rawExchange, parseResponses, request, waitFor, probeStatus, assertAtDeadline,
  stalledClient, serverSideState, DEADLINE_SLACK_MS, SERVER_BIN,
} from '../lib/server.mjs';

let srv;
before(async () => {
  srv = await startServer(['--max-uri-bytes', '1024', '--max-header-bytes', '2048',
    '--max-header-fields', '20', '--max-body-bytes', '1000']);
});
after(() => srv.stop());

const GET = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;

test('prints one listening line and answers /healthz', async () => {
  assert.equal(srv.stdout.trim().split('\n').length, 1);
  assert.match(srv.stdout, /^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
  const r = await request(`${srv.url}/healthz`);
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'ok');
});

test('--help, --version, bad flags', () => {
  // A server that should have refused to start is killed after 5 s (and
  // listens on a port of its own meanwhile): the test fails, never hangs.
  const run = (args, env = process.env) => spawnSync(SERVER_BIN, args, { env, timeout: 5000 });
  assert.match(execFileSync(SERVER_BIN, ['--help']).toString(), /--time-scale[\s\S]*CAFE_TIME_SCALE/);
  assert.match(execFileSync(SERVER_BIN, ['--version']).toString(), /^cafe-server \d+\.\d+\.\d+/);
  const bad = run(['--port', 'eighty']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr.toString(), /invalid value 'eighty' for --port/);
  const env = run(['--port', '0'], { ...process.env, CAFE_TIME_SCALE: '-1' });
  assert.equal(env.status, 2);
  assert.match(env.stderr.toString(), /CAFE_TIME_SCALE/);
  assert.equal(run(['--port', '0', '--bogus']).status, 2);
});

test('keep-alive: HTTP/1.1 keeps the connection, Connection: close ends it', async () => {
  const { data, closed } = await rawExchange(srv.port,
    [GET('/healthz'), GET('/healthz', 'Connection: close\r\n')], { pauseMs: 50 });
  const rs = parseResponses(data);
  assert.equal(rs.length, 2);
  assert.equal(rs[0].headers.connection, undefined);
  assert.equal(rs[1].headers.connection, 'close');
  assert.ok(closed, 'server closed after Connection: close');
});

test('keep-alive: HTTP/1.0 closes unless asked to keep alive', async () => {
  let r = await rawExchange(srv.port, 'GET /healthz HTTP/1.0\r\n\r\n');
  assert.equal(parseResponses(r.data)[0].headers.connection, 'close');
  assert.ok(r.closed);
  r = await rawExchange(srv.port, 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    { idleMs: 300 });
  assert.equal(parseResponses(r.data)[0].headers.connection, 'keep-alive');
  assert.ok(!r.closed);
});

test('pipelined requests are answered in order on one connection', async () => {
  const reqs = ['/healthz', '/nope-1', '/healthz', '/nope-2'].map((p) => GET(p)).join('');
  const { data } = await rawExchange(srv.port, reqs + GET('/nope-3', 'Connection: close\r\n'));
  const rs = parseResponses(data);
  assert.deepEqual(rs.map((r) => r.status), [200, 404, 200, 404, 404]);
  assert.match(rs[1].body, /nope-1/);
  assert.match(rs[3].body, /nope-2/);
  assert.match(rs[4].body, /nope-3/);
});

test('Upgrade is never switched to: the next request on the connection gets its own answer', async () => {
  // curl --http2 on cleartext sends "Upgrade: h2c" and reuses the
  // connection. Fails today: the second request is answered with a 404 for
  // an empty path (a phantom request the parser reports after an Upgrade).
  const upgrade = GET('/healthz', 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n');
  const { data } = await rawExchange(srv.port, [upgrade, GET('/menu', 'Connection: close\r\n')], { pauseMs: 50 });
  const rs = parseResponses(data);
  assert.deepEqual(rs.map((r) => r.status), [200, 200], data.slice(0, 400));
  assert.match(rs[1].body, /"items"/);
});

test('HEAD sends the headers of GET and no body', async () => {
  const { data } = await rawExchange(srv.port,
    `HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n${GET('/healthz', 'Connection: close\r\n')}`);
  const head = data.split('\r\n\r\n')[0];
  assert.match(head, /^HTTP\/1\.1 200 OK/);
  const len = Number(/Content-Length: (\d+)/.exec(head)[1]);
  assert.ok(len > 0);
  // The next response starts right after the HEAD's blank line.
  assert.match(data.slice(head.length + 4), /^HTTP\/1\.1 200 OK/);
});

test('Expect: 100-continue gets 100 first; too large gets 413 without 100', async () => {
  const s = new net.Socket();
  const got = [];
  await new Promise((r) => s.connect(srv.port, '127.0.0.1', r));
  s.on('data', (d) => got.push(d.toString()));
  s.write('POST /healthz HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
  await waitFor(() => got.join('').includes('100 Continue'), 2000, '100 Continue');
  assert.equal(got.join(''), 'HTTP/1.1 100 Continue\r\n\r\n');
  s.write('hello');
  await waitFor(() => got.join('').includes('405'), 2000, 'final answer');
  s.destroy();

  const big = await rawExchange(srv.port,
    'POST /healthz HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n');
  assert.doesNotMatch(big.data, /100 Continue/);
  assert.equal(parseResponses(big.data)[0].status, 413);
  assert.ok(big.closed);

  const odd = await rawExchange(srv.port,
    'POST /healthz HTTP/1.1\r\nHost: t\r\nExpect: coffee\r\nContent-Length: 1\r\n\r\nx');
  assert.equal(parseResponses(odd.data)[0].status, 417);
});

test('chunked request bodies are framed correctly', async () => {
  const body = 'POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n'
    + '4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n';
  const { data } = await rawExchange(srv.port, [body, GET('/healthz', 'Connection: close\r\n')]);
  assert.deepEqual(parseResponses(data).map((r) => r.status), [405, 200]);
});

test('chunk extensions: 1024 bytes are read, 1025 refused with 400 (llhttp alone has no limit)', async () => {
  const chunked = (ext) => 'POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n'
    + `1;${ext}\r\nx\r\n0\r\n\r\n`;
  let r = await rawExchange(srv.port, [chunked('e'.repeat(1024)), GET('/healthz', 'Connection: close\r\n')]);
  assert.deepEqual(parseResponses(r.data).map((x) => x.status), [405, 200], 'framed and answered');
  r = await rawExchange(srv.port, chunked('e'.repeat(1025)) + GET('/healthz'));
  const rs = parseResponses(r.data);
  assert.deepEqual(rs.map((x) => x.status), [400]);
  assert.match(JSON.parse(rs[0].body).detail, /chunk extensions too long/);
  assert.ok(r.closed);
});

test('413 before the body is read, 414, 431 by bytes and by count', async () => {
  const cases = [
    ['POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n', 413],
    // Chunked: no length up front, so the limit holds while the body streams in.
    ['POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n'
      + `200\r\n${'b'.repeat(512)}\r\n`.repeat(2) + '0\r\n\r\n', 413],
    [GET('/' + 'u'.repeat(1100)), 414],
    [GET('/healthz', `X-Big: ${'h'.repeat(2100)}\r\n`), 431],
    [GET('/healthz', 'X-A: 1\r\n'.repeat(25)), 431],
  ];
  for (const [raw, status] of cases) {
    const { data, closed } = await rawExchange(srv.port, raw);
    const [r] = parseResponses(data);
    assert.equal(r.status, status, raw.slice(0, 60));
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal(JSON.parse(r.body).status, status);
    assert.ok(closed, `closed after ${status}`);
  }
});

test('framing and smuggling attempts: 400 (or 505) and the connection closed', async () => {
  const cases = [
    ['POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef', 400],
    ['GET /healthz HTTP/1.1\r\n Host: t\r\n\r\n', 400],
    ['GET /healthz HTTP/1.1\r\nHost: t\r\nX: a\rY: b\r\n\r\n', 400],
    ['GET /healthz HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n', 400],
    ['GET /healthz HTTP/1.1\r\nHost: t\r\n: empty\r\n\r\n', 400],
    ['GET /healthz HTTP/1.1\r\n\r\n', 400],
    ['GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n', 505],
    ['BREW /pot HTCPCP/1.0\r\n\r\n', 400],
  ];
  for (const [raw, status] of cases) {
    // A second, innocent request follows: it must never be answered.
    const { data, closed } = await rawExchange(srv.port, raw + GET('/healthz'));
    const rs = parseResponses(data);
    assert.equal(rs.length, 1, `one answer for ${JSON.stringify(raw.slice(0, 50))}`);
    assert.equal(rs[0].status, status, JSON.stringify(raw));
    assert.equal(rs[0].headers.connection, 'close');
    assert.ok(closed);
  }
});

test('404 and 405 with Allow are problem+json', async () => {
  let r = await request(`${srv.url}/no/such/thing`);
  assert.equal(r.status, 404);
  assert.equal(r.headers['content-type'], 'application/problem+json');
  assert.equal(r.json.title, 'Not Found');
  r = await request(`${srv.url}/healthz`, { method: 'DELETE' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.allow, 'GET, HEAD');
});

test('static files: types, validators, 304, no traversal', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cafe-static-'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>t</title>');
  fs.mkdirSync(path.join(dir, 'js'));
  fs.writeFileSync(path.join(dir, 'js', 'app.js'), 'export const x = 1;\n');
  fs.writeFileSync(path.join(dir, 'style.css'), 'body{}');
  fs.mkdirSync(path.join(dir, 'docs'));
  fs.writeFileSync(path.join(dir, 'docs', 'index.html'), '<!doctype html><title>docs</title>');
  const s = await startServer(['--static-dir', dir]);
  try {
    await checkStatic(s);
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true });
  }
});

async function checkStatic(srv) {
  const js = await request(`${srv.url}/js/app.js`);
  assert.equal(js.status, 200);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(js.body, 'export const x = 1;\n');
  assert.equal((await request(`${srv.url}/style.css`)).headers['content-type'], 'text/css; charset=utf-8');
  for (const p of ['/docs/', '/docs']) assert.match((await request(srv.url + p)).body, /<title>docs/, p);
  assert.equal((await request(`${srv.url}/js/`)).status, 404); // a directory without an index
  const r = await request(`${srv.url}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.ok(r.headers.etag && r.headers['last-modified']);
  const again = await request(`${srv.url}/`, { headers: { 'If-None-Match': r.headers.etag } });
  assert.equal(again.status, 304);
  assert.equal(again.body, '');
  const ims = await request(`${srv.url}/`, { headers: { 'If-Modified-Since': r.headers['last-modified'] } });
  assert.equal(ims.status, 304);
  for (const p of ['/../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd',
    '/.git/config', '/static/../README.md']) {
    const { data } = await rawExchange(srv.port, GET(p, 'Connection: close\r\n'));
    const status = parseResponses(data)[0].status;
    assert.ok(status === 404 || status === 400, `${p} -> ${status}`);
  }
}

test('one access-log line per request', async () => {
  await request(`${srv.url}/healthz?probe=access-log`);
  await srv.waitForLog(/access 127\.0\.0\.1:\d+ "GET \/healthz\?probe=access-log HTTP\/1\.1" 200 \d+ [\d.]+ms/);
});

test('strict client (node:http) accepts every kind of response', async () => {
  const kinds = [
    [`${srv.url}/healthz`, 'GET', 200],
    [`${srv.url}/healthz`, 'HEAD', 200],
    [`${srv.url}/missing`, 'GET', 404],
    [`${srv.url}/healthz`, 'PUT', 405],
  ];
  for (const [url, method, status] of kinds) {
    const r = await request(url, { method });
    assert.equal(r.status, status, `${method} ${url}`);
  }
});

// Connects, writes `first` at once, then `trickle` one byte every pauseMs
// until the server answers or closes. Resolves with the answer, whether the
// server closed, and when (ms after the first write) the first answer byte
// and the close came.
function trickle(port, first, trickleBytes, pauseMs) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '', t0, answeredMs, timer;
    const done = (closed) => {
      clearInterval(timer);
      sock.destroy();
      resolve({ data, closed, answeredMs, closedMs: performance.now() - t0 });
    };
    sock.setEncoding('latin1');
    sock.on('data', (d) => {
      answeredMs ??= performance.now() - t0;
      data += d;
    });
    sock.on('end', () => done(true));
    sock.on('error', (e) => (e.code === 'ECONNRESET' ? done(true) : reject(e)));
    sock.on('connect', () => {
      t0 = performance.now();
      if (first) sock.write(first);
      let i = 0;
      timer = setInterval(() => {
        if (i < trickleBytes.length && !answeredMs) sock.write(trickleBytes[i++]);
        if (performance.now() - t0 > 15000) done(false); // nothing came: the test fails on it
      }, pauseMs);
    });
  });
}

test('header deadline: a slowloris trickle is cut at the deadline, counted from the first byte', async () => {
  // Breakage caught: the deadline re-armed by every byte that arrives (it
  // came 6 s late, once the 200-byte trickle ended, instead of at 400 ms).
  const s = await startServer(['--header-timeout-ms', '400']);
  try {
    const head = 'GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ' + 'z'.repeat(200);
    const r = await trickle(s.port, '', [...head], 30);
    assert.equal(parseResponses(r.data)[0]?.status, 408, r.data);
    assert.match(JSON.parse(parseResponses(r.data)[0].body).detail, /headers took too long/);
    assert.ok(r.closed);
    assertAtDeadline(r.answeredMs, 400, 'the 408');
  } finally {
    await s.stop();
  }
});

test('body deadline: a body that stalls or trickles is cut, again after a full deadline', async () => {
  // Breakages caught: no body deadline at all (a stalled body held the
  // connection forever), and one that is not counted afresh once the headers
  // are in (it fired at the header deadline).
  const s = await startServer(['--header-timeout-ms', '600']);
  try {
    const head = 'POST /order HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n';
    for (const [what, bytes] of [['stalled', ''], ['trickled', '{"item":"latte"'.padEnd(99)]]) {
      const r = await trickle(s.port, head, [...bytes], 40);
      const [res] = parseResponses(r.data);
      assert.equal(res?.status, 408, `${what} body: ${r.data}`);
      assert.match(JSON.parse(res.body).detail, /body took too long/);
      assert.ok(r.closed, `${what}: closed`);
      assertAtDeadline(r.answeredMs, 600, `${what} body`);
    }
    // The headers took 400 ms of their 600: the body still gets all 600.
    const slowHead = [...head];
    const r = await trickle(s.port, '', slowHead, Math.floor(400 / slowHead.length));
    assert.equal(parseResponses(r.data)[0]?.status, 408);
    assertAtDeadline(r.answeredMs, 400 + 600, 'the body deadline after slow headers');
  } finally {
    await s.stop();
  }
});

test('idle keep-alive timeout: an idle connection is closed quietly at the timeout', async () => {
  const s = await startServer(['--idle-timeout-ms', '300']);
  try {
    const r = await trickle(s.port, GET('/healthz'), [], 50);
    assert.equal(parseResponses(r.data).length, 1);
    assert.equal(parseResponses(r.data)[0].status, 200);
    assert.ok(r.closed, 'idle connection closed');
    assertAtDeadline(r.closedMs, 300, 'the idle close');
  } finally {
    await s.stop();
  }
});

// A folder with one big file of numbered lines (each answer can be checked
// whole); removed by the caller.
function bigFileDir(bytes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cafe-big-'));
  let text = '';
  for (let i = 0; text.length < bytes; i++) text += `line ${i}\n`.padStart(16, '.');
  fs.writeFileSync(path.join(dir, 'big.txt'), text.slice(0, bytes));
  return { dir, body: Buffer.from(text.slice(0, bytes)) };
}

test('write timeout: a client that reads nothing is cut at --write-timeout-ms', async () => {
  // Breakages caught: no timeout on the socket's write event, or its firing
  // taken for "writable" (the stalled client held for ever). The defaults'
  // 10 s is defaults.test.mjs's; here the same cut, sooner.
  const { dir } = bigFileDir(256 * 1024);
  const s = await startServer(['--static-dir', dir, '--write-timeout-ms', '600']);
  try {
    // 40 pipelined answers of 256 KiB, a 4 KiB receive buffer: far more than
    // the kernel holds, so the answers wait on the server.
    const stalled = await stalledClient(s.port, 4096, '/big.txt', '\r\n\r\n', 40);
    try {
      const t0 = performance.now();
      await waitFor(() => serverSideState(s.port, stalled.port) !== 1, 600 + DEADLINE_SLACK_MS + 2000, 'the cut');
      assertAtDeadline(performance.now() - t0, 600, 'the write timeout');
    } finally {
      await stalled.close();
    }
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true });
  }
});

test('backpressure over real sockets: a client that pauses gets every pipelined answer intact when it reads again', async () => {
  // 24 answers of 1 MiB, more than the kernel's buffers hold: the server's
  // writes wait for the socket (and it stops reading requests past
  // --max-output-bytes), then resume as the client reads. Breakage caught:
  // output lost, reordered or cut when a write waits for the socket.
  const size = 1024 * 1024, count = 24;
  const { dir, body } = bigFileDir(size);
  const s = await startServer(['--static-dir', dir, '--max-output-bytes', String(256 * 1024)]);
  try {
    const sock = net.connect(s.port, '127.0.0.1');
    await new Promise((r) => sock.on('connect', r));
    sock.pause();
    sock.write(Array.from({ length: count }, () => GET('/big.txt')).join('') + GET('/healthz', 'Connection: close\r\n'));
    await new Promise((r) => setTimeout(r, 300)); // the server fills every buffer on the way
    const chunks = [];
    sock.on('data', (d) => chunks.push(d));
    const ended = new Promise((resolve, reject) => { sock.on('end', resolve); sock.on('error', reject); });
    sock.resume();
    await ended;
    const all = Buffer.concat(chunks);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const headEnd = all.indexOf('\r\n\r\n', at);
      const head = all.subarray(at, headEnd).toString('latin1');
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/, `answer ${i}`);
      assert.equal(Number(/Content-Length: (\d+)/.exec(head)[1]), size);
      assert.ok(all.subarray(headEnd + 4, headEnd + 4 + size).equals(body), `answer ${i}'s body intact`);
      at = headEnd + 4 + size;
    }
    assert.match(all.subarray(at).toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*"status":"ok"/);
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true });
  }
});

test('over the connection cap: 503 with Retry-After, others still served', async () => {
  const s = await startServer(['--max-connections', '3']);
  const held = [];
  try {
    for (let i = 0; i < 3; i++) {
      const c = net.connect(s.port, '127.0.0.1');
      await new Promise((r) => c.on('connect', r));
      held.push(c);
    }
    await waitFor(async () => (await probeStatus(s.port)) === 503, 3000, 'cap reached');
    const { data } = await rawExchange(s.port, GET('/healthz'));
    const [r] = parseResponses(data);
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '1');
    // A held connection is still served.
    held[0].write(GET('/healthz'));
    const answer = await new Promise((r) => held[0].once('data', (d) => r(d.toString())));
    assert.match(answer, /^HTTP\/1\.1 200/);
  } finally {
    held.forEach((c) => c.destroy());
    await s.stop();
  }
});


test('SIGTERM: an idle keep-alive connection gets the 500 ms drain grace, then is closed; exit 0', async () => {
  // Breakages caught: the grace raised to 2.2 s (closed too late), or none at
  // all (a request already on its way would be reset; shutdown.test.mjs).
  const s = await startServer([]);
  const c = net.connect(s.port, '127.0.0.1');
  await new Promise((r) => c.on('connect', r));
  c.write(GET('/healthz'));
  await new Promise((r) => c.once('data', r));
  const t0 = performance.now();
  const closed = new Promise((r) => c.on('close', () => r(performance.now() - t0)));
  const { code } = await s.stop('SIGTERM');
  const closedMs = await closed;
  assert.equal(code, 0);
  assertAtDeadline(closedMs, 500, 'the idle connection closed after the grace');
  assert.ok(performance.now() - t0 <= 500 + DEADLINE_SLACK_MS, 'the server exits with the last connection');
  assert.match(s.stderr, /shutting down/);
});

test('limits come from the environment too (CAFE_MAX_URI_BYTES); SIGINT drains like SIGTERM', async () => {
  const s = await startServer([], { CAFE_MAX_URI_BYTES: '64' });
  let f;
  try {
    const { data } = await rawExchange(s.port, GET('/' + 'x'.repeat(100)));
    assert.equal(parseResponses(data)[0].status, 414);
    assert.equal((await request(`${s.url}/healthz`)).status, 200);
    // The flag wins over the environment.
    f = await startServer(['--max-uri-bytes', '4096'], { CAFE_MAX_URI_BYTES: '64' });
    assert.equal((await request(`${f.url}/healthz?${'q'.repeat(100)}`)).status, 200);
  } finally { // a failed assertion must not leave a server running (the test would hang)
    assert.equal((await s.stop('SIGINT')).code, 0);
    if (f) assert.equal((await f.stop('SIGINT')).code, 0);
  }
});

test('--log-format json: every log line is one JSON object, client bytes included', async () => {
  const s = await startServer(['--log-format', 'json']);
  await rawExchange(s.port, GET('/healthz?who=%C3%A9', 'Connection: close\r\n'));
  await rawExchange(s.port, Buffer.from('GET /bad\xff\x01"x HTTP/1.1\r\nHost: t\r\n\r\n', 'latin1'));
  await s.waitForLog(/"status":400/);
  const objs = s.stderr.trim().split('\n').map((l) => JSON.parse(l)); // throws on a non-JSON line
  const access = objs.filter((o) => o.level === 'access');
  assert.deepEqual(access.map((o) => o.status), [200, 400]);
  assert.equal(access[0].method, 'GET');
  assert.equal(access[0].target, '/healthz?who=%C3%A9');
  assert.ok(objs.some((o) => o.level === 'info' && /config/.test(o.msg)));
  assert.equal((await s.stop()).code, 0);
});
