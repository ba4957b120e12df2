/**
 * The variational autoencoder: q(z|x) = N(μ(x), diag(exp(logVar(x)))), p(z) = N(0, I), p(x|z) Bernoulli or Gaussian.
 * Trained by maximising the ELBO F = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)) with the reparameterisation
 * z = μ + σ ⊙ ε, ε ~ N(0, I), so gradients flow through μ and σ.
 */
import { constructorCore, init } from './core/wasm';
import { toBytes, toCodes } from './data';
import { BaseModel } from './model';
import { checkKeys, checkObject, fail, nonNegativeNumber, objectiveOption, positiveInt, type ResolvedVAEConfig, resolveVAEConfig, seedOption } from './options';
import { loadModel } from './persist';
import { CONV_REFERENCE_NAMES, decodePyTorchInto, encodePyTorch, knownNames, type ModelLayout, PYTORCH_EXAMPLES_NAMES, pytorchExamplesSizes } from './pytorch';
import type { BytesInput, DataInput, ElboResult, LogLikelihoodResult, LossAndGradients, VAEConfig } from './types';
import type { Core } from './core/wasm';
import type { CorePlan } from './core/abi';

export class VAE extends BaseModel {
  protected readonly className = 'VAE';
  /** The configuration with every default filled in. */
  readonly config: Readonly<ResolvedVAEConfig>;

  private constructor(core: Core, resolved: ResolvedVAEConfig, plan: CorePlan, names: string[]) {
    super(constructorCore('VAE', core), plan, names, 'VAE.create');
    this.config = Object.freeze({ ...resolved });
  }

  /** Creates a VAE with freshly initialised weights (loads the wasm core on first use). */
  static async create(config: VAEConfig): Promise<VAE> {
    const { resolved, plan, names, threads } = resolveVAEConfig('VAE.create', config);
    const model = new VAE(await init(), resolved, plan, names);
    await model.setThreads(threads);
    return model;
  }

  /** Loads a model written by `save()` (safetensors). */
  static async load(bytes: BytesInput): Promise<VAE> {
    const model = await loadModel('VAE.load', bytes, 'vae', (config) => VAE.create(config as VAEConfig));
    return model as VAE;
  }

  /**
   * A VAE from a PyTorch state dict saved as safetensors, with the layout conversions done (ts/pytorch.ts): weights
   * transposed or permuted, channels-first images reordered to channels last. The pytorch/examples VAE (fc1, fc21,
   * fc22, fc3, fc4) needs no config: its sizes come from the tensors (activation relu, likelihood bernoulli, as in
   * that example; `config` may set the rest). Any other model needs its `config` with the layers, and `names` (our
   * layer prefix → PyTorch's module name, e.g. `{ 'encoder.0': 'conv1', 'encoder.mean': 'fc_mu', … }`) unless it is
   * the convolutional reference of `conv_vae_ref.py` (c1, c2, fc, mu, lv, d0, t1, t2, t3).
   */
  static async fromPyTorch(input: BytesInput, config: Partial<VAEConfig> = {}, options: { names?: Record<string, string> } = {}): Promise<VAE> {
    const where = 'VAE.fromPyTorch';
    const bytes = toBytes(where, 'bytes', input, 'a safetensors file');
    checkObject(where, 'options', options);
    checkKeys(where, options, ['names']);
    const names = options.names ?? knownNames(bytes);
    const layered = ['inputDim', 'inputShape', 'latentDim', 'encoder', 'decoder', 'output'].some((k) => k in config);
    let full: VAEConfig;
    if (!layered && names === PYTORCH_EXAMPLES_NAMES) {
      const { inputDim, hidden, decoderHidden, latentDim } = pytorchExamplesSizes(where, bytes);
      full = { ...config, inputDim, latentDim, encoder: [hidden], decoder: [decoderHidden] };
    } else if (!layered) {
      return fail(where, 'config', config, "given with the model's layers (inputShape or inputDim, latentDim, encoder, decoder, output): only the pytorch/examples VAE's sizes can be read from its tensors");
    } else {
      full = config as VAEConfig;
    }
    if (names === undefined) {
      return fail(where, 'options.names', undefined, "given: our layer prefixes (encoder.0, encoder.mean, ...) → the state dict's module names");
    }
    const vae = await VAE.create(full);
    try {
      vae.setWeights(decodePyTorchInto(where, bytes, vae.pytorchLayout(), names));
    } catch (e) {
      vae.dispose();
      throw e;
    }
    return vae;
  }

  /**
   * The weights as a PyTorch state dict in safetensors (layouts converted as `fromPyTorch` describes), under
   * `names` — by default the pytorch/examples names for that layout, the reference's for the keras.io conv VAE,
   * else our own layer prefixes.
   */
  toPyTorch(options: { names?: Record<string, string> } = {}): Uint8Array {
    const where = 'VAE.toPyTorch';
    checkObject(where, 'options', options);
    checkKeys(where, options, ['names']);
    const prefixes = [...new Set(this.tensors.map((t) => t.name.slice(0, t.name.lastIndexOf('.'))))];
    const matches = (n: Record<string, string>) => prefixes.length === Object.keys(n).length && prefixes.every((p) => p in n);
    const names = options.names ?? [PYTORCH_EXAMPLES_NAMES, CONV_REFERENCE_NAMES].find(matches) ?? Object.fromEntries(prefixes.map((p) => [p, p]));
    return encodePyTorch(where, this.getWeights(), this.pytorchLayout(), names);
  }

  private pytorchLayout(): ModelLayout {
    return { tensors: this.tensors, layers: this.layers, input: this.inputShape };
  }

  protected get isVae(): boolean {
    return true;
  }

  protected metadataConfig(): Record<string, unknown> {
    // `variance` only means something (and is only accepted) for a Gaussian likelihood or Gaussian groups.
    const { variance, ...rest } = this.config;
    const l = this.config.likelihood;
    return l === 'gaussian' || (Array.isArray(l) && l.some((g) => g.type === 'gaussian')) ? { ...rest, variance } : rest;
  }

  /**
   * Parameters of q(z|x) (with a conditional model, q(z|x, c)): mean and log-variance, each rows × latentDim
   * (into `options.out`'s two Float32Arrays of that size, if given: no allocation per call).
   */
  encode(x: DataInput, options: { condition?: DataInput; out?: { mean: Float32Array; logVar: Float32Array } } = {}): { mean: Float32Array; logVar: Float32Array } {
    const where = 'VAE.encode';
    checkObject(where, 'options', options);
    checkKeys(where, options, ['condition', 'out']);
    const m = this.matrix('encode', 'x', x);
    const c = this.conditionOf(where, 'options.condition', options.condition, m.rows);
    const h = this.handle;
    const n = m.rows * this.config.latentDim;
    let into: { mean: Float32Array; logVar: Float32Array } | undefined;
    if (options.out !== undefined) {
      const out = options.out;
      checkObject(where, 'options.out', out);
      checkKeys(where, out, ['mean', 'logVar'], 'key of options.out');
      const size = `a Float32Array of ${n} values (the result's size)`;
      if (out.mean === undefined || out.logVar === undefined) fail(where, 'options.out', out, `both mean and logVar, each ${size}`);
      into = { mean: this.outArray(where, 'options.out.mean', out.mean, n)!, logVar: this.outArray(where, 'options.out.logVar', out.logVar, n)! };
      const [a, b] = [into.mean, into.logVar];
      if (a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength) {
        fail(where, 'options.out', out, 'two arrays for mean and logVar that share no memory (these overlap, so one would overwrite the other)');
      }
    }
    return this.withCondition(c, () => this.withMatrix(m, (p, alloc) => {
      const mean = alloc(n * 4);
      const logVar = alloc(n * 4);
      this.core.check(this.core.x.vae_model_encode(h, p, m.dtype, m.rows, mean, logVar), where);
      const r = { mean: VAE.result(this.core.f32(mean, n), into?.mean), logVar: VAE.result(this.core.f32(logVar, n), into?.logVar) };
      return options.out ?? r;
    }));
  }

  /**
   * Decoder outputs for codes z (rows × latentDim): Bernoulli probabilities σ(logits) or Gaussian means;
   * raw logits with `{ logits: true }`.
   */
  decode(z: DataInput, options: { logits?: boolean; condition?: DataInput; out?: Float32Array } = {}): Float32Array {
    checkObject('VAE.decode', 'options', options);
    checkKeys('VAE.decode', options, ['logits', 'condition', 'out']);
    const codes = toCodes('VAE.decode', 'z', z, this.config.latentDim);
    return this.decodeImpl('VAE.decode', codes, options.logits === true, options.condition, options.out);
  }

  /**
   * Monte-Carlo estimate of the ELBO per row, averaged over rows (nats): `samples` ε draws per row (default 1),
   * from `seed` if given (reproducible), else from the model's evaluation stream.
   */
  elbo(x: DataInput, options: { samples?: number; seed?: number; condition?: DataInput } = {}): ElboResult {
    checkObject('VAE.elbo', 'options', options);
    checkKeys('VAE.elbo', options, ['samples', 'seed', 'condition']);
    const samples = options.samples === undefined ? 1 : positiveInt('VAE.elbo', 'samples', options.samples, 1 << 16);
    const seed = seedOption('VAE.elbo', options.seed);
    const m = this.matrix('elbo', 'x', x);
    const r = this.evaluateMatrix(m, samples, seed, this.conditionOf('VAE.elbo', 'options.condition', options.condition, m.rows));
    return { elbo: -(r.reconstruction + r.kl), reconstruction: r.reconstruction, kl: r.kl };
  }

  /**
   * Importance-weighted estimate of log p(x) (Burda et al. 2015): L_k = log (1/k) Σ_i p(x, z_i)/q(z_i|x) with
   * z_i ~ q(z|x), computed per row with a stable log-mean-exp in the core. L_1 is the ELBO in expectation and L_k
   * rises with k toward log p(x). `samples` is k (default 100); ε from `seed` if given, else the model's evaluation
   * stream. Also returns the ELBO from the same draws and their gap, an estimate of KL(q(z|x) ‖ p(z|x)).
   */
  logLikelihood(x: DataInput, options: { samples?: number; seed?: number; condition?: DataInput } = {}): LogLikelihoodResult {
    const where = 'VAE.logLikelihood';
    checkObject(where, 'options', options);
    checkKeys(where, options, ['samples', 'seed', 'condition']);
    const k = options.samples === undefined ? 100 : positiveInt(where, 'samples', options.samples, 1 << 24);
    const seed = seedOption(where, options.seed);
    const m = this.matrix('logLikelihood', 'x', x);
    const c = this.conditionOf(where, 'options.condition', options.condition, m.rows);
    const h = this.handle;
    return this.withCondition(c, () => this.withMatrix(m, (p, alloc) => {
      const lk = alloc(m.rows * 8);
      const el = alloc(m.rows * 8);
      this.core.check(this.core.x.vae_model_log_likelihood(h, p, m.dtype, m.rows, k, seed ?? 0, seed === undefined ? 0 : 1, lk, el), where);
      const perRow = { logLikelihood: this.core.f64(lk, m.rows).slice(), elbo: this.core.f64(el, m.rows).slice() };
      const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
      const logLikelihood = mean(perRow.logLikelihood);
      const elbo = mean(perRow.elbo);
      return { logLikelihood, elbo, gap: logLikelihood - elbo, perRow };
    }));
  }

  /**
   * Active latent units (Burda et al. 2015): unit i is active when the variance over the rows of E_q[z_i | x] (the
   * encoder mean) exceeds `threshold` (default 0.01). Returns the count and every unit's variance.
   */
  activeUnits(x: DataInput, options: { threshold?: number; condition?: DataInput } = {}): { count: number; variances: Float64Array } {
    checkObject('VAE.activeUnits', 'options', options);
    checkKeys('VAE.activeUnits', options, ['threshold', 'condition']);
    const threshold = options.threshold === undefined ? 0.01 : nonNegativeNumber('VAE.activeUnits', 'threshold', options.threshold);
    const { mean } = this.encode(x, options.condition === undefined ? {} : { condition: options.condition });
    const L = this.config.latentDim;
    const rows = mean.length / L;
    const variances = new Float64Array(L);
    for (let k = 0; k < L; k++) {
      let m = 0;
      for (let r = 0; r < rows; r++) m += mean[r * L + k]!;
      m /= rows;
      let v = 0;
      for (let r = 0; r < rows; r++) v += (mean[r * L + k]! - m) ** 2;
      variances[k] = v / rows;
    }
    return { count: variances.filter((v) => v > threshold).length, variances };
  }

  /**
   * The objective and its gradient for every parameter, with the noise given: `epsilon` holds
   * rows·samples × latentDim values, row i·samples + s being draw s for data row i. The ELBO's objective is
   * mean_i[rec_i + klWeight·KL_i] (rec averaged over the draws); with `objective: 'iwae'` it is −mean_i L_k(i),
   * k = `samples`. Parameters are not changed.
   */
  lossAndGradients(x: DataInput, options: { epsilon: Float32Array; samples?: number; klWeight?: number; objective?: 'elbo' | 'iwae'; condition?: DataInput }): LossAndGradients {
    const where = 'VAE.lossAndGradients';
    checkObject(where, 'options', options);
    checkKeys(where, options, ['epsilon', 'samples', 'klWeight', 'objective', 'condition']);
    const samples = options.samples === undefined ? 1 : positiveInt(where, 'samples', options.samples, 4096);
    const beta = options.klWeight === undefined ? 1 : nonNegativeNumber(where, 'klWeight', options.klWeight);
    const objective = objectiveOption(where, options);
    const m = this.matrix('lossAndGradients', 'x', x);
    const eps = options.epsilon;
    const expected = m.rows * samples * this.config.latentDim;
    if (!(eps instanceof Float32Array) || eps.length !== expected) {
      fail(where, 'epsilon', eps, `a Float32Array of rows·samples·latentDim = ${expected} values`);
    }
    for (let i = 0; i < eps.length; i++) {
      if (!Number.isFinite(eps[i]!)) fail(where, `epsilon[${i}]`, eps[i], 'finite');
    }
    return this.lossAndGradientsImpl(where, m, eps, samples, beta, objective, this.conditionOf(where, 'options.condition', options.condition, m.rows));
  }
}
