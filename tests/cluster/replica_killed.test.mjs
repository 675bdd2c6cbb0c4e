// A replica killed with SIGKILL mid-brew (docs/store.md, "Faults"): its
// lease lapses and a survivor fails its unfinished orders, reason "replica
// lost", within 5 s, seen on the survivor and on its /events; what it had
// finished stays finished. And an order is acknowledged only once stored:
// orders posted while Redis holds every write, their replica then killed,
// are either refused/unanswered or there afterwards -- never acknowledged
// and lost.
//
// Breakages this catches: no lease or no orphan claim (the orders stay
// brewing forever), a claim that also fails finished orders, transitions
// not published (no order_failed on the survivor's stream), and a café that
// acknowledges before the store's create completed (tests/mutations/
// cluster.mut: the acknowledged order is missing -- 404 -- on the survivor).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needCluster, stopAndCheck, startCluster, postOrder, getOrder, waitOrder } from '../lib/cluster.mjs';
import { waitFor } from '../lib/server.mjs';
import { subscribe } from '../lib/sse.mjs';

needCluster({ haproxy: false });

const RESOLVED_MS = 5000; // the bound from the kill to "failed"
let c, r1, r2;
before(async () => {
  c = await startCluster({ replicas: 2, haproxy: false });
  [r1, r2] = c.replicas;
});
after(async () => { await stopAndCheck(c); });

test('a replica SIGKILLed mid-brew: its unfinished orders fail within 5 s, on a survivor and its /events', async () => {
  const events = subscribe(r2.port);
  try {
    await waitFor(() => events.connected(), 5000, '/events on the survivor');
    const ready = await postOrder(r1.url, { item: 'quick' });
    assert.equal(ready.status, 201, ready.body);
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const res = await postOrder(r1.url, { item: 'slow' }, '?wait=0');
      assert.equal(res.status, 202, res.body);
      ids.push(res.json.id);
    }
    for (const id of ids) await waitOrder(r2.url, id, (o) => o.status === 'brewing', 5000, `order ${id} brewing`);

    const killed = Date.now();
    await r1.kill();
    for (const id of ids) {
      const o = await waitOrder(r2.url, id, (x) => x.status === 'failed', 3 * RESOLVED_MS, `order ${id} failed`);
      assert.match(o.reason, /replica lost/i, JSON.stringify(o));
    }
    const took = Date.now() - killed;
    assert.ok(took <= RESOLVED_MS, `resolved ${took} ms after the kill (at most ${RESOLVED_MS})`);
    for (const id of ids) {
      await events.waitEvent((e) => e.event === 'order' && e.json.event === 'order_failed' && e.json.order.id === id,
        5000, `order_failed of ${id} on the survivor's stream`);
    }
    const still = await getOrder(r2.url, ready.json.id);
    assert.equal(still.json.status, 'ready', 'a finished order is not failed by the claim');
  } finally {
    events.close();
  }
});

test('acknowledged only once stored: orders sent while Redis holds writes, their replica killed, none lost', async () => {
  await r1.start(); // same id: its restart rule runs, its old orders are failed already
  // Redis takes the creates and runs none of them for 2.5 s: the café's
  // watchdog (1 s) gives up on them first and answers 503; a café that
  // acknowledges before the store answered has said 202 by then.
  const PAUSE_MS = 2500;
  c.cli('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
  const paused = Date.now();
  const sent = [];
  for (let i = 0; i < 5; i++) {
    sent.push(postOrder(r1.url, { item: 'quick', customer: `held-${i}` }, '?wait=0').catch((e) => ({ error: e.message })));
  }
  await Promise.race([Promise.all(sent), new Promise((r) => setTimeout(r, 2000))]);
  await r1.kill(); // before Redis runs what it holds
  const answers = await Promise.all(sent);
  const acked = answers.filter((a) => a.status === 201 || a.status === 202);
  for (const a of answers) {
    assert.ok(a.error || a.status === 503 || a.status === 201 || a.status === 202, `unexpected answer ${a.status} ${a.body}`);
  }
  await new Promise((r) => setTimeout(r, Math.max(0, PAUSE_MS + 100 - (Date.now() - paused))));
  for (const a of acked) {
    // The survivor reconnects after the pause; poll through its 503s.
    let got;
    await waitFor(async () => {
      got = await getOrder(r2.url, a.json.id).catch(() => null);
      return got && got.status !== 503;
    }, 10000, `order ${a.json.id} readable on the survivor`);
    assert.equal(got.status, 200, `order ${a.json.id} was acknowledged (${a.status}) but the store does not have it: ${got.body}`);
    assert.equal(got.json.customer, a.json.customer);
  }
});
