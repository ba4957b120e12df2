// One benchmark round for vae-wasm on the keras.io convolutional VAE (convLayers, TensorFlow 'same' padding,
// latent 2, Adam 1e-3, batch 128) on MNIST; prints one JSON line.
// Usage: node bench/conv-contender.mjs --steps N --warmup W [--threads T]
import { VAE, convLayers } from '../dist/index.js';
import { arg, mnistTrainImages } from './mnist.mjs';

const steps = Number(arg('steps', 40));
const warmup = Number(arg('warmup', 4));
const threads = Number(arg('threads', 1));
const batch = 128;
const images = mnistTrainImages();
const vae = await VAE.create({ ...convLayers([28, 28, 1]), latentDim: 2, activation: 'relu', likelihood: 'bernoulli', seed: 1, threads });
if (vae.threads !== threads) throw new Error(`asked for ${threads} threads, got ${vae.threads}: ${vae.threadsNote}`);
let t0 = 0;
let timed = 0;
let last = 0;
await vae.fit(images.subarray(0, (warmup + steps) * batch * 784), {
  epochs: 1, batchSize: batch,
  onBatchEnd: (b) => { if (b.batch === warmup - 1) t0 = performance.now(); else if (b.batch >= warmup) timed++; last = b.loss; },
});
const seconds = (performance.now() - t0) / 1000;
if (timed !== steps) throw new Error(`timed ${timed} steps, expected ${steps}`);
console.log(JSON.stringify({ contender: 'vae-wasm', config: 'conv', batch, steps, seconds, samplesPerSecond: (steps * batch) / seconds, finalLoss: last, threads }));
vae.dispose();
