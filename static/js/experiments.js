// The lessons asyncio tutorials teach, as live experiments against this
// server (docs/experiments.md). Each one runs its orders at its own
// ?time_scale (0.2), whatever --time-scale the server runs at, so it
// finishes in a few seconds (the lunch, 35 recipe seconds, in 7); it measures with the
// browser's clock, as a customer would, and reports recipe seconds (real
// seconds / scale) next to the figure the recipe predicts. The expected
// figures are computed from GET /menu, so they follow a --menu file; an
// experiment whose items the menu lacks says so instead of running.
import { el } from './dom.js';

// Real seconds per recipe second. Short enough that each experiment takes a
// few seconds, long enough that a browser's own few ms per request (tens on
// a loaded machine) stay small next to the brews.
const SCALE = 0.2;
const TOLERANCE = 0.15; // a measured figure within 15 % of the expected one is "as expected"
const NEAR_ZERO = 0.5;  // recipe s: the slack for figures expected to be ~0
const DEADLINE = 3;     // recipe s the wait_for experiment gives a 5 s latte
const CANCEL_AT = 3;    // recipe s after which the cancel experiment sends DELETE

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withScale = (path, scale) => `${path}${path.includes('?') ? '&' : '?'}time_scale=${scale}`;

async function send(method, path, body, headers = {}) {
  const t0 = now();
  const res = await fetch(path, {
    method,
    cache: 'no-store',
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try { json = await res.json(); } catch { /* an empty or non-JSON body */ }
  return { status: res.status, json, ms: now() - t0, end: now() };
}

// What an experiment's run() gets: its scale, and helpers bound to it.
function bench(scale) {
  return {
    scale,
    recipe: (ms) => ms / 1000 / scale,
    realMs: (recipeS) => Math.round(recipeS * scale * 1000),
    path: (path) => withScale(path, scale),
    order: (mode, item, query = '', extra = {}) =>
      send('POST', withScale(`/${mode}/order${query}`, scale), { item, ...extra }),
  };
}

function expectStatus(r, want, what) {
  if (r.status !== want) {
    const why = r.json && (r.json.detail || r.json.title);
    throw new Error(`${what}: HTTP ${r.status}${why ? ` (${why})` : ''}, expected ${want}`);
  }
}

// A row of a result table. expected/measured are recipe seconds, or strings
// compared for equality (an HTTP status, an order status). slack: how far
// from the expected figure still counts as expected (15 %, or NEAR_ZERO
// recipe seconds for a figure expected to be ~0).
const row = (label, expected, measured, note) => ({
  label, expected, measured, note,
  slack: typeof expected === 'number' ? (expected === 0 ? NEAR_ZERO : TOLERANCE * expected) : null,
});

export function verdict(r) {
  if (typeof r.expected !== 'number') return String(r.measured) === String(r.expected);
  if (typeof r.measured !== 'number' || !Number.isFinite(r.measured)) return false;
  return Math.abs(r.measured - r.expected) <= r.slack;
}

// /healthz asked every 10 ms (at most 3 at a time: a browser opens 6
// connections per server, the event stream and the order hold two) while
// fn runs; fn is sent once ten probes have come back, so the usual round
// trip is known before anything can block. Resolves with fn's result and each
// probe's send and answer times (this page's clock).
async function probing(fn) {
  let stop = false, outstanding = 0;
  const probes = [];
  const loop = (async () => {
    while (!stop) {
      if (outstanding < 3) {
        outstanding++;
        const p = { t0: now(), t1: Infinity };
        probes.push(p);
        fetch('/healthz', { cache: 'no-store' }).then((r) => r.arrayBuffer()).catch(() => {}).finally(() => {
          p.t1 = now();
          outstanding--;
        });
      }
      await sleep(10);
    }
    while (outstanding) await sleep(5);
  })();
  while (probes.filter((p) => p.t1 < Infinity).length < 10) await sleep(10);
  const sent = now();
  let result;
  try {
    result = await fn();
  } finally {
    stop = true;
    await loop;
  }
  return { result, probes, sent };
}

// The stall of the probes that were out while [from, to] (this page's clock)
// ran: how much longer than the usual probe (the median of the ten before
// the order) the three slowest of them took (their median). A blocked loop
// holds every probe of that window until it ends; one probe's hiccup on a
// busy machine, or a pause outside the window, is no stall.
function stallOver({ probes, sent }, from, to) {
  const ms = (p) => p.t1 - p.t0;
  const before = probes.filter((p) => p.t1 <= sent).map(ms).sort((a, b) => a - b);
  const usual = before[before.length >> 1] || 0;
  const during = probes.filter((p) => p.t0 < to && p.t1 > from).map(ms).sort((a, b) => a - b);
  const slowest = during.length >= 3 ? during.at(-2) : during.at(-1) || 0; // the median of the top three
  return { stall: Math.max(0, slowest - usual), usual, count: during.length };
}

// When an order's steps of one kind ran (or, for kind null, the whole brew),
// on this page's clock: the server's offsets, anchored at the moment the
// answer arrived, which is when the order was ready.
function whenRan(r, kind) {
  const o = r.json, ready = o.times.ready, started = o.times.started;
  const steps = o.steps.filter((s) => kind === null || s.kind === kind);
  const first = kind === null ? started : started + Math.min(...steps.map((s) => s.start_ms));
  const last = kind === null ? ready : started + Math.max(...steps.map((s) => s.end_ms));
  return { from: r.end - (ready - first), to: r.end - (ready - last) };
}

// Reads an NDJSON response line by line, noting when each arrived.
async function ndjsonLines(res, t0) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  const lines = [];
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) lines.push({ at: now() - t0, order: JSON.parse(line) });
    }
  }
  return lines;
}

const secs = (it, mode) => (mode === 'sync' ? it.seconds.sync : it.seconds.async);
const handsOn = (it) => it.steps.filter((s) => s.kind === 'hands').reduce((n, s) => n + s.seconds, 0);

// Each experiment: what it shows, the curl that does the same (H is the
// server's address, S the experiment's time scale), the menu items it
// needs, and run(items, x) -> rows, x being bench(scale).
export const EXPERIMENTS = [
  {
    id: 'coffees',
    title: 'Two customers, two coffees',
    lesson: 'time.sleep() vs await asyncio.sleep()',
    explain: 'A latte and a cappuccino ordered at the same moment. In sync mode each brew blocks the loop, so the second customer waits for the first; in async mode both timers run at once.',
    needs: ['latte', 'cappuccino'],
    curl: () => `time (for item in latte cappuccino; do
  curl -s -o /dev/null -X POST "$H/sync/order?time_scale=$S" -d item=$item &
done; wait)          # then the same with /async/order`,
    why: 'sync adds the brews up; async takes as long as the longest one.',
    async run({ latte, cappuccino }, x) {
      const two = async (mode) => {
        const t0 = now();
        const rs = await Promise.all([x.order(mode, 'latte'), x.order(mode, 'cappuccino')]);
        rs.forEach((r) => expectStatus(r, 201, `${mode} order`));
        return x.recipe(now() - t0);
      };
      const sync = await two('sync');
      const async = await two('async');
      return [
        row('sync: both served after', latte.seconds.sync + cappuccino.seconds.sync, sync, 'one after the other'),
        row('async: both served after', Math.max(latte.seconds.async, cappuccino.seconds.async), async, 'together'),
      ];
    },
  },
  {
    id: 'pourover',
    title: 'The pourover: boil and grind at once',
    lesson: 'asyncio.gather() of independent steps',
    explain: 'A pourover boils water (3 s) and grinds beans (2 s), then brews by hand (1 s). Sync does one step after another; async and thread start both waits together and brew once both are done.',
    needs: ['pourover'],
    curl: () => `for mode in sync async thread; do
  curl -s -o /dev/null -w "$mode %{time_total} s\\n" -X POST "$H/$mode/order?time_scale=$S" -d item=pourover
done`,
    why: 'the waits overlap (the longer of 3 and 2, then 1) instead of adding up (3 + 2 + 1).',
    async run({ pourover }, x) {
      const rows = [];
      for (const mode of ['sync', 'async', 'thread']) {
        const r = await x.order(mode, 'pourover');
        expectStatus(r, 201, `${mode} pourover`);
        rows.push(row(`${mode}: ready after`, secs(pourover, mode), x.recipe(r.ms)));
      }
      return rows;
    },
  },
  {
    id: 'lunch',
    title: 'Lunch, and who else is kept waiting',
    lesson: 'a coroutine that never awaits vs asyncio.to_thread()',
    explain: 'Lunch cooks pasta (10 s) and meatloaf (3 s) and peels an avocado by hand (2 s), while this page asks GET /healthz every 10 ms. In async mode the peeling blocks the loop, so the health probe stalls; in thread mode a barista peels and the loop stays free.',
    needs: ['lunch'],
    curl: () => `curl -s -o /dev/null -X POST "$H/async/order?time_scale=$S" -d item=lunch &
sleep 0.02; curl -s -o /dev/null -w 'healthz answered after %{time_total} s\\n' "$H/healthz"; wait`,
    why: 'the probe waits exactly as long as the loop is blocked: the whole lunch in sync mode, the hands-on avocado in async mode, never in thread mode.',
    async run({ lunch }, x) {
      const rows = [];
      const stall = { sync: secs(lunch, 'sync'), async: handsOn(lunch), thread: 0 };
      for (const mode of ['sync', 'async', 'thread']) {
        const p = await probing(() => x.order(mode, 'lunch'));
        expectStatus(p.result, 201, `${mode} lunch`);
        rows.push(row(`${mode}: lunch ready after`, secs(lunch, mode), x.recipe(p.result.ms)));
        // sync blocks for the whole brew; async and thread are judged while
        // the avocado is peeled (on the loop, or by a barista)
        const w = whenRan(p.result, mode === 'sync' ? null : 'hands');
        const s = stallOver(p, w.from, w.to);
        rows.push(row(`${mode}: /healthz stalled for`, stall[mode], x.recipe(s.stall),
          `the 3 slowest of the ${s.count} probes out while ${mode === 'sync' ? 'it brewed' : 'the avocado was peeled'}, beyond the usual ${s.usual.toFixed(0)} ms`));
      }
      return rows;
    },
  },
  {
    id: 'fire-and-forget',
    title: 'Fire and forget',
    lesson: 'asyncio.create_task()',
    explain: 'POST …?wait=0 answers 202 Accepted at once, with the order\'s Location; the brew goes on with nobody waiting, and the order is ready later.',
    needs: ['latte'],
    curl: () => `curl -si -X POST "$H/async/order?wait=0&time_scale=$S" -d item=latte | grep -iE '^(HTTP|location)'
sleep 1.1; curl -s "$H/orders?limit=1"     # the newest order, now "status":"ready"`,
    why: 'the answer does not wait for the brew, as create_task() returns before the task has run.',
    async run({ latte }, x) {
      const t0 = now();
      const r = await x.order('async', 'latte', '?wait=0');
      expectStatus(r, 202, 'order with ?wait=0');
      const when = r.json.status;
      let o = r.json;
      while (o.status !== 'ready') {
        if (now() - t0 > 20000 || o.status === 'cancelled' || o.status === 'failed') throw new Error(`the order is ${o.status}`);
        await sleep(10);
        o = (await send('GET', `/orders/${o.id}`)).json;
      }
      return [
        row('answered after', 0, x.recipe(r.ms), `HTTP ${r.status}, the order ${when}`),
        row('answer', '202', String(r.status)),
        row('the order was ready after', latte.seconds.async, x.recipe(now() - t0), 'seen by polling GET /orders/ID'),
      ];
    },
  },
  {
    id: 'wait-for',
    title: 'A deadline',
    lesson: 'asyncio.wait_for(…, timeout)',
    explain: `?timeout_ms gives a 5 s latte ${DEADLINE} recipe seconds: the answer is 504 and the brew is cancelled. In sync mode the deadline can only be checked between steps, because a blocked loop runs no timers.`,
    needs: ['latte'],
    curl: (x) => `curl -s -w '\\n%{http_code} after %{time_total} s\\n' -X POST "$H/async/order?timeout_ms=${x.realMs(DEADLINE)}&time_scale=$S" -d item=latte`,
    why: 'async cancels at the deadline; sync only notices it once the step it is blocked in is over.',
    async run({ latte }, x) {
      const q = `?timeout_ms=${x.realMs(DEADLINE)}`;
      const a = await x.order('async', 'latte', q);
      const s = await x.order('sync', 'latte', q);
      const status = (r) => (r.json && r.json.order ? r.json.order.status : '?');
      return [
        row('async: answered after', DEADLINE, x.recipe(a.ms), `HTTP ${a.status}`),
        row('async: answer', '504', String(a.status)),
        row('async: the order', 'cancelled', status(a)),
        row('sync: answered after', latte.seconds.sync, x.recipe(s.ms), `HTTP ${s.status}`),
        row('sync: answer', '504', String(s.status)),
      ];
    },
  },
  {
    id: 'cancel',
    title: 'Cancelling a brew',
    lesson: 'task.cancel()',
    explain: `A latte is ordered and its client waits; ${CANCEL_AT} recipe seconds later DELETE /orders/ID cancels it. The DELETE answers at once, and so does the client that was waiting, with the order cancelled.`,
    needs: ['latte'],
    curl: (x) => `curl -s -X POST "$H/async/order?time_scale=$S" -d item=latte & sleep ${x.realMs(CANCEL_AT) / 1000}
ID=$(curl -s "$H/orders?status=brewing&limit=1" | grep -o '[0-9]\\+' | head -1)
curl -s -o /dev/null -w 'DELETE %{http_code} after %{time_total} s\\n' -X DELETE "$H/orders/$ID"; wait`,
    why: 'cancellation drops the brew\'s timers and answers whoever waits, without waiting for the brew.',
    async run({ latte }, x) {
      const customer = `lesson-${Math.random().toString(36).slice(2, 10)}`;
      const t0 = now();
      const waiting = x.order('async', 'latte', '', { customer });
      let id = null;
      while (id === null) {
        if (now() - t0 > 5000) throw new Error('the order never showed up in GET /orders');
        const list = (await send('GET', '/orders?status=brewing&limit=100')).json;
        const o = list && list.orders.find((y) => y.customer === customer);
        if (o) id = o.id;
        else await sleep(5);
      }
      await sleep(Math.max(0, x.realMs(CANCEL_AT) - (now() - t0)));
      const sentAt = now() - t0;
      const del = await send('DELETE', `/orders/${id}`);
      expectStatus(del, 200, 'DELETE');
      const w = await waiting;
      return [
        row('DELETE answered after', 0, x.recipe(del.ms), `HTTP ${del.status}`),
        row('the waiting client answered at', x.recipe(sentAt), x.recipe(w.end - t0), `when the DELETE was sent, not at ${latte.seconds.async}`),
        row('its order', 'cancelled', w.json ? w.json.status : '?'),
      ];
    },
  },
  {
    id: 'gather',
    title: 'All at once, or each as it comes',
    lesson: 'asyncio.gather() vs asyncio.as_completed()',
    explain: 'One batch of a lunch, a latte and a drip, in thread mode (so the avocado holds nobody back; in async mode it would). POST /orders answers once all are done, in request order; with Accept: application/x-ndjson each order is a line the moment it is ready.',
    needs: ['lunch', 'latte', 'drip'],
    curl: () => `B='{"mode":"thread","orders":[{"item":"lunch"},{"item":"latte"},{"item":"drip"}]}'
curl -s -X POST "$H/orders?time_scale=$S" -d "$B"
curl -sN -X POST "$H/orders?time_scale=$S" -H 'Accept: application/x-ndjson' -d "$B"`,
    why: 'gather waits for the slowest and keeps the request order; as_completed hands each result over as soon as it exists.',
    async run(items, x) {
      const batch = { mode: 'thread', orders: [{ item: 'lunch' }, { item: 'latte' }, { item: 'drip' }] };
      const g = await send('POST', x.path('/orders'), batch);
      expectStatus(g, 200, 'gather batch');
      const slowest = Math.max(...batch.orders.map((o) => secs(items[o.item], 'thread')));
      const rows = [row('gather: all answered after', slowest, x.recipe(g.ms), `in request order: ${g.json.orders.map((o) => o.item).join(', ')}`)];
      const t0 = now();
      const res = await fetch(x.path('/orders'), {
        method: 'POST',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json', Accept: 'application/x-ndjson' },
        body: JSON.stringify(batch),
      });
      if (res.status !== 200) throw new Error(`as_completed batch: HTTP ${res.status}`);
      const lines = await ndjsonLines(res, t0);
      if (lines.length !== batch.orders.length) throw new Error(`as_completed: ${lines.length} lines`);
      for (const [i, l] of lines.entries())
        rows.push(row(`as_completed: line ${i + 1}, ${l.order.item}, after`, secs(items[l.order.item], 'thread'), x.recipe(l.at)));
      const want = batch.orders.map((o) => o.item).sort((a, b) => secs(items[a], 'thread') - secs(items[b], 'thread'));
      rows.push(row('as_completed: line order', want.join(', '), lines.map((l) => l.order.item).join(', ')));
      return rows;
    },
  },
];

// The panel: one card per experiment, one button each; one runs at a time.
export class Experiments {
  constructor(doc, root) {
    this.doc = doc;
    this.root = root;
    this.menu = null;
    this.busy = false;
    this.results = {}; // id -> { state: 'running'|'done'|'error', rows, error, seconds }
    this.cards = new Map();
    for (const ex of EXPERIMENTS) this.cards.set(ex.id, this.card(ex));
    root.replaceChildren(...this.cards.values());
  }

  setMenu(menu) {
    this.menu = new Map((menu.items || []).map((it) => [it.name, it]));
    for (const ex of EXPERIMENTS) {
      const c = this.cards.get(ex.id);
      const missing = ex.needs.filter((n) => !this.menu.has(n));
      c.querySelector('button').disabled = missing.length > 0;
      if (missing.length) this.status(ex.id, `needs ${missing.join(', ')} on the menu (the built-in one has them)`);
    }
  }

  card(ex) {
    const d = this.doc;
    const art = el(d, 'article', 'lesson');
    art.id = `lesson-${ex.id}`;
    art.dataset.id = ex.id;
    const head = el(d, 'div', 'lesson-head');
    const h = el(d, 'h3', null, ex.title);
    h.id = `lesson-${ex.id}-h`;
    art.setAttribute('aria-labelledby', h.id);
    const btn = el(d, 'button', 'run', 'Run');
    btn.type = 'button';
    btn.setAttribute('aria-describedby', h.id);
    btn.addEventListener('click', () => this.run(ex.id));
    head.append(h, btn);
    art.append(head, el(d, 'p', 'lesson-what', ex.lesson), el(d, 'p', 'lesson-explain', ex.explain));
    const out = el(d, 'div', 'lesson-out');
    out.setAttribute('aria-live', 'polite');
    const st = el(d, 'p', 'lesson-status', 'Not run yet.');
    out.append(st);
    art.append(out);
    const x = bench(ex.scale || SCALE);
    const pre = el(d, 'pre', 'curl');
    pre.append(el(d, 'code', null, `H=${d.location.origin} S=${x.scale}\n${ex.curl(x)}`));
    const cap = el(d, 'p', 'curl-h', `At time_scale ${x.scale}: one recipe second lasts ${x.realMs(1)} ms. The same with curl:`);
    art.append(cap, pre);
    return art;
  }

  status(id, text, cls) {
    const st = this.cards.get(id).querySelector('.lesson-status');
    st.textContent = text;
    st.className = `lesson-status${cls ? ` ${cls}` : ''}`;
  }

  async run(id) {
    const ex = EXPERIMENTS.find((e) => e.id === id);
    if (!ex || this.busy || !this.menu) return;
    this.busy = true;
    for (const c of this.cards.values()) c.querySelector('button').disabled = true;
    const card = this.cards.get(id);
    card.querySelector('table')?.remove();
    card.querySelector('.lesson-why')?.remove();
    this.results[id] = { state: 'running' };
    this.status(id, 'Running…');
    const items = Object.fromEntries(ex.needs.map((n) => [n, this.menu.get(n)]));
    const t0 = now();
    try {
      const rows = await ex.run(items, bench(ex.scale || SCALE));
      const seconds = (now() - t0) / 1000;
      this.results[id] = { state: 'done', rows, seconds };
      const ok = rows.every(verdict);
      this.status(id, `Done in ${seconds.toFixed(1)} real seconds. ${ok ? 'Every figure is as expected.' : 'Some figures are off (a busy machine, or other orders in flight?).'}`, ok ? 'ok' : 'off');
      card.querySelector('.lesson-out').append(this.table(rows), el(this.doc, 'p', 'lesson-why', `Why: ${ex.why}`));
    } catch (e) {
      this.results[id] = { state: 'error', error: e.message };
      this.status(id, `Failed: ${e.message}`, 'off');
    } finally {
      this.busy = false;
      this.setMenu({ items: [...this.menu.values()] });
    }
  }

  table(rows) {
    const d = this.doc;
    const t = el(d, 'table', 'lesson-table');
    t.append(el(d, 'caption', 'sr', 'Measured against expected, in recipe seconds'));
    const head = el(d, 'tr');
    for (const h of ['', 'expected', 'measured', '']) {
      const th = el(d, 'th', null, h);
      th.scope = 'col';
      head.append(th);
    }
    t.append(el(d, 'thead'), el(d, 'tbody'));
    t.tHead.append(head);
    for (const r of rows) {
      const tr = el(d, 'tr');
      const ok = verdict(r);
      tr.dataset.ok = String(ok);
      const th = el(d, 'th', null, r.label);
      th.scope = 'row';
      if (r.note) th.append(el(d, 'span', 'note', ` (${r.note})`));
      const exp = el(d, 'td', 'expected', show(r.expected));
      const got = el(d, 'td', 'measured', show(r.measured));
      exp.dataset.value = String(r.expected);
      got.dataset.value = String(r.measured);
      const v = el(d, 'td', 'verdict', ok ? '✓' : '✗');
      v.setAttribute('aria-label', ok ? 'as expected' : 'off');
      tr.append(th, exp, got, v);
      t.tBodies[0].append(tr);
    }
    return t;
  }
}

function show(v) {
  if (typeof v !== 'number') return String(v);
  return `${v.toFixed(2)} s`;
}
