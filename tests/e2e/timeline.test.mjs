// The loop timeline on the real binary (docs/timeline.md): GET /timeline
// lists the blocks of a sync rush -- one per order, named after the step that
// held the loop, each as long as the step within 10 %, in the order they
// ran -- with the loop's busy time per 100 ms; the "timeline" events on
// /events carry the same blocks once each; a thread rush fills the barista
// lanes and leaves the loop idle; bad ?seconds= and --timeline=off answer
// what they should.
//
// Breakages this catches: a sync brew not timed (no blocks), timed as one
// block per kick instead of per step (a pourover's three steps as one),
// labelled with the order's id missing or the wrong step, its duration cut
// short (the block closed before the sleep), blocks sent twice or never on
// /events, barista work recorded on the loop's lane, busy time not counted,
// and ?seconds= accepted outside 1..60.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request, waitFor } from '../lib/server.mjs';
import { subscribe } from '../lib/sse.mjs';

const SCALE = 0.05;
const U = 1000 * SCALE; // ms per recipe second

let srv;
before(async () => { srv = await startServer(['--time-scale', String(SCALE), '--baristas', '2']); });
after(async () => { await srv.stop(); });

const batch = (mode, items) => request(`${srv.url}/orders`, {
  method: 'POST', body: { mode, orders: items.map((item) => ({ item })) },
});
const timeline = async (seconds = 10) => {
  const r = await request(`${srv.url}/timeline?seconds=${seconds}`);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['content-type'], 'application/json');
  return r.json;
};
const within = (got, want, share, what) =>
  assert.ok(Math.abs(got - want) <= want * share, `${what}: ${got} against ${want} (±${share * 100} %)`);

test('a sync rush: one block per step on the loop, labelled and as long as the step; the loop busy meanwhile', async () => {
  const sub = subscribe(srv.port);
  try {
    await waitFor(() => sub.connected(), 5000, 'the event stream');
    const r = await batch('sync', ['latte', 'pourover', 'cappuccino']);
    assert.equal(r.status, 200, r.body);
    const orders = r.json.orders;
    // busy time is listed by complete 100 ms buckets: let the last one close
    await new Promise((res) => setTimeout(res, 250));
    const tl = await timeline(10);
    assert.deepEqual(tl.lanes.map((l) => [l.lane, l.name]), [[0, 'loop'], [1, 'barista 1'], [2, 'barista 2']]);
    assert.equal(tl.threshold_us, 1000);
    assert.equal(tl.to_us - tl.from_us, 10000000);
    // the brews' blocks (the POST /orders that placed them is tagged sync too,
    // and is a block of its own when it takes over 1 ms: ASan, a loaded machine)
    const brewed = (b) => b.tag === 'sync' && b.label.startsWith('sync brew #');
    const sync = tl.lanes[0].blocks.filter(brewed);
    // what the orders say they did, step by step, in the order they ran
    const want = orders.flatMap((o) => o.steps.map((s) => ({
      label: `sync brew #${o.id} ${s.name}`, id: o.id, ms: s.end_ms - s.start_ms,
      at: o.times.accepted + s.start_ms,
    }))).sort((a, b) => a.at - b.at);
    assert.deepEqual(sync.map((b) => b.label), want.map((w) => w.label));
    for (const [i, b] of sync.entries()) {
      assert.equal(b.id, want[i].id);
      const recipe = orders.find((o) => o.id === b.id).steps.find((s) => b.label.endsWith(` ${s.name}`)).seconds;
      // as long as the step really took (the order's own start and end),
      // within 10 %; never shorter than the recipe says, and longer only by
      // what a loaded machine adds to a sleep (65.8 ms for 50 once)
      within(b.dur_us / 1000, want[i].ms, 0.1, `${b.label} against its step`);
      const ms = b.dur_us / 1000;
      assert.ok(ms >= 0.95 * recipe * U && ms <= 1.5 * recipe * U, `${b.label}: ${ms} ms for ${recipe * U}`);
      if (i) assert.ok(b.start_us >= sync[i - 1].start_us + sync[i - 1].dur_us, 'blocks do not overlap');
    }
    // the loop was busy all along the rush: its busy time covers the blocks
    const total = sync.reduce((n, b) => n + b.dur_us, 0);
    const busy = tl.lanes[0].busy_us.reduce((n, v) => n + v, 0);
    assert.ok(busy >= total * 0.95, `busy ${busy} us over blocks of ${total} us`);
    // a bucket holds at most its 100 ms; the rush fills nearly every bucket
    // it spans (what falls between two steps or two orders is the loop's
    // own turn: over 1 ms under a loaded sanitizer build, as CI once saw)
    assert.ok(tl.lanes[0].busy_us.every((v) => v <= 100000), `no bucket over 100 ms: ${tl.lanes[0].busy_us}`);
    assert.ok(tl.lanes[0].busy_us.filter((v) => v >= 90000).length >= Math.floor(total / 100000) - 2,
      `whole buckets of busy loop under the rush: ${tl.lanes[0].busy_us.filter((v) => v > 0)}`);
    // the stream: each of these blocks once, in some timeline batch (and
    // not again in the batch after)
    const batches = () => sub.events.filter((e) => e.event === 'timeline');
    let carried;
    await waitFor(() => {
      carried = batches().findLastIndex((e) => e.json.lanes[0].blocks.some((b) => b.label === sync.at(-1).label));
      return carried >= 0 && batches().length > carried + 1;
    }, 5000, 'the blocks on /events, and a batch after them');
    const sent = batches();
    const streamed = sent.flatMap((e) => e.json.lanes[0].blocks.filter(brewed)
      .map((b) => ({ label: b.label, at: e.json.t0_ms * 1000 + b.start_us, dur: b.dur_us })));
    assert.deepEqual(streamed.map((b) => b.label), sync.map((b) => b.label), 'each block once, in order');
    for (const [i, b] of streamed.entries()) {
      assert.equal(b.dur, sync[i].dur_us);
      assert.ok(Math.abs(b.at - (tl.t0_ms * 1000 + sync[i].start_us)) <= 1000, 'the same moment in both');
    }
    for (const e of sent) assert.equal(e.json.bucket_us, 100000);
  } finally {
    sub.close();
  }
});

test('a thread rush: the baristas\' lanes fill, the loop stays idle', async () => {
  const r = await batch('thread', ['pourover', 'pourover', 'pourover', 'pourover']);
  assert.equal(r.status, 200, r.body);
  const ids = r.json.orders.map((o) => o.id);
  const tl = await timeline(5);
  const hands = tl.lanes.slice(1).flatMap((l) => l.blocks.map((b) => ({ ...b, lane: l.lane })))
    .filter((b) => ids.includes(b.id));
  assert.deepEqual(hands.map((b) => b.id).sort(), ids, 'one hands-on brew per order');
  for (const b of hands) {
    assert.equal(b.tag, 'thread');
    assert.equal(b.label, `thread hands-on #${b.id} brew`);
    // never shorter than its step; a barista woken late on a loaded machine
    // holds the step longer (57.7 ms for 50 once, with 3 suites running)
    const ms = b.dur_us / 1000;
    assert.ok(ms >= 0.95 * U && ms <= 1.5 * U, `${b.label}: ${ms} ms for a ${U} ms step`);
  }
  assert.deepEqual([...new Set(hands.map((b) => b.lane))].sort(), [1, 2], 'both baristas worked');
  const loop = tl.lanes[0].blocks.filter((b) => ids.includes(b.id));
  assert.ok(loop.every((b) => b.dur_us < 0.2 * U * 1000), `nothing of theirs held the loop: ${JSON.stringify(loop)}`);
});

test('?seconds= is a whole number from 1 to 60; the default is 10', async () => {
  for (const bad of ['0', '61', 'abc', '-1', '1.5', '']) {
    const r = await request(`${srv.url}/timeline?seconds=${bad}`);
    assert.equal(r.status, 422, `seconds=${bad}`);
    assert.equal(r.json.detail, 'seconds must be a whole number from 1 to 60');
  }
  const d = (await request(`${srv.url}/timeline`)).json;
  assert.equal(d.to_us - d.from_us, 10000000);
  assert.equal((await timeline(60)).to_us - (await timeline(1)).from_us > 0, true);
});

test('--timeline=off: GET /timeline is 404 and /events sends no timeline', async () => {
  const off = await startServer(['--timeline=off']);
  const sub = subscribe(off.port);
  try {
    const r = await request(`${off.url}/timeline`);
    assert.equal(r.status, 404);
    assert.match(r.json.detail, /the loop timeline is off/);
    await sub.waitEvent((e) => e.event === 'stats', 3000, 'a stats event');
    await sub.waitEvent((e) => e.event === 'stats' && e !== sub.events.find((x) => x.event === 'stats'), 3000, 'a second stats event');
    assert.ok(!sub.events.some((e) => e.event === 'timeline'));
  } finally {
    sub.close();
    await off.stop();
  }
});
