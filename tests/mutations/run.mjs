// The mutation check (see tests/mutations/README.md): breaks the server one
// line at a time in a scratch copy of the tree, builds it, runs the tests
// that claim the behaviour, and prints killed / survived / stale.
//
//   node tests/mutations/run.mjs [--fast] [--list] [--dir DIR] [--from FILE.mut] [ID-or-FILE ...]
//   node tests/mutations/run.mjs --check [--ref GITREF]... [ID-or-FILE ...]
//
// Never touches the working tree: the copy lives in DIR (default
// build-mut/, or $CAFE_MUTATION_DIR) with its own build folder, reused from
// run to run so each mutation costs one incremental build.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const HERE = path.join(ROOT, 'tests/mutations');
const KEYS = ['id', 'file', 'after', 'find', 'replace', 'tests', 'breaks', 'fast', 'timeout'];

// --- the format --------------------------------------------------------------

// Parses one .mut file: blocks of "key: value" lines separated by blank lines;
// '#' starts a comment line. Throws on a malformed block, naming file:line.
export function parseMutations(file) {
  const out = [];
  let cur = null;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const close = (n) => {
    if (!cur) return;
    for (const k of ['id', 'file', 'find', 'tests', 'breaks'])
      if (!(k in cur)) throw new Error(`${file}:${cur.line}: mutation ${cur.id ?? '?'} has no "${k}:"`);
    if (!('replace' in cur)) throw new Error(`${file}:${cur.line}: mutation ${cur.id} has no "replace:"`);
    cur.tests = cur.tests.split(/\s+/).filter(Boolean);
    cur.fast = cur.fast === 'yes';
    cur.timeout = Number(cur.timeout || 120);
    cur.source = path.relative(ROOT, file);
    out.push(cur);
    cur = null;
  };
  lines.forEach((text, i) => {
    if (/^\s*#/.test(text)) return;
    if (!text.trim()) return close(i);
    const m = /^([a-z]+):(?: (.*))?$/.exec(text);
    if (!m || !KEYS.includes(m[1])) throw new Error(`${file}:${i + 1}: expected "key: value" (${KEYS.join(', ')}), got: ${text}`);
    cur ??= { line: i + 1 };
    if (m[1] in cur) throw new Error(`${file}:${i + 1}: "${m[1]}:" twice in one mutation`);
    cur[m[1]] = m[2] ?? '';
  });
  close(lines.length);
  return out;
}

// Applies m to the text of its file: the one line whose trimmed text is
// m.find becomes m.replace, with the line's own indentation. With m.after,
// the line is the first such one after the one line whose trimmed text is
// m.after (a find that is not unique in the file, such as a repeated check).
// Returns the new text, or {stale: why} when a line is gone or no longer
// unique.
export function applyMutation(text, m) {
  const lines = text.split('\n');
  const matching = (want) => lines.flatMap((l, i) => (l.trim() === want.trim() ? [i] : []));
  const where = (hits) => `lines ${hits.map((h) => h + 1).join(', ')}`;
  const hits = matching(m.find);
  let line;
  if (m.after) {
    const anchor = matching(m.after);
    if (anchor.length !== 1)
      return { stale: anchor.length ? `"${m.after.trim()}" is on ${anchor.length} lines of ${m.file} (${where(anchor)})`
        : `no line "${m.after.trim()}" in ${m.file}` };
    line = hits.find((h) => h > anchor[0]);
    if (line === undefined) return { stale: `no line "${m.find.trim()}" after "${m.after.trim()}" in ${m.file}` };
  } else {
    if (hits.length === 0) return { stale: `no line "${m.find.trim()}" in ${m.file}` };
    if (hits.length > 1) return { stale: `"${m.find.trim()}" is on ${hits.length} lines of ${m.file} (${where(hits)})` };
    line = hits[0];
  }
  const indent = /^\s*/.exec(lines[line])[0];
  lines[line] = m.replace.trim() ? indent + m.replace.trim() : '';
  return { text: lines.join('\n'), line: line + 1 };
}

// --- the scratch copy ------------------------------------------------------------

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw r.error;
  return r;
}

// The files of the tree: git's list (tracked, and untracked but not ignored)
// in a checkout; elsewhere (a `git archive` copy) every file but the build
// folders and what set-up installs.
function treeFiles() {
  const git = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' });
  if (git.status === 0) return git.stdout.split('\0').filter(Boolean);
  const skip = /^(build[^/]*|node_modules|static\/vendor|bench\/results|\.git)$/;
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(path.join(ROOT, d), { withFileTypes: true })) {
      const rel = d ? path.join(d, e.name) : e.name;
      if (skip.test(rel)) continue;
      if (e.isDirectory()) walk(rel);
      else if (e.isFile()) out.push(rel);
    }
  };
  walk('');
  return out;
}

// Mirrors the working tree (tracked and untracked-but-not-ignored files, as
// they are now) into dir/src, copying only what differs; node_modules and
// static/vendor (ignored, installed at set-up) are linked.
function syncTree(dir) {
  const src = path.join(dir, 'src');
  const files = treeFiles();
  const want = new Set(files);
  for (const f of files) {
    const from = path.join(ROOT, f), to = path.join(src, f);
    if (!fs.existsSync(from)) continue; // deleted, not yet committed
    const a = fs.readFileSync(from);
    if (fs.existsSync(to) && a.equals(fs.readFileSync(to))) continue;
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.writeFileSync(to, a, { mode: fs.statSync(from).mode });
  }
  // Files the working tree no longer has must not linger in the copy.
  const walk = (d) => {
    for (const e of fs.readdirSync(path.join(src, d), { withFileTypes: true })) {
      const rel = path.join(d, e.name);
      if (['node_modules', 'static/vendor'].includes(rel)) continue;
      if (e.isDirectory()) walk(rel);
      else if (!want.has(rel)) fs.rmSync(path.join(src, rel));
    }
  };
  if (fs.existsSync(src)) walk('');
  for (const link of ['node_modules', 'static/vendor']) {
    const to = path.join(src, link);
    if (fs.existsSync(path.join(ROOT, link)) && !fs.existsSync(to)) fs.symlinkSync(path.join(ROOT, link), to);
  }
  return src;
}

function build(src, bdir) {
  if (!fs.existsSync(path.join(bdir, 'CMakeCache.txt')) || !/Wno-error=unused-variable/.test(
    fs.readFileSync(path.join(bdir, 'CMakeCache.txt'), 'utf8'))) {
    // A one-line breakage often leaves a variable or a static function
    // unused: a warning, not the point of the mutation (still -Werror else).
    const unused = ['unused-variable', 'unused-function', 'unused-but-set-variable', 'unused-parameter',
      'unused-value'].map((w) => `-Wno-error=${w}`).join(' ');
    const c = sh('cmake', ['-S', src, '-B', bdir, '-DCMAKE_BUILD_TYPE=RelWithDebInfo', `-DCMAKE_C_FLAGS=${unused}`]);
    if (c.status !== 0) return c;
  }
  return sh('cmake', ['--build', bdir, '-j', String(Math.max(1, Number(process.env.CAFE_MUTATION_JOBS || 2)))]);
}

// Runs the mutation's tests; each one's verdict from ctest's summary lines
// ("1/2 Test #6: unit/test_router ....***Failed  0.01 sec").
function runTests(bdir, m) {
  const regex = `^(${m.tests.map((t) => t.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`;
  const r = sh('ctest', ['-R', regex, '--timeout', String(m.timeout), '--output-on-failure'], { cwd: bdir });
  // What the tests said, for a look at why a mutation was (not) killed.
  const logs = path.join(bdir, '..', 'logs');
  fs.mkdirSync(logs, { recursive: true });
  fs.writeFileSync(path.join(logs, `${m.id}.log`), r.stdout + r.stderr);
  const verdicts = [...r.stdout.matchAll(/Test +#\d+: (\S+) [.*]*\s*(.*?)\s+[\d.]+ sec/g)]
    .map((x) => ({ name: x[1], verdict: x[2].replace(/^\*+/, '') }));
  return {
    ran: verdicts.length,
    failed: verdicts.filter((v) => !/^(Passed|Skipped)/.test(v.verdict)).map((v) => `${v.name} (${v.verdict})`),
    skipped: verdicts.filter((v) => /^Skipped/.test(v.verdict)).map((v) => v.name),
  };
}

// --- anchors only ----------------------------------------------------------------

// The text of file at a git ref ("" for the working tree), or null when the
// file is not there.
function fileAt(ref, file) {
  if (!ref) {
    const p = path.join(ROOT, file);
    return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : null;
  }
  const r = spawnSync('git', ['show', `${ref}:${file}`], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28 });
  return r.status === 0 ? r.stdout : null;
}

// --check: whether every selected mutation's line is still there, once, in
// the working tree or at each --ref (another branch, before a merge). Builds
// nothing, runs nothing: a second or so.
function checkAnchors(muts, refs) {
  let stale = 0;
  for (const ref of refs.length ? refs : ['']) {
    for (const m of muts) {
      const text = fileAt(ref, m.file);
      const why = text === null ? `${m.file} does not exist` : applyMutation(text, m).stale;
      if (why) {
        stale++;
        console.log(`STALE    ${m.id}${ref ? ` at ${ref}` : ''}: ${why} (${m.source})`);
      }
    }
  }
  const where = refs.length ? refs.join(', ') : 'the working tree';
  console.log(`mutations: ${muts.length} checked against ${where}; ${stale ? `${stale} stale` : 'every line found once'}`);
  return stale ? 1 : 0;
}

// --- main --------------------------------------------------------------------

function main(argv) {
  const opts = { fast: false, list: false, check: false, refs: [], from: [], dir: process.env.CAFE_MUTATION_DIR || path.join(ROOT, 'build-mut'), only: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--fast') opts.fast = true;
    else if (a === '--list') opts.list = true;
    else if (a === '--check') opts.check = true;
    else if (a === '--ref') opts.refs.push(argv[++i]);
    else if (a === '--from') opts.from.push(path.resolve(argv[++i]));
    else if (a === '--dir') opts.dir = path.resolve(argv[++i]);
    else if (a.startsWith('-')) { console.error(`unknown option ${a}`); return 2; }
    else opts.only.push(a);
  }
  const files = opts.from.length ? opts.from
    : fs.readdirSync(HERE).filter((f) => f.endsWith('.mut')).sort().map((f) => path.join(HERE, f));
  let muts = files.flatMap(parseMutations);
  const ids = new Map();
  for (const m of muts) {
    if (ids.has(m.id)) throw new Error(`mutation id ${m.id} is used twice (${ids.get(m.id)}, ${m.source})`);
    ids.set(m.id, m.source);
  }
  if (opts.only.length) muts = muts.filter((m) => opts.only.some((o) => o === m.id || m.source.endsWith(o) || path.basename(m.source, '.mut') === o));
  // The fast subset runs each mutation against its unit tests only (CI's
  // minute): a fast mutation must name one that kills it.
  if (opts.fast) {
    muts = muts.filter((m) => m.fast);
    for (const m of muts) {
      m.tests = m.tests.filter((t) => t.startsWith('unit/'));
      if (!m.tests.length) throw new Error(`${m.source}: fast mutation ${m.id} names no unit/ test`);
    }
  }
  if (opts.list) {
    for (const m of muts) console.log(`${m.id.padEnd(34)} ${m.file.padEnd(26)} ${m.tests.join(' ')}${m.fast ? ' (fast)' : ''}\n${''.padEnd(34)} ${m.breaks}`);
    return 0;
  }
  if (!muts.length) { console.error('no mutation selected'); return 2; }
  if (opts.check || opts.refs.length) return checkAnchors(muts, opts.refs);

  fs.mkdirSync(opts.dir, { recursive: true });
  const src = syncTree(opts.dir);
  const bdir = path.join(opts.dir, 'build');
  const t0 = Date.now();
  const base = build(src, bdir);
  if (base.status !== 0) {
    console.error(`the unmutated copy does not build:\n${base.stdout}${base.stderr}`);
    return 2;
  }
  console.log(`mutations: ${muts.length} against a copy of ${ROOT} in ${src} (built in ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  // A kill means something only if the test passes without the mutation.
  const named = [...new Set(muts.flatMap((m) => m.tests))];
  const baseline = runTests(bdir, { id: 'unmutated', tests: named, timeout: Math.max(...muts.map((m) => m.timeout)) });
  const red = new Set(baseline.failed.map((f) => f.split(' ')[0]));
  if (red.size) console.log(`unmutated, these fail already (mutations naming them are invalid): ${baseline.failed.join(', ')}`);
  const results = { killed: [], survived: [], stale: [], invalid: [] };
  for (const m of muts) {
    if (m.tests.some((t) => red.has(t))) {
      results.invalid.push(m);
      console.log(`INVALID  ${m.id}: ${m.tests.filter((t) => red.has(t)).join(' ')} fails without the mutation`);
      continue;
    }
    const file = path.join(src, m.file);
    const started = Date.now();
    const secs = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
    if (!fs.existsSync(file)) {
      results.stale.push(m);
      console.log(`STALE    ${m.id}: ${m.file} does not exist (${m.source})`);
      continue;
    }
    const pristine = fs.readFileSync(file, 'utf8');
    const mutated = applyMutation(pristine, m);
    if (mutated.stale) {
      results.stale.push(m);
      console.log(`STALE    ${m.id}: ${mutated.stale} (${m.source})`);
      continue;
    }
    try {
      fs.writeFileSync(file, mutated.text);
      const b = build(src, bdir);
      if (b.status !== 0) {
        results.invalid.push(m);
        const err = `${b.stdout}${b.stderr}`.split('\n').filter((l) => /error/.test(l)).slice(0, 3).join('\n   ');
        console.log(`INVALID  ${m.id}: the mutated tree does not build (${m.file}:${mutated.line})\n   ${err}`);
        continue;
      }
      const t = runTests(bdir, m);
      if (t.ran < m.tests.length || t.skipped.length) {
        results.invalid.push(m);
        console.log(`INVALID  ${m.id}: of ${m.tests.join(' ')}, ${t.ran} ran${t.skipped.length ? `, ${t.skipped.join(' ')} skipped` : ''} (${m.source})`);
      } else if (t.failed.length) {
        results.killed.push(m);
        console.log(`killed   ${m.id} by ${t.failed.join(', ')} (${secs()})`);
      } else {
        results.survived.push(m);
        console.log(`SURVIVED ${m.id}: ${m.file}:${mutated.line} ${m.breaks}; ${m.tests.join(' ')} stayed green (${secs()})`);
      }
    } finally {
      fs.writeFileSync(file, pristine);
    }
  }
  build(src, bdir); // leave the copy built unmutated for the next run
  const k = results.killed.length, s = results.survived.length;
  const score = k + s ? ((100 * k) / (k + s)).toFixed(0) : '-';
  console.log(`\nmutations: ${k} killed, ${s} survived, ${results.stale.length} stale, ${results.invalid.length} invalid` +
    ` of ${muts.length}; score ${score} % (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  for (const m of results.survived) console.log(`  survived: ${m.id} (${m.source}): ${m.breaks}`);
  for (const m of results.stale) console.log(`  stale: ${m.id} (${m.source}): update its find: line or retire it`);
  return s || results.stale.length || results.invalid.length ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(main(process.argv.slice(2)));
