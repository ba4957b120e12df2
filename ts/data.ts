/**
 * Turning user data into what the core reads: a flat row-major Uint8Array (0–255, scaled in the core) or
 * Float32Array. Checks shape, emptiness, finiteness and (for Bernoulli/BCE) the [0, 1] range up front.
 */
import { DType } from './core/abi';
import { describe } from './options';
import type { DataInput } from './types';

export interface Matrix {
  data: Uint8Array | Float32Array;
  rows: number;
  cols: number;
  dtype: (typeof DType)[keyof typeof DType];
}

export interface MatrixRules {
  /** Values must lie in [0, 1] (Bernoulli likelihood / BCE). */
  unit: boolean;
}

export function toMatrix(where: string, what: string, input: unknown, cols: number, rules: MatrixRules, colsName = 'inputDim'): Matrix {
  let data: Uint8Array | Float32Array;
  if (input instanceof Uint8Array) {
    data = input;
  } else if (input instanceof Float32Array) {
    data = input;
  } else if (input instanceof Float64Array) {
    data = Float32Array.from(input);
  } else if (Array.isArray(input)) {
    data = new Float32Array(input.length * cols);
    input.forEach((row: unknown, i) => {
      if (!(Array.isArray(row) || ArrayBuffer.isView(row)) || (row as ArrayLike<number>).length !== cols) {
        throw new TypeError(`${where}: ${what}[${i}] must be a row of ${cols} numbers, got ${describe(row)}`);
      }
      data.set(row as ArrayLike<number>, i * cols);
    });
  } else {
    throw new TypeError(`${where}: ${what} must be a Float32Array, Float64Array, Uint8Array or an array of rows, got ${describe(input)}`);
  }
  if (data.length === 0) throw new RangeError(`${where}: ${what} is empty; expected at least one row of ${cols} values`);
  if (data.length % cols !== 0) {
    throw new RangeError(`${where}: ${what} has ${data.length} values, which is not a whole number of rows of ${cols} (${colsName}); expected a multiple of ${cols}`);
  }
  if (data instanceof Float32Array) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (!Number.isFinite(v)) {
        throw new RangeError(`${where}: ${what} has a non-finite value ${v} at row ${Math.floor(i / cols)}, column ${i % cols}`);
      }
      if (rules.unit && (v < 0 || v > 1)) {
        throw new RangeError(`${where}: ${what} has ${v} at row ${Math.floor(i / cols)}, column ${i % cols}; a Bernoulli likelihood (or BCE loss) needs values in [0, 1]`);
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

export function isDataInput(v: unknown): v is DataInput {
  return v instanceof Uint8Array || v instanceof Float32Array || v instanceof Float64Array || Array.isArray(v);
}
