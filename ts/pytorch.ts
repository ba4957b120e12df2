/**
 * Interop with PyTorch state dicts saved as safetensors (`safetensors.torch.save_file(model.state_dict(), path)`
 * writes one; `load_file` reads ours). Layouts differ, and the conversions are done here:
 * - nn.Linear stores weights out × in; ours are in × out (transposed).
 * - nn.Conv2d stores [out, in, kh, kw] and nn.ConvTranspose2d [in, out, kh, kw]; ours are [kh, kw, in, out] and
 *   [kh, kw, out, in] (TensorFlow.js's layouts): both are PyTorch's axes permuted (2, 3, 1, 0).
 * - PyTorch images are channels first, ours channels last: where a linear layer reads a flattened image (after
 *   `flatten`, or an image input) its rows are reordered from (c, y, x) to (y, x, c); where its output is reshaped
 *   into an image (`view(-1, C, H, W)`), its columns and bias are.
 * Names: the pytorch/examples VAE (fc1, fc21, fc22, fc3, fc4), the convolutional reference
 * (`conv_vae_ref.py`: c1, c2, fc, mu, lv, d0, t1, t2, t3) are recognised; any other model maps with `names`
 * (our layer prefix → the PyTorch module's name).
 */
import type { CoreShape } from './core/abi';
import type { LayerInfo, TensorSpec } from './model';
import { decodeSafetensors, encodeSafetensors } from './safetensors';
import type { NamedTensor } from './types';

/** Our layer prefix → PyTorch's module name, for the pytorch/examples VAE. */
export const PYTORCH_EXAMPLES_NAMES: Record<string, string> = {
  'encoder.0': 'fc1',
  'encoder.mean': 'fc21',
  'encoder.logVar': 'fc22',
  'decoder.0': 'fc3',
  'decoder.out': 'fc4',
};

/** The same for the keras.io conv VAE in PyTorch (`conv_vae_ref.py`). */
export const CONV_REFERENCE_NAMES: Record<string, string> = {
  'encoder.0': 'c1', 'encoder.1': 'c2', 'encoder.3': 'fc', 'encoder.mean': 'mu', 'encoder.logVar': 'lv',
  'decoder.0': 'd0', 'decoder.2': 't1', 'decoder.3': 't2', 'decoder.out': 't3',
};

/** How a layer's tensors differ from PyTorch's: a weight permutation and, for linear layers, image reorders. */
interface Conversion {
  kind: 'linear' | 'conv';
  /** Linear layers: the image whose flattening their rows read, or their columns are reshaped into (c > 1 only). */
  rowsFrom?: CoreShape;
  colsTo?: CoreShape;
}

/**
 * Index in (c, y, x) order of the value at (y, x, c) order index i, for an image s. Indices past the image are a
 * conditional model's condition rows, which follow the image in both layouts (`torch.cat([h, c], 1)`).
 */
function chwIndex(s: CoreShape, i: number): number {
  if (i >= s.h * s.w * s.c) return i;
  const c = i % s.c;
  const p = (i - c) / s.c;
  return c * s.h * s.w + p;
}

/** Each parametric layer's conversion, by our prefix, from the compiled plan's layers. */
function conversions(layers: readonly LayerInfo[], input: CoreShape): Map<string, Conversion> {
  const image = (s: CoreShape | undefined) => (s && s.rank === 3 && s.c > 1 ? s : undefined);
  const encoderSide = (p: number) => layers[p]!.section === 'encoder';
  /** The computing layer nearest to p in direction `step` on p's side of the latent, if any. */
  const near = (p: number, step: 1 | -1): LayerInfo | undefined => {
    for (let j = p + step; j >= 0 && j < layers.length && encoderSide(j) === encoderSide(p); j += step) {
      if (layers[j]!.op !== 'view') return layers[j];
    }
    return undefined;
  };
  const out = new Map<string, Conversion>();
  layers.forEach((l, p) => {
    if (l.op === 'view') return;
    const prefix = l.section === 'output' ? 'decoder.out' : `${l.section}.${l.index}`;
    if (l.op !== 'dense') {
      out.set(prefix, { kind: 'conv' });
      return;
    }
    // Rows: what it reads (an encoder layer with nothing before it reads the input; a decoder one, flat z).
    const before = near(p, -1);
    const rowsFrom = image(before ? before.output : encoderSide(p) ? input : undefined);
    // Columns: what its output is read as (the output layer's is compared with data of the input's shape).
    const colsTo = image(l.section === 'output' ? input : near(p, 1)?.input);
    out.set(prefix, { kind: 'linear', rowsFrom, colsTo });
  });
  // The latent's heads read the encoder's output (the input itself when the encoder computes nothing).
  const last = [...layers].reverse().find((l) => l.section === 'encoder' && l.op !== 'view');
  const heads: Conversion = { kind: 'linear', rowsFrom: image(last ? last.output : input) };
  for (const head of ['encoder.mean', 'encoder.logVar', 'encoder.code']) out.set(head, heads);
  return out;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** Permutes a 4-D array's axes by (2, 3, 1, 0): PyTorch [a, b, kh, kw] → ours [kh, kw, b, a], or back. */
function permute2310(data: Float32Array, shape: number[], toOurs: boolean): { shape: number[]; data: Float32Array } {
  const [a, b, kh, kw] = toOurs ? shape as [number, number, number, number] : [shape[3]!, shape[2]!, shape[0]!, shape[1]!];
  const out = new Float32Array(data.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
    const torch = ((i * b + j) * kh + y) * kw + x;
    const ours = ((y * kw + x) * b + j) * a + i;
    if (toOurs) out[ours] = data[torch]!;
    else out[torch] = data[ours]!;
  }
  return { shape: toOurs ? [kh, kw, b, a] : [a, b, kh, kw], data: out };
}

/** Our weight (in × out) ↔ PyTorch's Linear weight (out × in), with the image reorders. */
function convertLinear(w: Float32Array, rows: number, cols: number, conv: Conversion, toOurs: boolean): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    const tr = conv.rowsFrom ? chwIndex(conv.rowsFrom, r) : r;
    for (let c = 0; c < cols; c++) {
      const tc = conv.colsTo ? chwIndex(conv.colsTo, c) : c;
      // ours[r][c] = torch[tc][tr]
      if (toOurs) out[r * cols + c] = w[tc * rows + tr]!;
      else out[tc * rows + tr] = w[r * cols + c]!;
    }
  }
  return out;
}

function convertBias(b: Float32Array, conv: Conversion, toOurs: boolean): Float32Array {
  if (conv.kind !== 'linear' || !conv.colsTo) return b.slice();
  const out = new Float32Array(b.length);
  for (let i = 0; i < b.length; i++) {
    if (toOurs) out[i] = b[chwIndex(conv.colsTo, i)]!;
    else out[chwIndex(conv.colsTo, i)] = b[i]!;
  }
  return out;
}

export interface ModelLayout {
  tensors: readonly TensorSpec[];
  layers: readonly LayerInfo[];
  input: CoreShape;
}

/** Our tensor name (layer prefix, then weight or bias) → the PyTorch module's name for that layer, from `names`. */
function pytorchName(where: string, name: string, names: Record<string, string>): { prefix: string; part: 'weight' | 'bias'; theirs: string } {
  const dot = name.lastIndexOf('.');
  const [prefix, part] = [name.slice(0, dot), name.slice(dot + 1)];
  const theirs = names[prefix];
  if (theirs === undefined || (part !== 'weight' && part !== 'bias')) {
    throw new Error(`${where}: no PyTorch name for our ${JSON.stringify(name)}; give options.names a name for ${JSON.stringify(prefix)}`);
  }
  return { prefix, part, theirs };
}

/** Our weights → a PyTorch state dict under `names`, as safetensors bytes. */
export function encodePyTorch(where: string, weights: Record<string, NamedTensor>, layout: ModelLayout, names: Record<string, string>): Uint8Array {
  const conv = conversions(layout.layers, layout.input);
  const out: Record<string, NamedTensor> = {};
  for (const t of layout.tensors) {
    const { prefix, part, theirs } = pytorchName(where, t.name, names);
    const c = conv.get(prefix)!;
    const w = weights[t.name]!;
    if (part === 'bias') out[`${theirs}.bias`] = { shape: [...w.shape], data: convertBias(w.data, c, false) };
    else if (c.kind === 'conv') out[`${theirs}.weight`] = permute2310(w.data, w.shape, false);
    else out[`${theirs}.weight`] = { shape: [w.shape[1]!, w.shape[0]!], data: convertLinear(w.data, w.shape[0]!, w.shape[1]!, c, false) };
  }
  return encodeSafetensors(out, { format: 'pt' });
}

/** A PyTorch state dict (safetensors bytes) → our weights under our names, checked against the model's shapes. */
export function decodePyTorchInto(where: string, bytes: Uint8Array, layout: ModelLayout, names: Record<string, string>): Record<string, NamedTensor> {
  const { tensors } = decodeSafetensors(bytes);
  const conv = conversions(layout.layers, layout.input);
  const used = new Set<string>();
  const out: Record<string, NamedTensor> = {};
  for (const t of layout.tensors) {
    const { prefix, part, theirs } = pytorchName(where, t.name, names);
    const key = `${theirs}.${part}`;
    const src = tensors[key];
    if (!src) throw new Error(`${where}: the file has no tensor ${JSON.stringify(key)} (for our ${t.name}); it has ${Object.keys(tensors).map((k) => JSON.stringify(k)).join(', ')}`);
    used.add(key);
    const c = conv.get(prefix)!;
    const want = part === 'bias' ? t.shape : c.kind === 'conv' ? [t.shape[3]!, t.shape[2]!, t.shape[0]!, t.shape[1]!] : [t.shape[1]!, t.shape[0]!];
    if (src.shape.length !== want.length || src.shape.some((d, i) => d !== want[i])) {
      throw new Error(`${where}: ${key} has shape [${src.shape.join(', ')}]; the model's ${t.name} needs [${want.join(', ')}] in PyTorch's layout`);
    }
    if (part === 'bias') out[t.name] = { shape: [...t.shape], data: convertBias(src.data, c, true) };
    else if (c.kind === 'conv') out[t.name] = permute2310(src.data, src.shape, true);
    else out[t.name] = { shape: [...t.shape], data: convertLinear(src.data, t.shape[0]!, t.shape[1]!, c, true) };
  }
  const extra = Object.keys(tensors).filter((k) => !used.has(k));
  if (extra.length > 0) throw new Error(`${where}: unexpected tensors ${extra.map((n) => JSON.stringify(n)).join(', ')}; the model maps ${[...used].join(', ')}`);
  return out;
}

/** The pytorch/examples VAE's sizes, from its tensors (for creating the matching model). */
export function pytorchExamplesSizes(where: string, bytes: Uint8Array): { inputDim: number; hidden: number; decoderHidden: number; latentDim: number } {
  const { tensors } = decodeSafetensors(bytes);
  const need = Object.values(PYTORCH_EXAMPLES_NAMES).flatMap((n) => [`${n}.weight`, `${n}.bias`]);
  for (const n of need) if (!tensors[n]) throw new Error(`${where}: the file has no tensor ${JSON.stringify(n)}; expected ${need.join(', ')} (or pass a config with the layers and options.names)`);
  const shape = (n: string) => tensors[n]!.shape;
  const [hidden, inputDim] = shape('fc1.weight') as [number, number];
  return { inputDim, hidden, latentDim: shape('fc21.weight')[0]!, decoderHidden: shape('fc3.weight')[0]! };
}

/** Which built-in naming a state dict uses, if any. */
export function knownNames(bytes: Uint8Array): Record<string, string> | undefined {
  const keys = new Set(Object.keys(decodeSafetensors(bytes).tensors));
  for (const names of [PYTORCH_EXAMPLES_NAMES, CONV_REFERENCE_NAMES]) {
    if (Object.values(names).every((n) => keys.has(`${n}.weight`))) return names;
  }
  return undefined;
}
