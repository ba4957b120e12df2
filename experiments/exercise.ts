/**
 * Experiment 4 of issue 7: the exercise sheet's points made visible on MNIST, written to docs/results/exercise.md
 * with PNG grids. Run: npm run experiment:exercise (about 4 minutes on one core).
 *  1. AE vs VAE: decode codes z ~ N(0, I) from each; the VAE's prior gives digits, the AE's code space need not.
 *  2. The bottleneck: a linear autoencoder whose code is as wide as the input learns the identity; a narrow one cannot.
 *  3. L2 (Gaussian) vs BCE (Bernoulli) reconstructions.
 *  4. Reconstructions and samples as the latent size grows.
 *  5. The learned 2-D manifold: decoded grid over the latent plane (Kingma & Welling, figure 4).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Autoencoder, VAE } from '../ts/index';
import { head, loadDataset } from '../ts/cli/datasets';
import { imageGridPng } from '../ts/cli/png';
import { latentGrid } from './plot';

const out = join(process.cwd(), 'docs/results');
mkdirSync(join(out, 'images'), { recursive: true });
const { train: fullTrain, test: fullTest } = loadDataset('mnist');
const train = head(fullTrain, 20000);
const test = head(fullTest!, 1000);
const shown = test.data.subarray(0, 8 * 784) as Uint8Array;
const shownF = Float32Array.from(shown, (v) => v / 255);
const EPOCHS = 5;
const md: string[] = ['# The exercise, made visible', '',
  `Each model: ${EPOCHS} epochs on the first 20,000 MNIST training images, Adam 1e-3, batch 128, seed 1; losses on the`,
  `first 1,000 test images. Made by \`npm run experiment:exercise\` (experiments/exercise.ts) on ${new Date().toISOString().slice(0, 10)}.`, ''];

function png(name: string, images: Float32Array, count: number, cols: number, h = 28, w = 28): string {
  writeFileSync(join(out, 'images', name), imageGridPng(images, count, h, w, cols));
  return `images/${name}`;
}

function pair(recon: Float32Array): Float32Array {
  const p = new Float32Array(16 * 784);
  p.set(shownF);
  p.set(recon.subarray(0, 8 * 784), 8 * 784);
  return p;
}

// 1. AE vs VAE
const vae = await VAE.create({ inputDim: 784, latentDim: 20, seed: 1 });
const vh = await vae.fit(train.data, { epochs: EPOCHS, validationData: test.data });
const ae = await Autoencoder.create({ inputDim: 784, latentDim: 20, loss: 'bce', seed: 1 });
const ah = await ae.fit(train.data, { epochs: EPOCHS, validationData: test.data });
md.push('## 1. Decoding random codes: VAE vs classical autoencoder', '',
  'Both have 784-400-20 encoders and 20-400-784 decoders. Codes z ~ N(0, I), decoded:', '',
  '| VAE | autoencoder |', '|---|---|',
  `| ![VAE samples](${png('vae-samples.png', vae.sample(64, { seed: 3 }), 64, 8)}) | ![AE decoded random codes](${png('ae-samples.png', ae.sample(64, { seed: 3 }), 64, 8)}) |`, '',
  `Test loss: VAE negative ELBO ${vh.at(-1)!.valLoss!.toFixed(2)} nats; autoencoder BCE ${ah.at(-1)!.valLoss!.toFixed(2)} nats (no KL term: it`,
  'reconstructs better, but nothing shapes its code space, so random codes decode to noise-like blends).', '');
ae.dispose();

// 2. The bottleneck
md.push('## 2. The bottleneck', '', 'Linear autoencoders (no hidden layers, identity activation, squared error), 784 → k → 784:', '',
  '| code width k | test squared error per image | reconstructions (top: test images) |', '|---|---|---|');
for (const k of [784, 64, 16]) {
  const lin = await Autoencoder.create({ inputDim: 784, latentDim: k, encoder: [], activation: 'linear', loss: 'mse', seed: 1 });
  await lin.fit(train.data, { epochs: EPOCHS, optimizer: { name: 'adam', learningRate: 1e-3 } });
  md.push(`| ${k} | ${lin.loss(test.data).toFixed(3)} | ![k=${k}](${png(`linear-${k}.png`, pair(lin.reconstruct(shown)), 16, 8)}) |`);
  lin.dispose();
}
md.push('', 'With k = 784 the code can carry the input unchanged, so the error keeps falling toward 0 (the identity); a narrower',
  'code must discard the variance outside its k principal directions, and its error stops far above.', '');

// 3. L2 vs BCE
md.push('## 3. L2 (Gaussian) vs BCE (Bernoulli) reconstructions', '', '| likelihood | reconstructions (top: test images) |', '|---|---|',
  `| Bernoulli (BCE) | ![bce](${png('recon-bce.png', pair(vae.reconstruct(shown)), 16, 8)}) |`);
for (const variance of [1, 0.1, 0.01]) {
  const g = await VAE.create({ inputDim: 784, latentDim: 20, likelihood: 'gaussian', variance, seed: 1 });
  await g.fit(train.data, { epochs: EPOCHS });
  md.push(`| Gaussian, σ² = ${variance} | ![gaussian ${variance}](${png(`recon-gauss-${variance}.png`, pair(g.reconstruct(shown)), 16, 8)}) |`);
  g.dispose();
}
md.push('', 'With σ² = 1 the squared error is weak next to the KL term, so the model spends little information on x and',
  'reconstructions are blurred averages; smaller σ² weights reconstruction more. L2 also judges a slightly shifted',
  'stroke as far off, so it favours blur over a confident but misplaced stroke, where BCE on near-binary pixels is sharper.', '');
vae.dispose();

// 4. Latent size
md.push('## 4. As the latent space grows', '', '| latent size | test −ELBO | reconstructions (top: test images) | samples |', '|---|---|---|---|');
let two: VAE | undefined;
for (const L of [2, 5, 10, 20]) {
  const m = await VAE.create({ inputDim: 784, latentDim: L, seed: 1 });
  const h = await m.fit(train.data, { epochs: EPOCHS, validationData: test.data });
  md.push(`| ${L} | ${h.at(-1)!.valLoss!.toFixed(2)} | ![recon ${L}](${png(`latent-${L}-recon.png`, pair(m.reconstruct(shown)), 16, 8)}) | ![samples ${L}](${png(`latent-${L}-samples.png`, m.sample(32, { seed: 5 }), 32, 8)}) |`);
  if (L === 2) two = m;
  else m.dispose();
}
md.push('');

// 5. The 2-D manifold: z on a grid of Gaussian quantiles.
const n = 20;
const z = latentGrid(n);
md.push('## 5. The learned 2-D manifold', '', 'The 2-D VAE above, decoding a 20 × 20 grid of latent points at Gaussian quantiles (as in Kingma & Welling, figure 4):', '',
  `![manifold](${png('manifold-2d.png', two!.decode(z), n * n, n)})`, '');
two!.dispose();

writeFileSync(join(out, 'exercise.md'), md.join('\n'));
console.log(`wrote ${join(out, 'exercise.md')}`);
