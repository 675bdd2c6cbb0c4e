// Replicas sharing one Redis (docs/store.md, "Replicas"): an order placed on
// one is read, listed and cancelled on another; a cancel reaches the owner
// and answers its waiting client; /events on any replica carries every
// replica's transitions with stream ids, so Last-Event-ID resumes on another
// replica; read-your-writes after 201/202/200; --max-orders bounds the
// shared book; --reuseport lets two replicas take connections on one port.
//
// Breakages this catches: reads answered from the local book (404 on the
// other replica), a DELETE answered before the owner cancelled (the order
// still brewing in Redis), no cancel relay (the owner's client never
// answered), /events fed from the local bridge only (the other replica's
// orders missing), SSE ids that are not the stream's (Last-Event-ID on
// another replica resyncs), the book trimmed per replica, SO_REUSEPORT not
// set (the second replica cannot bind).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needCluster, stopAndCheck, startCluster, replica, postOrder, getOrder, cancelOrder, waitOrder, TEST_MENU } from '../lib/cluster.mjs';
import fs from 'node:fs';
import { startRedis, freePort } from '../lib/redis.mjs';
import { request, waitFor } from '../lib/server.mjs';
import { subscribe } from '../lib/sse.mjs';

needCluster();

let c, r1, r2;
before(async () => {
  c = await startCluster({ replicas: 2 });
  [r1, r2] = c.replicas;
});
after(async () => { await stopAndCheck(c); });

const isProblem = (res) => /application\/problem\+json/.test(res.headers['content-type'] || '');

test('an order placed on one replica is read, listed and cancelled on the other', async () => {
  const placed = await postOrder(r1.url, { item: 'slow', customer: 'ada' }, '?wait=0');
  assert.equal(placed.status, 202, placed.body);
  const { id } = placed.json;
  assert.equal(placed.json.replica, 'replica-1', 'the order names the replica that brews it');

  // Read-your-writes: the 202 came after the write, so r2 sees it at once.
  const seen = await getOrder(r2.url, id);
  assert.equal(seen.status, 200, seen.body);
  assert.equal(seen.json.id, id);
  assert.equal(seen.json.customer, 'ada');
  assert.ok(['queued', 'brewing'].includes(seen.json.status), seen.body);
  assert.equal(seen.json.replica, 'replica-1');

  const listed = await request(`${r2.url}/orders?limit=1000`);
  assert.equal(listed.status, 200);
  assert.ok(listed.json.orders.some((o) => o.id === id), 'r2 lists the order r1 took');

  // DELETE on the replica that does not brew it: 200 once the owner did it.
  const del = await cancelOrder(r2.url, id);
  assert.equal(del.status, 200, del.body);
  assert.equal(del.json.status, 'cancelled');
  for (const r of [r1, r2]) {
    const got = await getOrder(r.url, id);
    assert.equal(got.json.status, 'cancelled', `${r.id} after the 200: ${got.body}`);
  }
  const again = await cancelOrder(r2.url, id);
  assert.equal(again.status, 200, again.body);
  assert.equal(again.json.status, 'cancelled');
});

test('a DELETE on another replica answers the client waiting on the owner', async () => {
  const waiting = postOrder(r1.url, { item: 'slow' });
  let id;
  await waitFor(async () => {
    const l = await request(`${r2.url}/orders?status=brewing&limit=10`);
    id = l.json?.orders.find((o) => o.item === 'slow' && o.replica === 'replica-1')?.id;
    return id;
  }, 10000, 'the waiting order brewing');
  const del = await cancelOrder(r2.url, id);
  assert.equal(del.status, 200, del.body);
  assert.equal(del.json.status, 'cancelled');
  const answer = await waiting;
  assert.equal(answer.status, 200, answer.body);
  assert.equal(answer.json.id, id);
  assert.equal(answer.json.status, 'cancelled');
});

test('read-your-writes: a 201 from one replica is ready on the other', async () => {
  for (const [from, to] of [[r1, r2], [r2, r1]]) {
    const done = await postOrder(from.url, { item: 'quick' });
    assert.equal(done.status, 201, done.body);
    assert.equal(done.json.status, 'ready');
    const seen = await getOrder(to.url, done.json.id);
    assert.equal(seen.status, 200, seen.body);
    assert.equal(seen.json.status, 'ready', `${to.id} right after ${from.id}'s 201`);
  }
});

test('/events on any replica carries every replica\'s transitions; Last-Event-ID resumes on another', async () => {
  const s1 = subscribe(r1.port);
  const s2 = subscribe(r2.port);
  try {
    await waitFor(() => s1.connected() && s2.connected(), 5000, 'both streams connected');
    const a = (await postOrder(r1.url, { item: 'quick' })).json;
    const b = (await postOrder(r2.url, { item: 'quick' })).json;
    const readyOf = (id) => (e) => e.event === 'order' && e.json.event === 'order_ready' && e.json.order.id === id;
    for (const s of [s1, s2]) {
      for (const o of [a, b]) await s.waitEvent(readyOf(o.id), 5000, `order_ready of ${o.id} (${o.replica})`);
    }
    const evA = s1.events.find(readyOf(a.id));
    assert.match(evA.id, /^\d+-\d+$/, 'the SSE id is the stream entry id');
    assert.equal(evA.json.order.replica, 'replica-1');
    assert.equal(s1.events.find(readyOf(b.id)).json.order.replica, 'replica-2');
    // Both replicas send the same entries under the same ids.
    assert.equal(s2.events.find(readyOf(a.id)).id, evA.id);

    // Resume on r2 from the id r1 gave: everything after it, nothing before.
    const c3 = (await postOrder(r1.url, { item: 'quick' })).json;
    await s1.waitEvent(readyOf(c3.id), 5000, 'order_ready of the third');
    const resumed = subscribe(r2.port, { 'Last-Event-ID': evA.id });
    try {
      await resumed.waitEvent(readyOf(c3.id), 5000, 'the third order replayed on r2');
      assert.ok(!resumed.events.some((e) => e.event === 'resync'), 'a stream id is not resynced');
      assert.ok(!resumed.events.some((e) => e.id === evA.id), 'the entry of Last-Event-ID itself is not sent again');
      const orderIds = resumed.events.filter((e) => e.event === 'order').map((e) => e.id);
      const cmp = (x, y) => { const [p, q] = x.split('-').map(BigInt); const [r, s] = y.split('-').map(BigInt); return p === r ? (q < s ? -1 : q > s ? 1 : 0) : p < r ? -1 : 1; };
      for (const id of orderIds) assert.equal(cmp(id, evA.id), 1, `${id} is after ${evA.id}`);
      for (let i = 1; i < orderIds.length; i++) assert.equal(cmp(orderIds[i - 1], orderIds[i]), -1, 'in stream order');
    } finally { resumed.close(); }
  } finally {
    s1.close();
    s2.close();
  }
});

test('an order whose owner is gone: a clear problem, then failed', async () => {
  const r3 = await c.addReplica();
  const placed = await postOrder(r3.url, { item: 'slow' }, '?wait=0');
  assert.equal(placed.status, 202, placed.body);
  await r3.kill();
  const del = await cancelOrder(r1.url, placed.json.id);
  if (del.status === 409) {
    // The lease lapsed first and a survivor failed it: that is the answer.
    assert.equal(del.json.status, 'failed', del.body);
  } else {
    assert.ok(del.status >= 500, `${del.status} ${del.body}`);
    assert.ok(isProblem(del), del.headers['content-type']);
    assert.match(del.json.detail, /replica|owner/i, del.body);
  }
  await waitOrder(r1.url, placed.json.id, (o) => o.status === 'failed', 10000, 'the orphan failed');
});

test('--max-orders bounds the shared book', async () => {
  const max = 5;
  const small = await startCluster({ replicas: 2, haproxy: false, args: ['--max-orders', String(max)] });
  try {
    const ids = [];
    for (let i = 0; i < max + 3; i++) {
      const res = await postOrder(small.replicas[i % 2].url, { item: 'quick' });
      assert.equal(res.status, 201, res.body);
      ids.push(res.json.id);
    }
    for (const r of small.replicas) {
      const l = await request(`${r.url}/orders?limit=1000`);
      assert.deepEqual(l.json.orders.map((o) => o.id), ids.slice(-max).reverse(), `${r.id} lists the newest ${max}, newest first`);
      assert.equal((await getOrder(r.url, ids[0])).status, 404, 'the oldest is gone from the shared book');
    }
    assert.ok(Number(small.cli('ZCARD', small.key('orders'))) <= max, 'Redis holds at most --max-orders');
    assert.equal(small.cli('EXISTS', small.key(`order:${ids[0]}`)), '0', 'the evicted record is deleted');
  } finally { await small.stop(); }
});

test('--reuseport: two replicas on one port both take connections', async () => {
  const redis = await startRedis();
  const port = await freePort();
  const rs = [];
  try {
    const menu = `${redis.dir}/menu.json`;
    fs.writeFileSync(menu, JSON.stringify(TEST_MENU));
    for (const id of ['reuse-a', 'reuse-b']) {
      const r = replica({ id, storeUrl: redis.url, prefix: 'reuse:', port, args: ['--reuseport=on', '--menu', menu] });
      rs.push(r);
      await r.start();
      assert.equal(r.port, port);
    }
    // The kernel spreads new connections over both listeners by a hash of
    // the peer's port: a few dozen fresh connections reach both.
    const seen = new Set();
    for (let i = 0; i < 60 && seen.size < 2; i++) {
      const res = await request(`http://127.0.0.1:${port}/async/order?wait=0`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', Connection: 'close' }, body: { item: 'quick' } });
      assert.equal(res.status, 202, res.body);
      seen.add(res.json.replica);
    }
    assert.deepEqual([...seen].sort(), ['reuse-a', 'reuse-b']);
    // Without --reuseport, a third cannot bind the port.
    const third = replica({ id: 'reuse-c', storeUrl: redis.url, prefix: 'reuse:', port, args: ['--menu', menu] });
    await assert.rejects(third.start(), /exited/);
  } finally {
    for (const r of rs) await r.stop();
    await redis.remove();
  }
});
