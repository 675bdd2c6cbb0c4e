// GET /events over real sockets: headers and framing, order, step and stats
// events, Last-Event-ID resume and resync, the heartbeat, HEAD, and a
// subscriber that never reads being cut (bounded memory) while a reading one
// keeps its stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startServer, request, waitFor, scrape, rssKiB, kernelHeld, stalledClient, serverIsAsan, TEST_STORE,
} from '../lib/server.mjs';

// Event ids: the hub's numbers with the memory store; with the Redis store
// (the e2e-redis pass) the stream's entry ids, "ms-seq", and events that are
// not in the stream (stats, timeline) carry none. Both kinds only grow.
const ID = TEST_STORE === 'redis' ? /^\d+-\d+$/ : /^\d+$/;
const hasId = (e) => e.id != null && e.id !== '';
function cmpId(a, b) {
  const [am, as = 0n] = a.split('-').map(BigInt), [bm, bs = 0n] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

let srv;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const post = (p, body) =>
  request(srv.url + p, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });

// The value of a sample line of GET /metrics on server s (NaN when absent).
async function metric(s, name) {
  const m = await request(s.url + '/metrics');
  const line = m.body.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

// A raw-socket SSE client: parses the stream into {id, event, data, comments}.
function subscribe(port, headers = {}) {
  const sub = { events: [], comments: [], head: null, raw: '', closed: false };
  const sock = net.connect(port, '127.0.0.1');
  sub.sock = sock;
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('connect', () => {
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.write(`GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n${extra}\r\n`);
  });
  sock.on('data', (d) => {
    sub.raw += d;
    buf += d;
    if (!sub.head) {
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      sub.head = buf.slice(0, i);
      buf = buf.slice(i + 4);
    }
    let j;
    while ((j = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, j);
      buf = buf.slice(j + 2);
      const ev = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) { sub.comments.push(line.slice(1).trim()); continue; }
        const k = line.indexOf(':');
        const name = k < 0 ? line : line.slice(0, k);
        const value = k < 0 ? '' : line.slice(k + 1).replace(/^ /, '');
        ev[name] = value;
      }
      if ('data' in ev) {
        ev.json = JSON.parse(ev.data);
        sub.events.push(ev);
      }
    }
  });
  sock.on('close', () => { sub.closed = true; });
  sock.on('error', () => { sub.closed = true; });
  sub.close = () => sock.destroy();
  sub.waitEvent = async (pred, ms = 5000, what = 'event') => {
    let found;
    await waitFor(() => (found = sub.events.find(pred)), ms, what);
    return found;
  };
  return sub;
}

before(async () => {
  srv = await startServer(['--time-scale', '0.01', '--sse-heartbeat-ms', '300']);
});
after(async () => { await srv.stop(); });

test('an SSE response: headers, retry hint, order and step transitions and a stats event every second', async () => {
  const sub = subscribe(srv.port);
  await waitFor(() => sub.comments.includes('connected'), 3000, 'the connected comment');
  assert.match(sub.head, /^HTTP\/1\.1 200 /);
  assert.match(sub.head, /\r\nContent-Type: text\/event-stream/i);
  assert.match(sub.head, /\r\nCache-Control: no-cache/i);
  assert.doesNotMatch(sub.head, /Content-Length/i);
  assert.match(sub.raw, /\r\n\r\nretry: \d+\n/);

  const r = await post('/thread/order', { item: 'pourover', customer: 'Ana' });
  assert.equal(r.status, 201);
  const ready = await sub.waitEvent((e) => e.event === 'order' && e.json.order.id === r.json.id &&
    e.json.order.status === 'ready', 3000, 'order ready');
  assert.equal(ready.json.event, 'order_ready');
  assert.equal(ready.json.order.customer, 'Ana');
  assert.equal(ready.json.order.steps.length, 3);
  assert.match(ready.id, ID);
  // Step transitions. Within one loop turn the newest snapshot of an order
  // replaces older unsent ones, so only the last transition of a turn is sure
  // to be seen: step_started grind_beans (both waits start when the order is
  // accepted) and step_done boil_water (its timer's own turn; handing the brew
  // step to a barista emits nothing until the barista is done).
  const ofOrder = (ev, name) => sub.events.find((e) => e.event === 'order' &&
    e.json.order.id === r.json.id && e.json.event === ev && e.json.step === name);
  const started = ofOrder('step_started', 'grind_beans');
  const boiled = ofOrder('step_done', 'boil_water');
  assert.ok(started && boiled, 'step_started grind_beans and step_done boil_water');
  assert.equal(boiled.json.order.status, 'brewing');
  assert.ok(cmpId(started.id, boiled.id) < 0 && cmpId(boiled.id, ready.id) < 0);

  const stats = await sub.waitEvent((e) => e.event === 'stats', 2500, 'a stats event');
  for (const k of ['t', 'modes', 'lag_ms', 'in_flight', 'queue_depth', 'connections'])
    assert.ok(k in stats.json, `stats has ${k}`);
  for (const m of ['sync', 'async', 'thread']) {
    assert.ok('orders_per_s' in stats.json.modes[m]);
    assert.ok('p95' in stats.json.modes[m].latency_ms);
  }
  // every data line is one line of JSON; ids only grow
  const ids = sub.events.filter(hasId).map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort(cmpId));
  sub.close();
});

test('a stats event every second: the period, over several events', async () => {
  // Breakage caught: a period other than 1 s (nothing measured it). The
  // timer is persistent (it does not drift), so the mean spacing of the
  // events' own timestamps is 1 s even when one of them fires late.
  const sub = subscribe(srv.port);
  try {
    await waitFor(() => sub.events.filter((e) => e.event === 'stats').length >= 5, 8000, 'five stats events');
    const stats = sub.events.filter((e) => e.event === 'stats').map((e) => e.json);
    const mean = (stats[4].t - stats[0].t) / 4;
    assert.ok(mean >= 900 && mean <= 1100, `stats every ${mean.toFixed(0)} ms on average`);
    const intervals = stats.slice(1, 5).map((st) => st.interval_s);
    const meanInterval = intervals.reduce((a, b) => a + b) / intervals.length;
    assert.ok(Math.abs(meanInterval - 1) <= 0.1, `interval_s ${intervals}`);
  } finally {
    sub.close();
  }
});

test('Last-Event-ID resumes from the ring; an unknown id gets a resync', async () => {
  const a = subscribe(srv.port);
  await waitFor(() => a.comments.includes('connected'), 3000);
  const r1 = await post('/async/order', { item: 'latte' });
  const r2 = await post('/async/order', { item: 'drip' });
  await a.waitEvent((e) => e.event === 'order' && e.json.order.id === r2.json.id &&
    e.json.order.status === 'ready', 3000, 'second order ready');
  const first = a.events.find((e) => e.event === 'order' && e.json.order.id === r1.json.id);
  const after = a.events.filter((e) => hasId(e) && cmpId(e.id, first.id) > 0).map((e) => e.id);
  assert.ok(after.length >= 1);

  const b = subscribe(srv.port, { 'Last-Event-ID': first.id });
  await waitFor(() => b.events.filter(hasId).length >= after.length, 3000, 'replayed events');
  assert.deepEqual(b.events.filter(hasId).slice(0, after.length).map((e) => e.id), after);

  const c = subscribe(srv.port, { 'Last-Event-ID': '999999999' });
  const resync = await c.waitEvent((e) => e.event === 'resync', 3000, 'resync');
  assert.ok(cmpId(resync.id, after.at(-1)) >= 0);
  for (const s of [a, b, c]) s.close();
});

test('a ": ping" comment keeps an idle stream alive', async () => {
  const sub = subscribe(srv.port);
  await waitFor(() => sub.comments.includes('ping'), 3000, 'a ping');
  assert.equal(sub.closed, false);
  sub.close();
});

test('HEAD /events answers the headers a GET gets, and no stream', async () => {
  const r = await request(srv.url + '/events', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /text\/event-stream/);
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.equal(r.headers['x-accel-buffering'], 'no');
  assert.equal(r.headers['content-length'], undefined);
  assert.equal(r.body, '');
  // not a subscriber: the count falls to 0 once earlier tests' streams close
  await waitFor(async () => (await metric(srv, 'cafe_sse_subscribers')) === 0, 3000, 'no subscribers');
});

// A subscriber that stops reading is cut once the server itself holds more
// than the backlog limit for it -- not the kernel's socket buffers, whose
// size depends on the machine (tcp_wmem, tcp_rmem: on one machine they
// absorbed the whole stream and the test timed out). So the stalled reader
// has a small receive buffer it set itself (tests/lib/stalled_client.c), and
// the server's own backlog for it is measured: every byte published since it
// subscribed (cafe_sse_bytes_total) minus what the kernel holds at both ends
// (/proc/net/tcp). Orders are published until the cut; the loop is bounded by
// bytes, not time. Checked on every round:
//   - not cut yet: the backlog is at most the limit plus what one round
//     published (the hub checks the backlog before each write);
//   - cut: the backlog had passed the limit (it may have been under it by at
//     most one round before the round that cut);
//   - the server's memory grew by about the backlog, not more;
//   - a subscriber that reads keeps its stream.
// Breakages caught: a cut at 4x the limit, a cut at a quarter of it, no cut,
// and (default server) the hub's own 256 KiB default instead of the 1 MiB
// the options give.
const TOLERANCE = 4096; // a stats event racing the baseline, a partial frame
const ROUND_ORDERS = 25; // about 50 KB of events a round: the precision of the checks
const BIG_ROUND_ORDERS = 100; // about 200 KB: less than the smallest limit tested

async function cutOnceBehind(s, limit) {
  const good = subscribe(s.port);
  const stalled = await stalledClient(s.port, 4096);
  try {
    await waitFor(() => good.comments.includes('connected'), 3000, 'the reading subscriber');
    await waitFor(async () => (await metric(s, 'cafe_sse_subscribers')) === 2, 3000, 'two subscribers');
    const base = await metric(s, 'cafe_sse_bytes_total');
    const rssStart = rssKiB(s.proc.pid);
    const name = 'x'.repeat(60);
    const batch = (n) => Array.from({ length: n }, (_, i) => ({ item: 'pourover', customer: `${name}${i}` }));
    const [big, small] = [batch(BIG_ROUND_ORDERS), batch(ROUND_ORDERS)];
    let backlog = 0, lastId = 0, rounds = 0, produced = 0, peakRss = rssStart;
    for (;;) {
      const before = produced;
      // Big rounds while the kernel still takes it all (a cut then is early
      // whatever the round's size, as one round is less than the limit).
      const orders = backlog === 0 ? big : small;
      const r = await request(s.url + '/orders', {
        method: 'POST', body: { mode: 'async', orders }, headers: { 'Content-Type': 'application/json' },
      });
      assert.equal(r.status, 200);
      lastId = r.json.orders.at(-1).id;
      rounds++;
      const m = await scrape(s);
      produced = m.get('cafe_sse_bytes_total') - base;
      const round = produced - before;
      peakRss = Math.max(peakRss, rssKiB(s.proc.pid));
      assert.ok(round > 0, `round ${rounds} published nothing: are the streams still open?`);
      if (m.get('cafe_sse_subscribers_cut_total') >= 1) {
        assert.ok(backlog + round + TOLERANCE > limit, `cut with a backlog of at most ${backlog + round} ` +
          `bytes (limit ${limit}) after ${rounds} rounds: cut too early`);
        break;
      }
      assert.equal(m.get('cafe_sse_subscribers'), 2, 'a subscriber left without being cut');
      backlog = produced - kernelHeld(s.port, stalled.port);
      assert.ok(backlog <= limit + round + TOLERANCE, `the server holds ${backlog} bytes for the stalled ` +
        `subscriber (limit ${limit}, this round ${round}) and has not cut it`);
      // Never loops for ever: past the limit by more than a round it failed
      // above; and the kernel cannot hold more than its buffers' maximum.
      assert.ok(produced < limit + 64 * 1024 * 1024, `${produced} bytes published and no backlog yet`);
    }
    // Memory: the backlog (limit + a round), the order book and the other
    // subscriber's buffers (measured: 2.3 MiB over the start at a 256 KiB
    // limit); ASan adds its quarantine, shadow and redzones (measured 38 MiB).
    const grown = (peakRss - rssStart) * 1024;
    const room = (serverIsAsan() ? 64 : 8) * 1024 * 1024;
    assert.ok(grown < limit + room, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`);
    // the reading subscriber is still there and saw the latest order
    await good.waitEvent((e) => e.event === 'order' && e.json.order.id === lastId, 5000, 'the last order');
    assert.equal(good.closed, false);
    assert.equal(await metric(s, 'cafe_sse_subscribers'), 1);
    return { rounds, produced };
  } finally {
    good.close();
    await stalled.close();
  }
}

// No heartbeat (its bytes are not counted in cafe_sse_bytes_total). The idle
// timeout keeps its default: a stream is exempt from it.
const QUIET = ['--time-scale', '0.001', '--sse-heartbeat-ms', '3600000'];

test('a subscriber that never reads is cut once the server holds --sse-max-backlog for it; others keep streaming', async () => {
  const s = await startServer([...QUIET, '--sse-max-backlog', '262144'], quarantineSmall());
  try {
    await cutOnceBehind(s, 262144);
  } finally {
    await s.stop();
  }
});

test('the default backlog limit is 1 MiB', async () => {
  const s = await startServer(QUIET, quarantineSmall());
  try {
    assert.equal((await scrape(s)).get('cafe_config_limit{name="sse_max_backlog"}'), 1048576);
    await cutOnceBehind(s, 1048576);
  } finally {
    await s.stop();
  }
});

// Under ASan, freed memory waits in a 256 MiB quarantine and reads as RSS.
function quarantineSmall() {
  const asan = process.env.ASAN_OPTIONS;
  return { ASAN_OPTIONS: `${asan ? asan + ':' : ''}quarantine_size_mb=16` };
}
