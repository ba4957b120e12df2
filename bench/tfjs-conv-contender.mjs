// One benchmark round for TensorFlow.js 4.22 on the keras.io convolutional VAE (the same layers, loss and Adam as
// bench/conv-contender.mjs), written with tf.conv2d / tf.conv2dTranspose. Prints one JSON line; when the backend
// cannot train the model (the wasm backend has no Conv2DBackpropFilter kernel, tfjs issue #8474) the line records
// its error as `refused`. Usage: node bench/tfjs-conv-contender.mjs --backend wasm|cpu --steps N --warmup W [--batch B]
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { arg, mnistTrainImages } from './mnist.mjs';

const backend = arg('backend', 'cpu');
const steps = Number(arg('steps', 2));
const warmup = Number(arg('warmup', 1));
const batch = Number(arg('batch', 32));
if (backend === 'wasm') setWasmPaths(join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
await tf.setBackend(backend);
await tf.ready();

const uniform = (shape, fanIn) => tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)));
const conv = (k, cin, cout) => ({ w: uniform([k, k, cin, cout], k * k * cin), b: uniform([cout], k * k * cin) });
const convT = (k, cin, cout) => ({ w: uniform([k, k, cout, cin], k * k * cout), b: uniform([cout], k * k * cout) });
const dense = (fin, fout) => ({ w: uniform([fin, fout], fin), b: uniform([fout], fin) });
const c1 = conv(3, 1, 32), c2 = conv(3, 32, 64), fc = dense(3136, 16), mu = dense(16, 2), lv = dense(16, 2);
const d0 = dense(2, 3136), t1 = convT(3, 64, 64), t2 = convT(3, 64, 32), t3 = convT(3, 32, 1);
const vars = [c1, c2, fc, mu, lv, d0, t1, t2, t3].flatMap((l) => [l.w, l.b]);
const optimizer = tf.train.adam(1e-3);

const images = mnistTrainImages();
const batchOf = (s) => {
  const buf = new Float32Array(batch * 784);
  for (let r = 0; r < batch; r++) for (let j = 0; j < 784; j++) buf[r * 784 + j] = images[((s * batch + r) % 60000) * 784 + j] / 255;
  return tf.tensor4d(buf, [batch, 28, 28, 1]);
};
const lossFn = (x) => () => {
  let h = tf.relu(tf.add(tf.conv2d(x, c1.w, 2, 'same'), c1.b));
  h = tf.relu(tf.add(tf.conv2d(h, c2.w, 2, 'same'), c2.b));
  h = tf.relu(tf.add(tf.matMul(tf.reshape(h, [batch, 3136]), fc.w), fc.b));
  const m = tf.add(tf.matMul(h, mu.w), mu.b);
  const logVar = tf.add(tf.matMul(h, lv.w), lv.b);
  const z = tf.add(m, tf.mul(tf.exp(tf.mul(logVar, 0.5)), tf.randomNormal([batch, 2])));
  let g = tf.reshape(tf.relu(tf.add(tf.matMul(z, d0.w), d0.b)), [batch, 7, 7, 64]);
  g = tf.relu(tf.add(tf.conv2dTranspose(g, t1.w, [batch, 14, 14, 64], 2, 'same'), t1.b));
  g = tf.relu(tf.add(tf.conv2dTranspose(g, t2.w, [batch, 28, 28, 32], 2, 'same'), t2.b));
  const logits = tf.reshape(tf.add(tf.conv2dTranspose(g, t3.w, [batch, 28, 28, 1], 1, 'same'), t3.b), [batch, 784]);
  const xf = tf.reshape(x, [batch, 784]);
  const bce = tf.sum(tf.add(tf.sub(tf.relu(logits), tf.mul(xf, logits)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))));
  const kl = tf.mul(-0.5, tf.sum(tf.sub(tf.sub(tf.add(1, logVar), tf.square(m)), tf.exp(logVar))));
  return tf.mul(tf.add(bce, kl), 1 / batch);
};
const step = (s) => {
  const x = batchOf(s);
  const loss = optimizer.minimize(lossFn(x), true, vars);
  const v = loss.dataSync()[0];
  loss.dispose();
  x.dispose();
  return v;
};
let last;
try {
  for (let s = 0; s < warmup; s++) last = step(s);
} catch (e) {
  console.log(JSON.stringify({ contender: `tfjs-${backend}`, config: 'conv', refused: String(e.message ?? e).split('\n')[0] }));
  process.exit(0);
}
const t0 = performance.now();
for (let s = warmup; s < warmup + steps; s++) last = step(s);
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ contender: `tfjs-${backend}`, config: 'conv', batch, steps, seconds, samplesPerSecond: (steps * batch) / seconds, finalLoss: last }));
