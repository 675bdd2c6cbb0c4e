// Async Café dashboard: wires the form, the board, the charts and the stream.
// Everything the page plots is also on window.cafe, for the browser tests.
import { openStream } from './stream.js';
import { Board } from './board.js';
import { Charts } from './charts.js';
import { Lanes } from './lanes.js';
import { Experiments, EXPERIMENTS } from './experiments.js';

const $ = (id) => document.getElementById(id);
const board = new Board(document);
const charts = new Charts(document);
const lanes = new Lanes(document);
const experiments = new Experiments(document, $('lessons-list'));
const state = {
  conn: 'connecting',
  opens: 0,
  stats: [],      // the last stats events, newest last
  rushes: [],     // {mode, n, seconds, status}
  board,
  series: charts.series,
  axes: charts.axes,
  lanes,
  experiments,
  columns: () => board.columns(),
};
window.cafe = state;

const HINTS = {
  async: 'async: waiting steps are timers, so many orders brew at once on one loop.',
  sync: 'sync: every step blocks the loop. Other customers, and this page, stall: watch the lag chart.',
  thread: 'thread: hands-on steps go to barista threads; the loop never blocks.',
};

function setConn(s, detail) {
  state.conn = s;
  const p = $('conn');
  p.dataset.state = s;
  $('conn-text').textContent = {
    live: 'Live',
    connecting: 'Connecting…',
    reconnecting: 'Reconnecting…',
    down: `Disconnected${detail ? ` — ${detail}` : ''}`,
  }[s] || s;
}

async function loadOrders() {
  try {
    const r = await fetch('/orders?limit=40', { cache: 'no-store' });
    if (r.ok) board.replaceAll((await r.json()).orders || []);
  } catch { /* the stream's reconnection will bring us back here */ }
}

// The last minute of the loop timeline, for a page that opens mid-rush,
// asked for once the stream shows the server keeps one (its first batch
// after each connect); the batches carry on from there (the lanes draw a
// block once).
let timelineLoaded = false;
async function loadTimeline() {
  timelineLoaded = true;
  try {
    const r = await fetch('/timeline?seconds=60', { cache: 'no-store' });
    if (r.ok) lanes.feed(await r.json());
  } catch { /* the next batch brings what is new */ }
}

async function loadMenu() {
  try {
    const r = await fetch('/menu');
    if (!r.ok) return;
    const menu = await r.json();
    experiments.setMenu(menu);
    const item = $('item');
    item.replaceChildren(...(menu.items || []).map((it) => new Option(`${it.name} (${it.seconds?.sync ?? '?'} s sync, ${it.seconds?.async ?? '?'} s async)`, it.name)));
    const flav = $('flavour');
    flav.replaceChildren(new Option('none', ''), ...(menu.flavours || []).map((f) => new Option(f, f)));
  } catch { /* keep the defaults */ }
}

openStream({
  onState: setConn,
  onOpen: () => { state.opens++; timelineLoaded = false; loadOrders(); },
  handlers: {
    order: (d) => board.upsert(d.order),
    stats: (st) => {
      state.stats.push(st);
      if (state.stats.length > 300) state.stats.shift();
      charts.push(st);
      $('g-inflight').textContent = st.in_flight;
      $('g-queue').textContent = st.queue_depth;
      $('g-busy').textContent = `${st.baristas_busy}/${st.baristas}`;
      $('g-conns').textContent = st.connections;
      $('g-lag').textContent = `${st.lag_ms.max.toFixed(1)} ms`;
      lanes.setBaristas(st.baristas);
    },
    timeline: (batch) => {
      lanes.feed(batch);
      if (!timelineLoaded) loadTimeline();
    },
    resync: () => loadOrders(),
    shutdown: () => setConn('down', 'server shutting down'),
  },
});

function formValues() {
  const f = $('order-form');
  const mode = f.querySelector('input[name=mode]:checked').value;
  const n = Math.max(1, Math.min(100, parseInt($('rush-n').value, 10) || 1));
  const order = { item: $('item').value };
  if ($('flavour').value) order.flavour = $('flavour').value;
  if ($('customer').value.trim()) order.customer = $('customer').value.trim();
  return { mode, n, order };
}

function showResult(text, error = false) {
  const r = $('result');
  r.textContent = text;
  r.classList.toggle('error', error);
}

async function problemText(res) {
  try {
    const p = await res.json();
    return `${res.status} ${p.title || ''}${p.detail ? `: ${p.detail}` : ''}`;
  } catch { return `HTTP ${res.status}`; }
}

// One order, or a rush of n concurrent ones. A rush is one POST /orders
// batch: the server brews them concurrently in the chosen mode (a browser
// would only open ~6 connections to us, one of them the event stream).
async function place(n) {
  const { mode, order } = formValues();
  const buttons = [$('place-one'), $('place-rush')];
  buttons.forEach((b) => { b.disabled = true; });
  const who = n === 1 ? '1 customer' : `${n} customers`;
  showResult(`Serving ${who} (${mode})…`);
  const t0 = performance.now();
  try {
    const res = n === 1
      ? await fetch(`/${mode}/order`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(order) })
      : await fetch('/orders', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ mode, orders: Array.from({ length: n }, (_, i) => ({ ...order, customer: `${order.customer || 'Guest'} ${i + 1}` })) }),
      });
    const seconds = (performance.now() - t0) / 1000;
    state.rushes.push({ mode, n, seconds, status: res.status });
    if (!res.ok) return showResult(`Serving ${who} failed: ${await problemText(res)}`, true);
    showResult(`Serving ${who} took ${seconds.toFixed(2)} seconds (${mode})`);
  } catch (e) {
    showResult(`Serving ${who} failed: ${e.message}`, true);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

$('order-form').addEventListener('submit', (e) => { e.preventDefault(); place(1); });
$('place-rush').addEventListener('click', () => place(formValues().n));
const hint = () => { $('mode-hint').textContent = HINTS[formValues().mode]; };
for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', hint);
$('rush-n').addEventListener('input', () => { $('place-rush').textContent = `Rush ${formValues().n} customers`; });
$('place-rush').textContent = `Rush ${formValues().n} customers`;
hint();
loadMenu();

$('lessons-all').addEventListener('click', async () => {
  const all = $('lessons-all');
  all.disabled = true;
  try {
    for (const ex of EXPERIMENTS) await experiments.run(ex.id);
  } finally {
    all.disabled = false;
  }
});
