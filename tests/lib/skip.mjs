// A test file that cannot run on this machine says why and exits 77, which
// tests/CMakeLists.txt registers as ctest's SKIP_RETURN_CODE: it shows as
// "Skipped" (and scripts/test.sh lists it), never as "Passed". node:test's
// t.skip() would pass silently, so the suite does not use it.
import { spawnSync } from 'node:child_process';

export function skipFile(reason) {
  console.log(`skip: ${reason}`);
  process.exit(77);
}

// Skips the file unless `tool args...` runs (exit status 0).
export function needTool(tool, args = ['--version'], hint = 'scripts/setup.sh test installs it') {
  const r = spawnSync(tool, args, { stdio: 'ignore' });
  if (r.error || r.status !== 0) skipFile(`${tool} is not installed (${hint})`);
}
