// The built package in a user's Vite app (as demo/ is, but minimal): a page that only reads IDX files and keeps
// models, and a module worker that trains. The wasm modules' bytes must end up once, in the worker's chunk only
// (issue 13: the page chunk carried a second copy, 2 × 292 kB).
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers';

/** Base64 of the first bytes of any wasm module ("\0asm" + version 1): one per inlined module. */
const WASM_MAGIC = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1]).toString('base64').slice(0, 8);
let chunks: { name: string; text: string }[];

beforeAll(async () => {
  const app = mkdtempSync(join(tmpdir(), 'vae-vite-app-'));
  writeFileSync(join(app, 'index.html'), '<!doctype html><script type="module" src="./main.ts"></script>');
  writeFileSync(join(app, 'main.ts'), `import { loadIdx, idxImages, saveToIndexedDB } from 'vae-wasm';
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
worker.onmessage = (e) => saveToIndexedDB('model', e.data);
fetch('./images.idx').then((r) => r.arrayBuffer()).then((b) => worker.postMessage(idxImages(loadIdx(b))));\n`);
  writeFileSync(join(app, 'worker.ts'), `import { VAE } from 'vae-wasm';
self.onmessage = async (e) => {
  const vae = await VAE.create({ inputDim: e.data.cols, latentDim: 2 });
  await vae.fit(e.data);
  self.postMessage(vae.save());
};\n`);
  const { build } = await import('vite');
  await build({
    root: app, configFile: false, logLevel: 'error', base: './',
    resolve: { alias: [{ find: /^vae-wasm$/, replacement: join(ROOT, 'dist/index.js') }] },
    worker: { format: 'es' },
    build: { outDir: join(app, 'dist'), target: 'es2022' },
  });
  const assets = join(app, 'dist/assets');
  chunks = readdirSync(assets).filter((f) => f.endsWith('.js')).map((f) => ({ name: f, text: readFileSync(join(assets, f), 'utf8') }));
}, 60_000);

describe('a Vite app with a training worker', () => {
  it('carries each wasm module once, in the worker chunk; the page chunk has none', () => {
    const count = (text: string) => text.split(WASM_MAGIC).length - 1;
    const page = chunks.filter((c) => c.name.startsWith('main') || c.name.startsWith('index'));
    const worker = chunks.filter((c) => c.name.startsWith('worker'));
    expect(page).toHaveLength(1);
    expect(worker).toHaveLength(1);
    // The worker needs both builds: the shared-memory one when the page is cross-origin isolated, else the other.
    expect(count(worker[0]!.text)).toBe(2);
    expect(chunks.reduce((n, c) => n + count(c.text), 0)).toBe(2);
    // The page keeps what it uses (loadIdx, gunzip, IndexedDB) and not the 2 × 128 kB of base64.
    expect(page[0]!.text.length).toBeLessThan(40_000);
    expect(page[0]!.text).toContain('loadIdx');
  });
});
