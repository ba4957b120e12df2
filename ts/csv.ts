/**
 * Tables (CSV) → rows a model reads, and back. `parseCsv` infers each column's kind (or takes a saved schema),
 * encodes every row into a Float32Array and returns the schema: a plain JSON object (it goes into model files)
 * that encodes new rows the same way (`parseCsv(text, { schema })`) and decodes model outputs to the original units
 * (`decodeRows`). Parsing is Papa Parse's (RFC 4180 quoting, delimiter guessing), fed in chunks of about 1 MB, so a
 * file is never held as one string: memory is the encoded table, one chunk and, per column, at most a few hundred
 * distinct values; time is two passes over the text (the first infers and checks, the second encodes).
 *
 * Rules (the README's "Your own data" says the same):
 * - Cells are trimmed. Missing: an empty cell or one of `missing` (default: NA, N/A, n/a, NaN, nan, null, NULL, None,
 *   ?). A row with a missing cell is an error naming the row and column, unless `dropMissing: true` drops it.
 * - Numbers are decimal: [+-]digits[.digits][e[+-]digits]. Rows are counted from 1 at the first line of the file
 *   (a quoted field spanning lines counts once); blank lines are skipped.
 * - Header (`header: 'auto'`): the first row (after a preamble) names the columns when some column is numeric below
 *   it and not in it, or when none of its cells appears again in its column in the next 1,000 rows. Without a header
 *   the columns are named column1, column2, … With a schema, 'auto' means "as the schema's file was"; `header: true`
 *   or `false` says this file differs, and its columns then match the schema's file's by position.
 * - Kinds: exactly two distinct values → binary (numbers: the smaller → 0; the pairs false/true, no/yes, n/y, f/t,
 *   off/on, negative/positive, absent/present in either case: the first → 0; otherwise code-point order); else all
 *   numbers → numeric, standardised with the mean and the population standard deviation (a constant column encodes
 *   as 0); else, when most cells are text and there are at most `maxLevels` (default 20) distinct values →
 *   categorical, one-hot over its levels (numbers in numeric order, otherwise code-point order). A column of mostly
 *   numbers with some text, or of more distinct text values than `maxLevels`, is an error naming it (override its
 *   kind with `columns`, or `'ignore'` it).
 * - scikit-learn's bundled CSVs start with a line "n_samples,n_features,class names…" (`preamble: 'auto'` detects
 *   it: two positive integers then only names or nothing, the next row having n_features + 1 fields, and then exactly
 *   n_samples rows); its last column is named `target`, categorical (class indices; `preamble.classes` names them)
 *   when the preamble names classes.
 */
import Papa from 'papaparse';
import { toBytes } from './data';
import { gunzipChunks, isGzip } from './gzip';
import { nodeFs } from './node';
import { checkKeys, checkObject, describe } from './options';
import { checkSchema, type ColumnKind, type ColumnSchema, isNumber, quote, type TableSchema } from './schema';

export { checkSchema, decodeRows } from './schema';
export type { BinaryColumn, CategoricalColumn, ColumnKind, ColumnSchema, DecodedRows, NumericColumn, TableSchema } from './schema';

export interface CsvOptions {
  /** Encode with this schema (from an earlier parseCsv or a model) instead of inferring one. */
  schema?: TableSchema;
  /** Whether the first row (after a preamble) names the columns. Default 'auto' (the rule above). */
  header?: boolean | 'auto';
  /** One character; default: guessed among , tab ; | and space. */
  delimiter?: string;
  /** Per column (by name): its kind, or 'ignore' (not read), or 'label' (not encoded; its text returned in `labels`). */
  columns?: Record<string, ColumnKind | 'ignore' | 'label'>;
  /** Drop rows with a missing value instead of failing (their count is returned as `dropped`). */
  dropMissing?: boolean;
  /** Cells that mean "missing" (after trimming); the empty cell always does. */
  missing?: string[];
  /** Most distinct values an inferred categorical column may have (default 20). */
  maxLevels?: number;
  /** scikit-learn's "n_samples,n_features,classes" first line: 'auto' (default) detects it. */
  preamble?: 'auto' | 'sklearn' | 'none';
  /** What to call the input in errors (loadCsv passes the path). Default "CSV". */
  name?: string;
}

export interface ParsedTable {
  /** The encoded columns' names, in schema order. */
  columns: string[];
  schema: TableSchema;
  /** rows × schema.width, row after row. */
  data: Float32Array;
  rows: number;
  /** [rows, schema.width], so the table can be passed to fit, encode, … as is. */
  shape: [number, number];
  /** Text of the 'label' columns, one per encoded row. */
  labels: Record<string, string[]>;
  /** Rows dropped for missing values (dropMissing). */
  dropped: number;
  delimiter: string;
  preamble?: { samples: number; features: number; classes: string[] };
  /** Things worth knowing that are not errors (constant columns). */
  warnings: string[];
}

const MISSING = ['NA', 'N/A', 'n/a', 'NaN', 'nan', 'null', 'NULL', 'None', '?'];
const PAIRS = [['false', 'true'], ['no', 'yes'], ['n', 'y'], ['f', 't'], ['off', 'on'], ['negative', 'positive'], ['absent', 'present']];
/** Distinct values kept per column: enough for any categorical column; past it a column is numeric or an error. */
const LEVELS_CAP = 1000;
/** A sample for the header rule. */
const HEADER_SAMPLE = 1000;
/** A row longer than this is refused (an unclosed quote would otherwise swallow the rest of the file). */
const MAX_ROW_CHARS = 16 << 20;
/** The encoded table must fit beside a model in the core's memory. */
const MAX_ENCODED_BYTES = 2 ** 31;
const CHUNK = 1 << 20;

/** Text in chunks, restartable (each pass calls `chunks()` again). */
export interface TextSource {
  chunks(): Iterable<string>;
}

function textSource(text: string): TextSource {
  return {
    *chunks() {
      for (let i = 0; i < text.length; i += CHUNK) yield text.slice(i, i + CHUNK);
    },
  };
}

/** UTF-8 bytes (a leading BOM dropped) decoded chunk by chunk; invalid UTF-8 is an error. */
export function bytesSource(name: string, read: () => Iterable<Uint8Array>): TextSource {
  return {
    *chunks() {
      const dec = new TextDecoder('utf-8', { fatal: true });
      let at = 0;
      for (const b of read()) {
        try {
          yield dec.decode(b, { stream: true });
        } catch {
          throw new Error(`parseCsv: ${name} is not UTF-8 text (an invalid byte near offset ${at}); save it as UTF-8 (or it is not a CSV file)`);
        }
        at += b.length;
      }
      const tail = dec.decode();
      if (tail) yield tail;
    },
  };
}

/** Calls `onRow(cells, row)` for every non-blank record; `row` counts records from 1. Stops when it returns false. */
function readRows(src: TextSource, name: string, delimiter: string, onRow: (cells: string[], row: number) => boolean | void): void {
  let newline: '\n' | '\r\n' | '\r' | undefined;
  let parser: Papa.Parser | undefined;
  let rest = '';
  let row = 0;
  let first = true;
  const emit = (text: string, last: boolean): boolean => {
    if (!newline) {
      const n = text.indexOf('\n');
      const r = text.indexOf('\r');
      newline = r === -1 ? '\n' : n === -1 ? '\r' : n === r + 1 ? '\r\n' : n < r ? '\n' : '\r';
      parser = new Papa.Parser({ delimiter, newline, quoteChar: '"' });
    }
    const res = parser!.parse(text, 0, !last) as { data: string[][]; errors: { row: number; message: string }[]; meta: { cursor: number } };
    if (res.errors.length > 0) {
      const e = res.errors[0]!;
      throw new Error(`parseCsv: ${name} row ${row + e.row + 1}: ${e.message.toLowerCase()} (a quote that is opened and not closed, or text after a closing quote)`);
    }
    rest = last ? '' : text.slice(res.meta.cursor);
    if (rest.length > MAX_ROW_CHARS) {
      throw new Error(`parseCsv: ${name} row ${row + res.data.length + 1} is longer than ${MAX_ROW_CHARS >> 20} MB: an opening quote that is never closed, or not a table`);
    }
    for (const cells of res.data) {
      row++;
      if (cells.length === 1 && cells[0]!.trim() === '') continue;
      if (onRow(cells, row) === false) return false;
    }
    return true;
  };
  for (let chunk of src.chunks()) {
    if (first) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      first = false;
    }
    if (!emit(rest + chunk, false)) return;
  }
  if (rest !== '') emit(rest, true);
}

/** The delimiter Papa Parse guesses from the first 64 KB (, tab ; | or space). */
function guessDelimiter(src: TextSource): string {
  let sample = '';
  for (const c of src.chunks()) {
    sample += c;
    if (sample.length >= 1 << 16) break;
  }
  const cut = sample.lastIndexOf('\n', 1 << 16);
  const r = Papa.parse(cut > 0 ? sample.slice(0, cut) : sample, { preview: 50, delimitersToGuess: [',', '\t', ';', '|', ' '] });
  return r.meta.delimiter || ',';
}

interface ColumnStats {
  numbers: number;
  texts: number;
  firstText?: { row: number; value: string };
  /** The first number too large for a 64-bit float (it reads as ±Infinity). */
  firstHuge?: { row: number; value: string };
  /** Welford's running mean and sum of squared deviations. */
  mean: number;
  m2: number;
  distinct: Map<string, number>;
  overflow: boolean;
}

function newStats(): ColumnStats {
  return { numbers: 0, texts: 0, mean: 0, m2: 0, distinct: new Map(), overflow: false };
}

function addCell(s: ColumnStats, v: string, row: number): void {
  if (isNumber(v)) {
    const x = Number(v);
    if (!Number.isFinite(x)) s.firstHuge ??= { row, value: v };
    s.numbers++;
    const d = x - s.mean;
    s.mean += d / s.numbers;
    s.m2 += d * (x - s.mean);
  } else {
    s.texts++;
    s.firstText ??= { row, value: v };
  }
  if (!s.overflow) {
    s.distinct.set(v, (s.distinct.get(v) ?? 0) + 1);
    if (s.distinct.size > LEVELS_CAP) s.overflow = true;
  }
}

const byNumber = (a: string, b: string) => Number(a) - Number(b);
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Two values → [the one encoded 0, the one encoded 1]. */
function binaryLevels(values: string[], numeric: boolean): [string, string] {
  if (numeric) return [...values].sort(byNumber) as [string, string];
  const lower = values.map((v) => v.toLowerCase());
  for (const p of PAIRS) if (lower.includes(p[0]!) && lower.includes(p[1]!)) return (lower[0] === p[0] ? values : [values[1], values[0]]) as [string, string];
  return [...values].sort(byCodePoint) as [string, string];
}

function resolveOptions(o: unknown): Required<Omit<CsvOptions, 'schema' | 'delimiter'>> & Pick<CsvOptions, 'schema' | 'delimiter'> {
  if (o === undefined) o = {};
  checkObject('parseCsv', 'options', o);
  checkKeys('parseCsv', o, ['schema', 'header', 'delimiter', 'columns', 'dropMissing', 'missing', 'maxLevels', 'preamble', 'name']);
  const opts = o as CsvOptions;
  if (opts.header !== undefined && opts.header !== true && opts.header !== false && opts.header !== 'auto') throw new TypeError(`parseCsv: header must be true, false or 'auto', got ${describe(opts.header)}`);
  if (opts.delimiter !== undefined && (typeof opts.delimiter !== 'string' || opts.delimiter.length !== 1 || /["\r\n]/.test(opts.delimiter))) {
    throw new TypeError(`parseCsv: delimiter must be one character other than a quote or a line break, got ${describe(opts.delimiter)}`);
  }
  const kinds = ['numeric', 'binary', 'categorical', 'ignore', 'label'];
  if (opts.columns !== undefined) {
    if (typeof opts.columns !== 'object' || opts.columns === null || Array.isArray(opts.columns)) throw new TypeError(`parseCsv: columns must be an object { name: kind }, got ${describe(opts.columns)}`);
    for (const [k, v] of Object.entries(opts.columns)) {
      if (!kinds.includes(v as string)) throw new TypeError(`parseCsv: columns[${JSON.stringify(k)}] must be one of ${kinds.join(', ')}, got ${describe(v)}`);
    }
  }
  if (opts.missing !== undefined && !(Array.isArray(opts.missing) && opts.missing.every((m) => typeof m === 'string'))) throw new TypeError(`parseCsv: missing must be an array of strings, got ${describe(opts.missing)}`);
  if (opts.maxLevels !== undefined && !(Number.isInteger(opts.maxLevels) && opts.maxLevels >= 2 && opts.maxLevels <= LEVELS_CAP)) {
    throw new TypeError(`parseCsv: maxLevels must be an integer in [2, ${LEVELS_CAP}], got ${describe(opts.maxLevels)}`);
  }
  if (opts.preamble !== undefined && !['auto', 'sklearn', 'none'].includes(opts.preamble)) throw new TypeError(`parseCsv: preamble must be 'auto', 'sklearn' or 'none', got ${describe(opts.preamble)}`);
  if (opts.schema !== undefined) checkSchema(opts.schema);
  return {
    header: opts.header ?? 'auto', columns: opts.columns ?? {}, dropMissing: opts.dropMissing === true,
    missing: opts.missing ?? opts.schema?.missing ?? MISSING, maxLevels: opts.maxLevels ?? 20, preamble: opts.preamble ?? 'auto',
    name: opts.name ?? 'CSV', ...(opts.schema ? { schema: opts.schema } : {}), ...(opts.delimiter ? { delimiter: opts.delimiter } : {}),
  };
}

/**
 * Parses a CSV table (text, or UTF-8 bytes: a Uint8Array or ArrayBuffer) and encodes its rows. See the file comment
 * for the rules; every bad input (ragged rows, text in a numeric column, missing values, an empty file, a header
 * without rows, duplicate names, unseen categories with a schema …) is an error naming the row and column.
 */
export function parseCsv(input: string | Uint8Array | ArrayBuffer, options?: CsvOptions): ParsedTable {
  const o = resolveOptions(options);
  let src: TextSource;
  if (typeof input === 'string') src = textSource(input);
  else {
    const b = toBytes('parseCsv', 'input', input, 'or a string: the text of a CSV file');
    src = bytesSource(o.name, function* () { for (let i = 0; i < b.length; i += CHUNK) yield b.subarray(i, i + CHUNK); });
  }
  return parseSource(src, o);
}

type Resolved = ReturnType<typeof resolveOptions>;

interface Layout {
  delimiter: string;
  /** Records taken by the preamble and the header. */
  skip: number;
  names: string[];
  /** Each name's column (the first, if a schema's header-less names repeat): lookups stay linear in the columns. */
  index: Map<string, number>;
  header: boolean;
  preamble?: { samples: number; features: number; classes: string[] };
}

/** Reads the first rows: delimiter, preamble, header and column names. */
function layout(src: TextSource, o: Resolved): Layout {
  const name = o.name;
  const delimiter = o.delimiter ?? guessDelimiter(src);
  const first: string[][] = [];
  const rowNumbers: number[] = [];
  readRows(src, name, delimiter, (cells, row) => {
    first.push(cells.map((c) => c.trim()));
    rowNumbers.push(row);
    return first.length < HEADER_SAMPLE + 2;
  });
  if (first.length === 0) throw new Error(`parseCsv: ${name} is empty; expected a table: a header row (optional) and rows of values`);
  let skip = 0;
  let preamble: Layout['preamble'];
  const p = first[0]!;
  const posInt = (s: string | undefined) => s !== undefined && /^\d+$/.test(s) && Number(s) > 0;
  const looksPreamble = p.length >= 2 && posInt(p[0]) && posInt(p[1]) && p.slice(2).every((c) => c === '' || !isNumber(c));
  if (o.preamble === 'sklearn' && !looksPreamble) throw new Error(`parseCsv: ${name} row 1 is not scikit-learn's preamble "n_samples,n_features,class names…"`);
  if (o.preamble !== 'none' && looksPreamble && first.length > 1 && first[1]!.length === Number(p[1]) + 1) {
    preamble = { samples: Number(p[0]), features: Number(p[1]), classes: p.slice(2).filter((c) => c !== '') };
    skip = 1;
  } else if (o.preamble === 'sklearn') {
    throw new Error(`parseCsv: ${name}: the preamble says ${p[1]} features, so rows need ${Number(p[1]) + 1} fields, but row 2 has ${first[1]?.length ?? 0}`);
  }
  const rows = first.slice(skip);
  if (rows.length === 0) throw new Error(`parseCsv: ${name} has a preamble but no rows`);
  const cand = rows[0]!;
  let header: boolean;
  // With a schema, 'auto' means the file is laid out as the schema's was; an explicit true or false says otherwise
  // (then columns match by position, as the schema's file had them).
  if (o.header !== 'auto') header = o.header;
  else if (o.schema) header = o.schema.header;
  else {
    const sample = rows.slice(1);
    const missing = new Set(o.missing);
    const isMissing = (v: string) => v === '' || missing.has(v);
    // One row only: a header when it is all names (then there is no data, an error below).
    header = (sample.length === 0 && cand.every((h) => !isNumber(h) && !isMissing(h))) || cand.some((h, j) => !isNumber(h) && !isMissing(h) && sample.length > 0 && sample.every((r) => r[j] === undefined || isMissing(r[j]!) || isNumber(r[j]!)) && sample.some((r) => r[j] !== undefined && isNumber(r[j]!)))
      || (sample.length > 0 && cand.every((h, j) => !isNumber(h) && !isMissing(h) && sample.every((r) => r[j] !== h)));
  }
  let names: string[];
  if (header) {
    names = cand;
    skip++;
    const seen = new Map<string, number>();
    names.forEach((n, j) => {
      if (n === '') throw new Error(`parseCsv: ${name} header (row ${rowNumbers[skip - 1]}): column ${j + 1} has no name; name every column (or pass header: false)`);
      if (seen.has(n)) throw new Error(`parseCsv: ${name} header (row ${rowNumbers[skip - 1]}) names column ${quote(n)} twice (columns ${seen.get(n)! + 1} and ${j + 1}); column names must be distinct`);
      seen.set(n, j);
    });
    if (first.length === skip) throw new Error(`parseCsv: ${name} has a header (${names.slice(0, 6).map(quote).join(', ')}${names.length > 6 ? ', …' : ''}) but no data rows`);
    // A header-less schema's columns match by position whatever this header calls them.
    if (o.schema && !o.schema.header && o.schema.fileColumns.length === names.length) names = [...o.schema.fileColumns];
  } else {
    names = cand.map((_, j) => `column${j + 1}`);
    if (preamble) names[names.length - 1] = 'target';
    // Without a header, a schema's columns match by position: its file's names (the length is checked below).
    if (o.schema && o.schema.fileColumns.length === names.length) names = [...o.schema.fileColumns];
  }
  const index = new Map<string, number>();
  names.forEach((n, j) => { if (!index.has(n)) index.set(n, j); });
  return { delimiter, skip, names, index, header, ...(preamble ? { preamble } : {}) };
}

/** What `columns` says of column `n`, if anything: own keys only (a column named "constructor" or "toString" must
 * not find Object.prototype's). */
function roleOf(o: Resolved, n: string): ColumnKind | 'ignore' | 'label' | undefined {
  return Object.hasOwn(o.columns, n) ? o.columns[n] : undefined;
}

/** One pass over the data rows (after preamble and header), with field counts and missing values checked. */
function dataRows(src: TextSource, o: Resolved, l: Layout, used: number[], onRow: (cells: string[], row: number) => void): { rows: number; dropped: number } {
  let seen = 0;
  let rows = 0;
  let dropped = 0;
  const missing = new Set(o.missing);
  const width = l.names.length;
  readRows(src, o.name, l.delimiter, (raw, row) => {
    if (seen++ < l.skip) return;
    if (raw.length !== width) {
      throw new Error(`parseCsv: ${o.name} row ${row} has ${raw.length} field${raw.length === 1 ? '' : 's'}, but ${l.header ? 'the header has' : 'the first row has'} ${width}; every row needs the same number (a missing delimiter, or a delimiter inside an unquoted value?)`);
    }
    const cells = raw; // trimmed in place: no second array per row
    for (let j = 0; j < cells.length; j++) cells[j] = cells[j]!.trim();
    for (const j of used) {
      const v = cells[j]!;
      if (v === '' || missing.has(v)) {
        if (o.dropMissing) { dropped++; return; }
        throw new Error(`parseCsv: ${o.name} row ${row}, column ${quote(l.names[j]!)}: missing value${v === '' ? '' : ` (${quote(v)})`}; fill it in, or pass dropMissing: true to drop such rows`);
      }
    }
    rows++;
    onRow(cells, row);
  });
  return { rows, dropped };
}

function parseSource(src: TextSource, o: Resolved): ParsedTable {
  const l = layout(src, o);
  const name = o.name;
  for (const k of Object.keys(o.columns)) {
    if (!l.index.has(k)) throw new Error(`parseCsv: columns names ${quote(k)}, which ${name} does not have; its columns are ${l.names.slice(0, 10).map(quote).join(', ')}${l.names.length > 10 ? ', …' : ''}`);
  }
  const warnings: string[] = [];
  let schema: TableSchema;
  let counted: { rows: number; dropped: number };
  if (o.schema) {
    const s = o.schema;
    for (const [k, v] of Object.entries(o.columns)) {
      if (v !== 'ignore' && v !== 'label') throw new Error(`parseCsv: columns[${quote(k)}] is ${v}, but the schema fixes every kind; only 'ignore' and 'label' apply with a schema`);
    }
    if (s.header) {
      for (const c of s.columns) if (!l.index.has(c.name)) throw new Error(`parseCsv: ${name} has no column ${quote(c.name)}, which the schema encodes; its columns are ${l.names.slice(0, 10).map(quote).join(', ')}${l.names.length > 10 ? ', …' : ''}`);
      const known = new Set([...s.columns.map((c) => c.name), ...s.ignored]);
      for (const n of l.names) {
        if (!known.has(n) && roleOf(o, n) !== 'ignore' && roleOf(o, n) !== 'label') {
          throw new Error(`parseCsv: ${name} has a column ${quote(n)} that the schema does not know; pass columns: { ${JSON.stringify(n)}: 'ignore' } to leave it out`);
        }
      }
    } else if (l.names.length !== s.fileColumns.length) {
      throw new Error(`parseCsv: ${name} has ${l.names.length} columns; the schema (made without a header: columns by position) has ${s.fileColumns.length} (${s.fileColumns.slice(0, 10).join(', ')}${s.fileColumns.length > 10 ? ', …' : ''})`);
    }
    schema = s;
    counted = encodeRows(src, o, l, schema, true).counted;
  } else {
    const usedNames = l.names.filter((n) => roleOf(o, n) !== 'ignore' && roleOf(o, n) !== 'label');
    if (usedNames.length === 0) throw new Error(`parseCsv: every column of ${name} is ignored or a label; nothing to encode`);
    const usedSet = new Set(usedNames);
    const used = usedNames.map((n) => l.index.get(n)!);
    const stats = used.map(() => newStats());
    counted = dataRows(src, o, l, used, (cells, row) => {
      for (let u = 0; u < used.length; u++) addCell(stats[u]!, cells[used[u]!]!, row);
    });
    if (counted.rows === 0) throw new Error(`parseCsv: ${name} has no rows left: all ${counted.dropped} had a missing value (dropMissing)`);
    if (l.preamble && counted.rows + counted.dropped !== l.preamble.samples) {
      throw new Error(`parseCsv: ${name} row 1 looks like scikit-learn's preamble (n_samples ${l.preamble.samples}, n_features ${l.preamble.features}), but ${counted.rows + counted.dropped} rows follow; pass preamble: 'none' if row 1 is data`);
    }
    const columns: ColumnSchema[] = [];
    let offset = 0;
    used.forEach((j, u) => {
      const n = l.names[j]!;
      // scikit-learn's target is a class index when the preamble names the classes.
      const kind = roleOf(o, n) ?? (l.preamble && n === 'target' && j === l.names.length - 1 && l.preamble.classes.length >= 2 ? 'categorical' : undefined);
      const c = inferColumn(n, stats[u]!, kind as ColumnKind | undefined, o, offset, counted.rows, warnings);
      columns.push(c);
      offset += c.width;
    });
    schema = { format: 'vae-wasm/table', version: 1, width: offset, columns, ignored: l.names.filter((n) => !usedSet.has(n)), fileColumns: [...l.names], header: l.header, missing: [...o.missing] };
  }
  const bytes = counted.rows * schema.width * 4;
  if (bytes > MAX_ENCODED_BYTES) {
    throw new Error(`parseCsv: ${name} encodes to ${counted.rows} rows × ${schema.width} values = ${(bytes / 2 ** 30).toFixed(1)} GiB of float32; at most ${MAX_ENCODED_BYTES / 2 ** 30} GiB fit beside a model: use fewer rows, or ignore wide categorical columns`);
  }
  const { data, labels, counted: again } = encodeRows(src, o, l, schema, false, counted.rows);
  if (again.rows !== counted.rows) throw new Error(`parseCsv: ${name} changed while it was read (${counted.rows} rows, then ${again.rows})`);
  return {
    columns: schema.columns.map((c) => c.name), schema, data, rows: counted.rows, shape: [counted.rows, schema.width], labels,
    dropped: counted.dropped, delimiter: l.delimiter, ...(l.preamble ? { preamble: l.preamble } : {}), warnings,
  };
}

function inferColumn(name: string, s: ColumnStats, kind: ColumnKind | undefined, o: Resolved, offset: number, rows: number, warnings: string[]): ColumnSchema {
  const values = [...s.distinct.keys()];
  const numericOnly = s.texts === 0;
  const where = `parseCsv: ${o.name} column ${quote(name)}`;
  const textError = () => new Error(`${where} is numeric, but row ${s.firstText!.row} has ${quote(s.firstText!.value)}; fix the cell, add it to missing, or declare the column categorical (columns: { ${JSON.stringify(name)}: 'categorical' })`);
  // Distinct numbers (1 and 1.0 are one value) for binary detection.
  const distinctNumbers = numericOnly && !s.overflow ? [...new Set(values.map(Number))] : undefined;
  const two = s.overflow ? false : numericOnly ? distinctNumbers!.length === 2 : values.length === 2;
  const chosen: ColumnKind = kind ?? (two ? 'binary' : numericOnly ? 'numeric' : s.numbers > s.texts ? (() => { throw textError(); })() : 'categorical');
  if (chosen === 'numeric') {
    if (!numericOnly) throw textError();
    if (s.firstHuge) throw new Error(`${where}: row ${s.firstHuge.row} has ${quote(s.firstHuge.value)}, beyond the range of numbers (about ±1.8e308); fix the cell or add it to missing`);
    const sd = Math.sqrt(s.m2 / s.numbers);
    if (!Number.isFinite(s.mean) || !Number.isFinite(sd)) throw new Error(`${where}: its values are so large that their spread overflows (mean ${s.mean}, sd ${sd}); rescale the column (divide it by a power of ten) first`);
    if (sd === 0) warnings.push(`column ${quote(name)} is constant (${values[0]}): it encodes as 0 and carries no information`);
    return { name, kind: 'numeric', offset, width: 1, mean: s.mean, sd };
  }
  if (chosen === 'binary') {
    if (!two) throw new Error(`${where} has ${s.overflow ? `more than ${LEVELS_CAP}` : numericOnly ? distinctNumbers!.length : values.length} distinct values; binary needs exactly two`);
    const levels = numericOnly
      ? binaryLevels(distinctNumbers!.map((x) => values.find((v) => Number(v) === x)!), true)
      : binaryLevels(values, false);
    return { name, kind: 'binary', offset, width: 1, levels };
  }
  const max = kind === 'categorical' ? LEVELS_CAP : o.maxLevels;
  if (s.overflow || values.length > max) {
    throw new Error(`${where} has ${s.overflow ? `more than ${LEVELS_CAP}` : values.length} distinct text values, more than ${kind ? `the ${LEVELS_CAP} a categorical column may have` : `maxLevels (${o.maxLevels})`}: ` +
      `free text or an identifier? Leave it out with columns: { ${JSON.stringify(name)}: 'ignore' }${kind ? '' : ', or raise maxLevels'}`);
  }
  if (values.length === 1) warnings.push(`column ${quote(name)} has one value (${quote(values[0]!)}) in all ${rows} rows: it carries no information`);
  const levels = values.every(isNumber) ? values.sort(byNumber) : values.sort(byCodePoint);
  return { name, kind: 'categorical', offset, width: levels.length, levels };
}

/** The second pass (or, with a given schema, a checking pass first): every row into its encoding. */
function encodeRows(src: TextSource, o: Resolved, l: Layout, schema: TableSchema, checkOnly: boolean, rows = 0): { data: Float32Array; labels: Record<string, string[]>; counted: { rows: number; dropped: number } } {
  // Columns by name (without a header the names are column1, column2, … by position, as when the schema was made).
  const at = schema.columns.map((c) => l.index.get(c.name) ?? -1);
  const labelNames = l.names.filter((n) => roleOf(o, n) === 'label');
  const labels: Record<string, string[]> = Object.fromEntries(labelNames.map((n) => [n, [] as string[]]));
  const labelAt = labelNames.map((n) => l.index.get(n)!);
  const data = new Float32Array(checkOnly ? 0 : rows * schema.width);
  const lookups = schema.columns.map((c) => (c.kind === 'numeric' ? undefined : new Map(c.levels.map((v, i) => [v, i]))));
  let r = 0;
  const counted = dataRows(src, o, l, at, (cells, row) => {
    const base = r * schema.width;
    for (let k = 0; k < schema.columns.length; k++) {
      const c = schema.columns[k]!;
      const v = cells[at[k]!]!;
      let code: number | undefined;
      if (c.kind === 'numeric') {
        if (!isNumber(v)) throw new Error(`parseCsv: ${o.name} row ${row}, column ${quote(c.name)}: ${quote(v)} is not a number, and the column is numeric`);
        const x = (Number(v) - c.mean) / (c.sd > 0 ? c.sd : 1);
        // Beyond float32's range the row would hold ±Infinity (or NaN), which no model can read.
        if (!Number.isFinite(Math.fround(x))) throw new Error(`parseCsv: ${o.name} row ${row}, column ${quote(c.name)}: ${quote(v)} is ${Number.isFinite(x) ? `${x.toExponential(2)} standard deviations from the column's mean` : 'beyond the range of numbers'}; standardised, it does not fit a 32-bit float`);
        if (!checkOnly) data[base + c.offset] = x;
        continue;
      }
      code = lookups[k]!.get(v);
      if (code === undefined && c.kind === 'binary' && isNumber(v) && isNumber(c.levels[0]) && isNumber(c.levels[1])) {
        code = Number(v) === Number(c.levels[0]) ? 0 : Number(v) === Number(c.levels[1]) ? 1 : undefined;
      }
      if (code === undefined) {
        throw new Error(`parseCsv: ${o.name} row ${row}, column ${quote(c.name)}: ${quote(v)} is not one of the column's ${c.levels.length} values (${c.levels.slice(0, 8).map(quote).join(', ')}${c.levels.length > 8 ? ', …' : ''})${o.schema ? '; the schema was made without it' : ''}`);
      }
      if (!checkOnly) data[base + c.offset + (c.kind === 'binary' ? 0 : code)] = c.kind === 'binary' ? code : 1;
    }
    if (!checkOnly) labelAt.forEach((j, k) => labels[labelNames[k]!]!.push(cells[j]!));
    r++;
  });
  if (counted.rows === 0 && checkOnly) throw new Error(`parseCsv: ${o.name} has no rows left: all ${counted.dropped} had a missing value (dropMissing)`);
  return { data, labels, counted };
}

/** For the CLI and other callers with their own chunked sources (a file read piece by piece). */
export function parseCsvSource(src: TextSource, options?: CsvOptions): ParsedTable {
  return parseSource(src, resolveOptions(options));
}

/**
 * A CSV file (Node), gzipped or not (told by its first bytes), read from disk in 1 MB pieces in each pass (a gzipped
 * one decompressed as it is read), so that any file size runs in memory bounded by the encoded table; errors name
 * the file.
 */
export async function loadCsv(path: string, options: CsvOptions = {}): Promise<ParsedTable> {
  if (typeof path !== 'string' || path === '') throw new TypeError(`loadCsv: path must be a file path, got ${describe(path)}`);
  const fs = await nodeFs<typeof import('node:fs')>('loadCsv', 'parseCsv(await file.text())');
  if (!fs.existsSync(path)) throw new Error(`loadCsv: no such file: ${path}`);
  if (fs.statSync(path).isDirectory()) throw new Error(`loadCsv: ${path} is a folder; expected a CSV file`);
  const file = function* (): Generator<Uint8Array> {
    const fd = fs.openSync(path, 'r');
    try {
      const buf = new Uint8Array(CHUNK);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, CHUNK, null);
        if (n === 0) return;
        yield buf.subarray(0, n);
      }
    } finally {
      fs.closeSync(fd);
    }
  };
  const head = file();
  const first = head.next();
  head.return(undefined); // closes the file
  // A gzipped file is decompressed as it is read, in each pass (never held whole).
  const gzipped = !first.done && isGzip(first.value);
  const src = bytesSource(path, gzipped ? function* () {
    try {
      yield* gunzipChunks(file());
    } catch (e) {
      throw new Error(`loadCsv: ${path} is not valid gzip data (${(e as Error).message})`);
    }
  } : file);
  return parseCsvSource(src, { ...options, name: options.name ?? path });
}
