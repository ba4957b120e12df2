/**
 * Experiment 1 of issue 7: the pytorch/examples configuration for 10 epochs beside PyTorch 1.13's reference curve
 * (docs/references.md), written to docs/results/pytorch-examples.md with a PNG plot.
 * Run: npm run experiment:pytorch (about 70 s on one core).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VAE } from '../ts/index';
import { loadDataset } from '../ts/cli/datasets';
import { lineChartPng } from './plot';

// PyTorch 1.13.1, same data and settings, one ε draw; from docs/references.md ("pytorch/examples VAE").
const PYTORCH_TEST = [126.87, 115.31, 111.38, 109.56, 108.00, 107.21, 106.50, 105.93, 105.64, 105.24];
const PYTORCH_TRAIN = [164.29, 121.09, 114.26, 111.28, 109.57, 108.36, 107.49, 106.82, 106.36, 105.93];

const out = join(process.cwd(), 'docs/results');
mkdirSync(join(out, 'images'), { recursive: true });
const { train, test } = loadDataset('mnist');
const vae = await VAE.create({ inputDim: 784, latentDim: 20, encoder: [400], activation: 'relu', likelihood: 'bernoulli', seed: 1 });
const h = await vae.fit(train.data, { epochs: 10, batchSize: 128, optimizer: { name: 'adam', learningRate: 1e-3 }, validationData: test!.data });
vae.dispose();
const diffs = h.map((e, i) => e.valLoss! - PYTORCH_TEST[i]!);
const worst = Math.max(...diffs.map(Math.abs));
writeFileSync(join(out, 'images', 'pytorch-examples-test-loss.png'), lineChartPng([
  { points: h.map((e, i) => [i + 1, e.valLoss!]), color: [31, 119, 180] },
  { points: PYTORCH_TEST.map((v, i) => [i + 1, v]), color: [255, 127, 14] },
], { xRange: [0.5, 10.5], yRange: [100, 130], yStep: 5 }));
const md = [
  '# pytorch/examples VAE: vae-wasm beside PyTorch', '',
  'Configuration: 784-400-20, ReLU, Bernoulli (BCE on intensities, not binarized), Adam 1e-3, batch 128, the 60,000',
  'training images reshuffled every epoch, PyTorch\'s default initialisation, seed 1. Loss = negative ELBO per image in',
  `nats, one ε draw. PyTorch 1.13.1 numbers: [references](../references.md). Made by \`npm run experiment:pytorch\` on ${new Date().toISOString().slice(0, 10)}.`, '',
  '| epoch | vae-wasm test | PyTorch test | difference | vae-wasm train | PyTorch train | vae-wasm samples/s |',
  '|---|---|---|---|---|---|---|',
  ...h.map((e, i) => `| ${e.epoch} | ${e.valLoss!.toFixed(2)} | ${PYTORCH_TEST[i]!.toFixed(2)} | ${diffs[i]! >= 0 ? '+' : ''}${diffs[i]!.toFixed(2)} | ${e.loss.toFixed(2)} | ${PYTORCH_TRAIN[i]!.toFixed(2)} | ${e.samplesPerSecond.toFixed(0)} |`),
  '', `Largest test difference: ${worst.toFixed(2)} nats (bar: within 1 nat at every epoch: ${worst < 1 ? 'met' : 'NOT met'}).`, '',
  'Test loss per epoch (y from 100 to 130 nats, grid every 5; x: epochs 1–10). Blue: vae-wasm; orange: PyTorch.', '',
  '![test loss per epoch](images/pytorch-examples-test-loss.png)', '',
];
writeFileSync(join(out, 'pytorch-examples.md'), md.join('\n'));
console.log(`wrote ${join(out, 'pytorch-examples.md')}; largest difference ${worst.toFixed(2)} nats`);
