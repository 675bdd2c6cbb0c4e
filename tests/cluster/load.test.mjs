// wrk (Debian's) through HAProxy at 1,000 connections for 10 s, POSTing
// 100 ms orders (bench/wrk/order.lua) to two replicas sharing Redis: no
// socket error, no answer other than 2xx, and afterwards every order is
// accounted for -- the book in Redis holds every order wrk saw acknowledged
// (plus at most the 1,000 in flight when wrk stopped, which it never read),
// exactly as many as the replicas say they placed, and all of them ready.
//
// Breakages this catches: HAProxy or a replica refusing connections at this
// concurrency (socket errors, 503s), orders acknowledged and not stored
// (Redis holds fewer than wrk's 2xx), orders stored twice or stored without
// being counted, brews whose final state never reaches Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { needCluster, stopAndCheck, startCluster } from '../lib/cluster.mjs';
import { spawnOwned } from '../lib/redis.mjs';
import { request, waitFor, parseMetrics, SOURCE_DIR } from '../lib/server.mjs';
import { skipFile } from '../lib/skip.mjs';

needCluster();
if (spawnSync('wrk', ['-v'], { encoding: 'utf8' }).error) skipFile('wrk is not installed (scripts/setup.sh test installs it)');

const CONNS = 1000;
const SECONDS = 10;
let c;
before(async () => {
  c = await startCluster({ replicas: 2, args: ['--time-scale', '0.02', '--max-orders', '10000000'] });
});
after(async () => { await stopAndCheck(c); });

function wrk(url) {
  return new Promise((resolve, reject) => {
    const p = spawnOwned('wrk', ['-t1', `-c${CONNS}`, `-d${SECONDS}s`, '--timeout', '10s', '-s', 'bench/wrk/order.lua', url],
      { cwd: SOURCE_DIR, env: { ...process.env, CAFE_ITEM: 'latte' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT'));
      if (code !== 0 || !line) return reject(new Error(`wrk exited ${code}:\n${out}`));
      resolve({ out, ...Object.fromEntries(line.split(' ').slice(1).map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)])) });
    });
  });
}

const zcard = (k) => Number(c.cli('ZCARD', c.key(k)));

test(`wrk through HAProxy, ${CONNS} connections for ${SECONDS} s: no errors, every acknowledged order in Redis`, async () => {
  const r = await wrk(`${c.lb.url}/async/order`);
  console.log(`wrk: ${r.requests} requests, ${r.ok} 2xx, ${r.rps.toFixed(0)}/s, p99 ${r.p99_ms} ms`);
  assert.equal(r.socket_errors, 0, `socket errors (connect ${r.connect}, read ${r.read}, write ${r.write}, timeout ${r.timeout}):\n${r.out}`);
  assert.equal(r.non2xx, 0, `${r.non2xx} answers were not 2xx (${r.s503} of them 503)`);
  assert.ok(r.ok >= CONNS, `only ${r.ok} orders in ${SECONDS} s`);

  // The brews wrk did not wait for finish; then count.
  await waitFor(() => zcard('status:queued') + zcard('status:brewing') === 0, 30000, 'every order finished');
  const stored = zcard('orders');
  let placed = 0;
  for (const rep of c.replicas) {
    const m = parseMetrics((await request(`${rep.url}/metrics`)).body);
    for (const [k, v] of m) if (k.startsWith('cafe_orders_placed_total')) placed += v;
  }
  assert.ok(stored >= r.ok, `Redis holds ${stored} orders, wrk saw ${r.ok} acknowledged`);
  assert.ok(stored - r.ok <= CONNS, `Redis holds ${stored} orders, ${stored - r.ok} more than wrk saw (at most ${CONNS} in flight)`);
  assert.equal(stored, placed, 'Redis holds exactly the orders the replicas placed');
  assert.equal(zcard('status:ready'), stored, 'every stored order is ready');
  assert.equal(Number(c.cli('GET', c.key('next_id'))), stored, 'no id handed out without its order');
});
