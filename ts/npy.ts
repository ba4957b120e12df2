/**
 * NumPy's .npy files (format versions 1–3, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 * float32, float64, uint8, int8, int32 and bool, little-endian, C order. Anything else is refused with what to run
 * in NumPy instead. The result is `{ dtype, shape, data }`, which `fit` and friends accept as is.
 */
import { toBytes } from './data';
import type { BytesInput } from './types';

export interface NpyArray {
  dtype: 'float32' | 'float64' | 'uint8' | 'int8' | 'int32' | 'bool';
  shape: number[];
  /** bool arrays come as 0/1 bytes. */
  data: Float32Array | Float64Array | Uint8Array | Int8Array | Int32Array;
}

const DTYPES: Record<string, [NpyArray['dtype'], number]> = {
  '<f4': ['float32', 4], '<f8': ['float64', 8], '|u1': ['uint8', 1], '<u1': ['uint8', 1], '|i1': ['int8', 1], '<i1': ['int8', 1],
  '<i4': ['int32', 4], '|b1': ['bool', 1],
};
const FIX = 'np.save(path, np.ascontiguousarray(a, dtype=np.float32))';

export function loadNpy(input: BytesInput): NpyArray {
  const b = toBytes('loadNpy', 'bytes', input, 'the contents of a .npy file');
  const fail = (what: string): never => { throw new Error(`loadNpy: ${what}`); };
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 3 && b[3] === 4) fail('this is a .npz archive (zip) of several arrays; load it in NumPy and np.save one array to a .npy file');
  if (b.length < 10 || b[0] !== 0x93 || String.fromCharCode(...b.subarray(1, 6)) !== 'NUMPY') fail('not a .npy file (it must start with \\x93NUMPY)');
  const major = b[6]!;
  if (major < 1 || major > 3) fail(`unknown .npy format version ${major}.${b[7]}; versions 1–3 are read`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : b.length >= 12 ? view.getUint32(8, true) : fail('truncated header');
  const start = (major === 1 ? 10 : 12) + headerLength;
  if (start > b.length) fail(`the header says it is ${headerLength} bytes, but the file has ${b.length} bytes in all (truncated)`);
  if (headerLength > 1 << 20) fail(`a header of ${headerLength} bytes is not a NumPy array header`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(b.subarray(major === 1 ? 10 : 12, start));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    if (/'descr'\s*:\s*\[/.test(header)) fail(`structured (record) dtypes are not read; save a plain numeric array: ${FIX}`);
    fail(`cannot read the header ${JSON.stringify(header.trim().slice(0, 120))}; expected {'descr': ..., 'fortran_order': ..., 'shape': (...)}`);
  }
  const dtype = DTYPES[descr!];
  if (!dtype) {
    if (descr === '|O') fail(`the array holds Python objects (dtype object), which are pickled, not numbers; convert it first: ${FIX}`);
    if (descr!.startsWith('>')) fail(`the array is big-endian (${descr}); convert it to little-endian first: np.save(path, a.astype(a.dtype.newbyteorder('<')))`);
    fail(`dtype ${descr} is not read (float32, float64, uint8, int8, int32 and bool are); convert it first: ${FIX}`);
  }
  if (fortran === 'True') fail(`the array is in Fortran (column-major) order; save it in C order: ${FIX}`);
  const dims = shapeText!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!dims.every((d) => /^\d+$/.test(d))) fail(`bad shape (${shapeText}) in the header`);
  const shape = dims.map(Number);
  const [name, size] = dtype!;
  const count = shape.reduce((a, d) => a * d, 1);
  if (b.length - start !== count * size) {
    fail(`the header's shape (${shape.join(', ')}) of ${name} needs ${count * size} bytes of data, but the file has ${b.length - start}${b.length - start < count * size ? ' (truncated)' : ''}`);
  }
  // A typed array view needs its offset aligned to the element size; copy when the bytes are not.
  const at = b.byteOffset + start;
  const aligned = at % size === 0 ? b.buffer : b.slice(start).buffer;
  const offset = at % size === 0 ? at : 0;
  let data: NpyArray['data'];
  switch (name) {
    case 'float32': data = new Float32Array(aligned, offset, count); break;
    case 'float64': data = new Float64Array(aligned, offset, count); break;
    case 'int32': data = new Int32Array(aligned, offset, count); break;
    case 'int8': data = new Int8Array(aligned, offset, count); break;
    default: data = new Uint8Array(aligned, offset, count);
  }
  return { dtype: name, shape, data };
}
