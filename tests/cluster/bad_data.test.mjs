// Bad data in Redis (docs/store.md, "Faults"): an order key of the wrong
// type, a truncated record, a foreign entry in the stream. Each is a clear
// error for that order -- a problem+json naming it, a log line with the key
// -- the listing skips it, and the replica goes on serving: no crash.
//
// Breakages this catches: a decoder that trusts the record (a crash or a
// garbage order), the wrong-type reply passed on as an order, a listing that
// fails whole for one bad record, an error without the order's id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needCluster, stopAndCheck, startCluster, postOrder, getOrder, cancelOrder } from '../lib/cluster.mjs';
import { request, waitFor } from '../lib/server.mjs';
import { subscribe } from '../lib/sse.mjs';

needCluster({ haproxy: false });

let c, r1;
before(async () => {
  c = await startCluster({ replicas: 1, haproxy: false });
  [r1] = c.replicas;
});
after(async () => { await stopAndCheck(c); });

const isProblem = (res) => /application\/problem\+json/.test(res.headers['content-type'] || '');

test('a wrong key type and a truncated record: a clear error for that order, logged, no crash', async () => {
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await postOrder(r1.url, { item: 'quick' })).json.id);
  const [wrongType, truncated, good] = ids;
  c.cli('DEL', c.key(`order:${wrongType}`));
  c.cli('RPUSH', c.key(`order:${wrongType}`), 'not', 'a', 'hash');
  const fields = c.cli('HKEYS', c.key(`order:${truncated}`)).split('\n').filter((f) => !['v', 'id', 'item'].includes(f));
  c.cli('HDEL', c.key(`order:${truncated}`), ...fields);

  for (const id of [wrongType, truncated]) {
    for (const res of [await getOrder(r1.url, id), await cancelOrder(r1.url, id)]) {
      assert.ok(res.status >= 500, `order ${id}: ${res.status} ${res.body}`);
      assert.ok(isProblem(res), res.headers['content-type']);
      assert.ok(res.json.detail.includes(String(id)), `the detail names the order: ${res.body}`);
    }
    await waitFor(() => r1.log.includes(`order:${id}`), 5000, `a log line naming the key order:${id}`);
  }
  const list = await request(`${r1.url}/orders?limit=1000`);
  assert.equal(list.status, 200, list.body);
  assert.deepEqual(list.json.orders.map((o) => o.id).filter((id) => ids.includes(id)), [good], 'the listing skips the bad ones');
  assert.equal((await getOrder(r1.url, good)).json.status, 'ready');
  assert.equal((await request(`${r1.url}/healthz`)).status, 200);
  assert.ok(r1.alive());
});

test('a foreign entry in the stream: /events goes on with the next order', async () => {
  const events = subscribe(r1.port);
  try {
    await waitFor(() => events.connected(), 5000, '/events');
    c.cli('XADD', c.key('events'), '*', 'garbage', '1');
    c.cli('XADD', c.key('events'), '*', 'event', 'order_ready', 'id', 'zzz');
    const o = (await postOrder(r1.url, { item: 'quick' })).json;
    await events.waitEvent((e) => e.event === 'order' && e.json.order?.id === o.id && e.json.event === 'order_ready', 5000, 'the next order\'s events');
    assert.ok(r1.alive());
  } finally { events.close(); }
});
