// The server on an IPv6 address: the listening line brackets it (a URL a
// user can paste), and the access log names IPv6 peers as [addr]:port.
// Skipped (exit 77) on a machine without IPv6 loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { request, waitFor, SERVER_BIN, SOURCE_DIR } from '../lib/server.mjs';
import { skipFile } from '../lib/skip.mjs';

const v6 = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, '::1', () => probe.close(() => resolve(true)));
  probe.on('error', () => resolve(false));
});
if (!v6) skipFile('no IPv6 loopback (::1) on this machine');

test('--host ::1: "listening on http://[::1]:PORT", served over IPv6, peers logged as [::1]:port', async () => {
  const proc = spawn(SERVER_BIN, ['--port', '0', '--host', '::1'], { cwd: SOURCE_DIR });
  let stdout = '', stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const closed = new Promise((r) => proc.on('close', (code) => r(code)));
  try {
    await waitFor(() => /\n$/.test(stdout), 10000, 'the listening line');
    const m = /^listening on http:\/\/\[::1\]:(\d+)\n$/.exec(stdout);
    assert.ok(m, stdout);
    const r = await request(`http://[::1]:${m[1]}/healthz?probe=v6`);
    assert.equal(r.status, 200);
    await waitFor(() => /access \[::1\]:\d+ "GET \/healthz\?probe=v6 HTTP\/1\.1" 200 /.test(stderr), 5000, 'the access line');
  } finally {
    proc.kill('SIGTERM');
    assert.equal(await closed, 0, stderr);
  }
});
