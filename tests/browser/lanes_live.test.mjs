// The lanes drawn from the real server's loop timeline (docs/timeline.md),
// in Chromium: a sync rush, an async rush and a thread rush placed from the
// dashboard's own controls, and what the page then holds and draws -- read
// back from window.cafe.lanes (its blocks, the boxes and busy bars of the
// last drawing) -- differs as the lesson says:
//   sync    one solid block per order on the loop (back to back, each as long
//           as the brew), the loop busy all along;
//   async   thin slivers at most, the loop mostly idle;
//   thread  the loop idle while the barista lanes fill.
// The order card of an async order caught behind a sync one says why it was
// late. No console errors. With CAFE_UPDATE_SCREENSHOT=1 it writes
// docs/dashboard.png (the README's picture): a thread rush, then async
// lattes caught by a sync rush, on the lanes and on the cards.
//
// Breakages this catches: the page not fed from the "timeline" events (no
// blocks), sync steps not recorded (no solid blocks), barista work drawn on
// the loop's lane or not at all, the busy strip not drawn from busy_us, and
// the card not showing the order's `late` sentence.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, request, SOURCE_DIR } from '../lib/server.mjs';
import { launchBrowser, openDashboard } from './browser.mjs';

const SCALE = 0.1;
const U = 1000 * SCALE; // ms per recipe second

const context = await launchBrowser();
let srv;
before(async () => { srv = await startServer(['--time-scale', String(SCALE), '--baristas', '2']); });
after(async () => {
  if (srv) await srv.stop();
  await context.closeAll();
});

// A rush from the page's controls: n customers, one POST /orders batch.
async function rush(page, mode, item, n) {
  await page.check(`input[name=mode][value=${mode}]`);
  await page.selectOption('#item', item);
  await page.fill('#rush-n', String(n));
  const before = await page.evaluate(() => window.cafe.rushes.length);
  const t0 = Date.now();
  await page.click('#place-rush');
  await page.waitForFunction((k) => window.cafe.rushes.length > k, before, { timeout: 30000 });
  const r = await page.evaluate(() => window.cafe.rushes.at(-1));
  assert.equal(r.status, 200, `${mode} rush`);
  const ids = (await request(`${srv.url}/orders?limit=${n}`)).json.orders.map((o) => o.id).sort((a, b) => a - b);
  return { ids, from: t0, to: Date.now() };
}

// The blocks the page holds for lane n, and its busy buckets [t, fraction].
const held = (page, n) => page.evaluate((k) => {
  const l = window.cafe.lanes.lanes.get(k);
  return l ? { blocks: [...l.blocks.values()], busy: [...l.busy.entries()] } : { blocks: [], busy: [] };
}, n);
// Waits until the page holds a block of each of ids on one of lanes.
const waitBlocks = (page, lanes, ids) => page.waitForFunction(([ls, want]) => {
  const have = new Set(ls.flatMap((n) => [...(window.cafe.lanes.lanes.get(n)?.blocks.values() ?? [])].map((b) => b.id)));
  return want.every((id) => have.has(id));
}, [lanes, ids], { timeout: 10000 });
// The loop's busy share over [from, to] (server ms), from the buckets the page holds.
const busyShare = (busy, from, to) => {
  const inside = busy.filter(([t]) => t >= from && t + 100 <= to);
  return inside.length ? inside.reduce((s, [, f]) => s + f, 0) / inside.length : NaN;
};

test('sync, async and thread rushes draw as the lesson says; the card says why an order was late', async () => {
  const { page, problems } = await openDashboard(context, srv.url);
  await page.waitForFunction(() => document.querySelectorAll('#item option').length > 3);
  await page.waitForFunction(() => window.cafe.lanes.batches >= 1, null, { timeout: 5000 });

  // sync: 4 lattes, 500 ms each on the loop, one after another
  const sync = await rush(page, 'sync', 'latte', 4);
  await waitBlocks(page, [0], sync.ids);
  let loop = await held(page, 0);
  const solid = loop.blocks.filter((b) => sync.ids.includes(b.id)).sort((a, b) => a.start - b.start);
  assert.deepEqual(solid.map((b) => b.label), sync.ids.map((id) => `sync brew #${id} make_coffee`));
  for (const [i, b] of solid.entries()) {
    assert.equal(b.tag, 'sync');
    assert.ok(Math.abs(b.dur - 5 * U) <= 0.1 * 5 * U, `${b.label}: ${b.dur} ms`);
    if (i) assert.ok(b.start - (solid[i - 1].start + solid[i - 1].dur) < 50, 'back to back: one solid run');
  }
  const syncSpan = [solid[0].start, solid.at(-1).start + solid.at(-1).dur];

  // async: 20 lattes at once; their waits are timers, the loop only answers
  const asyncRush = await rush(page, 'async', 'latte', 20);
  // thread: 4 lunches; the avocados (200 ms) go to the two baristas
  const thread = await rush(page, 'thread', 'lunch', 4);
  await waitBlocks(page, [1, 2], thread.ids);
  // what the page drew: the view at now holds all three rushes (30 s window)
  await page.check('input[name=lanes-window][value="30"]');
  // (the busy buckets of the whole run have arrived: one batch a second)
  await page.waitForFunction((t) => window.cafe.lanes.busyBars.length > 0 &&
    Math.max(...window.cafe.lanes.lanes.get(0).busy.keys()) >= t, thread.to, { timeout: 10000 });
  await page.click('#lanes-pause');
  const drawn = await page.evaluate(() => ({ boxes: window.cafe.lanes.boxes, bars: window.cafe.lanes.busyBars, k: window.cafe.lanes.pxPerMs() }));
  loop = await held(page, 0);

  // sync: drawn as one solid run of red on the loop lane, busy all along
  const syncBoxes = drawn.boxes.filter((b) => b.lane === 0 && sync.ids.includes(b.id)).sort((a, b) => a.x - b.x);
  assert.equal(syncBoxes.length, 4);
  for (let i = 1; i < 4; i++) assert.ok(syncBoxes[i].x - (syncBoxes[i - 1].x + syncBoxes[i - 1].w) <= 2, 'no gap between the blocks');
  assert.ok(busyShare(loop.busy, syncSpan[0] + 100, syncSpan[1] - 100) > 0.9, 'the loop busy under the sync rush');

  // async: nothing of theirs held the loop for a brew's length; the loop
  // mostly idle. (Bounds with room: a section is wall time, and a loaded
  // machine may preempt the loop inside one.)
  const asyncLong = loop.blocks.filter((b) => asyncRush.ids.includes(b.id) && b.dur > U);
  assert.deepEqual(asyncLong, [], 'no async latte held the loop');
  const asyncBusy = busyShare(loop.busy, asyncRush.from, asyncRush.to);
  assert.ok(!(asyncBusy > 0.5), `the loop ${(100 * asyncBusy).toFixed(0)} % busy in the async rush`);

  // thread: the baristas' lanes hold the avocados, the loop stays idle
  const hands = [...(await held(page, 1)).blocks, ...(await held(page, 2)).blocks].filter((b) => thread.ids.includes(b.id));
  assert.deepEqual(hands.map((b) => b.id).sort((a, b) => a - b), thread.ids);
  for (const b of hands) {
    assert.equal(b.label, `thread hands-on #${b.id} peel_avocado`);
    assert.ok(Math.abs(b.dur - 2 * U) <= 0.1 * 2 * U, `${b.label}: ${b.dur} ms`);
  }
  assert.ok(drawn.boxes.some((b) => b.lane === 1 && thread.ids.includes(b.id)) &&
    drawn.boxes.some((b) => b.lane === 2 && thread.ids.includes(b.id)), 'both barista lanes drawn');
  assert.deepEqual(loop.blocks.filter((b) => thread.ids.includes(b.id) && b.dur > U), [], 'no thread order held the loop');
  const threadBusy = busyShare(loop.busy, thread.from, thread.to);
  assert.ok(!(threadBusy > 0.5), `the loop ${(100 * threadBusy).toFixed(0)} % busy in the thread rush`);
  // the busy strip as drawn: full under the sync rush, low elsewhere
  const syncBars = drawn.bars.filter((b) => b.x >= syncBoxes[0].x + 12 && b.x + b.w <= syncBoxes.at(-1).x + syncBoxes.at(-1).w - 12);
  assert.ok(syncBars.length >= 3 && syncBars.every((b) => b.f > 0.9), `busy bars under the sync blocks: ${JSON.stringify(syncBars)}`);

  // an async latte caught behind a sync one: its card says why it was late
  await page.click('#lanes-pause'); // resume
  const late = await page.evaluate(async () => {
    const post = (p, item) => fetch(p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ item }) }).then((r) => r.json());
    const a = await post('/async/order?wait=0', 'latte');
    const s = await post('/sync/order?wait=0&time_scale=0.2', 'latte'); // 1 s on the loop
    return { a: a.id, s: s.id };
  });
  const card = page.locator(`.order[data-id="${late.a}"]`);
  await card.locator('.late-note').waitFor({ timeout: 10000 });
  assert.match(await card.locator('.late-note').textContent(),
    new RegExp(`^make_coffee finished (\\d+ ms|\\d+\\.\\d s) late: the loop was running sync brew #${late.s} make_coffee$`));
  assert.equal(await card.locator('.timeline .late.loop').count(), 1, 'the held-up time drawn on its step');
  await page.waitForSelector(`.order[data-id="${late.s}"][data-status=ready]`, { timeout: 10000 });

  // the README's picture: a thread rush, then async lattes caught by a sync
  // rush, on a 10 s window -- the three lanes' stories side by side, and
  // cards saying why they were late
  await page.check('input[name=lanes-window][value="10"]');
  await page.click('#lanes-now');
  await rush(page, 'thread', 'lunch', 4);
  await page.evaluate(() => fetch('/orders?wait=0', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ mode: 'async', orders: Array.from({ length: 6 }, () => ({ item: 'latte' })) }),
  }));
  const last = await rush(page, 'sync', 'latte', 3);
  await waitBlocks(page, [0], last.ids);
  await page.waitForSelector('#col-ready .order[data-mode=async] .late-note', { timeout: 10000 });
  await page.locator('#timeline').scrollIntoViewIfNeeded();
  const shot = process.env.CAFE_UPDATE_SCREENSHOT
    ? path.join(SOURCE_DIR, 'docs/dashboard.png')
    : path.join(os.tmpdir(), `cafe-lanes-${process.pid}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(fs.statSync(shot).size > 10000, 'a real screenshot was taken');
  if (!process.env.CAFE_UPDATE_SCREENSHOT) fs.rmSync(shot);
  assert.deepEqual(problems, []);
  await page.close();
});

test('at 390 px the live lanes fit the phone and still show a sync rush\'s blocks', async () => {
  const { page, problems } = await openDashboard(context, srv.url, { viewport: { width: 390, height: 844 } });
  await page.waitForFunction(() => document.querySelectorAll('#item option').length > 3);
  const sync = await rush(page, 'sync', 'latte', 2);
  await waitBlocks(page, [0], sync.ids);
  await page.locator('#timeline').scrollIntoViewIfNeeded();
  await page.click('#lanes-pause');
  const boxes = await page.evaluate(() => window.cafe.lanes.boxes);
  const mine = boxes.filter((b) => b.lane === 0 && sync.ids.includes(b.id));
  assert.equal(mine.length, 2);
  const box = await page.locator('#lanes-scroll').boundingBox();
  for (const b of mine) assert.ok(b.x >= 78 && b.x + b.w <= box.width, `block inside the plot: ${b.x}..${b.x + b.w}`);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390, 'no sideways overflow');
  assert.deepEqual(problems, []);
  await page.close();
});
