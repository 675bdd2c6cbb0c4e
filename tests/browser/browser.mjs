// What the browser tests share: Debian's headless Chromium driven by
// playwright-core (the flags of dashboard.test.mjs), and a dashboard page
// that records console errors and failed requests. A machine without
// Chromium or playwright-core cannot run these tests: the process exits 77
// (ctest's skip code; under `node --test` that shows as a failure, never as
// a pass).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = process.env.CAFE_CHROMIUM || '/usr/bin/chromium'; // (override: to check the skip)

// Resolves with a persistent context on a fresh profile, or exits 77.
export async function launchBrowser() {
  const skip = (why) => {
    console.log(`skipped: ${why}`);
    process.exit(77);
  };
  if (!fs.existsSync(CHROMIUM)) skip(`no ${CHROMIUM} (scripts/setup.sh test installs it)`);
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    skip('playwright-core is not installed (scripts/setup-web.sh runs npm ci)');
  }
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cafe-chromium-'));
  const context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run'],
  });
  context.closeAll = async () => {
    await context.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  };
  return context;
}

// A dashboard page, live. problems collects console errors, page errors and
// failed requests, except console messages that expected(message) accepts.
export async function openDashboard(context, url, { viewport = { width: 1280, height: 1000 }, expected = () => false } = {}) {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected(m)) problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (!r.url().endsWith('/events')) problems.push(`request failed: ${r.url()}`);
  });
  await page.goto(url + '/');
  await page.waitForFunction(() => window.cafe && window.cafe.conn === 'live', null, { timeout: 10000 });
  return { page, problems };
}
