// GET /metrics checked by a parser nobody on this project wrote: Debian's
// promtool (package prometheus). Skipped (exit 77) without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, request } from '../lib/server.mjs';
import { needTool } from '../lib/skip.mjs';

needTool('promtool');

test('promtool check metrics accepts the exposition after traffic in every mode', async () => {
  const s = await startServer(['--time-scale', '0.01']);
  try {
    for (const mode of ['sync', 'async', 'thread'])
      assert.equal((await request(`${s.url}/${mode}/order`, { method: 'POST', body: { item: 'drip' } })).status, 201);
    await request(s.url + '/no/such/page');
    await request(s.url + '/orders/x', { method: 'PUT' });
    await new Promise((r) => setTimeout(r, 300)); // a few loop-lag samples
    const r = await request(s.url + '/metrics');
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: r.body, encoding: 'utf8' });
    assert.equal(promtool.status, 0, `promtool: ${promtool.stdout}${promtool.stderr}`);
  } finally {
    await s.stop();
  }
});
