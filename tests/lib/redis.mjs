// A real redis-server for one test file: started on a free port in its own
// temporary directory, stopped by its PID -- by the test, and in any case
// when the test process exits (a failed assert, an uncaught error, a
// signal), so no test leaves a Redis behind. redis-cli (Debian's
// redis-tools, which redis-server depends on) talks to it.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// Every child a test library started, killed with SIGKILL when node exits
// whatever the reason; a process the test stopped itself is forgotten.
const children = new Set();
function killAll() {
  for (const p of children) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAll(); process.exit(128 + os.constants.signals[sig]); });
}
export function track(proc) {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

// spawn() for a process a test owns: tracked, and started under
// `setpriv --pdeathsig KILL` (util-linux), which execs it with the same PID
// and has the kernel SIGKILL it if node dies without running its exit hooks
// (SIGKILL, a ctest timeout, an abort).
const HAS_SETPRIV = spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;
const spawned = new Set();
export function spawnOwned(cmd, args, opts) {
  const [c, a] = HAS_SETPRIV ? ['setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
  const p = track(spawn(c, a, opts));
  if (p.pid) spawned.add(p.pid);
  return p;
}

// The processes spawnOwned started that are still running (not exited, or
// exited and not yet reaped by node): "pid command" each. A test file's
// last hook asserts there are none.
export function stillRunning() {
  const out = [];
  for (const pid of spawned) {
    let stat;
    try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { spawned.delete(pid); continue; }
    const [, state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(ppid) !== process.pid) { spawned.delete(pid); continue; } // a reused PID, not ours
    if (state !== 'Z') out.push(`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`);
  }
  return out;
}

export function redisAvailable() {
  return spawnSync('sh', ['-c', 'command -v redis-server && command -v redis-cli'], { stdio: 'ignore' }).status === 0;
}

// A port nobody listens on now (bound and released; the kernel does not hand
// it out again at once).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function pings(port) {
  return redisCli(port, ['PING']).stdout.trim() === 'PONG';
}

export function redisCli(port, args) {
  return spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--no-raw', ...args], { encoding: 'utf8', timeout: 10000 });
}

// Starts redis-server; resolves with {port, url, dir, pid, cli(...args)
// -> trimmed raw stdout, stop(), kill(), restart()}. appendonly: every write
// fsynced to the AOF, so a restart (restart() keeps dir and port) finds
// everything acknowledged.
export async function startRedis({ appendonly = false, port, dir } = {}) {
  port = port || (await freePort());
  dir = dir || fs.mkdtempSync(path.join(os.tmpdir(), 'cafe-redis-'));
  const r = { port, dir, url: `redis://127.0.0.1:${port}`, log: '' };
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--daemonize', 'no',
    // DEBUG SLEEP from redis-cli: the slow-Redis fault (tests/cluster/).
    '--enable-debug-command', 'local'];
  r.start = async () => {
    r.proc = spawnOwned('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    r.pid = r.proc.pid;
    r.proc.stdout.on('data', (d) => { r.log = (r.log + d).slice(-8000); });
    r.proc.stderr.on('data', (d) => { r.log = (r.log + d).slice(-8000); });
    const end = Date.now() + 10000;
    while (!(await pings(port))) {
      if (r.proc.exitCode !== null || Date.now() > end) throw new Error(`redis-server did not start on ${port}:\n${r.log}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    return r;
  };
  const waitExit = (sig) => new Promise((resolve) => {
    if (!r.proc || r.proc.exitCode !== null || r.proc.signalCode) return resolve();
    r.proc.once('exit', () => resolve());
    r.proc.kill(sig);
  });
  r.stop = () => waitExit('SIGTERM'); // redis fsyncs and exits cleanly
  r.kill = () => waitExit('SIGKILL');
  r.restart = async () => { await r.stop(); return r.start(); };
  r.cli = (...a) => {
    const res = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...a], { encoding: 'utf8', timeout: 10000 });
    if (res.status !== 0) throw new Error(`redis-cli ${a.join(' ')}: ${res.stderr}`);
    return res.stdout.trim();
  };
  // redis-cli without waiting for it (DEBUG SLEEP blocks its caller):
  // resolves with its trimmed output once it exits.
  r.cliAsync = (...a) => new Promise((resolve, reject) => {
    const p = spawnOwned('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...a], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`redis-cli ${a.join(' ')}: ${out}`))));
  });
  r.remove = async () => { await r.stop(); fs.rmSync(dir, { recursive: true, force: true }); };
  return r.start();
}
