// Hard edges: divergence handling, memory flat over many lifetimes, hostile saved files, and property-based tests
// that every call either returns a well-formed result or throws a documented error — never a wasm trap — and that
// a rejected call leaves the weights untouched.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Autoencoder, VAE, decodeSafetensors, encodeSafetensors, init } from '../ts/index';
import { checksum } from '../ts/model';
import type { Core } from '../ts/core/wasm';
import type { Activation, OptimizerConfig } from '../ts/types';
import { weightBytes as bytesOf } from './helpers';
import { TestRandom } from './oracle';

let core: Core;
beforeAll(async () => { core = await init(); });

describe('divergence', () => {
  // Rows 10–19 are finite but so large that the Gaussian term overflows f32: their batch cannot be applied.
  const x = new TestRandom(1).uniforms(30 * 5);
  x.fill(1e30, 50, 100);
  const cfg = { inputDim: 5, latentDim: 2, encoder: [4], likelihood: 'gaussian' as const, seed: 1 };

  it("'throw' stops at the bad batch with the weights after the last finite step", async () => {
    const a = await VAE.create(cfg);
    const b = await VAE.create(cfg);
    await b.fit(x.subarray(0, 50), { batchSize: 10, shuffle: false });
    await expect(a.fit(x, { batchSize: 10, shuffle: false })).rejects.toThrow(/NaN or infinite at epoch 1, batch 2; that update was not applied/);
    expect(bytesOf(a).equals(bytesOf(b))).toBe(true);
    a.dispose(); b.dispose();
  });

  it("'skip' skips and counts the bad batches; the model stays finite", async () => {
    const a = await VAE.create(cfg);
    const h = await a.fit(x, { epochs: 3, batchSize: 10, shuffle: false, onNonFinite: 'skip' });
    expect(h.map((e) => e.skippedBatches)).toEqual([1, 1, 1]);
    expect(h.every((e) => Number.isFinite(e.loss))).toBe(true);
    expect(Object.values(a.getWeights()).every((t) => t.data.every(Number.isFinite))).toBe(true);
    await expect(a.fit(x.subarray(50, 100), { batchSize: 10, onNonFinite: 'skip' })).rejects.toThrow(/every batch of epoch 1/);
    await expect(a.fit(x, { onNonFinite: 'ignore' as never })).rejects.toThrow(/onNonFinite must be one of "throw", "skip"/);
    a.dispose();
  });

  it('a step whose gradient is finite but whose update overflows is not applied either: no ∞ reaches the weights or the optimizer state', async () => {
    // Before, the first two finished with an infinite Adam/Adagrad state (weights frozen, silently) and the third
    // with infinite weights.
    const y = x.subarray(0, 50);
    const overflowing: OptimizerConfig[] = [
      { name: 'adam', weightDecay: 1e25 }, // (g + λθ)² in v
      { name: 'adagrad', weightDecay: 1e25 }, // the same in s
      { name: 'sgd', learningRate: 1e30, weightDecay: 1e10 }, // θ − lr·(g + λθ)
    ];
    for (const optimizer of overflowing) {
      const a = await VAE.create(cfg);
      const before = bytesOf(a);
      await expect(a.fit(y, { batchSize: 10, optimizer }), JSON.stringify(optimizer))
        .rejects.toThrow(/the update they give became NaN or infinite at epoch 1, batch 1; that update was not applied/);
      expect(bytesOf(a).equals(before)).toBe(true);
      const file = decodeSafetensors(a.save());
      expect(Object.entries(file.tensors).filter(([, t]) => !(t.data as Float32Array).every(Number.isFinite)).map(([k]) => k)).toEqual([]);
      // Training goes on from there with settings that do not overflow.
      const h = await a.fit(y, { batchSize: 5, epochs: 1, optimizer: { name: 'adam' } });
      expect(h[0]!.skippedBatches).toBeUndefined();
      expect(bytesOf(a).equals(before)).toBe(false);
      a.dispose();
    }
  });

  it('optimizer settings that float32 turns into 1, 0 or ∞ are refused before the first step (each put NaN in the weights)', async () => {
    const y = x.subarray(0, 50);
    const a = await VAE.create(cfg);
    const before = bytesOf(a);
    const refused: [OptimizerConfig, RegExp][] = [
      [{ name: 'adam', beta2: 0.99999999 }, /optimizer\.beta2 must be a number in \[0, 1\) that stays below 1 \(at most 0\.99999994\) in float32/],
      [{ name: 'adam', beta1: 0.99999999 }, /optimizer\.beta1 must be/],
      [{ name: 'adam', epsilon: 1e-50 }, /optimizer\.epsilon must be a number > 0 that stays above 0 and finite/],
      [{ name: 'adagrad', epsilon: 1e-50 }, /optimizer\.epsilon must be/],
      [{ name: 'sgd', learningRate: 1e39 }, /optimizer\.learningRate must be/],
      [{ name: 'adam', weightDecay: 1e39 }, /optimizer\.weightDecay must be a number ≥ 0 that stays finite/],
      // Finite, but Adam's first step learningRate / (1 − beta1) is not.
      [{ name: 'adam', learningRate: 1e38 }, /optimizer\.learningRate 1e\+38 with beta1 0\.9 makes Adam's first step, learningRate \/ \(1 − beta1\), overflow float32; expected a learning rate below 3\.4e\+37/],
    ];
    for (const [optimizer, message] of refused) await expect(a.fit(y, { batchSize: 10, optimizer })).rejects.toThrow(message);
    expect(bytesOf(a).equals(before)).toBe(true);
    // The extremes that float32 keeps train with finite weights.
    for (const optimizer of [{ name: 'adam', beta2: 0.99999994 }, { name: 'adam', epsilon: 1e-45 }] as OptimizerConfig[]) {
      const b = await VAE.create(cfg);
      await b.fit(y, { batchSize: 10, optimizer });
      expect(Object.values(b.getWeights()).every((t) => t.data.every(Number.isFinite)), JSON.stringify(optimizer)).toBe(true);
      b.dispose();
    }
    a.dispose();
  });
});

describe('lifetimes', () => {
  it('10,000 create / encode / dispose cycles leave memory and live allocations flat', async () => {
    const x = new TestRandom(2).uniforms(4 * 12);
    const first = await VAE.create({ inputDim: 12, latentDim: 3, encoder: [8] });
    first.encode(x);
    first.dispose();
    const live = core.liveAllocations();
    const heap = core.heapBytes();
    const memory = core.memoryBytes();
    for (let i = 0; i < 10_000; i++) {
      const m = await VAE.create({ inputDim: 12, latentDim: 3, encoder: [8] });
      m.encode(x);
      m.dispose();
    }
    expect(core.liveAllocations()).toBe(live);
    expect(core.heapBytes()).toBe(heap);
    expect(core.memoryBytes()).toBe(memory);
  });
});

describe('hostile files', () => {
  it('a config that does not match the tensors is refused', async () => {
    const m = await VAE.create({ inputDim: 6, latentDim: 2, encoder: [4] });
    const file = decodeSafetensors(m.save());
    const meta: Record<string, string> = { ...file.metadata, config: file.metadata.config!.replace('"latentDim":2', '"latentDim":3') };
    meta.checksum = checksum(file.tensors, meta);
    const forged = encodeSafetensors(Object.fromEntries(Object.entries(file.tensors).map(([k, t]) => [k, { shape: t.shape, data: t.data }])), meta);
    await expect(VAE.load(forged)).rejects.toThrow(/the tensors do not match the config: .*shape/);
    const live = core.liveAllocations();
    await expect(VAE.load(forged)).rejects.toThrow();
    expect(core.liveAllocations()).toBe(live);
    m.dispose();
  });

  it('an optimizer state that training never writes (NaN, a negative square) is refused: it would put NaN in the weights', async () => {
    const x = new TestRandom(3).uniforms(64 * 4);
    const finite = (m: VAE) => Object.values(m.getWeights()).every((t) => t.data.every(Number.isFinite));
    for (const name of ['adam', 'adagrad'] as const) {
      const m = await VAE.create({ inputDim: 4, latentDim: 2, encoder: [3], seed: 1 });
      await m.fit(x, { epochs: 1, batchSize: 16, optimizer: { name } });
      const [slots, n] = decodeSafetensors(m.save()).tensors['optimizer.state']!.shape as [number, number];
      expect(slots).toBe(name === 'adam' ? 2 : 1);
      const squares = name === 'adam' ? n : 0; // [slots, parameters]: Adam's m then v; Adagrad's sums of squares
      const forge = (i: number, v: number) => {
        const file = decodeSafetensors(m.save());
        file.tensors['optimizer.state']!.data[i] = v;
        const meta: Record<string, string> = { ...file.metadata };
        meta.checksum = checksum(file.tensors, meta);
        return encodeSafetensors(file.tensors, meta);
      };
      await expect(VAE.load(forge(squares + 1, NaN)), name).rejects.toThrow(/optimizer state has NaN at index \d+, which training never writes \(NaN\); the file is damaged/);
      await expect(VAE.load(forge(squares + 2, -0.5)), name).rejects.toThrow(/optimizer state has -0\.5 at index \d+, which training never writes \(a negative sum of squares\)/);
      if (name === 'adam') await expect(VAE.load(forge(1, NaN))).rejects.toThrow(/optimizer state has NaN at index 1,/);
      // What training can write loads and trains on with finite weights: a negative first moment, an overflowed square.
      // (Adagrad has no first moment: its only slot is the squares, starting at 0.)
      const writable: [number, number][] = name === 'adam' ? [[1, -0.5], [squares + 1, Infinity]] : [[squares + 1, Infinity]];
      for (const [i, v] of writable) {
        const ok = await VAE.load(forge(i, v));
        await ok.fit(x, { epochs: 1, batchSize: 16, optimizer: { name } });
        expect(finite(ok), `${name} [${i}] = ${v}`).toBe(true);
        ok.dispose();
      }
      m.dispose();
    }
  });
});

describe('property-based: any call returns a correct result or throws a documented error', () => {
  const acts: Activation[] = ['relu', 'leakyRelu', 'tanh', 'sigmoid', 'softplus', 'linear'];
  const config = fc.record({
    inputDim: fc.integer({ min: 1, max: 9 }),
    latentDim: fc.integer({ min: 1, max: 4 }),
    encoder: fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 3 }),
    activation: fc.constantFrom(...acts),
    gaussian: fc.boolean(),
    seed: fc.nat(),
  });
  const value = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(NaN, Infinity, -1, 2, 1e30));
  const isDocumented = (e: unknown) => e instanceof Error && !(e instanceof WebAssembly.RuntimeError) && /^(VAE|Autoencoder)\.\w+: /.test(e.message);

  it('VAE: fit / encode / decode / elbo / sample on random shapes and values', async () => {
    await fc.assert(fc.asyncProperty(config, fc.array(value, { maxLength: 40 }), fc.integer({ min: -1, max: 12 }), async (c, values, batch) => {
      const vae = await VAE.create({ inputDim: c.inputDim, latentDim: c.latentDim, encoder: c.encoder, activation: c.activation, likelihood: c.gaussian ? 'gaussian' : 'bernoulli', seed: c.seed });
      const x = Float32Array.from(values);
      const before = bytesOf(vae);
      const rows = x.length / c.inputDim;
      const valid = x.length > 0 && Number.isInteger(rows) && x.every((v) => Number.isFinite(v) && (c.gaussian || (v >= 0 && v <= 1)));
      const calls: [string, () => unknown, (r: unknown) => void][] = [
        ['encode', () => vae.encode(x), (r) => { const { mean, logVar } = r as { mean: Float32Array; logVar: Float32Array }; expect(mean.length).toBe(rows * c.latentDim); expect(logVar.every(Number.isFinite)).toBe(true); }],
        ['reconstruct', () => vae.reconstruct(x), (r) => expect((r as Float32Array).length).toBe(rows * c.inputDim)],
        // Finite unless the data is so large (1e30) that the Gaussian term overflows f32, as it would in any f32 code.
        ['elbo', () => vae.elbo(x, { seed: 1 }), (r) => expect(Number.isFinite((r as { elbo: number }).elbo) || x.some((v) => Math.abs(v) > 1e15)).toBe(true)],
        ['decode', () => vae.decode(x), (r) => expect((r as Float32Array).length).toBe((x.length / c.latentDim) * c.inputDim)],
      ];
      for (const [name, call, check] of calls) {
        try {
          check(call());
          if (name !== 'decode') expect(valid, `${name} accepted invalid data`).toBe(true);
        } catch (e) {
          if (!isDocumented(e)) throw e;
          if (name !== 'decode') expect(valid && !(e as Error).message.includes('non-finite')).toBe(false);
        }
      }
      try {
        const h = await vae.fit(x, { batchSize: batch, epochs: 1 });
        expect(valid && batch >= 1 && batch <= rows).toBe(true);
        expect(h).toHaveLength(1);
      } catch (e) {
        if (!isDocumented(e)) throw e;
        expect(bytesOf(vae).equals(before)).toBe(true);
      }
      vae.dispose();
    }), { numRuns: 150, seed: 42 });
  });

  it('Autoencoder: setWeights and loss never trap and reject bad tensors without changes', async () => {
    await fc.assert(fc.asyncProperty(config, fc.array(value, { maxLength: 30 }), async (c, values) => {
      const ae = await Autoencoder.create({ inputDim: c.inputDim, latentDim: c.latentDim, encoder: c.encoder, activation: c.activation, loss: c.gaussian ? 'mse' : 'bce', seed: c.seed });
      const before = bytesOf(ae);
      const w = ae.getWeights();
      const name = Object.keys(w)[0]!;
      w[name] = { shape: w[name]!.shape, data: Float32Array.from(values) };
      try {
        ae.setWeights(w);
        expect(values.length).toBe(w[name]!.shape.reduce((a, b) => a * b, 1));
        expect(values.every(Number.isFinite)).toBe(true);
      } catch (e) {
        if (!(e instanceof Error) || e instanceof WebAssembly.RuntimeError || !/^Autoencoder\.setWeights: /.test(e.message)) throw e;
        expect(bytesOf(ae).equals(before)).toBe(true);
      }
      ae.dispose();
    }), { numRuns: 150, seed: 7 });
  });
});
