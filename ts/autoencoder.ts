/**
 * The classical autoencoder: a deterministic code z = f(x) and reconstruction g(z), trained on binary
 * cross-entropy or squared error. Unlike the VAE it learns no distribution over codes, so decoding random codes
 * does not give data-like samples; and with a code as wide as the input it can learn the identity.
 */
import { constructorCore, init } from './core/wasm';
import { toCodes } from './data';
import { BaseModel } from './model';
import { checkKeys, checkObject, type ResolvedAutoencoderConfig, resolveAutoencoderConfig } from './options';
import { loadModel } from './persist';
import type { AutoencoderConfig, BytesInput, DataInput, LossAndGradients } from './types';
import type { Core } from './core/wasm';
import type { CorePlan } from './core/abi';

export class Autoencoder extends BaseModel {
  protected readonly className = 'Autoencoder';
  readonly config: Readonly<ResolvedAutoencoderConfig>;

  private constructor(core: Core, resolved: ResolvedAutoencoderConfig, plan: CorePlan, names: string[]) {
    super(constructorCore('Autoencoder', core), plan, names, 'Autoencoder.create');
    this.config = Object.freeze({ ...resolved });
  }

  static async create(config: AutoencoderConfig): Promise<Autoencoder> {
    const { resolved, plan, names, threads } = resolveAutoencoderConfig('Autoencoder.create', config);
    const model = new Autoencoder(await init(), resolved, plan, names);
    await model.setThreads(threads);
    return model;
  }

  static async load(bytes: BytesInput): Promise<Autoencoder> {
    const model = await loadModel('Autoencoder.load', bytes, 'autoencoder', (config) => Autoencoder.create(config as AutoencoderConfig));
    return model as Autoencoder;
  }

  protected get isVae(): boolean {
    return false;
  }

  protected metadataConfig(): Record<string, unknown> {
    return { ...this.config };
  }

  /** Codes, rows × latentDim (into `options.out`, a Float32Array of that size, if given). */
  encode(x: DataInput, options: { out?: Float32Array } = {}): Float32Array {
    checkObject('Autoencoder.encode', 'options', options);
    checkKeys('Autoencoder.encode', options, ['out']);
    const m = this.matrix('encode', 'x', x);
    const h = this.handle;
    const n = m.rows * this.config.latentDim;
    const into = this.outArray('Autoencoder.encode', 'options.out', options.out, n);
    return this.withMatrix(m, (p, alloc) => {
      const code = alloc(n * 4);
      this.core.check(this.core.x.vae_model_encode(h, p, m.dtype, m.rows, code, 0), 'Autoencoder.encode');
      return Autoencoder.result(this.core.f32(code, n), into);
    });
  }

  /** Reconstructions for codes: σ(logits) for BCE, the raw output for MSE (`{ logits: true }` for raw logits). */
  decode(z: DataInput, options: { logits?: boolean; out?: Float32Array } = {}): Float32Array {
    checkObject('Autoencoder.decode', 'options', options);
    checkKeys('Autoencoder.decode', options, ['logits', 'out']);
    const codes = toCodes('Autoencoder.decode', 'z', z, this.config.latentDim);
    return this.decodeImpl('Autoencoder.decode', codes, options.logits === true, undefined, options.out);
  }

  /** Mean reconstruction loss per row (nats for BCE; summed squared error for MSE). */
  loss(x: DataInput): number {
    const m = this.matrix('loss', 'x', x);
    return this.evaluateMatrix(m, 1, 0).reconstruction;
  }

  /** Loss (mean over rows) and its gradient for every parameter; parameters are not changed. */
  lossAndGradients(x: DataInput): LossAndGradients {
    const m = this.matrix('lossAndGradients', 'x', x);
    return this.lossAndGradientsImpl('Autoencoder.lossAndGradients', m, undefined, 1, 0);
  }
}
