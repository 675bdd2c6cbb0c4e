// The defaults the README promises, on servers started with no flag for
// them: as --help and cafe_config_limit report them, and -- where a test can
// wait for it -- as the server behaves: the idle keep-alive timeout (5 s),
// the event stream's heartbeat (15 s), the write timeout for a client that
// reads nothing (10 s), brews in flight (20,000) and the barista queue
// (1,000). The slow ones run side by side (about 16 s in all). The connection
// cap's default (descriptor limit - 64) is in emfile.test.mjs (it needs
// prlimit); the SSE backlog's (1 MiB) in events.test.mjs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, request, scrape, waitFor, stalledClient, serverSideState, assertAtDeadline,
  DEADLINE_SLACK_MS, SERVER_BIN,
} from '../lib/server.mjs';

// The README's table, as cafe_config_limit names it.
const DEFAULTS = {
  max_header_bytes: 16384, max_header_fields: 100, max_uri_bytes: 8192, max_body_bytes: 65536,
  header_timeout_ms: 10000, idle_timeout_ms: 5000, write_timeout_ms: 10000, drain_timeout_ms: 10000,
  max_output_bytes: 1048576, max_brews: 20000, max_queue: 1000, max_batch: 100, max_orders: 10000,
  baristas: 4, slow_callback_ms: 100, sse_max_backlog: 1048576,
};

describe('defaults', { concurrency: true }, () => {
  test('cafe_config_limit and --help show the README\'s defaults', async () => {
    const s = await startServer([]);
    try {
      const m = await scrape(s);
      for (const [name, value] of Object.entries(DEFAULTS))
        assert.equal(m.get(`cafe_config_limit{name="${name}"}`), value, name);
      // The connection cap: the descriptor limit (raised to the hard one) less 64.
      const hard = Number(execFileSync('sh', ['-c', 'ulimit -Hn']).toString());
      const cap = Math.min(hard > 128 ? hard - 64 : Math.floor(hard / 2), 1000000);
      assert.equal(m.get('cafe_config_limit{name="max_connections"}'), cap);
    } finally {
      await s.stop();
    }
    const help = execFileSync(SERVER_BIN, ['--help']).toString();
    for (const [name, value] of Object.entries(DEFAULTS)) {
      const flag = name.replaceAll('_', '-');
      assert.match(help, new RegExp(`--${flag}\\b[^\\n]*\\n[^\\n]*\\n\\s*env CAFE_${name.toUpperCase()}, default ${value}\\b`), flag);
    }
    assert.match(help, /--sse-heartbeat-ms\b[^\n]*\n[^\n]*\n\s*env CAFE_SSE_HEARTBEAT_MS, default 15000\b/);
    assert.match(help, /--max-connections\b[^\n]*\n[^\n]*descriptor limit[^\n]*\n\s*env CAFE_MAX_CONNECTIONS, default 0\b/);
  });

  test('idle keep-alive: closed after 5 s by default', async () => {
    const s = await startServer([]);
    try {
      const c = net.connect(s.port, '127.0.0.1');
      await new Promise((r) => c.on('connect', r));
      c.write('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
      await new Promise((r) => c.once('data', r));
      const t0 = performance.now();
      await new Promise((r) => c.on('close', r));
      assertAtDeadline(performance.now() - t0, 5000, 'the idle close');
    } finally {
      await s.stop();
    }
  });

  test('the event stream\'s heartbeat: a ": ping" every 15 s by default', async () => {
    // The hub's heartbeat runs from start-up, not per stream: timed from the
    // "listening" line, which comes right after the hub is made. Every
    // default, the idle timeout's too: a stream is exempt from it.
    const s = await startServer();
    const started = performance.now();
    try {
      const c = net.connect(s.port, '127.0.0.1');
      let text = '';
      c.setEncoding('utf8');
      c.on('data', (d) => { text += d; });
      await new Promise((r) => c.on('connect', r));
      c.write('GET /events HTTP/1.1\r\nHost: t\r\n\r\n');
      await waitFor(() => text.includes(': connected'), 3000, 'the stream');
      await waitFor(() => text.includes(': ping'), 15000 + DEADLINE_SLACK_MS + 1000, 'a ping');
      c.destroy();
      assertAtDeadline(performance.now() - started, 15000, 'the first ping');
    } finally {
      await s.stop();
    }
  });

  test('a client that reads nothing is cut after 10 s by default', async () => {
    // 40 pipelined requests for a 256 KiB file, and a 4 KiB receive buffer:
    // far more than the kernel and --max-output-bytes hold, so the answers
    // stall on the server until the write timeout cuts the connection.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cafe-defaults-'));
    fs.writeFileSync(path.join(dir, 'big.txt'), 'b'.repeat(256 * 1024));
    // Every other default as it is: the idle keep-alive timeout (5 s) must not
    // cut a connection whose answers are still on their way (fails today:
    // it does, at 5 s).
    const s = await startServer(['--static-dir', dir]);
    try {
      const stalled = await stalledClient(s.port, 4096, '/big.txt', '\r\n\r\n', 40);
      try {
        const t0 = performance.now();
        await waitFor(() => serverSideState(s.port, stalled.port) !== 1, 10000 + DEADLINE_SLACK_MS + 2000, 'the cut');
        assertAtDeadline(performance.now() - t0, 10000, 'the write timeout');
      } finally {
        await stalled.close();
      }
    } finally {
      await s.stop();
      fs.rmSync(dir, { recursive: true });
    }
  });

  test('at most 20,000 brews in flight by default', async () => {
    // Lattes of 100 s, so none finishes while 200 batches are placed on a
    // loaded machine (at 5 s some did, and the 20,001st was admitted).
    const s = await startServer(['--time-scale', '20', '--drain-timeout-ms', '100']);
    try {
      const batch = { orders: Array.from({ length: 100 }, () => ({ item: 'latte' })) };
      for (let i = 0; i < 200; i++) {
        const r = await request(s.url + '/orders?wait=0', { method: 'POST', body: batch });
        assert.equal(r.status, 202, `batch ${i}`);
      }
      const full = await request(s.url + '/order?wait=0', { method: 'POST', body: { item: 'latte' } });
      assert.equal(full.status, 503);
      assert.match(full.json.detail, /at most 20000/);
      assert.equal((await scrape(s)).get('cafe_brews_in_flight{mode="async"}'), 20000);
    } finally {
      await s.stop();
    }
  });

  test('at most 1,000 hands-on steps wait for the baristas by default', async () => {
    // Thread lunches: each avocado goes to the baristas at once (10 s in
    // hands at this scale, so none comes back during the test); 4 baristas.
    // The server exits once the 4 in hand are done (their sleep is not cut).
    const s = await startServer(['--time-scale', '5', '--drain-timeout-ms', '100']);
    try {
      const place = (n) => request(s.url + '/orders?wait=0', {
        method: 'POST', body: { mode: 'thread', orders: Array.from({ length: n }, () => ({ item: 'lunch' })) } });
      for (let i = 0; i < 10; i++) assert.equal((await place(100)).status, 202);
      assert.equal((await place(3)).status, 202);
      const depth = async () => (await scrape(s)).get('cafe_worker_queue_depth');
      await waitFor(async () => (await depth()) === 999, 3000, '999 in the queue, 4 in hand');
      assert.equal((await place(1)).status, 202, 'the 1,000th waits');
      const full = await place(1);
      assert.equal(full.status, 503);
      assert.match(full.json.detail, /barista/);
    } finally {
      await s.stop();
    }
  });
});
