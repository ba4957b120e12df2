/**
 * `vae-wasm train` flags → model config and fit options. Pure (no I/O, no core), so it is tested directly:
 * `parseTrainArgs(['--epochs', '3'])` returns the plan, or throws commander's `CommanderError` with the message.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Activation, AutoencoderConfig, FitOptions, Init, OptimizerConfig, VAEConfig } from '../types';

export interface TrainPlan {
  model: 'vae' | 'ae';
  /** `inputDim` is 0 here; the CLI fills it in from the data. */
  modelConfig: VAEConfig | AutoencoderConfig;
  /** 'mlp': the --encoder/--decoder widths; 'conv': the keras.io conv VAE (convLayers) on the images' shape. */
  arch: 'mlp' | 'conv';
  /** A JSON file with `encoder`, `decoder` and optionally `output` and `inputShape` (replaces --arch's layers). */
  layersFile?: string;
  /** The per-value term flags given on the command line (--likelihood, --variance, --loss): a table refuses them. */
  termFlags?: string[];
  fit: Omit<FitOptions, 'validationData' | 'onBatchEnd' | 'onEpochEnd' | 'signal'>;
  /** 'mnist', 'fashion-mnist', or a path to an IDX images file. */
  dataset: string;
  /** Your own data (replaces dataset): a folder of images, a CSV, a .npy or an IDX file, told apart by content. */
  data?: string;
  testData?: string;
  /** A conditional VAE on the data's labels, one-hot (MNIST's and Fashion-MNIST's label files, or `labels`). */
  conditional?: true;
  /** The training rows' labels (an IDX label file or a 1-D .npy): for --dataset <path> and --data. */
  labels?: string;
  /** The test rows' labels, with --test-data. */
  testLabels?: string;
  out: string;
  limit?: number;
  testLimit: number;
  imageShape?: [number, number];
}

const int = (name: string, min = 1) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
};
const num = (name: string, { positive = false, below }: { positive?: boolean; below?: number } = {}) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (positive ? n <= 0 : n < 0) || (below !== undefined && n >= below)) {
    const range = `${positive ? 'positive' : 'non-negative'} number${below !== undefined ? ` below ${below}` : ''}`;
    throw new InvalidArgumentError(`${name} must be a ${range}, got ${JSON.stringify(v)}`);
  }
  return n;
};
const finite = (name: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
};
const widths = (name: string) => (v: string): number[] => {
  if (v.trim() === '' || v === 'none') return [];
  return v.split(',').map((w) => int(name)(w.trim()));
};
const initArg = (v: string): Init => {
  if (v === 'lecun-uniform' || v === 'glorot-uniform') return v;
  const m = /^normal:(.+)$/.exec(v);
  if (m && Number.isFinite(Number(m[1])) && Number(m[1]) > 0) return { normal: Number(m[1]) };
  throw new InvalidArgumentError(`--init must be lecun-uniform, glorot-uniform or normal:<std> with std > 0, got ${JSON.stringify(v)}`);
};
const varianceArg = (v: string): number | 'learned' => (v === 'learned' ? 'learned' : num('--variance', { positive: true })(v));
const threadsArg = (v: string): number | 'auto' => {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError(`--threads must be auto or an integer in [1, 64], got ${JSON.stringify(v)}`);
  return n;
};
const threadsOption = () => new Option('--threads <n|auto>', 'threads, this one included (auto: every core); results do not depend on it').argParser(threadsArg).default('auto');
const shapeArg = (v: string): [number, number] => {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new InvalidArgumentError(`--image-shape must look like 28x28, got ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2])];
};

/** Flags that only mean something for one model kind, activation or optimizer (rejected elsewhere if given). */
const VAE_ONLY = ['likelihood', 'variance', 'klWeight', 'klWarmup', 'samples', 'conditional', 'labels', 'testLabels'];
const AE_ONLY = ['loss'];
const OPTIMIZER_FLAGS: Record<OptimizerConfig['name'], string[]> = { adam: ['beta1', 'beta2', 'epsilon'], sgd: ['momentum'], adagrad: ['epsilon'] };
/** The datasets that bring their own label files. */
const NAMED = ['mnist', 'fashion-mnist'];
const flag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Builds the commander program; `onTrain` receives the plan. Errors exit with code 2 (or throw, with exitOverride). */
export interface EvalPlan {
  model: string;
  dataset: string;
  testData?: string;
  /** A conditional model's test labels for --test-data or --dataset <path> (the named datasets bring theirs). */
  labels?: string;
  limit: number;
  samples: number;
  seed: number;
  json: boolean;
  threads: number | 'auto';
}

export interface ScorePlan {
  model: string;
  data: string;
  out: string;
  method?: 'elbo' | 'logLikelihood' | 'reconstruction';
  samples?: number;
  threshold?: number;
  reference?: string;
  quantile: number;
  top: number;
  seed: number;
  threads: number | 'auto';
}

export function buildProgram(onTrain: (plan: TrainPlan) => void | Promise<void>, version: string,
  onEval: (plan: EvalPlan) => void | Promise<void> = () => {}, onScore: (plan: ScorePlan) => void | Promise<void> = () => {}): Command {
  const program = new Command('vae-wasm').description('Train VAEs and autoencoders on a SIMD WebAssembly core').version(version);
  // Usage errors exit 2 (commander's default is 1); set before .command() so that `train` inherits it.
  program.exitOverride((err) => {
    throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
  });
  program.command('train')
    .description('train a model (default: the pytorch/examples VAE on MNIST, 10 epochs) and write model.safetensors,\n' +
      'metrics.jsonl, reconstructions.png and samples.png to --out')
    .addOption(new Option('--model <kind>', 'vae, or a classical autoencoder').choices(['vae', 'ae']).default('vae'))
    .option('--dataset <name|path>', 'mnist, fashion-mnist, or a path to an IDX images file (gzipped or not)', 'mnist')
    .option('--data <path>', 'your own data: a folder of PNG/JPEG images, a CSV table, a .npy array or an IDX file\n' +
      '(the format is read from the content; a table trains on its encoded rows)')
    .option('--test-data <path>', 'test/validation data in the same format (default: t10k for mnist and fashion-mnist, none for a path)')
    .option('--conditional', 'VAE: a conditional VAE on the labels, one-hot (mnist and fashion-mnist: their label files;\n' +
      'otherwise --labels); classes = the largest label + 1; samples.png gets one row per class')
    .option('--labels <file>', 'with --conditional: the training rows\' labels, an IDX label file (or a 1-D .npy), for --dataset <path> or --data')
    .option('--test-labels <file>', 'with --conditional: the labels of --test-data')
    .option('--limit <n>', 'use only the first n training rows (default: all)', int('--limit'))
    .option('--test-limit <n>', 'use only the first n test rows', int('--test-limit'), 10000)
    .option('--latent <n>', 'latent (code) size', int('--latent'), 20)
    .addOption(new Option('--arch <name>', 'mlp: dense layers (--encoder, --decoder); conv: the keras.io convolutional VAE on the images\' shape').choices(['mlp', 'conv']).default('mlp'))
    .option('--layers <file.json>', 'your own layers: a JSON file with encoder, decoder and optionally output and inputShape (see README)')
    .addOption(new Option('--encoder <widths>', 'encoder hidden widths, comma-separated, input side first ("none" for none)').argParser(widths('--encoder')).default([400], '400'))
    .option('--decoder <widths>', 'decoder hidden widths, code side first (default: the encoder\'s reversed)', widths('--decoder'))
    .addOption(new Option('--activation <name>', 'hidden-layer nonlinearity').choices(['relu', 'leakyRelu', 'tanh', 'sigmoid', 'softplus', 'linear']).default('relu'))
    .option('--leaky-slope <x>', 'leakyRelu: slope for negative inputs (default: 0.01)', num('--leaky-slope'))
    .addOption(new Option('--likelihood <name>', 'VAE: decoder distribution p(x|z)').choices(['bernoulli', 'gaussian']).default('bernoulli'))
    .option('--variance <x|learned>', 'VAE with --likelihood gaussian: fixed variance, or "learned" (default: 1)', varianceArg)
    .addOption(new Option('--loss <name>', 'autoencoder: reconstruction loss').choices(['bce', 'mse']).default('bce'))
    .addOption(new Option('--init <name>', 'weight init: lecun-uniform, glorot-uniform, or normal:<std>').argParser(initArg).default('lecun-uniform'))
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adam', 'sgd', 'adagrad']).default('adam'))
    .option('--lr <x>', 'learning rate (default: 1e-3 for adam, 0.01 for sgd and adagrad)', num('--lr', { positive: true }))
    .option('--beta1 <x>', 'adam: β1 (default: 0.9)', num('--beta1', { below: 1 }))
    .option('--beta2 <x>', 'adam: β2 (default: 0.999)', num('--beta2', { below: 1 }))
    .option('--epsilon <x>', 'adam, adagrad: ε (default: 1e-8 for adam, 1e-10 for adagrad)', num('--epsilon', { positive: true }))
    .option('--momentum <x>', 'sgd: heavy-ball momentum (default: 0)', num('--momentum', { below: 1 }))
    .option('--weight-decay <x>', 'L2 penalty λ added to the gradient, as PyTorch\'s weight_decay (default: 0)', num('--weight-decay'))
    .option('--batch-size <n>', 'rows per step', int('--batch-size'), 128)
    .option('--epochs <n>', 'passes over the data', int('--epochs'), 10)
    .option('--no-shuffle', 'keep the data order (default: reshuffle every epoch)')
    .option('--kl-weight <x>', 'VAE: β, the weight of the KL term', num('--kl-weight'), 1)
    .option('--kl-warmup <epochs>', 'VAE: epochs (may be fractional) over which β rises linearly from 0', num('--kl-warmup'), 0)
    .option('--samples <n>', 'VAE: ε draws per datapoint (L)', int('--samples'), 1)
    .addOption(new Option('--binarize <mode>', 'dynamic: redraw pixels ~ Bernoulli(intensity) each time a row is used').choices(['none', 'dynamic']).default('none'))
    .option('--seed <n>', 'seed of every random draw (init, shuffling, ε, binarisation, samples.png)', int('--seed', 0), 1)
    .addOption(threadsOption())
    .addOption(new Option('--image-shape <HxW>', 'image shape for the PNGs (default: 28x28 for 784 values, else the most square factorisation)').argParser(shapeArg))
    .option('--out <dir>', 'output folder (created)', 'vae-out')
    .action((o: Record<string, unknown>, cmd: Command) => {
      const given = new Set(Object.keys(o).filter((k) => cmd.getOptionValueSource(k) === 'cli'));
      let plan: TrainPlan;
      try {
        plan = planFromOptions(o, given);
      } catch (e) {
        if (!(e instanceof InvalidArgumentError)) throw e;
        cmd.error(`error: ${e.message}`, { exitCode: 2, code: 'commander.invalidArgument' });
      }
      return onTrain(plan);
    });
  program.command('eval')
    .description('evaluate a saved VAE on test data: ELBO, the importance-weighted bound L_k on log p(x) (Burda et al.),\n' +
      'their gap ≈ KL(q(z|x) ‖ p(z|x)), and the active latent units')
    .requiredOption('--model <file>', 'a model written by vae-wasm train (model.safetensors)')
    .option('--dataset <name|path>', 'mnist, fashion-mnist, or a path to an IDX images file (its test set is used)', 'mnist')
    .option('--test-data <path>', 'IDX images to evaluate on instead of the dataset\'s test set')
    .option('--labels <file>', 'a conditional model: the labels of --test-data or --dataset <path> (an IDX label file or a 1-D .npy);\n' +
      'mnist and fashion-mnist use their t10k label files')
    .option('--limit <n>', 'use only the first n test rows', int('--limit'), 1000)
    .option('--samples <n>', 'k, importance samples per image', int('--samples'), 1000)
    .option('--seed <n>', 'seed of the draws', int('--seed', 0), 1)
    .option('--json', 'print one JSON object instead of a table')
    .addOption(threadsOption())
    .action((o: Record<string, unknown>, cmd: Command) => {
      if (o.labels !== undefined && o.testData === undefined && NAMED.includes(o.dataset as string)) {
        cmd.error(`error: --labels gives the labels of --test-data or --dataset <path>; ${o.dataset as string}'s test labels come from its own label file`, { exitCode: 2, code: 'commander.conflict' });
      }
      return onEval({
        model: o.model as string, dataset: o.dataset as string, testData: o.testData as string | undefined,
        ...(o.labels !== undefined ? { labels: o.labels as string } : {}),
        limit: o.limit as number, samples: o.samples as number, seed: o.seed as number, json: o.json === true,
        threads: o.threads as number | 'auto',
      });
    });
  program.command('score')
    .description('anomaly scores of new rows under a saved model (higher = more anomalous), a threshold, and each\n' +
      'row\'s most unusual columns (or pixels), written as CSV: row, score, flagged, top_columns')
    .requiredOption('--model <file>', 'a model written by vae-wasm train (model.safetensors); a table\'s model keeps its schema')
    .requiredOption('--data <path>', 'rows to score: a CSV (encoded with the model\'s schema), a folder of images, a .npy or an IDX file')
    .option('--out <file>', 'the CSV to write', 'scores.csv')
    .addOption(new Option('--method <name>', 'VAE: elbo (−ELBO), logLikelihood (−L_k) or reconstruction; an autoencoder: reconstruction').choices(['elbo', 'logLikelihood', 'reconstruction']))
    .option('--samples <n>', 'ε draws per row (elbo, reconstruction; default 1) or k (logLikelihood; default 100)', int('--samples'))
    .option('--threshold <x>', 'flag rows scoring above x', finite('--threshold'))
    .option('--reference <path>', 'normal rows (same format as --data): the threshold is the --quantile of their scores')
    .option('--quantile <q>', 'quantile of the reference scores (or, without --reference, of the scored rows) used as the threshold', num('--quantile', { below: 1 }), 0.99)
    .option('--top <n>', 'columns (or pixels) listed per row, by their share of the reconstruction term', int('--top'), 3)
    .option('--seed <n>', 'seed of the draws', int('--seed', 0), 1)
    .addOption(threadsOption())
    .action((o: Record<string, unknown>, cmd: Command) => {
      if (o.threshold !== undefined && o.reference !== undefined) cmd.error('error: --threshold and --reference both set the threshold; give one', { exitCode: 2, code: 'commander.conflict' });
      return onScore({
        model: o.model as string, data: o.data as string, out: o.out as string, quantile: o.quantile as number, top: o.top as number,
        seed: o.seed as number, threads: o.threads as number | 'auto',
        ...(o.method !== undefined ? { method: o.method as ScorePlan['method'] } : {}),
        ...(o.samples !== undefined ? { samples: o.samples as number } : {}),
        ...(o.threshold !== undefined ? { threshold: o.threshold as number } : {}),
        ...(o.reference !== undefined ? { reference: o.reference as string } : {}),
      });
    });
  return program;
}

/** Parsed option values (commander's camelCase keys) → plan. `given`: keys set on the command line. */
export function planFromOptions(o: Record<string, unknown>, given: ReadonlySet<string> = new Set()): TrainPlan {
  const model = o.model as 'vae' | 'ae';
  for (const k of model === 'vae' ? AE_ONLY : VAE_ONLY) {
    if (given.has(k)) throw new InvalidArgumentError(`${flag(k)} applies only to --model ${model === 'vae' ? 'ae' : 'vae'}`);
  }
  if (o.variance !== undefined && o.likelihood !== 'gaussian') throw new InvalidArgumentError('--variance needs --likelihood gaussian');
  if (o.leakySlope !== undefined && o.activation !== 'leakyRelu') throw new InvalidArgumentError('--leaky-slope needs --activation leakyRelu');
  const arch = o.arch as 'mlp' | 'conv';
  for (const k of ['encoder', 'decoder']) {
    if (given.has(k) && (arch === 'conv' || o.layers !== undefined)) {
      throw new InvalidArgumentError(`${flag(k)} sets dense widths; it does not combine with ${arch === 'conv' ? '--arch conv (whose layers are the keras.io conv VAE\'s)' : '--layers'}`);
    }
  }
  if (given.has('arch') && o.layers !== undefined) throw new InvalidArgumentError('--arch and --layers both choose the layers; give one');
  if (given.has('dataset') && o.data !== undefined) throw new InvalidArgumentError('--dataset and --data both choose the data; give one');
  checkConditional(o);
  const layers = {
    inputDim: 0, // filled in once the data is read
    latentDim: o.latent as number,
    encoder: o.encoder as number[],
    ...(o.decoder ? { decoder: o.decoder as number[] } : {}),
    activation: o.activation as Activation,
    ...(o.leakySlope !== undefined ? { leakySlope: o.leakySlope as number } : {}),
    init: o.init as Init,
    seed: o.seed as number,
    threads: o.threads as number | 'auto',
  };
  let modelConfig: VAEConfig | AutoencoderConfig;
  if (model === 'vae') {
    modelConfig = { ...layers, likelihood: o.likelihood as 'bernoulli' | 'gaussian', ...(o.variance !== undefined ? { variance: o.variance as number | 'learned' } : {}) };
  } else {
    modelConfig = { ...layers, loss: o.loss as 'bce' | 'mse' };
  }
  const name = o.optimizer as OptimizerConfig['name'];
  const optimizer: Record<string, unknown> = { name };
  if (o.lr !== undefined) optimizer.learningRate = o.lr;
  for (const k of ['beta1', 'beta2', 'epsilon', 'momentum']) {
    if (o[k] === undefined) continue;
    if (!OPTIMIZER_FLAGS[name].includes(k)) throw new InvalidArgumentError(`--${k} does not apply to --optimizer ${name}`);
    optimizer[k] = o[k];
  }
  if (o.weightDecay !== undefined) optimizer.weightDecay = o.weightDecay;
  const fit: TrainPlan['fit'] = {
    epochs: o.epochs as number,
    batchSize: o.batchSize as number,
    shuffle: o.shuffle as boolean,
    optimizer: optimizer as unknown as OptimizerConfig,
    binarize: o.binarize as 'none' | 'dynamic',
  };
  if (model === 'vae') Object.assign(fit, { klWeight: o.klWeight, klWarmupEpochs: o.klWarmup, samples: o.samples });
  const termFlags = ['likelihood', 'variance', 'loss'].filter((k) => given.has(k)).map(flag);
  return {
    model, modelConfig, arch, ...(o.layers !== undefined ? { layersFile: o.layers as string } : {}), ...(termFlags.length ? { termFlags } : {}), fit, dataset: o.dataset as string,
    ...(o.data !== undefined ? { data: o.data as string } : {}),
    ...(o.testData !== undefined ? { testData: o.testData as string } : {}),
    ...(o.conditional === true ? { conditional: true as const } : {}),
    ...(o.labels !== undefined ? { labels: o.labels as string } : {}),
    ...(o.testLabels !== undefined ? { testLabels: o.testLabels as string } : {}),
    out: o.out as string,
    ...(o.limit !== undefined ? { limit: o.limit as number } : {}),
    testLimit: o.testLimit as number,
    ...(o.imageShape !== undefined ? { imageShape: o.imageShape as [number, number] } : {}),
  };
}

/** --conditional, --labels and --test-labels: which data brings labels, and which needs them given. */
function checkConditional(o: Record<string, unknown>): void {
  if (o.conditional !== true) {
    for (const k of ['labels', 'testLabels']) if (o[k] !== undefined) throw new InvalidArgumentError(`${flag(k)} needs --conditional (a conditional VAE on the labels)`);
    return;
  }
  const named = o.data === undefined && NAMED.includes(o.dataset as string);
  if (named && o.labels !== undefined) throw new InvalidArgumentError(`--labels gives the labels of --dataset <path> or --data; ${o.dataset as string}'s come from its own label files`);
  if (!named && o.labels === undefined) {
    const source = o.data !== undefined ? `--data ${o.data as string}` : `--dataset ${o.dataset as string}`;
    throw new InvalidArgumentError(`--conditional needs labels: mnist and fashion-mnist bring their label files; for ${source} pass --labels <IDX label file> (one label per row)`);
  }
  if (o.testData !== undefined && o.testLabels === undefined) throw new InvalidArgumentError('--conditional with --test-data needs --test-labels <IDX label file> (one label per test row)');
  if (o.testData === undefined && o.testLabels !== undefined) throw new InvalidArgumentError('--test-labels gives the labels of --test-data; give --test-data too');
}

/**
 * The arguments after `vae-wasm train` (a leading 'train' is also accepted) → plan. Pure: prints nothing; invalid
 * flags throw `CommanderError` (exitCode 2) whose message names the flag; `--help` throws one with exitCode 0.
 */
export function parseTrainArgs(argv: readonly string[]): TrainPlan {
  let plan: TrainPlan | undefined;
  const program = buildProgram((p) => { plan = p; }, '0');
  const quiet = { writeOut: () => {}, writeErr: () => {} };
  program.configureOutput(quiet);
  for (const c of program.commands) c.configureOutput(quiet);
  program.parse(argv[0] === 'train' ? [...argv] : ['train', ...argv], { from: 'user' });
  if (!plan) throw new Error('parseTrainArgs: commander did not run the train action');
  return plan;
}
