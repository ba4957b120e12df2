#!/usr/bin/env node
// One-time installs for the parts of the repository that need more than `npm ci` (which installs only what building
// the package and `npm run train` need). Each part has its own package.json and package-lock.json:
//   tests               vitest, vite, fast-check, playwright-core,     npm test (with demo)
//                       puppeteer-core, bun, deno (other engines)
//   demo                vite                                           npm run demo, demo:build, demo:preview
//   bench               TensorFlow.js                                  npm run bench (with tests: the engines)
//   wasm-tools          binaryen (wasm-opt), wabt (wasm-objdump)      npm run build:wasm, .ci/run
// Usage: node scripts/deps.mjs <part>...  Runs `npm ci` in a part's folder when its node_modules is missing or was
// installed from another package-lock.json (a stamp holds the lockfile's hash); otherwise does nothing.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const PARTS = { tests: 'tests', demo: 'demo', bench: 'bench', 'wasm-tools': 'scripts/wasm-tools' };
const STAMP = '.vae-wasm-deps';

const parts = process.argv.slice(2);
if (parts.length === 0 || parts.some((p) => !(p in PARTS))) {
  console.error(`usage: node scripts/deps.mjs <part>...  (parts: ${Object.keys(PARTS).join(', ')})`);
  process.exit(2);
}
for (const part of parts) {
  const dir = join(root, PARTS[part]);
  const lock = createHash('sha256').update(readFileSync(join(dir, 'package-lock.json'))).digest('hex');
  const stamp = join(dir, 'node_modules', STAMP);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === lock) continue;
  console.error(`deps: installing ${PARTS[part]}/'s dependencies once (npm ci in ${PARTS[part]}/)`);
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    console.error(`deps: npm ci in ${PARTS[part]}/ failed`);
    process.exit(1);
  }
  writeFileSync(stamp, lock);
}
