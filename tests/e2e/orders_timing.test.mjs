// The seeds' timing tables, measured on the real binary: what concurrency buys
// (async/thread) and what one blocking step costs (sync, and async's hands-on
// steps). One recipe second = U ms. Bounds are ratios and generous ceilings so
// a loaded 2-core machine does not flake them; the floors are hard facts (a
// timer never fires early, a blocking sleep never ends early).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request } from '../lib/server.mjs';

const SCALE = 0.05;
const U = 1000 * SCALE; // ms per recipe second
const SLACK = 150; // ms of scheduling noise we tolerate on top of the ideal

let srv;
before(async () => { srv = await startServer(['--time-scale', String(SCALE), '--baristas', '2']); });
after(async () => { await srv.stop(); });

const order = (mode, item) => request(`${srv.url}/${mode}/order`, { method: 'POST', body: { item } });

async function timed(fn) {
  const t0 = performance.now();
  const r = await fn();
  return { r, ms: performance.now() - t0 };
}

// The faster of two runs: a loaded machine only ever adds time (one late
// wake-up made a thread drip 258 ms against a sync one's 307), so the
// better run is the one that tells what the mode does.
async function best(fn) {
  const a = await timed(fn);
  const b = await timed(fn);
  return a.ms <= b.ms ? a : b;
}

function near(ms, ideal, what) {
  assert.ok(ms >= ideal * 0.97, `${what}: ${ms.toFixed(0)} ms is below the ideal ${ideal} ms`);
  assert.ok(ms <= ideal * 1.25 + SLACK, `${what}: ${ms.toFixed(0)} ms is far above the ideal ${ideal} ms`);
}

// The ceilings above admit a sync time for an async ideal (drip: 4 vs 6), so
// the modes are told apart by their ratio, measured in one run: fast/slow
// must sit below the midpoint between the ideal ratio and 1. A delay that a
// loaded machine adds to both (up to the slow ideal itself) keeps it there;
// a mode that runs its waits one after another does not (ratio 1).
function fasterThan(fastMs, slowMs, fastIdeal, slowIdeal, what) {
  const bound = (fastIdeal / slowIdeal + 1) / 2;
  assert.ok(fastMs / slowMs < bound, `${what}: ${fastMs.toFixed(0)} ms vs ${slowMs.toFixed(0)} ms, ratio ` +
    `${(fastMs / slowMs).toFixed(2)} (ideal ${(fastIdeal / slowIdeal).toFixed(2)}, bound ${bound.toFixed(2)})`);
}

test('two customers: coffees brew together in async (~5), one after another in sync (~10)', async () => {
  const two = (mode) => best(() => Promise.all([order(mode, 'latte'), order(mode, 'cappuccino')]));
  const a = await two('async');
  const s = await two('sync');
  const t = await two('thread');
  for (const { r } of [a, s, t]) assert.deepEqual(r.map((x) => x.status), [201, 201]);
  near(a.ms, 5 * U, 'async two coffees');
  near(t.ms, 5 * U, 'thread two coffees');
  near(s.ms, 10 * U, 'sync two coffees');
  fasterThan(a.ms, s.ms, 5, 10, 'two coffees async vs sync');
  fasterThan(t.ms, s.ms, 5, 10, 'two coffees thread vs sync');
  console.log(`Serving 2 customers took ${(a.ms / U).toFixed(2)} (async) / ${(s.ms / U).toFixed(2)} (sync) / ${(t.ms / U).toFixed(2)} (thread) recipe seconds`);
});

test('pourover: 4 async/thread, 6 sync (its hands-on brew waits for both waits)', async () => {
  const took = {};
  for (const [mode, ideal] of [['async', 4], ['thread', 4], ['sync', 6]]) {
    const { r, ms } = await best(() => order(mode, 'pourover'));
    took[mode] = ms;
    assert.equal(r.status, 201);
    near(ms, ideal * U, `pourover ${mode}`);
    near(r.json.elapsed_ms, ideal * U, `pourover ${mode} elapsed_ms`);
    const [boil, grind, brew] = r.json.steps;
    assert.ok(brew.start_ms >= Math.max(boil.end_ms, grind.end_ms), `${mode}: brew starts after both`);
    if (mode === 'sync') assert.ok(grind.start_ms >= boil.end_ms, 'sync runs one step at a time');
    else assert.ok(grind.start_ms < U, `${mode}: grinding starts with boiling`);
  }
  fasterThan(took.async, took.sync, 4, 6, 'pourover async vs sync');
  fasterThan(took.thread, took.sync, 4, 6, 'pourover thread vs sync');
});

test('drip: 4 async, 6 sync (all waiting steps): told apart by their ratio', async () => {
  // Breakage caught: async running its waits one after another (6, like
  // sync); 1.25 x 4 + slack admitted that.
  const took = {};
  for (const [mode, ideal] of [['async', 4], ['thread', 4], ['sync', 6]]) {
    const { r, ms } = await best(() => order(mode, 'drip'));
    assert.equal(r.status, 201);
    near(ms, ideal * U, `drip ${mode}`);
    const [boil, grind] = r.json.steps;
    if (mode === 'sync') assert.ok(grind.start_ms >= boil.end_ms, 'sync runs one step at a time');
    else assert.ok(grind.start_ms < U, `${mode}: grinding starts with boiling`);
    took[mode] = ms;
  }
  fasterThan(took.async, took.sync, 4, 6, 'drip async vs sync');
  fasterThan(took.thread, took.sync, 4, 6, 'drip thread vs sync');
});

test('lunch: 10 async/thread (gather starts the timers before the avocado), 15 sync', async () => {
  const took = {};
  for (const [mode, ideal] of [['async', 10], ['thread', 10], ['sync', 15]]) {
    const { r, ms } = await timed(() => order(mode, 'lunch'));
    took[mode] = ms;
    assert.equal(r.status, 201);
    near(ms, ideal * U, `lunch ${mode}`);
    const byName = Object.fromEntries(r.json.steps.map((s) => [s.name, s]));
    if (mode !== 'sync') {
      assert.ok(byName.cook_pasta.start_ms < U / 2, `${mode}: pasta starts at once`);
      assert.ok(byName.peel_avocado.start_ms < U / 2 + (mode === 'thread' ? U : 0), `${mode}: peeling starts at once`);
    } else {
      assert.ok(byName.heat_meatloaf.start_ms >= byName.cook_pasta.end_ms);
      assert.ok(byName.peel_avocado.start_ms >= byName.heat_meatloaf.end_ms);
    }
  }
  fasterThan(took.async, took.sync, 10, 15, 'lunch async vs sync');
  fasterThan(took.thread, took.sync, 10, 15, 'lunch thread vs sync');
});

// A probe request while a lunch is being made: its latency is how long the
// loop was unavailable to everyone else.
async function probeDuringLunch(mode) {
  const placed = await request(`${srv.url}/${mode}/order?wait=0`, { method: 'POST', body: { item: 'lunch' } });
  assert.equal(placed.status, 202);
  const { r, ms } = await timed(() => request(`${srv.url}/healthz`));
  assert.equal(r.status, 200);
  // let the lunch finish before the next measurement
  await new Promise((res) => setTimeout(res, 11 * U));
  return ms;
}

test('the avocado (hands-on) stalls every other client in async mode, not in thread mode', async () => {
  const asyncMs = await probeDuringLunch('async');
  const threadMs = await probeDuringLunch('thread');
  console.log(`healthz during a lunch: async ${asyncMs.toFixed(0)} ms, thread ${threadMs.toFixed(0)} ms (avocado ${2 * U} ms)`);
  assert.ok(asyncMs >= 2 * U * 0.6, `async: the loop was blocked peeling (${asyncMs.toFixed(0)} ms)`);
  assert.ok(threadMs < U, `thread: the loop stayed free (${threadMs.toFixed(0)} ms)`);
});

test('a batch starts in request order: in async a hands-on step delays the next order', async () => {
  const batch = (mode) => request(`${srv.url}/orders`, {
    method: 'POST', body: { orders: [{ item: 'lunch' }, { item: 'latte' }], mode } });
  const a = await batch('async');
  const t = await batch('thread');
  assert.equal(a.status, 200);
  const latteStart = (r) => r.json.orders[1].steps[0].start_ms;
  assert.ok(latteStart(a) >= 2 * U * 0.9, `async: latte waited for the avocado (${latteStart(a)} ms)`);
  assert.ok(latteStart(t) < U, `thread: latte started at once (${latteStart(t)} ms)`);
});

test('queued sync brews take turns with other clients: a request during the first of four is answered before the second', async () => {
  // Breakage caught: the queued sync brews run back to back in one loop
  // callback (every request waits for all four lattes, ~3 more).
  const r = await request(`${srv.url}/orders?wait=0`, {
    method: 'POST', body: { mode: 'sync', orders: Array.from({ length: 4 }, () => ({ item: 'latte' })) } });
  assert.equal(r.status, 202);
  await new Promise((res) => setTimeout(res, U)); // the first latte holds the loop now
  const { r: h, ms } = await timed(() => request(`${srv.url}/healthz`));
  assert.equal(h.status, 200);
  assert.ok(ms < 2 * 5 * U, `healthz took ${ms.toFixed(0)} ms: it waited for more than the latte in hand (${5 * U} ms each)`);
  await new Promise((res) => setTimeout(res, 4 * 5 * U)); // the rest brew before the next test times anything
});
