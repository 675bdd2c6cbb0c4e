// The page fits a phone (#10 item 6): at 390 px nothing overflows sideways
// -- with a full board, a long unbroken customer name, a result table and a
// timeline tooltip on it -- and every chart's box stays inside the viewport;
// at 1280 px the same. Every chart shows axis values, the latency chart too
// while it has no data (what would turn this red: the value scales without
// a range for empty data, so uPlot draws no ticks; the order card without
// overflow-wrap, so a long name pushes the page sideways).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request } from '../lib/server.mjs';
import { launchBrowser, openDashboard } from './browser.mjs';

const context = await launchBrowser();
let srv;
before(async () => { srv = await startServer(['--time-scale', '0.05']); });
after(async () => {
  if (srv) await srv.stop();
  await context.closeAll();
});

const CHARTS = ['#chart-throughput', '#chart-latency', '#chart-lag', '#lanes-scroll'];

// Everything wider than the viewport, except what scrolls inside the
// timeline's own horizontal scroller (its track is a minute wide by design).
const overflowing = (page) => page.evaluate(() => {
  const out = [];
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > innerWidth + 0.5 && !e.closest('.lanes-scroll'))
      out.push(`${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className} [${r.left.toFixed(0)}, ${r.right.toFixed(0)}]`);
  }
  return { scrollWidth: document.documentElement.scrollWidth, out: out.slice(0, 10) };
});

const boxes = (page) => page.evaluate((sels) => sels.map((s) => {
  const e = document.querySelector(s);
  const r = e.getBoundingClientRect();
  const canvas = e.querySelector('canvas');
  const c = canvas ? canvas.getBoundingClientRect() : r;
  return { s, left: Math.min(r.left, c.left), right: Math.max(r.right, c.right), width: r.width };
}), CHARTS);

// A batch of docs/timeline.md's shape: one sync block, ending now.
const timelineBatch = () => {
  const t0 = Date.now() - 2000;
  return {
    t0_ms: t0, from_us: 0, to_us: 2000000, threshold_us: 1000, slow_us: 100000, bucket_us: 100000,
    lanes: [{ lane: 0, name: 'loop', skipped: 0, dropped: 0, busy_from_us: 0, busy_us: [],
      blocks: [{ start_us: 500000, dur_us: 900000, tag: 'sync', label: 'POST /sync/order #1 make_coffee with a rather long label', id: 1 }] }],
  };
};

test('at 390 px and at 1280 px nothing overflows sideways, with the page full', async () => {
  const long = 'Bartholomew'.repeat(8); // 88 bytes, no break opportunity
  for (let i = 0; i < 3; i++) {
    const r = await request(`${srv.url}/async/order?wait=0`, { method: 'POST', body: { item: 'lunch', customer: long, flavour: 'pistachio' } });
    assert.equal(r.status, 202);
  }
  for (const viewport of [{ width: 390, height: 844 }, { width: 1280, height: 1000 }]) {
    const { page, problems } = await openDashboard(context, srv.url, { viewport });
    await page.waitForSelector('.order', { timeout: 5000 });
    await page.waitForFunction(() => window.cafe.experiments.menu !== null);
    await page.click('#lesson-cancel button.run'); // a result table, the widest thing a card holds
    await page.waitForSelector('#lesson-cancel table', { timeout: 10000 });
    await page.evaluate((b) => window.cafe.lanes.feed(b), timelineBatch());
    await page.locator('#lanes-canvas').scrollIntoViewIfNeeded();
    const box = (await page.evaluate(() => window.cafe.lanes.boxes)).find((b) => b.lane === 0);
    const canvas = await page.locator('#lanes-canvas').boundingBox();
    await page.mouse.move(canvas.x + box.x + box.w - 2, canvas.y + box.y + 2); // the tooltip at the right edge
    await page.waitForSelector('#lanes-tip:not([hidden])');

    const o = await overflowing(page);
    assert.ok(o.scrollWidth <= viewport.width, `scrollWidth ${o.scrollWidth} at ${viewport.width} px: ${o.out.join('; ')}`);
    assert.deepEqual(o.out, [], `wider than ${viewport.width} px`);
    for (const b of await boxes(page)) {
      assert.ok(b.left >= 0 && b.right <= viewport.width + 0.5, `${b.s} spans [${b.left}, ${b.right}] at ${viewport.width} px`);
      assert.ok(b.width >= Math.min(300, viewport.width - 100), `${b.s} is only ${b.width} px wide`);
    }
    assert.deepEqual(problems, []);
    await page.close();
  }
});

test('every chart shows axis values, the latency chart while it is still empty', async () => {
  const fresh = await startServer(['--time-scale', '0.05']);
  try {
    for (const viewport of [{ width: 390, height: 844 }, { width: 1280, height: 1000 }]) {
      const { page, problems } = await openDashboard(context, fresh.url, { viewport });
      await page.waitForFunction(() => window.cafe.stats.length >= 1 && document.querySelector('#chart-latency canvas'), null, { timeout: 5000 });
      const state = await page.evaluate(() => ({
        axes: window.cafe.axes,
        latency: Object.values(window.cafe.series.latency_p95).flat(),
        ticks: window.cafe.lanes.ticks,
      }));
      assert.ok(state.latency.length > 0 && state.latency.every((v) => v === null), 'the latency chart has no data yet');
      for (const id of ['chart-throughput', 'chart-latency', 'chart-lag']) {
        const a = state.axes[id];
        assert.ok(a.x.length >= 2 && a.x.every((s) => /^\d\d:\d\d:\d\d$/.test(s)), `${id} x axis at ${viewport.width} px: ${a.x}`);
        assert.ok(a.y.length >= 2 && a.y.every((s) => /^\d+(\.\d+)?$/.test(s)), `${id} y axis at ${viewport.width} px: ${a.y}`);
      }
      assert.ok(state.axes['chart-lag'].n.length >= 2, 'the lag chart\'s in-flight axis');
      assert.ok(state.ticks.length >= 2 && state.ticks.every((s) => /^\d\d:\d\d$/.test(s)), `timeline ticks ${state.ticks}`);
      assert.deepEqual(problems, []);
      await page.close();
    }
  } finally {
    await fresh.stop();
  }
});
