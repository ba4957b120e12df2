/** IDX files (MNIST's format), gzipped or not. */
import { MAX_UNITS } from './core/abi';
import { toBytes } from './data';
import { gunzipChunks, isGzip } from './gzip';
import { positiveInt } from './options';
import type { BytesInput } from './types';

export interface IdxArray {
  dtype: 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES = { 0x08: ['uint8', 1], 0x09: ['int8', 1], 0x0b: ['int16', 2], 0x0c: ['int32', 4], 0x0d: ['float32', 4], 0x0e: ['float64', 8] } as const;

/** A gzipped IDX file's declared size may be at most this (2 GiB): its data is then copied into the core's memory. */
const MAX_GZIPPED_IDX_BYTES = 2 ** 31;

interface IdxHeader {
  dtype: IdxArray['dtype'];
  size: number;
  shape: number[];
  count: number;
  /** Where the values start: the header's length. */
  start: number;
}

/** The header at the start of `bytes`, or undefined while fewer bytes than it needs have come (with `partial`). */
function idxHeader(bytes: Uint8Array, partial = false): IdxHeader | undefined {
  if (bytes.length < 4) {
    if (partial) return undefined;
    throw new Error(`loadIdx: ${bytes.length} bytes is too short for an IDX header (at least 4)`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new Error('loadIdx: bad magic number (the first two bytes must be zero); not an IDX file');
  const t = TYPES[bytes[2] as keyof typeof TYPES];
  if (!t) throw new Error(`loadIdx: unknown data type code 0x${bytes[2]!.toString(16)}`);
  const ndims = bytes[3]!;
  if (ndims === 0) throw new Error('loadIdx: zero dimensions');
  if (bytes.length < 4 + 4 * ndims) {
    if (partial) return undefined;
    throw new Error(`loadIdx: truncated header: ${ndims} dimensions need ${4 + 4 * ndims} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    shape.push(d);
    count *= d;
  }
  const [dtype, size] = t;
  return { dtype, size, shape, count, start: 4 + 4 * ndims };
}

/**
 * A gzipped IDX file's bytes, decompressed into one array of the size its header declares: never more than that is
 * made, whatever the file holds (a small .gz can expand to gigabytes).
 */
function gunzipIdx(gz: Uint8Array): Uint8Array {
  let head: Uint8Array = new Uint8Array(0);
  let h: IdxHeader | undefined;
  let out = new Uint8Array(0);
  let at = 0;
  try {
    for (const chunk of gunzipChunks([gz])) {
      let piece = chunk;
      if (!h) {
        // Bytes gather until the header is whole; then the array it declares takes them and what follows.
        const joined = new Uint8Array(head.length + chunk.length);
        joined.set(head);
        joined.set(chunk, head.length);
        head = joined;
        h = idxHeader(head, true);
        if (!h) continue;
        const total = h.start + h.count * h.size;
        if (total > MAX_GZIPPED_IDX_BYTES) {
          throw new Error(`loadIdx: the header's shape [${h.shape.join(', ')}] of ${h.dtype} is ${h.count * h.size} bytes, more than the ${MAX_GZIPPED_IDX_BYTES / 2 ** 30} GiB a gzipped IDX file may declare; split the file`);
        }
        out = new Uint8Array(total);
        piece = head;
      }
      if (at + piece.length > out.length) {
        throw new Error(`loadIdx: payload is more than the ${h.count * h.size} bytes the header's shape [${h.shape.join(', ')}] of ${h.dtype} needs`);
      }
      out.set(piece, at);
      at += piece.length;
    }
  } catch (e) {
    const m = (e as Error).message;
    throw m.startsWith('loadIdx:') ? e : new Error(`loadIdx: corrupt gzip data (${m})`);
  }
  // Without a whole header, what came (loadIdx then says what is missing).
  return h ? out.subarray(0, at) : head;
}

export function loadIdx(input: BytesInput): IdxArray {
  let bytes = toBytes('loadIdx', 'bytes', input, 'an IDX file, gzipped or not');
  if (isGzip(bytes)) bytes = gunzipIdx(bytes);
  const { dtype, shape, count, size, start } = idxHeader(bytes)!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const expected = count * size;
  if (bytes.length - start !== expected) {
    throw new Error(`loadIdx: payload is ${bytes.length - start} bytes; the header's shape [${shape.join(', ')}] of ${dtype} needs ${expected}`);
  }
  let data: IdxArray['data'];
  switch (dtype) {
    case 'uint8': data = bytes.subarray(start); break;
    case 'int8': data = new Int8Array(bytes.buffer, bytes.byteOffset + start, count); break;
    case 'int16': data = Int16Array.from({ length: count }, (_, i) => view.getInt16(start + 2 * i, false)); break;
    case 'int32': data = Int32Array.from({ length: count }, (_, i) => view.getInt32(start + 4 * i, false)); break;
    case 'float32': data = Float32Array.from({ length: count }, (_, i) => view.getFloat32(start + 4 * i, false)); break;
    default: data = Float64Array.from({ length: count }, (_, i) => view.getFloat64(start + 8 * i, false));
  }
  return { dtype, shape, data };
}

export function idxImages(idx: IdxArray): { data: Uint8Array | Float32Array; rows: number; cols: number } {
  if (idx.dtype !== 'uint8' && idx.dtype !== 'float32') throw new Error(`idxImages: images must be uint8 or float32, got ${idx.dtype}`);
  const rows = idx.shape[0]!;
  const cols = idx.shape.slice(1).reduce((a, b) => a * b, 1);
  return { data: idx.data as Uint8Array | Float32Array, rows, cols };
}

/** Labels from an IDX label file (MNIST's `*-labels-idx1-ubyte`): one unsigned byte per row. */
export function idxLabels(idx: IdxArray): Uint8Array {
  if (idx.dtype !== 'uint8' || idx.shape.length !== 1) {
    throw new Error(`idxLabels: a label file holds one byte per row (a 1-D uint8 IDX array), got ${idx.dtype} of shape [${idx.shape.join(', ')}]`);
  }
  return idx.data as Uint8Array;
}

/** 2^28 values: 1 GiB of floats, a quarter of the wasm address space the data must be copied into. */
const MAX_ONE_HOT = 2 ** 28;

/**
 * One-hot rows for integer labels in [0, classes): rows × classes, 1 at each row's label (a conditional VAE's
 * `condition`).
 */
export function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  positiveInt('oneHot', 'classes', classes, MAX_UNITS);
  if (typeof labels !== 'object' || labels === null || typeof labels.length !== 'number') throw new TypeError('oneHot: labels must be an array or typed array of integers');
  if (labels.length * classes > MAX_ONE_HOT) {
    throw new RangeError(`oneHot: ${labels.length} labels × ${classes} classes is ${labels.length * classes} values, more than the ${MAX_ONE_HOT} (1 GiB) a model's 4 GiB of wasm memory can take in; one-hot fewer rows at a time`);
  }
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= classes) throw new RangeError(`oneHot: labels[${i}] is ${String(l)}; expected an integer in [0, ${classes})`);
    out[i * classes + l] = 1;
  }
  return out;
}
