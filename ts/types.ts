/**
 * Public types of vae-wasm. Every option is documented here; the README links to this file.
 *
 * Conventions used throughout:
 * - A data matrix is n rows × dim columns, row-major (`DataInput`). It may be a flat `Float32Array`, `Float64Array`,
 *   other numeric typed array or `number[]` (values as given; for a Bernoulli likelihood or `bce` loss they must lie
 *   in [0, 1]), a flat `Uint8Array` or `Uint8ClampedArray` (0–255, scaled by 1/255 inside the core; a canvas's `ImageData.data` is RGBA, 4 values per pixel: take one
 *   channel for grey images), an array of rows
 *   (`number[][]`, typed-array rows; rows that are `Uint8Array`s are bytes, scaled as a flat one), or an object holding one of those with its shape: `{ data, rows, cols }` (what `idxImages`
 *   returns) or `{ data, shape }` (what `loadIdx` returns; the dimensions after the first multiply to dim).
 * - Weight matrices are stored **in × out** (the layer computes `y = x · W + b`). PyTorch's `nn.Linear` stores
 *   out × in; the interop functions transpose.
 * - Losses are in nats per sample, summed over the input's dimensions (pixels), averaged over samples.
 */
import type { TableSchema } from './schema';

/** Hidden-layer nonlinearity. `linear` is the identity (useful for linear autoencoders). */
export type Activation = 'relu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'softplus' | 'linear';

/**
 * How weights are initialised (biases follow the same rule where stated). All draws come from the model's seeded RNG
 * inside the core.
 * - `'lecun-uniform'` (default): W and b ~ U(−1/√fanIn, 1/√fanIn), exactly PyTorch's default for `nn.Linear`.
 * - `'glorot-uniform'`: W ~ U(−√(6/(fanIn+fanOut)), +√(6/(fanIn+fanOut))), b = 0.
 * - `{ normal: std }`: W and b ~ N(0, std²) (Kingma & Welling use std = 0.01).
 */
export type Init = 'lecun-uniform' | 'glorot-uniform' | { normal: number };

/** How a convolution pads: TensorFlow's `'same'` (extra row/column on the bottom/right) or `'valid'` (none,
 * the default), or a number of rows and columns added on every side as PyTorch's `padding` ([rows, columns] to
 * differ). */
export type Padding = 'same' | 'valid' | number | [number, number];

/** A side length or [height, width]. */
export type Size2 = number | [number, number];

/** Fully connected: `units` outputs from the whole input (an image input is read flat, channels last). */
export interface DenseLayer { type: 'dense'; units: number; activation?: Activation }
/** 2-D convolution on an image [h, w, c]; weights stored [kh, kw, c, filters]. `strides` default 1. */
export interface Conv2dLayer { type: 'conv2d'; filters: number; kernelSize: Size2; strides?: Size2; padding?: Padding; activation?: Activation }
/**
 * Transposed 2-D convolution; weights stored [kh, kw, filters, c]. Output side: with a numeric padding p,
 * (in − 1)·stride + kernel − 2p + outputPadding (PyTorch); with `'same'`, in·stride; with `'valid'`,
 * in·stride + max(kernel − stride, 0) (Keras; with outputPadding given, Keras's formulas).
 */
export interface Conv2dTransposeLayer { type: 'conv2dTranspose'; filters: number; kernelSize: Size2; strides?: Size2; padding?: Padding; outputPadding?: Size2; activation?: Activation }
/** [h, w, c] → [h·w·c] (channels last; a no-op on the values). */
export interface FlattenLayer { type: 'flatten' }
/** To `targetShape` ([h, w, c] or [n]) of the same size (a no-op on the values). */
export interface ReshapeLayer { type: 'reshape'; targetShape: number[] }
/**
 * One layer of an `encoder` or `decoder` list. A number is a dense layer of that width with the model's
 * activation. A layer's `activation` overrides the model's.
 */
export type LayerSpec = number | DenseLayer | Conv2dLayer | Conv2dTransposeLayer | FlattenLayer | ReshapeLayer;
/**
 * The layer that produces the model's output, of the input's shape, without an activation (the likelihood
 * applies its link). Its `units` (dense) or `filters` (convolutions) follow from the input and may be left out.
 */
export type OutputLayerSpec =
  | { type: 'dense'; units?: number }
  | Omit<Conv2dLayer, 'activation' | 'filters'> & { filters?: number }
  | Omit<Conv2dTransposeLayer, 'activation' | 'filters'> & { filters?: number };

export interface LayersConfig {
  /** Width of each input row (784 for MNIST). Positive integer. Give this or `inputShape`. */
  inputDim?: number;
  /**
   * Shape of each input row, `[height, width, channels]` (channels last, as image data in JavaScript), or
   * `[length]`. Data are still passed flat, row-major in that order. Needed by convolutional encoders.
   */
  inputShape?: number[];
  /** Width of the code z. Positive integer. */
  latentDim: number;
  /** The encoder's layers, input side first. Default `[400]` (one dense layer of 400). May be empty. */
  encoder?: LayerSpec[];
  /** The decoder's layers, code side first. Default: a dense encoder's widths reversed. */
  decoder?: LayerSpec[];
  /** The output layer. Default `{ type: 'dense' }` (to the input's size). */
  output?: OutputLayerSpec;
  /**
   * A table's schema (`parseCsv(...).schema`): rows are encoded with it, the input size is its width, and the
   * reconstruction term defaults to one group per column — VAE: numeric Gaussian with a learned variance, binary
   * Bernoulli, categorical a softmax over its levels; autoencoder: squared error, cross-entropy, the categorical's
   * cross-entropy. Saved with the model (`model.schema`), so `parseCsv(text, { schema: model.schema })` encodes new
   * rows for it and `model.toRows(values)` reads outputs back in original units.
   */
  schema?: TableSchema;
  /** Nonlinearity of every layer that computes (all but flatten, reshape and the output). Default `'relu'`. */
  activation?: Activation;
  /** Slope for negative inputs when `activation` is `'leakyRelu'`. Default 0.01. */
  leakySlope?: number;
  /** Weight initialisation. Default `'lecun-uniform'`. */
  init?: Init;
  /** Seed of every random draw (initialisation, shuffling, ε, binarisation). Integer in [0, 2³²). Default 0. */
  seed?: number;
  /**
   * Threads for this model's training and inference, the calling one included: a positive integer (at most 64) or
   * `'auto'` (default): every core, where shared WebAssembly memory is available (Node; pages served
   * cross-origin isolated). Elsewhere the model runs on one thread and `threadsNote` says why. Results are
   * bit-identical for any thread count. A runtime setting: not saved with the model.
   */
  threads?: number | 'auto';
}

export interface VAEConfig extends LayersConfig {
  /**
   * A conditional VAE on `conditionDim` values per row (a class's one-hot vector, or any side
   * information): q(z | x, c) and p(x | z, c), the prior staying N(0, I). The condition joins the encoder's first
   * dense layer (after `flatten` in a convolutional encoder; the latent's heads when the encoder has none) and the
   * decoder's first layer, which must then be dense: those layers' weights get `conditionDim` more rows, the
   * condition's, after the input's. Every method that takes data then takes `condition` (rows × conditionDim).
   */
  conditionDim?: number;
  /**
   * The decoder's distribution p(x|z):
   * - `'bernoulli'` (default): outputs logits; reconstruction = binary cross-entropy computed stably from logits;
   *   `decode` returns probabilities σ(logit). Data must lie in [0, 1].
   * - `'gaussian'`: outputs means (identity output); reconstruction = −log N(x; mean, variance) summed over dims.
   */
  likelihood?: 'bernoulli' | 'gaussian' | LikelihoodGroup[];
  /**
   * Gaussian likelihood only: a fixed variance (positive number, default 1), or `'learned'`: one log-variance per
   * input dimension, a trainable parameter `decoder.logVar` (initialised to 0, i.e. variance 1). With likelihood
   * groups: the fixed variance of the Gaussian groups that do not learn theirs.
   */
  variance?: number | 'learned';
}

/**
 * A group of consecutive input values with its own likelihood, for rows whose columns differ in kind (a table:
 * standardised numeric columns Gaussian, binary ones Bernoulli, each categorical column a softmax over its
 * one-hot levels). The groups cover the row in order; the reconstruction term is the sum of theirs.
 * - `bernoulli`: values in [0, 1]; decode gives σ(logit).
 * - `gaussian`: any values; the model's fixed `variance`, or `variance: 'learned'` (one log-variance per value in
 *   `decoder.logVar`, learned groups one after another); decode gives means.
 * - `categorical`: `width` ≥ 2 values, one-hot (or probabilities summing to 1); −log softmax(logits)[level];
 *   decode gives the softmax.
 */
export type LikelihoodGroup =
  | { type: 'bernoulli'; width: number }
  | { type: 'gaussian'; width: number; variance?: 'learned' }
  | { type: 'categorical'; width: number };

/** The autoencoder's counterpart: binary cross-entropy, squared error, or a categorical's cross-entropy. */
export interface LossGroup {
  type: 'bce' | 'mse' | 'categorical';
  width: number;
}

export interface AutoencoderConfig extends LayersConfig {
  /**
   * Reconstruction loss, summed over input dims:
   * - `'bce'` (default): binary cross-entropy from logits; `decode` returns σ(logit). Data must lie in [0, 1].
   * - `'mse'`: squared error Σ (x − x̂)² with an identity output.
   */
  loss?: 'bce' | 'mse' | LossGroup[];
}

export type OptimizerConfig =
  /** Adam (Kingma & Ba). Defaults: learningRate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8, weightDecay 0. */
  | { name: 'adam'; learningRate?: number; beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number }
  /** SGD with (heavy-ball) momentum. Defaults: learningRate 0.01, momentum 0, weightDecay 0. */
  | { name: 'sgd'; learningRate?: number; momentum?: number; weightDecay?: number }
  /** Adagrad. Defaults: learningRate 0.01, epsilon 1e-10, weightDecay 0. */
  | { name: 'adagrad'; learningRate?: number; epsilon?: number; weightDecay?: number };
// weightDecay is an L2 penalty added to the gradient (g + λθ), on every parameter, as PyTorch's `weight_decay`;
// for Kingma & Welling's N(0, I) prior on the parameters it corresponds to λ = 1/N.

/** Per-epoch record returned by `fit` and passed to `onEpochEnd`. Losses in nats per sample. */
export interface EpochLog {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean over the epoch's batches of the training objective's terms, as PyTorch's example reports them. */
  loss: number;
  reconstruction: number;
  /** KL(q(z|x) ‖ p(z)); 0 for an autoencoder. */
  kl: number;
  /** Same terms on `validationData`, one ε draw per datapoint, if given. */
  valLoss?: number;
  valReconstruction?: number;
  valKl?: number;
  /** Batches skipped because their loss, gradient or update was not finite (only with `onNonFinite: 'skip'`). */
  skippedBatches?: number;
  /** Training samples processed per second during this epoch (excluding validation). */
  samplesPerSecond: number;
  /** Wall-clock seconds of the epoch including validation. */
  seconds: number;
}

/** Passed to `onBatchEnd`. */
export interface BatchLog {
  epoch: number;
  /** 0-based batch index within the epoch. */
  batch: number;
  batches: number;
  loss: number;
  reconstruction: number;
  kl: number;
  /** The KL weight used for this step (after warm-up). */
  klWeight: number;
}

export interface FitOptions {
  /** Passes over the data. Positive integer. Default 1. */
  epochs?: number;
  /**
   * Rows per step. Positive integer ≤ the number of rows (a larger one is an error). Default: 128, or every row
   * when the data has fewer (so `fit` on 40 rows takes one batch of 40). The last, smaller batch is kept.
   */
  batchSize?: number;
  /** Reshuffle the rows every epoch (with the model's RNG). Default true. */
  shuffle?: boolean;
  /** Default `{ name: 'adam', learningRate: 1e-3 }`. State persists across `fit` calls with the same name. */
  optimizer?: OptimizerConfig;
  /** VAE only: β, the weight of the KL term in the training objective. Default 1. */
  klWeight?: number;
  /** VAE only: epochs (may be fractional) over which β rises linearly from 0 to `klWeight`. Default 0 (off). */
  klWarmupEpochs?: number;
  /** VAE only: ε draws per datapoint (L); the reconstruction term is averaged over them. Default 1. */
  samples?: number;
  /**
   * VAE only: `'elbo'` (default) maximises the ELBO with `samples` draws per row; `'iwae'` maximises the
   * importance-weighted bound L_k = E[log (1/k) Σ_s p(x, z_s)/q(z_s|x)] of Burda et al. (2015) with k = `samples`
   * (its gradient weights each draw by its normalised importance weight); with k = 1 it is the one-draw ELBO with a
   * Monte Carlo KL term. Epoch losses are then −L_k; `reconstruction` and `kl` stay the ELBO's terms.
   */
  objective?: 'elbo' | 'iwae';
  /** `'dynamic'`: every time a row is used, its pixels are redrawn ~ Bernoulli(intensity) in the core. Default none. */
  binarize?: 'dynamic' | 'none';
  /** Evaluated after every epoch. Same shape rules as the training data. */
  validationData?: DataInput;
  /** A conditional VAE's condition for each training row (rows × conditionDim: one-hot labels, any real vector). */
  condition?: DataInput;
  /** The condition of each validation row. */
  validationCondition?: DataInput;
  onBatchEnd?: (log: BatchLog) => void | Promise<void>;
  onEpochEnd?: (log: EpochLog) => void | Promise<void>;
  /**
   * A step whose loss, any gradient or any value its update would write (a weight, an optimizer moment) is NaN or
   * infinite is never applied. `'throw'` (default): `fit` rejects, and the weights are those after the last finite
   * step. `'skip'`: the batch is skipped and counted in the epoch's `skippedBatches`.
   */
  onNonFinite?: 'throw' | 'skip';
  /** Stops training between steps; `fit` then resolves with the history so far. */
  signal?: AbortSignal;
  /** Threads for this fit only (as the model's `threads` setting); default: the model's. */
  threads?: number | 'auto';
  /**
   * Save a checkpoint (the `save()` bytes, with optimizer state and RNG position) every `everyEpochs` epochs: to
   * `path` (Node only; written to a temporary file and renamed, so a crash mid-write leaves the previous
   * checkpoint intact) and/or passed to `onCheckpoint`. Loading a checkpoint and fitting the remaining epochs on the
   * same data and options gives bit-identical weights to an uninterrupted run.
   */
  checkpoint?: { everyEpochs: number; path?: string; onCheckpoint?: (bytes: Uint8Array, epoch: number) => void | Promise<void> };
}

/** Flat row-major values: typed arrays (Uint8Array and Uint8ClampedArray hold 0–255) or a `number[]`. */
export type FlatData = Float32Array | Float64Array | Uint8Array | Uint8ClampedArray | Int8Array | Int16Array | Int32Array
  | Uint16Array | Uint32Array | readonly number[];

/** Flat data with its shape: `idxImages`'s `{ data, rows, cols }` or `loadIdx`'s `{ data, shape }` (rows first). */
export type ShapedData = { readonly data: FlatData; readonly shape: readonly number[] }
  | { readonly data: FlatData; readonly rows: number; readonly cols: number };

/** A data matrix (see the conventions at the top of this file). */
export type DataInput = FlatData | readonly ArrayLike<number>[] | ShapedData;

export interface ElboResult {
  /** Mean over rows of the ELBO estimate (negative number, nats). */
  elbo: number;
  /** Mean reconstruction term −E_q[log p(x|z)]. */
  reconstruction: number;
  /** Mean KL(q(z|x) ‖ p(z)). */
  kl: number;
}

export interface LossAndGradients {
  /** Objective whose gradient is returned: mean over rows of reconstruction + klWeight · KL. */
  loss: number;
  reconstruction: number;
  kl: number;
  /** Gradient of `loss` for every parameter, by name (same names and shapes as `getWeights`). */
  gradients: Record<string, Float32Array>;
}

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export interface LogLikelihoodResult {
  /** Mean over rows of L_k, the importance-weighted lower bound on log p(x) (nats); rises toward log p(x) with k. */
  logLikelihood: number;
  /** Mean over rows of the ELBO estimated from the same k draws (mean of log w). */
  elbo: number;
  /** logLikelihood − elbo ≈ KL(q(z|x) ‖ p(z|x)), the gap in log p(x) = ELBO + KL; ≥ 0 for every row. */
  gap: number;
  perRow: {
    logLikelihood: Float64Array;
    elbo: Float64Array;
  };
}

/** A file's bytes: a `Uint8Array` (Node's `Buffer` is one), an `ArrayBuffer` (`fetch().arrayBuffer()`) or another view. */
export type BytesInput = Uint8Array | ArrayBufferLike | ArrayBufferView;

export interface ScoreOptions {
  /** `'elbo'` (VAE default): −ELBO; `'logLikelihood'` (VAE): −L_k; `'reconstruction'` (autoencoder default). */
  method?: 'elbo' | 'logLikelihood' | 'reconstruction';
  /** ε draws per row (k for `'logLikelihood'`, default 100; else default 1). */
  samples?: number;
  seed?: number;
  /** A conditional VAE's condition for each row. */
  condition?: DataInput;
}

export interface ScoreResult {
  /** One score per row; higher = more anomalous (nats). */
  scores: Float32Array;
  /**
   * Rows × input values: each value's share of its row's reconstruction term (mean over draws). For a model with a
   * table schema: rows × the schema's columns (a categorical's levels summed), named in `columns`.
   */
  perColumn: Float32Array;
  /** With a table schema: the column names of `perColumn`. */
  columns?: string[];
  method: 'elbo' | 'logLikelihood' | 'reconstruction';
}
