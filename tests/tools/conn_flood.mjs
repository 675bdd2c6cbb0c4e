// Connection flood for tests/tools/conn_flood.sh:
//   node conn_flood.mjs PORT MAX_CONNECTIONS SECONDS
// `existing` keep-alive clients connect first and ask GET /healthz every
// 100 ms on their own connection for the whole run; meanwhile waves of
// flooders (far above the cap) connect, send one request and hold the
// connection open. Nothing waits forever: an existing client with no answer
// for 5 s counts as stalled, a flooder with none as floodNoAnswer. Prints one
// JSON line of counts (existingLeast: the fewest answers one existing client
// got); the shell script judges.
import net from 'node:net';

const [port, max, seconds] = process.argv.slice(2).map(Number);
const existingCount = Math.max(1, Math.floor(max / 4));
const waveSize = max * 3;
const endAt = Date.now() + seconds * 1000;
const r = {
  existing: existingCount, existingOk: 0, existingLeast: Infinity, existingBad: 0,
  existingDropped: 0, existingStalled: 0, floodNoAnswer: 0,
  flooders: 0, flood200: 0, flood503: 0, flood503NoRetryAfter: 0, floodOther: 0,
  floodReset: 0, floodClosedSilently: 0, floodRefused: 0,
};
const held = [];
const answerMs = 5000;

function statusOf(text) {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return m ? Number(m[1]) : 0;
}

// One keep-alive client: a request, its whole response (Content-Length), again.
function existingClient() {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    let done = false;
    let ok = 0;
    let stall;
    const finish = (what) => {
      if (done) return;
      done = true;
      clearTimeout(stall);
      if (what) r[what]++;
      r.existingLeast = Math.min(r.existingLeast, ok);
      sock.destroy();
      resolve();
    };
    const ask = () => {
      if (done) return;
      if (Date.now() >= endAt) return finish();
      sock.write('GET /healthz HTTP/1.1\r\nHost: existing\r\n\r\n');
      stall = setTimeout(() => finish('existingStalled'), answerMs);
    };
    sock.setEncoding('latin1');
    sock.on('connect', ask);
    sock.on('data', (d) => {
      buf += d;
      for (;;) {
        const h = buf.indexOf('\r\n\r\n');
        if (h < 0) return;
        const len = Number(/content-length: *(\d+)/i.exec(buf.slice(0, h))?.[1] ?? 0);
        if (buf.length < h + 4 + len) return;
        const status = statusOf(buf);
        buf = buf.slice(h + 4 + len);
        clearTimeout(stall);
        if (status === 200) { r.existingOk++; ok++; } else r.existingBad++;
        setTimeout(ask, 100);
      }
    });
    sock.on('error', () => finish('existingDropped'));
    sock.on('close', () => finish('existingDropped'));
  });
}

function flooder() {
  return new Promise((resolve) => {
    r.flooders++;
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let settled = false;
    const settle = (what) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (what === 'data') {
        const status = statusOf(text);
        if (status === 200) r.flood200++;
        else if (status === 503) {
          r.flood503++;
          if (!/\r\nretry-after: *\d+/i.test(text)) r.flood503NoRetryAfter++;
        } else r.floodOther++;
      } else r[what]++;
      resolve();
    };
    const timer = setTimeout(() => { settle('floodNoAnswer'); sock.destroy(); }, answerMs);
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write('GET /healthz HTTP/1.1\r\nHost: flood\r\n\r\n'));
    sock.on('data', (d) => {
      text += d;
      if (text.includes('\r\n\r\n')) { settle('data'); held.push(sock); }
    });
    sock.on('error', (e) => settle(e.code === 'ECONNREFUSED' ? 'floodRefused' : 'floodReset'));
    sock.on('close', () => settle(text ? 'data' : 'floodClosedSilently'));
  });
}

async function floodWaves() {
  while (Date.now() < endAt - 500) {
    await Promise.all(Array.from({ length: waveSize }, flooder));
    // Let the held ones go now and then so the cap keeps being reached anew.
    if (held.length > max) held.splice(0).forEach((s) => s.destroy());
    await new Promise((res) => setTimeout(res, 200));
  }
}

const clients = [];
for (let i = 0; i < existingCount; i++) clients.push(existingClient());
await new Promise((res) => setTimeout(res, 300)); // the existing clients are in
await Promise.all([floodWaves(), ...clients]);
held.forEach((s) => s.destroy());
console.log(JSON.stringify(r));
