// The core's forward values and every parameter gradient against the independent f64 reference (tests/oracle.ts)
// and its central finite differences, with fixed ε, over architectures, activations, likelihoods and both models.
import { describe, expect, it } from 'vitest';
import { Autoencoder, VAE } from '../ts/index';
import type { ResolvedLayer } from '../ts/layers';
import type { AutoencoderConfig, Padding, VAEConfig } from '../ts/types';
import { type Act, finiteDifferences, forward, type Recon, type RefConfig, type RefLayer, type RefPadding, type RefWeights, TestRandom } from './oracle';

type Model = VAE | Autoencoder;

/** The reference's description of a model, from its config alone (the user's layer list with defaults). */
function refConfig(m: Model): RefConfig {
  const c = m.config;
  const isVae = m instanceof VAE;
  const v = isVae ? (m as VAE).config : undefined;
  const inputShape = c.inputShape ?? [c.inputDim];
  const model = c.activation as Act;
  const pad = (p: Padding): RefPadding => (typeof p === 'number' ? [p, p] : p);
  const ref = (l: ResolvedLayer): RefLayer => {
    if (typeof l === 'number') return { type: 'dense', units: l, act: model };
    switch (l.type) {
      case 'dense': return { type: 'dense', units: l.units, act: l.activation ?? model };
      case 'conv2d': return { type: 'conv2d', filters: l.filters, kernel: l.kernelSize, strides: l.strides, padding: pad(l.padding), act: l.activation ?? model };
      case 'conv2dTranspose': return { type: 'conv2dTranspose', filters: l.filters, kernel: l.kernelSize, strides: l.strides, padding: pad(l.padding), outputPadding: l.outputPadding, act: l.activation ?? model };
      case 'flatten': return { type: 'flatten' };
      case 'reshape': return { type: 'reshape', shape: l.targetShape };
    }
  };
  const units = inputShape.reduce((a, b) => a * b, 1);
  const filters = inputShape.length === 3 ? inputShape[2]! : 1;
  const o = c.output ?? { type: 'dense' as const };
  const output: RefLayer = o.type === 'dense'
    ? { type: 'dense', units, act: 'linear' }
    : { ...(ref({ ...o, filters, activation: 'linear' } as ResolvedLayer) as RefLayer) };
  return {
    kind: isVae ? 'vae' : 'ae',
    inputShape,
    latentDim: c.latentDim,
    encoder: c.encoder.map(ref),
    decoder: c.decoder.map(ref),
    output,
    leakySlope: c.leakySlope,
    recon: v ? (v.likelihood === 'bernoulli' ? 'bernoulli' : v.variance === 'learned' ? 'gaussianLearned' : 'gaussian')
      : (m as Autoencoder).config.loss === 'bce' ? 'bernoulli' : 'mse',
    variance: v && typeof v.variance === 'number' ? v.variance : 1,
    groups: refGroups(m),
  };
}

/** The likelihood (or loss) groups of a model, from its config. */
function refGroups(m: Model): RefConfig['groups'] {
  const c = m.config as { likelihood?: unknown; loss?: unknown; variance?: unknown };
  const list = (m instanceof VAE ? c.likelihood : c.loss) as { type: string; width: number; variance?: string }[] | string;
  if (!Array.isArray(list)) return undefined;
  const term = (g: { type: string; variance?: string }): Recon =>
    g.type === 'bce' ? 'bernoulli' : g.type === 'mse' ? 'mse' : g.type === 'gaussian' ? (g.variance === 'learned' || c.variance === 'learned' ? 'gaussianLearned' : 'gaussian') : g.type as Recon;
  return list.map((g) => ({ recon: term(g), width: g.width }));
}

/** Decoder outputs through each group's link: σ for Bernoulli, softmax over a categorical group, else identity. */
function linked(cfg: RefConfig, out: Float64Array): Float64Array {
  const D = cfg.inputShape.reduce((a, b) => a * b, 1);
  const groups = cfg.groups ?? [{ recon: cfg.recon, width: D }];
  const y = Float64Array.from(out);
  for (let r = 0; r < out.length / D; r++) {
    let start = r * D;
    for (const g of groups) {
      if (g.recon === 'bernoulli') for (let j = 0; j < g.width; j++) y[start + j] = 1 / (1 + Math.exp(-out[start + j]!));
      if (g.recon === 'categorical') {
        let sum = 0;
        for (let j = 0; j < g.width; j++) sum += Math.exp(out[start + j]!);
        for (let j = 0; j < g.width; j++) y[start + j] = Math.exp(out[start + j]!) / sum;
      }
      start += g.width;
    }
  }
  return y;
}

/** Rows the model accepts: uniform in [0, 1], with each categorical group one-hot (a random level). */
function dataFor(m: Model, rows: number, rnd: TestRandom): Float32Array {
  const dim = m.config.inputDim;
  const x = rnd.uniforms(rows * dim);
  let start = 0;
  for (const g of refGroups(m) ?? []) {
    if (g.recon === 'categorical') {
      for (let r = 0; r < rows; r++) {
        const level = Math.floor(rnd.uniform() * g.width);
        for (let j = 0; j < g.width; j++) x[r * dim + start + j] = j === level ? 1 : 0;
      }
    }
    start += g.width;
  }
  return x;
}

function refWeights(m: Model): RefWeights {
  const out: RefWeights = {};
  for (const [k, t] of Object.entries(m.getWeights())) out[k] = Float64Array.from(t.data);
  return out;
}

/** Gives decoder.logVar (learned variance) values away from 0 so its gradient is exercised. */
function perturbLogVar(m: Model, rnd: TestRandom): void {
  const w = m.getWeights();
  const lv = w['decoder.logVar'];
  if (!lv) return;
  lv.data.set(rnd.normals(lv.data.length).map((v) => 0.5 * v));
  m.setWeights(w);
}

interface Case {
  name: string;
  vae?: VAEConfig;
  ae?: AutoencoderConfig;
  samples?: number;
  beta?: number;
}

const base = { inputDim: 7, latentDim: 3, init: { normal: 0.6 } as const };
const cases: Case[] = [];
for (const activation of ['relu', 'leakyRelu', 'tanh', 'sigmoid', 'softplus', 'linear'] as const) {
  cases.push({ name: `VAE bernoulli ${activation} [5,4]`, vae: { ...base, encoder: [5, 4], activation, leakySlope: 0.1, seed: 11 } });
}
cases.push(
  { name: 'VAE bernoulli, no hidden layers', vae: { ...base, encoder: [], seed: 3 } },
  { name: 'VAE bernoulli, decoder differs from mirror, S=3, β=0.5', vae: { ...base, encoder: [6], decoder: [4, 5], activation: 'tanh', seed: 4 }, samples: 3, beta: 0.5 },
  { name: 'VAE gaussian fixed variance 0.3', vae: { ...base, encoder: [5], likelihood: 'gaussian', variance: 0.3, activation: 'softplus', seed: 5 } },
  { name: 'VAE gaussian learned variance, S=2', vae: { ...base, encoder: [5], likelihood: 'gaussian', variance: 'learned', activation: 'tanh', seed: 6 }, samples: 2 },
  { name: 'VAE input width not a multiple of 4 or 8 (13), latent 5', vae: { ...base, inputDim: 13, latentDim: 5, encoder: [9], activation: 'tanh', seed: 7 } },
  { name: 'AE bce relu', ae: { ...base, encoder: [5], activation: 'relu', loss: 'bce', seed: 8 } },
  { name: 'AE mse tanh, two layers each side', ae: { ...base, encoder: [6, 4], decoder: [5, 3], activation: 'tanh', loss: 'mse', seed: 9 } },
  { name: 'AE mse linear, no hidden layers', ae: { ...base, encoder: [], activation: 'linear', loss: 'mse', seed: 10 } },
);

// Tables: likelihood (or loss) groups per column kind — learned and fixed Gaussian, Bernoulli and categorical columns
// in one row, groups at offsets that are not multiples of 4.
cases.push(
  { name: 'VAE groups: gaussian learned 3, bernoulli 2, categorical 4', vae: { ...base, inputDim: 9, encoder: [6], activation: 'tanh', seed: 31,
    likelihood: [{ type: 'gaussian', width: 3, variance: 'learned' }, { type: 'bernoulli', width: 2 }, { type: 'categorical', width: 4 }] } },
  { name: 'VAE groups: categorical 3, gaussian fixed 2 (variance 0.5), categorical 2, S=2', vae: { ...base, inputDim: 7, encoder: [5], activation: 'softplus', seed: 32, variance: 0.5,
    likelihood: [{ type: 'categorical', width: 3 }, { type: 'gaussian', width: 2 }, { type: 'categorical', width: 2 }] }, samples: 2 },
  { name: 'AE loss groups: mse 2, categorical 3, bce 2', ae: { ...base, inputDim: 7, encoder: [5], activation: 'tanh', seed: 33,
    loss: [{ type: 'mse', width: 2 }, { type: 'categorical', width: 3 }, { type: 'bce', width: 2 }] } },
);

// Convolutional models: odd sizes, 'same', 'valid' and numeric padding, strides 1 and 2 (and [1, 2]), outputPadding,
// several channels, per-layer activations, encoders ending in a convolution, both models and likelihoods.
const conv = { init: { normal: 0.5 } as const, latentDim: 3 };
cases.push(
  {
    name: 'conv VAE [7,5,2]: conv2d same/s2 and valid [2,3]; convT valid s2; conv2d same output',
    vae: {
      ...conv, inputShape: [7, 5, 2], activation: 'tanh', seed: 21,
      encoder: [{ type: 'conv2d', filters: 3, kernelSize: 3, strides: 2, padding: 'same' }, { type: 'conv2d', filters: 2, kernelSize: [2, 3], activation: 'softplus' }, { type: 'flatten' }, 4],
      decoder: [12, { type: 'reshape', targetShape: [3, 2, 2] }, { type: 'conv2dTranspose', filters: 3, kernelSize: 3, strides: 2, padding: 'valid' }],
      output: { type: 'conv2d', kernelSize: 3, padding: 'same' },
    },
  },
  {
    name: 'conv AE mse [6,6,1]: numeric padding, convT outputPadding 1, 1×1 convT output, leakyRelu',
    ae: {
      ...conv, inputShape: [6, 6, 1], activation: 'leakyRelu', leakySlope: 0.2, loss: 'mse', seed: 26,
      encoder: [{ type: 'conv2d', filters: 2, kernelSize: 3, strides: 2, padding: 1 }, { type: 'flatten' }],
      decoder: [{ type: 'dense', units: 18, activation: 'tanh' }, { type: 'reshape', targetShape: [3, 3, 2] }, { type: 'conv2dTranspose', filters: 2, kernelSize: 3, strides: 2, padding: 1, outputPadding: 1 }],
      output: { type: 'conv2dTranspose', kernelSize: 1 },
    },
  },
  {
    name: 'conv VAE gaussian learned [5,8,3]: strides [1,2], sigmoid, encoder ending in a linear conv, S=2',
    vae: {
      ...conv, inputShape: [5, 8, 3], activation: 'softplus', likelihood: 'gaussian', variance: 'learned', seed: 23,
      encoder: [{ type: 'conv2d', filters: 2, kernelSize: [3, 2], strides: [1, 2], activation: 'sigmoid' }, { type: 'conv2d', filters: 3, kernelSize: 2, strides: 2, padding: 'same', activation: 'linear' }],
      decoder: [10],
    },
    samples: 2,
  },
  {
    name: 'conv VAE [8,8,1] (keras.io shape in small): convT same s2 twice, convT same s1 output, relu, S=2, β=0.7',
    vae: {
      ...conv, inputShape: [8, 8, 1], latentDim: 2, activation: 'relu', seed: 24,
      encoder: [{ type: 'conv2d', filters: 2, kernelSize: 3, strides: 2, padding: 'same' }, { type: 'flatten' }, { type: 'dense', units: 5, activation: 'tanh' }],
      decoder: [{ type: 'dense', units: 12, activation: 'tanh' }, { type: 'reshape', targetShape: [2, 2, 3] }, { type: 'conv2dTranspose', filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }, { type: 'conv2dTranspose', filters: 2, kernelSize: 3, strides: 2, padding: 'same' }],
      output: { type: 'conv2dTranspose', kernelSize: 3, padding: 'same' },
    },
    samples: 2, beta: 0.7,
  },
  {
    name: 'conv VAE [9,7,2] flat-output decoder: conv2d output with padding [1, 0] and kernel [3, 1]',
    vae: {
      ...conv, inputShape: [9, 7, 2], activation: 'tanh', seed: 25,
      encoder: [{ type: 'conv2d', filters: 2, kernelSize: [4, 3], strides: [2, 1], padding: [1, 2] }, { type: 'flatten' }],
      decoder: [{ type: 'dense', units: 63 }, { type: 'reshape', targetShape: [9, 7, 1] }],
      output: { type: 'conv2d', kernelSize: [3, 1], padding: [1, 0] },
    },
  },
);

describe.each(cases)('$name', ({ vae, ae, samples = 1, beta = 1 }) => {
  const rows = 4;

  async function setup() {
    const model: Model = vae ? await VAE.create(vae) : await Autoencoder.create(ae!);
    const rnd = new TestRandom(1234);
    perturbLogVar(model, rnd);
    const x = dataFor(model, rows, rnd);
    const eps = vae ? rnd.normals(rows * samples * model.config.latentDim) : undefined;
    const cfg = refConfig(model);
    const W = refWeights(model);
    const ref = forward(cfg, W, Float64Array.from(x), eps && Float64Array.from(eps), samples, beta);
    const core = model instanceof VAE ? model.lossAndGradients(x, { epsilon: eps!, samples, klWeight: beta }) : model.lossAndGradients(x);
    return { model, x, eps, cfg, W, ref, core };
  }

  it('loss terms, encoder and decoder outputs match the reference', async () => {
    const { model, x, ref, core } = await setup();
    expect(core.loss).toBeCloseTo(ref.loss, 4);
    expect(Math.abs(core.loss - ref.loss)).toBeLessThan(2e-6 * Math.abs(ref.loss) + 1e-6);
    expect(Math.abs(core.reconstruction - ref.reconstruction)).toBeLessThan(2e-6 * Math.abs(ref.reconstruction) + 1e-6);
    expect(Math.abs(core.kl - ref.kl)).toBeLessThan(2e-6 * Math.abs(ref.kl) + 1e-6);
    const close = (a: Float32Array, b: Float64Array, what: string) => {
      expect(a.length, what).toBe(b.length);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `${what}[${i}]`).toBeLessThan(1e-5 * Math.max(1, Math.abs(b[i]!)));
    };
    if (model instanceof VAE) {
      const { mean, logVar } = model.encode(x);
      close(mean, ref.mean, 'mean');
      close(logVar, ref.logVar, 'logVar');
      // reconstruct = decode(mean): compare with the reference decoder on z = mean (ε = 0).
      const noNoise = forward({ ...refConfig(model) }, refWeights(model), Float64Array.from(x), new Float64Array(rows * model.config.latentDim), 1, 1);
      close(model.reconstruct(x), linked(refConfig(model), noNoise.out), 'reconstruct');
      close(model.decode(model.encode(x).mean, { logits: true }), noNoise.out, 'decode logits');
    } else {
      close(model.encode(x), ref.mean, 'code');
      close(model.reconstruct(x), linked(refConfig(model), ref.out), 'reconstruct');
    }
    model.dispose();
  });

  it('every parameter gradient matches central finite differences of the reference', async () => {
    const { model, eps, cfg, W, ref, core, x } = await setup();
    // Kinks of relu/leakyRelu must be farther than the FD step from every pre-activation.
    expect(ref.minKink).toBeGreaterThan(1e-4);
    const fd = finiteDifferences(cfg, W, Float64Array.from(x), eps && Float64Array.from(eps), samples, beta);
    let scale = 0;
    for (const g of Object.values(fd)) for (const v of g) scale = Math.max(scale, Math.abs(v));
    expect(scale).toBeGreaterThan(1e-3);
    let errSq = 0;
    let normSq = 0;
    expect(Object.keys(core.gradients).sort()).toEqual(Object.keys(fd).sort());
    for (const [name, g] of Object.entries(core.gradients)) {
      const want = fd[name]!;
      expect(g.length, name).toBe(want.length);
      for (let i = 0; i < g.length; i++) {
        // f32 arithmetic in the core: each gradient carries ~1e-6 relative error of the terms summed into it, so
        // allow 1e-4 relative plus 1e-5 of the largest gradient (FD error in f64 is ~1e-9).
        const tol = 1e-4 * Math.abs(want[i]!) + 1e-5 * scale;
        expect(Math.abs(g[i]! - want[i]!), `${name}[${i}]: core ${g[i]} vs fd ${want[i]}`).toBeLessThanOrEqual(tol);
        errSq += (g[i]! - want[i]!) ** 2;
        normSq += want[i]! ** 2;
      }
    }
    expect(Math.sqrt(errSq / normSq)).toBeLessThan(1e-5);
    model.dispose();
  });
});
