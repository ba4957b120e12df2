/**
 * Turning user data into what the core reads: a flat row-major Uint8Array (0–255, scaled in the core) or
 * Float32Array. Checks shape, emptiness, finiteness and (for Bernoulli/BCE) the [0, 1] range up front.
 *
 * Accepted (see `DataInput` in ./types): a flat typed array or `number[]`, an array of rows, or an object with the
 * data and its shape: `{ data, rows, cols }` (what `idxImages` returns) or `{ data, shape }` (what `loadIdx`
 * returns; the dimensions after the first multiply to the row width).
 */
import { DType } from './core/abi';
import { describe, rejectDetached } from './options';

export interface Matrix {
  data: Uint8Array | Float32Array;
  rows: number;
  cols: number;
  dtype: (typeof DType)[keyof typeof DType];
}

export interface MatrixRules {
  /** Values must lie in [0, 1] (Bernoulli likelihood / BCE): everywhere, or in the columns flagged 1. */
  unit: boolean | Uint8Array;
  /** Column groups (categorical likelihoods) whose values must sum to 1 in every row. */
  simplex?: { start: number; width: number }[];
}

const ACCEPTED = 'a Float32Array, Float64Array, Uint8Array (0–255), Uint8ClampedArray or other typed array, a flat number[], ' +
  'an array of rows, or { data, shape } / { data, rows, cols } (as loadIdx and idxImages return)';

/** Typed arrays of numbers other than Uint8Array/Uint8ClampedArray/Float32Array: converted to Float32Array. */
const NUMERIC = [Float64Array, Int8Array, Int16Array, Int32Array, Uint16Array, Uint32Array] as const;

function flat(input: unknown): Uint8Array | Float32Array | undefined {
  if (input instanceof Uint8Array || input instanceof Float32Array) return input;
  if (input instanceof Uint8ClampedArray) return new Uint8Array(input.buffer, input.byteOffset, input.length);
  if (NUMERIC.some((T) => input instanceof T)) return Float32Array.from(input as ArrayLike<number>);
  return undefined;
}

/** The `{ data, shape }` / `{ data, rows, cols }` form: its flat data and, when given, its row width. */
function shaped(where: string, what: string, input: object, cols: number, colsName: string): { data: unknown; width?: number } {
  const o = input as { data?: unknown; shape?: unknown; rows?: unknown; cols?: unknown };
  const data = o.data;
  rejectDetached(where, `${what}.data`, data);
  const length = flat(data)?.length ?? (Array.isArray(data) ? data.length : undefined);
  if (length === undefined) {
    throw new TypeError(`${where}: ${what}.data must be a typed array or a flat number[], got ${describe(data)}`);
  }
  const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  if (o.shape !== undefined) {
    const s = o.shape;
    if (!Array.isArray(s) || s.length === 0 || s.length > 32 || !s.every(isCount)) {
      throw new TypeError(`${where}: ${what}.shape must be an array of up to 32 non-negative integers (rows first), got ${describe(s)}`);
    }
    const width = s.length === 1 ? length : s.slice(1).reduce((a: number, b: number) => a * b, 1);
    if (s.reduce((a: number, b: number) => a * b, 1) !== length) {
      throw new RangeError(`${where}: ${what}.shape [${s.join(', ')}] needs ${s.reduce((a: number, b: number) => a * b, 1)} values, but ${what}.data has ${length}`);
    }
    if (width !== cols) {
      throw new RangeError(`${where}: ${what} has shape [${s.join(', ')}], rows of ${width} values; this model's ${colsName} is ${cols}`);
    }
    return { data, width };
  }
  if (o.rows !== undefined || o.cols !== undefined) {
    if (!isCount(o.rows) || !isCount(o.cols)) {
      throw new TypeError(`${where}: ${what}.rows and ${what}.cols must be non-negative integers, got ${describe(o.rows)} and ${describe(o.cols)}`);
    }
    if (o.rows * o.cols !== length) {
      throw new RangeError(`${where}: ${what} says ${o.rows} rows × ${o.cols} columns = ${o.rows * o.cols} values, but ${what}.data has ${length}`);
    }
    if (o.cols !== cols) throw new RangeError(`${where}: ${what} has rows of ${o.cols} values (cols); this model's ${colsName} is ${cols}`);
    return { data, width: o.cols };
  }
  return { data };
}

function unitHint(where: string, grouped = false): string {
  if (grouped) return 'that column belongs to a Bernoulli (BCE) or categorical group, which needs values in [0, 1]';
  return where.startsWith('Autoencoder')
    ? "BCE loss needs values in [0, 1]. For real-valued data use loss: 'mse' (CLI: --model ae --loss mse), or scale the data to [0, 1]"
    : "a Bernoulli likelihood needs values in [0, 1]. For real-valued data use likelihood: 'gaussian' (CLI: --likelihood gaussian), or scale the data to [0, 1]";
}

export function toMatrix(where: string, what: string, input: unknown, cols: number, rules: MatrixRules, colsName = 'inputDim'): Matrix {
  let source = input;
  if (typeof input === 'object' && input !== null && !Array.isArray(input) && !ArrayBuffer.isView(input) && 'data' in input) {
    source = shaped(where, what, input, cols, colsName).data;
  }
  rejectDetached(where, what, source);
  let data = flat(source);
  if (data === undefined && Array.isArray(source)) {
    const rows = source as unknown[];
    if (rows.length > 0 && typeof rows[0] === 'number') {
      // A flat number[], row after row.
      for (let i = 0; i < rows.length; i++) {
        if (typeof rows[i] !== 'number') {
          throw new TypeError(`${where}: ${what} is a flat array of numbers, but item ${i} is ${describe(rows[i])}`);
        }
      }
      data = Float32Array.from(rows as number[]);
    } else {
      // Rows of bytes (Uint8Array / Uint8ClampedArray: 0–255, as a flat Uint8Array) stay bytes; any other rows are
      // values as given. A mix would make the same number mean two things, so it is refused.
      const isBytes = (r: unknown) => r instanceof Uint8Array || r instanceof Uint8ClampedArray;
      const bytes = rows.length > 0 && isBytes(rows[0]);
      const out = bytes ? new Uint8Array(rows.length * cols) : new Float32Array(rows.length * cols);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        if (!(Array.isArray(row) || ArrayBuffer.isView(row)) || (row as ArrayLike<number>).length !== cols) {
          throw new TypeError(`${where}: ${what}[${i}] must be a row of ${cols} numbers (${colsName}), got ${describe(row)}`);
        }
        if (isBytes(row) !== bytes) {
          throw new TypeError(`${where}: ${what}[0] is a row of bytes (0–255) but ${what}[${i}] is ${describe(row)}; give every row as bytes or every row as values`);
        }
        out.set(row as ArrayLike<number>, i * cols);
      }
      data = out;
    }
  }
  if (data === undefined) throw new TypeError(`${where}: ${what} must be ${ACCEPTED}; got ${describe(input)}`);
  if (data.length === 0) throw new RangeError(`${where}: ${what} is empty; expected at least one row of ${cols} values`);
  if (data.length % cols !== 0) {
    throw new RangeError(`${where}: ${what} has ${data.length} values, which is not a whole number of rows of ${cols} (${colsName}); expected a multiple of ${cols}`);
  }
  if (data instanceof Float32Array) {
    const bad = (i: number): never => {
      const v = data[i]!;
      if (!Number.isFinite(v)) throw new RangeError(`${where}: ${what} has a non-finite value ${v} at row ${Math.floor(i / cols)}, column ${i % cols}`);
      throw new RangeError(`${where}: ${what} has ${v} at row ${Math.floor(i / cols)}, column ${i % cols}; ${unitHint(where, rules.unit !== true)}`);
    };
    // Hot for one-row calls (a 784-value row: about 1 µs with a per-value rule lookup), so one loop per rule; the
    // comparisons are false for NaN, and v − v is NaN for ±∞ and NaN.
    const unit = rules.unit;
    if (unit === true) {
      for (let i = 0; i < data.length; i++) if (!(data[i]! >= 0 && data[i]! <= 1)) bad(i);
    } else if (unit === false) {
      for (let i = 0; i < data.length; i++) if (data[i]! - data[i]! !== 0) bad(i);
    } else {
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        if (v - v !== 0 || (unit[i % cols] === 1 && !(v >= 0 && v <= 1))) bad(i);
      }
    }
  }
  for (const g of rules.simplex ?? []) {
    for (let r = 0; r < data.length / cols; r++) {
      let s = 0;
      for (let j = 0; j < g.width; j++) s += data instanceof Uint8Array ? data[r * cols + g.start + j]! / 255 : data[r * cols + g.start + j]!;
      if (Math.abs(s - 1) > 1e-4) {
        throw new RangeError(`${where}: ${what} has columns ${g.start}–${g.start + g.width - 1} of row ${r} summing to ${s}; a categorical likelihood needs them one-hot (or probabilities summing to 1)`);
      }
    }
  }
  return { data, rows: data.length / cols, cols, dtype: data instanceof Uint8Array ? DType.U8 : DType.F32 };
}

/** Codes for decode(): rows × latentDim, any finite values. */
export function toCodes(where: string, what: string, input: unknown, cols: number): Float32Array {
  const m = toMatrix(where, what, input, cols, { unit: false }, 'latentDim');
  return m.data instanceof Float32Array ? m.data : Float32Array.from(m.data);
}

/**
 * Bytes of a file: a Uint8Array (Node's Buffer is one), an ArrayBuffer (what `fetch().arrayBuffer()` and
 * `Blob.arrayBuffer()` give) or any other view of one (Uint8ClampedArray, DataView, ...). Never copies.
 */
export function toBytes(where: string, what: string, v: unknown, expected: string): Uint8Array {
  rejectDetached(where, what, v);
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer)) return new Uint8Array(v);
  throw new TypeError(`${where}: ${what} must be a Uint8Array or an ArrayBuffer (${expected}), got ${describe(v)}`);
}
