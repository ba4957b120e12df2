// One benchmark round for vae-wasm: trains `--steps` steps of a configuration on MNIST through the built package
// (dist/) and prints one JSON line. Usage: node bench/vae-wasm-contender.mjs --config default|kw --steps N --warmup W
// [--threads T|auto] (default 1). With more than one thread, the line also carries the fork-join counters per timed
// step (`forkJoin`: tasks, chunks computed by the caller and by workers, the caller's waits for workers' chunks).
import { VAE, init } from '../dist/index.js';
import { arg, CONFIGS, mnistTrainImages } from './mnist.mjs';

const name = arg('config', 'default');
const c = CONFIGS[name];
const steps = Number(arg('steps', 300));
const warmup = Number(arg('warmup', 20));
const threadsArg = arg('threads', '1');
const threads = threadsArg === 'auto' ? 'auto' : Number(threadsArg);
const images = mnistTrainImages();
const vae = await VAE.create({ inputDim: 784, latentDim: c.latent, encoder: [c.hidden], activation: c.activation, seed: 1, threads });
if (threads !== 'auto' && vae.threads !== threads) throw new Error(`asked for ${threads} threads, got ${vae.threads}: ${vae.threadsNote}`);
const core = await init();
const STATS = 10;
const counters = () => core.scoped((alloc) => {
  const p = alloc(8 * STATS);
  core.x.vae_threads_stats(p, STATS, 0);
  return Array.from(core.f64(p, STATS));
});
const optimizer = { name: c.optimizer, learningRate: c.learningRate };
// fit() on exactly (warmup + steps) batches: one epoch over that many rows.
const rows = (warmup + steps) * c.batch;
if (rows > images.length / 784) throw new Error(`--warmup + --steps needs ${rows} rows; MNIST has ${images.length / 784}`);
let t0 = 0;
let last = 0;
let timed = 0;
let start = [];
await vae.fit(images.subarray(0, rows * 784), {
  epochs: 1, batchSize: c.batch, optimizer, shuffle: true,
  onBatchEnd: (b) => {
    if (b.batch === warmup - 1) {
      start = counters();
      t0 = performance.now();
    } else if (b.batch >= warmup) timed++;
    last = b.loss;
  },
});
const seconds = (performance.now() - t0) / 1000;
if (timed !== steps) throw new Error(`timed ${timed} steps, expected ${steps}`);
const d = counters().map((v, i) => (v - start[i]) / steps);
const forkJoin = vae.threads > 1 ? {
  tasksPerStep: d[0], serialTasksPerStep: d[1], callerChunksPerStep: d[2], workerChunksPerStep: d[3],
  waitsPerStep: d[4], sleepsPerStep: d[5], waitMsPerStep: d[6] / 1e6, staleClaimsPerStep: d[7], wakesPerStep: d[8],
  behindShare: d[9] / (d[0] / 32),
} : undefined;
console.log(JSON.stringify({ contender: 'vae-wasm', config: name, batch: c.batch, steps, seconds,
  samplesPerSecond: (steps * c.batch) / seconds, finalLoss: last, threads: vae.threads, forkJoin }));
vae.dispose();
