// The browser demo (demo/), built with Vite as a user's app would be and served cross-origin isolated, driven in
// Debian's Chromium (playwright-core) and Firefox ESR (puppeteer-core over WebDriver BiDi), one test body for both
// (tests/engines/drivers.mjs): it trains (with worker threads), draws, stays responsive, gives Node's bits, and keeps
// a saved model across a reload. Writes artifacts/demo.png (Chromium) and artifacts/demo-firefox.png.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VAE, idxImages, loadIdx } from '../ts/index';
import { inked, launch, onFirstUse, root, serve, waitOrExplain, type Tab } from './engines/drivers.mjs';
import { demoData, sha256, weightBytes } from './helpers';

const site = join(root, 'demo/dist');
const STEPS = 60;
let server: Awaited<ReturnType<typeof serve>>;

interface Demo {
  ready: boolean; done: boolean; step: number; threads: number; losses: number[]; restored: boolean; trace: string[];
  reconstructions?: number[]; clickLatencies: number[]; errors: string[]; hash(): Promise<string>;
}
const demo = (p: Tab) => p.evaluate(() => {
  const d = (window as unknown as { __demo: Demo }).__demo;
  return { ...d, hash: undefined };
});
const text = (p: Tab, selector: string) => p.evaluate((s) => document.querySelector(s)!.textContent, selector);
/** page.waitFor, and when it times out, what the page showed then (its status line, the demo's state, its errors). */
function waitFor<A>(p: Tab, fn: (arg: A) => unknown, arg?: A, timeout?: number): Promise<void> {
  return waitOrExplain(p, fn, arg, timeout, () => Promise.all([p.evaluate(() => location.href), text(p, '#status'), demo(p)])
    .then(([url, status, d]) => ({ url, status, ready: d.ready, done: d.done, step: d.step, restored: d.restored, reconstructions: d.reconstructions !== undefined, errors: d.errors, workerTrace: d.trace })));
}

beforeAll(async () => {
  expect(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: npm run build').toBe(true);
  demoData();
  const { build } = await import('vite');
  await build({ configFile: join(root, 'demo/vite.config.ts'), logLevel: 'error' });
  server = await serve(site, { isolated: true });
}, 120_000);

afterAll(async () => {
  await server?.close();
});

/** Node's weights after the demo's first STEPS steps (seed 1, batch 100, one thread), computed once. */
let nodeHash: Promise<string> | undefined;
function nodeWeightsHash(): Promise<string> {
  nodeHash ??= (async () => {
    const images = idxImages(loadIdx(readFileSync(join(root, 'demo/public/data/train-images.idx'))));
    const vae = await VAE.create({ inputDim: 784, latentDim: 20, encoder: [400], activation: 'relu', likelihood: 'bernoulli', seed: 1, threads: 1 });
    const stop = new AbortController();
    let n = 0;
    await vae.fit(images.data, {
      epochs: 1, batchSize: 100, klWeight: 1, optimizer: { name: 'adam', learningRate: 1e-3 }, signal: stop.signal,
      onBatchEnd: () => { if (++n >= STEPS) stop.abort(); },
    });
    const hash = sha256(weightBytes(vae));
    vae.dispose();
    return hash;
  })();
  return nodeHash;
}

describe.each(['chromium', 'firefox'] as const)('the demo in %s', (name) => {
  const base = () => server.base;
  const tab = onFirstUse(async () => {
    const browser = await launch(name, { viewport: { width: 1280, height: 1400 } });
    return { page: await browser.newTab().catch(async (e) => { await browser.close(); throw e; }), close: () => browser.close() };
  });
  afterAll(() => tab.close());

  it(`trains ${STEPS} steps on worker threads: the loss falls, every view is drawn, clicks are handled within 100 ms, no console errors`, async () => {
    const { page } = await tab();
    await page.goto(`${base()}/?seed=1&steps=${STEPS}&batch=100&autostart=1`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // While it trains, click digits with the real mouse (the page must handle them at once).
    await waitFor(page, () => document.querySelectorAll('#originals button').length === 12, undefined, 30_000);
    for (const nth of [3, 5]) await page.click('#originals button', { nth });
    await page.click('#originals button', { nth: 7, shift: true });
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.done, undefined, 60_000);
    const d = await demo(page);
    expect(d.step).toBe(STEPS);
    expect(d.threads).toBe(2);
    // The worker's trace (shown when a wait times out) says what it did, in order.
    expect(d.trace.map((t) => t.replace(/^\d+ ms: /, ''))).toEqual(['received start', 'creating the model', 'model created (2 threads)', 'first step done']);
    expect(await text(page, '#threads')).toBe('2');
    const first = d.losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = d.losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(d.losses.length).toBe(STEPS);
    expect(first - last).toBeGreaterThan(100); // from ~540 nats at the start to ~200 after 60 steps
    expect(d.clickLatencies.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...d.clickLatencies)).toBeLessThan(100);
    expect(await page.evaluate(() => document.querySelectorAll('#originals button.a').length)).toBe(1);
    for (const id of ['reconstructions', 'samples', 'interpolation', 'slid']) expect(await inked(page, id), id).toBeGreaterThan(0.05);
    expect(await page.evaluate(() => (document.getElementById('loss') as HTMLCanvasElement).width)).toBeGreaterThan(0);
    expect(d.errors).toEqual([]);
    expect(page.errors).toEqual([]);
    mkdirSync(join(root, 'artifacts'), { recursive: true });
    await page.screenshot(join(root, name === 'chromium' ? 'artifacts/demo.png' : `artifacts/demo-${name}.png`));
  }, 120_000);

  it(`the weights after those steps hash the same in ${name} (2 threads) as in Node (1 thread)`, async () => {
    const { page } = await tab();
    const inPage = await page.evaluate(() => (window as unknown as { __demo: Demo }).__demo.hash());
    expect(inPage).toBe(await nodeWeightsHash());
  }, 60_000);

  it('Save downloads the model and keeps it; after a reload the page restores it with the same reconstructions', async () => {
    const { page } = await tab();
    const before = (await demo(page)).reconstructions!;
    const download = await page.download(() => page.click('#save'));
    expect(download.name).toBe('vae-demo.safetensors');
    expect(download.bytes.length).toBeGreaterThan(4 * 600_000);
    await waitFor(page, () => document.getElementById('status')!.textContent!.startsWith('Saved'));
    await page.goto(`${base()}/`);
    await waitFor(page, () => {
      const d = (window as unknown as { __demo: Demo }).__demo;
      return d.restored && d.reconstructions !== undefined;
    }, undefined, 30_000);
    const after = await demo(page);
    expect(after.reconstructions).toEqual(before);
    expect(page.errors).toEqual([]);
  }, 60_000);

  it('fits a phone-sized screen and is usable from the keyboard', async () => {
    const { page } = await tab();
    await page.viewport(390, 844);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.press('#train', 'Enter');
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.step > 0, undefined, 30_000);
    await page.press('#pause', 'Enter');
    // Training stops after the worker's current step, and its last progress message says so (a message already on
    // its way when Enter was pressed may show "Pause" again for a moment): wait until the steps stop.
    let last = -1;
    for (let tries = 0, step = (await demo(page)).step; step !== last; step = (await demo(page)).step, tries++) {
      expect(tries, 'training did not stop within 10 s of pressing Pause').toBeLessThan(20);
      last = step;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await text(page, '#pause')).toBe('Resume');
    await page.viewport(1280, 1400);
  }, 60_000);

  it("trains on the user's own IDX file (gzipped Fashion-MNIST from Debian's package, through the file picker)", async () => {
    const { page } = await tab();
    const file = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
    expect(existsSync(file), `${file} is missing: apt-get install -y dataset-fashion-mnist`).toBe(true);
    await page.setFiles('#file', file);
    await waitFor(page, () => document.getElementById('status')!.textContent!.includes('t10k-images-idx3-ubyte.gz'));
    expect(await text(page, '#status')).toMatch(/9,000 training and 1,000 test images of 784 values/);
    await page.click('#train');
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.step >= 20, undefined, 30_000);
    await page.click('#pause');
    expect(page.errors).toEqual([]);
  }, 60_000);
});
