// The importance-weighted objective (Burda et al. 2015): its value is −L_k recomputed by the f64 reference from the
// same ε, every gradient matches central finite differences of that reference, k = 1 is the one-draw ELBO with a
// Monte Carlo KL term (its mean over draws is the analytic-KL ELBO), training on it works on every thread count, and
// weights that underflow in f32 stay finite.
import { describe, expect, it } from 'vitest';
import { VAE } from '../ts/index';
import type { VAEConfig } from '../ts/index';
import { finiteDifferencesOf, iwaeLoss, type RefConfig, TestRandom } from './oracle';
import { mnist, weightBytes } from './helpers';

const dense = (units: number, act: 'tanh' | 'softplus' | 'linear' = 'tanh') => ({ type: 'dense' as const, units, act });

const cases: { name: string; vae: VAEConfig; ref: RefConfig; k: number }[] = [
  {
    name: 'Bernoulli, tanh [5], k = 5',
    vae: { inputDim: 6, latentDim: 2, encoder: [5], activation: 'tanh', init: { normal: 0.7 }, seed: 1 },
    ref: { kind: 'vae', inputShape: [6], latentDim: 2, encoder: [dense(5)], decoder: [dense(5)], output: dense(6, 'linear'), leakySlope: 0.01, recon: 'bernoulli', variance: 1 },
    k: 5,
  },
  {
    name: 'Gaussian with learned variance, softplus [4], k = 3',
    vae: { inputDim: 5, latentDim: 3, encoder: [4], activation: 'softplus', likelihood: 'gaussian', variance: 'learned', init: { normal: 0.6 }, seed: 2 },
    ref: { kind: 'vae', inputShape: [5], latentDim: 3, encoder: [dense(4, 'softplus')], decoder: [dense(4, 'softplus')], output: dense(5, 'linear'), leakySlope: 0.01, recon: 'gaussianLearned', variance: 1 },
    k: 3,
  },
  {
    name: 'likelihood groups (gaussian 2, categorical 3), no hidden layers, k = 4',
    vae: { inputDim: 5, latentDim: 2, encoder: [], init: { normal: 0.8 }, seed: 3, likelihood: [{ type: 'gaussian', width: 2 }, { type: 'categorical', width: 3 }] },
    ref: { kind: 'vae', inputShape: [5], latentDim: 2, encoder: [], decoder: [], output: dense(5, 'linear'), leakySlope: 0.01, recon: 'gaussian', variance: 1,
      groups: [{ recon: 'gaussian', width: 2 }, { recon: 'categorical', width: 3 }] },
    k: 4,
  },
  {
    name: 'convolutional [6,6,1], k = 3',
    vae: { inputShape: [6, 6, 1], latentDim: 2, activation: 'tanh', init: { normal: 0.5 }, seed: 4,
      encoder: [{ type: 'conv2d', filters: 2, kernelSize: 3, strides: 2, padding: 1 }, { type: 'flatten' }],
      decoder: [{ type: 'dense', units: 18 }, { type: 'reshape', targetShape: [3, 3, 2] }],
      output: { type: 'conv2dTranspose', kernelSize: 2, strides: 2 } },
    ref: { kind: 'vae', inputShape: [6, 6, 1], latentDim: 2, leakySlope: 0.01, recon: 'bernoulli', variance: 1,
      encoder: [{ type: 'conv2d', filters: 2, kernel: [3, 3], strides: [2, 2], padding: [1, 1], act: 'tanh' }, { type: 'flatten' }],
      decoder: [dense(18), { type: 'reshape', shape: [3, 3, 2] }],
      output: { type: 'conv2dTranspose', filters: 1, kernel: [2, 2], strides: [2, 2], padding: 'valid', act: 'linear' } },
    k: 3,
  },
];

function inputs(vae: VAE, rows: number, k: number, rnd: TestRandom, categorical?: [number, number]) {
  const dim = vae.config.inputDim;
  const x = rnd.uniforms(rows * dim);
  if (categorical) for (let r = 0; r < rows; r++) for (let j = 0; j < categorical[1]; j++) x[r * dim + categorical[0] + j] = j === r % categorical[1] ? 1 : 0;
  return { x, eps: rnd.normals(rows * k * vae.config.latentDim) };
}

describe.each(cases)('IWAE objective: $name', ({ vae: config, ref, k }) => {
  it('the loss is −L_k of the f64 reference for the same ε, and every gradient matches its finite differences', async () => {
    const vae = await VAE.create(config);
    const rows = 3;
    const rnd = new TestRandom(21);
    const { x, eps } = inputs(vae, rows, k, rnd, ref.groups ? [2, 3] : undefined);
    const W = Object.fromEntries(Object.entries(vae.getWeights()).map(([n, t]) => [n, Float64Array.from(t.data)]));
    const [x64, e64] = [Float64Array.from(x), Float64Array.from(eps)];
    const want = iwaeLoss(ref, W, x64, rows, e64, k);
    const core = vae.lossAndGradients(x, { epsilon: eps, samples: k, objective: 'iwae' });
    expect(Math.abs(core.loss - want)).toBeLessThan(2e-6 * Math.abs(want) + 1e-5);
    const fd = finiteDifferencesOf(W, () => iwaeLoss(ref, W, x64, rows, e64, k));
    let scale = 0;
    for (const g of Object.values(fd)) for (const v of g) scale = Math.max(scale, Math.abs(v));
    expect(scale).toBeGreaterThan(1e-3);
    expect(Object.keys(core.gradients).sort()).toEqual(Object.keys(fd).sort());
    for (const [name, g] of Object.entries(core.gradients)) {
      for (let i = 0; i < g.length; i++) {
        const tol = 1e-4 * Math.abs(fd[name]![i]!) + 2e-5 * scale;
        expect(Math.abs(g[i]! - fd[name]![i]!), `${name}[${i}]: core ${g[i]} vs fd ${fd[name]![i]}`).toBeLessThanOrEqual(tol);
      }
    }
    vae.dispose();
  });
});

describe('IWAE objective', () => {
  it('k = 1 is the one-draw ELBO with a Monte Carlo KL: its mean over draws equals the analytic-KL ELBO within 3 standard errors', async () => {
    const vae = await VAE.create({ inputDim: 6, latentDim: 2, encoder: [5], activation: 'tanh', init: { normal: 0.7 }, seed: 5 });
    const rnd = new TestRandom(8);
    const x = rnd.uniforms(4 * 6);
    const draws = 4000;
    let sum = 0;
    let sumSq = 0;
    let elbo = 0;
    for (let t = 0; t < draws; t++) {
      const eps = rnd.normals(4 * 2);
      const l = vae.lossAndGradients(x, { epsilon: eps, samples: 1, objective: 'iwae' }).loss;
      sum += l;
      sumSq += l * l;
      elbo += vae.lossAndGradients(x, { epsilon: eps, samples: 1 }).loss;
    }
    const mean = sum / draws;
    const se = Math.sqrt((sumSq / draws - mean * mean) / draws);
    expect(Math.abs(mean - elbo / draws)).toBeLessThan(3 * se);
    // Per draw they differ (MC vs analytic KL), so this is not a restatement.
    const eps = rnd.normals(8);
    expect(vae.lossAndGradients(x, { epsilon: eps, samples: 1, objective: 'iwae' }).loss).not.toBeCloseTo(vae.lossAndGradients(x, { epsilon: eps, samples: 1 }).loss, 3);
    vae.dispose();
  });

  it('weights that underflow in f32 (one draw dominating by hundreds of nats) give a finite loss and gradient', async () => {
    const vae = await VAE.create({ inputDim: 6, latentDim: 2, encoder: [5], likelihood: 'gaussian', variance: 0.001, seed: 6 });
    const rnd = new TestRandom(9);
    const x = rnd.uniforms(2 * 6);
    const eps = Float32Array.from([0.1, -0.2, 30, -25, 18, 22, 0.3, 0.05, -40, 10, 12, -33]);
    const g = vae.lossAndGradients(x, { epsilon: eps, samples: 3, objective: 'iwae' });
    expect(Number.isFinite(g.loss)).toBe(true);
    expect(Object.values(g.gradients).every((t) => t.every(Number.isFinite))).toBe(true);
    vae.dispose();
  });

  it('training on L_5 raises the bound faster than on the ELBO, gives the same bits on 1, 2 and 3 threads, and refuses β', async () => {
    const data = mnist('train-images-idx3-ubyte', 2048);
    const test = mnist('train-images-idx3-ubyte', 2048 + 500).subarray(2048 * 784);
    const run = async (objective: 'elbo' | 'iwae', threads: number) => {
      const vae = await VAE.create({ inputDim: 784, latentDim: 10, encoder: [200], seed: 7, threads });
      const h = await vae.fit(data, { epochs: 3, batchSize: 64, samples: 5, objective, binarize: 'dynamic' });
      const bound = vae.logLikelihood(test, { samples: 50, seed: 1 }).logLikelihood;
      const bytes = weightBytes(vae);
      vae.dispose();
      return { h, bound, bytes };
    };
    const iwae = await run('iwae', 1);
    const elbo = await run('elbo', 1);
    expect(iwae.h[2]!.loss).toBeLessThan(iwae.h[0]!.loss);
    expect(iwae.bound).toBeGreaterThan(elbo.bound);
    for (const threads of [2, 3]) expect((await run('iwae', threads)).bytes.equals(iwae.bytes)).toBe(true);
    const vae = await VAE.create({ inputDim: 4, latentDim: 2 });
    await expect(vae.fit(new Float32Array(8), { objective: 'iwae', klWeight: 0.5 })).rejects.toThrow(/klWeight must be left out with objective 'iwae'/);
    await expect(vae.fit(new Float32Array(8), { objective: 'ivae' as never })).rejects.toThrow(/objective must be one of "elbo", "iwae"/);
    // lossAndGradients takes the same rules: β only at its neutral 1 with L_k, the same names of objectives.
    const eps2 = new Float32Array(4);
    const x2 = new Float32Array(8).fill(0.5);
    expect(() => vae.lossAndGradients(x2, { epsilon: eps2, objective: 'iwae', klWeight: 0.5 })).toThrow(/VAE\.lossAndGradients: klWeight must be left out with objective 'iwae'/);
    expect(() => vae.lossAndGradients(x2, { epsilon: eps2, objective: 'ivae' as never })).toThrow(/VAE\.lossAndGradients: objective must be one of "elbo", "iwae"/);
    expect(vae.lossAndGradients(x2, { epsilon: eps2, objective: 'iwae', klWeight: 1 }).loss).toBe(vae.lossAndGradients(x2, { epsilon: eps2, objective: 'iwae' }).loss);
    // A huge k: a clear error before any step, the model unchanged.
    const big = await VAE.create({ inputDim: 784, latentDim: 10, encoder: [400] });
    const before = weightBytes(big);
    await expect(big.fit(mnist('train-images-idx3-ubyte', 4096), { batchSize: 4096, samples: 4096, objective: 'iwae' }))
      .rejects.toThrow(/workspace for batchSize × samples = 16777216 decoder rows does not fit in WebAssembly memory; lower batchSize or samples \(with objective 'iwae', samples is k\)/);
    expect(weightBytes(big).equals(before)).toBe(true);
    big.dispose();
    vae.dispose();
  }, 120_000);
});
