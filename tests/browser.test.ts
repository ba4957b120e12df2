// The built package in a real Chromium (Debian's, driven by playwright-core): training gives the same bits as in
// Node; models survive a page reload in IndexedDB; download and file-picker round trips.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VAE } from '../ts/index';

const root = new URL('..', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.wasm': 'application/wasm' };
let server: Server;
let context: BrowserContext;
let page: Page;
let base = '';

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
  expect(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: npm run build').toBe(true);
  server = createServer((req, res) => {
    // /coi/… serves the same files with the headers that make a page cross-origin isolated (shared memory, threads).
    let url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const isolated = url.startsWith('/coi/');
    if (isolated) url = url.slice(4);
    const path = normalize(join(root, url));
    if (!path.startsWith(root) || !existsSync(path)) { res.writeHead(404).end(); return; }
    res.writeHead(200, {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      ...(isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {}),
    }).end(readFileSync(path));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'vae-chromium-')), {
    executablePath: CHROMIUM, headless: true, acceptDownloads: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await context.newPage();
  await open();
}, 60_000);

afterAll(async () => {
  await context?.close();
  await new Promise((r) => server?.close(r));
});

/** Loads the test page and waits for its module script to expose the package as globalThis.lib. */
async function open(reload = false): Promise<void> {
  if (reload) await page.reload();
  else await page.goto(`${base}/tests/browser/index.html`);
  await page.waitForFunction(() => 'lib' in globalThis);
}

type Lib = typeof import('../ts/index');
// Runs inside the page (serialised by playwright), so it may only use what the page has.

/** The same deterministic data on both sides. */
const DATA_SRC = 'Uint8Array.from({ length: 64 * 20 }, (_, i) => (i * 37 + (i >> 3) * 11) % 256)';
const CONFIG = { inputDim: 20, latentDim: 3, encoder: [16], seed: 7 };
const FIT = { epochs: 2, batchSize: 16, samples: 2, binarize: 'dynamic' as const };

describe('in Chromium', () => {
  it('training gives bit-identical weights to Node', async () => {
    const inBrowser = await page.evaluate(async ({ config, fit, dataSrc }) => {
      const { VAE } = (globalThis as unknown as { lib: Lib }).lib;
      const data = new Function(`return ${dataSrc}`)() as Uint8Array;
      const m = await VAE.create(config);
      await m.fit(data, fit);
      const bytes = m.save();
      (globalThis as Record<string, unknown>).__model = m;
      const w = Object.values(m.getWeights()).map((t) => new Uint8Array(t.data.buffer));
      const all = new Uint8Array(w.reduce((s, a) => s + a.length, 0));
      let at = 0;
      for (const a of w) { all.set(a, at); at += a.length; }
      const digest = await crypto.subtle.digest('SHA-256', all);
      return { hash: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join(''), saved: Array.from(bytes) };
    }, { config: CONFIG, fit: FIT, dataSrc: DATA_SRC });
    const data = new Function(`return ${DATA_SRC}`)() as Uint8Array;
    const m = await VAE.create(CONFIG);
    await m.fit(data, FIT);
    const hash = createHash('sha256');
    for (const t of Object.values(m.getWeights())) hash.update(new Uint8Array(t.data.buffer));
    expect(inBrowser.hash).toBe(hash.digest('hex'));
    m.dispose();
  });

  it('threads: one in a page that is not cross-origin isolated (and why), worker threads in one that is, same bits', async () => {
    // Large enough that every kind of task is split (GEMMs, elementwise passes, the optimizer update).
    const config = { inputDim: 784, latentDim: 10, encoder: [256], seed: 11 };
    const fit = { epochs: 1, batchSize: 64, samples: 2 };
    const dataSrc = 'Uint8Array.from({ length: 640 * 784 }, (_, i) => (i * 7919 + (i >> 9) * 31) % 256)';
    const train = async (p: Page, threads: number) => p.evaluate(async ({ config, fit, dataSrc, threads }) => {
      const { VAE } = (globalThis as unknown as { lib: Lib }).lib;
      const m = await VAE.create({ ...config, threads });
      await m.fit(new Function(`return ${dataSrc}`)() as Uint8Array, fit);
      const w = Object.values(m.getWeights()).map((t) => new Uint8Array(t.data.buffer));
      const all = new Uint8Array(w.reduce((s, a) => s + a.length, 0));
      let at = 0;
      for (const a of w) { all.set(a, at); at += a.length; }
      const digest = await crypto.subtle.digest('SHA-256', all);
      const result = { isolated: crossOriginIsolated, threads: m.threads, note: m.threadsNote ?? null,
        hash: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('') };
      m.dispose();
      return result;
    }, { config, fit, dataSrc, threads });
    const m = await VAE.create({ ...config, threads: 1 });
    await m.fit(new Function(`return ${dataSrc}`)() as Uint8Array, fit);
    const hash = createHash('sha256');
    for (const t of Object.values(m.getWeights())) hash.update(new Uint8Array(t.data.buffer));
    const node = hash.digest('hex');
    m.dispose();

    const plain = await train(page, 2);
    expect(plain).toMatchObject({ isolated: false, threads: 1, hash: node });
    expect(plain.note).toMatch(/one thread: the page is not cross-origin isolated/);

    const coi = await context.newPage();
    await coi.goto(`${base}/coi/tests/browser/index.html`);
    await coi.waitForFunction(() => 'lib' in globalThis);
    expect(await train(coi, 2)).toEqual({ isolated: true, threads: 2, note: null, hash: node });
    expect(await train(coi, 3)).toEqual({ isolated: true, threads: 3, note: null, hash: node });
    await coi.close();
  }, 60_000);

  it('a model kept in IndexedDB survives a reload and reconstructs the same', async () => {
    const before = await page.evaluate(async () => {
      const { saveToIndexedDB } = (globalThis as unknown as { lib: Lib }).lib;
      const m = (globalThis as Record<string, unknown>).__model as { save(): Uint8Array; reconstruct(x: Float32Array): Float32Array };
      await saveToIndexedDB('last', m.save());
      return Array.from(m.reconstruct(new Float32Array(40).fill(0.25)));
    });
    await open(true);
    const after = await page.evaluate(async () => {
      const { VAE, loadFromIndexedDB } = (globalThis as unknown as { lib: Lib }).lib;
      const bytes = await loadFromIndexedDB('last');
      if (!bytes) throw new Error('nothing stored');
      const m = await VAE.load(bytes);
      (globalThis as Record<string, unknown>).__model = m;
      return { recon: Array.from(m.reconstruct(new Float32Array(40).fill(0.25))), missing: await loadFromIndexedDB('nope') };
    });
    expect(after.recon).toEqual(before);
    expect(after.missing).toBeUndefined();
  });

  it('download and file-picker round trip', async () => {
    const [download, saved] = await Promise.all([
      page.waitForEvent('download'),
      page.evaluate(async () => {
        const { downloadModel } = (globalThis as unknown as { lib: Lib }).lib;
        const bytes = ((globalThis as Record<string, unknown>).__model as { save(): Uint8Array }).save();
        downloadModel(bytes, 'vae.safetensors');
        return Array.from(bytes);
      }),
    ]);
    expect(download.suggestedFilename()).toBe('vae.safetensors');
    const file = readFileSync((await download.path())!);
    expect(Buffer.from(saved).equals(file)).toBe(true);
    const path = join(mkdtempSync(join(tmpdir(), 'vae-upload-')), 'model.safetensors');
    writeFileSync(path, file);
    await page.setInputFiles('#file', path);
    const same = await page.evaluate(async () => {
      const { VAE, readModelFile } = (globalThis as unknown as { lib: Lib }).lib;
      const input = document.getElementById('file') as HTMLInputElement;
      const m = await VAE.load(await readModelFile(input.files![0]!));
      const orig = (globalThis as Record<string, unknown>).__model as { reconstruct(x: Float32Array): Float32Array };
      const x = new Float32Array(20).fill(0.75);
      return Array.from(m.reconstruct(x)).every((v, i) => v === orig.reconstruct(x)[i]);
    });
    expect(same).toBe(true);
  });
});

describe('images in Chromium (fromFiles, fromCanvas, fromImageBitmap)', () => {
  // Files made in Node; the page decodes them with the browser's own decoders, Node with pngjs and jpeg-js.
  const files = async () => {
    const { PNG } = await import('pngjs');
    const jpeg = (await import('jpeg-js')).default;
    const w = 24;
    const h = 16;
    const rgba = Buffer.alloc(w * h * 4);
    for (let p = 0; p < w * h; p++) rgba.set([(p * 7) % 256, (p * 13) % 256, 255 - (p % 256), 255], 4 * p);
    const png = new PNG({ width: w, height: h });
    png.data = rgba;
    const dir = mkdtempSync(join(tmpdir(), 'vae-browser-images-'));
    const out = { 'a.png': PNG.sync.write(png), 'b.jpg': Buffer.from(jpeg.encode({ width: w, height: h, data: rgba }, 85).data) };
    for (const [name, bytes] of Object.entries(out)) writeFileSync(join(dir, name), bytes);
    return { dir, bytes: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v)])) };
  };

  it('fromFiles decodes PNG to the same pixels as Node\'s loadImages, and JPEG within 3 levels (another decoder)', async () => {
    const { loadImages } = await import('../ts/index');
    const { dir, bytes } = await files();
    const inPage = await page.evaluate(async (bytes) => {
      const { fromFiles } = (globalThis as unknown as { lib: Lib }).lib;
      const list = Object.entries(bytes).map(([name, b]) => new File([Uint8Array.from(b)], name, { type: name.endsWith('.png') ? 'image/png' : 'image/jpeg' }));
      const set = await fromFiles(list);
      let error = '';
      try { await fromFiles([new File([Uint8Array.from([1, 2, 3])], 'broken.png')]); } catch (e) { error = (e as Error).message; }
      return { data: Array.from(set.data), shape: set.shape, files: set.files, error };
    }, bytes);
    const node = await loadImages(dir);
    expect(inPage.shape).toEqual(node.shape);
    expect(inPage.files).toEqual(['a.png', 'b.jpg']);
    const n = 16 * 24 * 3;
    expect(inPage.data.slice(0, n)).toEqual(Array.from(node.data.subarray(0, n)));
    const diff = inPage.data.slice(n).reduce((m, v, i) => Math.max(m, Math.abs(v - node.data[n + i]!)), 0);
    expect(diff).toBeLessThanOrEqual(3);
    expect(inPage.error).toMatch(/^fromFiles: broken\.png could not be decoded as an image/);
  });

  it('fromCanvas and fromImageBitmap read what was drawn: colours, grey by luma, alpha on white, resizing', async () => {
    const r = await page.evaluate(async () => {
      const { fromCanvas, fromImageBitmap } = (globalThis as unknown as { lib: Lib }).lib;
      const c = document.createElement('canvas');
      c.width = 4;
      c.height = 2;
      const ctx = c.getContext('2d')!;
      ctx.fillStyle = 'rgb(255, 0, 0)'; ctx.fillRect(0, 0, 2, 2);
      ctx.fillStyle = 'rgb(10, 20, 30)'; ctx.fillRect(2, 0, 2, 2);
      const off = new OffscreenCanvas(4, 2); // transparent
      const rgb = fromCanvas([c, off]);
      const grey = fromCanvas(c, { channels: 1, size: [1, 2] });
      const bitmap = fromImageBitmap(await createImageBitmap(c));
      return { rgb: Array.from(rgb.data), shape: rgb.shape, grey: Array.from(grey.data), bitmap: Array.from(bitmap.data) };
    });
    const first = [255, 0, 0, 255, 0, 0, 10, 20, 30, 10, 20, 30];
    expect(r.shape).toEqual([2, 2, 4, 3]);
    expect(r.rgb).toEqual([...first, ...first, ...new Array(24).fill(255)]);
    expect(r.grey).toEqual([Math.round(0.299 * 255), Math.round(0.299 * 10 + 0.587 * 20 + 0.114 * 30)]);
    expect(r.bitmap).toEqual([...first, ...first]);
  });
});
