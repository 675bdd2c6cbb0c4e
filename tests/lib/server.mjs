// Starts the real cafe-server on a free port and talks to it over real sockets.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import fs from 'node:fs';

export const SOURCE_DIR = process.env.CAFE_SOURCE_DIR || process.cwd();
export const SERVER_BIN = process.env.CAFE_SERVER_BIN || path.join(SOURCE_DIR, 'build/cafe-server');

// The order store the servers of this run use: CAFE_TEST_STORE=redis (the
// e2e-redis pass of tests/CMakeLists.txt) puts every server of a test file
// on one redis-server of its own (tests/lib/redis.mjs: killed by PID when
// node exits, whatever the reason), each server under a key prefix of its
// own, so each starts as the memory store does: an empty book, ids from 1.
export const TEST_STORE = process.env.CAFE_TEST_STORE || 'memory';
let testRedis = null;
let prefixes = 0;
async function storeArgs(args) {
  if (TEST_STORE !== 'redis' || args.some((a) => /^--store(=|$)/.test(a))) return null;
  testRedis ||= import('./redis.mjs').then(async ({ startRedis }) => {
    const r = await startRedis();
    // It must not keep node alive: the 'exit' hooks stop it (by PID) and
    // remove its directory.
    for (const h of [r.proc, r.proc.stdout, r.proc.stderr]) h.unref();
    process.once('exit', () => fs.rmSync(r.dir, { recursive: true, force: true }));
    return r;
  });
  const redis = await testRedis;
  const prefix = `t${process.pid}.${++prefixes}:`;
  return { redis, prefix, args: ['--store', redis.url, '--store-prefix', prefix] };
}

// Resolves once the server printed "listening on http://HOST:PORT". wrap:
// a command that execs the server (e.g. ['prlimit', '--nofile=512', '--']).
export async function startServer(args = [], env = {}, { wrap = [] } = {}) {
  const store = await storeArgs(args);
  const server = await spawnServer([...(store ? store.args : []), ...args], env, wrap);
  // Serving before its store connection is up, a server answers orders 503:
  // the tests begin once it holds its lease (set on connecting, just before
  // the handshake's last command), asked of Redis so that no request shows
  // in the server's log.
  if (store) {
    await waitFor(() => store.redis.cli('KEYS', `${store.prefix}lease:*`) !== '', 10000,
      `the store of ${server.url}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return server;
}

function spawnServer(args, env, wrap) {
  return new Promise((resolve, reject) => {
    const argv = [...wrap, SERVER_BIN, '--port', '0', ...args];
    const proc = spawn(argv[0], argv.slice(1), {
      cwd: SOURCE_DIR,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = { proc, stderr: '', stdout: '', exited: null };
    const timer = setTimeout(() => reject(new Error('server did not start:\n' + server.stderr)), 10000);
    proc.stderr.on('data', (d) => { server.stderr += d; });
    proc.on('exit', (code, signal) => {
      server.exited = { code, signal };
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}):\n${server.stderr}`));
    });
    proc.stdout.on('data', (d) => {
      server.stdout += d;
      const m = /listening on http:\/\/([^:\s]+):(\d+)/.exec(server.stdout);
      if (m && !server.port) {
        clearTimeout(timer);
        server.host = m[1];
        server.port = Number(m[2]);
        server.url = `http://${m[1]}:${m[2]}`;
        resolve(server);
      }
    });
    server.stop = (signal = 'SIGTERM', opts) => stopServer(server, signal, opts);
    server.waitForLog = (re, ms = 5000) => waitFor(() => re.test(server.stderr), ms, `log ${re}`);
  });
}

// Sends signal and resolves with {code, signal} when the process exits. A
// server must exit 0 after SIGTERM/SIGINT: anything else (a crash, or a
// sanitizer's leak report in the ASan build) rejects, failing the test.
export function stopServer(server, signal = 'SIGTERM', { allowFailure = false } = {}) {
  const check = (res) => {
    if (!allowFailure && (res.code !== 0 || res.signal)) {
      throw new Error(`server exited with ${res.code ?? res.signal} after ${signal}:\n${server.stderr.slice(-4000)}`);
    }
    return res;
  };
  if (server.exited) return Promise.resolve(server.exited).then(check);
  return new Promise((resolve) => {
    // 'close', not 'exit': by then stderr has been read to its end.
    server.proc.once('close', (code, sig) => resolve({ code, signal: sig }));
    server.proc.kill(signal);
  }).then(check);
}

// Deadlines are checked against what they should be, with room for a loaded
// machine or ASan to fire a timer late -- never early.
export const DEADLINE_SLACK_MS = 1000;
export function assertAtDeadline(ms, deadline, what) {
  if (ms < deadline * 0.95) throw new Error(`${what}: after ${ms.toFixed(0)} ms, before its ${deadline} ms deadline`);
  if (ms > deadline + DEADLINE_SLACK_MS) throw new Error(`${what}: after ${ms.toFixed(0)} ms, long past its ${deadline} ms deadline`);
}

export async function waitFor(cond, ms = 5000, what = 'condition') {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Writes raw bytes (string, Buffer, or an array of pieces sent with a small
// pause between them) and resolves with everything read until the server
// closes the connection or `idleMs` passes with no data.
export function rawExchange(port, pieces, { idleMs = 1500, pauseMs = 5, halfClose = false } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    let timer;
    const finish = (closed) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const arm = () => { clearTimeout(timer); timer = setTimeout(() => finish(false), idleMs); };
    sock.on('data', (d) => { chunks.push(d); arm(); });
    sock.on('end', () => finish(true));
    sock.on('error', (e) => (e.code === 'ECONNRESET' ? finish(true) : reject(e)));
    sock.on('connect', async () => {
      arm();
      const list = Array.isArray(pieces) ? pieces : [pieces];
      for (const p of list) {
        if (sock.destroyed) return;
        sock.write(p);
        if (list.length > 1) await new Promise((r) => setTimeout(r, pauseMs));
      }
      if (halfClose) sock.end();
    });
  });
}

// Splits a raw byte stream into HTTP/1.1 responses (Content-Length or chunked).
export function parseResponses(data) {
  const out = [];
  let rest = data;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end).split('\r\n');
    const [, status] = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]) || [];
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    rest = rest.slice(end + 4);
    let body = '';
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const eol = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, eol), 16);
        rest = rest.slice(eol + 2);
        if (!size) { rest = rest.slice(rest.indexOf('\r\n') + 2); break; }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else if (headers['content-length'] && Number(status) !== 304 && Number(status) >= 200) {
      const n = Number(headers['content-length']);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    }
    out.push({ status: Number(status), headers, body, head: head[0] });
  }
  return out;
}

// A request through Node's strict http client: {status, headers, body}.
export function request(url, { method = 'GET', headers = {}, body, agent = false, timeout = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent, timeout }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

// GET /metrics as {"name{labels}" => value} for every sample line.
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

export async function scrape(server) {
  return parseMetrics((await request(server.url + '/metrics')).body);
}

// Whether the server under test is built with AddressSanitizer (its memory
// figures are larger: quarantine, shadow, redzones).
export function serverIsAsan() {
  const r = spawnSync('ldd', [SERVER_BIN], { encoding: 'utf8' });
  return /libasan/.test(r.stdout || '');
}

// VmRSS of a process, KiB.
export function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// The kernel's view of the TCP sockets on 127.0.0.1 (/proc/net/tcp): one
// {localPort, remotePort, state, txQueue, rxQueue} per socket. txQueue is what
// the socket holds that the peer has not acknowledged (sent or not), rxQueue
// what arrived and was not read.
export function tcpSockets() {
  const out = [];
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const [tx, rx] = f[4].split(':').map((h) => parseInt(h, 16));
    out.push({
      localPort: parseInt(f[1].split(':')[1], 16),
      remotePort: parseInt(f[2].split(':')[1], 16),
      state: parseInt(f[3], 16),
      txQueue: tx,
      rxQueue: rx,
    });
  }
  return out;
}

// Bytes the kernel holds for one connection, both ends: what the server's
// socket has not had acknowledged plus what the client's has not read.
export function kernelHeld(serverPort, clientPort) {
  let held = 0;
  for (const s of tcpSockets()) {
    if (s.localPort === serverPort && s.remotePort === clientPort) held += s.txQueue;
    if (s.localPort === clientPort && s.remotePort === serverPort) held += s.rxQueue;
  }
  return held;
}

// A client with a small receive buffer that stops reading once the greeting
// of target has arrived (tests/lib/stalled_client.c; count requests are
// pipelined, the first answer read up to mark). Resolves with
// {read, port, rcvbuf, close()}: read is what it took off the socket.
export function stalledClient(port, rcvbuf, target = '/events', mark, count = 1) {
  const bin = process.env.CAFE_STALLED_CLIENT_BIN || path.join(SOURCE_DIR, 'build/tests/stalled_client');
  return new Promise((resolve, reject) => {
    const args = [String(port), String(rcvbuf), target, mark ?? ': connected\n\n', String(count)];
    const proc = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const info = JSON.parse(out.slice(0, nl));
      const exited = new Promise((r) => proc.once('exit', r));
      resolve({ ...info, close: () => { proc.stdin.end(); return exited; } });
    });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('error', reject);
    proc.on('exit', (code) => { if (!out.includes('\n')) reject(new Error(`stalled_client exited ${code}: ${err}`)); });
  });
}

// The status of GET path on a fresh connection (undefined: no answer).
export async function probeStatus(port, path = '/healthz') {
  const raw = `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`;
  const { data } = await rawExchange(port, raw, { idleMs: 500 });
  return parseResponses(data)[0]?.status;
}

// The TCP state of the server's end of a connection (/proc/net/tcp: 1 is
// ESTABLISHED), or 0 when that socket is gone.
export function serverSideState(serverPort, clientPort) {
  return tcpSockets().find((s) => s.localPort === serverPort && s.remotePort === clientPort)?.state ?? 0;
}
