// Numerical edges: pixels at exactly 0 and 1, huge logits, huge |μ| and log-variances. Values must be finite and
// equal to the f64 reference (which evaluates the same formulas stably), and gradients finite.
import { describe, expect, it } from 'vitest';
import { VAE } from '../ts/index';
import { forward, type RefConfig, TestRandom } from './oracle';

const cfg = { inputDim: 8, latentDim: 2, encoder: [6], activation: 'tanh' as const, seed: 2 };
const ref: RefConfig = {
  kind: 'vae', inputShape: [8], latentDim: 2, encoder: [{ type: 'dense', units: 6, act: 'tanh' }], decoder: [{ type: 'dense', units: 6, act: 'tanh' }],
  output: { type: 'dense', units: 8, act: 'linear' }, leakySlope: 0.01, recon: 'bernoulli', variance: 1,
};

async function withBias(name: string, value: number) {
  const vae = await VAE.create(cfg);
  const w = vae.getWeights();
  w[name]!.data.fill(value);
  vae.setWeights(w);
  return vae;
}

function referenceOf(vae: VAE, x: Float32Array, eps: Float32Array) {
  const W = Object.fromEntries(Object.entries(vae.getWeights()).map(([k, t]) => [k, Float64Array.from(t.data)]));
  return forward(ref, W, Float64Array.from(x), Float64Array.from(eps), 1, 1);
}

const allFinite = (g: Record<string, Float32Array>) => Object.values(g).every((t) => t.every(Number.isFinite));

describe('numerical edges', () => {
  const rnd = new TestRandom(77);
  const eps = rnd.normals(3 * 2);
  // Binary pixels exactly 0 and 1, and a row of each.
  const x = Float32Array.from({ length: 24 }, (_, i) => (i < 8 ? 0 : i < 16 ? 1 : i % 2));

  it('pixels exactly 0 and 1 (Float32Array and Uint8Array 0/255) give the reference loss', async () => {
    const vae = await VAE.create(cfg);
    const r = vae.lossAndGradients(x, { epsilon: eps });
    const want = referenceOf(vae, x, eps);
    expect(Math.abs(r.loss - want.loss)).toBeLessThan(1e-5 * want.loss);
    expect(allFinite(r.gradients)).toBe(true);
    const bytes = Uint8Array.from(x, (v) => v * 255);
    expect(vae.elbo(bytes, { seed: 1 })).toEqual(vae.elbo(x, { seed: 1 }));
    vae.dispose();
  });

  for (const bias of [80, -80, 1e4, -1e4]) {
    it(`output logits of ${bias}: BCE finite and exact, gradients finite, probabilities in [0, 1]`, async () => {
      const vae = await withBias('decoder.out.bias', bias);
      const r = vae.lossAndGradients(x, { epsilon: eps });
      const want = referenceOf(vae, x, eps);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(Math.abs(r.reconstruction - want.reconstruction)).toBeLessThan(1e-6 * Math.abs(want.reconstruction) + 1e-4);
      expect(allFinite(r.gradients)).toBe(true);
      const p = vae.reconstruct(x);
      expect(p.every((v) => v >= 0 && v <= 1)).toBe(true);
      // σ(±80) rounds to exactly 1 or (almost) 0 in f32, as the f64 value does.
      if (bias > 0) expect(p.every((v) => v === 1)).toBe(true);
      else expect(p.every((v) => v < 1e-30)).toBe(true);
      vae.dispose();
    });
  }

  for (const [name, value] of [['encoder.mean.bias', 1e3], ['encoder.mean.bias', -1e3], ['encoder.logVar.bias', 30], ['encoder.logVar.bias', -30], ['encoder.logVar.bias', 80], ['encoder.logVar.bias', -80]] as const) {
    it(`${name} = ${value}: KL equals the reference, loss and gradients finite`, async () => {
      const vae = await withBias(name, value);
      const r = vae.lossAndGradients(x, { epsilon: eps });
      const want = referenceOf(vae, x, eps);
      expect(Math.abs(r.kl - want.kl)).toBeLessThan(1e-5 * Math.abs(want.kl));
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(Math.abs(r.loss - want.loss)).toBeLessThan(1e-4 * Math.abs(want.loss));
      expect(allFinite(r.gradients)).toBe(true);
      vae.dispose();
    });
  }
});
