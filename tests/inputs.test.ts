// What a new user hands the API first (issue 13): the objects idxImages and loadIdx return, browser pixels and
// buffers, flat number[], small data under the default batch size, `new VAE()`; and error messages that stay short
// and quick whatever the input, and say what to do.
import { describe as suite, expect, it } from 'vitest';
import { Autoencoder, VAE, decodeSafetensors, idxImages, loadIdx } from '../ts/index';
import { DESCRIBE_MAX, describe } from '../ts/options';
import { mnist, weightBytes } from './helpers';

const small = { inputDim: 784, latentDim: 3, encoder: [16], seed: 4 };
/** An IDX images file (uint8, n × 28 × 28) of the first n MNIST training images, as loadIdx reads them. */
function idxFile(n: number): Uint8Array {
  const header = new Uint8Array(16);
  const v = new DataView(header.buffer);
  v.setUint32(0, 0x00000803);
  v.setUint32(4, n);
  v.setUint32(8, 28);
  v.setUint32(12, 28);
  return Uint8Array.from([...header, ...mnist('train-images-idx3-ubyte', n)]);
}

/** Trains a fresh small VAE one epoch on `data` (batch 16) and returns its weights' bytes. */
async function trained(data: Parameters<VAE['fit']>[0], config: Partial<typeof small> = {}): Promise<Buffer> {
  const vae = await VAE.create({ ...small, ...config });
  await vae.fit(data, { batchSize: 16 });
  const b = weightBytes(vae);
  vae.dispose();
  return b;
}

/** The error `fn` throws (or rejects with), and how long it took. */
async function caught(fn: () => unknown): Promise<{ message: string; ms: number }> {
  const t0 = performance.now();
  try {
    await fn();
  } catch (e) {
    return { message: (e as Error).message, ms: performance.now() - t0 };
  }
  throw new Error('expected an error');
}

suite('error descriptions are bounded for any input', () => {
  it('describe() stays short for huge, deep, throwing and exotic values', () => {
    const rows = Array.from({ length: 60_000 }, () => new Array(784).fill(0.5));
    const deep: unknown[] = [];
    let cur = deep;
    for (let i = 0; i < 10_000; i++) { const next: unknown[] = []; cur.push(next, 1); cur = next; }
    const manyKeys = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]));
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const throwing = { get data() { throw new Error('boom'); } };
    const values: unknown[] = [
      { pixels: new Uint8Array(60_000 * 784), rows: 60_000, cols: 784 }, rows, deep, manyKeys, revoked.proxy, throwing,
      'x'.repeat(10_000_000), 10n ** 1000n, Symbol('s'.repeat(1000)), new Array(2 ** 32 - 1), new ArrayBuffer(16),
      new DataView(new ArrayBuffer(8)), new Map([[1, 2]]), () => 1, { [`${'k'.repeat(5000)}`]: 1 },
    ];
    for (const v of values) {
      const t0 = performance.now();
      const s = describe(v);
      expect(performance.now() - t0).toBeLessThan(200);
      expect(s.length).toBeLessThanOrEqual(DESCRIBE_MAX);
      expect(s.length).toBeGreaterThan(0);
    }
    expect(describe({ pixels: new Uint8Array(10), rows: 10, cols: 1 })).toBe('{ pixels: Uint8Array(10), rows: 10, cols: 1 }');
    expect(describe(rows)).toMatch(/^\[\[0\.5, 0\.5, 0\.5, 0\.5, 0\.5, … 784 items in all\], \[0\.5, .*…$/);
    expect(describe(rows)).toHaveLength(DESCRIBE_MAX);
    expect(describe([1, 'a', null, [2, [3]]])).toBe('[1, "a", null, [2, […1 items]]]');
    expect(describe(revoked.proxy)).toBe('a value that cannot be inspected');
    expect(describe(throwing)).toBe('{ data: ? }');
  });

  it('a wrong argument as large as MNIST costs a short message in little time (was 18 MB–4.8 GB and up to 60 s)', async () => {
    const vae = await VAE.create(small);
    const before = weightBytes(vae);
    const images = new Uint8Array(60_000 * 784);
    const nestedRows = Array.from({ length: 60_000 }, () => [new Array(784).fill(0.5)]); // one level too deep
    const wrongWidth = Array.from({ length: 60_000 }, () => new Array(783).fill(0.5));
    const cases: [string, () => unknown, RegExp][] = [
      ['an object without data', () => vae.fit({ pixels: images, rows: 60_000, cols: 784 } as never), /VAE\.fit: data must be a Float32Array, .*\{ data, shape \}.*; got \{ pixels: Uint8Array\(47040000\), rows: 60000, cols: 784 \}$/],
      ['rows nested too deep', () => vae.fit(nestedRows as never), /VAE\.fit: data\[0\] must be a row of 784 numbers \(inputDim\), got \[\[0\.5, 0\.5, 0\.5, 0\.5, 0\.5, … 784 items in all\]\]$/],
      ['rows of the wrong width', () => vae.fit(wrongWidth), /VAE\.fit: data\[0\] must be a row of 784 numbers \(inputDim\), got \[0\.5, 0\.5, 0\.5, 0\.5, 0\.5, … 783 items in all\]$/],
      ['validation data as an object of rows', () => vae.fit(images, { validationData: { rows: wrongWidth } as never }), /VAE\.fit: validationData must be .*; got \{ rows: \[\[…783 items\], \[…783 items\]/],
      ['an encoder given pixels', () => VAE.create({ ...small, encoder: Array.from(images.subarray(0, 1e6)) }), /^VAE\.create: encoder .*, got \[0, 0, 0, 0, 0, … 1000000 items in all\]$/],
      ['a typed array as a tensor', () => vae.setWeights({ ...vae.getWeights(), 'encoder.0.weight': { shape: Array.from(images.subarray(0, 1e6)), data: new Float32Array(1) } }), /has shape \[0, 0, 0, 0, 0, … 1000000 items in all\]; expected \[784, 16\]$/],
    ];
    for (const [name, call, message] of cases) {
      const e = await caught(call);
      expect(e.message, name).toMatch(message);
      expect(e.message.length, name).toBeLessThan(600);
      expect(e.ms, name).toBeLessThan(1000);
    }
    expect(weightBytes(vae).equals(before)).toBe(true);
    vae.dispose();
  });
});

suite('data in the forms users have', () => {
  it("idxImages' { data, rows, cols } and loadIdx's { data, shape } train as their .data does, also from an ArrayBuffer", async () => {
    const file = idxFile(64);
    const want = await trained(idxImages(loadIdx(file)).data);
    expect((await trained(idxImages(loadIdx(file)))).equals(want)).toBe(true);
    expect((await trained(loadIdx(file))).equals(want)).toBe(true);
    expect((await trained(idxImages(loadIdx(file.slice().buffer)))).equals(want)).toBe(true);
    const vae = await VAE.create(small);
    const x = loadIdx(file);
    expect(vae.elbo(x, { seed: 1 })).toEqual(vae.elbo(x.data, { seed: 1 }));
    expect(vae.encode(idxImages(x)).mean).toEqual(vae.encode(x.data).mean);
    // The shape must fit the model, and say so.
    const e = (await caught(() => vae.fit({ data: x.data, shape: [64, 28, 27] }))).message;
    expect(e).toBe('VAE.fit: data.shape [64, 28, 27] needs 48384 values, but data.data has 50176');
    expect((await caught(() => vae.fit({ data: x.data, shape: [128, 392] }))).message).toBe("VAE.fit: data has shape [128, 392], rows of 392 values; this model's inputDim is 784");
    expect((await caught(() => vae.fit({ data: x.data, rows: 64, cols: 783 }))).message).toMatch(/says 64 rows × 783 columns = 50112 values, but data.data has 50176/);
    expect((await caught(() => vae.fit({ data: 'pixels', shape: [1] } as never))).message).toMatch(/data\.data must be a typed array or a flat number\[\], got "pixels"/);
    vae.dispose();
  });

  it('Uint8ClampedArray (canvas pixels) is read as Uint8Array', async () => {
    const u8 = mnist('train-images-idx3-ubyte', 48);
    const clamped = new Uint8ClampedArray(u8.buffer, u8.byteOffset, u8.length);
    expect((await trained(clamped)).equals(await trained(u8))).toBe(true);
    const vae = await VAE.create(small);
    expect(vae.elbo(clamped, { seed: 2 })).toEqual(vae.elbo(u8, { seed: 2 }));
    expect(vae.reconstruct(clamped)).toEqual(vae.reconstruct(u8));
    expect(() => vae.encode(new Uint8ClampedArray(785))).toThrow(/VAE\.encode: x has 785 values, which is not a whole number of rows of 784/);
    vae.dispose();
  });

  it('an array of Uint8Array rows is bytes, like a flat Uint8Array; rows of numbers are values; a mix is refused', async () => {
    const u8 = mnist('train-images-idx3-ubyte', 32);
    const byteRows = Array.from({ length: 32 }, (_, i) => u8.subarray(i * 784, (i + 1) * 784));
    expect((await trained(byteRows)).equals(await trained(u8))).toBe(true);
    const valueRows = byteRows.map((r) => Array.from(r, (v) => v / 255));
    expect((await trained(valueRows)).equals(await trained(Float32Array.from(u8, (v) => v / 255)))).toBe(true);
    const vae = await VAE.create(small);
    expect(() => vae.encode([byteRows[0]!, valueRows[1]!])).toThrow(/VAE\.encode: x\[0\] is a row of bytes \(0–255\) but x\[1\] is \[0, 0, 0, 0, 0, … 784 items in all\]; give every row as bytes or every row as values/);
    vae.dispose();
  });

  it('a flat number[] is one row after another, like a flat Float32Array', async () => {
    const x = Float32Array.from(mnist('train-images-idx3-ubyte', 32), (v) => v / 255);
    expect((await trained(Array.from(x))).equals(await trained(x))).toBe(true);
    const ae = await Autoencoder.create({ ...small, loss: 'mse' });
    expect(ae.encode(Array.from(x.subarray(0, 784 * 2)))).toEqual(ae.encode(x.subarray(0, 784 * 2)));
    expect(() => ae.encode([0.5, '0.5', 1] as never)).toThrow(/Autoencoder\.encode: x is a flat array of numbers, but item 1 is "0\.5"/);
    expect(() => ae.encode(new Array(785).fill(0.5))).toThrow(/785 values, which is not a whole number of rows of 784/);
    ae.dispose();
  });

  it('ArrayBuffer wherever bytes are: load, fromPyTorch, loadIdx, decodeSafetensors', async () => {
    const vae = await VAE.create({ ...small, encoder: [8], decoder: [8] });
    const saved = vae.save();
    const x = mnist('t10k-images-idx3-ubyte', 4);
    for (const bytes of [saved.slice().buffer, new DataView(saved.slice().buffer)]) {
      const back = await VAE.load(bytes);
      expect(back.reconstruct(x)).toEqual(vae.reconstruct(x));
      back.dispose();
    }
    const ae = await Autoencoder.create(small);
    const aeBack = await Autoencoder.load(ae.save().slice().buffer);
    expect(aeBack.encode(x)).toEqual(ae.encode(x));
    const fromTorch = await VAE.fromPyTorch(vae.toPyTorch().slice().buffer);
    expect(fromTorch.reconstruct(x)).toEqual(vae.reconstruct(x));
    expect(Object.keys(decodeSafetensors(saved.slice().buffer).tensors)).toEqual(Object.keys(decodeSafetensors(saved).tensors));
    expect(loadIdx(idxFile(3).slice().buffer).shape).toEqual([3, 28, 28]);
    await expect(VAE.load('model.safetensors' as never)).rejects.toThrow(/^VAE\.load: bytes must be a Uint8Array or an ArrayBuffer \(the output of save\(\)\), got "model\.safetensors"$/);
    expect(() => loadIdx([0, 0, 8, 1] as never)).toThrow(/^loadIdx: bytes must be a Uint8Array or an ArrayBuffer \(an IDX file, gzipped or not\), got \[0, 0, 8, 1\]$/);
    for (const m of [vae, ae, aeBack, fromTorch]) m.dispose();
  });

  it('an array whose buffer was transferred away (postMessage) is named as such, not as empty', async () => {
    const vae = await VAE.create(small);
    // (Only arrays made here: mnist() hands out views of one cached Buffer, whose slice() is a view too.)
    const detach = <T extends ArrayBufferView | ArrayBuffer>(a: T): T => {
      const buf = (ArrayBuffer.isView(a) ? a.buffer : a) as ArrayBuffer;
      structuredClone(buf, { transfer: [buf] });
      return a;
    };
    const said = /its ArrayBuffer is detached: it was transferred \(postMessage with a transfer list\) and reads as empty; pass the data before transferring it, or a copy/;
    await expect(vae.fit(detach(new Uint8Array(mnist('train-images-idx3-ubyte', 8))), { epochs: 1 })).rejects.toThrow(said);
    expect(() => vae.encode(detach(new Float32Array(784)))).toThrow(/^VAE\.encode: x: its ArrayBuffer is detached/);
    expect(() => vae.encode({ data: detach(new Uint8ClampedArray(784)), rows: 1, cols: 784 } as never)).toThrow(said);
    expect(() => loadIdx(detach(idxFile(1)))).toThrow(/^loadIdx: bytes: its ArrayBuffer is detached/);
    expect(() => loadIdx(detach(idxFile(1).slice().buffer))).toThrow(said);
    await expect(VAE.load(detach(vae.save()))).rejects.toThrow(said);
    // A caller's output array: the message says what was given.
    const z = vae.encode(mnist('t10k-images-idx3-ubyte', 1)).mean;
    expect(() => vae.decode(z, { out: detach(new Float32Array(784)) })).toThrow(/Float32Array\(0\) \(detached: transferred away\)/);
    expect(describe(detach(new ArrayBuffer(8)))).toBe('a detached ArrayBuffer (transferred away)');
    // An empty array that was never transferred is still just empty.
    expect(() => vae.encode(new Float32Array(0))).toThrow(/x is empty; expected at least one row of 784 values/);
    vae.dispose();
  });
});

suite('first mistakes get errors that say what to do', () => {
  it('real-valued data under a Bernoulli likelihood or BCE points to the Gaussian likelihood / MSE, or scaling', async () => {
    const x = new Float32Array(784 * 3).fill(0.5);
    x[1] = -0.62;
    const vae = await VAE.create(small);
    await expect(vae.fit(x)).rejects.toThrow("VAE.fit: data has -0.6200000047683716 at row 0, column 1; a Bernoulli likelihood needs values in [0, 1]. For real-valued data use likelihood: 'gaussian' (CLI: --likelihood gaussian), or scale the data to [0, 1]");
    const ae = await Autoencoder.create(small);
    expect(() => ae.encode(x)).toThrow("Autoencoder.encode: x has -0.6200000047683716 at row 0, column 1; BCE loss needs values in [0, 1]. For real-valued data use loss: 'mse' (CLI: --model ae --loss mse), or scale the data to [0, 1]");
    // Following the advice works.
    const gaussian = await VAE.create({ ...small, likelihood: 'gaussian' });
    expect(await gaussian.fit(x)).toHaveLength(1);
    for (const m of [vae, ae, gaussian]) m.dispose();
  });

  it('fit on fewer rows than 128 uses one full batch by default; an explicit batchSize above the rows is an error', async () => {
    const x = mnist('train-images-idx3-ubyte', 40);
    const vae = await VAE.create(small);
    const batches: number[] = [];
    const h = await vae.fit(x, { epochs: 3, onBatchEnd: (b) => { batches.push(b.batches); } });
    expect(h).toHaveLength(3);
    expect(batches).toEqual([1, 1, 1]);
    expect(vae.step).toBe(3);
    // The same steps as asking for batchSize 40.
    const explicit = await VAE.create(small);
    await explicit.fit(x, { epochs: 3, batchSize: 40 });
    expect(weightBytes(explicit).equals(weightBytes(vae))).toBe(true);
    await expect(vae.fit(x, { batchSize: 41 })).rejects.toThrow('VAE.fit: batchSize 41 is larger than the 40 rows of data; expected at most 40');
    // With 128 rows or more, the default is 128 rows per step.
    const big: number[] = [];
    await vae.fit(mnist('train-images-idx3-ubyte', 300), { onBatchEnd: (b) => { big.push(b.batches); } });
    expect(big).toEqual([3, 3, 3]);
    vae.dispose();
    explicit.dispose();
  });

  it('new VAE(...) and new Autoencoder(...) say to use the async factories', () => {
    const AnyVAE = VAE as unknown as new (config: unknown) => unknown;
    const AnyAE = Autoencoder as unknown as new (config: unknown) => unknown;
    expect(() => new AnyVAE({ inputDim: 784, latentDim: 20 })).toThrow('new VAE(...) is not supported: use `await VAE.create(config)` (or `await VAE.load(bytes)`), which loads the wasm core first');
    expect(() => new AnyAE({ inputDim: 784, latentDim: 20 })).toThrow(/^new Autoencoder\(\.\.\.\) is not supported: use `await Autoencoder\.create\(config\)`/);
  });
});
