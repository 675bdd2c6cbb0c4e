// Redis stopped under running replicas (docs/store.md, "Faults"): new orders
// get 503 + Retry-After and a problem+json naming the store; /healthz says
// degraded (still 200: the replica answers every client); the loop does not
// block (GET /menu stays fast); brews already running finish, their waiting
// clients are answered, and their transitions reach Redis once it is back;
// the replicas reconnect by themselves (same PIDs).
//
// Breakages this catches: a create that waits for a dead Redis (the POST
// hangs), 503 without Retry-After or as text, /healthz that does not say
// degraded (or drops to 503, taking the replica out of HAProxy), a buffer
// that drops running brews' transitions (the order stays brewing in Redis),
// no reconnect (503 forever).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needCluster, stopAndCheck, startCluster, postOrder, getOrder, waitOrder } from '../lib/cluster.mjs';
import { request, waitFor } from '../lib/server.mjs';

needCluster({ haproxy: false });

let c, r1, r2;
before(async () => {
  c = await startCluster({ replicas: 2, haproxy: false, appendonly: true });
  [r1, r2] = c.replicas;
});
after(async () => { await stopAndCheck(c); });

async function timed(fn) {
  const t = performance.now();
  const res = await fn();
  return { res, ms: performance.now() - t };
}

test('Redis stopped: 503 for new orders, degraded health, a fast loop, running brews finish and are stored when it is back', async () => {
  const pids = [r1.pid, r2.pid];
  // Two brews running on r1 when Redis goes: one a client waits for.
  const bg = await postOrder(r1.url, { item: 'medium' }, '?wait=0');
  assert.equal(bg.status, 202, bg.body);
  const waiting = postOrder(r1.url, { item: 'medium', customer: 'waits' });
  await waitFor(async () => {
    const l = await request(`${r2.url}/orders?status=brewing&limit=10`);
    return l.json?.orders.some((o) => o.customer === 'waits');
  }, 5000, 'the waited-for brew brewing');

  await c.redis.stop();

  let refused;
  await waitFor(async () => {
    refused = await postOrder(r1.url, { item: 'quick' });
    return refused.status === 503;
  }, 5000, 'a 503 for a new order');
  assert.equal(refused.headers['retry-after'], '1');
  assert.match(refused.headers['content-type'], /application\/problem\+json/);
  assert.equal(refused.json.status, 503);
  assert.match(refused.json.detail, /store/i, refused.body);
  assert.match(refused.json.detail, /unavailable|down/i, refused.body);

  assert.equal(await r1.metric('cafe_store_up'), 0);
  assert.ok(await r1.metric('cafe_orders_unstored_total') >= 1, 'the refusal is counted');
  const health = await request(`${r1.url}/healthz`);
  assert.equal(health.status, 200, 'still serving: HAProxy keeps it');
  assert.equal(health.json.status, 'degraded', health.body);

  // Nothing waits for Redis on the loop: /menu answers at once, every time,
  // while the store keeps failing to reconnect.
  let slowest = 0;
  for (let i = 0; i < 40; i++) {
    const { res, ms } = await timed(() => request(`${r1.url}/menu`));
    assert.equal(res.status, 200);
    slowest = Math.max(slowest, ms);
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(slowest < 1000, `GET /menu took ${slowest.toFixed(0)} ms with Redis down`);

  // The brews finish: the waiting client is answered although Redis is down,
  // and their transitions wait in the buffer.
  const answer = await waiting;
  assert.equal(answer.status, 201, answer.body);
  assert.equal(answer.json.status, 'ready');
  assert.ok(await r1.metric('cafe_store_orders_buffered') >= 2, 'both brews\' transitions are buffered');

  await c.redis.start(); // same port and directory: appendonly brings the book back
  for (const id of [bg.json.id, answer.json.id]) {
    await waitOrder(r2.url, id, (o) => o.status === 'ready', 10000, `order ${id} ready in Redis after the outage`);
  }
  const stream = c.cli('XRANGE', c.key('events'), '-', '+');
  assert.match(stream, /order_ready/, 'the buffered transitions reached the stream');

  await waitFor(async () => (await request(`${r1.url}/healthz`)).json?.status === 'ok', 10000, 'healthz ok again');
  assert.equal(await r1.metric('cafe_store_orders_buffered'), 0, 'the buffer is flushed');
  assert.ok(await r1.metric('cafe_store_reconnects_total') >= 1);
  const after = await postOrder(r1.url, { item: 'quick' });
  assert.equal(after.status, 201, after.body);
  assert.equal((await getOrder(r2.url, after.json.id)).json.status, 'ready');
  assert.deepEqual([r1.pid, r2.pid], pids, 'reconnected without a restart');
  assert.ok(r1.alive() && r2.alive());
});
