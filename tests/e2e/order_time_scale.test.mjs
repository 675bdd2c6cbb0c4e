// ?time_scale=S on POST /{mode}/order and POST /orders: one order's recipe
// seconds last S real seconds, whatever the server's --time-scale
// (docs/experiments.md). The server here runs at the default 1.0, where a
// latte takes 5 s: every brew below finishing in well under a second is the
// proof that the order's own scale was used (drop `spec.time_scale` in
// order_create and these time out or take seconds).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request } from '../lib/server.mjs';

let srv;
before(async () => { srv = await startServer(['--time-scale', '1']); });
after(async () => { await srv.stop(); });

const post = (path, body) => request(srv.url + path, { method: 'POST', body, timeout: 10000 });

test('an order brews at the scale it asked for and says so', async () => {
  const t0 = performance.now();
  const r = await post('/async/order?time_scale=0.02', { item: 'latte' });
  const ms = performance.now() - t0;
  assert.equal(r.status, 201, r.body);
  assert.equal(r.json.time_scale, 0.02);
  // make_coffee: 5 recipe s x 0.02 = 100 ms (a timer never fires early)
  const [coffee] = r.json.steps;
  assert.ok(coffee.end_ms - coffee.start_ms >= 99, `make_coffee took ${coffee.end_ms - coffee.start_ms} ms`);
  assert.ok(ms < 1500, `the latte took ${ms.toFixed(0)} ms, not ~100`);
});

test('without it, an order reports the server\'s --time-scale', async () => {
  const r = await post('/async/order?wait=0', { item: 'latte' });
  assert.equal(r.status, 202);
  assert.equal(r.json.time_scale, 1);
  assert.equal((await request(`${srv.url}/orders/${r.json.id}`, { method: 'DELETE' })).status, 200);
});

test('a batch applies it to every order; sync and async keep their 15 : 10 lunch', async () => {
  const lunch = async (mode) => {
    const t0 = performance.now();
    const r = await post('/orders?time_scale=0.02', { mode, orders: [{ item: 'lunch' }] });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.orders[0].time_scale, 0.02);
    return performance.now() - t0;
  };
  const sync = await lunch('sync'); // 15 x 20 ms = 300 ms
  const async = await lunch('async'); // 10 x 20 ms = 200 ms
  assert.ok(sync >= 300 && sync < 2000, `sync lunch ${sync.toFixed(0)} ms`);
  assert.ok(async >= 200 && async < sync, `async lunch ${async.toFixed(0)} ms vs sync ${sync.toFixed(0)}`);
});

test('out of range or not a number: 422 naming the bounds, nothing placed', async () => {
  const before = (await request(`${srv.url}/orders?limit=1`)).json.orders[0]?.id ?? 0;
  for (const v of ['0', '0.0009', '1.5', '-0.1', '+0.1', 'abc', 'nan', 'inf', '', '0.1x', '%200.1', '1e-9']) {
    const one = await post(`/async/order?time_scale=${v}`, { item: 'latte' });
    assert.equal(one.status, 422, `time_scale=${v}: ${one.status} ${one.body}`);
    assert.match(one.json.detail, /time_scale must be a number from 0\.001 to 1/);
    const batch = await post(`/orders?time_scale=${v}`, { orders: [{ item: 'latte' }] });
    assert.equal(batch.status, 422, `batch time_scale=${v}: ${batch.status}`);
  }
  const after = (await request(`${srv.url}/orders?limit=1`)).json.orders[0]?.id ?? 0;
  assert.equal(after, before, 'a refused order was placed');
});
