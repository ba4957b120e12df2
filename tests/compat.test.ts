// Files saved by release 0.1.0 (the MLP-only core, before the layer plan) keep their meaning: they load, and every
// output, and training on from them, gives the bits that release computed (tests/fixtures/release-0.1/, written by
// scripts/make-compat-fixtures.mjs with the 0.1.0 build). Also the default configuration's first steps.
// One exception: the Bernoulli loss' softplus has since been computed without a division (math::log1p_unit), so
// the ELBO and L_k of Bernoulli models differ from that release's in the last digits (≈1e-8 relative; no output,
// weight or training step changes). Those are checked to 1e-7 relative against that release, and exactly against
// the bits computed since (SINCE_LOG1P_UNIT), so an unintended change to the loss' arithmetic still fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Autoencoder, VAE } from '../ts/index';
import type { FitOptions } from '../ts/index';
import { mnist, sha256 as hex, weightBytes } from './helpers';

const fixtures = new URL('./fixtures/release-0.1/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8'));
const weightsHash = (m: VAE | Autoencoder) => hex(weightBytes(m));
/** Every number of `got` within 1e-7 relative of the same one in `want` (same keys, same length). */
const nearly = (got: object, want: object) => {
  expect(Object.keys(got)).toEqual(Object.keys(want));
  for (const [k, w] of Object.entries(want) as [string, number][]) {
    const g = (got as Record<string, number>)[k]!;
    expect(Math.abs(g - w), `${k}: ${g} vs release 0.1's ${w}`).toBeLessThanOrEqual(1e-7 * Math.abs(w));
  }
};

/** The Bernoulli values that moved, as every build since the division-free softplus (0797176) computes them. */
const SINCE_LOG1P_UNIT: Record<string, { elbo: object; logLikelihood?: number[] }> = {
  'vae-bernoulli': {
    elbo: { elbo: -32.97018129378557, reconstruction: 32.92577338218689, kl: 0.044407911598682404 },
    logLikelihood: [-32.567778799329936, -33.03191403360213, -33.072488668404894, -32.64475683436353, -33.01650704627087, -33.31019350613604, -32.050182816034074, -33.27729451679877],
  },
  defaultEightSteps: { elbo: { elbo: -316.3160154586658, reconstruction: 298.47131752967834, kl: 17.844697928987443 } },
};
/** `got` is the bits of SINCE_LOG1P_UNIT[name][key] where that exists (and near release 0.1's), else release 0.1's. */
const sameLoss = (name: string, key: 'elbo' | 'logLikelihood', got: object, release: object) => {
  const now = SINCE_LOG1P_UNIT[name]?.[key];
  if (now === undefined) return expect(got).toEqual(release);
  expect(got).toEqual(now);
  nearly(got, release);
};

const train = mnist('train-images-idx3-ubyte');
const crop = new Uint8Array(64 * 49);
for (let n = 0; n < 64; n++) for (let r = 0; r < 7; r++) for (let c = 0; c < 7; c++) crop[n * 49 + r * 7 + c] = train[n * 784 + (r * 4 + 2) * 28 + c * 4 + 2]!;
const x = crop.subarray(0, 8 * 49);

const cases: [string, 'vae' | 'ae', FitOptions][] = [
  ['vae-bernoulli', 'vae', { samples: 2, optimizer: { name: 'adam', learningRate: 3e-3 } }],
  ['vae-gaussian-learned', 'vae', { optimizer: { name: 'sgd', learningRate: 1e-3, momentum: 0.9 } }],
  ['ae-mse', 'ae', { optimizer: { name: 'adagrad', learningRate: 0.01 } }],
];

describe('files saved by release 0.1.0', () => {
  it.each(cases)('%s loads and gives that release\'s bits', async (name, kind, fit) => {
    const bytes = readFileSync(join(fixtures, `${name}.safetensors`));
    const e = expected[name];
    const m = kind === 'vae' ? await VAE.load(bytes) : await Autoencoder.load(bytes);
    expect(weightsHash(m)).toBe(e.weights);
    expect(hex(m.reconstruct(x))).toBe(e.reconstruct);
    expect(hex(m.sample(5, { seed: 9 }))).toBe(e.sample);
    if (m instanceof VAE) {
      const enc = m.encode(x);
      expect(hex(enc.mean)).toBe(e.encodeMean);
      expect(hex(enc.logVar)).toBe(e.encodeLogVar);
      sameLoss(name, 'elbo', m.elbo(x, { seed: 2, samples: 3 }), e.elbo);
      sameLoss(name, 'logLikelihood', Array.from(m.logLikelihood(x, { seed: 2, samples: 7 }).perRow.logLikelihood), e.logLikelihood);
    } else {
      expect(hex(m.encode(x))).toBe(e.encode);
    }
    await m.fit(crop, { epochs: 1, batchSize: 16, ...fit });
    expect(weightsHash(m)).toBe(e.weightsAfterOneMoreEpoch);
    m.dispose();
  });

  it('the default configuration\'s first 8 steps give the same weights as release 0.1.0, on 1 and 2 threads', async () => {
    for (const threads of [1, 2]) {
      const d = await VAE.create({ inputDim: 784, latentDim: 20, seed: 1, threads });
      await d.fit(train.subarray(0, 1024 * 784), { epochs: 1, batchSize: 128 });
      expect(weightsHash(d)).toBe(expected.defaultEightSteps.weights);
      sameLoss('defaultEightSteps', 'elbo', d.elbo(train.subarray(0, 256 * 784), { seed: 1 }), expected.defaultEightSteps.elbo);
      d.dispose();
    }
  }, 60_000);
});
