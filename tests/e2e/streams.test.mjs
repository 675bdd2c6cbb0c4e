// Streamed responses over real sockets. A stream is not an idle connection
// (issue 13): GET /events was cut by the idle keep-alive deadline (5.0 s with
// the defaults, 1.5 s with --idle-timeout-ms 1500) although a stats event
// flows every second, as a stale idle deadline was taken for the end of a
// lingering close. A stream has no deadline; it still holds a connection, so
// it counts against --max-connections. The first two tests fail on a server
// where the idle deadline cuts streams. An NDJSON batch is a stream too: each
// order's line goes out as it completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, rawExchange, parseResponses, waitFor } from '../lib/server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A raw SSE client: counts "event: stats" frames, notes when the server closes.
function subscribe(port) {
  const sub = { raw: '', stats: 0, closedAt: 0 };
  sub.sock = net.connect(port, '127.0.0.1', () => {
    sub.sock.write('GET /events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n');
  });
  sub.sock.setEncoding('latin1');
  sub.sock.on('data', (d) => {
    sub.raw += d;
    sub.stats = (sub.raw.match(/\nevent: stats\n/g) || []).length;
  });
  const closed = () => { sub.closedAt ||= Date.now(); };
  sub.sock.on('close', closed);
  sub.sock.on('error', closed);
  return sub;
}

test('an event stream outlives --idle-timeout-ms and keeps receiving stats', async () => {
  const s = await startServer(['--idle-timeout-ms', '300']);
  try {
    const sub = subscribe(s.port);
    await waitFor(() => sub.raw.includes(': connected'), 5000, 'the stream to start');
    const started = Date.now();
    const before = sub.stats;
    await sleep(2500); // more than 8 idle deadlines
    assert.equal(sub.closedAt, 0, `the stream was closed after ${sub.closedAt - started} ms`);
    // stats come every second: at least two more in 2.5 s, however loaded the machine
    assert.ok(sub.stats - before >= 2, `${sub.stats - before} stats events in 2.5 s`);
    sub.sock.destroy();
  } finally {
    await s.stop();
  }
});

test('an event stream counts against --max-connections: the next connection gets 503', async () => {
  const s = await startServer(['--max-connections', '1', '--idle-timeout-ms', '300']);
  try {
    const sub = subscribe(s.port);
    await waitFor(() => sub.raw.includes(': connected'), 5000, 'the stream to start');
    await sleep(1000); // past the idle deadline: the stream still holds its connection
    const { data } = await rawExchange(s.port, 'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
    const [r] = parseResponses(data);
    assert.equal(r?.status, 503, data.slice(0, 200));
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(sub.closedAt, 0, 'the stream is still open');
    // Once the stream ends, its connection is free again.
    sub.sock.destroy();
    await waitFor(async () => {
      const again = await rawExchange(s.port, 'GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
      return parseResponses(again.data)[0]?.status === 200;
    }, 5000, 'a connection after the stream closed');
  } finally {
    await s.stop();
  }
});

test('an NDJSON batch sends each line as its order completes (buffering them to the end fails)', async () => {
  const s = await startServer(['--time-scale', '0.2']); // drip 0.8 s, lunch 2 s
  try {
    const body = JSON.stringify({ orders: [{ item: 'lunch' }, { item: 'drip' }], mode: 'async' });
    const sock = net.connect(s.port, '127.0.0.1');
    sock.setEncoding('latin1');
    let raw = '';
    const lines = []; // [{at, item}]
    const ended = new Promise((resolve, reject) => {
      sock.on('data', (d) => {
        raw += d;
        for (const m of raw.matchAll(/\{"id":\d+,"item":"(\w+)"/g))
          if (!lines.some((l) => l.index === m.index)) lines.push({ index: m.index, item: m[1], at: Date.now() });
        if (raw.endsWith('\r\n0\r\n\r\n')) resolve();
      });
      sock.on('error', reject);
    });
    sock.write(`POST /orders?stream=1 HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`);
    await ended;
    sock.destroy();
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.match(raw, /\r\nTransfer-Encoding: chunked\r\n/i);
    assert.deepEqual(lines.map((l) => l.item), ['drip', 'lunch']);
    const gap = lines[1].at - lines[0].at; // 1.2 s ideally; late timers shift both lines alike
    assert.ok(gap >= 600, `the drip line came only ${gap} ms before the lunch line`);
  } finally {
    await s.stop();
  }
});
