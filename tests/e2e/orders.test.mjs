// The orders API end to end: placing, reading, listing, cancelling; bad input.
// One server at --time-scale 0.05 (a latte takes 250 ms) so cancellation and
// wait=0 have time to be observed; timing tables live in orders_timing.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startServer, request, waitFor } from '../lib/server.mjs';

let srv;
const url = (p) => srv.url + p;
const post = (p, body, headers = {}) =>
  request(url(p), { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => { srv = await startServer(['--time-scale', '0.05']); });
after(async () => { await srv.stop(); });

test('GET /menu lists every item with its steps, and the flavours', async () => {
  const r = await request(url('/menu'));
  assert.equal(r.status, 200);
  const names = r.json.items.map((i) => i.name);
  assert.deepEqual(names, ['latte', 'cappuccino', 'flat white', 'mocha', 'pourover', 'drip', 'lunch']);
  assert.deepEqual(r.json.flavours, ['vanilla', 'chocolate', 'pistachio', 'caramel']);
  const pourover = r.json.items.find((i) => i.name === 'pourover');
  assert.deepEqual(pourover.steps.map((s) => [s.name, s.kind, s.seconds]),
    [['boil_water', 'wait', 3], ['grind_beans', 'wait', 2], ['brew', 'hands', 1]]);
  assert.deepEqual(pourover.steps[2].after, ['boil_water', 'grind_beans']);
  assert.deepEqual(pourover.seconds, { sync: 6, async: 4 });
  const lunch = r.json.items.find((i) => i.name === 'lunch');
  assert.deepEqual(lunch.seconds, { sync: 15, async: 10 });
});

test('POST /order waits for the brew: 201, Location, the order and a friendly message', async () => {
  const r = await post('/order', { item: 'latte', flavour: 'vanilla', customer: 'Ana' });
  assert.equal(r.status, 201);
  assert.equal(r.headers.location, `/orders/${r.json.id}`);
  assert.equal(r.json.item, 'latte');
  assert.equal(r.json.flavour, 'vanilla');
  assert.equal(r.json.customer, 'Ana');
  assert.equal(r.json.mode, 'async');
  assert.equal(r.json.status, 'ready');
  assert.equal(r.json.message, 'Your vanilla latte is ready, enjoy!');
  assert.equal(r.json.steps.length, 1);
  const [s] = r.json.steps;
  assert.equal(s.name, 'make_coffee');
  assert.equal(s.kind, 'wait');
  assert.equal(s.status, 'done');
  assert.ok(s.start_ms >= 0 && s.end_ms >= 240, JSON.stringify(s));
  assert.ok(r.json.times.accepted <= r.json.times.started && r.json.times.started <= r.json.times.ready);
  const again = await request(url(r.headers.location));
  assert.equal(again.status, 200);
  assert.deepEqual(again.json, r.json);
});

test('names match case-insensitively; the menu spelling comes back', async () => {
  const r = await post('/thread/order', { item: 'Flat WHITE', flavour: 'CARAMEL' });
  assert.equal(r.status, 201);
  assert.equal(r.json.item, 'flat white');
  assert.equal(r.json.flavour, 'caramel');
  assert.equal(r.json.mode, 'thread');
  assert.equal(r.json.customer, null);
  assert.equal(r.json.message, 'Your caramel flat white is ready, enjoy!');
});

test('JSON is read whatever the Content-Type; form bodies and query parameters work', async () => {
  const asForm = await post('/order', '{"item":"mocha"}', { 'Content-Type': 'application/x-www-form-urlencoded' });
  assert.equal(asForm.status, 201);
  assert.equal(asForm.json.item, 'mocha');
  const form = await post('/order', 'item=cappuccino&flavour=pistachio&customer=Bo+B', {
    'Content-Type': 'application/x-www-form-urlencoded' });
  assert.equal(form.status, 201);
  assert.deepEqual([form.json.item, form.json.flavour, form.json.customer], ['cappuccino', 'pistachio', 'Bo B']);
  const query = await request(url('/sync/order?item=latte&customer=Cy'), { method: 'POST' });
  assert.equal(query.status, 201);
  assert.equal(query.json.mode, 'sync');
  assert.equal(query.json.customer, 'Cy');
});

test('bad orders: malformed JSON 400, wrong shape 422, unknown names 422 listing the valid ones', async () => {
  const bad = await post('/order', '{"item":');
  assert.equal(bad.status, 400);
  assert.match(bad.headers['content-type'], /application\/problem\+json/);
  const dup = await post('/order', '{"item":"latte","item":"mocha"}');
  assert.equal(dup.status, 400);
  for (const body of ['[1,2]', '"latte"', '{"item":5}', '{"item":"latte","size":"XL"}', '{}']) {
    const r = await post('/order', body);
    assert.equal(r.status, 422, body);
    assert.equal(r.json.status, 422);
  }
  const item = await post('/order', { item: 'tea' });
  assert.equal(item.status, 422);
  assert.match(item.json.detail, /unknown item "tea".*latte, cappuccino, flat white, mocha, pourover, drip, lunch/);
  assert.equal(item.json.items.length, 7);
  const flavour = await post('/order', { item: 'latte', flavour: 'mint' });
  assert.equal(flavour.status, 422);
  assert.match(flavour.json.detail, /vanilla, chocolate, pistachio, caramel/);
  assert.deepEqual(flavour.json.flavours, ['vanilla', 'chocolate', 'pistachio', 'caramel']);
  const none = await post('/order', { flavour: 'vanilla' });
  assert.equal(none.status, 422);
  assert.match(none.json.detail, /needs an item: one of latte, /);
  assert.equal(none.json.items.length, 7);
  const timeout = await post('/order?timeout_ms=soon', { item: 'latte' });
  assert.equal(timeout.status, 422);
  const long = await post('/order', { item: 'latte', customer: 'x'.repeat(200) });
  assert.equal(long.status, 422);
});

test('?wait=0 answers 202 at once with Location; the order then brews to ready', async () => {
  const t0 = Date.now();
  const r = await post('/order?wait=0', { item: 'latte' });
  assert.equal(r.status, 202);
  assert.ok(Date.now() - t0 < 200);
  assert.equal(r.json.status, 'brewing', 'async timers start at acceptance');
  assert.equal(r.headers.location, `/orders/${r.json.id}`);
  await sleep(80);
  const mid = await request(url(r.headers.location));
  assert.equal(mid.json.status, 'brewing');
  assert.equal(mid.json.steps[0].status, 'running');
  await waitFor(async () => (await request(url(r.headers.location))).json.status === 'ready', 3000);
});

test('?timeout_ms: not ready in time -> 504 and the brew is cancelled', async () => {
  const t0 = Date.now();
  const r = await post('/order?timeout_ms=60', { item: 'latte' });
  assert.equal(r.status, 504);
  assert.ok(Date.now() - t0 < 230, 'answered at the deadline, not when the latte would be done');
  assert.equal(r.json.order.status, 'cancelled');
  assert.equal(r.json.order.steps[0].status, 'dropped');
  const later = await request(url(`/orders/${r.json.order.id}`));
  assert.equal(later.json.status, 'cancelled');
  const ok = await post('/thread/order?timeout_ms=5000', { item: 'latte' });
  assert.equal(ok.status, 201);
});

test('sync mode honours timeout_ms only at step boundaries', async () => {
  // pourover: boil_water 3 (150 ms) is running when the 20 ms deadline passes;
  // the brew stops after it, before grind_beans.
  const t0 = Date.now();
  const r = await post('/sync/order?timeout_ms=20', { item: 'pourover' });
  const took = Date.now() - t0;
  assert.equal(r.status, 504);
  assert.ok(took >= 140, `stopped at the first boundary (${took} ms)`);
  const steps = r.json.order.steps;
  assert.deepEqual(steps.map((s) => s.status), ['done', 'dropped', 'dropped']);
});

test('DELETE cancels a brewing order; the waiting client is answered at once', async () => {
  const waiting = post('/order', { item: 'latte' });
  await sleep(60);
  const list = await request(url('/orders?status=brewing&limit=1'));
  const id = list.json.orders[0].id;
  const t0 = Date.now();
  const del = await request(url(`/orders/${id}`), { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.equal(del.json.status, 'cancelled');
  const w = await waiting;
  assert.ok(Date.now() - t0 < 120, 'the waiter did not wait for the latte');
  assert.equal(w.status, 200);
  assert.equal(w.json.id, id);
  assert.equal(w.json.status, 'cancelled');
  const again = await request(url(`/orders/${id}`), { method: 'DELETE' });
  assert.equal(again.status, 200);
  assert.deepEqual(again.json, del.json, 'DELETE again: 200, the same order');
  const done = await post('/order', { item: 'latte' });
  const late = await request(url(`/orders/${done.json.id}`), { method: 'DELETE' });
  assert.equal(late.status, 409);
  assert.equal(late.json.order.status, 'ready');
  assert.equal((await request(url('/orders/999999'), { method: 'DELETE' })).status, 404);
  assert.equal((await request(url('/orders/abc'))).status, 404);
});

test('DELETE of a queued sync order drops it before it runs', async () => {
  // All are accepted in one loop turn; then each holds the loop in turn. The
  // DELETE (a new connection: accepted after the drip, read after the first
  // latte) reaches the last latte while it is still queued.
  const batch = await post('/orders?wait=0', { orders: [{ item: 'drip' }, { item: 'latte' }, { item: 'latte' }], mode: 'sync' });
  const [first, , second] = batch.json.orders.map((o) => ({ headers: { location: `/orders/${o.id}` } }));
  const del = await request(url(second.headers.location), { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.equal(del.json.status, 'cancelled');
  assert.deepEqual(del.json.steps.map((s) => s.status), ['dropped']);
  await waitFor(async () => (await request(url(first.headers.location))).json.status === 'ready', 3000);
});

test('a client that disconnects does not cancel its order', async () => {
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  const body = '{"item":"drip"}';
  sock.write(`POST /thread/order HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  await sleep(50);
  sock.destroy();
  const list = await request(url('/orders?limit=1'));
  const [o] = list.json.orders;
  assert.equal(o.item, 'drip');
  await waitFor(async () => (await request(url(`/orders/${o.id}`))).json.status === 'ready', 3000);
});

test('GET /orders: newest first, filtered by status, limit bounded', async () => {
  const a = await post('/order?wait=0', { item: 'latte', customer: 'first' });
  const b = await post('/order?wait=0', { item: 'mocha', customer: 'second' });
  const all = await request(url('/orders?limit=2'));
  assert.equal(all.status, 200);
  assert.deepEqual(all.json.orders.map((o) => o.id), [b.json.id, a.json.id]);
  const brewing = await request(url('/orders?status=BREWING'));
  assert.ok(brewing.json.orders.length >= 1);
  assert.ok(brewing.json.orders.every((o) => o.status === 'brewing'));
  const bad = await request(url('/orders?status=cold'));
  assert.equal(bad.status, 422);
  assert.match(bad.json.detail, /queued, brewing, ready, cancelled or failed/);
  assert.equal((await request(url('/orders?limit=-1'))).status, 422);
  await waitFor(async () => (await request(url(`/orders/${b.json.id}`))).json.status === 'ready', 3000);
});

test('GET /orders: limit defaults to 50 and is capped at 1000', async () => {
  const s = await startServer(['--time-scale', '0.001', '--max-batch', '1001']);
  try {
    const many = await request(s.url + '/orders?wait=0', {
      method: 'POST', body: { orders: Array.from({ length: 1001 }, () => ({ item: 'latte' })) } });
    assert.equal(many.status, 202);
    const count = async (q) => (await request(s.url + '/orders' + q)).json.orders.length;
    assert.equal(await count(''), 50);
    assert.equal(await count('?limit=7'), 7);
    assert.equal(await count('?limit=100000'), 1000);
    assert.equal(await count('?limit=0'), 0);
  } finally { await s.stop(); }
});

test('--max-orders: the book keeps the newest N; older ones are forgotten (404) and the list holds N', async () => {
  // Breakage caught: --max-orders ignored (GET /orders/1 still answered).
  const s = await startServer(['--time-scale', '0.001', '--max-orders', '2']);
  try {
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const r = await request(s.url + '/order', { method: 'POST', body: { item: 'latte' } });
      assert.equal(r.status, 201);
      ids.push(r.json.id);
    }
    assert.deepEqual(ids, [1, 2, 3]);
    const gone = await request(s.url + '/orders/1');
    assert.equal(gone.status, 404);
    assert.match(gone.json.detail, /keeps the most recent 2 orders/);
    assert.equal((await request(s.url + '/orders/1', { method: 'DELETE' })).status, 404);
    for (const id of [2, 3]) assert.equal((await request(`${s.url}/orders/${id}`)).json.id, id);
    const list = await request(s.url + '/orders?limit=1000');
    assert.deepEqual(list.json.orders.map((o) => o.id), [3, 2]);
  } finally {
    await s.stop();
  }
});

test('POST /orders gathers: 200 with every order in request order', async () => {
  const r = await post('/orders', { orders: [{ item: 'drip' }, { item: 'latte', flavour: 'vanilla' }], mode: 'thread' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.orders.map((o) => [o.item, o.status, o.mode]),
    [['drip', 'ready', 'thread'], ['latte', 'ready', 'thread']]);
  assert.ok(r.json.orders[0].id < r.json.orders[1].id);
});

// POSTs a batch and resolves with the response head and each NDJSON line
// with the time (ms after the request was sent) at which it arrived.
function ndjsonLines(target, body, headers) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(target, { method: 'POST', agent: false, headers }, (res) => {
      const lines = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          lines.push({ at: performance.now() - t0, order: JSON.parse(buf.slice(0, nl)) });
          buf = buf.slice(nl + 1);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, lines, rest: buf }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('POST /orders streams NDJSON: each line leaves when its order is ready (Accept or ?stream=1)', async () => {
  // A lunch (1 s at this scale) and a latte (0.5 s). Breakage caught: lines
  // held back and written, in completion order, when the batch ends (the
  // body alone cannot tell: the latte's line must arrive well before the
  // lunch's -- 500 ms ideally, 100 ms at least on a loaded machine; held
  // back, both come in one write).
  const s = await startServer(['--time-scale', '0.1']);
  try {
    for (const [path, headers] of [['/orders', { Accept: 'application/x-ndjson' }], ['/orders?stream=1', {}]]) {
      const r = await ndjsonLines(s.url + path, { orders: [{ item: 'lunch' }, { item: 'latte' }] }, headers);
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'], /application\/x-ndjson/);
      assert.equal(r.headers['transfer-encoding'], 'chunked');
      assert.equal(r.rest, '', 'every line ends in a newline');
      assert.deepEqual(r.lines.map((l) => l.order.item), ['latte', 'lunch'], 'as completed, not request order');
      assert.ok(r.lines.every((l) => l.order.status === 'ready'));
      const [latte, lunch] = r.lines.map((l) => l.at);
      assert.ok(latte >= 500 * 0.95, `the latte's line came at ${latte.toFixed(0)} ms, before the latte was ready`);
      assert.ok(lunch - latte >= 100, `the latte's line came at ${latte.toFixed(0)} ms, the lunch's at ` +
        `${lunch.toFixed(0)} ms: held back until the batch ended?`);
    }
  } finally {
    await s.stop();
  }
});

test('a batch with one bad order is rejected whole, naming its index', async () => {
  const before = (await request(url('/orders?limit=1'))).json.orders[0]?.id ?? 0;
  const r = await post('/orders', { orders: [{ item: 'latte' }, { item: 'tea' }] });
  assert.equal(r.status, 422);
  assert.equal(r.json.index, 1);
  assert.match(r.json.detail, /order 1: unknown item "tea"/);
  const after = (await request(url('/orders?limit=1'))).json.orders[0]?.id ?? 0;
  assert.equal(after, before, 'nothing was placed');
  const many = await post('/orders', { orders: Array.from({ length: 101 }, () => ({ item: 'latte' })) });
  assert.equal(many.status, 422);
  assert.match(many.json.detail, /1 to 100 orders/, 'names the --max-batch limit');
  assert.equal((await post('/orders', { orders: [{ item: 'latte' }], mode: 'turbo' })).status, 422);
  assert.equal((await post('/orders', '{"orders":')).status, 400);
  assert.equal((await post('/orders', { orders: [] })).status, 422);
});

test('a batch past its timeout_ms -> 504 with every order, cancelled', async () => {
  const t0 = Date.now();
  const r = await post('/orders?timeout_ms=60', { orders: [{ item: 'latte' }, { item: 'drip' }] });
  assert.equal(r.status, 504);
  assert.ok(Date.now() - t0 < 230, 'answered at the deadline');
  assert.deepEqual(r.json.orders.map((o) => [o.item, o.status]), [['latte', 'cancelled'], ['drip', 'cancelled']]);
});

test('batch mode from the query string, any case', async () => {
  const r = await post('/orders?mode=THREAD', { orders: [{ item: 'latte' }] });
  assert.equal(r.status, 200);
  assert.equal(r.json.orders[0].mode, 'thread');
});

test('batch ?wait=0 answers 202 with the queued orders', async () => {
  const r = await post('/orders?wait=0', { orders: [{ item: 'latte' }, { item: 'mocha' }], mode: 'sync' });
  assert.equal(r.status, 202);
  assert.deepEqual(r.json.orders.map((o) => [o.item, o.status, o.mode]),
    [['latte', 'queued', 'sync'], ['mocha', 'queued', 'sync']]);
  await waitFor(async () => (await request(url(`/orders/${r.json.orders[1].id}`))).json.status === 'ready', 3000);
});

test('limits: over max-brews -> 503 + Retry-After; over max-queue (thread) -> 503', async () => {
  const s = await startServer(['--time-scale', '0.2', '--max-brews', '2', '--max-queue', '1', '--baristas', '1']);
  try {
    const p = (path, body) => request(s.url + path, { method: 'POST', body });
    assert.equal((await p('/order?wait=0', { item: 'latte' })).status, 202);
    assert.equal((await p('/order?wait=0', { item: 'latte' })).status, 202);
    const busy = await p('/order?wait=0', { item: 'latte' });
    assert.equal(busy.status, 503);
    assert.equal(busy.headers['retry-after'], '1');
    assert.match(busy.json.detail, /at most 2/);
    const batch = await p('/orders?wait=0', { orders: [{ item: 'latte' }] });
    assert.equal(batch.status, 503);
    assert.equal(batch.headers['retry-after'], '1');
  } finally { await s.stop(); }
  const t = await startServer(['--time-scale', '0.5', '--max-queue', '1', '--baristas', '1']);
  try {
    const p = (body) => request(t.url + '/thread/order?wait=0', { method: 'POST', body });
    assert.equal((await p({ item: 'lunch' })).status, 202); // avocado in the barista's hands
    await sleep(100);
    assert.equal((await p({ item: 'lunch' })).status, 202); // avocado queued
    await sleep(100);
    const full = await p({ item: 'lunch' });
    assert.equal(full.status, 503);
    assert.equal(full.headers['retry-after'], '1');
    assert.match(full.json.detail, /barista/);
  } finally { await t.stop(); }
  // A batch is admitted whole: its first lunch filling the barista queue
  // does not refuse the rest (nor leave the batch half-placed).
  const u = await startServer(['--time-scale', '0.01', '--max-queue', '1', '--baristas', '1', '--max-batch', '2']);
  try {
    const b = await request(u.url + '/orders?wait=0', {
      method: 'POST', body: { orders: [{ item: 'lunch' }, { item: 'lunch' }], mode: 'thread' } });
    assert.equal(b.status, 202);
    assert.deepEqual(b.json.orders.map((o) => o.id), [1, 2]);
    const big = await request(u.url + '/orders', { method: 'POST', body: { orders: [{ item: 'latte' }, { item: 'latte' }, { item: 'latte' }] } });
    assert.equal(big.status, 422);
    assert.match(big.json.detail, /1 to 2 orders/, 'names --max-batch');
  } finally { await u.stop(); }
});

test('SIGTERM: waiting clients are answered, then exit 0', async () => {
  const s = await startServer(['--time-scale', '1', '--drain-timeout-ms', '300']);
  const waiting = request(s.url + '/thread/order', { method: 'POST', body: { item: 'lunch' } });
  await sleep(100);
  const exited = s.stop('SIGTERM');
  const r = await waiting;
  assert.equal(r.status, 503);
  assert.equal(r.json.order.status, 'failed');
  assert.deepEqual(await exited, { code: 0, signal: null });
});

test('--menu FILE replaces the menu; a bad file is refused with a clear message', async () => {
  const fs = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cafe-menu-'));
  const good = path.join(dir, 'menu.json');
  await fs.writeFile(good, JSON.stringify({
    items: [{ name: 'tea', steps: [{ name: 'boil', kind: 'wait', seconds: 2 }, { name: 'steep', kind: 'wait', seconds: 1, after: ['boil'] }] }],
    flavours: ['mint'],
  }));
  const s = await startServer(['--menu', good, '--time-scale', '0.01']);
  try {
    const m = await request(s.url + '/menu');
    assert.deepEqual(m.json.items.map((i) => i.name), ['tea']);
    const r = await request(s.url + '/order', { method: 'POST', body: { item: 'tea', flavour: 'mint' } });
    assert.equal(r.status, 201);
    assert.equal(r.json.message, 'Your mint tea is ready, enjoy!');
    // GET /menu's output is itself a valid --menu file
    const round = path.join(dir, 'round.json');
    await fs.writeFile(round, m.body);
    const s2 = await startServer(['--menu', round]);
    await s2.stop();
  } finally { await s.stop(); }
  const bad = path.join(dir, 'bad.json');
  await fs.writeFile(bad, JSON.stringify({ items: [{ name: 'x', steps: [{ name: 'a', kind: 'wait', seconds: 1, after: ['b'] }] }] }));
  await assert.rejects(startServer(['--menu', bad]), /unknown dependency "b"/);
  await fs.rm(dir, { recursive: true });
});
