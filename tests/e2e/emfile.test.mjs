// Out of descriptors: accept() meets EMFILE under a running server, which
// must neither spin nor die, and must accept again once descriptors are back.
// Needs prlimit (util-linux) to lower the limit of the running process; the
// file is skipped (exit 77) without it.
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { startServer, waitFor, probeStatus } from '../lib/server.mjs';
import { needTool } from '../lib/skip.mjs';

needTool('prlimit');

test('survives running out of descriptors (EMFILE) and resumes accepting', async () => {
  const s = await startServer([]);
  const socks = [];
  try {
    // Lower only the soft limit under the running server, so its cap (made
    // for the old limit) is now too high and accept() meets EMFILE.
    const hard = execFileSync('sh', ['-c', 'ulimit -Hn']).toString().trim();
    execFileSync('prlimit', ['--pid', String(s.proc.pid), `--nofile=24:${hard}`]);
    for (let i = 0; i < 40; i++) {
      const c = net.connect(s.port, '127.0.0.1');
      c.on('error', () => {});
      socks.push(c);
    }
    await s.waitForLog(/accept failed: Too many open files/, 5000);
    socks.forEach((c) => c.destroy());
    execFileSync('prlimit', ['--pid', String(s.proc.pid), `--nofile=4096:${hard}`]);
    await waitFor(async () => (await probeStatus(s.port)) === 200, 5000, 'accepting again');
  } finally {
    socks.forEach((c) => c.destroy());
    await s.stop();
  }
});
