// The built package in real browsers, one test body for each (tests/engines/drivers.mjs): Debian's Chromium
// (playwright-core) and Firefox ESR (puppeteer-core over WebDriver BiDi). Training gives the same bits as in Node;
// threads only in a cross-origin isolated page, with the same bits; models survive a page reload in IndexedDB;
// download and file-picker round trips; images decoded by the browser (fromFiles, fromCanvas, fromImageBitmap).
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VAE } from '../ts/index';
import { launch, onFirstUse, root, serve, type Tab } from './engines/drivers.mjs';
import { weightsHash } from './engines/workload.mjs';

type Lib = typeof import('../ts/index');
type Work = typeof import('./engines/workload.mjs');
// Functions passed to tab.evaluate run inside the page (serialised), so they may only use what the page has: the
// package as globalThis.lib and the workloads as globalThis.work (tests/browser/index.html).
type PageGlobals = { lib: Lib; work: Work } & Record<string, unknown>;

/** The same deterministic data on both sides. */
const DATA_SRC = 'Uint8Array.from({ length: 64 * 20 }, (_, i) => (i * 37 + (i >> 3) * 11) % 256)';
const CONFIG = { inputDim: 20, latentDim: 3, encoder: [16], seed: 7 };
const FIT = { epochs: 2, batchSize: 16, samples: 2, binarize: 'dynamic' as const };

let server: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  expect(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: npm run build').toBe(true);
  // /coi/… serves the same files with the headers that make a page cross-origin isolated (shared memory, threads).
  server = await serve(root, { isolated: '/coi/' });
});

afterAll(async () => {
  await server?.close();
});

describe.each(['chromium', 'firefox'] as const)('in %s', (name) => {
  /** Loads the test page and waits for its module script to expose the package. */
  async function open(tab: Tab, path = '/tests/browser/index.html'): Promise<void> {
    await tab.goto(`${server.base}${path}`);
    await tab.waitFor(() => 'lib' in globalThis && 'work' in globalThis);
  }

  const session = onFirstUse(async () => {
    const browser = await launch(name);
    try {
      const page = await browser.newTab();
      await open(page);
      return { browser, page, close: () => browser.close() };
    } catch (e) {
      await browser.close();
      throw e;
    }
  });
  afterAll(() => session.close());

  it('training gives bit-identical weights to Node', async () => {
    const { page } = await session();
    const inBrowser = await page.evaluate(async ({ config, fit, dataSrc }) => {
      const g = globalThis as unknown as PageGlobals;
      const m = await g.lib.VAE.create(config);
      await m.fit(new Function(`return ${dataSrc}`)() as Uint8Array, fit);
      g.__model = m;
      return g.work.weightsHash(m);
    }, { config: CONFIG, fit: FIT, dataSrc: DATA_SRC });
    const m = await VAE.create(CONFIG);
    await m.fit(new Function(`return ${DATA_SRC}`)() as Uint8Array, FIT);
    expect(inBrowser).toBe(await weightsHash(m));
    m.dispose();
  });

  it('threads: one in a page that is not cross-origin isolated (and why), worker threads in one that is, same bits', async () => {
    // Large enough that every kind of task is split (GEMMs, elementwise passes, the optimizer update).
    const config = { inputDim: 784, latentDim: 10, encoder: [256], seed: 11 };
    const fit = { epochs: 1, batchSize: 64, samples: 2 };
    const dataSrc = 'Uint8Array.from({ length: 640 * 784 }, (_, i) => (i * 7919 + (i >> 9) * 31) % 256)';
    const train = async (tab: Tab, threads: number) => tab.evaluate(async ({ config, fit, dataSrc, threads }) => {
      const g = globalThis as unknown as PageGlobals;
      const m = await g.lib.VAE.create({ ...config, threads });
      await m.fit(new Function(`return ${dataSrc}`)() as Uint8Array, fit);
      const result = { isolated: crossOriginIsolated, threads: m.threads, note: m.threadsNote ?? null, hash: await g.work.weightsHash(m) };
      m.dispose();
      return result;
    }, { config, fit, dataSrc, threads });
    const m = await VAE.create({ ...config, threads: 1 });
    await m.fit(new Function(`return ${dataSrc}`)() as Uint8Array, fit);
    const node = await weightsHash(m);
    m.dispose();

    const { browser, page } = await session();
    const plain = await train(page, 2);
    expect(plain).toMatchObject({ isolated: false, threads: 1, hash: node });
    expect(plain.note).toMatch(/one thread: the page is not cross-origin isolated/);

    const coi = await browser.newTab();
    await open(coi, '/coi/tests/browser/index.html');
    expect(await train(coi, 2)).toEqual({ isolated: true, threads: 2, note: null, hash: node });
    expect(await train(coi, 3)).toEqual({ isolated: true, threads: 3, note: null, hash: node });
    await coi.close();
  }, 60_000);

  it('a model kept in IndexedDB survives a reload and reconstructs the same', async () => {
    const { page } = await session();
    const before = await page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      const m = g.__model as { save(): Uint8Array; reconstruct(x: Float32Array): Float32Array };
      await g.lib.saveToIndexedDB('last', m.save());
      return Array.from(m.reconstruct(new Float32Array(40).fill(0.25)));
    });
    await page.reload();
    await page.waitFor(() => 'lib' in globalThis && 'work' in globalThis);
    const after = await page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      const bytes = await g.lib.loadFromIndexedDB('last');
      if (!bytes) throw new Error('nothing stored');
      const m = await g.lib.VAE.load(bytes);
      g.__model = m;
      return { recon: Array.from(m.reconstruct(new Float32Array(40).fill(0.25))), missingIsUndefined: (await g.lib.loadFromIndexedDB('nope')) === undefined };
    });
    expect(after.recon).toEqual(before);
    expect(after.missingIsUndefined).toBe(true);
  });

  it('download and file-picker round trip', async () => {
    const { page } = await session();
    let saved: number[] = [];
    const download = await page.download(async () => {
      saved = await page.evaluate(async () => {
        const g = globalThis as unknown as PageGlobals;
        const bytes = (g.__model as { save(): Uint8Array }).save();
        g.lib.downloadModel(bytes, 'vae.safetensors');
        return Array.from(bytes);
      });
    });
    expect(download.name).toBe('vae.safetensors');
    expect(Buffer.from(saved).equals(download.bytes)).toBe(true);
    const path = join(mkdtempSync(join(tmpdir(), 'vae-upload-')), 'model.safetensors');
    writeFileSync(path, download.bytes);
    await page.setFiles('#file', path);
    const same = await page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals;
      const input = document.getElementById('file') as HTMLInputElement;
      const m = await g.lib.VAE.load(await g.lib.readModelFile(input.files![0]!));
      const orig = g.__model as { reconstruct(x: Float32Array): Float32Array };
      const x = new Float32Array(20).fill(0.75);
      return Array.from(m.reconstruct(x)).every((v, i) => v === orig.reconstruct(x)[i]);
    });
    expect(same).toBe(true);
  });

  // Images: files made in Node; the page decodes them with the browser's own decoders, Node with pngjs and jpeg-js.
  const imageFiles = async () => {
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

  it('images: fromFiles decodes PNG to the same pixels as Node\'s loadImages, and JPEG within 3 levels (another decoder)', async () => {
    const { loadImages } = await import('../ts/index');
    const { dir, bytes } = await imageFiles();
    const { page } = await session();
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

  it('images: fromCanvas and fromImageBitmap read what was drawn: colours, grey by luma, alpha on white, resizing', async () => {
    const { page } = await session();
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
