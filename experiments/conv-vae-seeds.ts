/**
 * How much the conv VAE's first epochs depend on the seed (issue 12's quality bar compares one PyTorch run, seed 1,
 * with one of ours): the keras.io conv VAE as PyTorch ports it (latent 2, Adam 1e-3, batch 128, intensities), 2
 * epochs on MNIST for seeds 1–5, beside PyTorch 1.13's runs of conv_vae_ref.py with --seed 1, 2, 3
 * (docs/references.md). Writes docs/results/conv-vae-seeds.md and its JSON. Run: npm run experiment:conv-seeds
 * (about 10 minutes on two cores). `--report` rewrites the page from the JSON.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VAE, convLayers } from '../ts/index';
import { loadDataset } from '../ts/cli/datasets';

// PyTorch 1.13.1 CPU, scripts/torch/conv_vae_ref.py --seed N --epochs 2 (test loss after epochs 1 and 2), from
// docs/references.md: seed 1 is REFERENCES.md's published run, seeds 2 and 3 were run on this machine class.
const PYTORCH: Record<number, [number, number]> = { 1: [192.75, 187.03], 2: [169.65, 166.0], 3: [206.34, 188.37] };
const SEEDS = [1, 2, 3, 4, 5];
const EPOCHS = 2;

const jsonPath = join(process.cwd(), 'docs/results/conv-vae-seeds.json');

interface Run { seed: number; test: number[]; train: number[]; kl: number[] }

async function runAll(): Promise<Run[]> {
  const { train, test } = loadDataset('mnist');
  const runs: Run[] = [];
  for (const seed of SEEDS) {
    const vae = await VAE.create({ ...convLayers([28, 28, 1], { padding: 'pytorch' }), latentDim: 2, likelihood: 'bernoulli', seed });
    const h = await vae.fit(train.data, { epochs: EPOCHS, batchSize: 128, optimizer: { name: 'adam', learningRate: 1e-3 }, validationData: test!.data });
    runs.push({ seed, test: h.map((e) => e.valLoss!), train: h.map((e) => e.loss), kl: h.map((e) => e.kl) });
    console.log(`seed ${seed}: test ${runs[runs.length - 1]!.test.map((v) => v.toFixed(2)).join(', ')}`);
    vae.dispose();
  }
  return runs;
}

const stats = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
  return { mean: m, sd, min: Math.min(...v), max: Math.max(...v) };
};

function report(runs: Run[], date: string): string {
  const f = (x: number) => x.toFixed(2);
  const lines = [
    '# The conv VAE across seeds: vae-wasm and PyTorch after 1 and 2 epochs',
    '',
    'The keras.io conv VAE as [`scripts/torch/conv_vae_ref.py`](../../scripts/torch/conv_vae_ref.py) builds it (padding 1, output padding 1, latent 2, Adam',
    '1e-3, batch 128, MNIST intensities), test loss (negative ELBO, nats per image) after each of the first two epochs.',
    `vae-wasm: seeds ${SEEDS.join(', ')} (\`npm run experiment:conv-seeds\`, ${date}). PyTorch 1.13.1: \`conv_vae_ref.py --seed N\`,`,
    'numbers in [references](../references.md).',
    '',
    '| run | test after epoch 1 | test after epoch 2 | KL after epoch 2 |',
    '|---|---|---|---|',
    ...runs.map((r) => `| vae-wasm, seed ${r.seed} | ${f(r.test[0]!)} | ${f(r.test[1]!)} | ${f(r.kl[1]!)} |`),
    ...Object.entries(PYTORCH).map(([s, [a, b]]) => `| PyTorch, seed ${s} | ${f(a)} | ${f(b)} | – |`),
  ];
  const ours = [0, 1].map((e) => stats(runs.map((r) => r.test[e]!)));
  const theirs = [0, 1].map((e) => stats(Object.values(PYTORCH).map((p) => p[e]!)));
  lines.push('',
    '| | epoch 1: mean ± sd (min – max) | epoch 2: mean ± sd (min – max) |', '|---|---|---|',
    `| vae-wasm, ${runs.length} seeds | ${ours.map((s) => `${f(s.mean)} ± ${f(s.sd)} (${f(s.min)} – ${f(s.max)})`).join(' | ')} |`,
    `| PyTorch, ${Object.keys(PYTORCH).length} seeds | ${theirs.map((s) => `${f(s.mean)} ± ${f(s.sd)} (${f(s.min)} – ${f(s.max)})`).join(' | ')} |`,
    '',
    'Seeds do not carry over between the two libraries (different generators), so "seed 1 against seed 1" compares two',
    'draws, not one model. How far apart draws of one library land is the measure of what a gap between the libraries',
    'means: with a 2-D latent, some initialisations stall near 187 nats for several epochs (PyTorch seeds 1 and 3) while',
    'others reach about 166 after two. That none of our five stalled and two of PyTorch\'s three did is within chance',
    '(Fisher\'s exact test, p ≈ 0.11). The arithmetic itself agrees: PyTorch\'s outputs from the same weights are',
    'reproduced within 7.5e-8 (scripts/check-pytorch-conv.sh), and, measured by hand on one batch with the same weights',
    'and ε, the loss and all 18 gradients within 5e-6 relative; tests/pytorch.test.ts checks the layouts against an',
    'independent NCHW reference. Started from the very weights PyTorch draws for seed 1 (exported by conv_vae_ref.py,',
    'loaded with `VAE.fromPyTorch`; run by hand), our training stalled as well: 206.57 after one epoch. Given the same',
    'draws as well (initial weights, order and ε), the two libraries train the same curve:',
    '[conv-vae-same-draws](conv-vae-same-draws.md).',
  );
  return `${lines.join('\n')}\n`;
}

const reportOnly = process.argv.includes('--report');
if (reportOnly && !existsSync(jsonPath)) throw new Error(`${jsonPath} is missing: run without --report first`);
const data = reportOnly ? JSON.parse(readFileSync(jsonPath, 'utf8')) as { date: string; runs: Run[] } : { date: new Date().toISOString().slice(0, 10), runs: await runAll() };
if (!reportOnly) writeFileSync(jsonPath, `${JSON.stringify(data, null, 1)}\n`);
writeFileSync(join(process.cwd(), 'docs/results/conv-vae-seeds.md'), report(data.runs, data.date));
console.log('wrote docs/results/conv-vae-seeds.md');
