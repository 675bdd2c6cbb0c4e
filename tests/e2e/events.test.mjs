// GET /events over real sockets: headers and framing, order, step and stats
// events, Last-Event-ID resume and resync, the heartbeat, HEAD, and a
// subscriber that never reads being cut (bounded memory) while a reading one
// keeps its stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, request, waitFor } from '../lib/server.mjs';

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
  assert.match(ready.id, /^\d+$/);
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
  assert.ok(Number(started.id) < Number(boiled.id) && Number(boiled.id) < Number(ready.id));

  const stats = await sub.waitEvent((e) => e.event === 'stats', 2500, 'a stats event');
  for (const k of ['t', 'modes', 'lag_ms', 'in_flight', 'queue_depth', 'connections'])
    assert.ok(k in stats.json, `stats has ${k}`);
  for (const m of ['sync', 'async', 'thread']) {
    assert.ok('orders_per_s' in stats.json.modes[m]);
    assert.ok('p95' in stats.json.modes[m].latency_ms);
  }
  // every data line is one line of JSON; ids only grow
  const ids = sub.events.map((e) => Number(e.id));
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  sub.close();
});

test('Last-Event-ID resumes from the ring; an unknown id gets a resync', async () => {
  const a = subscribe(srv.port);
  await waitFor(() => a.comments.includes('connected'), 3000);
  const r1 = await post('/async/order', { item: 'latte' });
  const r2 = await post('/async/order', { item: 'drip' });
  await a.waitEvent((e) => e.event === 'order' && e.json.order.id === r2.json.id &&
    e.json.order.status === 'ready', 3000, 'second order ready');
  const first = a.events.find((e) => e.event === 'order' && e.json.order.id === r1.json.id);
  const after = a.events.filter((e) => Number(e.id) > Number(first.id)).map((e) => e.id);
  assert.ok(after.length >= 1);

  const b = subscribe(srv.port, { 'Last-Event-ID': first.id });
  await waitFor(() => b.events.length >= after.length, 3000, 'replayed events');
  assert.deepEqual(b.events.slice(0, after.length).map((e) => e.id), after);

  const c = subscribe(srv.port, { 'Last-Event-ID': '999999999' });
  const resync = await c.waitEvent((e) => e.event === 'resync', 3000, 'resync');
  assert.ok(Number(resync.id) >= Number(after.at(-1)));
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

test('a subscriber that never reads is cut; memory stays bounded and others keep streaming', async () => {
  const s2 = await startServer(['--time-scale', '0.001', '--sse-max-backlog', '262144']);
  try {
    const good = subscribe(s2.port);
    const stalled = subscribe(s2.port);
    await waitFor(() => good.comments.includes('connected') && stalled.comments.includes('connected'), 3000);
    stalled.sock.pause(); // stops reading: the kernel buffers fill, then our backlog grows

    const name = 'x'.repeat(40);
    const orders = Array.from({ length: 25 }, (_, i) => ({ item: 'pourover', customer: `${name}${i}` }));
    let cut = 0;
    const end = Date.now() + 60000;
    let lastId = 0;
    for (let batch = 0; cut < 1 && Date.now() < end && batch < 2000; batch++) {
      const r = await request(s2.url + '/orders', {
        method: 'POST', body: { mode: 'async', orders }, headers: { 'Content-Type': 'application/json' },
      });
      assert.equal(r.status, 200);
      lastId = r.json.orders.at(-1).id;
      if (batch % 10 === 9) cut = await metric(s2, 'cafe_sse_subscribers_cut_total');
    }
    assert.ok(cut >= 1, 'the stalled subscriber was cut');
    // the reading subscriber is still there and saw the latest order
    await good.waitEvent((e) => e.event === 'order' && e.json.order.id === lastId, 5000, 'the last order');
    assert.equal(good.closed, false);
    assert.equal(await metric(s2, 'cafe_sse_subscribers'), 1);
    good.close();
    stalled.close();
  } finally {
    await s2.stop();
  }
});
