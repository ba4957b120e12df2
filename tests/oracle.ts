// An independent double-precision reference of the models, written from the math (README "What it computes" and
// the layer definitions in ts/types.ts), not from the core: every layer by its definition (convolutions as
// direct sums, transposed convolutions as scatters), shapes by the padding rules, the loss terms, and central
// finite differences of the loss over every parameter. Tensor names follow the documented rule: position in the
// encoder/decoder list, `encoder.mean`/`encoder.logVar` (or `encoder.code`), `decoder.out`, `decoder.logVar`.

export type Act = 'relu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'softplus' | 'linear';
export type Recon = 'bernoulli' | 'gaussian' | 'gaussianLearned' | 'mse' | 'categorical';
export type RefPadding = 'same' | 'valid' | [number, number];

export type RefLayer =
  | { type: 'dense'; units: number; act: Act }
  | { type: 'conv2d'; filters: number; kernel: [number, number]; strides: [number, number]; padding: RefPadding; act: Act }
  | { type: 'conv2dTranspose'; filters: number; kernel: [number, number]; strides: [number, number]; padding: RefPadding; outputPadding?: [number, number]; act: Act }
  | { type: 'flatten' }
  | { type: 'reshape'; shape: number[] };

export interface RefConfig {
  kind: 'vae' | 'ae';
  /** [n] or [h, w, c]. */
  inputShape: number[];
  latentDim: number;
  encoder: RefLayer[];
  decoder: RefLayer[];
  /** The output layer (linear); its units/filters are the input's. */
  output: RefLayer;
  leakySlope: number;
  recon: Recon;
  /** Fixed Gaussian variance. */
  variance: number;
  /** Column groups with their own terms (covering the row in order); default one group of `recon`. */
  groups?: { recon: Recon; width: number }[];
  /** A conditional VAE's condition values per row: they join the first dense layer on each side (or the heads). */
  condition?: number;
}

export type RefWeights = Record<string, Float64Array>;

export interface RefResult {
  loss: number;
  reconstruction: number;
  kl: number;
  mean: Float64Array;
  logVar: Float64Array;
  /** Decoder output (logits or means), n·S × input size. */
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

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Output side and padding before, for a conv2d over n with kernel k, stride s (TensorFlow's 'same'). */
function convSide(n: number, k: number, s: number, p: RefPadding, axis: 0 | 1): { out: number; before: number } {
  if (p === 'valid') return { out: Math.floor((n - k) / s) + 1, before: 0 };
  if (p === 'same') {
    const out = Math.ceil(n / s);
    return { out, before: Math.floor(Math.max((out - 1) * s + k - n, 0) / 2) };
  }
  return { out: Math.floor((n + 2 * p[axis] - k) / s) + 1, before: p[axis] };
}

/** The same for a transposed conv2d from n (PyTorch with numbers, Keras's formulas for 'same' and 'valid'). */
function convTSide(n: number, k: number, s: number, p: RefPadding, op: number | undefined, axis: 0 | 1): { out: number; before: number } {
  if (Array.isArray(p)) return { out: (n - 1) * s + k - 2 * p[axis] + (op ?? 0), before: p[axis] };
  if (p === 'valid') return { out: op === undefined ? n * s + Math.max(k - s, 0) : (n - 1) * s + k + op, before: 0 };
  const out = op === undefined ? n * s : (n - 1) * s + k - 2 * Math.floor(k / 2) + op;
  return { out, before: Math.floor(Math.max((n - 1) * s + k - out, 0) / 2) };
}

interface Ctx {
  W: RefWeights;
  slope: number;
  minKink: number;
}

/** One layer on `rows` rows of shape `shape`; returns its output and shape. */
function layer(ctx: Ctx, l: RefLayer, name: string, x: Float64Array, rows: number, shape: number[]): { y: Float64Array; shape: number[] } {
  if (l.type === 'flatten') return { y: x, shape: [size(shape)] };
  if (l.type === 'reshape') {
    if (size(l.shape) !== size(shape)) throw new Error(`oracle: ${name} reshape size`);
    return { y: x, shape: l.shape };
  }
  const w = ctx.W[`${name}.weight`]!;
  const b = ctx.W[`${name}.bias`]!;
  let y: Float64Array;
  let out: number[];
  if (l.type === 'dense') {
    const fin = size(shape);
    out = [l.units];
    y = new Float64Array(rows * l.units);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < l.units; j++) {
        let s = b[j]!;
        for (let k = 0; k < fin; k++) s += x[i * fin + k]! * w[k * l.units + j]!;
        y[i * l.units + j] = s;
      }
    }
  } else {
    const [H, Wd, C] = shape as [number, number, number];
    const [kh, kw] = l.kernel;
    const [sh, sw] = l.strides;
    const F = l.filters;
    if (l.type === 'conv2d') {
      // y[oy, ox, f] = b[f] + Σ_{ky, kx, c} x[oy·sh + ky − pt, ox·sw + kx − pl, c] · W[ky, kx, c, f]
      const r = convSide(H, kh, sh, l.padding, 0);
      const q = convSide(Wd, kw, sw, l.padding, 1);
      out = [r.out, q.out, F];
      y = new Float64Array(rows * size(out));
      for (let n = 0; n < rows; n++) {
        for (let oy = 0; oy < r.out; oy++) {
          for (let ox = 0; ox < q.out; ox++) {
            for (let f = 0; f < F; f++) {
              let s = b[f]!;
              for (let ky = 0; ky < kh; ky++) {
                const iy = oy * sh + ky - r.before;
                if (iy < 0 || iy >= H) continue;
                for (let kx = 0; kx < kw; kx++) {
                  const ix = ox * sw + kx - q.before;
                  if (ix < 0 || ix >= Wd) continue;
                  for (let c = 0; c < C; c++) s += x[((n * H + iy) * Wd + ix) * C + c]! * w[((ky * kw + kx) * C + c) * F + f]!;
                }
              }
              y[((n * r.out + oy) * q.out + ox) * F + f] = s;
            }
          }
        }
      }
    } else {
      // Each input pixel adds x[iy, ix, c] · W[ky, kx, f, c] to output (iy·sh + ky − pt, ix·sw + kx − pl).
      const r = convTSide(H, kh, sh, l.padding, l.outputPadding?.[0], 0);
      const q = convTSide(Wd, kw, sw, l.padding, l.outputPadding?.[1], 1);
      out = [r.out, q.out, F];
      y = new Float64Array(rows * size(out));
      for (let n = 0; n < rows; n++) {
        for (let p = 0; p < r.out * q.out; p++) for (let f = 0; f < F; f++) y[(n * r.out * q.out + p) * F + f] = b[f]!;
        for (let iy = 0; iy < H; iy++) {
          for (let ix = 0; ix < Wd; ix++) {
            for (let ky = 0; ky < kh; ky++) {
              const oy = iy * sh + ky - r.before;
              if (oy < 0 || oy >= r.out) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ox = ix * sw + kx - q.before;
                if (ox < 0 || ox >= q.out) continue;
                for (let f = 0; f < F; f++) {
                  let s = 0;
                  for (let c = 0; c < C; c++) s += x[((n * H + iy) * Wd + ix) * C + c]! * w[((ky * kw + kx) * F + f) * C + c]!;
                  const o = ((n * r.out + oy) * q.out + ox) * F + f;
                  y[o] = y[o]! + s;
                }
              }
            }
          }
        }
      }
    }
  }
  if (l.act === 'relu' || l.act === 'leakyRelu') for (const v of y) ctx.minKink = Math.min(ctx.minKink, Math.abs(v));
  return { y: y.map((v) => act(l.act, ctx.slope, v)), shape: out };
}

/** [x | c] row by row. */
function concat(x: Float64Array, rows: number, c: Float64Array): Float64Array {
  const [a, b] = [x.length / rows, c.length / rows];
  const out = new Float64Array(rows * (a + b));
  for (let r = 0; r < rows; r++) {
    out.set(x.subarray(r * a, (r + 1) * a), r * (a + b));
    out.set(c.subarray(r * b, (r + 1) * b), r * (a + b) + a);
  }
  return out;
}

/** The layers in order; the condition rows `c`, if given, join the first dense layer's input. */
function stack(ctx: Ctx, layers: RefLayer[], prefix: string, x: Float64Array, rows: number, shape: number[], c?: Float64Array) {
  let h = x;
  let s = shape;
  let joined = c === undefined;
  layers.forEach((l, i) => {
    if (!joined && l.type === 'dense') {
      h = concat(h, rows, c!);
      s = [size(s) + c!.length / rows];
      joined = true;
    }
    ({ y: h, shape: s } = layer(ctx, l, `${prefix}.${i}`, h, rows, s));
  });
  return { h, shape: s, joined };
}

export function forward(cfg: RefConfig, W: RefWeights, x: Float64Array, eps: Float64Array | undefined, samples: number, beta: number, cond?: Float64Array): RefResult {
  const D = size(cfg.inputShape);
  const L = cfg.latentDim;
  const n = x.length / D;
  const ctx: Ctx = { W, slope: cfg.leakySlope, minKink: Infinity };
  const enc = stack(ctx, cfg.encoder, 'encoder', x, n, cfg.inputShape, cond);
  const S = cfg.kind === 'vae' ? samples : 1;
  // Without a dense layer in the encoder, the condition joins the latent's heads.
  const headIn = enc.joined ? enc.h : concat(enc.h, n, cond!);
  const headShape = enc.joined ? enc.shape : [size(enc.shape) + cond!.length / n];
  const head = (name: string) => layer(ctx, { type: 'dense', units: L, act: 'linear' }, name, headIn, n, headShape).y;
  let mean: Float64Array;
  let logVar: Float64Array = new Float64Array(0);
  let z: Float64Array;
  if (cfg.kind === 'vae') {
    mean = head('encoder.mean');
    logVar = head('encoder.logVar');
    z = new Float64Array(n * S * L);
    for (let i = 0; i < n; i++) {
      for (let s = 0; s < S; s++) {
        for (let k = 0; k < L; k++) {
          z[(i * S + s) * L + k] = mean[i * L + k]! + Math.exp(0.5 * logVar[i * L + k]!) * eps![(i * S + s) * L + k]!;
        }
      }
    }
  } else {
    mean = head('encoder.code');
    z = mean;
  }
  // The decoder's condition: each row's, repeated for its S draws.
  let condDec: Float64Array | undefined;
  if (cond) {
    const C = cond.length / n;
    condDec = new Float64Array(n * S * C);
    for (let r = 0; r < n * S; r++) condDec.set(cond.subarray(Math.floor(r / S) * C, Math.floor(r / S) * C + C), r * C);
  }
  const dec = stack(ctx, cfg.decoder, 'decoder', z, n * S, [L], condDec);
  const outIn = dec.joined ? dec.h : concat(dec.h, n * S, condDec!);
  const out = layer(ctx, cfg.output, 'decoder.out', outIn, n * S, dec.joined ? dec.shape : [size(dec.shape) + cond!.length / n]).y;
  let rec = 0;
  const groups = cfg.groups ?? [{ recon: cfg.recon, width: D }];
  for (let r = 0; r < n * S; r++) {
    const i = Math.floor(r / S);
    let start = 0;
    let learned = 0; // learned groups' log-variances lie one after another in decoder.logVar
    for (const g of groups) {
      const o = (j: number) => out[r * D + start + j]!;
      const xv = (j: number) => x[i * D + start + j]!;
      if (g.recon === 'categorical') {
        // −log softmax(o)[true level] for one-hot x: log Σ e^o − Σ x·o
        let lse = 0;
        for (let j = 0; j < g.width; j++) lse += Math.exp(o(j));
        lse = Math.log(lse);
        for (let j = 0; j < g.width; j++) rec += xv(j) * (lse - o(j));
      }
      for (let j = 0; j < g.width && g.recon !== 'categorical'; j++) {
        switch (g.recon) {
          case 'bernoulli': rec += softplus(o(j)) - xv(j) * o(j); break;
          case 'gaussian': rec += 0.5 * ((xv(j) - o(j)) ** 2 / cfg.variance + Math.log(2 * Math.PI * cfg.variance)); break;
          case 'gaussianLearned': {
            const lv = W['decoder.logVar']![learned + j]!;
            rec += 0.5 * ((xv(j) - o(j)) ** 2 * Math.exp(-lv) + lv + Math.log(2 * Math.PI));
            break;
          }
          case 'mse': rec += (xv(j) - o(j)) ** 2; break;
        }
      }
      if (g.recon === 'gaussianLearned') learned += g.width;
      start += g.width;
    }
  }
  rec /= n * S;
  let kl = 0;
  if (cfg.kind === 'vae') {
    for (let q = 0; q < n * L; q++) kl += -0.5 * (1 + logVar[q]! - mean[q]! ** 2 - Math.exp(logVar[q]!));
    kl /= n;
  }
  return { loss: rec + beta * kl, reconstruction: rec, kl, mean, logVar, out, minKink: ctx.minKink };
}

/** Central differences of the ELBO objective over every element of every tensor. */
export function finiteDifferences(cfg: RefConfig, W: RefWeights, x: Float64Array, eps: Float64Array | undefined,
  samples: number, beta: number, h = 1e-6): RefWeights {
  return finiteDifferencesOf(W, () => forward(cfg, W, x, eps, samples, beta).loss, h);
}

/** Central differences of any loss of the weights (`loss` reads W, which is perturbed in place and restored). */
export function finiteDifferencesOf(W: RefWeights, loss: () => number, h = 1e-6): RefWeights {
  const grads: RefWeights = {};
  for (const [name, t] of Object.entries(W)) {
    const g = new Float64Array(t.length);
    for (let i = 0; i < t.length; i++) {
      const keep = t[i]!;
      t[i] = keep + h;
      const up = loss();
      t[i] = keep - h;
      const down = loss();
      t[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    grads[name] = g;
  }
  return grads;
}

/** The importance-weighted objective −mean_i L_k(i) (Burda et al.) for draws laid out as the core's. */
export function iwaeLoss(cfg: RefConfig, W: RefWeights, x: Float64Array, rows: number, eps: Float64Array, k: number): number {
  const lk = logLikelihoodK(cfg, W, x, rows, eps, k);
  return -lk.reduce((a, b) => a + b, 0) / rows;
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
