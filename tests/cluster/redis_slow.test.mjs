// Redis slow (DEBUG SLEEP from another connection holds Redis for 4 s): the
// café's other clients are not held up -- GET /menu and /healthz answer
// within a bound far under the sleep -- and an order placed meanwhile is
// answered within the store's own latency (its 1 s watchdog: 503 while
// Redis still sleeps), not when Redis wakes; afterwards orders work again.
//
// Breakages this catches: a synchronous Redis call on the loop (every
// request waits out the sleep), no watchdog on the connection (the POST
// waits forever), a connection that never comes back after its watchdog.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needCluster, stopAndCheck, startCluster, postOrder } from '../lib/cluster.mjs';
import { request, waitFor } from '../lib/server.mjs';

needCluster({ haproxy: false });

const SLEEP_S = 4;
const WATCHDOG_MS = 1000; // the store's timeout_ms: its own latency when Redis does not answer
let c, r1;
before(async () => {
  c = await startCluster({ replicas: 1, haproxy: false });
  [r1] = c.replicas;
});
after(async () => { await stopAndCheck(c); });

test('Redis asleep: other clients are not delayed, orders answered within the store\'s own latency', async () => {
  assert.equal((await postOrder(r1.url, { item: 'quick' })).status, 201);
  const sleeping = c.redis.cliAsync('DEBUG', 'SLEEP', String(SLEEP_S));
  await new Promise((r) => setTimeout(r, 100)); // Redis has the DEBUG SLEEP
  const t0 = performance.now();
  const order = postOrder(r1.url, { item: 'quick' }).then((res) => ({ res, ms: performance.now() - t0 }));
  let slowest = 0, probes = 0;
  while (performance.now() - t0 < (SLEEP_S - 0.3) * 1000) {
    for (const p of ['/menu', '/healthz']) {
      const t = performance.now();
      const res = await request(r1.url + p);
      slowest = Math.max(slowest, performance.now() - t);
      assert.equal(res.status, 200, `${p}: ${res.body}`);
      probes++;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(probes >= 10, `only ${probes} probes`);
  assert.ok(slowest < 1000, `a request waited ${slowest.toFixed(0)} ms while Redis slept ${SLEEP_S} s`);
  // Redis is still asleep when the watchdog gives up: 503, not a wait for Redis.
  const { res, ms } = await order;
  assert.equal(res.status, 503, res.body);
  assert.match(res.json.detail, /store/i);
  assert.ok(ms < WATCHDOG_MS + 1500, `the order was answered after ${ms.toFixed(0)} ms (the watchdog: ${WATCHDOG_MS} ms)`);
  assert.equal(await sleeping, 'OK');
  await waitFor(async () => (await postOrder(r1.url, { item: 'quick' })).status === 201, 10000, 'orders placed again');
});
