// Draws bench/modes.sh's results.json as SVG pictures with gnuplot:
//
//   node bench/plot.mjs RESULTS.json [OUTDIR]      (OUTDIR defaults to RESULTS.json's)
//
//   bench-throughput.svg  orders/s against concurrent connections, per mode, with the ideal
//   bench-latency.svg     p50 and p99 latency against connections, per mode
//   bench-pourover.svg    the pourover's throughput per mode next to what bounds it
//   bench-memory.svg      the server's memory with N brewing connections, per connection
//
// results.json (written by bench/modes.sh): the run's "started", "mode"
// (full, quick or smoke), "cores", "duration_s", "load_before"/"load_after";
// "runs": one object per wrk run with "section" (latte, pourover, goal,
// c10k), "mode", "item", "conns", "ideal_rps" and wrk's figures ("rps",
// "p50_ms", "p90_ms", "p99_ms", "max_ms", "requests", "non2xx",
// "socket_errors"), the server's "rss_hwm_kb" and "cpu_us_per_request";
// "goal" (the 1,000-connection run), "memory" ("connections", "idle_kb",
// "mid_kb", "peak_kb") and "open_loop" (httperf), each null when not run.
// Each picture's subtitle says what run it comes from, so a smoke run's
// pictures cannot pass for figures.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const [file, outArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/plot.mjs RESULTS.json [OUTDIR]');
  process.exit(2);
}
const res = JSON.parse(fs.readFileSync(file, 'utf8'));
const out = outArg || path.dirname(file);
fs.mkdirSync(out, { recursive: true });

const COLOR = { sync: '#c0392b', async: '#2471a3', thread: '#1e8449', ideal: '#7f7468', accent: '#8a4b16' };
const MODES = ['sync', 'async', 'thread'];
const runs = (section, mode) => res.runs.filter((r) => r.section === section && (!mode || r.mode === mode));
const fmt = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
// gnuplot strings are double-quoted here: keep the text free of quotes and
// backslashes; a newline becomes gnuplot's \n
const text = (s) => String(s).replace(/["\\]/g, '').replace(/\n/g, '\\n');

const subtitle = text(`${res.mode === 'smoke' ? 'SMOKE RUN (1 s per point: not figures)' : `${res.mode} run, ${res.duration_s} s per point`}`
  + ` -- ${res.started}, ${res.cores} cores, load average before ${res.load_before}`);

function head(name, title) {
  return [
    `set terminal svg size 860,480 dynamic enhanced font "DejaVu Sans,13" background rgb "#ffffff"`,
    `set output "${path.join(out, name)}"`,
    `set title "${text(title)}\\n{/*0.75 ${subtitle}}"`,
    'set grid lc rgb "#e4dcd2"',
    'set border lc rgb "#6d6157"',
    'set key top left box opaque',
  ];
}

// A named datablock of rows (arrays of numbers or quoted strings).
function block(name, rows) {
  return [`$${name} << EOD`, ...rows.map((r) => r.map((v) => (typeof v === 'string' ? `"${text(v)}"` : v)).join(' ')), 'EOD'];
}

function throughput() {
  const lines = head('bench-throughput.svg', 'Throughput against concurrency: latte, one 100 ms brew (time-scale 0.02)');
  const plots = [];
  const ideal = [];
  for (const m of MODES) {
    const rows = runs('latte', m).map((r) => [r.conns, r.rps, r.ideal_rps]);
    if (!rows.length) continue;
    lines.push(...block(m, rows));
    // async and thread often coincide: thread is drawn thinner, on top, with squares
    const style = m === 'thread' ? 'lw 1.5 pt 5 ps 0.9' : 'lw 3 pt 7 ps 1.3';
    plots.push(`$${m} using 1:2 with linespoints ${style} lc rgb "${COLOR[m]}" title "${m}"`);
    if (m === 'sync') ideal.push(`$sync using 1:3 with lines lw 1.5 dt 2 lc rgb "${COLOR.sync}" title "ideal sync: 1 / T (one brew at a time)"`);
    else if (!ideal.some((t) => t.includes('connections'))) ideal.push(`$${m} using 1:3 with lines lw 1.5 dt 2 lc rgb "${COLOR.ideal}" title "ideal async, thread: connections / T"`);
  }
  plots.push(...ideal);
  if (res.goal) {
    lines.push(...block('goal', [[1000, res.goal.rps]]));
    plots.push(`$goal using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb "${COLOR.accent}" title "async, 1,000 connections, longer run: ${fmt(res.goal.rps)}/s"`);
  }
  lines.push('set logscale xy 10', 'set xlabel "concurrent connections (closed loop: wrk)"',
    'set ylabel "orders per second"', 'set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05',
    'set key bottom right',
    `plot ${plots.join(', \\\n     ')}`);
  return lines;
}

function latency() {
  const lines = head('bench-latency.svg', 'Latency against concurrency: latte, one 100 ms brew');
  const plots = [];
  for (const m of MODES) {
    const rows = runs('latte', m).map((r) => [r.conns, r.p50_ms, r.p99_ms]);
    if (!rows.length) continue;
    lines.push(...block(`${m}_lat`, rows));
    plots.push(`$${m}_lat using 1:2 with linespoints lw 2.5 pt 7 ps 1.2 lc rgb "${COLOR[m]}" title "${m} p50"`);
    plots.push(`$${m}_lat using 1:3 with linespoints lw 1.5 dt 2 pt 6 ps 1.2 lc rgb "${COLOR[m]}" title "${m} p99"`);
  }
  lines.push('set logscale xy 10', 'set xlabel "concurrent connections"', 'set ylabel "ms from request to answer"',
    'set offsets graph 0.05, graph 0.05, graph 0.1, graph 0.1', 'set key top left',
    `plot 100 with lines lw 1.5 dt 3 lc rgb "${COLOR.ideal}" title "one brew: 100 ms", \\\n     ${plots.join(', \\\n     ')}`);
  return lines;
}

function pourover() {
  const BOUND = { sync: '1 / whole recipe', async: '1 / hands-on step', thread: 'baristas / hands-on' };
  const rows = MODES.flatMap((m) => runs('pourover', m).map((r) => [`${m}, ${r.conns} conns\n(bound: ${BOUND[m]})`, r.rps, r.ideal_rps]));
  if (!rows.length) return null;
  const top = Math.max(...rows.map((r) => Math.max(r[1], r[2])));
  const lines = head('bench-pourover.svg', 'What blocking costs: the pourover (its 20 ms hands-on brew) per mode');
  lines.push(...block('pour', rows), 'set style data histograms', 'set style histogram clustered gap 1.5',
    'set style fill solid 0.9 border -1', 'set boxwidth 0.9', `set yrange [0:${top * 1.3}]`, 'set ylabel "orders per second"', 'set bmargin 3.5',
    'set key top left', 'set xtics nomirror', 'unset grid', 'set grid ytics lc rgb "#e4dcd2"',
    `plot $pour using 2:xtic(1) lc rgb "${COLOR.async}" title "measured", \\\n     '' using 3 lc rgb "${COLOR.ideal}" title "what bounds it", \\\n     '' using ($0 - 0.15):2:(sprintf("%.0f/s", $2)) with labels offset 0,0.8 notitle`);
  return lines;
}

function memory() {
  const m = res.memory;
  if (!m) return null;
  const kib = (m.mid_kb - m.idle_kb) / m.connections;
  const peak = (m.peak_kb - m.idle_kb) / m.connections;
  const lines = head('bench-memory.svg', `Server memory with ${m.connections} brewing connections: ${fmt(kib)} KiB each (goal <= ${m.goal_kib_per_conn})`);
  lines.push(...block('mem', [['idle', m.idle_kb / 1024], [`${m.connections} brewing (mid-run)`, m.mid_kb / 1024], ['peak', m.peak_kb / 1024]]),
    'set style fill solid 0.9 border -1', 'set boxwidth 0.6', 'set yrange [0:*]', 'set ylabel "resident memory (MiB)"',
    'unset key', 'set xtics nomirror', 'unset grid', 'set grid ytics lc rgb "#e4dcd2"',
    `set label 1 "steady: ${fmt(kib)} KiB per connection; peak: ${fmt(peak)} KiB (transient buffers)" at graph 0.02, graph 0.93`,
    `plot $mem using 0:2:xtic(1) with boxes lc rgb "${COLOR.accent}", '' using 0:2:(sprintf("%.1f MiB", $2)) with labels offset 0,0.8`);
  return lines;
}

const script = [throughput(), latency(), pourover(), memory()].filter(Boolean).map((l) => l.join('\n')).join('\n\nreset\n\n');
const run = spawnSync('gnuplot', [], { input: script, encoding: 'utf8' });
if (run.error || run.status !== 0) {
  console.error(`plot: gnuplot failed: ${run.error ? run.error.message : run.stderr}`);
  if (process.env.PLOT_DEBUG) console.error(script);
  process.exit(1);
}
if (run.stderr.trim()) console.error(run.stderr.trim());
for (const f of ['bench-throughput.svg', 'bench-latency.svg', 'bench-pourover.svg', 'bench-memory.svg'])
  if (fs.existsSync(path.join(out, f))) console.log(path.join(out, f));
