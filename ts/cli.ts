#!/usr/bin/env node
/**
 * `vae-wasm train`: trains a VAE or autoencoder on MNIST (by default the pytorch/examples configuration), showing a
 * progress bar per epoch, and writes model.safetensors, reconstructions.png, samples.png and metrics.jsonl.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { CommanderError } from 'commander';
import { Autoencoder, VAE } from './index';
import { buildProgram, type TrainPlan } from './cli/args';
import { DatasetError, head, loadDataset } from './cli/datasets';
import { imageGridPng, imageShapeFor } from './cli/png';
import type { AutoencoderConfig, EpochLog, VAEConfig } from './types';

const VERSION = '0.1.0';

/** Writes a file atomically: a temporary file in the same folder, then a rename. */
function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

const f2 = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(2));

async function train(plan: TrainPlan): Promise<void> {
  const { train: fullTrain, test: fullTest, label } = loadDataset(plan.dataset, plan.testData);
  const train = head(fullTrain, plan.limit);
  const test = fullTest ? head(fullTest, plan.testLimit) : undefined;
  const config = { ...plan.modelConfig, inputDim: train.cols };
  const model = plan.model === 'vae' ? await VAE.create(config as VAEConfig) : await Autoencoder.create(config as AutoencoderConfig);
  mkdirSync(plan.out, { recursive: true });
  const metricsPath = join(plan.out, 'metrics.jsonl');
  writeAtomic(metricsPath, '');
  const lines: string[] = [];
  const tty = process.stderr.isTTY === true;
  process.stderr.write(`vae-wasm: training ${plan.model === 'vae' ? 'a VAE' : 'an autoencoder'} ${train.cols}-[${config.encoder?.join(',')}]-${config.latentDim} on ${train.rows} rows of ${label}` +
    `${test ? `, testing on ${test.rows}` : ''}; ${model.parameterCount} parameters\n`);
  let bar: SingleBar | undefined;
  let epochStart = 0;
  let seen = 0;
  let running = 0;
  const history: EpochLog[] = await model.fit(train.data, {
    ...plan.fit,
    ...(test ? { validationData: test.data } : {}),
    onBatchEnd: (b) => {
      if (b.batch === 0) {
        epochStart = performance.now();
        seen = 0;
        running = 0;
        if (tty) {
          bar = new SingleBar({ format: `epoch ${b.epoch}/${plan.fit.epochs} [{bar}] {value}/{total} | loss {loss} | {rate} samples/s`, hideCursor: true, clearOnComplete: true, stream: process.stderr });
          bar.start(b.batches, 0, { loss: '-', rate: '-' });
        }
      }
      const n = Math.min(plan.fit.batchSize ?? 128, train.rows - b.batch * (plan.fit.batchSize ?? 128));
      seen += n;
      running += (b.reconstruction + b.kl) * n;
      bar?.update(b.batch + 1, { loss: (running / seen).toFixed(2), rate: (seen / ((performance.now() - epochStart) / 1000)).toFixed(0) });
    },
    onEpochEnd: (e) => {
      bar?.stop();
      lines.push(JSON.stringify(e));
      writeAtomic(metricsPath, lines.join('\n') + '\n');
      process.stderr.write(`epoch ${e.epoch}: train loss ${f2(e.loss)} (rec ${f2(e.reconstruction)}, KL ${f2(e.kl)}) | test loss ${f2(e.valLoss)} | ${e.samplesPerSecond.toFixed(0)} samples/s | ${e.seconds.toFixed(1)} s\n`);
    },
  });
  writeAtomic(join(plan.out, 'model.safetensors'), model.save());
  const [h, w] = plan.imageShape ?? imageShapeFor(train.cols);
  if (h * w !== train.cols) throw new DatasetError(`--image-shape ${h}x${w} does not match ${train.cols} values per row`);
  const shown = test ?? train;
  const n = Math.min(8, shown.rows);
  const originals = shown.data.subarray(0, n * shown.cols);
  const scaled = originals instanceof Uint8Array ? Float32Array.from(originals, (v) => v / 255) : originals;
  const recon = model.reconstruct(originals);
  const pair = new Float32Array(2 * n * train.cols);
  pair.set(scaled, 0);
  pair.set(recon, n * train.cols);
  writeAtomic(join(plan.out, 'reconstructions.png'), imageGridPng(pair, 2 * n, h, w, n));
  // Decoded codes z ~ N(0, I): the VAE's prior gives data-like samples; an autoencoder's code space need not.
  const samples = model.sample(64, { seed: plan.modelConfig.seed ?? 1 });
  writeAtomic(join(plan.out, 'samples.png'), imageGridPng(samples, 64, h, w, 8));
  const last = history[history.length - 1];
  process.stderr.write(`vae-wasm: wrote ${plan.out}/{model.safetensors,reconstructions.png,samples.png,metrics.jsonl}` +
    `${last?.valLoss !== undefined ? `; final test loss ${last.valLoss.toFixed(2)} nats per sample` : ''}\n`);
  model.dispose();
}

const program = buildProgram(train, VERSION);
program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode === 0 ? 0 : 2);
  }
  if (e instanceof DatasetError) {
    process.stderr.write(`vae-wasm: ${e.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`vae-wasm: ${(e as Error).message}\n`);
  process.exit(1);
}
