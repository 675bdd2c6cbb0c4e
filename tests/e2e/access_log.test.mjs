// The buffered log (base/log.c) and the access log (server/access_log.c)
// over real sockets and a real stderr pipe: lines whole and in order under
// load, nothing lost at SIGTERM (nor at the second signal's fast exit), a
// stderr nobody reads never stalls the server (lines are dropped and
// counted instead), --log-flush-ms and --log-buffer-bytes honoured, their
// flag forms, and --log-format json still one object per line.
//
// Each test names the breakage it was seen to catch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { startServer, request, waitFor, SERVER_BIN, SOURCE_DIR } from '../lib/server.mjs';

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const ACCESS = /^(\S+) access (\S+) "(\S+) (\S*) HTTP\/1\.[01]" (\d{3}) (\d+) (\d+\.\d{3})ms (\S+)$/;
const OTHER = /^(\S+) (info|warn|error) (.+)$/;
const DROPPED = /^\S+ warn log: (\d+) lines dropped: stderr was not read fast enough$/;

// Every line of a text log, parsed; throws on a line that is neither an
// access line nor an info/warn/error line (a torn or merged line), and on
// a log that does not end in a newline.
function parseLog(text) {
  assert.ok(text === '' || text.endsWith('\n'), `the log ends mid-line: ${JSON.stringify(text.slice(-200))}`);
  return text.split('\n').slice(0, -1).map((line) => {
    const a = ACCESS.exec(line);
    if (a) {
      assert.match(a[1], TIME, line);
      return { kind: 'access', line, peer: a[2], method: a[3], target: a[4], status: Number(a[5]) };
    }
    const o = OTHER.exec(line);
    assert.ok(o, `not a whole log line: ${JSON.stringify(line)}`);
    assert.match(o[1], TIME, line);
    return { kind: o[2], line, msg: o[3] };
  });
}

// Stops the server and resolves once its stdio is closed too ('exit' can
// come before the last bytes of stderr are read).
async function stopAndDrain(srv, signal = 'SIGTERM') {
  const closed = new Promise((r) => srv.proc.once('close', r));
  const res = await srv.stop(signal);
  await closed;
  return res;
}

// A keep-alive GET through agent; resolves with the status.
function get(url, agent, timeout = 10000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

// `clients` keep-alive connections, each sending `each` requests one after
// the other to pathOf(client, i).
async function load(base, clients, each, pathOf) {
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < each; i++) assert.equal(await get(base + pathOf(c, i), agent), 200);
    } finally {
      agent.destroy();
    }
  }));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A server that is killed when test t ends, passed or failed (a failed
// assertion must not leave it running).
function own(t, srv) {
  t.after(() => srv.proc.kill('SIGKILL'));
  return srv;
}

// Catches: lines torn or merged (a batch written partly, a line copied short,
// two threads' bytes interleaved), a line logged twice or lost, lines
// reordered (a batch written out of turn), and a warning taking another path
// than the access lines (it would not sit between them).
test('under load every request has its line, exactly once, whole and in order', async (t) => {
  const srv = own(t, await startServer(['--time-scale', '0.01', '--slow-callback-ms', '10']));
  const clients = 20, each = 50;
  await request(`${srv.url}/healthz?step=before`);
  const sync = await request(`${srv.url}/sync/order`, { method: 'POST', body: { item: 'latte' } });
  assert.equal(sync.status, 201); // a 50 ms brew on the loop: warns at 10 ms
  await request(`${srv.url}/healthz?step=after`);
  await load(srv.url, clients, each, (c, i) => `/healthz?c=${c}&i=${i}`);
  assert.equal((await stopAndDrain(srv)).code, 0);

  const lines = parseLog(srv.stderr);
  const access = lines.filter((l) => l.kind === 'access');
  const next = new Map(); // client -> the next i it should log
  const seen = new Set();
  for (const l of access) {
    const m = /^\/healthz\?c=(\d+)&i=(\d+)$/.exec(l.target);
    if (!m) continue;
    assert.ok(!seen.has(l.target), `logged twice: ${l.target}`);
    seen.add(l.target);
    const c = Number(m[1]), i = Number(m[2]);
    assert.equal(i, next.get(c) ?? 0, `client ${c}: request ${i} logged out of order`);
    next.set(c, i + 1);
    assert.equal(l.status, 200);
    assert.match(l.peer, /^127\.0\.0\.1:\d+$/);
  }
  assert.equal(seen.size, clients * each, 'one line per request');

  // The loop's warning sits between the lines of the requests around it.
  const at = (re) => lines.findIndex((l) => re.test(l.line));
  const before = at(/"GET \/healthz\?step=before /);
  const warn = at(new RegExp(`warn slow callback: sync brew latte \\(order ${sync.json.id}\\)`));
  const order = at(/"POST \/sync\/order HTTP\/1\.1" 201 /);
  const after = at(/"GET \/healthz\?step=after /);
  assert.ok(before >= 0 && before < warn && warn < order && order < after,
    `order of lines: before ${before}, warning ${warn}, order ${order}, after ${after}`);
});

// Catches: no flush at exit (log_stop() not writing what waits), and the
// second signal's fast exit skipping it. --log-flush-ms 60000: nothing is
// written by the timer during the test, only by the exit.
test('SIGTERM: the lines of requests answered just before it all appear', async (t) => {
  const srv = own(t, await startServer(['--log-flush-ms', '60000']));
  await load(srv.url, 10, 20, (c, i) => `/healthz?term=${c}-${i}`);
  await sleep(200);
  assert.doesNotMatch(srv.stderr, /term=/, 'nothing written before the interval or the exit');
  assert.equal((await stopAndDrain(srv)).code, 0);
  const targets = parseLog(srv.stderr).filter((l) => l.kind === 'access').map((l) => l.target);
  assert.equal(targets.filter((t) => t.startsWith('/healthz?term=')).length, 200);
  assert.match(srv.stderr, /info shutting down: .*\n(.*\n)*.* info stopped\n$/);
});

test('a second SIGTERM exits at once, and still writes every line', async (t) => {
  const srv = own(t, await startServer(['--log-flush-ms', '60000', '--time-scale', '10'])); // a latte: 50 s
  await load(srv.url, 4, 10, (c, i) => `/healthz?fast=${c}-${i}`);
  const brewing = request(`${srv.url}/async/order`, { method: 'POST', body: { item: 'latte' } });
  await waitFor(async () => /"brewing"/.test((await request(`${srv.url}/orders?status=brewing`)).body));
  const closed = new Promise((r) => srv.proc.once('close', r));
  srv.proc.kill('SIGTERM');
  await sleep(100);
  const exited = srv.stop('SIGTERM');
  assert.equal((await brewing).status, 503);
  assert.equal((await exited).code, 0);
  await closed;
  const lines = parseLog(srv.stderr);
  const access = lines.filter((l) => l.kind === 'access');
  assert.equal(access.filter((l) => l.target.startsWith('/healthz?fast=')).length, 40);
  assert.ok(access.some((l) => l.target === '/async/order' && l.status === 503), 'the cancelled order');
  assert.ok(lines.some((l) => /^second SIGTERM: exiting now$/.test(l.msg ?? '')));
});

// Starts the server with stderr on a pipe this test does not read until it
// calls resume(): what it then reads, from the first byte, is in text.
function startUnread(args) {
  const proc = spawn(SERVER_BIN, ['--port', '0', ...args], { cwd: SOURCE_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  const srv = { proc, text: '', stop: (sig = 'SIGTERM') => new Promise((r) => { proc.once('close', (code) => r(code)); proc.kill(sig); }) };
  srv.resume = () => proc.stderr.on('data', (d) => { srv.text += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.once('exit', (code) => reject(new Error(`server exited (${code})`)));
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(Object.assign(srv, { url: m[1] }));
    });
  });
}

async function droppedMetric(url) {
  const m = /^cafe_log_lines_dropped_total (\d+)$/m.exec((await request(`${url}/metrics`)).body);
  assert.ok(m, 'cafe_log_lines_dropped_total is exported');
  return Number(m[1]);
}

// Catches: the loop writing to stderr itself (blocking: the flood stalls
// once the pipe is full and every request times out), lines dropped but not
// counted (the metric stays 0, the sum of the notes is short), a dropped
// line leaving half of itself behind, and a gap without its note.
test('a stderr nobody reads does not stall the server: lines are dropped and counted', async (t) => {
  // No slow-callback warnings: on a loaded machine they are logged (and
  // dropped) beside the access lines, and the notes' count then includes them.
  const srv = own(t, await startUnread(['--log-flush-ms', '10', '--log-buffer-bytes', '4096', '--slow-callback-ms', '0']));
  let requests = 0;
  const pad = 'x'.repeat(200); // ~330-byte lines: the pipe (64 KiB) and Node's buffer fill sooner
  for (let round = 0; round < 10; round++) {
    await load(srv.url, 20, 10, (c, i) => `/healthz?flood=${round}-${c}-${i}&pad=${pad}`);
    requests += 200;
  }
  const dropped = await droppedMetric(srv.url);
  requests++;
  assert.ok(dropped > 0, `lines were dropped (${dropped}) once ${requests} lines could not be written`);
  // Another client is still answered at once.
  const t0 = Date.now();
  assert.equal((await request(`${srv.url}/healthz?probe=stuck`)).status, 200);
  requests++;
  assert.ok(Date.now() - t0 < 2000, `a request took ${Date.now() - t0} ms while stderr was stuck`);

  srv.resume();
  // Lines logged before the writer's stuck write returns are still dropped:
  // wait for the note that says the log moves again.
  await waitFor(() => /lines dropped/.test(srv.text), 10000, 'the log to move again');
  await load(srv.url, 2, 10, (c, i) => `/healthz?marker=${c}-${i}`);
  requests += 20;
  await waitFor(() => /marker=1-9 /.test(srv.text) && /marker=0-9 /.test(srv.text), 10000, 'the markers');
  assert.equal(await srv.stop(), 0);

  const lines = parseLog(srv.text); // every line whole, before and after the gap
  const notes = lines.map((l) => DROPPED.exec(l.line)).filter(Boolean).map((m) => Number(m[1]));
  const said = notes.reduce((a, b) => a + b, 0);
  assert.ok(said >= dropped, `the notes say ${said} lines were dropped, the metric ${dropped} earlier`);
  const access = lines.filter((l) => l.kind === 'access');
  // the start-up's info lines come before the flood; after them, nothing
  // but access lines and notes, so the notes count access lines
  const others = lines.filter((l) => l.kind !== 'access' && l.kind !== 'info' && !DROPPED.test(l.line));
  assert.deepEqual(others.map((l) => l.line), [], 'no warnings beside the access lines');
  const twice = access.map((l) => l.target).filter((x, i, all) => all.indexOf(x) !== i);
  assert.deepEqual(twice, [], 'no request logged twice');
  assert.equal(access.length + said, requests, `every request either logged or counted as dropped ` +
    `(${access.length} logged, notes ${JSON.stringify(notes)}, metric ${dropped} before the markers)`);
  const firstNote = lines.findIndex((l) => DROPPED.test(l.line));
  const firstMarker = lines.findIndex((l) => /marker=/.test(l.line));
  assert.ok(firstNote >= 0 && firstNote < firstMarker, 'the gap is noted where it is');
  assert.equal(access.filter((l) => /marker=/.test(l.target)).length, 20, 'nothing dropped once read again');
});

// Catches: the interval ignored (lines written per loop turn, or never until
// exit) and the buffer size ignored (nothing written until the interval).
test('--log-flush-ms: a line waits about that long on an idle server, then appears', async (t) => {
  // No lag warnings (--slow-callback-ms 0): a line logged before ours would
  // start the interval earlier.
  const srv = own(t, await startServer(['--log-flush-ms', '1500', '--slow-callback-ms', '0']));
  await srv.waitForLog(/info serving/, 10000); // the start-up batch is out: the next starts empty
  const t0 = Date.now();
  await request(`${srv.url}/healthz?probe=late`);
  await sleep(700);
  assert.doesNotMatch(srv.stderr, /probe=late/, 'written before --log-flush-ms');
  await srv.waitForLog(/probe=late/, 10000);
  assert.ok(Date.now() - t0 >= 1200, `appeared after ${Date.now() - t0} ms, expected about 1500`);
  assert.equal((await stopAndDrain(srv)).code, 0);

  const now = own(t, await startServer(['--log-flush-ms', '0']));
  await request(`${now.url}/healthz?probe=now`);
  await now.waitForLog(/probe=now/, 1500);
  assert.equal((await stopAndDrain(now)).code, 0);
});

test('--log-buffer-bytes: that many bytes waiting are written without waiting for the interval', async (t) => {
  const srv = own(t, await startServer(['--log-flush-ms', '60000', '--log-buffer-bytes', '4096']));
  await request(`${srv.url}/healthz?few=1`);
  await sleep(500);
  assert.equal(srv.stderr, '', 'a small batch waits for the interval');
  // ~6 KB: more than one buffer (a write without waiting for the interval),
  // less than two with the start-up lines, so a writer thread slow to get
  // the CPU never has to drop a line (30 lines, ~9 KB, lost 2 once so)
  await load(srv.url, 1, 20, (c, i) => `/healthz?many=${i}&pad=${'y'.repeat(150)}`);
  await srv.waitForLog(/many=/, 5000);
  // Once nothing more arrives, what went out is whole lines, at least one
  // buffer's worth; what still waits for the interval is less than another
  // (counting it lines was a race: the last line may itself fill a buffer).
  for (let seen = -1; seen !== srv.stderr.length; await sleep(300)) seen = srv.stderr.length;
  const early = Buffer.byteLength(srv.stderr);
  assert.ok(parseLog(srv.stderr).length > 0 && srv.stderr.endsWith('\n'), 'whole lines');
  // a buffer goes out when the next line would not fit: 4096 less a line
  assert.ok(early > 4096 - 512, `${early} bytes written: a full buffer goes out without waiting for the interval`);
  assert.equal((await stopAndDrain(srv)).code, 0);
  const waited = Buffer.byteLength(srv.stderr) - early; // and the shutdown lines
  assert.ok(waited < 4096 + 1024, `${waited} bytes waited: more than a buffer`);
  assert.equal(parseLog(srv.stderr).filter((l) => /many=/.test(l.line)).length, 20);
});

// Catches: a row missing from the options table, a bound not enforced, the
// value not reaching the log (the start-up line, the metric).
test('the flag forms of --log-flush-ms and --log-buffer-bytes', async (t) => {
  const help = spawnSync(SERVER_BIN, ['--help']).stdout.toString();
  assert.match(help, /--log-flush-ms MS, --log-flush-ms=MS\n.*\n\s+env CAFE_LOG_FLUSH_MS, default 100, range 0\.\.60000/);
  assert.match(help, /--log-buffer-bytes BYTES, --log-buffer-bytes=BYTES\n.*\n\s+env CAFE_LOG_BUFFER_BYTES, default 65536, range 4096\.\.67108864/);
  for (const [args, env] of [
    [['--log-flush-ms', '40', '--log-buffer-bytes', '8192'], {}],
    [['--log-flush-ms=40', '--log-buffer-bytes=8192'], {}],
    [[], { CAFE_LOG_FLUSH_MS: '40', CAFE_LOG_BUFFER_BYTES: '8192' }],
    [['--log-flush-ms', '40'], { CAFE_LOG_FLUSH_MS: '7', CAFE_LOG_BUFFER_BYTES: '8192' }], // the flag wins
  ]) {
    const srv = own(t, await startServer(args, env));
    await srv.waitForLog(/limits: /);
    assert.match(srv.stderr, /limits: .* log-flush-ms=40 log-buffer-bytes=8192 /, args.join(' '));
    const m = (await request(`${srv.url}/metrics`)).body;
    assert.match(m, /^cafe_config_limit\{name="log_flush_ms"\} 40$/m);
    assert.match(m, /^cafe_config_limit\{name="log_buffer_bytes"\} 8192$/m);
    assert.equal((await stopAndDrain(srv)).code, 0);
  }
  for (const [args, msg] of [
    [['--log-flush-ms', '60001'], /invalid value '60001' for --log-flush-ms \(expected a whole number from 0 to 60000\)/],
    [['--log-flush-ms=-1'], /invalid value '-1' for --log-flush-ms/],
    [['--log-buffer-bytes', '4095'], /invalid value '4095' for --log-buffer-bytes \(expected a whole number from 4096 to 67108864\)/],
    [['--log-buffer-bytes', '64k'], /invalid value '64k' for --log-buffer-bytes/],
    [['--log-flush-ms'], /--log-flush-ms needs a value/],
  ]) {
    const r = spawnSync(SERVER_BIN, ['--port', '0', ...args]);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr.toString(), msg);
  }
});

// Catches: an escape missing in the hand-built JSON line (a quote, a
// backslash or a control byte from the target breaks JSON.parse), a field
// renamed or of another type.
test('--log-format json: one JSON object per line, client bytes made safe', async (t) => {
  const srv = own(t, await startServer(['--log-format', 'json', '--time-scale', '0.01', '--slow-callback-ms', '10']));
  const raw = (target) => new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1', () => s.end(Buffer.concat([
      Buffer.from('GET '), Buffer.from(target, 'latin1'), Buffer.from(' HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')])));
    s.on('data', () => {});
    s.on('close', resolve);
    s.on('error', reject);
  });
  await raw('/healthz?q=a\\b');
  await raw('/healthz?q="quoted"&s=\\\\');
  await raw('/healthz?q=\xc3\xa9'); // refused by the parser: 400, target "-"
  await raw(`/healthz?long=${'z'.repeat(400)}`);
  await raw('/bad\x01"x\\');
  await request(`${srv.url}/sync/order`, { method: 'POST', body: { item: 'latte' } });
  assert.equal((await stopAndDrain(srv)).code, 0);
  const objs = srv.stderr.trim().split('\n').map((l) => JSON.parse(l)); // throws on a non-JSON line
  for (const o of objs) assert.match(o.time, TIME);
  const access = objs.filter((o) => o.level === 'access');
  assert.equal(access.length, 6);
  for (const o of access) {
    assert.deepEqual(Object.keys(o), ['time', 'level', 'peer', 'method', 'target', 'status', 'bytes', 'ms', 'mode']);
    assert.match(o.peer, /^127\.0\.0\.1:\d+$/);
    assert.equal(typeof o.status, 'number');
    assert.equal(typeof o.bytes, 'number');
    assert.equal(typeof o.ms, 'number');
    assert.ok(o.ms >= 0);
  }
  assert.equal(access[0].target, '/healthz?q=a\\b');
  assert.equal(access[1].target, '/healthz?q=?quoted?&s=\\\\', 'a quote becomes ?');
  assert.equal(access[2].status, 400);
  assert.equal(access[3].target, `/healthz?long=${'z'.repeat(255 - 14)}`, 'cut at 255 bytes');
  assert.equal(access[4].status, 400);
  assert.equal(access[5].method, 'POST');
  assert.equal(access[5].mode, 'sync');
  assert.ok(access[5].ms >= 40, `a 50 ms brew logged as ${access[5].ms} ms`);
  assert.ok(objs.some((o) => o.level === 'warn' && /slow callback/.test(o.msg)));
});
