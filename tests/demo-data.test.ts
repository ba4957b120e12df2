// The demo's own-data features in Chromium and Firefox (demo/ built with Vite, served cross-origin isolated; one test
// body for both, through tests/engines/drivers.mjs): a CSV table
// (scikit-learn's wine_data.csv from Debian's python3-sklearn, through the file input) is parsed, a table VAE is
// trained and every row scored, with the histogram, the threshold and the most anomalous rows checked against an
// independent quantile and against the same model trained in Node; a malformed CSV shows parseCsv's error; a
// conditional VAE on MNIST's labels draws the picked class, bit for bit as Node does. Writes artifacts/demo-table.png
// and artifacts/demo-cvae.png (Chromium; -firefox.png for Firefox).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VAE, idxImages, idxLabels, loadIdx, oneHot, parseCsv } from '../ts/index';
import { inked, launch, onFirstUse, serve, waitOrExplain, type Tab } from './engines/drivers.mjs';
import { demoData, ROOT, sklearnCsv } from './helpers';

/** Built apart from tests/demo.test.ts's demo/dist, so the two suites can run at the same time. */
const site = mkdtempSync(join(tmpdir(), 'vae-demo-data-site-'));
const files = mkdtempSync(join(tmpdir(), 'vae-demo-data-files-'));
let server: Awaited<ReturnType<typeof serve>>;

interface Table {
  name: string; columns: { name: string; kind: string; detail: string; levels?: string[] }[]; scores: number[]; names: string[];
  quantile: number; threshold: number; bins: number[]; top: { row: number; score: number; columns: string[] }[]; done: boolean; errors: string[];
}
interface Demo {
  ready: boolean; done: boolean; step: number; threads: number; errors: string[]; restored: boolean; table: Table; trace: string[];
  digit?: number; samples?: number[]; slid?: { z: number[]; image: number[]; digit?: number };
}
const demo = (p: Tab) => p.evaluate(() => {
  const d = (window as unknown as { __demo: Demo }).__demo;
  return JSON.parse(JSON.stringify({ ...d, hash: undefined, save: undefined })) as Demo;
});
/** page.waitFor, and when it times out, what the page showed then (its status lines, the demo's state, the worker's trace). */
function waitFor<A>(p: Tab, fn: (arg: A) => unknown, arg?: A, timeout?: number): Promise<void> {
  return waitOrExplain(p, fn, arg, timeout, () => Promise.all([textOf(p, '#status'), textOf(p, '#table-status'), demo(p)])
    .then(([status, tableStatus, d]) => ({ status, tableStatus, ready: d.ready, step: d.step, errors: d.errors, tableDone: d.table.done, tableErrors: d.table.errors, workerTrace: d.trace })));
}

/** The q-quantile with linear interpolation between order statistics (R's type 7, numpy's default), in f64. */
function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (at - lo);
}

beforeAll(async () => {
  expect(existsSync(join(ROOT, 'dist/index.js')), 'dist/ is missing: npm run build').toBe(true);
  demoData();
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'demo/vite.config.ts'), logLevel: 'error', build: { outDir: site, emptyOutDir: true } });
  server = await serve(site, { isolated: true });
}, 120_000);

afterAll(async () => {
  await server?.close();
});

const canvasPixels = (p: Tab, id: string) => p.evaluate((id) => {
  const c = document.getElementById(id) as HTMLCanvasElement;
  return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
}, id);

/** What the tests read from the page's DOM, in the page. */
const textOf = (p: Tab, selector: string) => p.evaluate((s) => document.querySelector(s)!.textContent, selector);
const texts = (p: Tab, selector: string) => p.evaluate((s) => [...document.querySelectorAll(s)].map((e) => e.textContent!), selector);
const attribute = (p: Tab, selector: string, nth: number, name: string) =>
  p.evaluate(([s, n, a]) => document.querySelectorAll(s as string)[n as number]!.getAttribute(a as string), [selector, nth, name] as const);
const count = (p: Tab, selector: string) => p.evaluate((s) => document.querySelectorAll(s).length, selector);
/** Shown: in the document, laid out (not display: none, nor inside a hidden element) and not visibility: hidden. */
const visible = (p: Tab, selector: string) => p.evaluate((s) => {
  const e = document.querySelector(s);
  return e !== null && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
}, selector);
const checked = (p: Tab, selector: string) => p.evaluate((s) => (document.querySelector(s) as HTMLInputElement).checked, selector);
/** Picks an option of a <select> as a user's choice arrives: the value, then input and change events. */
const selectOption = (p: Tab, selector: string, value: string) => p.evaluate(([s, v]) => {
  const e = document.querySelector(s!) as HTMLSelectElement;
  e.value = v!;
  e.dispatchEvent(new Event('input', { bubbles: true }));
  e.dispatchEvent(new Event('change', { bubbles: true }));
}, [selector, value]);

// The table model the page trains (demo/src/main.ts tableSettings with ?seed=1&tableEpochs=50).
const TABLE = { epochs: 50, latent: 4, hidden: 32, learningRate: 3e-3, batch: 32, seed: 1 };
const WINE_NAMES = ['alcohol', 'malic_acid', 'ash', 'alcalinity_of_ash', 'magnesium', 'total_phenols', 'flavanoids', 'nonflavanoid_phenols',
  'proanthocyanins', 'color_intensity', 'hue', 'od280_od315_of_diluted_wines', 'proline', 'class'];

describe.each(['chromium', 'firefox'] as const)("the demo's own data in %s", (name) => {
  const session = onFirstUse(async () => {
    const browser = await launch(name, { viewport: { width: 1280, height: 1400 } });
    return { page: await browser.newTab().catch(async (e) => { await browser.close(); throw e; }), close: () => browser.close() };
  });
  afterAll(() => session.close());
  const base = () => server.base;
  const artifact = (file: string) => join(ROOT, 'artifacts', name === 'chromium' ? `${file}.png` : `${file}-${name}.png`);

  it('a CSV (wine_data.csv with a header) through the file input: inferred columns, histogram, threshold at the quantile, most anomalous rows', async () => {
    const { page } = await session();
    // The rows of Debian's wine_data.csv (its scikit-learn preamble line replaced by a header of the feature names).
    const rows = readFileSync(sklearnCsv('wine_data.csv'), 'utf8').split('\n').slice(1).join('\n');
    const csv = join(files, 'wine.csv');
    writeFileSync(csv, `${WINE_NAMES.join(',')}\n${rows}`);
    await page.goto(`${base()}/?seed=1&tableEpochs=${TABLE.epochs}`);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // The page wires its file inputs once its module has run (Firefox may report the load before that).
    await waitFor(page, () => (window as unknown as { __demo?: Demo }).__demo?.ready === true, undefined, 30_000);
    await page.setFiles('#csv', csv);
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.table.done, undefined, 60_000);
    const t = (await demo(page)).table;

    // What was inferred, per column, as parseCsv infers it in Node; named by the file's header.
    const parsed = parseCsv(readFileSync(csv), { name: 'wine.csv' });
    expect(parsed.rows).toBe(178);
    expect(t.columns.map((c) => c.name)).toEqual(WINE_NAMES);
    expect(t.columns.map((c) => c.kind)).toEqual(parsed.schema.columns.map((c) => c.kind));
    expect(t.columns.every((c) => c.kind === 'numeric')).toBe(true); // 13 measurements and the class index 0–2 (3 numbers)
    const listed = await texts(page, '#table-columns li');
    expect(listed).toHaveLength(14);
    // The first column's mean and population standard deviation, from the file's text, as the page prints them.
    const alcohol = rows.trim().split('\n').map((line) => Number(line.split(',')[0]));
    const mean = alcohol.reduce((a, b) => a + b, 0) / alcohol.length;
    const sd = Math.sqrt(alcohol.reduce((a, b) => a + (b - mean) ** 2, 0) / alcohol.length);
    const g = (x: number) => Number(x.toPrecision(4)).toString();
    expect(listed[0]).toBe(`alcohol: numeric (mean ${g(mean)}, sd ${g(sd)})`);
    expect(await textOf(page, '#table-status')).toMatch(/^wine\.csv: a VAE 14 columns → 32 → 4 \(\d[\d,]* parameters\) trained/);

    // The scores are the same model's, bit for bit, as Node trains it (one thread here, two in the page).
    const vae = await VAE.create({ schema: parsed.schema, latentDim: TABLE.latent, encoder: [TABLE.hidden], seed: TABLE.seed, threads: 1 });
    await vae.fit(parsed.data, { epochs: TABLE.epochs, batchSize: TABLE.batch, optimizer: { name: 'adam', learningRate: TABLE.learningRate } });
    const node = vae.score(parsed.data, { method: 'elbo', seed: 1 });
    vae.dispose();
    expect(t.scores).toEqual(Array.from(node.scores));
    expect(t.names).toEqual(WINE_NAMES);

    // The histogram: every row in a bin, bars drawn.
    expect(t.bins.reduce((a, b) => a + b, 0)).toBe(178);
    expect(t.bins.filter((n) => n > 0).length).toBeGreaterThan(5);
    expect(await inked(page, 'histogram')).toBeGreaterThan(0.05);

    // The threshold shown is the chosen quantile of the scores shown, and follows the quantile control.
    for (const q of [0.95, 0.99, 0.9]) {
      if (q !== 0.95) await selectOption(page, '#quantile', String(q));
      const want = quantile(t.scores, q);
      const d = (await demo(page)).table;
      expect(d.quantile).toBe(q);
      expect(d.threshold).toBeCloseTo(want, 9);
      expect(await textOf(page, '#threshold')).toBe(want.toFixed(3));
      const above = t.scores.filter((s) => s > want).length;
      expect(await textOf(page, '#flagged')).toContain(`${above} rows above it`);
    }

    // The most anomalous rows: the 10 highest scores in decreasing order, each with the columns that make up most
    // of its reconstruction term (Node's perColumn for the same row), named from the header.
    const cells = await page.evaluate(() => [...document.querySelectorAll('#top-rows tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!)));
    expect(cells).toHaveLength(10);
    const byScore = [...node.scores.keys()].sort((a, b) => node.scores[b]! - node.scores[a]!);
    const width = WINE_NAMES.length;
    cells.forEach(([row, score, columns], i) => {
      const r = Number(row) - 1;
      expect(r).toBe(byScore[i]);
      expect(score).toBe(node.scores[r]!.toFixed(3));
      if (i > 0) expect(Number(score)).toBeLessThanOrEqual(Number(cells[i - 1]![1]));
      const shares = Array.from(node.perColumn.subarray(r * width, (r + 1) * width));
      const top = [...shares.keys()].sort((a, b) => shares[b]! - shares[a]!).slice(0, 3);
      expect(columns).toBe(top.map((j) => `${WINE_NAMES[j]} (${shares[j]!.toFixed(2)})`).join(', '));
    });
    expect(Number(cells[0]![1])).toBe(Number(Math.max(...t.scores).toFixed(3)));
    expect(t.errors).toEqual([]);
    expect(page.errors).toEqual([]);
    // The panel with its table fits a phone-width screen.
    await page.viewport(390, 844);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.viewport(1280, 1400);
    mkdirSync(join(ROOT, 'artifacts'), { recursive: true });
    await page.screenshot(artifact('demo-table'));
  }, 90_000);

  it("a malformed CSV shows parseCsv's error and the page stays usable: then the raw wine_data.csv (scikit-learn preamble) trains", async () => {
    const { page } = await session();
    const bad = join(files, 'ragged.csv');
    writeFileSync(bad, 'a,b\n1,2\n3\n4,5\n');
    let message = '';
    try { parseCsv(readFileSync(bad), { name: 'ragged.csv' }); } catch (e) { message = (e as Error).message; }
    expect(message).toMatch(/^parseCsv: ragged\.csv row 3 has 1 field, but the header has 2/);
    await page.setFiles('#csv', bad);
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.table.errors.length > 0, undefined, 20_000);
    expect(await textOf(page, '#table-status')).toBe(`Error: ${message}`);
    expect(await attribute(page, '#table-status', 0, 'class')).toContain('error');
    expect(await visible(page, '#histogram')).toBe(false);
    expect(await visible(page, '#top-rows')).toBe(false);

    // A numeric column with text in it: the error names the column and the row.
    const text = join(files, 'text.csv');
    writeFileSync(text, 'x,y\n1,2\n3,oops\n4,5\n');
    await page.setFiles('#csv', text);
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.table.errors.length > 1, undefined, 20_000);
    expect(await textOf(page, '#table-status')).toBe('Error: parseCsv: text.csv column "y" is numeric, but row 3 has "oops"; fix the cell, add it to missing, or declare the column categorical (columns: { "y": \'categorical\' })');

    // Still usable: the file as Debian ships it. Its first line is scikit-learn's preamble; the last column, target,
    // is categorical with the three classes.
    await page.setFiles('#csv', sklearnCsv('wine_data.csv'));
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.table.done, undefined, 60_000);
    const t = (await demo(page)).table;
    expect(t.columns.map((c) => c.name)).toEqual([...Array.from({ length: 13 }, (_, i) => `column${i + 1}`), 'target']);
    expect(t.columns.slice(0, 13).every((c) => c.kind === 'numeric')).toBe(true);
    expect(t.columns[13]).toMatchObject({ kind: 'categorical', levels: ['0', '1', '2'] });
    expect(await textOf(page, '#table-status')).toMatch(/^wine_data\.csv: a VAE 14 columns/);
    expect(t.scores).toHaveLength(178);
    expect(t.top).toHaveLength(10);
    expect(t.errors).toHaveLength(2);
    expect(page.errors).toEqual([]);
  }, 90_000);

  it('a conditional VAE on the digits\' labels: class 7 is drawn as Node draws it, unlike class 1 from the same z; the sliders follow the class', async () => {
    const { page } = await session();
    // Three epochs of the 10,000 training images, latent size 2 (the manifold is drawn too): by then the class
    // shapes what is drawn (after one epoch the samples of any two classes differ by at most 0.16).
    const EPOCHS = 3;
    const STEPS = EPOCHS * 100;
    await page.goto(`${base()}/?seed=1&steps=${STEPS}&batch=100&latent=2&conditional=1&autostart=1`);
    await waitFor(page, () => {
      const d = (window as unknown as { __demo: Demo }).__demo;
      return d.done || d.errors.length > 0;
    }, undefined, 60_000);
    expect((await demo(page)).errors).toEqual([]);
    expect(await textOf(page, '#status')).toBe(`Trained ${STEPS} steps.`);
    expect(await count(page, '#classes button')).toBe(10);
    expect(await visible(page, '#classes')).toBe(true);

    const pick = async (d: number) => {
      await page.click('#classes button', { nth: d });
      await waitFor(page, (d) => {
        const x = (window as unknown as { __demo: Demo }).__demo;
        return x.digit === d && x.slid?.digit === d;
      }, d, 20_000);
      expect(await attribute(page, '#classes button', d, 'aria-pressed')).toBe('true');
      expect(await textOf(page, '#samples-title')).toBe(`Samples from the prior, z ~ N(0, I), given the class ${d}`);
      const x = await demo(page);
      return {
        samples: x.samples!, slid: x.slid!, canvas: await canvasPixels(page, 'samples'), slider: await canvasPixels(page, 'slid'),
        interpolation: await canvasPixels(page, 'interpolation'), manifold: await canvasPixels(page, 'manifold'),
      };
    };
    const seven = await pick(7);
    const one = await pick(1);

    // The same model in Node (one thread; the page ran two): the page's samples and slider image are its own.
    const data = (f: string) => readFileSync(join(ROOT, 'demo/public/data', f));
    const images = idxImages(loadIdx(data('train-images.idx')));
    const labels = idxLabels(loadIdx(data('train-labels.idx')));
    const cvae = await VAE.create({ inputDim: 784, latentDim: 2, encoder: [400], activation: 'relu', likelihood: 'bernoulli', seed: 1, threads: 1, conditionDim: 10 });
    // As the page's worker trains: one fit per epoch.
    for (let e = 0; e < EPOCHS; e++) {
      await cvae.fit(images.data, { epochs: 1, batchSize: 100, klWeight: 1, optimizer: { name: 'adam', learningRate: 1e-3 }, condition: oneHot(labels, 10) });
    }
    const of = (d: number, rows: number) => ({ condition: oneHot(new Uint8Array(rows).fill(d), 10) });
    expect(seven.samples).toEqual(Array.from(cvae.sample(32, { seed: 7, ...of(7, 32) })));
    expect(one.samples).toEqual(Array.from(cvae.sample(32, { seed: 7, ...of(1, 32) })));
    // The sliders decode the same z (A's code) under the picked class.
    expect(one.slid.z).toEqual(seven.slid.z);
    expect(seven.slid.image).toEqual(Array.from(cvae.decode(Float32Array.from(seven.slid.z), of(7, 1))));
    expect(one.slid.image).toEqual(Array.from(cvae.decode(Float32Array.from(one.slid.z), of(1, 1))));
    cvae.dispose();

    // Same z, other class: other pixels. A "1" has far less ink than a "7" (mean intensity of the 32 samples).
    const differ = (a: number[], b: number[]) => a.filter((v, i) => Math.abs(v - b[i]!) > 0.25).length / a.length;
    expect(differ(seven.samples, one.samples)).toBeGreaterThan(0.03); // 0.088 of the values, measured
    const ink = (s: number[]) => s.reduce((a, b) => a + b, 0) / s.length;
    expect(ink(one.samples)).toBeLessThan(ink(seven.samples));
    expect(differ(seven.slid.image, one.slid.image)).toBeGreaterThan(0.02);
    const pixelsDiffer = (a: number[], b: number[]) => a.some((v, i) => v !== b[i]);
    expect(pixelsDiffer(seven.canvas, one.canvas)).toBe(true);
    expect(pixelsDiffer(seven.slider, one.slider)).toBe(true);
    expect(pixelsDiffer(seven.interpolation, one.interpolation)).toBe(true);
    expect(pixelsDiffer(seven.manifold, one.manifold)).toBe(true);
    expect((await demo(page)).errors).toEqual([]);
    expect(page.errors).toEqual([]);
    await page.screenshot(artifact('demo-cvae'));
  }, 90_000);

  it("Fashion-MNIST's images and labels (Debian's gzipped IDX files) through the file picker train a conditional VAE; wrong or missing labels are clear errors", async () => {
    const { page } = await session();
    const dir = '/usr/share/datasets/fashion-mnist';
    const images = join(dir, 't10k-images-idx3-ubyte.gz');
    const labels = join(dir, 't10k-labels-idx1-ubyte.gz');
    expect(existsSync(images) && existsSync(labels), `${dir} is missing: apt-get install -y dataset-fashion-mnist`).toBe(true);
    await page.goto(`${base()}/?seed=1&batch=100`);
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.ready, undefined, 30_000);
    const errors = async () => (await demo(page)).errors;
    const status = () => textOf(page, '#status');

    // The images alone: a conditional VAE asks for their labels.
    await page.setFiles('#file', images);
    await waitFor(page, () => document.getElementById('status')!.textContent!.includes('t10k-images-idx3-ubyte.gz'));
    await page.click('input[name=conditional]');
    expect(await checked(page, 'input[name=conditional]')).toBe(true);
    await page.click('#train');
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.errors.length > 0, undefined, 20_000);
    expect(await status()).toBe('Error: a conditional VAE needs the images\' labels: open the label file (IDX, e.g. train-labels-idx1-ubyte) after the images, or untick "conditional"');

    // A label file of another length: named, with both counts.
    const short = join(files, 'five-labels.idx');
    writeFileSync(short, Buffer.from([0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5]));
    await page.setFiles('#file', short);
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.errors.length > 1, undefined, 20_000);
    expect(await status()).toBe('Error: five-labels.idx has 5 labels, but the images are 10,000; open the label file that belongs to them');

    // Both files at once (the picker takes several): images, then labels; then a CVAE trains and draws the class picked.
    await page.setFiles('#file', [labels, images]);
    await waitFor(page, () => document.getElementById('status')!.textContent!.startsWith('t10k-labels-idx1-ubyte.gz: labels'), undefined, 20_000);
    expect(await status()).toBe('t10k-labels-idx1-ubyte.gz: labels for the 9,000 training and 1,000 test images; tick "conditional" and press Train for a conditional VAE.');
    await page.click('#train');
    await waitFor(page, () => (window as unknown as { __demo: Demo }).__demo.step >= 20, undefined, 30_000);
    await page.click('#pause');
    expect(await status()).toMatch(/^A VAE 784-400-20 conditional on the label \(CVAE\)/);
    await page.click('#classes button', { nth: 3 });
    await waitFor(page, () => {
      const x = (window as unknown as { __demo: Demo }).__demo;
      return x.digit === 3 && x.slid?.digit === 3;
    }, undefined, 20_000);
    expect(await inked(page, 'samples')).toBeGreaterThan(0.05);
    expect(await errors()).toHaveLength(2);
    expect(page.errors).toEqual([]);
  }, 90_000);

  it('Save keeps that conditional VAE; after a reload it is restored with its class picker and draws the same samples for the class', async () => {
    const { page } = await session();
    const before = await demo(page);
    expect(before.digit).toBe(3);
    await page.download(() => page.click('#save'));
    await waitFor(page, () => document.getElementById('status')!.textContent!.startsWith('Saved'));
    await page.goto(`${base()}/`);
    await waitFor(page, () => {
      const x = (window as unknown as { __demo: Demo }).__demo;
      return x.restored && x.digit === 0 && x.slid?.digit === 0;
    }, undefined, 30_000);
    expect(await checked(page, 'input[name=conditional]')).toBe(true);
    expect(await visible(page, '#classes')).toBe(true);
    await page.click('#classes button', { nth: 3 });
    await waitFor(page, () => {
      const x = (window as unknown as { __demo: Demo }).__demo;
      return x.digit === 3 && x.slid?.digit === 3;
    }, undefined, 20_000);
    const after = await demo(page);
    expect(after.samples).toHaveLength(32 * 784);
    expect(after.samples).toEqual(before.samples);
    expect(after.errors).toEqual([]);
    expect(page.errors).toEqual([]);
  }, 60_000);
});
