/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of JSON header, then the tensor bytes.
 * The header maps names to { dtype, shape, data_offsets: [begin, end] } (offsets relative to the byte buffer) plus
 * an optional "__metadata__" object of strings.
 */
import { toBytes } from './data';
import type { BytesInput } from './types';

export interface SafeTensor {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

const MAX_HEADER = 100 * 1024 * 1024;

export function encodeSafetensors(tensors: Record<string, { shape: number[]; data: Float32Array }>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned.
  const headerBytes = new TextEncoder().encode(json);
  const pad = (8 - (headerBytes.length % 8)) % 8;
  json += ' '.repeat(pad);
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  let at = 8 + h.length;
  for (const name of names) {
    const d = tensors[name]!.data;
    for (let i = 0; i < d.length; i++) view.setFloat32(at + 4 * i, d[i]!, true);
    at += d.length * 4;
  }
  return out;
}

export function decodeSafetensors(input: BytesInput): { metadata: Record<string, string>; tensors: Record<string, SafeTensor> } {
  const bytes = toBytes('decodeSafetensors', 'bytes', input, 'a safetensors file');
  if (bytes.length < 8) throw new Error(`safetensors: file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    throw new Error(`safetensors: header length ${n} exceeds the file (${bytes.length - 8} bytes after the length) or 100 MB`);
  }
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    throw new Error('safetensors: header is not valid UTF-8 JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('safetensors: header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: Record<string, SafeTensor> = {};
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) throw new Error('safetensors: __metadata__ is not an object');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new Error(`safetensors: metadata value ${JSON.stringify(k)} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') throw new Error(`safetensors: tensor ${JSON.stringify(name)} has dtype ${JSON.stringify(e.dtype)}; expected "F32"`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`safetensors: tensor ${JSON.stringify(name)} has an invalid shape`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0] || off[1] > dataLen) {
      throw new Error(`safetensors: tensor ${JSON.stringify(name)} has data_offsets outside the ${dataLen}-byte buffer`);
    }
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (count * 4 !== off[1] - off[0]) {
      throw new Error(`safetensors: tensor ${JSON.stringify(name)} has ${off[1] - off[0]} bytes; shape needs ${count * 4}`);
    }
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + off[0] + 4 * i, true);
    tensors[name] = { dtype: 'F32', shape: e.shape as number[], data };
    spans.push([off[0], off[1], name]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [b, e, name] of spans) {
    if (b !== at) throw new Error(`safetensors: tensor ${JSON.stringify(name)} ${b < at ? 'overlaps another' : 'leaves a gap before it'}`);
    at = e;
  }
  if (at !== dataLen) throw new Error(`safetensors: ${dataLen - at} bytes after the last tensor are not covered`);
  return { metadata, tensors };
}
