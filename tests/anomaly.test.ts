// Anomaly scores: score() per row and per value against the f64 reference and against the model's own elbo() and
// logLikelihood(); threshold() and auroc() against hand-computed values; and a model trained on normal rows scoring
// unusual rows higher.
import { describe, expect, it } from 'vitest';
import { Autoencoder, VAE, auroc, threshold } from '../ts/index';
import { forward, type RefConfig, TestRandom } from './oracle';

describe('score', () => {
  it("an autoencoder's reconstruction scores and their per-value shares equal the f64 reference's terms", async () => {
    const ae = await Autoencoder.create({ inputDim: 7, latentDim: 3, encoder: [5], activation: 'tanh', seed: 3,
      loss: [{ type: 'mse', width: 2 }, { type: 'categorical', width: 3 }, { type: 'bce', width: 2 }] });
    const rnd = new TestRandom(5);
    const x = rnd.uniforms(6 * 7);
    for (let r = 0; r < 6; r++) for (let j = 0; j < 3; j++) x[r * 7 + 2 + j] = j === r % 3 ? 1 : 0;
    const W = Object.fromEntries(Object.entries(ae.getWeights()).map(([k, t]) => [k, Float64Array.from(t.data)]));
    const cfg: RefConfig = {
      kind: 'ae', inputShape: [7], latentDim: 3, encoder: [{ type: 'dense', units: 5, act: 'tanh' }], decoder: [{ type: 'dense', units: 5, act: 'tanh' }],
      output: { type: 'dense', units: 7, act: 'linear' }, leakySlope: 0.01, recon: 'mse', variance: 1,
      groups: [{ recon: 'mse', width: 2 }, { recon: 'categorical', width: 3 }, { recon: 'bernoulli', width: 2 }],
    };
    const { scores, perColumn, method } = ae.score(x);
    expect(method).toBe('reconstruction');
    for (let r = 0; r < 6; r++) {
      const row = Float64Array.from(x.subarray(r * 7, r * 7 + 7));
      const ref = forward(cfg, W, row, undefined, 1, 1);
      expect(Math.abs(scores[r]! - ref.reconstruction)).toBeLessThan(1e-5 * Math.max(1, ref.reconstruction));
      // Each value's share: the f64 term of that value alone (the categorical group's on its true level).
      const o = ref.out;
      const sp = (a: number) => (a > 0 ? a + Math.log1p(Math.exp(-a)) : Math.log1p(Math.exp(a)));
      const lse = Math.log(Math.exp(o[2]!) + Math.exp(o[3]!) + Math.exp(o[4]!));
      const want = [(row[0]! - o[0]!) ** 2, (row[1]! - o[1]!) ** 2, ...[2, 3, 4].map((j) => row[j]! * (lse - o[j]!)),
        sp(o[5]!) - row[5]! * o[5]!, sp(o[6]!) - row[6]! * o[6]!];
      want.forEach((w, j) => expect(Math.abs(perColumn[r * 7 + j]! - w), `row ${r} value ${j}`).toBeLessThan(2e-5 * Math.max(1, Math.abs(w))));
    }
    expect(() => ae.score(x, { method: 'elbo' })).toThrow(/Autoencoder\.score: options\.method must be one of "reconstruction" \(an autoencoder has no ELBO/);
    ae.dispose();
  });

  it("a VAE's scores are its per-row −ELBO, reconstruction and −L_k from the same draws; shares sum to the row's term", async () => {
    const vae = await VAE.create({ inputDim: 9, latentDim: 2, encoder: [6], seed: 4, likelihood: [{ type: 'gaussian', width: 3, variance: 'learned' }, { type: 'bernoulli', width: 2 }, { type: 'categorical', width: 4 }] });
    const rnd = new TestRandom(6);
    const x = rnd.uniforms(20 * 9);
    for (let r = 0; r < 20; r++) for (let j = 0; j < 4; j++) x[r * 9 + 5 + j] = j === r % 4 ? 1 : 0;
    const elbo = vae.score(x, { seed: 7, samples: 3 });
    const rec = vae.score(x, { method: 'reconstruction', seed: 7, samples: 3 });
    const e = vae.elbo(x, { seed: 7, samples: 3 });
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean(elbo.scores) + e.elbo)).toBeLessThan(1e-4 * Math.abs(e.elbo));
    expect(Math.abs(mean(rec.scores) - e.reconstruction)).toBeLessThan(1e-4 * Math.abs(e.reconstruction));
    for (let r = 0; r < 20; r++) {
      const shares = rec.perColumn.subarray(r * 9, r * 9 + 9).reduce((s, v) => s + v, 0);
      expect(Math.abs(shares - rec.scores[r]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(rec.scores[r]!)));
      expect(elbo.scores[r]!).toBeGreaterThan(rec.scores[r]! - 1e-6); // + KL ≥ 0
    }
    const lk = vae.score(x, { method: 'logLikelihood', samples: 50, seed: 2 });
    const ll = vae.logLikelihood(x, { samples: 50, seed: 2 });
    for (let r = 0; r < 20; r++) expect(lk.scores[r]).toBe(Math.fround(-ll.perRow.logLikelihood[r]!));
    expect(() => vae.score(x, { method: 'nope' as never })).toThrow(/options\.method must be one of "elbo", "logLikelihood", "reconstruction"/);
    vae.dispose();
  });

  it('a VAE trained on normal rows scores unusual rows higher (AUROC near 1)', async () => {
    // Normal: two correlated Gaussian columns and a binary column that follows their sign; anomalies break both.
    const rnd = new TestRandom(11);
    const make = (n: number, anomalous: boolean) => {
      const x = new Float32Array(n * 3);
      for (let i = 0; i < n; i++) {
        const a = rnd.normal();
        const b = anomalous ? rnd.normal() * 3 : a + 0.1 * rnd.normal();
        x.set([a, b, anomalous ? Number(a < 0) : Number(a > 0)], i * 3);
      }
      return x;
    };
    const vae = await VAE.create({ inputDim: 3, latentDim: 2, encoder: [16], seed: 1, likelihood: [{ type: 'gaussian', width: 2, variance: 'learned' }, { type: 'bernoulli', width: 1 }] });
    await vae.fit(make(2000, false), { epochs: 20, batchSize: 64, optimizer: { name: 'adam', learningRate: 3e-3 } });
    const normal = vae.score(make(300, false), { seed: 1 }).scores;
    const odd = vae.score(make(100, true), { seed: 1 }).scores;
    expect(auroc(normal, odd)).toBeGreaterThan(0.95);
    const t = threshold(normal, { falsePositiveRate: 0.05 });
    const flagged = odd.filter((s) => s > t).length / odd.length;
    expect(flagged).toBeGreaterThan(0.8);
    vae.dispose();
  }, 30_000);
});

describe('threshold and auroc', () => {
  it('threshold interpolates quantiles; auroc is P(anomalous > normal) with ties counted half', () => {
    const s = Float32Array.from([5, 1, 3, 2, 4]);
    expect(threshold(s, { quantile: 0.5 })).toBe(3);
    expect(threshold(s, { quantile: 0.9 })).toBeCloseTo(4.6, 6);
    expect(threshold(s, { falsePositiveRate: 0.25 })).toBe(4);
    expect(threshold(s)).toBeCloseTo(4.96, 6);
    expect(auroc([1, 2, 3], [4, 5])).toBe(1);
    expect(auroc([4, 5], [1, 2, 3])).toBe(0);
    expect(auroc([1, 2], [2, 3])).toBe(0.875); // pairs: (1,2) (1,3) (2,3) win, (2,2) tie
    const brute = (n: number[], a: number[]) => a.reduce((s, y) => s + n.reduce((t, x) => t + (y > x ? 1 : y === x ? 0.5 : 0), 0), 0) / (n.length * a.length);
    const rnd = new TestRandom(3);
    const n = Array.from({ length: 40 }, () => Math.round(rnd.normal() * 3));
    const a = Array.from({ length: 30 }, () => Math.round(rnd.normal() * 3 + 1));
    expect(auroc(n, a)).toBeCloseTo(brute(n, a), 12);
    expect(() => threshold([], {})).toThrow(/threshold: scores must be a non-empty/);
    expect(() => threshold([1, NaN])).toThrow(/scores\[1\] must be a finite number, got NaN/);
    expect(() => threshold([1], { quantile: 2 })).toThrow(/quantile must be a number in \[0, 1\]/);
    expect(() => threshold([1], { quantile: 0.5, falsePositiveRate: 0.1 })).toThrow(/one of quantile and falsePositiveRate/);
  });
});
