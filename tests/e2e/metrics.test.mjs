// GET /metrics: Prometheus text format 0.0.4, checked by Debian's promtool,
// and the numbers it reports after known traffic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request, waitFor, parseMetrics } from '../lib/server.mjs';

let srv;
const post = (p, body) =>
  request(srv.url + p, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });

before(async () => { srv = await startServer(['--time-scale', '0.01']); });
after(async () => { await srv.stop(); });

test('the exposition format: content type, HELP/TYPE, final newline (promtool: promtool.test.mjs)', async () => {
  await post('/sync/order', { item: 'latte' });
  await request(srv.url + '/no/such/page');
  const r = await request(srv.url + '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  assert.ok(r.body.endsWith('\n'));
  for (const line of r.body.split('\n').filter((l) => l.startsWith('# TYPE '))) {
    const [, , name, type] = line.split(' ');
    assert.ok(['counter', 'gauge', 'histogram'].includes(type), line);
    if (type === 'counter') assert.match(name, /_total$/, `counter ${name} ends in _total`);
  }
});

test('requests by route, mode and status; latency histograms by mode', async () => {
  for (const mode of ['sync', 'async', 'thread']) assert.equal((await post(`/${mode}/order`, { item: 'drip' })).status, 201);
  assert.equal((await post('/async/order', { item: 'espresso-tonic' })).status, 422);
  assert.equal((await request(srv.url + '/no/such/page')).status, 404); // the static catch-all
  assert.equal((await request(srv.url + '/menu', { method: 'DELETE' })).status, 405);
  const s = parseMetrics((await request(srv.url + '/metrics')).body);
  assert.ok(s.get('cafe_http_requests_total{route="/thread/order",mode="thread",status="201"}') >= 1);
  assert.ok(s.get('cafe_http_requests_total{route="/async/order",mode="async",status="201"}') >= 1);
  assert.ok(s.get('cafe_http_requests_total{route="/sync/order",mode="sync",status="201"}') >= 1);
  assert.ok(s.get('cafe_http_requests_total{route="static",mode="none",status="404"}') >= 1);
  assert.ok(s.get('cafe_http_requests_total{route="unmatched",mode="none",status="405"}') >= 1);
  assert.ok([...s.keys()].some((k) => k.startsWith('cafe_http_requests_total{route="/async/order"') && k.endsWith('status="422"}')));
  // cumulative buckets: non-decreasing, +Inf equals _count
  for (const mode of ['sync', 'async', 'thread']) {
    const buckets = [...s.entries()].filter(([k]) => k.startsWith(`cafe_http_request_duration_seconds_bucket{mode="${mode}",`));
    assert.ok(buckets.length > 5);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1]);
    assert.match(buckets.at(-1)[0], /le="\+Inf"/);
    assert.equal(buckets.at(-1)[1], s.get(`cafe_http_request_duration_seconds_count{mode="${mode}"}`));
    assert.ok(s.get(`cafe_http_request_duration_seconds_sum{mode="${mode}"}`) > 0);
  }
  // drip takes 0.06 s in sync mode at this time scale: at least one sync request above 0.05 s
  assert.equal(s.get('cafe_http_request_duration_seconds_bucket{mode="sync",le="0.05"}') <
    s.get('cafe_http_request_duration_seconds_count{mode="sync"}'), true);
});

test('gauges: brews in flight, connections, worker queue, loop lag and iteration time', async () => {
  const pending = post('/async/order', { item: 'lunch' }); // 0.1 s at this scale
  await new Promise((r) => setTimeout(r, 30));
  const s = parseMetrics((await request(srv.url + '/metrics')).body);
  assert.equal(s.get('cafe_brews_in_flight{mode="async"}'), 1);
  assert.ok(s.get('cafe_http_connections_open') >= 2); // us and the waiting order
  assert.ok(s.has('cafe_worker_queue_depth'));
  assert.ok(s.get('cafe_eventloop_lag_seconds_count') > 0);
  assert.ok(s.get('cafe_eventloop_iteration_seconds_count') > 0);
  assert.ok(s.get('cafe_config_limit{name="max_connections"}') > 0);
  assert.equal((await pending).status, 201);
  const after2 = parseMetrics((await request(srv.url + '/metrics')).body);
  assert.equal(after2.get('cafe_brews_in_flight{mode="async"}'), 0);
  assert.ok(after2.get('cafe_orders_finished_total{mode="async",status="ready"}') >= 1);
});

test('hands-on steps beyond the baristas wait in the worker queue', async () => {
  // One barista, three thread pourovers: their waits end together (0.5 s), then
  // three 0.1 s hands-on steps need the one barista, so two wait in the queue.
  const s = await startServer(['--time-scale', '0.1', '--baristas', '1']);
  try {
    const gauges = async () => parseMetrics((await request(s.url + '/metrics')).body);
    const orders = Array.from({ length: 3 }, () =>
      request(s.url + '/thread/order', { method: 'POST', body: { item: 'pourover' } }));
    let g, peak = 0;
    await waitFor(async () => (g = await gauges()).get('cafe_brews_in_flight{mode="thread"}') === 3,
      3000, 'three thread orders in flight');
    assert.equal(g.get('cafe_workers'), 1);
    while (g.get('cafe_brews_in_flight{mode="thread"}') > 0) {
      peak = Math.max(peak, g.get('cafe_worker_queue_depth'));
      await new Promise((r) => setTimeout(r, 10));
      g = await gauges();
    }
    for (const r of await Promise.all(orders)) assert.equal(r.status, 201);
    assert.ok(peak >= 1, `peak queue depth ${peak}`);
    assert.equal(g.get('cafe_worker_queue_depth'), 0);
    assert.equal(g.get('cafe_workers_busy'), 0);
  } finally {
    await s.stop();
  }
});

test('a sync brew shows up as event-loop lag; a thread brew does not', async () => {
  // Lunch at 0.04 s per recipe second: 0.6 s of work. Sync blocks the loop for
  // all of it; thread keeps it free. Compared as a ratio measured in one run,
  // so a loaded machine (or ASan) adding lag to both does not decide it.
  const s = await startServer(['--time-scale', '0.04']);
  try {
    const lagSum = async () => parseMetrics((await request(s.url + '/metrics')).body).get('cafe_eventloop_lag_seconds_sum');
    const order = (p) => request(s.url + p, { method: 'POST', body: { item: 'lunch' } });
    const t0 = await lagSum();
    assert.equal((await order('/thread/order')).status, 201);
    const t1 = await lagSum();
    assert.equal((await order('/sync/order')).status, 201);
    const t2 = await lagSum();
    const threadLag = t1 - t0, syncLag = t2 - t1;
    assert.ok(syncLag > 0.3, `sync lag ${syncLag}`);
    assert.ok(threadLag < syncLag / 3, `thread lag ${threadLag} vs sync lag ${syncLag}`);
    // and the log names the route that held the loop (the slow-callback warning)
    await s.waitForLog(/event loop lag: .* fired \d+ ms late \(last request: POST \/sync\/order mode=sync\)/);
  } finally {
    await s.stop();
  }
});
