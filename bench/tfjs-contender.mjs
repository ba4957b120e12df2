// One benchmark round for TensorFlow.js 4.22 (wasm or cpu backend): the same VAE, loss and optimizer as vae-wasm,
// trained for `--steps` steps on MNIST; prints one JSON line.
// Usage: node bench/tfjs-contender.mjs --backend wasm|cpu --config default|kw --steps N --warmup W
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
// The union package registers the gradient functions (tfjs-core alone has none under Node).
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { arg, CONFIGS, mnistTrainImages } from './mnist.mjs';

const backend = arg('backend', 'wasm');
const name = arg('config', 'default');
const c = CONFIGS[name];
const steps = Number(arg('steps', 50));
const warmup = Number(arg('warmup', 5));

if (backend === 'wasm') {
  // Under Node the backend reads its .wasm files from a directory path (trailing slash required).
  const dir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
  setWasmPaths(dir);
}
await tf.setBackend(backend);
await tf.ready();

// PyTorch-style init: U(−1/√fan_in, 1/√fan_in) for weights and biases.
const dense = (fin, fout) => {
  const b = 1 / Math.sqrt(fin);
  return { w: tf.variable(tf.randomUniform([fin, fout], -b, b, 'float32', 1)), b: tf.variable(tf.randomUniform([fout], -b, b, 'float32', 2)) };
};
const act = c.activation === 'relu' ? tf.relu : tf.tanh;
const enc = dense(784, c.hidden), mu = dense(c.hidden, c.latent), lv = dense(c.hidden, c.latent);
const dec = dense(c.latent, c.hidden), out = dense(c.hidden, 784);
const vars = [enc, mu, lv, dec, out].flatMap((l) => [l.w, l.b]);
const optimizer = c.optimizer === 'adam' ? tf.train.adam(c.learningRate) : tf.train.adagrad(c.learningRate);

const images = mnistTrainImages();
const perm = tf.util.createShuffledIndices(60000);
const batchOf = (s) => {
  const buf = new Float32Array(c.batch * 784);
  for (let r = 0; r < c.batch; r++) {
    const row = perm[(s * c.batch + r) % 60000];
    for (let j = 0; j < 784; j++) buf[r * 784 + j] = images[row * 784 + j] / 255;
  }
  return tf.tensor2d(buf, [c.batch, 784]);
};

// Mean over the batch of [BCE from logits summed over pixels + KL], as vae-wasm's objective.
const lossFn = (x) => () => {
  const h = act(tf.add(tf.matMul(x, enc.w), enc.b));
  const m = tf.add(tf.matMul(h, mu.w), mu.b);
  const logVar = tf.add(tf.matMul(h, lv.w), lv.b);
  const z = tf.add(m, tf.mul(tf.exp(tf.mul(logVar, 0.5)), tf.randomNormal([c.batch, c.latent])));
  const g = act(tf.add(tf.matMul(z, dec.w), dec.b));
  const logits = tf.add(tf.matMul(g, out.w), out.b);
  const bce = tf.sum(tf.add(tf.sub(tf.relu(logits), tf.mul(x, logits)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))));
  const kl = tf.mul(-0.5, tf.sum(tf.sub(tf.sub(tf.add(1, logVar), tf.square(m)), tf.exp(logVar))));
  return tf.mul(tf.add(bce, kl), 1 / c.batch);
};

let last = 0;
const step = (s) => {
  const x = batchOf(s);
  const loss = optimizer.minimize(lossFn(x), true, vars);
  last = loss.dataSync()[0];
  loss.dispose();
  x.dispose();
};
let firstLoss = 0;
for (let s = 0; s < warmup; s++) { step(s); if (s === 0) firstLoss = last; }
const tensorsBefore = tf.memory().numTensors;
const t0 = performance.now();
for (let s = warmup; s < warmup + steps; s++) step(s);
const seconds = (performance.now() - t0) / 1000;
if (tf.memory().numTensors !== tensorsBefore) throw new Error(`tensor leak: ${tensorsBefore} → ${tf.memory().numTensors}`);
console.log(JSON.stringify({ contender: `tfjs-${backend}`, config: name, batch: c.batch, steps, seconds,
  samplesPerSecond: (steps * c.batch) / seconds, firstLoss, finalLoss: last,
  simd: backend === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : false,
  threads: backend === 'wasm' && tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'multi' : 1 }));
