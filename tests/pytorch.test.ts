// PyTorch interop: a pytorch/examples state dict (fc1…fc4, weights out × in) written by an independent safetensors
// writer (built here from the published spec) loads and computes what PyTorch's layers would; and our export
// reads back the same.
import { describe, expect, it } from 'vitest';
import { VAE, decodeSafetensors } from '../ts/index';
import { TestRandom } from './oracle';

/** A safetensors file from the spec: u64 LE header size, JSON header (insertion order kept), F32 LE data. */
function writeSafetensors(tensors: [string, number[], Float32Array][]): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape, data] of tensors) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.length * 4] };
    offset += data.length * 4;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const [, , data] of tensors) for (const x of data) { v.setFloat32(at, x, true); at += 4; }
  return out;
}

const [D, H, L] = [6, 4, 2];
const rnd = new TestRandom(42);
const sd: Record<string, [number[], Float32Array]> = {
  'fc1.weight': [[H, D], rnd.normals(H * D)], 'fc1.bias': [[H], rnd.normals(H)],
  'fc21.weight': [[L, H], rnd.normals(L * H)], 'fc21.bias': [[L], rnd.normals(L)],
  'fc22.weight': [[L, H], rnd.normals(L * H)], 'fc22.bias': [[L], rnd.normals(L)],
  'fc3.weight': [[H, L], rnd.normals(H * L)], 'fc3.bias': [[H], rnd.normals(H)],
  'fc4.weight': [[D, H], rnd.normals(D * H)], 'fc4.bias': [[D], rnd.normals(D)],
};
const file = writeSafetensors(Object.entries(sd).reverse().map(([n, [s, d]]) => [n, s, d]));

/** PyTorch's Linear: y = x Wᵀ + b with W stored out × in. */
function linear(x: number[], name: string): number[] {
  const [[out, inp], w] = sd[`${name}.weight`]!;
  const b = sd[`${name}.bias`]![1];
  return Array.from({ length: out! }, (_, o) => b[o]! + x.reduce((s, xi, i) => s + xi * w[o * inp! + i]!, 0));
}
const relu = (v: number[]) => v.map((a) => Math.max(0, a));

describe('pytorch/examples layout', () => {
  it('a PyTorch state dict computes what PyTorch would', async () => {
    const vae = await VAE.fromPyTorch(file);
    expect(vae.config).toMatchObject({ inputDim: D, latentDim: L, encoder: [H], decoder: [H], activation: 'relu', likelihood: 'bernoulli' });
    const x = [0.1, 0.9, 0.5, 0, 1, 0.3];
    const { mean, logVar } = vae.encode(Float32Array.from(x));
    const h = relu(linear(x, 'fc1'));
    linear(h, 'fc21').forEach((v, i) => expect(mean[i]).toBeCloseTo(v, 5));
    linear(h, 'fc22').forEach((v, i) => expect(logVar[i]).toBeCloseTo(v, 5));
    const z = [0.7, -1.2];
    const logits = vae.decode(Float32Array.from(z), { logits: true });
    linear(relu(linear(z, 'fc3')), 'fc4').forEach((v, i) => expect(logits[i]).toBeCloseTo(v, 5));
    // Export: the same tensors, out × in.
    const back = decodeSafetensors(vae.toPyTorch());
    expect(back.metadata).toEqual({ format: 'pt' });
    for (const [name, [shape, data]] of Object.entries(sd)) {
      expect(back.tensors[name]!.shape, name).toEqual(shape);
      expect(back.tensors[name]!.data, name).toEqual(data);
    }
    vae.dispose();
  });

  it('rejects files that do not fit the layout, with the tensor named', async () => {
    const without = writeSafetensors(Object.entries(sd).filter(([n]) => n !== 'fc22.bias').map(([n, [s, d]]) => [n, s, d]));
    await expect(VAE.fromPyTorch(without)).rejects.toThrow(/no tensor "fc22.bias"/);
    const wrong = writeSafetensors(Object.entries(sd).map(([n, [s, d]]) => (n === 'fc21.weight' ? [n, [L, D], rnd.normals(L * D)] : [n, s, d])));
    await expect(VAE.fromPyTorch(wrong)).rejects.toThrow(/fc21.weight has shape \[2, 6\]; the model's encoder.mean.weight needs \[2, 4\] in PyTorch's layout/);
    const extra = writeSafetensors([...Object.entries(sd).map(([n, [s, d]]) => [n, s, d] as [string, number[], Float32Array]), ['fc5.bias', [1], new Float32Array(1)]]);
    await expect(VAE.fromPyTorch(extra)).rejects.toThrow(/unexpected tensors "fc5.bias"/);
    // Another layout exports under our own layer names (or the names given), weights out × in.
    const deep = await VAE.create({ inputDim: 6, latentDim: 2, encoder: [4, 3] });
    const t = decodeSafetensors(deep.toPyTorch()).tensors;
    expect(Object.keys(t).sort()).toEqual(['decoder.0', 'decoder.1', 'decoder.out', 'encoder.0', 'encoder.1', 'encoder.logVar', 'encoder.mean'].flatMap((p) => [`${p}.bias`, `${p}.weight`]).sort());
    expect(t['encoder.1.weight']!.shape).toEqual([3, 4]);
    expect(Object.keys(decodeSafetensors(deep.toPyTorch({ names: { 'encoder.0': 'a', 'encoder.1': 'b', 'encoder.mean': 'm', 'encoder.logVar': 'v', 'decoder.0': 'c', 'decoder.1': 'd', 'decoder.out': 'o' } })).tensors)).toContain('b.weight');
    expect(() => deep.toPyTorch({ names: { 'encoder.0': 'a' } })).toThrow(/no PyTorch name for our "encoder.1.weight"; give options.names a name for "encoder.1"/);
    deep.dispose();
  });
});

// The convolutional reference's layout (conv_vae_ref.py's names c1 … t3), in small, with 2 input channels so that
// PyTorch's channels-first order and ours differ: written from the PyTorch definitions (NCHW tensors, Conv2d
// weights [out, in, kh, kw], ConvTranspose2d weights [in, out, kh, kw], flatten in (c, y, x) order,
// view(-1, C, H, W)), independently of our layouts.
describe('PyTorch convolutional layout', () => {
  type T4 = { c: number; h: number; w: number; v: Float64Array };
  const R = new TestRandom(9);
  const tensor = (shape: number[]) => [shape, R.normals(shape.reduce((a, b) => a * b, 1)).map((x) => 0.4 * x)] as [number[], Float32Array];
  const p: Record<string, [number[], Float32Array]> = {
    'c1.weight': tensor([3, 2, 3, 3]), 'c1.bias': tensor([3]), 'c2.weight': tensor([4, 3, 3, 3]), 'c2.bias': tensor([4]),
    'fc.weight': tensor([5, 16]), 'fc.bias': tensor([5]), 'mu.weight': tensor([2, 5]), 'mu.bias': tensor([2]),
    'lv.weight': tensor([2, 5]), 'lv.bias': tensor([2]), 'd0.weight': tensor([16, 2]), 'd0.bias': tensor([16]),
    't1.weight': tensor([4, 3, 3, 3]), 't1.bias': tensor([3]), 't2.weight': tensor([3, 3, 3, 3]), 't2.bias': tensor([3]),
    't3.weight': tensor([3, 2, 3, 3]), 't3.bias': tensor([2]),
  };
  const pt = writeSafetensors(Object.entries(p).map(([n, [s, d]]) => [n, s, d]));
  const config = {
    inputShape: [8, 8, 2], latentDim: 2, activation: 'relu' as const,
    encoder: [{ type: 'conv2d' as const, filters: 3, kernelSize: 3, strides: 2, padding: 1 }, { type: 'conv2d' as const, filters: 4, kernelSize: 3, strides: 2, padding: 1 }, { type: 'flatten' as const }, 5],
    decoder: [16, { type: 'reshape' as const, targetShape: [2, 2, 4] }, { type: 'conv2dTranspose' as const, filters: 3, kernelSize: 3, strides: 2, padding: 1, outputPadding: 1 }, { type: 'conv2dTranspose' as const, filters: 3, kernelSize: 3, strides: 2, padding: 1, outputPadding: 1 }],
    output: { type: 'conv2dTranspose' as const, kernelSize: 3, padding: 1 },
  };
  const relu = (t: T4): T4 => ({ ...t, v: t.v.map((a) => Math.max(0, a)) });
  function conv(x: T4, name: string, s: number, pad: number): T4 {
    const [F, C, k] = p[`${name}.weight`]![0] as [number, number, number];
    const w = p[`${name}.weight`]![1];
    const b = p[`${name}.bias`]![1];
    const h = Math.floor((x.h + 2 * pad - k) / s) + 1;
    const wd = Math.floor((x.w + 2 * pad - k) / s) + 1;
    const v = new Float64Array(F * h * wd);
    for (let f = 0; f < F; f++) for (let oy = 0; oy < h; oy++) for (let ox = 0; ox < wd; ox++) {
      let acc = b[f]!;
      for (let c = 0; c < C; c++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
        const iy = oy * s - pad + ky;
        const ix = ox * s - pad + kx;
        if (iy >= 0 && iy < x.h && ix >= 0 && ix < x.w) acc += x.v[(c * x.h + iy) * x.w + ix]! * w[((f * C + c) * k + ky) * k + kx]!;
      }
      v[(f * h + oy) * wd + ox] = acc;
    }
    return { c: F, h, w: wd, v };
  }
  function convT(x: T4, name: string, s: number, pad: number, op: number): T4 {
    const [C, F, k] = p[`${name}.weight`]![0] as [number, number, number];
    const w = p[`${name}.weight`]![1];
    const b = p[`${name}.bias`]![1];
    const h = (x.h - 1) * s - 2 * pad + k + op;
    const wd = (x.w - 1) * s - 2 * pad + k + op;
    const v = new Float64Array(F * h * wd);
    for (let f = 0; f < F; f++) for (let i = 0; i < h * wd; i++) v[f * h * wd + i] = b[f]!;
    for (let c = 0; c < C; c++) for (let iy = 0; iy < x.h; iy++) for (let ix = 0; ix < x.w; ix++) for (let f = 0; f < F; f++) {
      for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
        const oy = iy * s - pad + ky;
        const ox = ix * s - pad + kx;
        if (oy >= 0 && oy < h && ox >= 0 && ox < wd) v[(f * h + oy) * wd + ox] = v[(f * h + oy) * wd + ox]! + x.v[(c * x.h + iy) * x.w + ix]! * w[((c * F + f) * k + ky) * k + kx]!;
      }
    }
    return { c: F, h, w: wd, v };
  }
  const lin = (x: Float64Array, name: string) => Float64Array.from(linear(Array.from(x), name));
  function linear(x: number[], name: string): number[] {
    const [[out, inp], w] = p[`${name}.weight`]! as [[number, number], Float32Array];
    const b = p[`${name}.bias`]![1];
    return Array.from({ length: out }, (_, o) => b[o]! + x.reduce((s, xi, i) => s + xi * w[o * inp + i]!, 0));
  }

  it('a state dict of the reference layout computes what PyTorch would, and exports back to the same tensors', async () => {
    const vae = await VAE.fromPyTorch(pt, config);
    const nchw = R.uniforms(2 * 8 * 8);
    // Our data are channels last: the same image, (y, x, c).
    const hwc = new Float32Array(128);
    for (let c = 0; c < 2; c++) for (let i = 0; i < 64; i++) hwc[i * 2 + c] = nchw[c * 64 + i]!;
    const h1 = relu(conv({ c: 2, h: 8, w: 8, v: Float64Array.from(nchw) }, 'c1', 2, 1));
    const h2 = relu(conv(h1, 'c2', 2, 1));
    const e = lin(h2.v, 'fc').map((a) => Math.max(0, a));
    const { mean, logVar } = vae.encode(hwc);
    lin(e, 'mu').forEach((v, i) => expect(Math.abs(mean[i]! - v)).toBeLessThan(1e-5));
    lin(e, 'lv').forEach((v, i) => expect(Math.abs(logVar[i]! - v)).toBeLessThan(1e-5));
    const z = Float64Array.from([0.6, -0.9]);
    const d = { c: 4, h: 2, w: 2, v: lin(z, 'd0').map((a) => Math.max(0, a)) };
    const out = convT(relu(convT(relu(convT(d, 't1', 2, 1, 1)), 't2', 2, 1, 1)), 't3', 1, 1, 0);
    expect([out.c, out.h, out.w]).toEqual([2, 8, 8]);
    const logits = vae.decode(Float32Array.from(z), { logits: true });
    for (let c = 0; c < 2; c++) for (let i = 0; i < 64; i++) expect(Math.abs(logits[i * 2 + c]! - out.v[c * 64 + i]!)).toBeLessThan(1e-5);
    const back = decodeSafetensors(vae.toPyTorch());
    for (const [name, [shape, data]] of Object.entries(p)) {
      expect(back.tensors[name]!.shape, name).toEqual(shape);
      expect(back.tensors[name]!.data, name).toEqual(data);
    }
    vae.dispose();
  });

  it('a conditional model: the condition columns follow the flattened channels-first image, and export back', async () => {
    // PyTorch: fc reads torch.cat([h2.flatten(1), c], 1) and d0 reads torch.cat([z, c], 1).
    const pc: Record<string, [number[], Float32Array]> = { ...p, 'fc.weight': tensor([5, 16 + 3]), 'd0.weight': tensor([16, 2 + 3]) };
    const file = writeSafetensors(Object.entries(pc).map(([n, [s, d]]) => [n, s, d]));
    const lin = (x: number[], name: string): Float64Array => {
      const [[out, inp], w] = pc[`${name}.weight`]! as [[number, number], Float32Array];
      const b = pc[`${name}.bias`]![1];
      return Float64Array.from({ length: out }, (_, o) => b[o]! + x.reduce((s, xi, i) => s + xi * w[o * inp + i]!, 0));
    };
    const vae = await VAE.fromPyTorch(file, { ...config, conditionDim: 3 });
    const nchw = R.uniforms(2 * 8 * 8);
    const hwc = new Float32Array(128);
    for (let c = 0; c < 2; c++) for (let i = 0; i < 64; i++) hwc[i * 2 + c] = nchw[c * 64 + i]!;
    const cond = [0.3, -1.2, 2];
    const h2 = relu(conv(relu(conv({ c: 2, h: 8, w: 8, v: Float64Array.from(nchw) }, 'c1', 2, 1)), 'c2', 2, 1));
    const e = lin([...h2.v, ...cond], 'fc').map((a) => Math.max(0, a));
    const { mean } = vae.encode(hwc, { condition: Float32Array.from(cond) });
    lin(Array.from(e), 'mu').forEach((v, i) => expect(Math.abs(mean[i]! - v)).toBeLessThan(1e-5));
    const z = [0.6, -0.9];
    const d = { c: 4, h: 2, w: 2, v: lin([...z, ...cond], 'd0').map((a) => Math.max(0, a)) };
    const out = convT(relu(convT(relu(convT(d, 't1', 2, 1, 1)), 't2', 2, 1, 1)), 't3', 1, 1, 0);
    const logits = vae.decode(Float32Array.from(z), { logits: true, condition: Float32Array.from(cond) });
    for (let c = 0; c < 2; c++) for (let i = 0; i < 64; i++) expect(Math.abs(logits[i * 2 + c]! - out.v[c * 64 + i]!)).toBeLessThan(1e-5);
    const back = decodeSafetensors(vae.toPyTorch());
    for (const [name, [shape, data]] of Object.entries(pc)) expect(back.tensors[name]!.data, name).toEqual(data);
    vae.dispose();
  });

  it('other module names map through options.names; mismatches name the tensor', async () => {
    const renamed = writeSafetensors(Object.entries(p).map(([n, [s, d]]) => [`m_${n}`, s, d]));
    const names = { 'encoder.0': 'm_c1', 'encoder.1': 'm_c2', 'encoder.3': 'm_fc', 'encoder.mean': 'm_mu', 'encoder.logVar': 'm_lv', 'decoder.0': 'm_d0', 'decoder.2': 'm_t1', 'decoder.3': 'm_t2', 'decoder.out': 'm_t3' };
    const a = await VAE.fromPyTorch(renamed, config, { names });
    const b = await VAE.fromPyTorch(pt, config);
    expect(a.getWeights()).toEqual(b.getWeights());
    await expect(VAE.fromPyTorch(renamed, config)).rejects.toThrow(/options\.names must be given/);
    const wider = { ...config, encoder: [config.encoder[0]!, { type: 'conv2d' as const, filters: 5, kernelSize: 3, strides: 2, padding: 1 }, ...config.encoder.slice(2)] };
    await expect(VAE.fromPyTorch(pt, wider))
      .rejects.toThrow(/c2\.weight has shape \[4, 3, 3, 3\]; the model's encoder\.1\.weight needs \[5, 3, 3, 3\] in PyTorch's layout/);
    await expect(VAE.fromPyTorch(pt)).rejects.toThrow(/config must be given with the model's layers/);
    a.dispose();
    b.dispose();
  });
});
