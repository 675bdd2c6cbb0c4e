// A real Prometheus (Debian's) with the scrape config rendered from
// deploy/prometheus.yml.in (deploy/render.sh) scrapes every replica and
// HAProxy; a PromQL sum over the replicas of the orders counter equals the
// orders placed, and each replica's own series is its own share.
//
// Breakages this catches: a template that lists the wrong targets (up < 2),
// a counter that counts another replica's orders (the sum is too large:
// every replica reading the shared book would), an exporter Prometheus
// cannot parse (the scrape fails: up 0).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { needCluster, stopAndCheck, startCluster, postOrder } from '../lib/cluster.mjs';
import { spawnOwned, freePort } from '../lib/redis.mjs';
import { request, waitFor, SOURCE_DIR } from '../lib/server.mjs';
import { skipFile } from '../lib/skip.mjs';

needCluster();
if (spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status !== 0) skipFile('prometheus is not installed (apt-get install prometheus)');

let c, prom;
before(async () => { c = await startCluster({ replicas: 2 }); });
after(async () => {
  if (prom && prom.exitCode === null) {
    const gone = new Promise((r) => prom.once('exit', r));
    prom.kill('SIGTERM');
    await gone;
  }
  await stopAndCheck(c);
});

async function query(base, q) {
  const res = await request(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  if (res.status !== 200 || res.json?.status !== 'success') return null;
  return res.json.data.result;
}

test('Prometheus from deploy/: sum over replicas of the orders counter equals the orders placed', async () => {
  const [r1, r2] = c.replicas;
  const share = { [r1.port]: 3, [r2.port]: 5 };
  for (const r of [r1, r2]) {
    for (let i = 0; i < share[r.port]; i++) assert.equal((await postOrder(r.url, { item: 'quick' })).status, 201);
  }
  const placed = share[r1.port] + share[r2.port];

  const port = await freePort();
  const render = spawnSync('bash', ['-c', 'source deploy/render.sh && deploy_render_prometheus "$@"', 'render',
    c.lb.stats, r1.port, r2.port], { cwd: SOURCE_DIR, encoding: 'utf8' });
  assert.equal(render.status, 0, render.stderr);
  const cfg = path.join(c.dir, 'prometheus.yml');
  fs.writeFileSync(cfg, render.stdout);
  let log = '';
  prom = spawnOwned('prometheus', [`--config.file=${cfg}`, `--storage.tsdb.path=${path.join(c.dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [prom.stdout, prom.stderr]) s.on('data', (d) => { log = (log + d).slice(-8000); });
  const base = `http://127.0.0.1:${port}`;

  let up;
  await waitFor(async () => {
    if (prom.exitCode !== null) throw new Error(`prometheus exited:\n${log}`);
    up = await query(base, 'sum by (job) (up)').catch(() => null);
    const of = (job) => up?.find((s) => s.metric.job === job)?.value[1];
    return of('cafe') === '2' && of('haproxy') === '1';
  }, 60000, 'Prometheus scraping both replicas and HAProxy').catch((e) => {
    throw new Error(`${e.message} (sum by (job) (up): ${JSON.stringify(up)})`);
  });
  let total;
  await waitFor(async () => {
    total = await query(base, 'sum(cafe_orders_placed_total)');
    return Number(total?.[0]?.value[1]) === placed;
  }, 30000, `sum(cafe_orders_placed_total) == ${placed}`).catch((e) => {
    throw new Error(`${e.message} (last: ${JSON.stringify(total)})`);
  });
  const byInstance = await query(base, 'sum by (instance) (cafe_orders_placed_total)');
  const got = Object.fromEntries(byInstance.map((s) => [s.metric.instance.split(':')[1], Number(s.value[1])]));
  assert.deepEqual(got, { [r1.port]: share[r1.port], [r2.port]: share[r2.port] }, 'each replica counts its own orders');
  const info = await query(base, 'cafe_replica_info{store="redis"}');
  assert.deepEqual(info.map((s) => s.metric.replica).sort(), ['replica-1', 'replica-2'], 'each replica names itself');
  assert.equal((await query(base, 'sum(cafe_store_up)'))[0].value[1], '2', 'both replicas\' stores are up');
});
