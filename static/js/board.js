// The order board: queued / brewing / ready columns of order cards, each with
// its steps drawn as a timeline (offsets in ms from the order's acceptance),
// the time a step was held up drawn hatched before it (docs/timeline.md:
// due_ms, late_ms), and the order's sentence of where its time went.
import { el } from './dom.js';

const MAX_ORDERS = 60;  // cards kept; the oldest finished ones go first
const COLUMN_OF = { queued: 'queued', brewing: 'brewing', ready: 'ready', cancelled: 'ready', failed: 'ready' };

export class Board {
  constructor(doc) {
    this.doc = doc;
    this.orders = new Map(); // id -> { order, seen: Date.now() at receipt }
    this.cols = {
      queued: doc.getElementById('col-queued'),
      brewing: doc.getElementById('col-brewing'),
      ready: doc.getElementById('col-ready'),
    };
    this.counts = {
      queued: doc.getElementById('count-queued'),
      brewing: doc.getElementById('count-brewing'),
      ready: doc.getElementById('count-ready'),
    };
    this.dirty = false;
    this.timer = setInterval(() => this.hasRunning() && this.schedule(), 250);
  }

  // A snapshot of one order (from the stream or GET /orders); newer wins.
  upsert(order) {
    const prev = this.orders.get(order.id);
    if (prev && rank(prev.order) > rank(order)) return; // a late, older snapshot
    this.orders.set(order.id, { order, seen: Date.now() });
    this.trim();
    this.schedule();
  }

  replaceAll(orders) {
    this.orders.clear();
    for (const o of orders.slice().reverse()) this.orders.set(o.id, { order: o, seen: Date.now() });
    this.trim();
    this.schedule();
  }

  trim() {
    if (this.orders.size <= MAX_ORDERS) return;
    const finished = [...this.orders.values()]
      .filter((e) => COLUMN_OF[e.order.status] === 'ready')
      .sort((a, b) => a.order.id - b.order.id);
    for (const e of finished) {
      if (this.orders.size <= MAX_ORDERS) break;
      this.orders.delete(e.order.id);
    }
  }

  hasRunning() {
    for (const e of this.orders.values()) if (e.order.status === 'brewing') return true;
    return false;
  }

  // What the page shows, for tests: ids per column, newest first.
  columns() {
    const out = { queued: [], brewing: [], ready: [] };
    for (const e of [...this.orders.values()].sort((a, b) => b.order.id - a.order.id))
      out[COLUMN_OF[e.order.status] || 'queued'].push(e.order.id);
    return out;
  }

  schedule() {
    if (this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => { this.dirty = false; this.render(); });
  }

  render() {
    const cols = this.columns();
    for (const [name, ids] of Object.entries(cols)) {
      const list = this.cols[name];
      const items = ids.slice(0, 20).map((id) => this.card(this.orders.get(id)));
      list.replaceChildren(...items);
      this.counts[name].textContent = String(ids.length);
    }
  }

  card({ order: o, seen }) {
    const d = this.doc;
    const li = d.createElement('li');
    li.className = 'order';
    li.dataset.id = o.id;
    li.dataset.mode = o.mode;
    li.dataset.status = o.status;
    const head = el(d, 'div', 'head');
    const flavour = o.flavour ? `${o.flavour} ` : '';
    head.append(el(d, 'span', 'what', `#${o.id} ${flavour}${o.item}`), el(d, 'span', `badge ${o.mode}`, o.mode));
    li.append(head);
    if (o.customer) li.append(el(d, 'div', 'who', `for ${o.customer}`));
    // The replica that took it and brews it (several share one store).
    if (o.replica) {
      li.dataset.replica = o.replica;
      li.append(el(d, 'div', 'replica', `at ${o.replica}`));
    }

    // Elapsed now: the snapshot's elapsed_ms plus the time since we got it.
    const live = o.status === 'brewing' || o.status === 'queued';
    const now = (o.elapsed_ms || 0) + (live ? Date.now() - seen : 0);
    const span = Math.max(1, now, ...o.steps.map((s) => (known(s.end_ms) ? s.end_ms : 0)));
    const tl = el(d, 'ol', 'timeline');
    tl.setAttribute('aria-label', `steps of order ${o.id}`);
    for (const s of o.steps) {
      const row = d.createElement('li');
      const name = el(d, 'span', 'name', s.name);
      name.title = `${s.name} (${s.kind}, ${s.status})`;
      const track = el(d, 'span', 'track');
      if (known(s.due_ms) && s.late_ms > 0) { // held up: from when it was due to when it happened
        const late = el(d, 'span', `late ${s.waited_for || ''}`);
        late.style.left = `${(100 * s.due_ms) / span}%`;
        late.style.width = `${(100 * s.late_ms) / span}%`;
        late.title = `${s.name}: ${s.late_ms} ms late, waiting for ${s.waited_for === 'barista' ? 'a barista' : 'the loop'}${s.held_by ? ` (${s.held_by})` : ''}`;
        track.append(late);
      }
      if (known(s.start_ms)) {
        const end = known(s.end_ms) ? s.end_ms : now;
        const bar = el(d, 'span', `bar ${s.kind}${s.status === 'running' ? ' running' : ''}`);
        bar.style.left = `${(100 * s.start_ms) / span}%`;
        bar.style.width = `${(100 * Math.max(0, end - s.start_ms)) / span}%`;
        bar.title = `${s.name}: ${s.start_ms}–${known(s.end_ms) ? s.end_ms : '…'} ms`;
        track.append(bar);
      }
      row.append(name, track);
      tl.append(row);
    }
    li.append(tl);
    if (o.late) li.append(el(d, 'p', 'late-note', o.late));
    const msg = o.status === 'ready' ? `${o.message} (${(o.elapsed_ms / 1000).toFixed(2)} s)`
      : o.status === 'cancelled' || o.status === 'failed' ? `${o.status}${o.reason ? `: ${o.reason}` : ''}`
      : `${o.status}… ${(now / 1000).toFixed(1)} s`;
    li.append(el(d, 'p', 'msg', msg));
    return li;
  }
}

// Offsets are numbers once known (null or -1 before).
const known = (v) => typeof v === 'number' && v >= 0;

const RANK = { queued: 0, brewing: 1, ready: 2, cancelled: 2, failed: 2 };
function rank(o) {
  const done = o.steps.filter((s) => s.status === 'done').length;
  return RANK[o.status] * 100 + done;
}
