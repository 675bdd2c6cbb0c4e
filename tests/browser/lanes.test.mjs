// The loop timeline's lanes (static/js/lanes.js), drawn from the JSON of
// docs/timeline.md. A RENDERING test: the page is fed synthetic batches
// through window.cafe.lanes.feed -- the entry point the page's "timeline"
// event handler calls -- by a server whose own timeline is off, so nothing
// real mixes in (tests/browser/lanes_live.test.mjs draws the real thing). It
// claims nothing about what the server records; it checks that what the page
// is given is drawn where, how wide and in which colour it should be (read
// back from the canvas's pixels), named on hover, scrollable over the last
// minute, and readable at 1280 and 390 px.
//
// Deterministic on a loaded machine: the page's clock is Playwright's fake
// one, paused once the page is live, so "now" -- where the view ends and
// what the batches are built around -- moves only when the test says so
// (page.clock.runFor), however slowly the steps run. (Before, a slow run
// let blocks drift out of the 10 s window, and a pixel probe could land on
// the seam between two busy bars: both seen under `ctest -j2 -L browser`.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { launchBrowser, openDashboard } from './browser.mjs';

const context = await launchBrowser();
let srv;
before(async () => { srv = await startServer(['--time-scale', '0.05', '--baristas', '2', '--no-timeline']); });
after(async () => {
  if (srv) await srv.stop();
  await context.closeAll();
});

const RGB = { sync: [192, 57, 43], async: [36, 113, 163], thread: [30, 132, 73] };

// A batch as the server would send it: blocks given as [lane, start ms
// before now, duration ms, tag, label, id], ending now (the page's clock).
function batch(now, blocks, { busy = [], slowMs = 100 } = {}) {
  const t0 = now - 60000;
  const lanes = new Map();
  const lane = (n) => {
    if (!lanes.has(n)) lanes.set(n, { lane: n, name: n ? `barista ${n}` : 'loop', skipped: 0, dropped: 0, blocks: [], busy_from_us: 0, busy_us: [] });
    return lanes.get(n);
  };
  lane(0);
  for (const [n, ago, dur, tag, label, id] of blocks)
    lane(n).blocks.push({ start_us: (60000 - ago) * 1000, dur_us: dur * 1000, tag, label, ...(id ? { id } : {}) });
  // busy: [ms before now, fraction] per 100 ms bucket of the loop
  for (const [ago, f] of busy) {
    const l = lane(0);
    const at = (60000 - ago) * 1000;
    if (!l.busy_us.length) l.busy_from_us = at;
    l.busy_us[Math.round((at - l.busy_from_us) / 100000)] = Math.round(f * 100000);
  }
  for (const l of lanes.values()) l.busy_us = Array.from(l.busy_us, (v) => v || 0);
  return { t0_ms: t0, from_us: 0, to_us: 60000000, threshold_us: 1000, slow_us: slowMs * 1000, bucket_us: 100000, lanes: [...lanes.values()] };
}

// A live dashboard whose clock stands still from now on (see above).
async function open(viewport = { width: 1280, height: 1000 }) {
  const { page, problems } = await openDashboard(context, srv.url, { viewport });
  await page.clock.install();
  await page.clock.pauseAt(await page.evaluate(() => Date.now()) + 1000);
  await page.locator('#lanes-canvas').scrollIntoViewIfNeeded();
  page.now = await page.evaluate(() => Date.now());
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await page.evaluate(() => performance.now() && Date.now()), page.now, 'the page\'s clock stands still');
  return { page, problems };
}

const feed = (page, b) => page.evaluate((x) => window.cafe.lanes.feed(x), b);
// Lets the page's clock run on by ms (its timers fire), then redraws.
const wait = async (page, ms) => {
  await page.clock.runFor(ms);
  page.now += ms;
  await page.evaluate(() => window.cafe.lanes.layout());
};
// Pauses the view (its Pause button), so that what is read back -- boxes,
// then pixels -- is one drawing, not two a tick of "now" apart.
const pause = async (page) => {
  await page.click('#lanes-pause');
  await page.waitForFunction(() => window.cafe.lanes.span.paused);
};
const drawn = (page) => page.evaluate(() => ({ boxes: window.cafe.lanes.boxes, span: window.cafe.lanes.span, ticks: window.cafe.lanes.ticks, k: window.cafe.lanes.pxPerMs() }));
// The canvas's colour at CSS pixel (x, y).
const pixel = (page, x, y) => page.evaluate(([px, py]) => {
  const c = document.getElementById('lanes-canvas');
  const dpr = c.width / c.clientWidth;
  return [...c.getContext('2d').getImageData(Math.round(px * dpr), Math.round(py * dpr), 1, 1).data].slice(0, 3);
}, [x, y]);
const near = (a, b, tol = 12) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

test('before any batch, the lanes say the server sends none yet; the time axis is there', async () => {
  const { page, problems } = await open();
  await page.waitForFunction(() => window.cafe.stats.length >= 1 && Object.keys(window.cafe.lanes.model()).length === 3);
  assert.deepEqual(Object.values(await page.evaluate(() => window.cafe.lanes.model())).map((l) => l.name), ['loop', 'barista 1', 'barista 2']);
  assert.match(await page.textContent('#lanes-status'), /has not sent a loop timeline yet/);
  const d = await drawn(page);
  assert.equal(d.boxes.length, 0);
  assert.ok(d.ticks.length >= 4, `ticks ${d.ticks}`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a sync rush: one solid block per order on the loop, coloured sync, hatched past the slow threshold, named on hover', async () => {
  const { page, problems } = await open();
  const blocks = [1, 2, 3, 4].map((i) => [0, 8000 - i * 1500, 1000, 'sync', `POST /sync/order #${i} make_coffee`, i]);
  await feed(page, batch(page.now, blocks, { busy: Array.from({ length: 10 }, (_, i) => [6500 - i * 100, 1]) }));
  await pause(page);
  const d = await drawn(page);
  const loop = d.boxes.filter((b) => b.lane === 0);
  assert.equal(loop.length, 4);
  for (const b of loop) {
    assert.equal(b.tag, 'sync');
    assert.ok(Math.abs(b.w - 1000 * d.k) <= 2, `a 1 s block is ${b.w} px, expected ${1000 * d.k}`);
    // the block is there in its colour (top left), and hatched past 100 ms (bottom right)
    assert.ok(near(await pixel(page, b.x + 3, b.y + 3), RGB.sync), `block colour ${await pixel(page, b.x + 3, b.y + 3)}`);
    assert.ok(near(await pixel(page, b.x + 3, b.y + b.h - 3), RGB.sync), 'not hatched before the threshold');
    const band = [];
    for (let x = b.x + b.w - 30; x < b.x + b.w - 4; x += 3) band.push(await pixel(page, x, b.y + b.h - 4));
    assert.ok(band.every((p) => !near(p, RGB.sync)), `hatched after the threshold: ${JSON.stringify(band)}`);
  }
  // the busy strip under the loop (top = lane top + 30 + 2, 16 px high):
  // the second given as 100 % busy (under order #1) is filled, the rest not
  const b1 = loop.find((b) => b.id === 1);
  const b4 = loop.find((b) => b.id === 4);
  const stripY = b1.y - 2 + 30 + 2 + 8;
  const busyPx = await pixel(page, b1.x + b1.w / 2, stripY);
  assert.ok(near(busyPx, [164, 115, 73], 20), `busy strip under order #1: ${busyPx}`);
  const idlePx = await pixel(page, b4.x + b4.w / 2, stripY);
  assert.ok(near(idlePx, [241, 235, 227], 4), `busy strip under order #4: ${idlePx}`);
  // hover names the block
  const canvas = await page.locator('#lanes-canvas').boundingBox();
  const b2 = loop.find((b) => b.id === 2);
  await page.mouse.move(canvas.x + b2.x + b2.w / 2, canvas.y + b2.y + b2.h / 2);
  await page.waitForSelector('#lanes-tip:not([hidden])');
  assert.match(await page.textContent('#lanes-tip'), /^POST \/sync\/order #2 make_coffee — 1\.00 s at \d\d:\d\d:\d\d\.\d{3} \(sync\)$/);
  await page.mouse.move(canvas.x + 2, canvas.y + 2);
  await page.waitForSelector('#lanes-tip', { state: 'hidden' });
  assert.match(await page.getAttribute('#lanes-canvas', 'aria-label'), /4 blocks on the loop, the longest POST \/sync\/order #\d make_coffee \(1\.00 s\)/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('an async rush: thin slivers on a mostly idle loop; a thread rush: the barista lanes fill', async () => {
  const { page, problems } = await open();
  const slivers = Array.from({ length: 40 }, (_, i) => [0, 9000 - i * 200, 2, 'async', `async hands-on #${100 + i} brew`, 100 + i]);
  const hands = [[1, 5000, 2000, 'thread', 'thread hands-on #200 peel_avocado', 200], [2, 4800, 2000, 'thread', 'thread hands-on #201 peel_avocado', 201]];
  await feed(page, batch(page.now, [...slivers, ...hands]));
  await pause(page);
  const d = await drawn(page);
  const loop = d.boxes.filter((b) => b.lane === 0);
  assert.equal(loop.length, 40);
  assert.ok(loop.every((b) => b.w >= 1 && b.w < 4), `slivers: ${loop.map((b) => b.w.toFixed(1))}`);
  const busyShare = loop.reduce((n, b) => n + b.w, 0) / (d.span.to - d.span.from) / d.k;
  assert.ok(busyShare < 0.05, `the loop drawn busy ${(100 * busyShare).toFixed(1)} % of the window`);
  for (const n of [1, 2]) {
    const [b] = d.boxes.filter((x) => x.lane === n);
    assert.ok(b && Math.abs(b.w - 2000 * d.k) <= 2, `barista ${n}: ${JSON.stringify(b)}`);
    assert.ok(near(await pixel(page, b.x + 3, b.y + 3), RGB.thread), `barista ${n} colour`);
  }
  // a sliver is drawn in its colour too
  const sliver = await pixel(page, loop[5].x, loop[5].y + 3);
  assert.ok(near(sliver, RGB.async), `sliver colour ${sliver}`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('scrolling back over the minute shows older blocks; "Back to now" follows again; the window sets the scale', async () => {
  const { page, problems } = await open();
  await feed(page, batch(page.now, [[0, 30000, 300, 'sync', 'POST /sync/order #7 make_coffee', 7], [0, 3000, 300, 'async', 'async hands-on #8 peel_avocado', 8]]));
  const ids = async () => (await drawn(page)).boxes.map((b) => b.id ?? 0).sort();
  assert.deepEqual(await ids(), [8], 'a 10 s window at now');
  // scroll the view's right edge back to 25 s ago: the 10 s window holds #7 (30 s ago)
  await page.evaluate(() => {
    const l = window.cafe.lanes;
    document.getElementById('lanes-scroll').scrollLeft = l.maxScroll() - 25000 * l.pxPerMs();
  });
  await page.waitForFunction(() => window.cafe.lanes.span.follow === false);
  const back = await drawn(page);
  const ago = (page.now - back.span.to) / 1000;
  assert.ok(ago > 24 && ago < 27, `scrolled back to ${ago} s ago`);
  assert.deepEqual(await ids(), [7]);
  // the view stays on that moment while now moves on (the track scrolls under it)
  await wait(page, 1200);
  const later = await drawn(page);
  assert.ok(Math.abs(later.span.to - back.span.to) < 1, `the view drifted by ${later.span.to - back.span.to} ms`);
  // nor does a new batch yank it back to now
  await feed(page, batch(page.now, [[0, 1000, 5, null, 'SSE flush']]));
  assert.deepEqual(await ids(), [7]);
  // at the far left the view is the oldest 10 s of the minute
  await page.evaluate(() => { document.getElementById('lanes-scroll').scrollLeft = 0; });
  await page.waitForFunction(() => Date.now() - window.cafe.lanes.span.to > 49000);
  await page.click('#lanes-now');
  await page.waitForFunction(() => window.cafe.lanes.span.follow === true);
  assert.deepEqual(await ids(), [0, 8]); // #8 and the SSE flush, no id
  await page.check('input[name=lanes-window][value="60"]');
  const wide = await drawn(page);
  assert.deepEqual(wide.boxes.map((b) => b.id ?? 0).sort(), [0, 7, 8]);
  assert.ok(wide.span.to - wide.span.from === 60000 && wide.ticks.length >= 5, `60 s window, ticks ${wide.ticks}`);
  // the same block in two answers (a GET /timeline overlapping a batch, each
  // with its own t0) is drawn once
  const one = batch(page.now, [[0, 2000, 300, 'async', 'async hands-on #9 brew', 9]]);
  const two = structuredClone(one);
  two.t0_ms += 1234;
  two.lanes[0].blocks[0].start_us -= 1234000;
  await feed(page, one);
  await feed(page, two);
  assert.equal((await drawn(page)).boxes.filter((b) => b.id === 9).length, 1);
  assert.deepEqual(problems, []);
  await page.close();
});

test('at 390 px the lanes fit the phone, keep their time axis and their blocks', async () => {
  const { page, problems } = await open({ width: 390, height: 844 });
  await feed(page, batch(page.now, [[0, 4000, 1000, 'sync', 'POST /sync/order #1 make_coffee', 1], [1, 3000, 500, 'thread', 'thread hands-on #2 brew', 2]]));
  await pause(page);
  const d = await drawn(page);
  assert.equal(d.boxes.length, 2);
  const box = await page.locator('#lanes-scroll').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `lanes at [${box.x}, ${box.x + box.width}]`);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390);
  assert.ok(d.ticks.length >= 3, `ticks ${d.ticks}`);
  for (const b of d.boxes) assert.ok(b.x >= 78 && b.x + b.w <= box.width, `block inside the plot: ${b.x}..${b.x + b.w}`);
  // a tap names a block
  const canvas = await page.locator('#lanes-canvas').boundingBox();
  await page.mouse.click(canvas.x + d.boxes[0].x + 5, canvas.y + d.boxes[0].y + 5);
  await page.waitForSelector('#lanes-tip:not([hidden])');
  const tip = await page.locator('#lanes-tip').boundingBox();
  assert.ok(tip.x >= 0 && tip.x + tip.width <= 390, `tooltip at [${tip.x}, ${tip.x + tip.width}]`);
  assert.deepEqual(problems, []);
  await page.close();
});
