// The browser demo (demo/), built with Vite as a user's app would be and served cross-origin isolated, driven in
// Debian's Chromium: it trains (with worker threads), draws, stays responsive, gives Node's bits, and keeps a saved
// model across a reload. Writes artifacts/demo.png.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VAE, idxImages, loadIdx } from '../ts/index';

const root = new URL('..', import.meta.url).pathname;
const site = join(root, 'demo/dist');
const CHROMIUM = '/usr/bin/chromium';
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.css': 'text/css', '.wasm': 'application/wasm' };
const STEPS = 60;
let server: Server;
let context: BrowserContext;
let page: Page;
let base = '';
const consoleErrors: string[] = [];

interface Demo {
  ready: boolean; done: boolean; step: number; threads: number; losses: number[]; restored: boolean;
  reconstructions?: number[]; clickLatencies: number[]; errors: string[]; hash(): Promise<string>;
}
const demo = (p: Page) => p.evaluate(() => {
  const d = (window as unknown as { __demo: Demo }).__demo;
  return { ...d, hash: undefined };
});

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
  expect(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: npm run build').toBe(true);
  execFileSync(process.execPath, [join(root, 'scripts/prepare-demo-data.mjs')], { stdio: 'pipe' });
  const { build } = await import('vite');
  await build({ configFile: join(root, 'demo/vite.config.ts'), logLevel: 'error' });
  server = createServer((req, res) => {
    let path = normalize(join(site, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (path.endsWith('/')) path = join(path, 'index.html');
    if (!path.startsWith(site) || !existsSync(path)) { res.writeHead(404).end(); return; }
    res.writeHead(200, {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp',
    }).end(readFileSync(path));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'vae-demo-')), {
    executablePath: CHROMIUM, headless: true, acceptDownloads: true, viewport: { width: 1280, height: 1400 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
}, 120_000);

afterAll(async () => {
  await context?.close();
  await new Promise((r) => server?.close(r));
});

/** Non-black pixels in a canvas, as a fraction. */
const inked = (p: Page, id: string) => p.evaluate((id) => {
  const c = document.getElementById(id) as HTMLCanvasElement;
  const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i]! + d[i + 1]! + d[i + 2]! > 60 && d[i + 3]! > 0) n++;
  return n / (d.length / 4);
}, id);

describe('the demo in Chromium', () => {
  it(`trains ${STEPS} steps on worker threads: the loss falls, every view is drawn, clicks are handled within 100 ms, no console errors`, async () => {
    await page.goto(`${base}/?seed=1&steps=${STEPS}&batch=100&autostart=1`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // While it trains, click digits with the real mouse (the page must handle them at once).
    await page.waitForFunction(() => document.querySelectorAll('#originals button').length === 12, undefined, { timeout: 30_000 });
    for (const i of [3, 5]) await page.locator('#originals button').nth(i).click();
    await page.locator('#originals button').nth(7).click({ modifiers: ['Shift'] });
    await page.waitForFunction(() => (window as unknown as { __demo: Demo }).__demo.done, undefined, { timeout: 60_000 });
    const d = await demo(page);
    expect(d.step).toBe(STEPS);
    expect(d.threads).toBe(2);
    expect(await page.locator('#threads').textContent()).toBe('2');
    const first = d.losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = d.losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(d.losses.length).toBe(STEPS);
    expect(first - last).toBeGreaterThan(100); // from ~540 nats at the start to ~200 after 60 steps
    expect(d.clickLatencies.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...d.clickLatencies)).toBeLessThan(100);
    expect(await page.locator('#originals button.a').count()).toBe(1);
    for (const id of ['reconstructions', 'samples', 'interpolation', 'slid']) expect(await inked(page, id), id).toBeGreaterThan(0.05);
    expect(await page.evaluate(() => (document.getElementById('loss') as HTMLCanvasElement).width)).toBeGreaterThan(0);
    expect(d.errors).toEqual([]);
    expect(consoleErrors).toEqual([]);
    mkdirSync(join(root, 'artifacts'), { recursive: true });
    await page.screenshot({ path: join(root, 'artifacts/demo.png'), fullPage: true });
  }, 120_000);

  it('the weights after those steps hash the same in Chromium (2 threads) as in Node (1 thread)', async () => {
    const inPage = await page.evaluate(() => (window as unknown as { __demo: Demo }).__demo.hash());
    const images = idxImages(loadIdx(readFileSync(join(root, 'demo/public/data/train-images.idx'))));
    const vae = await VAE.create({ inputDim: 784, latentDim: 20, encoder: [400], activation: 'relu', likelihood: 'bernoulli', seed: 1, threads: 1 });
    const stop = new AbortController();
    let n = 0;
    await vae.fit(images.data, {
      epochs: 1, batchSize: 100, klWeight: 1, optimizer: { name: 'adam', learningRate: 1e-3 }, signal: stop.signal,
      onBatchEnd: () => { if (++n >= STEPS) stop.abort(); },
    });
    const hash = createHash('sha256');
    for (const t of Object.values(vae.getWeights())) hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    vae.dispose();
    expect(inPage).toBe(hash.digest('hex'));
  }, 60_000);

  it('Save downloads the model and keeps it; after a reload the page restores it with the same reconstructions', async () => {
    const before = (await demo(page)).reconstructions!;
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#save').click()]);
    expect(download.suggestedFilename()).toBe('vae-demo.safetensors');
    const saved = readFileSync((await download.path())!);
    expect(saved.length).toBeGreaterThan(4 * 600_000);
    await page.waitForFunction(() => document.getElementById('status')!.textContent!.startsWith('Saved'));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => {
      const d = (window as unknown as { __demo: Demo }).__demo;
      return d.restored && d.reconstructions !== undefined;
    }, undefined, { timeout: 30_000 });
    const after = await demo(page);
    expect(after.reconstructions).toEqual(before);
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it('fits a phone-sized screen and is usable from the keyboard', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.locator('#train').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => (window as unknown as { __demo: Demo }).__demo.step > 0, undefined, { timeout: 30_000 });
    await page.locator('#pause').focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('#pause').textContent()).toBe('Resume');
    await page.setViewportSize({ width: 1280, height: 1400 });
  }, 60_000);

  it("trains on the user's own IDX file (gzipped Fashion-MNIST from Debian's package, through the file picker)", async () => {
    const file = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
    expect(existsSync(file), `${file} is missing: apt-get install -y dataset-fashion-mnist`).toBe(true);
    await page.locator('#file').setInputFiles(file);
    await page.waitForFunction(() => document.getElementById('status')!.textContent!.includes('t10k-images-idx3-ubyte.gz'));
    expect(await page.locator('#status').textContent()).toMatch(/9,000 training and 1,000 test images of 784 values/);
    await page.locator('#train').click();
    await page.waitForFunction(() => (window as unknown as { __demo: Demo }).__demo.step >= 20, undefined, { timeout: 30_000 });
    await page.locator('#pause').click();
    expect(consoleErrors).toEqual([]);
  }, 60_000);
});
