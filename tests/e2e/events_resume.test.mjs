// Last-Event-ID resume when nobody was listening: the stream keeps the last
// 512 events whether or not anyone is subscribed, so the dashboard's only tab
// comes back from a network blip with a replay of exactly what it missed, in
// order, and a client that was away for longer than the ring gets "resync".
// While nobody listens the server builds nothing: the orders that moved are
// noted, and their events are made when the next subscriber arrives.
//
// Breakages this catches: the ring dropped while nobody listens (the old
// sse_hub_skip path: every reconnect resyncs), a smaller or larger ring (16,
// 511 or 513 instead of 512: a replay resyncs, or a resync replays), events
// replayed out of order, twice, or with a hole (the oldest orders dropped
// without a resync).
//
// Each order placed with ?wait=0 makes exactly one event here: at
// --time-scale 100 no order finishes during the test, and its queued,
// brewing and step_started transitions are one snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, request, waitFor } from '../lib/server.mjs';
import { subscribe as sseSubscribe } from '../lib/sse.mjs';

const RING = 512; // EVENT_RING in app/app.h, documented in docs/contract.md

async function metric(srv, name) {
  const m = await request(srv.url + '/metrics');
  const line = m.body.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

// GET /events, resuming from lastEventId when given.
const subscribe = (port, lastEventId) =>
  sseSubscribe(port, lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId });

// Places n async orders with ?wait=0 over a few keep-alive connections and
// returns their ids in the order the server accepted them.
async function placeOrders(srv, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const ids = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const r = await request(`${srv.url}/async/order?wait=0`, {
        method: 'POST', agent, headers: { 'Content-Type': 'application/json' }, body: { item: 'latte' },
      });
      assert.equal(r.status, 202, r.body);
      ids.push(r.json.id);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  agent.destroy();
  return ids.sort((a, b) => a - b); // ids are given in acceptance order
}

async function startCafe() {
  // Orders take 500 s at this scale; the short drain fails them at the end.
  // A 100 ms heartbeat (a comment: it takes no id) finds a closed subscriber
  // soon: the server notices one at its next write.
  return startServer(['--time-scale', '100', '--drain-timeout-ms', '200', '--access-log=off',
    '--sse-heartbeat-ms', '100']);
}

const nobodyListens = (srv) =>
  waitFor(async () => (await metric(srv, 'cafe_sse_subscribers')) === 0, 10000, 'no subscriber left');

// The newest event id, read while nobody listens (so no stats event is made
// meanwhile): every event framed took one id.
const newestId = (srv) => metric(srv, 'cafe_sse_events_total');

// The sole subscriber sees one order event and leaves. The server notices
// at its next write (a half-closed client may still be reading), so a stats
// event may follow the one the client saw. Returns the id it saw last.
async function soleSubscriberLeaves(srv) {
  const a = subscribe(srv.port);
  await waitFor(() => a.connected(), 5000, 'the first subscriber');
  const [first] = await placeOrders(srv, 1);
  const seen = await a.waitEvent((e) => e.event === 'order' && e.json.order.id === first, 5000);
  a.close();
  await nobodyListens(srv);
  return Number(seen.id);
}

// Reconnects from lastId and asserts the replay: every event after lastId,
// with consecutive ids, no resync, and as its order events one per order of
// the last `count` of orderIds, in acceptance order (stats and timeline
// events may sit among them: they were sent while someone listened).
async function expectReplay(srv, lastId, orderIds, count = orderIds.length) {
  const s = subscribe(srv.port, lastId);
  const orders = () => s.events.filter((e) => e.event === 'order');
  await waitFor(() => orders().length >= count || s.events.some((e) => e.event === 'resync'), 10000,
    `${count} replayed order events`);
  await new Promise((r) => setTimeout(r, 100)); // nothing more may follow
  s.close();
  assert.ok(!s.events.some((e) => e.event === 'resync'), `resync instead of a replay from ${lastId}`);
  s.events.forEach((e, i) => assert.equal(Number(e.id), lastId + 1 + i, 'consecutive ids, in order'));
  assert.ok(s.events.every((e) => ['order', 'stats', 'timeline'].includes(e.event)));
  assert.deepEqual(orders().map((e) => e.json.order.id), orderIds.slice(orderIds.length - count),
    'one event per order, oldest first');
  for (const e of orders()) assert.equal(e.json.order.status, 'brewing');
  await nobodyListens(srv);
}

// Reconnects from lastId and asserts one resync, naming the newest id.
async function expectResync(srv, lastId) {
  const s = subscribe(srv.port, lastId);
  await waitFor(() => s.events.length >= 1, 5000, 'the resync event');
  s.close();
  assert.equal(s.events[0].event, 'resync', `from ${lastId}`);
  assert.equal(Number(s.events[0].id), s.events[0].json.last_id);
  await nobodyListens(srv);
  return s.events[0].json.last_id;
}

test('the only subscriber drops, 300 orders move, and its reconnect replays exactly those', async () => {
  const srv = await startCafe();
  try {
    const lastSeen = await soleSubscriberLeaves(srv);
    const before = await newestId(srv);
    const ids = await placeOrders(srv, 300);
    assert.equal(await newestId(srv), before, 'nothing is built while nobody listens');
    await expectReplay(srv, lastSeen, ids);
  } finally {
    await srv.stop();
  }
});

test('512 events while nobody listens replay whole; after 600 the client resyncs, and a reconnect inside the ring replays its part', async () => {
  const srv = await startCafe();
  try {
    await soleSubscriberLeaves(srv);
    let base = await newestId(srv); // a client that had heard everything so far
    const first = await placeOrders(srv, RING);
    await expectReplay(srv, base, first); // exactly the ring's worth: still whole

    base = await newestId(srv);
    const ids = await placeOrders(srv, 600);
    const newest = await expectResync(srv, base); // 600 > 512: not all of it is kept
    assert.ok(newest > base + RING);
    // The ring now ends with the newest orders: its edge replays, one further resyncs.
    const m = await newestId(srv); // stats events may have followed while someone listened
    await expectReplay(srv, m - RING, ids, RING - (m - newest));
    await expectResync(srv, (await newestId(srv)) - RING - 1);
    // Inside the ring: a client that had heard up to 100 orders before the end.
    const n = await newestId(srv);
    await expectReplay(srv, n - 100 - (n - newest), ids, 100);
  } finally {
    await srv.stop();
  }
});
