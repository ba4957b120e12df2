/**
 * Interop with the pytorch/examples VAE (examples/vae/main.py): fc1 (input → hidden), fc21 (hidden → μ),
 * fc22 (hidden → log σ²), fc3 (latent → hidden), fc4 (hidden → input logits). PyTorch's nn.Linear stores weights
 * out × in; ours are in × out, so every weight is transposed on the way in and out. Files are safetensors
 * (`safetensors.torch.save_file(model.state_dict(), path)` writes one; `load_file` reads ours).
 */
import { toBytes } from './data';
import { decodeSafetensors, encodeSafetensors } from './safetensors';
import type { BytesInput, NamedTensor } from './types';

/** Our tensor name ← PyTorch's, for the weights (biases follow the same mapping). */
export const PYTORCH_NAMES: Record<string, string> = {
  'encoder.0': 'fc1',
  'encoder.mean': 'fc21',
  'encoder.logVar': 'fc22',
  'decoder.0': 'fc3',
  'decoder.out': 'fc4',
};

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** Our weights (in × out) → a PyTorch state dict (out × in), as safetensors bytes. */
export function encodePyTorch(weights: Record<string, NamedTensor>): Uint8Array {
  const out: Record<string, NamedTensor> = {};
  for (const [ours, theirs] of Object.entries(PYTORCH_NAMES)) {
    const w = weights[`${ours}.weight`];
    const b = weights[`${ours}.bias`];
    if (!w || !b) throw new Error(`toPyTorch: the model has no ${ours} layer`);
    const [rows, cols] = w.shape as [number, number];
    out[`${theirs}.weight`] = { shape: [cols, rows], data: transpose(w.data, rows, cols) };
    out[`${theirs}.bias`] = { shape: [...b.shape], data: b.data.slice() };
  }
  return encodeSafetensors(out, { format: 'pt' });
}

/** A PyTorch state dict (safetensors bytes) → our weights, plus the layer sizes they imply. */
export function decodePyTorch(where: string, bytes: BytesInput): { weights: Record<string, NamedTensor>; inputDim: number; hidden: number; decoderHidden: number; latentDim: number } {
  const { tensors } = decodeSafetensors(toBytes(where, 'bytes', bytes, 'a safetensors file'));
  const need = Object.values(PYTORCH_NAMES).flatMap((n) => [`${n}.weight`, `${n}.bias`]);
  for (const n of need) if (!tensors[n]) throw new Error(`${where}: the file has no tensor ${JSON.stringify(n)}; expected ${need.join(', ')}`);
  const extra = Object.keys(tensors).filter((n) => !need.includes(n));
  if (extra.length > 0) throw new Error(`${where}: unexpected tensors ${extra.map((n) => JSON.stringify(n)).join(', ')}; expected only ${need.join(', ')}`);
  const shape = (n: string) => tensors[n]!.shape;
  const [hidden, inputDim] = shape('fc1.weight') as [number, number];
  const latentDim = shape('fc21.weight')[0]!;
  const decoderHidden = shape('fc3.weight')[0]!;
  const expected: Record<string, number[]> = {
    'fc1.weight': [hidden, inputDim], 'fc1.bias': [hidden],
    'fc21.weight': [latentDim, hidden], 'fc21.bias': [latentDim],
    'fc22.weight': [latentDim, hidden], 'fc22.bias': [latentDim],
    'fc3.weight': [decoderHidden, latentDim], 'fc3.bias': [decoderHidden],
    'fc4.weight': [inputDim, decoderHidden], 'fc4.bias': [inputDim],
  };
  for (const [n, s] of Object.entries(expected)) {
    const got = shape(n);
    if (got.length !== s.length || got.some((d, i) => d !== s[i])) {
      throw new Error(`${where}: ${n} has shape [${got.join(', ')}]; expected [${s.join(', ')}] (fc1.weight is [${hidden}, ${inputDim}])`);
    }
  }
  const weights: Record<string, NamedTensor> = {};
  for (const [ours, theirs] of Object.entries(PYTORCH_NAMES)) {
    const w = tensors[`${theirs}.weight`]!;
    const [rows, cols] = w.shape as [number, number];
    weights[`${ours}.weight`] = { shape: [cols, rows], data: transpose(w.data, rows, cols) };
    weights[`${ours}.bias`] = { shape: [...tensors[`${theirs}.bias`]!.shape], data: tensors[`${theirs}.bias`]!.data };
  }
  return { weights, inputDim, hidden, decoderHidden, latentDim };
}
