// Everything restarted (docs/store.md, "Faults"): two replicas and Redis
// (appendonly yes, appendfsync always) all SIGKILLed, then started again on
// the same ports and ids. Every acknowledged order is still there, in the
// state it was acknowledged in or later: the ready ones ready, the cancelled
// one cancelled, the ones that were brewing failed (the replica restarted),
// none silently brewing. Orders sent while Redis held every write (CLIENT
// PAUSE) and killed with it were never acknowledged, or are there. A
// Last-Event-ID from before the restart resumes on either replica.
//
// Breakages this catches: acknowledging before the create is stored
// (tests/mutations/cluster.mut: the held orders are answered 202 and lost
// with Redis), no restart rule (the brewing orders stay brewing), a record
// written without the AOF's fsync.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needCluster, stopAndCheck, startCluster, postOrder, cancelOrder, getOrder, waitOrder } from '../lib/cluster.mjs';
import { waitFor } from '../lib/server.mjs';
import { subscribe } from '../lib/sse.mjs';

needCluster({ haproxy: false });

let c;
before(async () => { c = await startCluster({ replicas: 2, haproxy: false, appendonly: true }); });
after(async () => { await stopAndCheck(c); });

test('all replicas and Redis killed and restarted: every acknowledged order is there, brewing ones failed', async () => {
  const [r1, r2] = c.replicas;
  const before = subscribe(r1.port);
  await waitFor(() => before.connected(), 5000, '/events before the restart');
  const want = new Map(); // id -> the status it must have after the restart
  for (const r of [r1, r2]) {
    for (let i = 0; i < 2; i++) {
      const ready = await postOrder(r.url, { item: 'quick' });
      assert.equal(ready.status, 201, ready.body);
      want.set(ready.json.id, 'ready');
      const brewing = await postOrder(r.url, { item: 'slow' }, '?wait=0');
      assert.equal(brewing.status, 202, brewing.body);
      want.set(brewing.json.id, 'failed');
    }
  }
  const gone = await postOrder(r1.url, { item: 'slow' }, '?wait=0');
  assert.equal((await cancelOrder(r2.url, gone.json.id)).status, 200);
  want.set(gone.json.id, 'cancelled');

  // The stream's newest id before the kill, as a dashboard would hold it.
  let lastId;
  try {
    await before.waitEvent((e) => e.event === 'order' && e.json.order.id === gone.json.id && e.json.event === 'order_cancelled',
      5000, 'the last order event before the kill');
    lastId = before.events.filter((e) => e.event === 'order').at(-1).id;
  } finally { before.close(); }

  // Writes held in Redis, then everything killed before it runs them.
  // Redis takes the creates and runs none of them: the café's watchdog (1 s)
  // answers 503; a café that acknowledges before the store answered has
  // said 202 by then. Then Redis dies with them unrun.
  c.cli('CLIENT', 'PAUSE', '5000', 'WRITE');
  const held = [];
  for (let i = 0; i < 4; i++) {
    held.push(postOrder(c.replicas[i % 2].url, { item: 'quick', customer: `held-${i}` }, '?wait=0').catch((e) => ({ error: e.message })));
  }
  await Promise.race([Promise.all(held), new Promise((r) => setTimeout(r, 2000))]);
  await Promise.all([r1.kill(), r2.kill(), c.redis.kill()]);
  for (const a of await Promise.all(held)) {
    if (a.status === 201 || a.status === 202) want.set(a.json.id, 'ready');
    else assert.ok(a.error || a.status === 503, `unexpected answer ${a.status} ${a.body}`);
  }

  await c.redis.start();
  await Promise.all([r1.start(), r2.start()]);
  for (const [id, status] of want) {
    for (const r of [r1, r2]) {
      let got;
      await waitFor(async () => {
        got = await getOrder(r.url, id).catch(() => null);
        return got && got.status !== 503;
      }, 10000, `order ${id} readable on ${r.id}`);
      assert.equal(got.status, 200, `acknowledged order ${id} lost: ${got.body}`);
      if (status === 'failed') {
        const o = await waitOrder(r.url, id, (x) => x.status !== 'brewing' && x.status !== 'queued', 10000, `order ${id} not brewing`);
        assert.equal(o.status, 'failed', JSON.stringify(o));
        assert.match(o.reason, /restart|lost/i);
      } else {
        assert.equal(got.json.status, status, `order ${id}: ${got.body}`);
      }
    }
  }

  // Last-Event-ID from before the restart resumes on the other replica: the
  // brewing orders' failures follow, no resync.
  const resumed = subscribe(r2.port, { 'Last-Event-ID': lastId });
  try {
    for (const [id, status] of want) {
      if (status !== 'failed') continue;
      await resumed.waitEvent((e) => e.event === 'order' && e.json.event === 'order_failed' && e.json.order.id === id,
        5000, `order_failed of ${id} after Last-Event-ID ${lastId}`);
    }
    assert.ok(!resumed.events.some((e) => e.event === 'resync'), 'resumed, not resynced');
  } finally { resumed.close(); }
});
