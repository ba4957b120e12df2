// One benchmark round for vae-wasm: trains `--steps` steps of a configuration on MNIST through the built package
// (dist/) and prints one JSON line. Usage: node bench/vae-wasm-contender.mjs --config default|kw --steps N --warmup W
import { VAE } from '../dist/index.js';
import { arg, CONFIGS, mnistTrainImages } from './mnist.mjs';

const name = arg('config', 'default');
const c = CONFIGS[name];
const steps = Number(arg('steps', 300));
const warmup = Number(arg('warmup', 20));
const images = mnistTrainImages();
const vae = await VAE.create({ inputDim: 784, latentDim: c.latent, encoder: [c.hidden], activation: c.activation, seed: 1 });
const optimizer = { name: c.optimizer, learningRate: c.learningRate };
// fit() on exactly (warmup + steps) batches: one epoch over that many rows.
const rows = (warmup + steps) * c.batch;
let t0 = 0;
let last = 0;
await vae.fit(images.subarray(0, rows * 784), {
  epochs: 1, batchSize: c.batch, optimizer, shuffle: true,
  onBatchEnd: (b) => { if (b.batch === warmup - 1) t0 = performance.now(); last = b.loss; },
});
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ contender: 'vae-wasm', config: name, batch: c.batch, steps, seconds,
  samplesPerSecond: (steps * c.batch) / seconds, finalLoss: last, threads: 1 }));
vae.dispose();
