// The public API's behaviour: defaults, errors that leave the model untouched, persistence, disposal, fit's
// callbacks and abort, data types, and the core's memory staying flat.
import { beforeAll, describe, expect, it } from 'vitest';
import { Autoencoder, VAE, init } from '../ts/index';
import type { Core } from '../ts/core/wasm';
import { weightBytes } from './helpers';

let core: Core;
beforeAll(async () => { core = await init(); });

/** n rows of `dim` values in [0, 1] from a small LCG. */
function unitData(n: number, dim: number, seed = 1): Float32Array {
  const out = new Float32Array(n * dim);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

const small: { inputDim: number; latentDim: number; encoder: number[]; seed: number } = { inputDim: 12, latentDim: 3, encoder: [8], seed: 5 };

describe('VAE.create', () => {
  it('fills defaults and names tensors in × out', async () => {
    const vae = await VAE.create({ inputDim: 784, latentDim: 20, seed: 1 });
    expect(vae.config).toMatchObject({ encoder: [400], decoder: [400], activation: 'relu', likelihood: 'bernoulli', init: 'lecun-uniform' });
    const w = vae.getWeights();
    expect(Object.keys(w)).toEqual(['encoder.0.weight', 'encoder.0.bias', 'encoder.mean.weight', 'encoder.mean.bias',
      'encoder.logVar.weight', 'encoder.logVar.bias', 'decoder.0.weight', 'decoder.0.bias', 'decoder.out.weight', 'decoder.out.bias']);
    expect(w['encoder.0.weight']!.shape).toEqual([784, 400]);
    expect(w['decoder.out.bias']!.shape).toEqual([784]);
    expect(vae.parameterCount).toBe(784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784);
    // PyTorch's default init: U(−1/√fan_in, 1/√fan_in) for weights and biases.
    const enc = w['encoder.0.weight']!.data;
    const bound = 1 / Math.sqrt(784);
    expect(Math.max(...enc.subarray(0, 5000).map(Math.abs))).toBeLessThanOrEqual(bound);
    const mean = enc.reduce((s, v) => s + v, 0) / enc.length;
    const variance = enc.reduce((s, v) => s + v * v, 0) / enc.length;
    expect(Math.abs(mean)).toBeLessThan(1e-4);
    expect(variance).toBeCloseTo(bound * bound / 3, 6);
    vae.dispose();
  });

  it('normal init has the requested standard deviation; glorot zeroes biases', async () => {
    const a = await VAE.create({ ...small, inputDim: 200, encoder: [300], init: { normal: 0.01 } });
    const wa = a.getWeights()['encoder.0.weight']!.data;
    const sd = Math.sqrt(wa.reduce((s, v) => s + v * v, 0) / wa.length);
    expect(sd).toBeGreaterThan(0.0098);
    expect(sd).toBeLessThan(0.0102);
    const b = await VAE.create({ ...small, init: 'glorot-uniform' });
    expect(b.getWeights()['encoder.0.bias']!.data.every((v) => v === 0)).toBe(true);
    a.dispose(); b.dispose();
  });

  it('rejects bad configs with messages naming the argument', async () => {
    await expect(VAE.create({ inputDim: 0, latentDim: 2 })).rejects.toThrow(/inputDim must be an integer in \[1, .*got 0/);
    await expect(VAE.create({ inputDim: 4, latentDim: 2.5 })).rejects.toThrow(/latentDim .* got 2.5/);
    await expect(VAE.create({ inputDim: 4, latentDim: 2, activation: 'gelu' as never })).rejects.toThrow(/activation must be one of .*"relu".*got "gelu"/);
    await expect(VAE.create({ inputDim: 4, latentDim: 2, lr: 1 } as never)).rejects.toThrow(/unknown option "lr"/);
    await expect(VAE.create({ inputDim: 4, latentDim: 2, variance: 2 })).rejects.toThrow(/variance must be left out unless likelihood is "gaussian"/);
    await expect(VAE.create({ inputDim: 4, latentDim: 2, encoder: [3, -1] })).rejects.toThrow(/encoder\[1\]/);
    await expect(VAE.create({ inputDim: 4, latentDim: 2, seed: -1 })).rejects.toThrow(/seed must be an integer in \[0, 2\^32\)/);
  });
});

describe('rejected calls change nothing', () => {
  it('bad data and options leave the weights byte-identical', async () => {
    const vae = await VAE.create(small);
    const before = weightBytes(vae);
    const x = unitData(10, 12);
    const bad: [string, () => unknown][] = [
      ['wrong length', () => vae.fit(new Float32Array(13))],
      ['empty', () => vae.fit(new Float32Array(0))],
      ['NaN', () => { const y = x.slice(); y[5] = NaN; return vae.fit(y); }],
      ['out of [0,1]', () => { const y = x.slice(); y[7] = 1.5; return vae.fit(y); }],
      ['batch too large', () => vae.fit(x, { batchSize: 11 })],
      ['unknown option', () => vae.fit(x, { epoch: 2 } as never)],
      ['bad optimizer', () => vae.fit(x, { optimizer: { name: 'rmsprop' } as never })],
      ['bad lr', () => vae.fit(x, { optimizer: { name: 'adam', learningRate: -1 } })],
      ['adam momentum', () => vae.fit(x, { optimizer: { name: 'adam', momentum: 0.9 } as never })],
      ['bad validation', () => vae.fit(x, { validationData: new Float32Array(5) })],
      ['row of wrong width', () => vae.fit([[0.1, 0.2]])],
    ];
    for (const [name, call] of bad) {
      await expect((async () => call())(), name).rejects.toThrow(/VAE\.fit: /);
      expect(weightBytes(vae).equals(before), name).toBe(true);
    }
    expect(() => vae.setWeights({ 'encoder.0.weight': { shape: [12, 8], data: new Float32Array(96) } })).toThrow(/missing tensor/);
    const w = vae.getWeights();
    w['decoder.out.bias']!.data[0] = Infinity;
    expect(() => vae.setWeights(w)).toThrow(/non-finite/);
    expect(weightBytes(vae).equals(before)).toBe(true);
    vae.dispose();
  });

  it('a diverging step is refused: clear error, weights from the last finite step', async () => {
    const vae = await VAE.create({ ...small, likelihood: 'gaussian' });
    const x = unitData(64, 12);
    const w = vae.getWeights();
    // A huge output bias makes the squared error overflow to Infinity at once.
    w['decoder.out.bias']!.data.fill(1e30);
    vae.setWeights(w);
    const before = weightBytes(vae);
    await expect(vae.fit(x, { batchSize: 16 })).rejects.toThrow(/NaN or infinite at epoch 1, batch 1; that update was not applied/);
    expect(weightBytes(vae).equals(before)).toBe(true);
    vae.dispose();
  });
});

describe('fit', () => {
  it('reports history, calls callbacks, ramps β, stops on abort', async () => {
    const vae = await VAE.create(small);
    const x = unitData(100, 12);
    const betas: number[] = [];
    const epochs: number[] = [];
    const history = await vae.fit(x, {
      epochs: 2, batchSize: 25, klWarmupEpochs: 1, validationData: x.subarray(0, 24),
      onBatchEnd: (b) => { betas.push(b.klWeight); }, onEpochEnd: (e) => { epochs.push(e.epoch); },
    });
    expect(history).toHaveLength(2);
    expect(epochs).toEqual([1, 2]);
    expect(betas.map((b) => Math.round(b * 100) / 100)).toEqual([0.25, 0.5, 0.75, 1, 1, 1, 1, 1]);
    for (const h of history) {
      // The contract between the three fields; their values are checked against the model in 'what fit reports'.
      expect(h.loss).toBeCloseTo(h.reconstruction + h.kl, 6);
      expect(h.valLoss).toBeGreaterThan(0);
      expect(h.samplesPerSecond).toBeGreaterThan(0);
    }
    expect(vae.step).toBe(8);
    const controller = new AbortController();
    const partial = await vae.fit(x, { epochs: 5, batchSize: 10, signal: controller.signal,
      onEpochEnd: (e) => { if (e.epoch === 2) controller.abort(); } });
    expect(partial.map((h) => h.epoch)).toEqual([1, 2]);
    vae.dispose();
  });

  it('Uint8Array data equals the same data scaled to [0, 1]', async () => {
    const bytes = Uint8Array.from({ length: 12 * 40 }, (_, i) => (i * 37) % 256);
    const floats = Float32Array.from(bytes, (v) => v / 255);
    const a = await VAE.create(small);
    const b = await VAE.create(small);
    await a.fit(bytes, { batchSize: 8 });
    await b.fit(floats, { batchSize: 8 });
    expect(weightBytes(a).equals(weightBytes(b))).toBe(true);
    expect(a.elbo(bytes, { seed: 3 })).toEqual(b.elbo(floats, { seed: 3 }));
    a.dispose(); b.dispose();
  });

  it('one fit at a time: a second one, also from a callback, is refused and changes nothing', async () => {
    const data = unitData(64, 12);
    const alone = await VAE.create(small);
    await alone.fit(data, { epochs: 2, batchSize: 8 });
    const vae = await VAE.create(small);
    const message = 'VAE.fit: this model is already training (another fit() has not finished, or this one was started from its callback); await it before starting another, or train a second model';
    const first = vae.fit(data, { epochs: 2, batchSize: 8 });
    // Started while the first is running (it is at its first await): refused before it touches anything.
    await expect(vae.fit(unitData(64, 12, 9), { batchSize: 16, optimizer: { name: 'sgd', learningRate: 1 } })).rejects.toThrow(message);
    await first;
    expect(weightBytes(vae).equals(weightBytes(alone))).toBe(true);
    // From a callback: refused too, and the running fit goes on as if it had not been tried.
    let refused = 0;
    await vae.fit(data, {
      epochs: 2, batchSize: 8,
      onBatchEnd: async (b) => { if (b.batch === 1) await expect(vae.fit(data)).rejects.toThrow(message).then(() => refused++); },
    });
    await alone.fit(data, { epochs: 2, batchSize: 8 });
    expect(refused).toBe(2);
    expect(weightBytes(vae).equals(weightBytes(alone))).toBe(true);
    // Nothing stays set: the model trains again after a fit that threw.
    await expect(vae.fit(data, { batchSize: 8, onEpochEnd: () => { throw new Error('from the callback'); } })).rejects.toThrow('from the callback');
    await vae.fit(data, { batchSize: 8 });
    alone.dispose(); vae.dispose();
  });

  it('disposing the model in a callback stops its fit with the disposed-model error, before the next step', async () => {
    for (const where of ['onBatchEnd', 'onEpochEnd'] as const) {
      const vae = await VAE.create(small);
      const live = core.liveAllocations();
      let steps = 0;
      const dispose = () => vae.dispose();
      await expect(vae.fit(unitData(64, 12), { epochs: 2, batchSize: 8, onBatchEnd: () => { steps++; if (where === 'onBatchEnd') dispose(); }, onEpochEnd: where === 'onEpochEnd' ? dispose : undefined }))
        .rejects.toThrow('VAE: this model has been disposed; create or load a new one');
      // Disposed after the first step, or after the first epoch's 8: no step ran on the freed model.
      expect(steps).toBe(where === 'onBatchEnd' ? 1 : 8);
      // The fit's copies of the data were freed, and the model.
      expect(core.liveAllocations()).toBeLessThan(live);
    }
  });

  it('each optimizer trains (loss falls), also with binarize and samples (what those change: below)', async () => {
    const x = unitData(200, 12, 9);
    for (const optimizer of [{ name: 'adam' as const }, { name: 'sgd' as const, learningRate: 0.05, momentum: 0.9 }, { name: 'adagrad' as const, learningRate: 0.05, weightDecay: 1e-4 }]) {
      const vae = await VAE.create(small);
      const h = await vae.fit(x, { epochs: 6, batchSize: 20, optimizer, samples: 2, binarize: 'dynamic' });
      expect(h[5]!.loss, optimizer.name).toBeLessThan(h[0]!.loss);
      vae.dispose();
    }
  });
});

// With a learning rate of 1e-30 no step moves a weight by more than ~1e-28 (checked; nonzero weights keep their bits),
// so what fit reports per batch can be compared with what the model computes: the terms themselves, and the
// statistics that `binarize` and `samples` change.
const frozen = { optimizer: { name: 'sgd', learningRate: 1e-30 }, shuffle: false } as const;
const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const varianceOf = (xs: number[]) => { const m = meanOf(xs); return xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1); };
const largestChange = (a: Record<string, { data: Float32Array }>, b: Record<string, { data: Float32Array }>) =>
  Math.max(...Object.keys(a).map((k) => Math.max(...a[k]!.data.map((v, i) => Math.abs(v - b[k]!.data[i]!)))));

describe('what fit reports, and what binarize and samples change', () => {
  it('the epoch terms are the model\'s KL (analytic, from encode) and reconstruction (one ε draw per row) on the data', async () => {
    const vae = await VAE.create({ ...small, seed: 8 });
    const x = unitData(100, 12, 3);
    const val = unitData(30, 12, 4);
    const before = weightBytes(vae);
    const [e] = await vae.fit(x, { batchSize: 20, ...frozen, validationData: val });
    expect(weightBytes(vae).equals(before)).toBe(true);
    // KL(q(z|x) ‖ N(0, I)) = −½ Σ (1 + log σ² − μ² − σ²), in f64 from the encoder's outputs, averaged over rows.
    const klOf = (rows: Float32Array) => {
      const { mean, logVar } = vae.encode(rows);
      let s = 0;
      for (let i = 0; i < mean.length; i++) s += -0.5 * (1 + logVar[i]! - mean[i]! ** 2 - Math.exp(logVar[i]!));
      return s / (rows.length / 12);
    };
    expect(Math.abs(e!.kl - klOf(x))).toBeLessThan(1e-5 * Math.max(1, klOf(x)));
    expect(Math.abs(e!.valKl! - klOf(val))).toBeLessThan(1e-5 * Math.max(1, klOf(val)));
    // One draw per row: distributed as elbo(x, { samples: 1 }).reconstruction, whose spread 60 seeds measure.
    const draws = Array.from({ length: 60 }, (_, s) => vae.elbo(x, { samples: 1, seed: s + 1 }).reconstruction);
    const sd = Math.sqrt(varianceOf(draws));
    expect(sd).toBeGreaterThan(0);
    expect(Math.abs(e!.reconstruction - meanOf(draws))).toBeLessThan(5 * sd);
    expect(Math.abs(e!.valReconstruction! - meanOf(Array.from({ length: 60 }, (_, s) => vae.elbo(val, { samples: 1, seed: s + 1 }).reconstruction)))).toBeLessThan(10 * sd);
    vae.dispose();
  });

  it("binarize: 'dynamic' feeds the core 0/1 pixels drawn ~ Bernoulli(x): whole counts of ones, Binomial in number", async () => {
    // A decoder that ignores z (zero weights, every logit c) makes the Bernoulli term per row Σ_j softplus(c) − c·x_j,
    // so a batch's mean reconstruction tells how many of its pixels were 1.
    const D = 12, n = 20, batches = 100, c = 2;
    const vae = await VAE.create(small);
    const w = vae.getWeights();
    w['decoder.out.weight']!.data.fill(0);
    w['decoder.out.bias']!.data.fill(c);
    vae.setWeights(w);
    const x = new Float32Array(n * batches * D).fill(0.5);
    const ones = async (binarize: 'dynamic' | 'none') => {
      const recs: number[] = [];
      await vae.fit(x, { batchSize: n, ...frozen, binarize, onBatchEnd: (b) => { recs.push(b.reconstruction); } });
      return recs.map((r) => (n * (D * Math.log1p(Math.exp(c)) - r)) / c);
    };
    const binarized = await ones('dynamic');
    expect(largestChange(w, vae.getWeights())).toBeLessThan(1e-20); // the zero weights move by lr·gradient only
    expect(binarized).toHaveLength(batches);
    for (const k of binarized) expect(Math.abs(k - Math.round(k)), `${k} ones`).toBeLessThan(0.01);
    // n·D = 240 pixels per batch, each 1 with probability ½: mean 120, variance 60.
    expect(Math.abs(meanOf(binarized) - 120)).toBeLessThan(4 * Math.sqrt(60 / batches));
    expect(varianceOf(binarized)).toBeGreaterThan(30);
    expect(varianceOf(binarized)).toBeLessThan(100);
    // Without it the core sees the intensities: exactly half a pixel's worth, 120, in every batch.
    for (const k of await ones('none')) expect(Math.abs(k - 120)).toBeLessThan(0.01);
    vae.dispose();
  });

  it('samples: S ε draws per row divide the variance of the reconstruction term by S, leaving its mean', async () => {
    const vae = await VAE.create({ ...small, seed: 21 });
    // One row repeated, so a batch's term is the mean of n·S independent draws of that row's reconstruction.
    const row = unitData(1, 12, 5);
    const n = 10, batches = 400;
    const x = new Float32Array(n * batches * 12);
    for (let i = 0; i < n * batches; i++) x.set(row, i * 12);
    const sigma2 = varianceOf(Array.from({ length: 3000 }, (_, s) => vae.elbo(row, { samples: 1, seed: s + 1 }).reconstruction));
    const before = weightBytes(vae);
    const terms = async (samples: number) => {
      const recs: number[] = [];
      await vae.fit(x, { batchSize: n, ...frozen, samples, onBatchEnd: (b) => { recs.push(b.reconstruction); } });
      return recs;
    };
    const one = await terms(1);
    const four = await terms(4);
    expect(weightBytes(vae).equals(before)).toBe(true);
    expect(varianceOf(one) / (sigma2 / n)).toBeGreaterThan(0.65);
    expect(varianceOf(one) / (sigma2 / n)).toBeLessThan(1.5);
    expect(varianceOf(four) / (sigma2 / (4 * n))).toBeGreaterThan(0.65);
    expect(varianceOf(four) / (sigma2 / (4 * n))).toBeLessThan(1.5);
    expect(Math.abs(meanOf(one) - meanOf(four))).toBeLessThan(5 * Math.sqrt(sigma2 / n / batches));
    vae.dispose();
  });
});

describe('save and load', () => {
  it('round-trips VAE and Autoencoder exactly', async () => {
    const vae = await VAE.create({ ...small, likelihood: 'gaussian', variance: 'learned', activation: 'tanh' });
    await vae.fit(unitData(50, 12), { batchSize: 10 });
    const bytes = vae.save();
    const back = await VAE.load(bytes);
    expect(back.config).toEqual(vae.config);
    expect(weightBytes(back).equals(weightBytes(vae))).toBe(true);
    const x = unitData(5, 12, 4);
    expect(back.reconstruct(x)).toEqual(vae.reconstruct(x));
    await expect(Autoencoder.load(bytes)).rejects.toThrow(/holds a "vae" model; load it with VAE.load/);
    const ae = await Autoencoder.create({ ...small, loss: 'mse' });
    const ae2 = await Autoencoder.load(ae.save());
    expect(ae2.encode(x)).toEqual(ae.encode(x));
    for (const m of [vae, back, ae, ae2]) m.dispose();
  });
});

describe('inference API', () => {
  it('shapes, ranges, seeded sampling and ELBO', async () => {
    const vae = await VAE.create(small);
    const x = unitData(7, 12);
    const { mean, logVar } = vae.encode(x);
    expect(mean).toHaveLength(21);
    expect(logVar).toHaveLength(21);
    const probs = vae.decode(mean);
    expect(probs).toHaveLength(84);
    expect(probs.every((p) => p > 0 && p < 1)).toBe(true);
    expect(vae.reconstruct(x)).toEqual(probs);
    const logits = vae.decode(mean, { logits: true });
    expect(1 / (1 + Math.exp(-logits[0]!))).toBeCloseTo(probs[0]!, 6);
    expect(vae.sample(4, { seed: 9 })).toEqual(vae.sample(4, { seed: 9 }));
    expect(vae.sample(4, { seed: 9 })).not.toEqual(vae.sample(4, { seed: 10 }));
    const e = vae.elbo(x, { samples: 10, seed: 1 });
    expect(e.elbo).toBeCloseTo(-(e.reconstruction + e.kl), 9);
    expect(e.kl).toBeGreaterThan(0);
    expect(() => vae.sample(0)).toThrow(/n must be an integer/);
    expect(() => vae.decode(new Float32Array(4))).toThrow(/not a whole number of rows of 3 \(latentDim\)/);
    vae.dispose();
  });

  it('out: results written into the caller\'s arrays, the same values; a wrong array is refused first', async () => {
    const vae = await VAE.create(small);
    const x = unitData(2, 12);
    const want = vae.encode(x);
    const out = { mean: new Float32Array(6).fill(9), logVar: new Float32Array(6).fill(9) };
    expect(vae.encode(x, { out })).toBe(out);
    expect(out).toEqual(want);
    const probs = new Float32Array(24);
    expect(vae.decode(want.mean, { out: probs })).toBe(probs);
    expect(probs).toEqual(vae.decode(want.mean));
    const rec = new Float32Array(24);
    expect(vae.reconstruct(x, { out: rec })).toBe(rec);
    expect(rec).toEqual(vae.reconstruct(x));
    expect(() => vae.decode(want.mean, { out: new Float32Array(23) })).toThrow('VAE.decode: options.out must be a Float32Array of 24 values (the result\'s size), got Float32Array(23)');
    // The two arrays must not share memory, even in part (one would overwrite the other), and both must be given.
    const overlap = /VAE\.encode: options\.out must be two arrays for mean and logVar that share no memory/;
    expect(() => vae.encode(x, { out: { mean: out.mean, logVar: out.mean } })).toThrow(overlap);
    const buf = new Float32Array(11).fill(7);
    expect(() => vae.encode(x, { out: { mean: buf.subarray(0, 6), logVar: buf.subarray(5, 11) } })).toThrow(overlap);
    expect(buf.every((v) => v === 7)).toBe(true);
    const apart = new Float32Array(12);
    expect(vae.encode(x, { out: { mean: apart.subarray(0, 6), logVar: apart.subarray(6, 12) } }).mean).toEqual(want.mean);
    expect(apart.subarray(6)).toEqual(want.logVar);
    expect(() => vae.encode(x, { out: { mean: out.mean } as never })).toThrow(/options\.out must be both mean and logVar, each a Float32Array of 6 values/);
    expect(() => vae.encode(x, { out: { mean: out.mean, logvar: out.logVar } as never })).toThrow(/VAE\.encode: unknown key of options\.out "logvar"; expected one of mean, logVar/);
    expect(() => vae.reconstruct(x, { out: new Float64Array(24) as never })).toThrow(/options\.out must be a Float32Array of 24 values/);
    vae.dispose();
    const ae = await Autoencoder.create(small);
    const code = new Float32Array(6);
    expect(ae.encode(x, { out: code })).toBe(code);
    expect(code).toEqual(ae.encode(x));
    const dec = new Float32Array(24);
    expect(ae.decode(code, { out: dec })).toEqual(ae.decode(code));
    ae.dispose();
  });
});

describe('one row at a time', () => {
  it('gives the bits of the same rows in a batch, with inputs and hidden units that are mostly zero', async () => {
    // One row's products skip the terms where the row is zero (an image's background, a ReLU's output); 20 rows go
    // through the packed, blocked product instead, which sums every term.
    const vae = await VAE.create({ inputDim: 100, latentDim: 4, encoder: [48], seed: 3, threads: 1 });
    const rows = 20;
    const x = new Float32Array(rows * 100);
    for (let i = 0; i < x.length; i++) x[i] = (i * 7919) % 10 < 3 ? ((i * 104729) % 97) / 97 : 0;
    await vae.fit(x, { epochs: 2, batchSize: 10 });
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const batch = vae.encode(x);
    const decoded = vae.decode(batch.mean);
    for (let r = 0; r < rows; r++) {
      const one = vae.encode(x.subarray(r * 100, (r + 1) * 100));
      expect(bytes(one.mean)).toEqual(bytes(batch.mean.subarray(r * 4, (r + 1) * 4)));
      expect(bytes(one.logVar)).toEqual(bytes(batch.logVar.subarray(r * 4, (r + 1) * 4)));
      expect(bytes(vae.decode(one.mean))).toEqual(bytes(decoded.subarray(r * 100, (r + 1) * 100)));
    }
    vae.dispose();
  });
});

describe('lifetime', () => {
  it('dispose is idempotent, use after dispose throws, memory stays flat over many cycles', async () => {
    const vae = await VAE.create(small);
    vae.dispose();
    vae.dispose();
    expect(() => vae.encode(unitData(1, 12))).toThrow(/VAE: this model has been disposed/);
    expect(() => vae.getWeights()).toThrow(/disposed/);
    const live = core.liveAllocations();
    const x = unitData(3, 12);
    let heapAfterFirst = 0;
    for (let i = 0; i < 2000; i++) {
      const m = await VAE.create(small);
      m.encode(x);
      m.dispose();
      if (i === 0) heapAfterFirst = core.heapBytes();
    }
    expect(core.liveAllocations()).toBe(live);
    expect(core.heapBytes()).toBe(heapAfterFirst);
    {
      using m = await Autoencoder.create(small);
      m.encode(x);
    }
    expect(core.liveAllocations()).toBe(live);
  });
});
