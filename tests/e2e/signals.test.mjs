// SIGTERM and SIGINT: the first signal starts the drain (the server keeps
// running while a brew is in flight), a second one ends it at once -- every
// waiting client is answered 503, a hands-on step in a barista's hands is
// abandoned rather than waited for, and the process exits 0 (under ASan, 0
// also means no leak report).
//
// "At once" is measured against the first signal: the time from the second
// signal to the exit may be a few times what the server took to notice the
// first one (the machine may be loaded, the build may be ASan), never the
// seconds the barista's step still had to run. Breakages this catches: the
// pool joined with a step in hand (the old behaviour: ~9.5 s here), the
// second signal ignored or only starting the drain again, or failing the
// brews without stopping the loop (a client halfway through its request
// holds the drain for its whole header deadline, 10 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, request, waitFor } from '../lib/server.mjs';

const SCALE = 5; // the lunch's peel_avocado (2 recipe s) takes 10 s in a barista's hands

async function metric(srv, name) {
  const m = await request(srv.url + '/metrics');
  const line = m.body.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

const exited = (srv) => new Promise((resolve) => {
  if (srv.exited) resolve(srv.exited);
  else srv.proc.once('exit', (code, signal) => resolve({ code, signal }));
});

async function secondSignalExitsAtOnce(signal) {
  const srv = await startServer(['--time-scale', String(SCALE), '--access-log=off']);
  const exit = exited(srv);
  // A thread-mode lunch whose hands-on step is in a barista's hands, and an
  // async latte waiting on a timer: two clients the drain would wait for.
  const lunch = request(`${srv.url}/thread/order`, {
    method: 'POST', body: { item: 'lunch' }, headers: { 'Content-Type': 'application/json' },
  });
  const latte = request(`${srv.url}/async/order`, {
    method: 'POST', body: { item: 'latte' }, headers: { 'Content-Type': 'application/json' },
  });
  await waitFor(async () => (await metric(srv, 'cafe_workers_busy')) === 1, 5000, 'the barista busy');
  await waitFor(async () => (await metric(srv, 'cafe_brews_in_flight{mode="async"}')) === 1, 5000,
    'the latte brewing');
  // A client halfway through its request: the drain would wait out its
  // header deadline.
  const slow = net.connect(srv.port, '127.0.0.1');
  slow.on('error', () => {});
  await new Promise((r) => slow.on('connect', r));
  slow.write('GET /healthz HTTP/1.1\r\nHo');
  // open: the lunch's, the latte's, this scrape's and the slow one
  await waitFor(async () => (await metric(srv, 'cafe_http_connections_open')) === 4, 5000, 'the slow client');

  const t0 = performance.now();
  srv.proc.kill(signal);
  await srv.waitForLog(/shutting down: draining/, 5000);
  const reaction = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(srv.exited, null, 'the first signal only starts the drain');

  const t1 = performance.now();
  srv.proc.kill(signal);
  const { code, signal: killedBy } = await exit;
  const took = performance.now() - t1;
  slow.destroy();

  assert.equal(killedBy, null, srv.stderr.slice(-2000));
  assert.equal(code, 0, srv.stderr.slice(-2000));
  const limit = Math.max(500, 5 * reaction);
  assert.ok(took < limit, `exit ${took.toFixed(0)} ms after the second ${signal} ` +
    `(limit ${limit.toFixed(0)} ms: the first took ${reaction.toFixed(0)} ms to notice)`);
  assert.ok(limit < 2 * SCALE * 1000 / 4, 'the bound is far below the step still in hand');
  assert.match(srv.stderr, new RegExp(`second ${signal}: exiting now`));
  for (const [name, r] of [['lunch', await lunch], ['latte', await latte]]) {
    assert.equal(r.status, 503, `${name}: ${r.body}`);
    assert.equal(r.json.order.status, 'failed', name);
    assert.match(r.json.detail, /shutting down/, name);
  }
}

test('a second SIGTERM exits at once, answering the waiting clients (a step in a barista\'s hands is not waited for)', async () => {
  await secondSignalExitsAtOnce('SIGTERM');
});

test('a second SIGINT does the same', async () => {
  await secondSignalExitsAtOnce('SIGINT');
});
