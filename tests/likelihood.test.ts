// The importance-weighted bound L_k (Burda et al.): its value against a closed form (a linear Gaussian model whose
// q(z|x) is the exact posterior, so L_k = log p(x) for every draw) and against the f64 reference's L_k
// (tests/oracle.ts) on a tiny model; L_1 is the ELBO, L_k rises with k, and the gap L_k − ELBO ≈ KL(q(z|x) ‖ p(z|x))
// is non-negative — log p(x) = ELBO + KL made visible.
import { beforeAll, describe, expect, it } from 'vitest';
import { VAE } from '../ts/index';
import { mnist } from './helpers';
import { logLikelihoodK, type RefConfig, TestRandom } from './oracle';

let vae: VAE;
const test = mnist('t10k-images-idx3-ubyte', 40);
beforeAll(async () => {
  vae = await VAE.create({ inputDim: 784, latentDim: 5, encoder: [128], seed: 3 });
  await vae.fit(mnist('train-images-idx3-ubyte', 6000), { epochs: 3, batchSize: 100 });
});

const f64 = (m: VAE) => Object.fromEntries(Object.entries(m.getWeights()).map(([k, t]) => [k, Float64Array.from(t.data)]));

describe('the value of L_k', () => {
  it('equals log p(x) exactly when q(z|x) is the posterior: a linear Gaussian model, any k and seed', async () => {
    // p(z) = N(0, I), p(x|z) = N(z·W + b, s²I) with orthogonal rows of W: x ~ N(b, diag(Wᵀ W) + s²), and the posterior
    // N(P⁻¹ W (x − b)/s², P⁻¹) with P = I + W Wᵀ/s² diagonal, which a linear encoder with constant log-variance is.
    const s2 = 0.5;
    const W = [[1.5, 0, 0], [0, -0.8, 0]];
    const b = [0.2, -0.1, 0.3];
    const P = W.map((r) => 1 + r.reduce((a, v) => a + v * v, 0) / s2);
    const vae = await VAE.create({ inputDim: 3, latentDim: 2, encoder: [], decoder: [], activation: 'linear', likelihood: 'gaussian', variance: s2 });
    const meanW = new Float32Array(6);
    for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) meanW[j * 2 + k] = W[k]![j]! / (s2 * P[k]!);
    const meanB = Float32Array.from([0, 1], (k) => -b.reduce((a, bj, j) => a + bj * meanW[j * 2 + k]!, 0));
    const weights = {
      'encoder.mean.weight': meanW, 'encoder.mean.bias': meanB,
      'encoder.logVar.weight': new Float32Array(6), 'encoder.logVar.bias': Float32Array.from(P, (p) => -Math.log(p)),
      'decoder.out.weight': Float32Array.from(W.flat()), 'decoder.out.bias': Float32Array.from(b),
    };
    vae.setWeights(weights);
    const rnd = new TestRandom(17);
    const x = Float32Array.from(rnd.normals(5 * 3), (v) => 1.5 * v);
    const variance = [0, 1, 2].map((j) => W.reduce((a, r) => a + r[j]! ** 2, 0) + s2);
    const logp = Array.from({ length: 5 }, (_, i) => [0, 1, 2].reduce((a, j) =>
      a - 0.5 * (x[i * 3 + j]! - b[j]!) ** 2 / variance[j]! - 0.5 * Math.log(2 * Math.PI * variance[j]!), 0));
    for (const [k, seed] of [[1, 1], [7, 2], [1000, 3]] as const) {
      const r = vae.logLikelihood(x, { samples: k, seed });
      for (let i = 0; i < 5; i++) {
        expect(Math.abs(r.perRow.logLikelihood[i]! - logp[i]!), `L_${k}, row ${i}`).toBeLessThan(2e-4 * Math.max(1, Math.abs(logp[i]!)));
        expect(Math.abs(r.perRow.elbo[i]! - logp[i]!), `ELBO, row ${i}`).toBeLessThan(2e-4 * Math.max(1, Math.abs(logp[i]!)));
      }
      expect(Math.abs(r.gap)).toBeLessThan(1e-4);
    }
    // The f64 reference gives the same for any ε.
    const cfg: RefConfig = { kind: 'vae', inputShape: [3], latentDim: 2, encoder: [], decoder: [], output: { type: 'dense', units: 3, act: 'linear' }, leakySlope: 0.01, recon: 'gaussian', variance: s2 };
    const ref = logLikelihoodK(cfg, f64(vae), Float64Array.from(x), 5, Float64Array.from(rnd.normals(5 * 20 * 2)), 20);
    for (let i = 0; i < 5; i++) expect(Math.abs(ref[i]! - logp[i]!)).toBeLessThan(1e-6);
    vae.dispose();
  });

  it('matches the f64 reference L_k in expectation on a tiny nonlinear model, for k = 1, 10 and 100', async () => {
    const vae = await VAE.create({ inputDim: 6, latentDim: 2, encoder: [5], decoder: [5], activation: 'tanh', seed: 11 });
    const cfg: RefConfig = {
      kind: 'vae', inputShape: [6], latentDim: 2, encoder: [{ type: 'dense', units: 5, act: 'tanh' }], decoder: [{ type: 'dense', units: 5, act: 'tanh' }],
      output: { type: 'dense', units: 6, act: 'linear' }, leakySlope: 0.01, recon: 'bernoulli', variance: 1,
    };
    // A decoder that depends strongly on z and a broad q(z|x): a posterior far from q, so L_k moves with k.
    const w = vae.getWeights();
    for (const name of ['decoder.0.weight', 'decoder.out.weight']) w[name]!.data.forEach((v, i, a) => { a[i] = 4 * v; });
    w['encoder.logVar.bias']!.data.fill(1);
    vae.setWeights(w);
    const W = f64(vae);
    const rnd = new TestRandom(23);
    const x = rnd.uniforms(3 * 6);
    const stats = (runs: Float64Array[]) => [0, 1, 2].map((i) => {
      const v = runs.map((r) => r[i]!);
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return { mean: m, se: Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1) / v.length) };
    });
    const expected: number[][] = [];
    const tolerance: number[] = [];
    for (const k of [1, 10, 100]) {
      // Fewer runs for larger k, whose estimates vary less.
      const runs = Math.max(300, 4000 / k);
      const core = stats(Array.from({ length: runs }, (_, s) => vae.logLikelihood(x, { samples: k, seed: s + 1 }).perRow.logLikelihood));
      const ref = stats(Array.from({ length: runs }, () => logLikelihoodK(cfg, W, Float64Array.from(x), 3, Float64Array.from(rnd.normals(3 * k * 2)), k)));
      let largest = 0;
      for (let i = 0; i < 3; i++) {
        const tol = 5 * Math.hypot(core[i]!.se, ref[i]!.se) + 1e-4;
        largest = Math.max(largest, tol);
        expect(Math.abs(core[i]!.mean - ref[i]!.mean), `E[L_${k}], row ${i}: core ${core[i]!.mean}, reference ${ref[i]!.mean}`).toBeLessThan(tol);
      }
      expected.push(ref.map((r) => r.mean));
      tolerance.push(largest);
    }
    // The comparison can tell k apart: an estimator that ignored k (the mean log-weight, i.e. the ELBO) would miss
    // E[L_10] and E[L_100] by their rise over E[L_1], many times the tolerance.
    for (let i = 0; i < 3; i++) {
      expect(expected[1]![i]! - expected[0]![i]!).toBeGreaterThan(3 * tolerance[1]!);
      expect(expected[2]![i]! - expected[0]![i]!).toBeGreaterThan(3 * tolerance[2]!);
      expect(expected[2]![i]!).toBeGreaterThan(expected[1]![i]!);
    }
    vae.dispose();
  });
});

describe('logLikelihood (IWAE bound)', () => {
  it('with k = 1 the bound is the single-draw ELBO, and its mean matches the analytic-KL ELBO', () => {
    const one = vae.logLikelihood(test, { samples: 1, seed: 1 });
    expect(one.perRow.logLikelihood).toEqual(one.perRow.elbo);
    // Mean log-weight over many draws vs elbo() (analytic KL) over as many: the same quantity, two estimators.
    const many = vae.logLikelihood(test, { samples: 2000, seed: 2 });
    const analytic = vae.elbo(test, { samples: 2000, seed: 3 });
    expect(Math.abs(many.elbo - analytic.elbo)).toBeLessThan(0.3);
  });

  it('L_k rises with k from 1 to 5000, and the gap to the ELBO is non-negative on every image', () => {
    const ks = [1, 10, 100, 1000, 5000];
    const means = ks.map((k) => vae.logLikelihood(test, { samples: k, seed: 7 }));
    for (let i = 1; i < ks.length; i++) expect(means[i]!.logLikelihood, `L_${ks[i]} > L_${ks[i - 1]}`).toBeGreaterThan(means[i - 1]!.logLikelihood);
    const top = means[means.length - 1]!;
    const analytic = vae.elbo(test, { samples: 5000, seed: 11 });
    // Per image: L_5000 ≥ its own mean log-weight (Jensen, exactly), and ≥ the analytic ELBO up to MC error.
    for (let i = 0; i < test.length / 784; i++) {
      expect(top.perRow.logLikelihood[i]!).toBeGreaterThanOrEqual(top.perRow.elbo[i]!);
    }
    expect(top.gap).toBeGreaterThan(0);
    expect(top.logLikelihood).toBeGreaterThan(analytic.elbo);
    // Measured on this model (40 test images): L_1 −172.55, L_10 −169.52, L_100 −168.03, L_1000 −167.29,
    // L_5000 −166.99 nats; gap L_5000 − ELBO 6.53 nats.
    expect(top.gap).toBeGreaterThan(1);
    expect(top.gap).toBeLessThan(30);
  });

  it('active units: variance over x of the encoder mean above 0.01', () => {
    const { count, variances } = vae.activeUnits(test);
    const { mean } = vae.encode(test);
    const rows = test.length / 784;
    for (let k = 0; k < 5; k++) {
      const col = Array.from({ length: rows }, (_, r) => mean[r * 5 + k]!);
      const m = col.reduce((a, b) => a + b, 0) / rows;
      expect(variances[k]).toBeCloseTo(col.reduce((a, b) => a + (b - m) ** 2, 0) / rows, 10);
    }
    expect(count).toBe([...variances].filter((v) => v > 0.01).length);
    expect(count).toBeGreaterThanOrEqual(3);
    expect(vae.activeUnits(test, { threshold: 1e9 }).count).toBe(0);
  });

  it('is reproducible with a seed and rejects bad input', () => {
    expect(vae.logLikelihood(test, { samples: 50, seed: 5 })).toEqual(vae.logLikelihood(test, { samples: 50, seed: 5 }));
    expect(() => vae.logLikelihood(test, { samples: 0 })).toThrow(/samples must be an integer/);
    expect(() => vae.logLikelihood(new Float32Array(10))).toThrow(/not a whole number of rows/);
  });
});
