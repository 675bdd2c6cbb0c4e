// Last-Event-ID resume when nobody was listening: the ring keeps the last
// 512 events whether or not anyone is subscribed, so the dashboard's only tab
// comes back from a network blip with a replay of exactly what it missed, in
// order, and a client that was away for longer than the ring gets "resync".
//
// Breakages this catches: the ring dropped while nobody listens (the old
// sse_hub_skip path: every reconnect resyncs), a smaller ring (16 instead of
// 512: the 500-event replay resyncs), an off-by-one at the ring's edge, and
// events replayed out of order or twice.
//
// Each order placed with ?wait=0 makes exactly one event here: its queued,
// brewing and step_started transitions happen in one loop turn and coalesce
// (key = order id), and at --time-scale 100 no order finishes during the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, request, waitFor } from '../lib/server.mjs';
import { subscribe as sseSubscribe } from '../lib/sse.mjs';

const RING = 512; // app/event_bridge.c SSE_RING, documented in docs/contract.md

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

// The sole subscriber sees one order event and leaves. The server notices
// at its next write to the closed socket (a half-closed client may still be
// reading), so the ring may hold a stats event after the last one the client
// saw. Returns {lastSeen, base}: the id the client saw
// last, and the newest id once nobody listens.
async function soleSubscriberLeaves(srv) {
  const a = subscribe(srv.port);
  await waitFor(() => a.connected(), 5000, 'the first subscriber');
  const [first] = await placeOrders(srv, 1);
  await waitFor(() => a.events.some((e) => e.event === 'order'), 5000, 'an order event');
  const seen = a.events.filter((e) => e.event === 'order').at(-1);
  assert.equal(seen.json.order.id, first);
  a.close();
  await waitFor(async () => (await metric(srv, 'cafe_sse_subscribers')) === 0, 10000, 'no subscriber left');
  const base = await metric(srv, 'cafe_sse_events_total'); // the newest id: nothing is skipped
  assert.ok(base >= Number(seen.id));
  return { lastSeen: Number(seen.id), base };
}

// Subscribes from lastId while the newest id is `newest` and asserts the
// replay is every event after lastId, consecutive and in order, ending with
// one order event per id of orderIds (in acceptance order).
async function expectReplay(srv, lastId, newest, orderIds) {
  const s = subscribe(srv.port, lastId);
  const n = newest - lastId;
  await waitFor(() => s.events.length >= n || s.events.some((e) => e.event === 'resync'), 10000,
    `${n} replayed events`);
  s.close();
  assert.ok(!s.events.some((e) => e.event === 'resync'), `resync instead of a replay from ${lastId}`);
  const replay = s.events.slice(0, n);
  replay.forEach((e, i) => assert.equal(Number(e.id), lastId + 1 + i, 'consecutive ids, in order'));
  const orders = replay.slice(n - orderIds.length);
  orders.forEach((e, i) => {
    assert.equal(e.event, 'order');
    assert.equal(e.json.order.id, orderIds[i], 'the orders in acceptance order');
    assert.equal(e.json.order.status, 'brewing');
  });
  // Whatever follows is newer than the replay (a stats event), never older.
  for (const e of s.events.slice(n)) assert.ok(Number(e.id) > newest);
  await waitFor(async () => (await metric(srv, 'cafe_sse_subscribers')) === 0, 10000, 'no subscriber');
}

async function expectResync(srv, lastId) {
  const newest = await metric(srv, 'cafe_sse_events_total'); // nobody listens: no stats event
  const s = subscribe(srv.port, lastId);
  await waitFor(() => s.events.length >= 1, 5000, 'the resync event');
  s.close();
  assert.equal(s.events[0].event, 'resync', `from ${lastId} (newest ${newest})`);
  assert.equal(s.events[0].json.last_id, newest);
  assert.equal(Number(s.events[0].id), newest);
  await waitFor(async () => (await metric(srv, 'cafe_sse_subscribers')) === 0, 5000, 'no subscriber');
}

test('the only subscriber drops, 300 events pass, and its reconnect replays exactly those', async () => {
  const srv = await startCafe();
  try {
    const { lastSeen, base } = await soleSubscriberLeaves(srv);
    const ids = await placeOrders(srv, 300);
    const newest = await metric(srv, 'cafe_sse_events_total');
    assert.equal(newest, base + 300, 'every event is framed and kept, listener or not');
    await expectReplay(srv, lastSeen, newest, ids);
  } finally {
    await srv.stop();
  }
});

test('600 events while nobody listens: a reconnect inside the 512-event ring replays, one outside resyncs', async () => {
  const srv = await startCafe();
  try {
    const { lastSeen, base } = await soleSubscriberLeaves(srv);
    const ids = await placeOrders(srv, 600);
    const newest = await metric(srv, 'cafe_sse_events_total');
    assert.equal(newest, base + 600);
    // The ring's edge first, while its content is exactly those 600 events:
    // RING events back is the oldest it still has; one more is too old.
    // (A stats event may follow while someone listens; it only comes later.)
    await expectReplay(srv, newest - RING, newest, ids.slice(600 - RING));
    await expectResync(srv, (await metric(srv, 'cafe_sse_events_total')) - RING - 1);
    // Inside: a client that had seen 100 of them gets the other 500.
    await expectReplay(srv, base + 100, base + 600, ids.slice(100));
    // Outside: the sole subscriber itself, 600 events behind.
    await expectResync(srv, lastSeen);
  } finally {
    await srv.stop();
  }
});
