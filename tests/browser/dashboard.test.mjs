// The dashboard in Debian's headless Chromium, driven by playwright-core:
// it loads cleanly, shows an order brewing then ready, a rush shows up in the
// throughput and latency charts, a sync rush spikes the lag chart while a
// thread rush does not (asserted on the data the page plots,
// window.cafe.series, not on pixels), and the stream reconnects by itself
// after a server restart. Writes docs/dashboard.png during a rush.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../lib/server.mjs';
import { skipFile } from '../lib/skip.mjs';

const CHROMIUM = '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) skipFile('no /usr/bin/chromium (scripts/setup.sh test installs it)');
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  skipFile('playwright-core is not installed (scripts/setup-web.sh runs npm ci)');
}
let browser; // a persistent context on a fresh --user-data-dir
let userDir;

before(async () => {
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cafe-chromium-'));
  // playwright passes the fresh profile as --user-data-dir itself
  browser = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
});

// A page on the dashboard that records console errors and failed requests.
async function openDashboard(url, viewport = { width: 1280, height: 1000 }) {
  const page = await browser.newPage();
  await page.setViewportSize(viewport);
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (!r.url().endsWith('/events')) problems.push(`request failed: ${r.url()}`);
  });
  await page.goto(url + '/');
  await page.waitForFunction(() => window.cafe && window.cafe.conn === 'live', null, { timeout: 10000 });
  return { page, problems };
}

async function chooseMode(page, mode) {
  await page.check(`input[name=mode][value=${mode}]`);
}

test('the dashboard loads with no console errors, at desktop and phone width', async () => {
  const srv = await startServer(['--time-scale', '0.2']);
  try {
    for (const viewport of [{ width: 1280, height: 1000 }, { width: 390, height: 844 }]) {
      const { page, problems } = await openDashboard(srv.url, viewport);
      await page.waitForFunction(() => document.querySelectorAll('#item option').length > 3);
      await page.waitForFunction(() => window.cafe.stats.length >= 1, null, { timeout: 5000 });
      // charts were drawn by uPlot from /vendor (no CDN)
      assert.ok(await page.locator('#chart-lag canvas').count() >= 1, 'uPlot canvas');
      // nothing overflows sideways on a phone
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `horizontal overflow ${overflow}px at ${viewport.width}px`);
      // keyboard: the controls are reachable with Tab
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
      assert.ok(focused, 'Tab moves focus into the page');
      assert.deepEqual(problems, []);
      await page.close();
    }
  } finally {
    await srv.stop();
  }
});

test('placing an order shows it brewing, then ready, with its step timeline', async () => {
  const srv = await startServer(['--time-scale', '0.3']); // pourover: 1.2 s
  try {
    const { page, problems } = await openDashboard(srv.url);
    await page.waitForFunction(() => document.querySelectorAll('#item option').length > 3);
    await page.selectOption('#item', 'pourover');
    await page.fill('#customer', 'Ana');
    await chooseMode(page, 'thread');
    await page.focus('#place-one');
    await page.keyboard.press('Enter'); // keyboard-operable
    await page.waitForSelector('#col-brewing .order[data-status=brewing]', { timeout: 5000 });
    const brewing = page.locator('#col-brewing .order').first();
    assert.match(await brewing.textContent(), /pourover/);
    assert.equal(await brewing.locator('.replica').textContent(), `at 127.0.0.1:${srv.port}`, 'the replica that brews it');
    assert.equal(await brewing.locator('.timeline li').count(), 3);
    await page.waitForSelector('#col-ready .order[data-status=ready]', { timeout: 5000 });
    assert.match(await page.locator('#col-ready .order').first().textContent(), /ready, enjoy/);
    await page.waitForFunction(() => /Serving 1 customer took \d+\.\d\d seconds/.test(document.getElementById('result').textContent));
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await srv.stop();
  }
});

// The largest lag the page plotted after index `from` of its series.
const maxLagSince = (page, from) =>
  page.evaluate((i) => Math.max(0, ...window.cafe.series.lag_max.slice(i)), from);
const seriesLength = (page) => page.evaluate(() => window.cafe.stats.length);

async function rush(page, mode, n) {
  await chooseMode(page, mode);
  await page.fill('#rush-n', String(n));
  const before = await page.evaluate(() => window.cafe.rushes.length);
  await page.click('#place-rush');
  await page.waitForFunction((k) => window.cafe.rushes.length > k, before, { timeout: 30000 });
  return page.evaluate(() => window.cafe.rushes.at(-1));
}

test('a sync rush spikes the lag chart; a thread rush does not', async () => {
  const srv = await startServer(['--time-scale', '0.1']); // drip: 0.6 s sync, 0.4 s thread
  try {
    const { page, problems } = await openDashboard(srv.url);
    await page.waitForFunction(() => document.querySelectorAll('#item option').length > 3);
    await page.selectOption('#item', 'drip');
    await page.waitForFunction(() => window.cafe.stats.length >= 1, null, { timeout: 5000 });

    let from = await seriesLength(page);
    const thread = await rush(page, 'thread', 6);
    assert.equal(thread.status, 200);
    await page.waitForFunction((k) => window.cafe.stats.length >= k + 2, from, { timeout: 5000 });
    const threadLag = await maxLagSince(page, from);
    // the throughput and latency charts plotted the rush: 6 drips of 0.4 s
    const finished = (i) => window.cafe.stats.slice(i).reduce((n, st) => n + st.modes.thread.finished, 0);
    await page.waitForFunction(`(${finished})(${from}) >= 6`, null, { timeout: 5000 });
    const plotted = await page.evaluate((i) => ({
      throughput: Math.max(0, ...window.cafe.series.throughput.thread.slice(i)),
      p95: window.cafe.series.latency_p95.thread.slice(i).filter((v) => v != null),
    }), from);
    assert.ok(plotted.throughput > 0, `thread throughput ${plotted.throughput}/s`);
    assert.ok(plotted.p95.length >= 1 && plotted.p95.every((v) => v >= 350 && v < 2000),
      `thread p95 latency ${plotted.p95} ms`);

    from = await seriesLength(page);
    const sync = rush(page, 'sync', 6); // 6 × 0.6 s, each blocking the loop
    await page.waitForFunction((k) => window.cafe.series.lag_max.slice(k).some((v) => v > 300), from, { timeout: 15000 });
    // The page renders under a sync rush (the README's picture is taken by
    // lanes_live.test.mjs, with CAFE_UPDATE_SCREENSHOT=1).
    const shot = path.join(os.tmpdir(), `cafe-dashboard-${process.pid}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(fs.statSync(shot).size > 10000, 'a real screenshot was taken');
    fs.rmSync(shot);
    const done = await sync;
    assert.equal(done.status, 200);
    const syncLag = await maxLagSince(page, from);

    assert.ok(threadLag < 100, `thread rush lag ${threadLag} ms`);
    assert.ok(syncLag > 300, `sync rush lag ${syncLag} ms`);
    // the sync rush takes about the sum of its brews, the thread rush about one
    assert.ok(done.seconds > 6 * 0.6 * 0.9, `sync rush took ${done.seconds}`);
    assert.ok(thread.seconds < 6 * 0.4, `thread rush took ${thread.seconds}`);
    assert.match(await page.textContent('#result'), /Serving 6 customers took \d+\.\d\d seconds \(sync\)/);
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await srv.stop();
  }
});

test('on an idle café the status stays "Live" for longer than the idle keep-alive timeout', async () => {
  // The event stream must outlive --idle-timeout-ms (1.5 s here): stats flow
  // every second and streams are exempt. Breakage caught (the server as it
  // was): the stream cut at the idle timeout, the page showing
  // "Reconnecting..." about 2 s out of every 7, forever.
  const srv = await startServer(['--idle-timeout-ms', '1500']);
  try {
    const { page, problems } = await openDashboard(srv.url);
    const opens = await page.evaluate(() => window.cafe.opens);
    // Every state the status shows, as the page shows it, for 4 s.
    await page.evaluate(() => {
      window.__states = [];
      const el = document.getElementById('conn-text');
      new MutationObserver(() => window.__states.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    });
    await page.waitForTimeout(4000);
    const seen = await page.evaluate(() => window.__states);
    assert.deepEqual(seen, [], `the status changed: ${seen.join(' -> ')}`);
    assert.equal(await page.textContent('#conn-text'), 'Live');
    assert.equal(await page.evaluate(() => window.cafe.conn), 'live');
    assert.equal(await page.evaluate(() => window.cafe.opens), opens, 'the stream was reopened');
    assert.ok(await page.evaluate(() => window.cafe.stats.length) >= 3, 'stats kept coming');
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await srv.stop();
  }
});

test('the stream reconnects by itself after a server restart', async () => {
  let srv = await startServer(['--time-scale', '0.2']);
  const port = srv.port;
  try {
    const { page } = await openDashboard(srv.url);
    const opens = await page.evaluate(() => window.cafe.opens);
    await srv.stop();
    await page.waitForFunction(() => window.cafe.conn !== 'live', null, { timeout: 10000 });
    assert.notEqual(await page.textContent('#conn-text'), 'Live');
    srv = await startServer(['--port', String(port), '--time-scale', '0.2']);
    await page.waitForFunction((k) => window.cafe.conn === 'live' && window.cafe.opens > k, opens, { timeout: 20000 });
    // and it is really live: an order placed elsewhere shows up on the board
    const r = await fetch(srv.url + '/async/order?wait=0', { method: 'POST', body: JSON.stringify({ item: 'latte' }) });
    const id = (await r.json()).id;
    await page.waitForSelector(`.order[data-id="${id}"]`, { timeout: 5000 });
    await page.close();
  } finally {
    await srv.stop();
  }
});
