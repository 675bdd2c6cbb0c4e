// The descriptor limit: the default connection cap derives from it, and
// accept() meeting EMFILE under a running server must neither spin nor kill
// it, and it must accept again once descriptors are back. Needs prlimit
// (util-linux) to set the limit of a process; the file is skipped (exit 77)
// without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { startServer, waitFor, probeStatus, scrape } from '../lib/server.mjs';
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

test('the default connection cap is the descriptor limit less 64, the soft limit raised to the hard one', async () => {
  for (const [nofile, cap] of [['512:512', 448], ['256:1024', 960]]) {
    const s = await startServer([], {}, { wrap: ['prlimit', `--nofile=${nofile}`, '--'] });
    try {
      assert.equal((await scrape(s)).get('cafe_config_limit{name="max_connections"}'), cap, `nofile ${nofile}`);
      await s.waitForLog(new RegExp(`max-connections=${cap}\\b`), 3000); // stderr may trail stdout
    } finally {
      await s.stop();
    }
  }
  // A cap asked above what the descriptors allow is lowered, with a warning.
  const s = await startServer(['--max-connections', '5000'], {}, { wrap: ['prlimit', '--nofile=512:512', '--'] });
  try {
    assert.equal((await scrape(s)).get('cafe_config_limit{name="max_connections"}'), 448);
    await s.waitForLog(/max-connections 5000 is above the descriptor limit; using 448/, 3000);
  } finally {
    await s.stop();
  }
});
