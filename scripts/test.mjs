#!/usr/bin/env node
// The whole test suite, as README promises: builds the package, type-checks, runs the host Rust tests (cargo test)
// and the vitest suites against the built wasm module, and ends with one line "N passed, N failed". The first run
// installs what the tests need beyond `npm ci` (tests/ and demo/ packages; scripts/deps.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
let passed = 0;
let failed = 0;
let broken = false;

// 0. The test and demo tooling (vitest, vite, playwright-core, ...), once.
if (run(process.execPath, ['scripts/deps.mjs', 'tests', 'demo']).status !== 0) {
  console.error('test: cannot install the test dependencies (node scripts/deps.mjs tests demo)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// 1. Build dist/ (the CLI end-to-end test runs the built command).
if (run('npx', ['tsup']).status !== 0) { console.error('test: build failed'); broken = true; }

// 2. Type check of the library, CLI and tests (counted as one test).
if (run('npx', ['tsc', '--noEmit', '-p', '.']).status === 0) passed += 1;
else { console.error('test: type check failed'); failed += 1; }

// 3. Host Rust tests, with whichever cargo is present (Debian's first, as in CI).
const cargo = ['/usr/bin/cargo', 'cargo'].find((c) => spawnSync(c, ['--version']).status === 0);
if (!cargo) {
  console.error('test: no cargo found; the host Rust tests were NOT run (install rustc and cargo to run them)');
  broken = true;
} else {
  const r = spawnSync(cargo, ['test', '--release', '--offline', '-p', 'vae-core'], { cwd: root, encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  for (const m of r.stdout.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  if (r.status !== 0) broken = true;
}

// 4. vitest, with a JSON report to count from.
const report = join(mkdtempSync(join(tmpdir(), 'vae-wasm-test-')), 'vitest.json');
const v = run(process.execPath, ['tests/node_modules/vitest/vitest.mjs', 'run', '--config', 'tests/vitest.config.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)]);
if (existsSync(report)) {
  const j = JSON.parse(readFileSync(report, 'utf8'));
  passed += j.numPassedTests;
  failed += j.numFailedTests;
  if (j.numTotalTests === 0) broken = true;
} else {
  broken = true;
}
if (v.status !== 0) broken = true;

console.log(`${passed} passed, ${failed} failed`);
process.exit(broken || failed > 0 ? 1 : 0);
