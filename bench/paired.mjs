// Two threads against one, paired in one process: a one-thread and a multi-thread model of the default
// configuration train in alternating windows of `--steps` steps, `--pairs` times, and each pair gives a ratio. On a
// shared VM the machine's speed drifts from minute to minute (one run on 2026-12-03: one-thread rounds
// 6,181–7,862 samples/s in separate processes); windows seconds apart see nearly the same machine, so the ratio of
// each pair is steadier than a ratio of medians taken minutes apart. Prints one JSON line.
// Usage: node bench/paired.mjs [--threads N] [--pairs P] [--steps S]
import { VAE } from '../dist/index.js';
import { alternatingPairs, arg, CONFIGS, median, mnistTrainImages } from './mnist.mjs';

const threads = Number(arg('threads', 2));
const pairs = Number(arg('pairs', 8));
const steps = Number(arg('steps', 40));
const c = CONFIGS.default;
const images = mnistTrainImages();
const optimizer = { name: c.optimizer, learningRate: c.learningRate };
const create = async (t) => {
  const vae = await VAE.create({ inputDim: 784, latentDim: c.latent, encoder: [c.hidden], activation: c.activation, seed: 1, threads: t });
  if (vae.threads !== t) throw new Error(`asked for ${t} threads, got ${vae.threads}: ${vae.threadsNote}`);
  return vae;
};
const one = await create(1);
const many = await create(threads);
const rows = steps * c.batch;
let offset = 0;
/** Samples per second of one window of `steps` steps, each window on the next rows of MNIST. */
const windowRate = async (vae) => {
  offset = (offset + rows) % (images.length / 784 - rows);
  const t0 = performance.now();
  await vae.fit(images.subarray(offset * 784, (offset + rows) * 784), { epochs: 1, batchSize: c.batch, optimizer, shuffle: false });
  return rows / ((performance.now() - t0) / 1000);
};
// Warm-up: one window each (compilation, the pool's first tasks).
await windowRate(one);
await windowRate(many);
const ratios = (await alternatingPairs(pairs, () => windowRate(one), () => windowRate(many))).map((q) => q.two / q.one);
console.log(JSON.stringify({ contender: 'paired', threads, pairs, steps, ratios, medianRatio: median(ratios) }));
one.dispose();
many.dispose();
