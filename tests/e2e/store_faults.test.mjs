// The Redis store wired into the server (docs/store.md, docs/contract.md):
// an order is in Redis before it is acknowledged; with Redis stopped new
// orders get 503 + Retry-After saying the store is unavailable, /healthz
// says degraded and the metrics say down, and the server recovers by itself
// when Redis is back; a bad record is a clear 500 for that order, never a
// crash; a DELETE whose owner replica does not answer is a clear 504. Each
// test starts its own redis-server (tests/lib/redis.mjs) and stops it and
// every server by PID, also when it fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request, waitFor, scrape } from '../lib/server.mjs';
import { startRedis, redisAvailable } from '../lib/redis.mjs';
import { skipFile } from '../lib/skip.mjs';
import { subscribe } from '../lib/sse.mjs';

if (!redisAvailable()) skipFile('redis-server is not installed (scripts/setup.sh test installs it)');

const PREFIX = 'sf:';

async function withRedis(t) {
  const redis = await startRedis();
  t.after(() => redis.remove());
  return redis;
}

async function replica(t, redis, args = []) {
  const srv = await startServer(['--store', redis.url, '--store-prefix', PREFIX, '--time-scale', '0.02', ...args]);
  t.after(() => srv.stop('SIGTERM', { allowFailure: true }));
  await waitFor(async () => JSON.parse((await request(`${srv.url}/healthz`)).body).status === 'ok', 10000, 'the store up');
  return srv;
}

const place = (srv, path = '/order?wait=0', item = 'latte') =>
  request(`${srv.url}${path}`, { method: 'POST', body: { item } });

test('an order is in Redis before it is acknowledged, and every replica reads it', async (t) => {
  const redis = await withRedis(t);
  const a = await replica(t, redis, ['--replica-id', 'a']);
  const b = await replica(t, redis, ['--replica-id', 'b']);
  const r = await place(a);
  assert.equal(r.status, 202);
  const o = JSON.parse(r.body);
  assert.ok(o.id > 0);
  assert.equal(o.replica, 'a');
  assert.equal(redis.cli('HGET', `${PREFIX}order:${o.id}`, 'replica'), 'a', 'stored before the 202');
  const got = await request(`${b.url}/orders/${o.id}`);
  assert.equal(got.status, 200, 'read on the other replica');
  assert.equal(JSON.parse(got.body).replica, 'a');
  const m = await scrape(a);
  assert.equal(m.get('cafe_replica_info{replica="a",store="redis"}'), 1);
});

test('Redis stopped: 503 + Retry-After "the order store is unavailable", /healthz degraded; back by itself', async (t) => {
  const redis = await withRedis(t);
  const srv = await replica(t, redis);
  assert.equal((await place(srv)).status, 202);
  await redis.kill();
  await waitFor(async () => JSON.parse((await request(`${srv.url}/healthz`)).body).status === 'degraded', 10000, 'degraded');
  const h = await request(`${srv.url}/healthz`);
  assert.equal(h.status, 200, 'still serving: the balancer keeps it');
  assert.match(JSON.parse(h.body).store, /^(down|connecting)/);
  assert.equal(JSON.parse(h.body).replica, `127.0.0.1:${srv.port}`, 'the id derived from the address');
  for (const path of ['/order', '/order?wait=0', '/thread/order']) {
    const r = await place(srv, path);
    assert.equal(r.status, 503, path);
    assert.equal(r.headers['retry-after'], '1', `${path}: Retry-After`);
    assert.match(r.headers['content-type'], /^application\/problem\+json/);
    assert.match(JSON.parse(r.body).detail, /the order store is unavailable/);
  }
  const batch = await request(`${srv.url}/orders`, { method: 'POST', body: { orders: [{ item: 'latte' }] } });
  assert.equal(batch.status, 503);
  assert.equal(batch.headers['retry-after'], '1');
  assert.equal((await request(`${srv.url}/orders`)).status, 503, 'a listing needs the store too');
  const m = await scrape(srv);
  assert.equal(m.get('cafe_store_up'), 0);
  assert.ok(m.get('cafe_orders_unstored_total') >= 4);

  await redis.start();
  await waitFor(async () => JSON.parse((await request(`${srv.url}/healthz`)).body).status === 'ok', 10000, 'the store back');
  assert.equal((await place(srv, '/order')).status, 201, 'orders again, no restart');
  assert.ok((await scrape(srv)).get('cafe_store_reconnects_total') >= 1);
});

test('a bad record in Redis is a clear 500 for that order, logged; the server goes on', async (t) => {
  const redis = await withRedis(t);
  const srv = await replica(t, redis, ['--replica-id', 'a']);
  const other = await replica(t, redis, ['--replica-id', 'b']);
  const id = JSON.parse((await place(srv, '/order')).body).id;
  redis.cli('DEL', `${PREFIX}order:${id}`);
  redis.cli('SET', `${PREFIX}order:${id}`, 'not a hash');
  const r = await request(`${other.url}/orders/${id}`);
  assert.equal(r.status, 500);
  assert.match(r.headers['content-type'], /^application\/problem\+json/);
  assert.match(JSON.parse(r.body).detail, new RegExp(`order ${id} is unreadable in the order store`));
  await other.waitForLog(new RegExp(`order ${id}: the order store holds an unreadable record`));
  assert.equal((await request(`${other.url}/orders`)).status, 200, 'a listing skips it');
  assert.equal((await place(other, '/order')).status, 201);
});

test('a DELETE whose owner replica does not answer: 504 saying so, within the bounded wait', async (t) => {
  const redis = await withRedis(t);
  const a = await replica(t, redis, ['--replica-id', 'a', '--time-scale', '1']);
  const b = await replica(t, redis, ['--replica-id', 'b']);
  const id = JSON.parse((await place(a)).body).id; // a 5 s latte on a
  a.proc.kill('SIGSTOP'); // subscribed, silent
  try {
    const t0 = Date.now();
    const r = await request(`${b.url}/orders/${id}`, { method: 'DELETE' });
    assert.equal(r.status, 504);
    assert.match(JSON.parse(r.body).detail, new RegExp(`replica brewing order ${id} did not answer the cancel in time`));
    assert.ok(Date.now() - t0 < 10000);
  } finally {
    a.proc.kill('SIGCONT');
  }
  // Stopped as long as its lease, the owner may since have been presumed
  // lost (docs/store.md): what follows is not this test's.
  assert.equal((await request(`${a.url}/healthz`)).status, 200, 'the owner serves again');
});

test('/events on any replica carries every replica\'s orders; Last-Event-ID resumes on another replica and after a restart', async (t) => {
  const redis = await withRedis(t);
  const a = await replica(t, redis, ['--replica-id', 'a']);
  let b = await replica(t, redis, ['--replica-id', 'b']);
  const onB = subscribe(b.port);
  t.after(() => onB.close());
  await waitFor(() => onB.connected(), 5000, 'the stream on b');
  const first = JSON.parse((await place(a)).body).id;
  const seen = await onB.waitEvent((e) => e.event === 'order' && e.json.order.id === first, 5000, 'a\'s order on b');
  assert.match(seen.id, /^\d+-\d+$/, 'the stream entry id');
  assert.equal(seen.json.order.replica, 'a');
  const stats = await onB.waitEvent((e) => e.event === 'stats', 3000, 'a stats event');
  assert.equal(stats.json.replica, 'b', 'stats say whose they are');
  onB.close();

  const second = JSON.parse((await place(b)).body).id; // placed while nobody listens
  const onA = subscribe(a.port, { 'Last-Event-ID': seen.id });
  t.after(() => onA.close());
  const replayed = await onA.waitEvent((e) => e.event === 'order' && e.json.order.id === second, 5000, 'b\'s order replayed on a');
  assert.ok(!onA.events.some((e) => e.event === 'resync'), 'resumed, not resynced');
  assert.equal(replayed.json.order.replica, 'b');
  onA.close();

  await b.stop();
  b = await replica(t, redis, ['--replica-id', 'b']);
  const again = subscribe(b.port, { 'Last-Event-ID': seen.id });
  t.after(() => again.close());
  await again.waitEvent((e) => e.event === 'order' && e.json.order.id === second, 5000, 'replayed after a restart');
  assert.ok(!again.events.some((e) => e.event === 'resync'));
  const unknown = subscribe(b.port, { 'Last-Event-ID': '1-1' });
  t.after(() => unknown.close());
  const resync = await unknown.waitEvent((e) => e.event === 'resync', 5000, 'resync');
  assert.match(resync.id, /^\d+-\d+$/, 'the newest entry id, to resume from');
});
