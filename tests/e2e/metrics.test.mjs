// GET /metrics: Prometheus text format 0.0.4, checked by Debian's promtool,
// and the numbers it reports after known traffic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request, waitFor, parseMetrics, scrape } from '../lib/server.mjs';

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

// The series of one family whose name starts with prefix, as an object.
const family = (m, prefix) => Object.fromEntries([...m].filter(([k]) => k.startsWith(prefix)));

test('requests by route, mode and status, counted exactly once each; latency histograms by mode', async () => {
  // Its own server, so every request it ever answered is one of these.
  // Breakage caught: each request counted three times (">= 1" passed); a
  // 422 right after a 201 of the same route counted as another 201 (the
  // series of the last answer reused for a different status).
  const s = await startServer(['--time-scale', '0.01']);
  try {
    const post = (p, body) => request(s.url + p, { method: 'POST', body });
    for (const mode of ['sync', 'thread', 'async']) assert.equal((await post(`/${mode}/order`, { item: 'drip' })).status, 201);
    assert.equal((await post('/async/order', { item: 'espresso-tonic' })).status, 422);
    assert.equal((await post('/sync/order', { item: 'latte' })).status, 201);
    assert.equal((await post('/order', { item: 'latte' })).status, 201);
    assert.equal((await post('/orders', { orders: [{ item: 'latte' }, { item: 'drip' }], mode: 'thread' })).status, 200);
    assert.equal((await request(s.url + '/no/such/page')).status, 404); // the static catch-all
    assert.equal((await request(s.url + '/menu', { method: 'DELETE' })).status, 405);
    for (let i = 0; i < 3; i++) assert.equal((await request(s.url + '/healthz')).status, 200);
    assert.equal((await request(s.url + '/healthz', { method: 'HEAD' })).status, 200);
    assert.equal((await request(s.url + '/orders/1')).status, 200);
    const m = await scrape(s);
    const R = 'cafe_http_requests_total';
    assert.deepEqual(family(m, R + '{'), {
      [`${R}{route="/sync/order",mode="sync",status="201"}`]: 2,
      [`${R}{route="/async/order",mode="async",status="201"}`]: 1,
      [`${R}{route="/thread/order",mode="thread",status="201"}`]: 1,
      [`${R}{route="/order",mode="async",status="201"}`]: 1,
      [`${R}{route="/orders",mode="thread",status="200"}`]: 1,
      [`${R}{route="/async/order",mode="async",status="422"}`]: 1,
      [`${R}{route="static",mode="none",status="404"}`]: 1,
      [`${R}{route="unmatched",mode="none",status="405"}`]: 1,
      [`${R}{route="/healthz",mode="none",status="200"}`]: 4,
      [`${R}{route="/orders/:id",mode="none",status="200"}`]: 1,
    });
    // Latency: one observation per request, by the mode it was placed in.
    const H = 'cafe_http_request_duration_seconds';
    assert.deepEqual(family(m, H + '_count'), {
      [`${H}_count{mode="sync"}`]: 2,
      [`${H}_count{mode="async"}`]: 3,
      [`${H}_count{mode="thread"}`]: 2,
      [`${H}_count{mode="none"}`]: 7,
    });
    // Orders: placed and finished, by mode (the batch placed two).
    assert.deepEqual([...['sync', 'async', 'thread']].map((mode) => [
      m.get(`cafe_orders_placed_total{mode="${mode}"}`),
      m.get(`cafe_orders_finished_total{mode="${mode}",status="ready"}`)]), [[2, 2], [2, 2], [3, 3]]);
    assert.equal(m.get('cafe_orders_refused_total'), 0);
    // The scrape itself is counted once it is answered.
    const again = await scrape(s);
    assert.equal(again.get(`${R}{route="/metrics",mode="none",status="200"}`), 1);
    assert.equal(again.get(`${H}_count{mode="none"}`), 8);
    // cumulative buckets: non-decreasing, +Inf equals _count
    for (const mode of ['sync', 'async', 'thread']) {
      const buckets = [...m.entries()].filter(([k]) => k.startsWith(`${H}_bucket{mode="${mode}",`));
      assert.ok(buckets.length > 5);
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1]);
      assert.match(buckets.at(-1)[0], /le="\+Inf"/);
      assert.equal(buckets.at(-1)[1], m.get(`${H}_count{mode="${mode}"}`));
      assert.ok(m.get(`${H}_sum{mode="${mode}"}`) > 0);
    }
    // a sync drip takes 0.06 s at this time scale, a latte 0.05: both sync
    // requests are above the 0.05 s bucket's bound, or at it
    assert.ok(m.get(`${H}_bucket{mode="sync",le="0.025"}`) === 0, 'no sync order answered in 25 ms');
  } finally {
    await s.stop();
  }
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

test('the slow-callback warning names what held the loop, for how long, and the threshold', async () => {
  // Breakage caught: the warning turned off (nothing else notices). The
  // lines checked whole, as the README shows them to operators.
  const ts = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;
  const s = await startServer(['--time-scale', '0.1', '--slow-callback-ms', '50']);
  try {
    assert.equal((await request(s.url + '/sync/order', { method: 'POST', body: { item: 'latte' } })).status, 201);
    const sync = new RegExp(`^${ts} warn slow callback: sync brew latte \\(order 1\\) held the loop for (\\d+) ms \\(threshold 50 ms\\)$`, 'm');
    await s.waitForLog(sync, 3000);
    const held = Number(sync.exec(s.stderr)[1]);
    assert.ok(held >= 500 && held < 500 + 1000, `a 500 ms sync latte held the loop for ${held} ms`);
    const lag = new RegExp(`^${ts} warn event loop lag: a 100 ms timer fired (\\d+) ms late \\(last request: POST /sync/order mode=sync\\)$`, 'm');
    await s.waitForLog(lag, 3000);
    assert.ok(Number(lag.exec(s.stderr)[1]) >= 300, 'the lag covers the blocked loop');
    // An async hands-on step (a pourover's 100 ms brew) blocks the loop too.
    assert.equal((await request(s.url + '/async/order', { method: 'POST', body: { item: 'pourover' } })).status, 201);
    const hands = new RegExp(`^${ts} warn slow callback: async brew pourover step brew held the loop for (\\d+) ms \\(threshold 50 ms\\)$`, 'm');
    await s.waitForLog(hands, 3000);
    const brewed = Number(hands.exec(s.stderr)[1]);
    assert.ok(brewed >= 100 && brewed < 100 + 1000, `a 100 ms hands-on brew held the loop for ${brewed} ms`);
  } finally {
    await s.stop();
  }
  // Above the threshold only; 0 turns both warnings off.
  for (const threshold of ['1000', '0']) {
    const q = await startServer(['--time-scale', '0.1', '--slow-callback-ms', threshold]);
    try {
      assert.equal((await request(q.url + '/sync/order', { method: 'POST', body: { item: 'latte' } })).status, 201);
      await new Promise((r) => setTimeout(r, 300)); // the lag probe's next ticks
    } finally {
      await q.stop(); // then its stderr is all here
    }
    assert.doesNotMatch(q.stderr, /slow callback|event loop lag/, `--slow-callback-ms ${threshold}`);
  }
});

test('every limit is exported as cafe_config_limit{name}, with the value it was given', async () => {
  // Each flag set to a value no default has; the family must hold exactly these.
  const given = {
    max_header_bytes: 12345, max_header_fields: 77, max_uri_bytes: 4321, max_body_bytes: 54321,
    header_timeout_ms: 7001, idle_timeout_ms: 3001, write_timeout_ms: 9001, max_connections: 321,
    drain_timeout_ms: 4001, max_output_bytes: 654321, max_brews: 999, max_queue: 99, max_batch: 42,
    max_orders: 777, baristas: 3, slow_callback_ms: 123, sse_max_backlog: 333333,
    sse_heartbeat_ms: 4444, log_flush_ms: 77, log_buffer_bytes: 8888,
  };
  const flags = Object.entries(given).flatMap(([k, v]) => [`--${k.replaceAll('_', '-')}`, String(v)]);
  const s = await startServer(flags);
  try {
    const m = await scrape(s);
    const exported = Object.fromEntries([...m].filter(([k]) => k.startsWith('cafe_config_limit{'))
      .map(([k, v]) => [/name="([^"]+)"/.exec(k)[1], v]));
    assert.deepEqual(exported, given);
    // and the start-up log says the same (stderr may trail the "listening" line)
    for (const [k, v] of Object.entries(given)) {
      if (k === 'sse_max_backlog') continue; // not in the log lines
      await s.waitForLog(new RegExp(`\\b${k.replaceAll('_', '-')}=${v}\\b`), 3000);
    }
  } finally {
    await s.stop();
  }
});
