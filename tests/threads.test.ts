// Worker threads (crate/src/par.rs, ts/core/threads.ts): the same bits for any thread count and whatever the workers
// do (late, descheduled inside a chunk), workers that never keep a process alive, and a worker's crash — at any
// point of any kind of task — surfacing as a clear error that leaves the model byte for byte as it was.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Autoencoder, VAE, decodeSafetensors, idxImages, init, loadIdx } from '../ts/index';
import type { Core } from '../ts/core/wasm';
import { startLimits } from '../ts/core/threads';
import type { AutoencoderConfig, FitOptions, VAEConfig } from '../ts/index';
import { mnist, ROOT as root, weightBytes } from './helpers';

/** Trains `steps` steps of `batch` rows with `threads` threads; returns the weights' bytes and the model. */
async function train(config: VAEConfig | (AutoencoderConfig & { autoencoder: true }), data: Uint8Array, batch: number, steps: number, threads: number, fit: FitOptions = {}) {
  const { autoencoder, ...rest } = config as AutoencoderConfig & { autoencoder?: true };
  const m = autoencoder ? await Autoencoder.create({ ...rest, threads }) : await VAE.create({ ...(rest as VAEConfig), threads });
  expect(m.threads).toBe(threads);
  expect(m.threadsNote).toBeUndefined();
  const dim = rest.inputDim!;
  await m.fit(data.subarray(0, steps * batch * dim), { batchSize: batch, epochs: 1, ...fit });
  return { bytes: weightBytes(m), model: m };
}

/** Word of the control block that is 1 while a worker sleeps in an injected delay (`word::DELAYED` in par.rs). */
const DELAYED = 15;
const controlWord = (core: Core, i: number) => core.u32(core.x.vae_thread_control() + 4 * i, 1)[0]!;
/** Fork-join counters (`par::stats`): [tasks, serial, caller chunks, worker chunks, joins waited, joins slept, wait ns, stale claims, wakes, behind]. */
const stats = (core: Core) => core.scoped((alloc) => {
  const p = alloc(10 * 8);
  core.x.vae_threads_stats(p, 10, 0);
  return Array.from(core.f64(p, 10));
});
const STALE = 7;
/** Workers asleep in Atomics.wait (`word::SLEEPERS` in par.rs). */
const SLEEPERS = 4;
const JOINS_SLEPT = 5;
/** Decisions that found the workers behind, so products were cut into more chunks (`SPLIT` in par.rs). */
const BEHIND = 9;

/** Arms worker 1 to trap in its next chunk of a task whose context type's name contains `filter`. */
function injectFault(core: Core, at: number, filter: string) {
  core.scoped((alloc) => {
    const p = alloc(filter.length);
    core.u8(p, filter.length).set(Buffer.from(filter, 'latin1'));
    core.x.vae_threads_inject_fault(1, at, p, filter.length);
  });
}

function faultSite(core: Core): string {
  const p = core.x.vae_threads_fault_site();
  const bytes = core.u8(p, 96);
  return Buffer.from(bytes.subarray(0, bytes.indexOf(0))).toString('latin1');
}

/** A small convolutional VAE on 28×28 images, so that the gathers of convolutions run as tasks too. */
const convConfig: VAEConfig = {
  inputShape: [28, 28, 1], latentDim: 6, seed: 4,
  encoder: [{ type: 'conv2d', filters: 6, kernelSize: 3, strides: 2, padding: 'same' }, { type: 'flatten' }, 64],
  decoder: [{ type: 'dense', units: 14 * 14 * 4 }, { type: 'reshape', targetShape: [14, 14, 4] }, { type: 'conv2dTranspose', filters: 4, kernelSize: 3, strides: 2, padding: 1, outputPadding: 1 }],
  output: { type: 'conv2d', kernelSize: 3, padding: 'same' },
};

describe('threads', () => {
  const data = mnist('train-images-idx3-ubyte', 50 * 128);

  it('50 steps of the default configuration give byte-identical weights with 1, 2 and 3 threads', async () => {
    const config: VAEConfig = { inputDim: 784, latentDim: 20, encoder: [400], seed: 3 };
    const runs = [];
    for (const threads of [1, 2, 3]) {
      const { bytes, model: m } = await train(config, data, 128, 50, threads);
      const model = m as VAE;
      runs.push({ bytes, elbo: model.elbo(data.subarray(0, 500 * 784), { seed: 1, samples: 3 }), lk: model.logLikelihood(data.subarray(0, 20 * 784), { samples: 64, seed: 2 }).perRow.logLikelihood });
      model.dispose();
    }
    expect(runs[0]!.bytes.length).toBe(4 * (784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784));
    for (const r of runs.slice(1)) {
      expect(r.bytes.equals(runs[0]!.bytes)).toBe(true);
      // Inference splits the same way: evaluation and the IWAE bound agree to the bit too.
      expect(r.elbo).toEqual(runs[0]!.elbo);
      expect(Array.from(r.lk)).toEqual(Array.from(runs[0]!.lk));
    }
  }, 120_000);

  it('one row at a time on 2 threads (products split by columns, each part skipping the row\'s zeros) gives the batch\'s bits', async () => {
    const { model } = await train({ inputDim: 784, latentDim: 20, encoder: [400], seed: 5 }, data, 128, 10, 2);
    const m = model as VAE;
    const core = await init();
    const rows = 20;
    const x = data.subarray(0, rows * 784);
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const batch = m.encode(x);
    const decoded = m.decode(batch.mean);
    const tasks = stats(core)[0]!;
    for (let r = 0; r < rows; r++) {
      const one = m.encode(x.subarray(r * 784, (r + 1) * 784));
      expect(bytes(one.mean)).toEqual(bytes(batch.mean.subarray(r * 20, (r + 1) * 20)));
      expect(bytes(one.logVar)).toEqual(bytes(batch.logVar.subarray(r * 20, (r + 1) * 20)));
      expect(bytes(m.decode(one.mean))).toEqual(bytes(decoded.subarray(r * 784, (r + 1) * 784)));
    }
    // 784·400 multiply-adds per row: each one-row product of the first and last layers was split across the threads.
    expect(stats(core)[0]! - tasks).toBeGreaterThanOrEqual(2 * rows);
    m.dispose();
  }, 60_000);

  it('other shapes and options split identically too (tanh, Gaussian learned variance, L = 2, dynamic binarization, SGD; autoencoder)', async () => {
    const cases: [VAEConfig | (AutoencoderConfig & { autoencoder: true }), FitOptions][] = [
      [{ inputDim: 784, latentDim: 7, encoder: [300, 130], decoder: [90, 301], activation: 'tanh', likelihood: 'gaussian', variance: 'learned', seed: 5 }, { samples: 2, optimizer: { name: 'sgd', learningRate: 1e-4, momentum: 0.9 } }],
      [{ inputDim: 784, latentDim: 33, encoder: [257], activation: 'leakyRelu', seed: 6 }, { binarize: 'dynamic', samples: 3, optimizer: { name: 'adagrad', learningRate: 0.01 } }],
      [{ autoencoder: true, inputDim: 784, latentDim: 30, encoder: [200], loss: 'mse', seed: 7 }, {}],
      [{ ...convConfig, inputDim: 784 } as VAEConfig, { samples: 2 }],
    ];
    for (const [config, fit] of cases) {
      const one = await train(config, data, 100, 12, 1, fit);
      const two = await train(config, data, 100, 12, 2, fit);
      const three = await train(config, data, 100, 12, 3, fit);
      expect(two.bytes.equals(one.bytes), JSON.stringify(config)).toBe(true);
      expect(three.bytes.equals(one.bytes), JSON.stringify(config)).toBe(true);
      for (const r of [one, two, three]) r.model.dispose();
    }
  }, 120_000);

  it('a fit-level threads option applies to that fit only', async () => {
    const m = await VAE.create({ inputDim: 784, latentDim: 4, encoder: [64], seed: 1, threads: 1 });
    let during = 0;
    await m.fit(data.subarray(0, 256 * 784), { threads: 2, onBatchEnd: () => { during = m.threads; } });
    expect(during).toBe(2);
    expect(m.threads).toBe(1);
    m.dispose();
  });

  it('bad thread counts are rejected with what was expected', async () => {
    await expect(VAE.create({ inputDim: 4, latentDim: 2, threads: 0 })).rejects.toThrow(/VAE\.create: threads.*'auto' or an integer in \[1, 64\]/);
    await expect(VAE.create({ inputDim: 4, latentDim: 2, threads: 'many' as never })).rejects.toThrow(/threads/);
    const m = await VAE.create({ inputDim: 4, latentDim: 2, threads: 1 });
    await expect(m.fit(new Float32Array(8), { batchSize: 2, threads: 65 })).rejects.toThrow(/VAE\.fit: threads/);
    await expect(m.setThreads(2.5)).rejects.toThrow(/VAE\.setThreads: threads/);
    m.dispose();
  });

  it('an update that overflows on 2 threads (split, written out of place) is refused whole; the model is unchanged', async () => {
    const m = await VAE.create({ inputDim: 784, latentDim: 10, encoder: [200], seed: 9, threads: 2 });
    await m.fit(data.subarray(0, 2 * 128 * 784), { batchSize: 128 });
    const before = Buffer.from(m.save());
    // (g + λθ)² overflows in Adam's v for every weight not 0: in every chunk of the split update.
    await expect(m.fit(data.subarray(0, 128 * 784), { batchSize: 128, optimizer: { name: 'adam', weightDecay: 1e25 } }))
      .rejects.toThrow(/the update they give became NaN or infinite at epoch 1, batch 1; that update was not applied/);
    const saved = await VAE.load(before);
    expect(weightBytes(m).equals(weightBytes(saved))).toBe(true);
    saved.dispose();
    const file = decodeSafetensors(m.save());
    expect(Object.values(file.tensors).every((t) => (t.data as Float32Array).every(Number.isFinite))).toBe(true);
    m.dispose();
  });

  it('a worker that crashes fails fit with a clear error; the model is unchanged and training goes on after', async () => {
    const config: VAEConfig = { inputDim: 784, latentDim: 10, encoder: [200], seed: 9, threads: 2 };
    const m = await VAE.create(config);
    const core = await init();
    // One step per attempt, so the failed step is the fit's first (the steps before a failed one stay applied). On a
    // loaded machine the worker may claim no chunk in a step; the fault stays armed and the next attempt tries again.
    let before = weightBytes(m);
    let error: Error | undefined;
    core.x.vae_threads_inject_fault(1);
    try {
      for (let attempt = 0; attempt < 20 && !error; attempt++) {
        before = weightBytes(m);
        error = await m.fit(data.subarray(0, 128 * 784), { batchSize: 128 }).then(() => undefined, (e: Error) => e);
        if (!error) expect(core.x.vae_threads_fault_armed(), 'the call succeeded although the fault fired').toBe(1);
      }
    } finally {
      core.x.vae_threads_inject_fault(0, 0, 0, 0); // disarms, so a miss cannot fail the tests after this one
    }
    expect(error, 'the fault did not fire in 20 one-step fits').toBeInstanceOf(Error);
    expect(error!.message).toMatch(/VAE\.fit: worker thread 1 failed: RuntimeError: unreachable.*left the model as it was/);
    expect(weightBytes(m).equals(before)).toBe(true);
    // The next fit restarts the workers and computes what one thread computes from the same state.
    const copy = await VAE.load(m.save());
    await m.fit(data.subarray(0, 512 * 784), { batchSize: 128 });
    expect(m.threads).toBe(2);
    await copy.fit(data.subarray(0, 512 * 784), { batchSize: 128, threads: 1 });
    expect(weightBytes(m).equals(weightBytes(copy))).toBe(true);
    expect(weightBytes(m).equals(before)).toBe(false);
    m.dispose();
    copy.dispose();
  }, 60_000);

  it('a worker that dies halfway through a chunk, or after computing it, in any kind of task, leaves the model byte-identical', async () => {
    const core = await init();
    const dense: VAEConfig = { inputDim: 784, latentDim: 10, encoder: [200], seed: 9, threads: 2 };
    const conv = { ...convConfig, threads: 2 };
    const batch = data.subarray(0, 128 * 784);
    const fit = { batchSize: 128, shuffle: false };
    // Every kind of task a training step runs, by the module path of its context type (see `par::inject_fault`).
    const kinds: [VAEConfig, string][] = [
      [dense, 'data::gather'], [dense, 'ops::matmul::run'], [dense, 'likelihood'], [dense, 'optim::max_magnitude'],
      [dense, 'optim::update_into'], [conv, 'windows::Windows::im2col'], [conv, 'conv2d::Conv2d::backward'],
      [conv, 'conv2d_transpose::Conv2dTranspose::forward'], [conv, 'conv2d_transpose::Conv2dTranspose::backward'],
      [conv, 'matmul::bias_grad'],
    ];
    for (const [config, kind] of kinds) {
      for (const at of [1, 2]) {
        const m = await VAE.create(config);
        await m.fit(batch, fit); // optimizer state and step counter are no longer at their initial values
        let fired = false;
        // The worker must claim a chunk of such a task for the fault to fire; a step it missed just trains on.
        for (let attempt = 0; attempt < 20 && !fired; attempt++) {
          const before = Buffer.from(m.save());
          const step = m.step;
          injectFault(core, at, kind);
          const outcome = await m.fit(batch, fit).then(() => undefined, (e: Error) => e);
          if (outcome === undefined) {
            expect(core.x.vae_threads_fault_armed(), `${kind}: the call succeeded although the fault fired`).toBe(1);
            continue;
          }
          fired = true;
          expect(outcome.message).toMatch(/VAE\.fit: worker thread 1 failed: RuntimeError: unreachable.*left the model as it was/);
          expect(faultSite(core)).toContain(kind);
          // Weights, optimizer state, both RNG streams, the step counter and the epochs trained, byte for byte.
          expect(Buffer.from(m.save()).equals(before), `${kind} at ${at}: the model changed`).toBe(true);
          expect(m.step).toBe(step);
          // Training goes on from there exactly as one thread goes on from the saved state.
          const copy = await VAE.load(before);
          await m.fit(batch, fit);
          await copy.fit(batch, { ...fit, threads: 1 });
          expect(weightBytes(m).equals(weightBytes(copy)), kind).toBe(true);
          expect(Buffer.from(m.save()).equals(Buffer.from(copy.save())), kind).toBe(true);
          copy.dispose();
        }
        core.x.vae_threads_inject_fault(0, 0, 0, 0); // disarms
        expect(fired, `the fault in ${kind} never fired`).toBe(true);
        m.dispose();
      }
    }
  }, 120_000);

  it('evaluation, the IWAE bound and sampling abandoned by a dying worker leave the evaluation stream where it was', async () => {
    const core = await init();
    const m = await VAE.create({ inputDim: 784, latentDim: 10, encoder: [200], seed: 14, threads: 2 });
    const rows = data.subarray(0, 256 * 784);
    const calls: [string, () => unknown][] = [
      ['elbo', () => m.elbo(rows, { samples: 2 })],
      ['logLikelihood', () => m.logLikelihood(rows.subarray(0, 8 * 784), { samples: 128 })],
      ['sample', () => m.sample(512)],
    ];
    for (const [name, call] of calls) {
      let fired = false;
      for (let attempt = 0; attempt < 20 && !fired; attempt++) {
        const before = Buffer.from(m.save());
        injectFault(core, 1, 'ops::matmul::run');
        let error: Error | undefined;
        try {
          call();
        } catch (e) {
          error = e as Error;
        }
        if (!error) continue;
        fired = true;
        expect(error.message, name).toMatch(/worker thread 1 failed.*left the model as it was/);
        expect(Buffer.from(m.save()).equals(before), `${name} moved the model's state`).toBe(true);
        await m.setThreads(2); // restart the pool for the next call
      }
      core.x.vae_threads_inject_fault(0, 0, 0, 0);
      expect(fired, `the fault in ${name} never fired`).toBe(true);
    }
    m.dispose();
  }, 60_000);

  it('a worker descheduled after reading a task delays nothing: the call completes while it sleeps, and its late claim is refused', async () => {
    const core = await init();
    const config: VAEConfig = { inputDim: 784, latentDim: 10, encoder: [200], seed: 12 };
    const one = await train(config, data, 128, 6, 1);
    const m = await VAE.create({ ...config, threads: 2 });
    const stale = stats(core)[STALE]!;
    core.x.vae_threads_inject_delay(1, 0, 1500);
    await m.fit(data.subarray(0, 6 * 128 * 784), { batchSize: 128 });
    // The six steps did not wait for worker 1: it is still asleep inside the task it read.
    expect(controlWord(core, DELAYED)).toBe(1);
    expect(weightBytes(m).equals(one.bytes)).toBe(true);
    const deadline = Date.now() + 10_000;
    while (controlWord(core, DELAYED) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(controlWord(core, DELAYED)).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    // Woken, it tried to claim a chunk of a task that had long finished: refused.
    expect(stats(core)[STALE]!).toBeGreaterThan(stale);
    // And the pool goes on: more steps, still the bits of one thread.
    const next = data.subarray(6 * 128 * 784, 12 * 128 * 784);
    await one.model.fit(next, { batchSize: 128 });
    await m.fit(next, { batchSize: 128 });
    expect(weightBytes(m).equals(weightBytes(one.model))).toBe(true);
    m.dispose();
    one.model.dispose();
  }, 60_000);

  it('a worker descheduled while it holds a chunk: the call waits for that chunk alone (asleep) and gives the same bits', async () => {
    const core = await init();
    const config: VAEConfig = { inputDim: 784, latentDim: 10, encoder: [200], seed: 13 };
    // 8 steps (144 tasks): the pool decides once per 32 tasks, and its count carries over from earlier calls, so
    // a decision is sure to see the delayed task only if 31 more follow it (4 steps left that to chance).
    const one = await train(config, data, 128, 8, 1);
    const m = await VAE.create({ ...config, threads: 2 });
    const [slept, behind] = [stats(core)[JOINS_SLEPT]!, stats(core)[BEHIND]!];
    core.x.vae_threads_inject_delay(1, 1, 300);
    const t0 = performance.now();
    await m.fit(data.subarray(0, 8 * 128 * 784), { batchSize: 128 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(controlWord(core, DELAYED)).toBe(0);
    expect(stats(core)[JOINS_SLEPT]!).toBeGreaterThan(slept);
    // The pool saw the worker fall behind and cut the next products finer; the bits are those of one thread.
    expect(stats(core)[BEHIND]!).toBeGreaterThan(behind);
    expect(weightBytes(m).equals(one.bytes)).toBe(true);
    m.dispose();
    one.model.dispose();
  }, 60_000);

  it('disposing the last model stops the workers', async () => {
    const core = await init();
    const m = await VAE.create({ inputDim: 784, latentDim: 4, encoder: [64], threads: 3 });
    expect(core.x.vae_threads_available()).toBeGreaterThanOrEqual(3);
    m.dispose();
    await new Promise((r) => setTimeout(r, 400));
    expect(core.x.vae_threads_available()).toBe(1);
  });

  it('workers that are not ready in time leave the model on one thread, saying why, instead of hanging', async () => {
    const core = await init();
    expect(core.x.vae_threads_available()).toBe(1); // the last test stopped the pool
    const limit = startLimits.readyMs;
    startLimits.readyMs = 0; // no worker can be ready within 0 ms
    const late = await VAE.create({ inputDim: 784, latentDim: 4, encoder: [16], seed: 2, threads: 2 }).finally(() => { startLimits.readyMs = limit; });
    try {
      expect(late.threads).toBe(1);
      expect(late.threadsNote).toMatch(/one thread: worker threads could not start \(no worker was ready within 0 s\)/);
      expect(core.x.vae_threads_available()).toBe(1);
    } finally {
      late.dispose();
    }
    // With the limit back, the pool starts as usual, and the model trains on it.
    const m = await VAE.create({ inputDim: 784, latentDim: 4, encoder: [16], seed: 2, threads: 2 });
    expect(m.threads).toBe(2);
    await m.fit(data.subarray(0, 256 * 784), { batchSize: 128 });
    m.dispose();
  });

  it('a pool started after a stopped one counts only its own sleeping workers (else every task pays a wake-up call)', async () => {
    const core = await init();
    const asleep = async (n: number) => {
      for (let t = 0; t < 100 && controlWord(core, SLEEPERS) < n; t++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));
      return controlWord(core, SLEEPERS);
    };
    const x = data.subarray(0, 4 * 128 * 784);
    for (let round = 0; round < 3; round++) {
      const m = await VAE.create({ inputDim: 784, latentDim: 4, encoder: [64], threads: 3 });
      await m.fit(x, { batchSize: 128 });
      // Both workers asleep, and counted once each, however many pools were stopped with their workers asleep.
      expect(await asleep(2)).toBe(2);
      m.dispose();
      await new Promise((r) => setTimeout(r, 400));
      expect(core.x.vae_threads_available()).toBe(1);
    }
  }, 30_000);

  it('`node -e` training with threads exits on its own when done (no dangling workers)', () => {
    const script = `
      import('${join(root, 'dist/index.js')}').then(async ({ VAE }) => {
        const x = new Float32Array(512 * 784).map((_, i) => (i * 7919 % 997) / 997);
        const vae = await VAE.create({ inputDim: 784, latentDim: 8, encoder: [256], threads: 2 });
        await vae.fit(x, { epochs: 2, batchSize: 128 });
        console.log('trained with', vae.threads, 'threads');
      });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.error, 'the process did not exit within 30 s').toBeUndefined();
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('trained with 2 threads');
    expect(r.status).toBe(0);
  });
});
