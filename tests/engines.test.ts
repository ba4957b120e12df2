// "A seed gives the same bits on every engine", checked on the three engine families: the same workloads
// (tests/engines/workload.mjs) run in Node, Bun (JavaScriptCore), Deno (V8), Chromium (V8), Firefox (SpiderMonkey)
// and WebKitGTK's MiniBrowser (JavaScriptCore), on one thread and on two (worker threads over shared wasm memory),
// must give Node's weights, saved file and losses exactly. Browsers load the built package from a cross-origin
// isolated page on 127.0.0.1; Bun and Deno run its Node entry (dist/index.js). A missing engine fails the suite.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserName, launch, type LaunchOptions, onFirstUse, root, runScript, type RuntimeName, serve } from './engines/drivers.mjs';
import { MNIST_ROWS } from './engines/workload.mjs';
import { MNIST_DIR, mnist } from './helpers';

type Workload = 'trainMnist' | 'trainConv' | 'trainConditional' | 'refusedStep' | 'skippedSteps';
/** The trainings every engine repeats, on one thread and on two: dense, convolutional, conditional (IWAE). */
const TRAININGS = ['trainMnist', 'trainConv', 'trainConditional'] as const;
interface Engine {
  run(workload: Workload, threads: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

const RUN = 'tests/engines/run.mjs';
const IMAGES = join(MNIST_DIR, 'train-images-idx3-ubyte');
let server: Awaited<ReturnType<typeof serve>>;
const reference: Record<string, Record<string, unknown>> = {};

beforeAll(async () => {
  expect(existsSync(`${root}dist/index.js`), 'dist/ is missing: npm run build').toBe(true);
  server = await serve(root, { isolated: true, routes: { '/mnist.bin': mnist('train-images-idx3-ubyte', MNIST_ROWS) } });
  for (const w of TRAININGS) {
    reference[`${w}/1`] = await runScript('node', RUN, [w, '1', IMAGES]);
    reference[`${w}/2`] = await runScript('node', RUN, [w, '2', IMAGES]);
  }
  reference.refused = await runScript('node', RUN, ['refusedStep', '1', IMAGES]);
  reference.skipped = await runScript('node', RUN, ['skippedSteps', '1', IMAGES]);
}, 240_000);

afterAll(async () => {
  await server?.close();
});

function runtime(name: RuntimeName): Engine {
  return { run: (workload, threads) => runScript(name, RUN, [workload, String(threads), IMAGES]), close: async () => {} };
}

async function browser(name: BrowserName, options?: LaunchOptions): Promise<Engine> {
  const b = await launch(name, options);
  try {
    const tab = await b.newTab();
    await tab.goto(`${server.base}/tests/browser/index.html`);
    await tab.waitFor(() => 'work' in globalThis && 'lib' in globalThis);
    return {
      run: (workload, threads) => tab.evaluate(async ({ workload, threads }) => {
        const g = globalThis as unknown as { lib: unknown; work: Record<string, (lib: unknown, images: Uint8Array, threads: number) => Promise<Record<string, unknown>>> };
        const images = new Uint8Array(await (await fetch('/mnist.bin')).arrayBuffer());
        return g.work[workload]!(g.lib, images, threads);
      }, { workload, threads }),
      close: () => b.close(),
    };
  } catch (e) {
    await b.close();
    throw e;
  }
}

const NO_SAB = /^one thread: this browser has no SharedArrayBuffer even though the page is cross-origin isolated/;
const ENGINES: { name: string; start: () => Engine | Promise<Engine>; twoThreads?: { threads: number; note: RegExp } }[] = [
  { name: 'Bun (JavaScriptCore)', start: () => runtime('bun') },
  { name: 'Deno (V8)', start: () => runtime('deno') },
  { name: 'Chromium (V8)', start: () => browser('chromium') },
  { name: 'Firefox (SpiderMonkey)', start: () => browser('firefox') },
  // As users get it: one thread, and threadsNote says why.
  { name: 'WebKitGTK MiniBrowser (JavaScriptCore)', start: () => browser('webkit'), twoThreads: { threads: 1, note: NO_SAB } },
  // JavaScriptCore's shared memory, atomics and Web Workers in a browser, with SharedArrayBuffer switched on.
  { name: 'WebKitGTK MiniBrowser, JSC_useSharedArrayBuffer=1', start: () => browser('webkit', { sharedArrayBuffer: true }) },
];

describe('Node, the reference', () => {
  it.each(TRAININGS)('%s: one and two threads give the same bits, and the model learned', (w) => {
    expect(reference[`${w}/1`]).toMatchObject({ threads: 1, note: null });
    expect(reference[`${w}/2`]).toEqual({ ...reference[`${w}/1`], threads: 2 });
    // Nats per image: Bernoulli MNIST starts near 543 (p = ½ everywhere) and drops within a few steps.
    const { loss, valLoss } = reference[`${w}/1`] as { loss: number; valLoss: number };
    expect(loss).toBeGreaterThan(100);
    expect(valLoss).toBeLessThan(loss);
    if (w === 'trainMnist') expect(loss).toBeLessThan(450); // after 16 steps, from ~543 at the start
  });

  it('the refused step leaves the model as it was', () => {
    expect(reference.refused).toMatchObject({ unchanged: true, lossFinite: false });
    expect(reference.refused!.error).toMatch(/^VAE\.fit: the loss, a gradient or the update they give became NaN or infinite at epoch 1, batch 1; that update was not applied/);
    expect(reference.refused!.nanGradients).toBeGreaterThan(1000); // NaN really flowed through the kernels
  });

  it('onNonFinite: \'skip\' skips exactly the overflowing batches and applies the finite ones', () => {
    expect(reference.skipped).toMatchObject({ skipped: 2 });
    expect(Number.isFinite(reference.skipped!.loss)).toBe(true);
    expect(reference.skipped!.weights).not.toBe(reference.skipped!.set); // the black batches were applied
  });

  it('the three trainings are different models (a workload that ignored its layers would repeat a hash)', () => {
    expect(new Set(TRAININGS.map((w) => reference[`${w}/1`]!.weights)).size).toBe(3);
  });
});

describe.each(ENGINES)('$name', ({ start, twoThreads }) => {
  const engine = onFirstUse(async () => start());
  afterAll(() => engine.close());

  it.each(TRAININGS)('%s, one thread: the same weights, saved file and losses as Node', async (w) => {
    expect(await (await engine()).run(w, 1)).toEqual(reference[`${w}/1`]);
  }, 90_000);

  it.each(TRAININGS)('%s, two threads: worker threads on shared memory, the same bits', async (w) => {
    const two = reference[`${w}/2`]!;
    const expected = twoThreads ? { ...two, threads: twoThreads.threads, note: expect.stringMatching(twoThreads.note) } : two;
    expect(await (await engine()).run(w, 2)).toEqual(expected);
  }, 90_000);

  it('a step whose loss and gradients are NaN is refused and leaves the model byte-identical to Node\'s', async () => {
    expect(await (await engine()).run('refusedStep', twoThreads?.threads ?? 2)).toEqual(reference.refused);
  });

  it('onNonFinite: \'skip\' on the conv model skips the same batches and leaves the same weights and file as Node', async () => {
    expect(await (await engine()).run('skippedSteps', twoThreads?.threads ?? 2)).toEqual(reference.skipped);
  });
});
