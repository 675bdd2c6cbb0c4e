// The loop timeline as lanes, like a browser profiler's main-thread track
// (docs/timeline.md): one lane for the loop, blocks coloured by mode and the
// part past the slow-callback threshold hatched, its busy fraction per
// 100 ms as a strip under it; one lane per barista thread. It keeps the last
// minute; the view shows a window of it (5 to 60 s) and follows "now" --
// unless the reader scrolled back (the view then stays on that moment) or
// paused -- and names a block on hover or tap.
//
// Input: feed(batch) with the JSON of docs/timeline.md -- each "timeline"
// event of /events (and a GET /timeline answer: the same shape). What was
// last drawn (boxes, tick labels, the window) is readable for tests.

const KEEP_MS = 60000;
const COLORS = { sync: '#c0392b', async: '#2471a3', thread: '#1e8449', none: '#7f7468' };
const BUSY_COLOR = 'rgba(138,75,22,.75)';
const GUTTER = 78; // px: lane names
const AXIS = 22;   // px: tick labels on top
const LOOP_H = 30;
const BUSY_H = 16;
const LANE_H = 22;
const GAP = 6;
const TICK_STEP_S = { 5: 1, 10: 2, 30: 5, 60: 10 };

export class Lanes {
  constructor(doc) {
    this.doc = doc;
    this.scroll = doc.getElementById('lanes-scroll');
    this.track = doc.getElementById('lanes-track');
    this.canvas = doc.getElementById('lanes-canvas');
    this.tip = doc.getElementById('lanes-tip');
    this.note = doc.getElementById('lanes-status');
    this.lanes = new Map(); // lane number -> { name, blocks: Map(key -> block), busy: Map(start ms -> fraction) }
    this.lane(0, 'loop');
    this.windowS = 10;
    this.follow = true;   // the view's right edge is now
    this.viewTo = null;   // else, the moment it stays on
    this.pausedAt = null; // paused: "now" stands still
    this.placed = null;   // the scrollLeft we set last (its scroll event is ours)
    this.batches = 0;
    this.dropped = 0;
    this.thresholdMs = null;
    this.slowMs = null;
    this.clock = null; // the newest server time seen, and when: the view's "now" runs on from it
    this.boxes = [];   // what the last draw() put on the canvas, in CSS px
    this.busyBars = []; // the loop's busy strip as drawn: {x, w, f}
    this.ticks = [];
    this.span = null;

    this.scroll.addEventListener('scroll', () => {
      if (this.placed !== null && Math.abs(this.scroll.scrollLeft - this.placed) < 1) return;
      const max = this.maxScroll();
      this.follow = this.scroll.scrollLeft >= max - 2;
      this.viewTo = this.now() - (max - this.scroll.scrollLeft) / this.pxPerMs();
      this.placed = null;
      this.draw();
    }, { passive: true });
    this.canvas.addEventListener('pointermove', (e) => this.hover(e));
    this.canvas.addEventListener('pointerdown', (e) => this.hover(e));
    this.canvas.addEventListener('pointerleave', () => { this.tip.hidden = true; });
    for (const r of doc.querySelectorAll('input[name=lanes-window]'))
      r.addEventListener('change', () => this.setWindow(Number(r.value)));
    doc.getElementById('lanes-now').addEventListener('click', () => {
      this.follow = true;
      this.pause(false);
    });
    this.pauseButton = doc.getElementById('lanes-pause');
    this.pauseButton.addEventListener('click', () => this.pause(this.pausedAt === null));
    new ResizeObserver(() => this.layout()).observe(this.scroll);
    setInterval(() => { if (this.pausedAt === null) this.layout(); }, 500); // "now" moves on
    this.layout();
  }

  lane(n, name) {
    let l = this.lanes.get(n);
    if (!l) {
      l = { name: name || `lane ${n}`, blocks: new Map(), busy: new Map() };
      this.lanes.set(n, l);
    } else if (name) {
      l.name = name;
    }
    return l;
  }

  // The pool's size, from the stats event: empty barista lanes show before
  // any block arrives.
  setBaristas(n) {
    let added = false;
    for (let i = 1; i <= n; i++) if (!this.lanes.has(i)) { this.lane(i, `barista ${i}`); added = true; }
    if (added) this.layout();
  }

  // Server time: the newest moment a batch reached, run on by the local clock.
  serverNow() {
    return this.clock ? this.clock.server + (performance.now() - this.clock.local) : Date.now();
  }

  // The right end of the minute the view scrolls over.
  now() {
    return this.pausedAt ?? this.serverNow();
  }

  pause(on) {
    this.pausedAt = on ? this.serverNow() : null;
    this.pauseButton.textContent = on ? 'Resume' : 'Pause';
    this.pauseButton.setAttribute('aria-pressed', String(on));
    this.layout();
  }

  feed(b) {
    const t0 = b.t0_ms;
    const end = t0 + b.to_us / 1000;
    if (!this.clock || end > this.serverNow()) this.clock = { server: end, local: performance.now() };
    this.thresholdMs = b.threshold_us / 1000;
    this.slowMs = b.slow_us ? b.slow_us / 1000 : null;
    for (const ln of b.lanes || []) {
      const lane = this.lane(ln.lane, ln.name);
      for (const x of ln.blocks || []) {
        const start = t0 + x.start_us / 1000;
        lane.blocks.set(`${x.start_us + t0 * 1000}:${x.dur_us}`, {
          lane: ln.lane, start, dur: x.dur_us / 1000, tag: x.tag, label: x.label, id: x.id,
        });
      }
      (ln.busy_us || []).forEach((v, i) => {
        lane.busy.set(Math.round(t0 + (ln.busy_from_us + i * b.bucket_us) / 1000), v / b.bucket_us);
      });
      this.dropped += ln.dropped || 0;
    }
    this.batches++;
    this.prune();
    this.layout();
  }

  prune() {
    const old = this.now() - KEEP_MS - 1000;
    for (const l of this.lanes.values()) {
      for (const [k, b] of l.blocks) if (b.start + b.dur < old) l.blocks.delete(k);
      for (const k of l.busy.keys()) if (k + 100 < old) l.busy.delete(k);
    }
  }

  setWindow(s) {
    this.windowS = TICK_STEP_S[s] ? s : 10;
    this.layout();
  }

  plotWidth() { return Math.max(120, this.scroll.clientWidth - GUTTER); }
  pxPerMs() { return this.plotWidth() / (this.windowS * 1000); }
  maxScroll() { return Math.max(0, this.plotWidth() * (KEEP_MS / (this.windowS * 1000) - 1)); }

  height() {
    return AXIS + LOOP_H + BUSY_H + 4 + GAP + Math.max(0, this.lanes.size - 1) * (LANE_H + GAP);
  }

  // Sizes the scrollable track (a minute at the window's scale) and the
  // canvas (the visible part, kept in place while the track scrolls).
  layout() {
    const w = this.scroll.clientWidth;
    const h = this.height();
    const dpr = window.devicePixelRatio || 1;
    this.track.style.width = `${w + this.maxScroll()}px`;
    this.track.style.height = `${h}px`;
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
    this.place();
    this.draw();
  }

  // Scrolls the track to the view's moment: the right end when following,
  // else wherever viewTo now is (it drifts left as now moves on).
  place() {
    const max = this.maxScroll();
    if (!this.follow) this.viewTo = Math.max(this.viewTo, this.now() - KEEP_MS + this.windowS * 1000);
    const left = this.follow ? max : max - (this.now() - this.viewTo) * this.pxPerMs();
    if (Math.abs(this.scroll.scrollLeft - left) >= 1) {
      this.scroll.scrollLeft = left;
      this.placed = this.scroll.scrollLeft;
    }
  }

  // The time span the view shows, in server ms.
  view() {
    const to = this.follow ? this.now() : this.viewTo;
    return { from: to - this.windowS * 1000, to };
  }

  draw() {
    const c = this.canvas.getContext('2d');
    const dpr = window.devicePixelRatio || 1;
    const w = this.scroll.clientWidth;
    const { from, to } = this.view();
    const k = this.pxPerMs();
    const xOf = (t) => GUTTER + (t - from) * k;
    this.span = { from, to, windowS: this.windowS, follow: this.follow, paused: this.pausedAt !== null };
    this.boxes = [];
    this.busyBars = [];
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, w, this.height());
    c.font = '12px system-ui, "DejaVu Sans", sans-serif';
    c.textBaseline = 'middle';

    // time axis: clock ticks (mm:ss) and their grid lines
    const step = TICK_STEP_S[this.windowS] * 1000;
    this.ticks = [];
    c.fillStyle = '#6d6157';
    c.strokeStyle = '#e4dcd2';
    c.textAlign = 'center';
    for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
      const x = xOf(t);
      const label = clock(t);
      this.ticks.push(label);
      c.beginPath();
      c.moveTo(x + 0.5, AXIS - 4);
      c.lineTo(x + 0.5, this.height());
      c.stroke();
      if (x > GUTTER + 16 && x < w - 16) c.fillText(label, x, AXIS / 2);
    }

    let y = AXIS;
    let shown = 0;
    const lanes = [...this.lanes.entries()].sort((a, b) => a[0] - b[0]);
    for (const [n, lane] of lanes) {
      const h = n === 0 ? LOOP_H : LANE_H;
      c.fillStyle = '#faf7f2';
      c.fillRect(GUTTER, y, w - GUTTER, h);
      c.fillStyle = '#2b2118';
      c.textAlign = 'left';
      c.fillText(fit(c, lane.name, GUTTER - 8), 4, y + h / 2);
      c.save();
      c.beginPath();
      c.rect(GUTTER, y, w - GUTTER, h);
      c.clip();
      for (const b of lane.blocks.values()) {
        if (b.start > to || b.start + b.dur < from) continue;
        // whole pixels, so edges are crisp and a 1 ms sliver is one solid pixel wide
        const x0 = Math.round(Math.max(GUTTER, xOf(b.start)));
        const x1 = Math.round(Math.min(w, xOf(b.start + b.dur)));
        const bw = Math.max(1, x1 - x0);
        c.fillStyle = COLORS[b.tag] || COLORS.none;
        c.fillRect(x0, y + 2, bw, h - 4);
        if (n === 0 && this.slowMs && b.dur > this.slowMs) { // a band, so the label stays legible
          const xs = Math.max(x0, xOf(b.start + this.slowMs));
          if (x1 > xs) hatch(c, xs, y + h - 9, x1 - xs, 7);
        }
        if (bw > 40) {
          c.fillStyle = '#fff';
          c.fillText(fit(c, b.label, bw - 8), x0 + 4, n === 0 ? y + h / 2 - 3 : y + h / 2);
        }
        this.boxes.push({ x: x0, y: y + 2, w: bw, h: h - 4, ...b });
        shown++;
      }
      c.restore();
      y += h;
      if (n === 0) { // the loop's busy fraction per 100 ms
        const top = y + 2;
        c.fillStyle = '#6d6157';
        c.fillText('loop busy', 4, top + BUSY_H / 2);
        c.fillStyle = '#f1ebe3';
        c.fillRect(GUTTER, top, w - GUTTER, BUSY_H);
        c.fillStyle = BUSY_COLOR;
        for (const [t, f] of lane.busy) {
          if (t + 100 < from || t > to || f <= 0) continue;
          // whole pixels, as the blocks: neighbouring buckets meet without a seam
          const bh = Math.max(1, Math.round(Math.min(1, f) * BUSY_H));
          const x0 = Math.round(Math.max(GUTTER, xOf(t)));
          const x1 = Math.round(Math.min(w, xOf(t + 100)));
          c.fillRect(x0, top + BUSY_H - bh, Math.max(1, x1 - x0), bh);
          this.busyBars.push({ x: x0, w: Math.max(1, x1 - x0), f });
        }
        y += BUSY_H + 4;
      }
      y += GAP;
    }

    // now
    const xn = xOf(this.now());
    if (xn >= GUTTER && xn <= w) {
      c.strokeStyle = '#8a4b16';
      c.beginPath();
      c.moveTo(xn - 0.5, AXIS - 4);
      c.lineTo(xn - 0.5, this.height());
      c.stroke();
    }
    this.describe(shown);
  }

  // The words for what the canvas shows (its accessible name, and the note).
  describe(shown) {
    const loop = [...this.lanes.get(0).blocks.values()]
      .filter((b) => b.start + b.dur >= this.span.from && b.start <= this.span.to);
    const longest = loop.reduce((m, b) => (!m || b.dur > m.dur ? b : m), null);
    this.canvas.setAttribute('aria-label', `Loop timeline from ${clock(this.span.from)} to ${clock(this.span.to)}: ` +
      `${loop.length} blocks on the loop${longest ? `, the longest ${longest.label} (${ms(longest.dur)})` : ''}, ` +
      `${shown - loop.length} on the baristas.`);
    let text = '';
    if (!this.batches) text = 'The server has not sent a loop timeline yet (timeline events on /events, docs/timeline.md).';
    else if (!shown) text = `Nothing held a lane for ${ms(this.thresholdMs)} or more in this window.`;
    else if (this.dropped) text = `${this.dropped} blocks were lost before they could be sent (the server's ring is bounded).`;
    this.note.textContent = text;
  }

  hover(e) {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const hit = this.boxes.find((b) => y >= b.y && y <= b.y + b.h && x >= b.x - 3 && x <= b.x + b.w + 3);
    if (!hit) { this.tip.hidden = true; return; }
    this.tip.textContent = `${hit.label} — ${ms(hit.dur)} at ${clock(hit.start, true)}${hit.tag ? ` (${hit.tag})` : ''}`;
    this.tip.hidden = false;
    const wrap = this.tip.offsetParent ? this.tip.offsetParent.getBoundingClientRect() : r;
    const left = Math.min(Math.max(0, e.clientX - wrap.left - 20), Math.max(0, wrap.width - this.tip.offsetWidth));
    this.tip.style.left = `${left}px`;
    this.tip.style.top = `${e.clientY - wrap.top + 14}px`;
  }

  // For tests: what the page holds and what it drew.
  model() {
    const out = {};
    for (const [n, l] of this.lanes) out[n] = { name: l.name, blocks: l.blocks.size, busy: l.busy.size };
    return out;
  }
}

// text cut with an ellipsis to fit width px (canvas would squeeze it instead)
function fit(c, text, width) {
  if (c.measureText(text).width <= width) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (c.measureText(`${text.slice(0, mid)}…`).width <= width) lo = mid;
    else hi = mid - 1;
  }
  return lo ? `${text.slice(0, lo)}…` : '';
}

function hatch(c, x, y, w, h) {
  c.save();
  c.beginPath();
  c.rect(x, y, w, h);
  c.clip();
  c.fillStyle = '#7b1f16';
  c.fillRect(x, y, w, h);
  c.strokeStyle = 'rgba(255,255,255,.6)';
  c.lineWidth = 2;
  for (let i = x - h; i < x + w; i += 5) {
    c.beginPath();
    c.moveTo(i, y + h);
    c.lineTo(i + h, y);
    c.stroke();
  }
  c.restore();
}

const pad = (n, k = 2) => String(n).padStart(k, '0');
function clock(t, precise = false) {
  const d = new Date(t);
  const s = `${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return precise ? `${pad(d.getHours())}:${s}.${pad(d.getMilliseconds(), 3)}` : s;
}

function ms(v) {
  if (v == null) return '?';
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ms`;
}
