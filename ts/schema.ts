/**
 * A table's schema: how each column of a CSV becomes encoded values of a row (numeric standardised, binary 0/1,
 * categorical one-hot), checked when it comes from JSON, read back to original units (`decodeRows`), and the
 * per-column likelihood (VAE) or loss (autoencoder) a model of such rows uses. Plain JSON: models keep it in their
 * files. No CSV parsing here (ts/csv.ts), so a page that only loads a model does not bundle the parser.
 */
import { describe } from './options';
import type { LikelihoodGroup, LossGroup } from './types';

export type ColumnKind = 'numeric' | 'binary' | 'categorical';

interface ColumnBase {
  name: string;
  /** Where the column's encoded values start in a row, and how many there are. */
  offset: number;
  width: number;
}
/** Encoded as (x − mean) / sd (sd 0: x − mean). */
export interface NumericColumn extends ColumnBase { kind: 'numeric'; width: 1; mean: number; sd: number }
/** Encoded as 0 for levels[0], 1 for levels[1]. */
export interface BinaryColumn extends ColumnBase { kind: 'binary'; width: 1; levels: [string, string] }
/** One-hot over `levels` (width = levels.length). */
export interface CategoricalColumn extends ColumnBase { kind: 'categorical'; levels: string[] }
export type ColumnSchema = NumericColumn | BinaryColumn | CategoricalColumn;

/** How a table's rows are encoded: plain JSON (save it with `JSON.stringify`; models keep it in their files). */
export interface TableSchema {
  format: 'vae-wasm/table';
  version: 1;
  /** Encoded values per row: the sum of the columns' widths. */
  width: number;
  columns: ColumnSchema[];
  /** Columns of the file that are not encoded ('ignore' and 'label'); new files may have them. */
  ignored: string[];
  /** Every column of the file, in order (encoded and not): without a header, new files' columns match by position. */
  fileColumns: string[];
  /** Whether the columns were named by a header row (new files must then have one) or by position. */
  header: boolean;
  /** Tokens read as missing values. */
  missing: string[];
}

/** A schema from JSON: every field present and consistent (offsets, widths), before it is used. */
export function checkSchema(s: unknown, where = 'parseCsv'): asserts s is TableSchema {
  const bad = (what: string): never => { throw new TypeError(`${where}: schema ${what}; pass the schema parseCsv returned (or its JSON)`); };
  if (typeof s !== 'object' || s === null) bad(`must be an object, got ${describe(s)}`);
  const o = s as Partial<TableSchema>;
  if (o.format !== 'vae-wasm/table' || o.version !== 1) bad(`is not a vae-wasm table schema (format ${describe(o.format)}, version ${describe(o.version)})`);
  if (!Array.isArray(o.columns) || o.columns.length === 0) bad('has no columns');
  if (!Array.isArray(o.ignored) || typeof o.header !== 'boolean' || !Array.isArray(o.missing) || !Array.isArray(o.fileColumns)) bad('lacks ignored, fileColumns, header or missing');
  let offset = 0;
  const names = new Set<string>();
  for (const [i, c] of o.columns!.entries()) {
    if (typeof c !== 'object' || c === null || typeof c.name !== 'string') bad(`columns[${i}] has no name`);
    if (names.has(c.name)) bad(`names column ${quote(c.name)} twice`);
    names.add(c.name);
    if (c.offset !== offset) bad(`columns[${i}] (${quote(c.name)}) has offset ${describe(c.offset)}; expected ${offset}`);
    const levels = (c as { levels?: unknown }).levels;
    const okLevels = Array.isArray(levels) && levels.every((l) => typeof l === 'string') && new Set(levels).size === levels.length;
    if (c.kind === 'numeric') {
      if (c.width !== 1 || !Number.isFinite(c.mean) || !(Number.isFinite(c.sd) && c.sd >= 0)) bad(`columns[${i}] (${quote(c.name)}): numeric needs width 1, a finite mean and a finite sd ≥ 0`);
    } else if (c.kind === 'binary') {
      if (c.width !== 1 || !okLevels || (levels as string[]).length !== 2) bad(`columns[${i}] (${quote(c.name)}): binary needs width 1 and two distinct levels`);
    } else if (c.kind === 'categorical') {
      if (!okLevels || (levels as string[]).length < 1 || c.width !== (levels as string[]).length) bad(`columns[${i}] (${quote(c.name)}): categorical needs distinct levels and width = their number`);
    } else {
      bad(`columns[${i}] (${quote((c as { name: string }).name)}) has kind ${describe((c as { kind?: unknown }).kind)}; expected numeric, binary or categorical`);
    }
    offset += c.width;
  }
  if (o.width !== offset) bad(`has width ${describe(o.width)} but its columns add up to ${offset}`);
  const strings = (what: 'ignored' | 'fileColumns' | 'missing', a: unknown[]) => {
    const i = a.findIndex((v) => typeof v !== 'string');
    if (i >= 0) bad(`${what}[${i}] is ${describe(a[i])}; expected a string`);
    if (what !== 'missing' && new Set(a).size !== a.length) bad(`${what} names a column twice`);
  };
  strings('ignored', o.ignored!);
  strings('fileColumns', o.fileColumns!);
  strings('missing', o.missing!);
  for (const n of o.ignored!) if (names.has(n)) bad(`both encodes and ignores column ${quote(n)}`);
  const file = new Set(o.fileColumns);
  for (const n of [...names, ...o.ignored!]) if (!file.has(n)) bad(`fileColumns lacks ${quote(String(n))}`);
}

export interface DecodedRows {
  /** Per row, per column: numbers in original units; binary and categorical columns as their level (argmax). */
  rows: Record<string, number | string>[];
  /** Binary: P(levels[1]) per row; categorical: rows × levels, as given. */
  probabilities: Record<string, Float32Array>;
}

/**
 * Model outputs in the schema's encoding (rows × width: numeric standardised, binary a probability, categorical
 * k probabilities) → original units: numerics un-standardised; binary as its level (numbers for 0/1-like levels)
 * where p ≥ 0.5 picks levels[1]; categorical as the level with the largest value. Probabilities are kept as given.
 */
export function decodeRows(schema: TableSchema, values: ArrayLike<number>): DecodedRows {
  checkSchema(schema, 'decodeRows');
  if (!(ArrayBuffer.isView(values) || Array.isArray(values)) || values.length % schema.width !== 0) {
    throw new TypeError(`decodeRows: values must be a flat array of rows × ${schema.width} (the schema's width), got ${describe(values)}`);
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new TypeError(`decodeRows: values[${i}] (row ${Math.floor(i / schema.width)}) is ${describe(v)}; expected finite numbers, a model's outputs for rows of this schema`);
    }
  }
  const n = values.length / schema.width;
  const rows: Record<string, number | string>[] = [];
  const probabilities: Record<string, Float32Array> = {};
  for (const c of schema.columns) if (c.kind !== 'numeric') put(probabilities, c.name, new Float32Array(n * (c.kind === 'binary' ? 1 : c.width)));
  const level = (s: string) => (isNumber(s) ? Number(s) : s);
  for (let r = 0; r < n; r++) {
    const out: Record<string, number | string> = {};
    const base = r * schema.width;
    for (const c of schema.columns) {
      if (c.kind === 'numeric') {
        put(out, c.name, values[base + c.offset]! * (c.sd > 0 ? c.sd : 1) + c.mean);
      } else if (c.kind === 'binary') {
        const p = values[base + c.offset]!;
        probabilities[c.name]![r] = p;
        put(out, c.name, level(c.levels[p >= 0.5 ? 1 : 0]!));
      } else {
        let best = 0;
        for (let k = 0; k < c.width; k++) {
          const v = values[base + c.offset + k]!;
          probabilities[c.name]![r * c.width + k] = v;
          if (v > values[base + c.offset + best]!) best = k;
        }
        put(out, c.name, c.levels[best]!);
      }
    }
    rows.push(out);
  }
  return { rows, probabilities };
}

/** obj[key] = value as an own property, whatever the key (`__proto__` would otherwise replace obj's prototype). */
function put<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A decimal number as a CSV cell writes it (no hex, no Infinity, no NaN). */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
export const isNumber = (s: string) => NUMBER.test(s);
/** A cell or name for an error message: JSON-quoted, cut at 40 characters. */
export const quote = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 39)}…` : s);

/**
 * The likelihood a VAE of these rows uses, one group per column: numeric → Gaussian on the standardised value with
 * a learned variance; binary → Bernoulli; categorical → a softmax over its one-hot levels (a single level, always 1,
 * → Bernoulli). Neighbouring numeric or binary columns share a group.
 */
export function schemaLikelihood(schema: TableSchema): LikelihoodGroup[] {
  return groupsOf(schema, (c) => (c.kind === 'numeric' ? { type: 'gaussian', width: 1, variance: 'learned' }
    : c.kind === 'binary' || c.width === 1 ? { type: 'bernoulli', width: 1 } : { type: 'categorical', width: c.width }));
}

/** The autoencoder's counterpart: numeric → squared error, binary → cross-entropy, categorical → its softmax's. */
export function schemaLoss(schema: TableSchema): LossGroup[] {
  return groupsOf(schema, (c) => (c.kind === 'numeric' ? { type: 'mse', width: 1 }
    : c.kind === 'binary' || c.width === 1 ? { type: 'bce', width: 1 } : { type: 'categorical', width: c.width }));
}

function groupsOf<G extends { type: string; width: number }>(schema: TableSchema, of: (c: ColumnSchema) => G): G[] {
  const out: G[] = [];
  for (const c of schema.columns) {
    const g = of(c);
    const last = out[out.length - 1];
    if (last && last.type === g.type && g.type !== 'categorical') last.width += g.width;
    else out.push({ ...g });
  }
  return out;
}

/**
 * One column's encoding in words, as the CLI and the demo list what parseCsv inferred: a numeric column's mean and
 * sd, a binary column's two levels (→ 0, → 1), a categorical column's levels (the first 8, each through `level`).
 */
export function describeColumn(c: ColumnSchema, level: (name: string, i: number) => string = (name) => name): string {
  const g = (x: number) => Number(x.toPrecision(4)).toString();
  if (c.kind === 'numeric') return `mean ${g(c.mean)}, sd ${g(c.sd)}`;
  if (c.kind === 'binary') return `${c.levels[0]} → 0, ${c.levels[1]} → 1`;
  return `${c.levels.length} levels: ${c.levels.slice(0, 8).map(level).join(', ')}${c.levels.length > 8 ? ', …' : ''}`;
}
