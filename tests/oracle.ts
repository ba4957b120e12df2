// An independent double-precision reference of the models, written from the math (README "What it computes"), not
// from the core: forward pass, loss terms, and central finite differences of the loss over every parameter.

export type Act = 'relu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'softplus' | 'linear';
export type Recon = 'bernoulli' | 'gaussian' | 'gaussianLearned' | 'mse';

export interface RefConfig {
  kind: 'vae' | 'ae';
  inputDim: number;
  latentDim: number;
  encoder: number[];
  decoder: number[];
  activation: Act;
  leakySlope: number;
  recon: Recon;
  /** Fixed Gaussian variance. */
  variance: number;
}

export type RefWeights = Record<string, Float64Array>;

export interface RefResult {
  loss: number;
  reconstruction: number;
  kl: number;
  mean: Float64Array;
  logVar: Float64Array;
  /** Decoder output (logits or means), n·S × inputDim. */
  out: Float64Array;
  /** Smallest |pre-activation| seen in a relu/leakyRelu layer (finite differences need it away from 0). */
  minKink: number;
}

const softplus = (a: number) => (a > 0 ? a + Math.log1p(Math.exp(-a)) : Math.log1p(Math.exp(a)));

function act(kind: Act, slope: number, a: number): number {
  switch (kind) {
    case 'relu': return a > 0 ? a : 0;
    case 'leakyRelu': return a > 0 ? a : slope * a;
    case 'tanh': return Math.tanh(a);
    case 'sigmoid': return 1 / (1 + Math.exp(-a));
    case 'softplus': return softplus(a);
    case 'linear': return a;
  }
}

/** y = x·W + b for n rows. */
function dense(x: Float64Array, n: number, w: Float64Array, b: Float64Array, fin: number, fout: number): Float64Array {
  const y = new Float64Array(n * fout);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < fout; j++) {
      let s = b[j]!;
      for (let k = 0; k < fin; k++) s += x[i * fin + k]! * w[k * fout + j]!;
      y[i * fout + j] = s;
    }
  }
  return y;
}

export function forward(cfg: RefConfig, W: RefWeights, x: Float64Array, eps: Float64Array | undefined, samples: number, beta: number): RefResult {
  const D = cfg.inputDim;
  const L = cfg.latentDim;
  const n = x.length / D;
  let minKink = Infinity;
  const hidden = (inp: Float64Array, rows: number, prefix: string, widths: number[], fin: number) => {
    let h: Float64Array = inp;
    let width = fin;
    widths.forEach((w, l) => {
      const a = dense(h, rows, W[`${prefix}.${l}.weight`]!, W[`${prefix}.${l}.bias`]!, width, w);
      if (cfg.activation === 'relu' || cfg.activation === 'leakyRelu') for (const v of a) minKink = Math.min(minKink, Math.abs(v));
      h = a.map((v) => act(cfg.activation, cfg.leakySlope, v));
      width = w;
    });
    return { h, width };
  };
  const enc = hidden(x, n, 'encoder', cfg.encoder, D);
  const S = cfg.kind === 'vae' ? samples : 1;
  let mean: Float64Array;
  let logVar: Float64Array = new Float64Array(0);
  let z: Float64Array;
  if (cfg.kind === 'vae') {
    mean = dense(enc.h, n, W['encoder.mean.weight']!, W['encoder.mean.bias']!, enc.width, L);
    logVar = dense(enc.h, n, W['encoder.logVar.weight']!, W['encoder.logVar.bias']!, enc.width, L);
    z = new Float64Array(n * S * L);
    for (let i = 0; i < n; i++) {
      for (let s = 0; s < S; s++) {
        for (let k = 0; k < L; k++) {
          z[(i * S + s) * L + k] = mean[i * L + k]! + Math.exp(0.5 * logVar[i * L + k]!) * eps![(i * S + s) * L + k]!;
        }
      }
    }
  } else {
    mean = dense(enc.h, n, W['encoder.code.weight']!, W['encoder.code.bias']!, enc.width, L);
    z = mean;
  }
  const dec = hidden(z, n * S, 'decoder', cfg.decoder, L);
  const out = dense(dec.h, n * S, W['decoder.out.weight']!, W['decoder.out.bias']!, dec.width, D);
  let rec = 0;
  for (let r = 0; r < n * S; r++) {
    const i = Math.floor(r / S);
    for (let j = 0; j < D; j++) {
      const o = out[r * D + j]!;
      const xv = x[i * D + j]!;
      switch (cfg.recon) {
        case 'bernoulli': rec += softplus(o) - xv * o; break;
        case 'gaussian': rec += 0.5 * ((xv - o) ** 2 / cfg.variance + Math.log(2 * Math.PI * cfg.variance)); break;
        case 'gaussianLearned': {
          const lv = W['decoder.logVar']![j]!;
          rec += 0.5 * ((xv - o) ** 2 * Math.exp(-lv) + lv + Math.log(2 * Math.PI));
          break;
        }
        case 'mse': rec += (xv - o) ** 2; break;
      }
    }
  }
  rec /= n * S;
  let kl = 0;
  if (cfg.kind === 'vae') {
    for (let q = 0; q < n * L; q++) kl += -0.5 * (1 + logVar[q]! - mean[q]! ** 2 - Math.exp(logVar[q]!));
    kl /= n;
  }
  return { loss: rec + beta * kl, reconstruction: rec, kl, mean, logVar, out, minKink };
}

/** Central differences of the loss over every element of every tensor. */
export function finiteDifferences(cfg: RefConfig, W: RefWeights, x: Float64Array, eps: Float64Array | undefined,
  samples: number, beta: number, h = 1e-6): RefWeights {
  const grads: RefWeights = {};
  for (const [name, t] of Object.entries(W)) {
    const g = new Float64Array(t.length);
    for (let i = 0; i < t.length; i++) {
      const keep = t[i]!;
      t[i] = keep + h;
      const up = forward(cfg, W, x, eps, samples, beta).loss;
      t[i] = keep - h;
      const down = forward(cfg, W, x, eps, samples, beta).loss;
      t[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    grads[name] = g;
  }
  return grads;
}

/** Deterministic test numbers (a 32-bit LCG with Box–Muller), independent of the core's RNG. */
export class TestRandom {
  #s: number;
  constructor(seed: number) { this.#s = seed >>> 0 || 1; }
  uniform(): number {
    this.#s = (Math.imul(this.#s, 1664525) + 1013904223) >>> 0;
    return (this.#s + 0.5) / 2 ** 32;
  }
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
  uniforms(n: number): Float32Array { return Float32Array.from({ length: n }, () => this.uniform()); }
  normals(n: number): Float32Array { return Float32Array.from({ length: n }, () => this.normal()); }
}

/**
 * The importance-weighted bound per row, L_k = log (1/k) Σ_s p(x, z_s) / q(z_s|x), z_s = μ + σ ⊙ ε_s, in f64 from
 * `forward` (Burda et al. 2015): log p(x|z) is minus forward's reconstruction term of each draw, log p(z) and
 * log q(z|x) are the N(0, I) and N(μ, σ²) densities. `x` holds `rows` rows; `eps` holds rows·k × latentDim values,
 * row i·k + s being draw s of data row i (as for `forward`). VAE configs only.
 */
export function logLikelihoodK(cfg: RefConfig, W: RefWeights, x: Float64Array, rows: number, eps: Float64Array, k: number): Float64Array {
  const D = x.length / rows;
  const L = eps.length / (rows * k);
  const n = rows;
  const out = new Float64Array(n);
  const half = 0.5 * Math.log(2 * Math.PI);
  for (let i = 0; i < n; i++) {
    const xi = x.subarray(i * D, (i + 1) * D);
    const logW = new Float64Array(k);
    for (let s = 0; s < k; s++) {
      const e = eps.subarray((i * k + s) * L, (i * k + s + 1) * L);
      const r = forward(cfg, W, xi, e, 1, 0);
      let logPz = 0;
      let logQ = 0;
      for (let j = 0; j < L; j++) {
        const z = r.mean[j]! + Math.exp(0.5 * r.logVar[j]!) * e[j]!;
        logPz += -0.5 * z * z - half;
        logQ += -0.5 * e[j]! * e[j]! - 0.5 * r.logVar[j]! - half;
      }
      logW[s] = -r.reconstruction + logPz - logQ;
    }
    const max = Math.max(...logW);
    out[i] = max + Math.log(logW.reduce((a, w) => a + Math.exp(w - max), 0) / k);
  }
  return out;
}
