/**
 * `vae-wasm train` flags → model config and fit options. Pure (no I/O, no core), so it is tested directly.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Activation, AutoencoderConfig, FitOptions, Init, OptimizerConfig, VAEConfig } from '../types';

export interface TrainPlan {
  model: 'vae' | 'ae';
  modelConfig: VAEConfig | AutoencoderConfig;
  fit: Omit<FitOptions, 'validationData' | 'onBatchEnd' | 'onEpochEnd' | 'signal'>;
  dataset: string;
  testData?: string;
  out: string;
  limit?: number;
  testLimit: number;
  imageShape?: [number, number];
}

const int = (name: string, min = 1) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
};
const num = (name: string, { positive = false } = {}) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (positive ? n <= 0 : n < 0)) {
    throw new InvalidArgumentError(`${name} must be a ${positive ? 'positive' : 'non-negative'} number, got ${JSON.stringify(v)}`);
  }
  return n;
};
const widths = (name: string) => (v: string): number[] => {
  if (v.trim() === '' || v === 'none') return [];
  return v.split(',').map((w) => int(name)(w.trim()));
};

/** Builds the commander program; `onTrain` receives the plan. */
export function buildProgram(onTrain: (plan: TrainPlan) => Promise<void>, version: string): Command {
  const program = new Command('vae-wasm').description('Train VAEs and autoencoders on a SIMD WebAssembly core').version(version).exitOverride();
  program.command('train')
    .description('train a model (default: the pytorch/examples VAE on MNIST, 10 epochs) and write the model, images and metrics')
    .addOption(new Option('--model <kind>', 'model kind').choices(['vae', 'ae']).default('vae'))
    .option('--dataset <name|path>', 'mnist, fashion-mnist, or a path to an IDX images file (gzipped or not)', 'mnist')
    .option('--test-data <path>', 'IDX images used as test/validation data (with a path --dataset)')
    .option('--limit <n>', 'use only the first n training rows', int('--limit'))
    .option('--test-limit <n>', 'use only the first n test rows', int('--test-limit'), 10000)
    .option('--latent <n>', 'latent size', int('--latent'), 20)
    .option('--encoder <widths>', 'encoder hidden widths, comma-separated ("none" for none)', widths('--encoder'), [400])
    .option('--decoder <widths>', 'decoder hidden widths (default: encoder reversed)', widths('--decoder'))
    .addOption(new Option('--activation <name>', 'hidden activation').choices(['relu', 'leakyRelu', 'tanh', 'sigmoid', 'softplus', 'linear']).default('relu'))
    .option('--leaky-slope <x>', 'slope of leakyRelu for negative inputs', num('--leaky-slope'), 0.01)
    .addOption(new Option('--likelihood <name>', 'VAE decoder distribution').choices(['bernoulli', 'gaussian']).default('bernoulli'))
    .option('--variance <x|learned>', 'Gaussian likelihood: fixed variance, or "learned"')
    .addOption(new Option('--loss <name>', 'autoencoder loss').choices(['bce', 'mse']).default('bce'))
    .option('--init <name>', 'lecun-uniform, glorot-uniform, or normal:<std>', 'lecun-uniform')
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adam', 'sgd', 'adagrad']).default('adam'))
    .option('--lr <x>', 'learning rate (default: 1e-3 for adam, 0.01 otherwise)', num('--lr', { positive: true }))
    .option('--beta1 <x>', 'Adam β1', num('--beta1'))
    .option('--beta2 <x>', 'Adam β2', num('--beta2'))
    .option('--epsilon <x>', 'Adam/Adagrad ε', num('--epsilon', { positive: true }))
    .option('--momentum <x>', 'SGD momentum', num('--momentum'))
    .option('--weight-decay <x>', 'L2 weight decay', num('--weight-decay'))
    .option('--batch-size <n>', 'rows per step', int('--batch-size'), 128)
    .option('--epochs <n>', 'passes over the data', int('--epochs'), 10)
    .option('--no-shuffle', 'keep the data order')
    .option('--kl-weight <x>', 'β, the weight of the KL term', num('--kl-weight'), 1)
    .option('--kl-warmup <epochs>', 'epochs over which β rises linearly from 0', num('--kl-warmup'), 0)
    .option('--samples <n>', 'ε draws per datapoint', int('--samples'), 1)
    .addOption(new Option('--binarize <mode>', 'dynamic: redraw pixels ~ Bernoulli(intensity) each time').choices(['none', 'dynamic']).default('none'))
    .option('--seed <n>', 'seed of every random draw', int('--seed', 0), 1)
    .option('--image-shape <HxW>', 'image shape for the PNGs (default: square, or 28x28 for 784)')
    .option('--out <dir>', 'output folder', 'vae-out')
    .action(async (o: Record<string, unknown>) => onTrain(planFromOptions(o)));
  return program;
}

function parseInit(v: string): Init {
  if (v === 'lecun-uniform' || v === 'glorot-uniform') return v;
  const m = /^normal:(.+)$/.exec(v);
  if (m && Number.isFinite(Number(m[1])) && Number(m[1]) >= 0) return { normal: Number(m[1]) };
  throw new InvalidArgumentError(`--init must be lecun-uniform, glorot-uniform or normal:<std>, got ${JSON.stringify(v)}`);
}

export function planFromOptions(o: Record<string, unknown>): TrainPlan {
  const layers = {
    inputDim: 0, // filled in once the data is read
    latentDim: o.latent as number,
    encoder: o.encoder as number[],
    ...(o.decoder ? { decoder: o.decoder as number[] } : {}),
    activation: o.activation as Activation,
    leakySlope: o.leakySlope as number,
    init: parseInit(o.init as string),
    seed: o.seed as number,
  };
  const model = o.model as 'vae' | 'ae';
  let modelConfig: VAEConfig | AutoencoderConfig;
  if (model === 'vae') {
    const cfg: VAEConfig = { ...layers, likelihood: o.likelihood as 'bernoulli' | 'gaussian' };
    if (o.variance !== undefined) {
      if (cfg.likelihood !== 'gaussian') throw new InvalidArgumentError('--variance needs --likelihood gaussian');
      cfg.variance = o.variance === 'learned' ? 'learned' : num('--variance', { positive: true })(o.variance as string);
    }
    modelConfig = cfg;
  } else {
    modelConfig = { ...layers, loss: o.loss as 'bce' | 'mse' };
  }
  const name = o.optimizer as OptimizerConfig['name'];
  const optimizer: Record<string, unknown> = { name };
  if (o.lr !== undefined) optimizer.learningRate = o.lr;
  if (o.weightDecay !== undefined) optimizer.weightDecay = o.weightDecay;
  const allowed = { adam: ['beta1', 'beta2', 'epsilon'], sgd: ['momentum'], adagrad: ['epsilon'] }[name];
  for (const k of ['beta1', 'beta2', 'epsilon', 'momentum']) {
    if (o[k] === undefined) continue;
    if (!allowed.includes(k)) throw new InvalidArgumentError(`--${k} does not apply to --optimizer ${name}`);
    optimizer[k] = o[k];
  }
  const fit: TrainPlan['fit'] = {
    epochs: o.epochs as number,
    batchSize: o.batchSize as number,
    shuffle: o.shuffle as boolean,
    optimizer: optimizer as unknown as OptimizerConfig,
    binarize: o.binarize as 'none' | 'dynamic',
  };
  if (model === 'vae') Object.assign(fit, { klWeight: o.klWeight, klWarmupEpochs: o.klWarmup, samples: o.samples });
  let imageShape: [number, number] | undefined;
  if (o.imageShape !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(o.imageShape as string);
    if (!m) throw new InvalidArgumentError(`--image-shape must look like 28x28, got ${JSON.stringify(o.imageShape)}`);
    imageShape = [Number(m[1]), Number(m[2])];
  }
  return {
    model, modelConfig, fit, dataset: o.dataset as string, testData: o.testData as string | undefined,
    out: o.out as string, limit: o.limit as number | undefined, testLimit: o.testLimit as number, imageShape,
  };
}
