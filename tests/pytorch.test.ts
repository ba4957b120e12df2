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
    await expect(VAE.fromPyTorch(wrong)).rejects.toThrow(/fc21.weight has shape \[2, 6\]; expected \[2, 4\]/);
    const extra = writeSafetensors([...Object.entries(sd).map(([n, [s, d]]) => [n, s, d] as [string, number[], Float32Array]), ['fc5.bias', [1], new Float32Array(1)]]);
    await expect(VAE.fromPyTorch(extra)).rejects.toThrow(/unexpected tensors "fc5.bias"/);
    const deep = await VAE.create({ inputDim: 6, latentDim: 2, encoder: [4, 3] });
    expect(() => deep.toPyTorch()).toThrow(/only the pytorch\/examples layout/);
    deep.dispose();
  });
});
