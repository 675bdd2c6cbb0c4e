// docs/contract.md's table of settings is true to the binary: every flag of
// `cafe-server --help` is in it and nothing else, with the same environment
// name, default and range; the rows marked "limit" are exactly the
// cafe_config_limit metrics, and a server started without flags exports each
// with the documented default. A default changed in the code (or a flag
// added) without the page fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SERVER_BIN, SOURCE_DIR, startServer, request } from '../lib/server.mjs';

// {name: {env, def, range}} from --help: a "  --name ..." line, then its
// "      env CAFE_X, default D[, range A..B]" line.
function helpSettings() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAFE_')));
  const out = execFileSync(SERVER_BIN, ['--help'], { encoding: 'utf8', env });
  const settings = {};
  let name = null;
  for (const line of out.split('\n')) {
    const flag = /^ {2}--([a-z-]+)/.exec(line);
    if (flag) { name = flag[1]; continue; }
    const m = /^ {6}env (CAFE_[A-Z_]+), default (.*?)(?:, range (\S+))?$/.exec(line);
    if (m && name) settings[name] = { env: m[1], def: m[2], range: m[3] || null };
  }
  delete settings.help;
  delete settings.version;
  return settings;
}

// {name: {env, def, range, limit}} from the page's table.
function docSettings() {
  const page = fs.readFileSync(path.join(SOURCE_DIR, 'docs/contract.md'), 'utf8');
  const settings = {};
  for (const line of page.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const flag = /^`--([a-z-]+)`$/.exec(cells[1] || '');
    if (!flag || cells.length < 8) continue;
    const unquote = (c) => c.replace(/^`|`$/g, '');
    settings[flag[1]] = {
      env: unquote(cells[2]), def: unquote(cells[3]), range: cells[4], limit: cells[5] === 'yes',
    };
  }
  return settings;
}

test('the table of settings in docs/contract.md matches --help', () => {
  const help = helpSettings();
  const docs = docSettings();
  assert.ok(Object.keys(help).length >= 20, 'parsed the flags of --help');
  assert.deepEqual(Object.keys(docs).sort(), Object.keys(help).sort(), 'the same flags');
  for (const [name, h] of Object.entries(help)) {
    const d = docs[name];
    assert.equal(d.env, h.env, `--${name}: environment name`);
    assert.equal(d.def, h.def, `--${name}: default`);
    if (h.range) assert.equal(d.range, h.range, `--${name}: range`);
    else assert.doesNotMatch(d.range, /\.\./, `--${name}: no numeric range in --help`);
  }
});

test('the limits of the table are the cafe_config_limit metrics, at their documented defaults', async () => {
  const docs = docSettings();
  const env = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('CAFE_')).map((k) => [k, '']));
  const srv = await startServer([], env);
  try {
    const m = await request(srv.url + '/metrics');
    const exported = {};
    for (const [, name, value] of m.body.matchAll(/^cafe_config_limit\{name="([a-z_]+)"\} (\S+)$/gm)) {
      exported[name] = Number(value);
    }
    const documented = Object.entries(docs).filter(([, d]) => d.limit);
    assert.deepEqual(Object.keys(exported).sort(),
      documented.map(([name]) => name.replaceAll('-', '_')).sort(), 'one metric per documented limit');
    for (const [name, d] of documented) {
      const value = exported[name.replaceAll('-', '_')];
      if (name === 'max-connections') {
        assert.ok(value > 0, 'max_connections: derived from the descriptor limit (default 0)');
      } else {
        assert.equal(value, Number(d.def), `${name}: the value in effect is the documented default`);
      }
    }
  } finally {
    await srv.stop();
  }
});
