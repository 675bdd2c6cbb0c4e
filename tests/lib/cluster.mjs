// A café cluster for one test: a real redis-server (tests/lib/redis.mjs), N
// replicas of the real cafe-server sharing it under a prefix of their own,
// and HAProxy in front with deploy/haproxy.cfg.in rendered by
// deploy/render.sh. Every process is started by spawnOwned (tracked, and
// SIGKILLed by the kernel if node dies), stopped by its PID and waited for by
// stop(), which the tests call in finally blocks.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedis, freePort, spawnOwned, redisAvailable, stillRunning } from './redis.mjs';
import { SERVER_BIN, SOURCE_DIR, request, waitFor } from './server.mjs';
import { skipFile } from './skip.mjs';

const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;

// Exits 77 unless redis-server, haproxy (when wanted) and a server that has
// the store flags are there.
export function needCluster({ haproxy = true } = {}) {
  if (!redisAvailable()) skipFile('redis-server is not installed (scripts/setup.sh test installs it)');
  if (haproxy && !has('haproxy')) skipFile('haproxy is not installed (scripts/setup.sh test installs it)');
  const help = spawnSync(SERVER_BIN, ['--help'], { encoding: 'utf8' });
  if (!/--store\b/.test(`${help.stdout}${help.stderr}`)) skipFile(`${SERVER_BIN} has no --store flag`);
}

// The menu every cluster test runs: latte as built in (5 s, what
// bench/wrk/order.lua orders), an order that is ready at once and one that
// brews until the test is over, so a test picks the state it needs without
// racing a timer.
export const TEST_MENU = {
  items: [
    { name: 'latte', steps: [{ name: 'make_coffee', kind: 'wait', seconds: 5 }] },
    { name: 'quick', steps: [{ name: 'pour', kind: 'wait', seconds: 0.05 }] },
    { name: 'medium', steps: [{ name: 'steep', kind: 'wait', seconds: 2 }] },
    { name: 'slow', steps: [{ name: 'age', kind: 'wait', seconds: 600 }] },
  ],
  flavours: ['vanilla'],
};

let prefixes = 0;
const uniquePrefix = () => `t${process.pid}-${Date.now().toString(36)}-${prefixes++}:`;

// Waits for a child's exit (resolves at once if it has exited).
function exited(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve({ code: proc.exitCode, signal: proc.signalCode });
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

// One replica: {id, port, url, pid, log, start(), stop(), kill(), restart()}.
// The first start takes --port 0 (or the port given); later starts keep the
// port, so HAProxy's config stays right.
export function replica({ id, storeUrl, prefix, port = 0, args = [] }) {
  const r = { id, port, log: '', args };
  // Resolves once the replica listens and its store is up (cafe_store_up 1:
  // the store connects on a later loop turn); storeUp false: once it listens.
  r.start = async ({ storeUp = true } = {}) => {
    await r.listen();
    if (storeUp) await waitFor(() => r.storeUp(), 15000, `${id}'s store up`);
    return r;
  };
  r.metric = async (name) => {
    const res = await request(`${r.url}/metrics`).catch(() => null);
    const line = res?.body.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.slice(name.length + 1)) : NaN;
  };
  r.storeUp = async () => (await r.metric('cafe_store_up')) === 1;
  r.listen = () => new Promise((resolve, reject) => {
    const argv = ['--host', '127.0.0.1', '--port', String(r.port), '--store', storeUrl, '--store-prefix', prefix,
      '--replica-id', id, '--access-log=off', ...r.args];
    const proc = spawnOwned(SERVER_BIN, argv, { cwd: SOURCE_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    r.proc = proc;
    r.pid = proc.pid;
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${id} did not start:\n${r.log}`)), 15000);
    proc.stderr.on('data', (d) => { r.log = (r.log + d).slice(-20000); });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/[^:\s]+:(\d+)/.exec(out);
      if (m && timer) {
        clearTimeout(timer);
        r.port = Number(m[1]);
        r.url = `http://127.0.0.1:${r.port}`;
        resolve(r);
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${id} exited (${code ?? signal}) at start-up:\n${r.log}`));
    });
  });
  // SIGTERM: the replica drains and must exit 0.
  // SIGTERM: the replica drains (--drain-timeout-ms, 10 s) and must exit
  // 0; one still there 20 s later is SIGKILLed and reported.
  r.stop = async () => {
    if (!r.proc) return;
    const proc = r.proc;
    const done = exited(proc);
    proc.kill('SIGTERM');
    let timer;
    const late = new Promise((resolve) => { timer = setTimeout(() => resolve(null), 20000); });
    let res = await Promise.race([done, late]);
    clearTimeout(timer);
    if (!res) {
      proc.kill('SIGKILL');
      await done;
      res = { code: 'still running 20 s after SIGTERM' };
    }
    r.proc = null;
    if (res.code !== 0) throw new Error(`${id} exited with ${res.code ?? res.signal} after SIGTERM:\n${r.log.slice(-4000)}`);
  };
  r.kill = async () => {
    if (!r.proc) return;
    const done = exited(r.proc);
    r.proc.kill('SIGKILL');
    await done;
    r.proc = null;
  };
  r.restart = async () => { await r.stop(); return r.start(); };
  r.alive = () => r.proc !== null && r.proc !== undefined && r.proc.exitCode === null && r.proc.signalCode === null;
  return r;
}

// HAProxy in front of the replicas' ports, health-checking /healthz:
// {port, url, stats, pid, log, stop()}. Resolves once it answers /healthz.
export async function startHaproxy(ports, dir) {
  const lb = await freePort();
  const stats = await freePort();
  const render = spawnSync('bash', ['-c', 'source deploy/render.sh && deploy_render_haproxy "$@"', 'render', lb, stats, ...ports],
    { cwd: SOURCE_DIR, encoding: 'utf8' });
  if (render.status !== 0) throw new Error(`deploy/render.sh failed: ${render.stderr}`);
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfg, render.stdout);
  const h = { port: lb, stats, url: `http://127.0.0.1:${lb}`, log: '', cfg };
  h.proc = spawnOwned('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  h.pid = h.proc.pid;
  for (const s of [h.proc.stdout, h.proc.stderr]) s.on('data', (d) => { h.log = (h.log + d).slice(-20000); });
  h.stop = async () => {
    if (!h.proc) return;
    const done = exited(h.proc);
    h.proc.kill('SIGTERM');
    await done;
    h.proc = null;
  };
  await waitFor(async () => {
    if (h.proc.exitCode !== null) throw new Error(`haproxy exited:\n${h.log}`);
    try { return (await request(h.url + '/healthz', { timeout: 2000 })).status === 200; } catch { return false; }
  }, 15000, 'HAProxy answering /healthz');
  return h;
}

// Redis, n replicas and (haproxy: true) HAProxy. args: flags for every
// replica (a function of i for per-replica ones). redis: a running one from
// startRedis to share (not stopped by stop()), else one is started
// (appendonly as given). Resolves with {redis, prefix, replicas, lb, dir,
// stop()}.
export async function startCluster({ replicas = 2, args = [], haproxy = true, redis, appendonly = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cafe-cluster-'));
  const c = { dir, prefix: uniquePrefix(), replicas: [], ownRedis: !redis };
  const stopAll = async () => {
    const errors = [];
    const attempt = async (f) => { try { await f(); } catch (e) { errors.push(e); } };
    if (c.lb) await attempt(c.lb.stop);
    await Promise.all(c.replicas.map((r) => attempt(r.stop)));
    // A replica that did not stop cleanly has been reported; make sure it is gone.
    await Promise.all(c.replicas.map((r) => attempt(r.kill)));
    if (c.ownRedis && c.redis) await attempt(c.redis.remove);
    fs.rmSync(dir, { recursive: true, force: true });

    if (errors.length) throw errors[0];
  };
  c.stop = stopAll;
  try {
    c.redis = redis || (await startRedis({ appendonly }));
    const menu = path.join(dir, 'menu.json');
    fs.writeFileSync(menu, JSON.stringify(TEST_MENU));
    for (let i = 1; i <= replicas; i++) {
      const extra = ['--menu', menu, ...(typeof args === 'function' ? args(i) : args)];
      c.replicas.push(replica({ id: `replica-${i}`, storeUrl: c.redis.url, prefix: c.prefix, args: extra }));
    }
    await Promise.all(c.replicas.map((r) => r.start()));
    if (haproxy) c.lb = await startHaproxy(c.replicas.map((r) => r.port), dir);
  } catch (e) {
    await stopAll().catch(() => {});
    throw e;
  }
  // One more replica on the same store (not behind HAProxy), stopped by stop().
  c.addReplica = async (extra = []) => {
    const r = replica({ id: `replica-${c.replicas.length + 1}`, storeUrl: c.redis.url, prefix: c.prefix,
      args: ['--menu', path.join(dir, 'menu.json'), ...extra] });
    c.replicas.push(r);
    return r.start();
  };
  // The keys of this cluster in its Redis, and one by name.
  c.key = (k) => c.prefix + k;
  c.cli = (...a) => c.redis.cli(...a);
  return c;
}

// JSON helpers over the real HTTP client.
export async function postOrder(base, body = { item: 'latte' }, query = '') {
  return request(`${base}/async/order${query}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
}
export const getOrder = (base, id) => request(`${base}/orders/${id}`);
export const cancelOrder = (base, id) => request(`${base}/orders/${id}`, { method: 'DELETE' });

// Polls GET /orders/ID on base until pred(order) holds; returns the order.
export async function waitOrder(base, id, pred, ms = 10000, what = `order ${id}`) {
  let last;
  try {
    await waitFor(async () => {
      const r = await getOrder(base, id).catch(() => null);
      last = r;
      return r && r.status === 200 && pred(r.json);
    }, ms, what);
  } catch (e) {
    e.message += `; last answer: ${last ? `${last.status} ${last.body.slice(0, 400)}` : 'none'}`;
    throw e;
  }
  return last.json;
}

// A test file's last hook: its cluster stopped, and nothing it started
// (replicas, Redis, HAProxy, Prometheus, wrk, redis-cli) still running.
export async function stopAndCheck(c) {
  await c?.stop();
  const left = stillRunning();
  if (left.length) throw new Error(`still running after the test:\n${left.join('\n')}`);
}
