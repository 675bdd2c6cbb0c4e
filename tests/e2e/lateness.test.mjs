// Where each order's time went (docs/timeline.md), on the real binary: a
// step reports when it was due and how late it ran, what it waited for and
// what held the loop meanwhile -- the label of a loop-timeline block -- and
// the order sums it up (queued_ms) in one sentence (late). Shown by
// GET /orders/ID and by the order events on /events alike.
//
// Breakages this catches: a timer's lateness counted from when it was armed
// instead of when it was due (late_ms ~0 for the async latte), held_by left
// empty or naming the wrong block (no lookup in the timeline, or the
// shortest), a sync brew not recorded as its own steps (held_by null), an
// async hands-on step's wait for the loop not reported, the barista's start
// reported with its end (the thread test: no step_started event before the
// step is done, or a start offset of the hand-over instead of the barista's),
// and --timeline=off breaking lateness itself (it only loses the names).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request, waitFor } from '../lib/server.mjs';
import { subscribe } from '../lib/sse.mjs';

const SCALE = 0.1;
const U = 1000 * SCALE; // ms per recipe second

const place = (srv, mode, item, query = '?wait=0') =>
  request(`${srv.url}/${mode}/order${query}`, { method: 'POST', body: { item } });

async function ready(srv, id, ms = 10000) {
  let o;
  await waitFor(async () => {
    o = (await request(`${srv.url}/orders/${id}`)).json;
    return o && o.status === 'ready';
  }, ms, `order ${id} ready`);
  return o;
}

const step = (o, name) => o.steps.find((s) => s.name === name);
// The sentence's duration, as cafe/lateness.c writes it.
const duration = (ms) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

// Stamps each event with its arrival time (the library's own data handler
// runs first, so the new events are already parsed).
function stamped(sub) {
  sub.sock.on('data', () => {
    const now = performance.now();
    for (const e of sub.events) e.at ??= now;
  });
  return sub;
}

test('a sync lunch holds the loop: a concurrent async latte finishes late, naming the sync order', async () => {
  const srv = await startServer(['--time-scale', String(SCALE)]);
  const sub = subscribe(srv.port);
  try {
    await waitFor(() => sub.connected(), 5000, 'the event stream');
    // The latte's timer is armed first (due at 5 recipe s = 500 ms); the sync
    // lunch then holds the loop for 15 recipe s from d ms on: its cook_pasta
    // (10 s) is the longest block over the latte's wait [500, d + 1500].
    const a = await place(srv, 'async', 'latte');
    const s = await place(srv, 'sync', 'lunch');
    assert.deepEqual([a.status, s.status], [202, 202]);
    const o = await ready(srv, a.json.id);
    const coffee = step(o, 'make_coffee');
    assert.equal(coffee.due_ms, 5 * U, 'a timer is due when it was armed plus its duration');
    assert.equal(coffee.late_ms, coffee.end_ms - coffee.due_ms);
    assert.ok(coffee.late_ms >= 10 * U - 20 && coffee.late_ms < 10 * U + 2000,
      `late by ${coffee.late_ms} ms (the lunch outlasts the latte by ${10 * U})`);
    assert.equal(coffee.waited_for, 'loop');
    assert.equal(coffee.held_by, `sync brew #${s.json.id} cook_pasta`);
    assert.deepEqual(o.queued_ms, { loop: coffee.late_ms, barista: 0 });
    assert.equal(o.late,
      `make_coffee finished ${duration(coffee.late_ms)} late: the loop was running sync brew #${s.json.id} cook_pasta`);
    // the order event on /events says the same (its last snapshot, ready)
    const ev = await sub.waitEvent((e) => e.event === 'order' && e.json.order.id === a.json.id &&
      e.json.order.status === 'ready', 5000, 'the latte ready on /events');
    assert.deepEqual(step(ev.json.order, 'make_coffee'), coffee);
    assert.equal(ev.json.order.late, o.late);
    // the sync lunch itself: its first step waited only for the next loop turn
    const lunch = await ready(srv, s.json.id);
    const pasta = step(lunch, 'cook_pasta');
    assert.equal(pasta.due_ms, 0, 'a sync brew is due at acceptance');
    assert.ok(pasta.late_ms < 200, `the lunch waited ${pasta.late_ms} ms for the loop`);
    // each next sync step is due when the previous one ended: never late
    for (const n of ['heat_meatloaf', 'peel_avocado']) assert.equal(step(lunch, n).late_ms, 0, n);
  } finally {
    sub.close();
    await srv.stop();
  }
});

test('an async avocado behind another order\'s waits for the loop, and says whose', async () => {
  const srv = await startServer(['--time-scale', String(SCALE)]);
  try {
    const r = await request(`${srv.url}/orders?wait=0`, {
      method: 'POST', body: { mode: 'async', orders: [{ item: 'lunch' }, { item: 'lunch' }] },
    });
    assert.equal(r.status, 202, r.body);
    const [first, second] = r.json.orders.map((o) => o.id);
    const o = await ready(srv, second);
    const avocado = step(o, 'peel_avocado');
    assert.equal(avocado.due_ms, 0, 'a hands-on step with no `after` is due at acceptance');
    assert.equal(avocado.late_ms, avocado.start_ms - avocado.due_ms);
    assert.ok(avocado.late_ms >= 2 * U - 20, `the second avocado started ${avocado.late_ms} ms late`);
    assert.equal(avocado.waited_for, 'loop');
    assert.equal(avocado.held_by, `async hands-on #${first} peel_avocado`);
    // its timers were armed only once the first avocado let go of the loop:
    // every step of it was held up by the same 2 recipe s, counted once (a
    // loaded machine may add some lateness of its own; twice would be 4)
    assert.ok(o.queued_ms.loop >= 2 * U - 20 && o.queued_ms.loop <= avocado.late_ms + U,
      `held up ${o.queued_ms.loop} ms in all, the avocado ${avocado.late_ms}`);
    for (const n of ['cook_pasta', 'heat_meatloaf']) assert.equal(step(o, n).held_by, avocado.held_by, n);
    assert.match(o.late, new RegExp(`late: the loop was running async hands-on #${first} peel_avocado$`));
  } finally {
    await srv.stop();
  }
});

test('thread mode: a step\'s start is on /events when a barista takes it, with its real offset, before its end', async () => {
  // One barista: the second lunch's avocado waits for the first's (2 recipe s).
  const srv = await startServer(['--time-scale', String(SCALE), '--baristas', '1']);
  const sub = stamped(subscribe(srv.port));
  try {
    await waitFor(() => sub.connected(), 5000, 'the event stream');
    const r = await request(`${srv.url}/orders?wait=0`, {
      method: 'POST', body: { mode: 'thread', orders: [{ item: 'lunch' }, { item: 'lunch' }] },
    });
    assert.equal(r.status, 202, r.body);
    const [a, b] = r.json.orders.map((o) => o.id);
    const avocadoEvent = (id, ev) => sub.waitEvent((e) => e.event === 'order' &&
      e.json.order.id === id && e.json.event === ev && e.json.step === 'peel_avocado', 5000,
      `${ev} peel_avocado of order ${id}`);
    for (const id of [a, b]) {
      const started = await avocadoEvent(id, 'step_started');
      const done = await avocadoEvent(id, 'step_done');
      const inHand = step(started.json.order, 'peel_avocado');
      assert.equal(inHand.status, 'running');
      assert.equal(inHand.end_ms, null, 'the start goes out while the step runs');
      assert.ok(done.at - started.at >= 2 * U * 0.75,
        `order ${id}: step_started arrived ${(done.at - started.at).toFixed(0)} ms before step_done`);
      const end = step(done.json.order, 'peel_avocado');
      assert.equal(end.start_ms, inHand.start_ms);
      assert.ok(end.end_ms - end.start_ms >= 2 * U, 'the barista worked the whole step');
    }
    // the second started when the barista took it -- after the first was
    // done -- not when it was handed over (at acceptance)
    const first = step(await ready(srv, a), 'peel_avocado');
    const second = await ready(srv, b);
    const avocado = step(second, 'peel_avocado');
    assert.ok(avocado.start_ms >= first.end_ms - 5 && avocado.start_ms <= first.end_ms + 100,
      `second avocado started at ${avocado.start_ms}, the first ended at ${first.end_ms}`);
    assert.equal(avocado.due_ms, 0);
    assert.equal(avocado.late_ms, avocado.start_ms);
    assert.equal(avocado.waited_for, 'barista');
    assert.equal(avocado.held_by, null, 'a barista wait names no loop block');
    assert.equal(second.queued_ms.barista, avocado.late_ms);
    assert.equal(second.late, `peel_avocado waited ${duration(avocado.late_ms)} for a barista`);
  } finally {
    sub.close();
    await srv.stop();
  }
});

test('with the timeline off, lateness is still measured; only what held the loop is unnamed', async () => {
  const srv = await startServer(['--time-scale', String(SCALE), '--timeline=off']);
  try {
    const a = await place(srv, 'async', 'latte');
    await place(srv, 'sync', 'latte', '?wait=0&time_scale=0.2'); // 1 s on the loop
    const o = await ready(srv, a.json.id);
    const coffee = step(o, 'make_coffee');
    assert.ok(coffee.late_ms >= 400, `late by ${coffee.late_ms} ms`);
    assert.equal(coffee.waited_for, 'loop');
    assert.equal(coffee.held_by, null);
    assert.equal(o.late, `make_coffee finished ${duration(coffee.late_ms)} late: the loop was busy`);
  } finally {
    await srv.stop();
  }
});
