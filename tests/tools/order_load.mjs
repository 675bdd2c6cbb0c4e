// Order load with full accounting, for tests/tools/shutdown_under_load.sh
// and bench/soak.sh. Keep-alive workers place orders in every mode
// (POST /order, /async/order, /sync/order, /thread/order; some ?wait=0 and
// then, now and then, DELETE /orders/ID) and record what became of every
// request they wrote:
//   complete    a whole HTTP response (by status)
//   refused     ECONNREFUSED on connect: nothing was sent
//   unanswered  written, then the connection closed/reset with no byte of
//               an answer (the server may never have read it: judged by
//               the caller against the server's access log)
//   partial     some bytes of a response, then the connection died (a bug)
// With --verify, afterwards asks GET /orders/ID for every accepted order
// (waiting up to --settle-ms for it to finish) and counts final statuses.
//   node order_load.mjs --port P --seconds S [--concurrency N] [--cancel 0.2]
//        [--stop-on-refused] [--verify] [--settle-ms 10000]
// Prints one JSON line.
import net from 'node:net';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf('--' + name);
  if (i < 0) return def;
  const v = args[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
};
const port = Number(opt('port'));
const seconds = Number(opt('seconds', 10));
const concurrency = Number(opt('concurrency', 8));
const cancelRatio = Number(opt('cancel', 0.2));
const stopOnRefused = Boolean(opt('stop-on-refused', false));
const verify = Boolean(opt('verify', false));
const settleMs = Number(opt('settle-ms', 10000));

const r = {
  sent: 0, complete: {}, refused: 0, unanswered: 0, partial: 0, accepted: 0,
  cancels: 0, failedOrders: 0, byPath: {}, final: {}, verifySent: 0, verifyErrors: 0,
  errors: {},
};
const accepted = new Set();
const pendingIds = []; // 202: accepted, not yet seen finished (--verify)
const finalOf = (status) => { r.final[status] = (r.final[status] || 0) + 1; };
const items = ['latte', 'cappuccino', 'drip', 'pourover', 'lunch', 'mocha', 'flat white'];
const paths = ['/order', '/async/order', '/thread/order', '/sync/order', '/order?wait=0',
               '/thread/order?wait=0', '/async/order?wait=0'];
let endAt = Date.now() + seconds * 1000;
let stopping = false;

// One keep-alive connection that sends requests one at a time.
class Conn {
  constructor(counted = true) { this.counted = counted; this.buf = Buffer.alloc(0); this.dead = false; }
  open() {
    return new Promise((resolve) => {
      this.sock = net.connect(port, '127.0.0.1');
      this.sock.on('connect', () => resolve(true));
      this.sock.on('data', (d) => this.onData(d));
      this.sock.on('error', (e) => {
        r.errors[e.code] = (r.errors[e.code] || 0) + 1;
        this.fail(e.code);
        resolve(false);
      });
      this.sock.on('close', () => { this.fail('close'); resolve(false); });
    });
  }
  fail() {
    if (this.dead) return;
    this.dead = true;
    const p = this.pending;
    this.pending = null;
    if (p) p.resolve(this.buf.length ? { partial: true } : { unanswered: true });
  }
  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    const p = this.pending;
    if (!p) return;
    const h = this.buf.indexOf('\r\n\r\n');
    if (h < 0) return;
    const head = this.buf.subarray(0, h).toString('latin1');
    const status = Number(head.slice(9, 12));
    if (status === 100) { this.buf = this.buf.subarray(h + 4); return this.onData(Buffer.alloc(0)); }
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1);
    if (len < 0) { // close-delimited: only on errors we then treat as partial
      return;
    }
    if (this.buf.length < h + 4 + len) return;
    const body = this.buf.subarray(h + 4, h + 4 + len).toString('utf8');
    this.buf = this.buf.subarray(h + 4 + len);
    this.pending = null;
    const close = /\r\nconnection: *close/i.test(head);
    p.resolve({ status, head, body, close });
  }
  request(method, path, body) {
    return new Promise((resolve) => {
      if (this.dead) return resolve({ unsent: true });
      this.pending = { resolve };
      const b = body ? Buffer.from(body) : null;
      let text = `${method} ${path} HTTP/1.1\r\nHost: load\r\n`;
      if (b) text += `Content-Type: application/json\r\nContent-Length: ${b.length}\r\n`;
      this.sock.write(text + '\r\n');
      if (b) this.sock.write(b);
      if (this.counted) r.sent++;
    });
  }
  close() { this.dead = true; this.sock?.destroy(); }
}

function record(res, path) {
  const key = path.replace(/\?.*/, '').replace(/\/\d+$/, '/:id');
  const bp = (r.byPath[key] ||= {});
  if (res.unanswered) { r.unanswered++; bp.unanswered = (bp.unanswered || 0) + 1; return; }
  if (res.partial) { r.partial++; bp.partial = (bp.partial || 0) + 1; return; }
  r.complete[res.status] = (r.complete[res.status] || 0) + 1;
  bp[res.status] = (bp[res.status] || 0) + 1;
  // A 503 naming an order: accepted, then failed (the drain timeout).
  if (res.status === 503 && /"order"/.test(res.body)) r.failedOrders++;
}

async function worker(n) {
  let conn = null;
  let i = n;
  while (Date.now() < endAt && !stopping) {
    if (!conn || conn.dead) {
      conn?.close();
      conn = new Conn();
      if (!(await conn.open())) {
        if (r.errors.ECONNREFUSED) r.refused = r.errors.ECONNREFUSED;
        if (stopOnRefused && r.errors.ECONNREFUSED) return;
        await new Promise((res) => setTimeout(res, 20));
        continue;
      }
    }
    i++;
    const path = paths[i % paths.length];
    const order = { item: items[i % items.length] };
    if (i % 3 === 0) order.flavour = 'vanilla';
    if (i % 5 === 0) order.customer = `load ${n}`;
    const res = await conn.request('POST', path, JSON.stringify(order));
    if (res.unsent) continue;
    record(res, path);
    if (res.status === 201 || res.status === 202) {
      r.accepted++;
      const id = Number(/\r\nlocation: *\/orders\/(\d+)/i.exec(res.head)?.[1]);
      if (id) accepted.add(id);
      if (verify && res.status === 201) finalOf('ready'); // answered when ready
      if (verify && res.status === 202) pendingIds.push(id);
      if (res.status === 202 && id && Math.random() < cancelRatio && !conn.dead) {
        const c = await conn.request('DELETE', `/orders/${id}`);
        if (!c.unsent) { record(c, `/orders/${id}`); r.cancels++; }
      }
    }
    if (res.close) conn.close();
  }
  conn?.close();
}

// Follows every 202'd order (GET /orders/ID) until it is finished, during
// the load and for up to --settle-ms after it, so none is evicted from the
// bounded order book before it is seen. 201s were final when answered.
let loadDone = false;
async function verifier() {
  let conn = null;
  let settleEnd = Infinity;
  while (pendingIds.length || !loadDone) {
    if (loadDone && settleEnd === Infinity) settleEnd = Date.now() + settleMs;
    if (!pendingIds.length) { await new Promise((res) => setTimeout(res, 20)); continue; }
    if (!conn || conn.dead) { conn = new Conn(false); await conn.open(); }
    const id = pendingIds.shift();
    const res = await conn.request('GET', `/orders/${id}`);
    if (res.unsent || res.unanswered || res.partial) { r.verifyErrors++; conn.close(); continue; }
    r.verifySent++;
    let status = res.status === 404 ? 'evicted' : 'unknown';
    if (res.status === 200) status = JSON.parse(res.body).status;
    if ((status === 'queued' || status === 'brewing') && Date.now() < settleEnd) {
      pendingIds.push(id); // look again later
      if (pendingIds.length < 50) await new Promise((res2) => setTimeout(res2, 5));
      continue;
    }
    finalOf(status);
  }
  conn?.close();
}

process.on('SIGUSR2', () => { stopping = true; });
const checking = verify ? verifier() : null;
await Promise.all(Array.from({ length: concurrency }, (_, n) => worker(n)));
loadDone = true;
await checking;
console.log(JSON.stringify(r));
