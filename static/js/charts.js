// Live charts from the once-a-second "stats" event: throughput, latency and
// event-loop lag, per mode. uPlot is loaded from /vendor/ (copied there from
// node_modules by scripts/setup-web.sh; no CDN). The data the charts plot is
// kept in plain arrays (window.cafe.series) so tests can read it, and so are
// the tick labels each axis last drew (window.cafe.axes).

export const MODES = ['sync', 'async', 'thread'];
const COLORS = { sync: '#c0392b', async: '#2471a3', thread: '#1e8449', lag: '#8a4b16' };
const WINDOW = 120; // points (seconds) kept

export class Charts {
  constructor(doc) {
    this.doc = doc;
    this.series = {
      t: [],
      throughput: { sync: [], async: [], thread: [] },
      latency_p95: { sync: [], async: [], thread: [] },
      lag_max: [],
      in_flight: { sync: [], async: [], thread: [] },
    };
    this.plots = [];
    this.axes = {}; // chart id -> { x: [...], y: [...], n: [...] }: the labels uPlot drew
    this.ready = this.load();
  }

  async load() {
    let uPlot;
    try {
      ({ default: uPlot } = await import('/vendor/uPlot.esm.js'));
    } catch {
      for (const id of ['chart-throughput', 'chart-latency', 'chart-lag'])
        this.doc.getElementById(id).textContent = 'Charts need static/vendor/ (run scripts/setup-web.sh).';
      return;
    }
    const s = this.series;
    const perMode = (label) => MODES.map((m) => ({ label: m, stroke: COLORS[m], width: 2, spanGaps: true, points: { size: 5 }, value: (u, v) => fmt(v, label) }));
    this.plots = [
      this.make(uPlot, 'chart-throughput', 'orders/s', perMode('/s'),
        () => [s.t, ...MODES.map((m) => s.throughput[m])]),
      this.make(uPlot, 'chart-latency', 'ms', perMode(' ms'),
        () => [s.t, ...MODES.map((m) => s.latency_p95[m])]),
      this.make(uPlot, 'chart-lag', 'ms',
        [{ label: 'loop lag', stroke: COLORS.lag, width: 2, fill: 'rgba(138,75,22,.12)', value: (u, v) => fmt(v, ' ms') },
          ...MODES.map((m) => ({ label: `${m} in flight`, stroke: COLORS[m], width: 1, dash: [4, 4], scale: 'n', value: (u, v) => fmt(v, '') }))],
        () => [s.t, s.lag_max, ...MODES.map((m) => s.in_flight[m])], true),
    ];
    const resize = () => { for (const p of this.plots) p.fit(); };
    new ResizeObserver(resize).observe(this.doc.body);
    this.redraw();
  }

  // Every axis shows values even before there is data: the time axis spans at
  // least the last minute, the value axes at least 0..1.
  make(uPlot, id, unit, series, data, secondAxis = false) {
    const root = this.doc.getElementById(id);
    const width = () => Math.max(200, root.clientWidth || 320);
    const drawn = (this.axes[id] = { x: [], y: [] });
    const labels = (key, format) => (u, splits) => (drawn[key] = splits.map(format));
    const fromZero = (u, min, max) => [0, uPlot.rangeNum(0, max > 0 ? max : 1, 0.1, true)[1]];
    const axes = [
      { space: 70, values: labels('x', clock) },
      { label: unit, size: 56, values: labels('y', (v) => fmt(v, '')) },
    ];
    const scales = {
      x: { time: true },
      y: { range: fromZero },
    };
    if (secondAxis) {
      axes.push({ scale: 'n', side: 1, label: 'in flight', grid: { show: false }, size: 44, values: labels('n', (v) => fmt(v, '')) });
      scales.n = { range: (u, min, max) => [0, Math.max(1, max)] };
    }
    const opts = { width: width(), height: 200, series: [{}, ...series], axes, scales, legend: { live: false } };
    const plot = new uPlot(opts, data(), root);
    // uPlot's own range for a single point is the epoch: set the time scale here
    const draw = () => {
      const d = data();
      plot.setData(d);
      const [min, max] = lastMinute(d[0][0], d[0].at(-1));
      plot.setScale('x', { min, max });
    };
    draw();
    return { fit: () => plot.setSize({ width: width(), height: 200 }), draw };
  }

  push(st) {
    const s = this.series;
    s.t.push(st.t / 1000);
    s.lag_max.push(st.lag_ms.max);
    for (const m of MODES) {
      const ms = st.modes[m] || {};
      s.throughput[m].push(ms.orders_per_s ?? 0);
      s.latency_p95[m].push(ms.finished ? ms.latency_ms.p95 : null);
      s.in_flight[m].push(ms.in_flight ?? 0);
    }
    if (s.t.length > WINDOW) {
      s.t.shift();
      s.lag_max.shift();
      for (const m of MODES) { s.throughput[m].shift(); s.latency_p95[m].shift(); s.in_flight[m].shift(); }
    }
    this.redraw();
  }

  redraw() {
    for (const p of this.plots) p.draw();
  }
}

// x: seconds since the epoch, shown as the time of day.
function clock(t) {
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function lastMinute(min, max) {
  if (min == null || max == null) {
    const now = Date.now() / 1000;
    return [now - 60, now];
  }
  return [Math.min(min, max - 60), max];
}

function fmt(v, unit) {
  if (v == null) return '–';
  return `${v < 10 ? v.toFixed(2) : v.toFixed(0)}${unit}`;
}
