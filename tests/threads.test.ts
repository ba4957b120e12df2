// Worker threads (crate/src/par.rs, ts/core/threads.ts): the same bits for any thread count, workers that never keep
// a process alive, and a worker's crash surfacing as a clear error that leaves the model as it was.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Autoencoder, VAE, init } from '../ts/index';
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

  it('other shapes and options split identically too (tanh, Gaussian learned variance, L = 2, dynamic binarization, SGD; autoencoder)', async () => {
    const cases: [VAEConfig | (AutoencoderConfig & { autoencoder: true }), FitOptions][] = [
      [{ inputDim: 784, latentDim: 7, encoder: [300, 130], decoder: [90, 301], activation: 'tanh', likelihood: 'gaussian', variance: 'learned', seed: 5 }, { samples: 2, optimizer: { name: 'sgd', learningRate: 1e-4, momentum: 0.9 } }],
      [{ inputDim: 784, latentDim: 33, encoder: [257], activation: 'leakyRelu', seed: 6 }, { binarize: 'dynamic', samples: 3, optimizer: { name: 'adagrad', learningRate: 0.01 } }],
      [{ autoencoder: true, inputDim: 784, latentDim: 30, encoder: [200], loss: 'mse', seed: 7 }, {}],
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

  it('a worker that crashes fails fit with a clear error; the model is unchanged and training goes on after', async () => {
    const config: VAEConfig = { inputDim: 784, latentDim: 10, encoder: [200], seed: 9, threads: 2 };
    const m = await VAE.create(config);
    const before = weightBytes(m);
    const core = await init();
    core.x.vae_threads_inject_fault(1);
    await expect(m.fit(data.subarray(0, 512 * 784), { batchSize: 128 })).rejects.toThrow(/VAE\.fit: worker thread 1 failed: RuntimeError: unreachable.*left the model as it was/);
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

  it('disposing the last model stops the workers', async () => {
    const core = await init();
    const m = await VAE.create({ inputDim: 784, latentDim: 4, encoder: [64], threads: 3 });
    expect(core.x.vae_threads_available()).toBeGreaterThanOrEqual(3);
    m.dispose();
    await new Promise((r) => setTimeout(r, 400));
    expect(core.x.vae_threads_available()).toBe(1);
  });

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
