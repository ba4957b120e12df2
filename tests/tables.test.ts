// Tables: parseCsv / loadCsv (kinds inferred and overridden, the encoding, the schema that encodes new rows),
// decodeRows, scikit-learn's bundled CSVs (read from Debian's python3-sklearn, never vendored) against their
// published summaries and a plain re-computation, and each bad input's error with its row and column.
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeRows, loadCsv, parseCsv, VAE, type TableSchema } from '../ts/index';
import { sklearnCsv } from './helpers';

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sdPop = (v: number[]) => {
  const m = mean(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
};
const tmpFile = (name: string, text: string | Uint8Array) => {
  const path = join(mkdtempSync(join(tmpdir(), 'vae-csv-')), name);
  writeFileSync(path, text);
  return path;
};

describe('parseCsv', () => {
  const TEXT = 'age,smoker,colour,score\n30,yes,red,1.5\n40,no,blue,2.5\n50,yes,green,4\n60,no,red,-1\n';

  it('infers numeric, binary and categorical columns and encodes rows: standardised, 0/1, one-hot', () => {
    const t = parseCsv(TEXT);
    expect(t.columns).toEqual(['age', 'smoker', 'colour', 'score']);
    const ages = [30, 40, 50, 60];
    const scores = [1.5, 2.5, 4, -1];
    expect(t.schema).toEqual({
      format: 'vae-wasm/table', version: 1, width: 6, header: true, ignored: [], fileColumns: ['age', 'smoker', 'colour', 'score'], missing: expect.any(Array),
      columns: [
        { name: 'age', kind: 'numeric', offset: 0, width: 1, mean: 45, sd: Math.sqrt(125) },
        { name: 'smoker', kind: 'binary', offset: 1, width: 1, levels: ['no', 'yes'] },
        { name: 'colour', kind: 'categorical', offset: 2, width: 3, levels: ['blue', 'green', 'red'] },
        { name: 'score', kind: 'numeric', offset: 5, width: 1, mean: mean(scores), sd: expect.closeTo(sdPop(scores), 14) },
      ],
    });
    expect([t.rows, t.shape, t.dropped, t.delimiter]).toEqual([4, [4, 6], 0, ',']);
    const z = (x: number, v: number[]) => Math.fround((x - mean(v)) / sdPop(v));
    const rows = [[z(30, ages), 1, 0, 0, 1, z(1.5, scores)], [z(40, ages), 0, 1, 0, 0, z(2.5, scores)],
      [z(50, ages), 1, 0, 1, 0, z(4, scores)], [z(60, ages), 0, 0, 0, 1, z(-1, scores)]];
    t.data.forEach((v, i) => expect(v, `value ${i}`).toBeCloseTo(rows[Math.floor(i / 6)]![i % 6]!, 6));
    // The schema is plain JSON and encodes new rows the same way.
    const schema = JSON.parse(JSON.stringify(t.schema)) as TableSchema;
    const again = parseCsv('score,colour,age,smoker\n4,green,50,yes\n', { schema });
    expect(Array.from(again.data)).toEqual(Array.from(t.data.subarray(12, 18)));
  });

  it('binary levels: numbers in order, known pairs negative first, else code-point order; kinds can be overridden', () => {
    const t = parseCsv('a,b,c,d,e\n1,TRUE,on,x,7\n0,FALSE,off,y,7\n1.0,TRUE,on,x,7\n');
    expect(t.schema.columns.map((c) => (c.kind === 'numeric' ? c.kind : [c.kind, c.levels]))).toEqual([
      ['binary', ['0', '1']], ['binary', ['FALSE', 'TRUE']], ['binary', ['off', 'on']], ['binary', ['x', 'y']], 'numeric']);
    expect(Array.from(t.data.subarray(0, 4))).toEqual([1, 1, 1, 0]);
    expect(t.data[2 * 5]).toBe(1); // 1.0 is the number 1
    expect(t.warnings).toEqual(['column "e" is constant (7): it encodes as 0 and carries no information']);
    const o = parseCsv('id,n,kind\na1,1,3\na2,2,4\na3,3,5\n', { columns: { id: 'label', n: 'categorical', kind: 'ignore' } });
    expect(o.schema.columns).toEqual([{ name: 'n', kind: 'categorical', offset: 0, width: 3, levels: ['1', '2', '3'] }]);
    expect(o.schema.ignored).toEqual(['id', 'kind']);
    expect(o.labels).toEqual({ id: ['a1', 'a2', 'a3'] });
    expect(Array.from(o.data)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    // Numeric levels of a categorical column sort as numbers.
    expect((parseCsv('k\n10\n9\n2\n10\n', { columns: { k: 'categorical' } }).schema.columns[0] as { levels: string[] }).levels).toEqual(['2', '9', '10']);
  });

  it('header detection: a numeric column under a text cell, or names that never recur; otherwise column1, column2, …', () => {
    expect(parseCsv('1,2\n3,4\n5,7\n').columns).toEqual(['column1', 'column2']);
    expect(parseCsv('x,y\n3,4\n5,7\n').columns).toEqual(['x', 'y']);
    expect(parseCsv('colour,size\nred,big\nblue,small\nred,small\n').columns).toEqual(['colour', 'size']);
    expect(parseCsv('red,big\nblue,small\nred,small\nblue,big\n').columns).toEqual(['column1', 'column2']);
    expect(parseCsv('x,y\n3,4\n5,7\n', { header: false, columns: { column1: 'ignore', column2: 'categorical' } }).schema.columns[0]).toMatchObject({ name: 'column2', kind: 'categorical', levels: ['4', '7', 'y'] });
    expect(() => parseCsv('x,y\n3,4\n5,7\n', { header: false })).toThrow('column "column1" is numeric, but row 1 has "x"');
    expect(parseCsv('3,4\n').columns).toEqual(['column1', 'column2']); // one row of numbers: data
    expect(parseCsv('1,2\n3,4\n5,6\n', { header: true }).columns).toEqual(['1', '2']);
  });

  it('delimiters: guessed among , tab ; | and space, or given; quotes (RFC 4180); CRLF; BOM; blank lines', () => {
    const want = { columns: ['a', 'b'], rows: 2 };
    for (const d of [',', '\t', ';', '|', ' ']) expect(parseCsv(`a${d}b\n1${d}2\n3${d}4\n`), JSON.stringify(d)).toMatchObject({ ...want, delimiter: d });
    expect(parseCsv('a;b\n1;2\n3;4\n', { delimiter: ';' }).delimiter).toBe(';');
    const q = parseCsv('\ufeffname,n\r\n"Smith, J",1\r\n\r\n"say ""hi""\nthere",2\r\n"Smith, J",3\r\n', { columns: { name: 'label' } });
    expect(q.labels.name).toEqual(['Smith, J', 'say "hi"\nthere', 'Smith, J']);
    expect(q.columns).toEqual(['n']);
  });

  it('chunks of the input do not split rows: a 3 MB file with quoted delimiters and line breaks', () => {
    const n = 150000;
    let text = 'id,note,x\n';
    for (let i = 0; i < n; i++) text += `${i},"a, b\n""${i % 7}""",${(i % 100) / 10}\n`;
    expect(text.length).toBeGreaterThan(3 << 20);
    const t = parseCsv(new TextEncoder().encode(text), { columns: { id: 'ignore', note: 'label' } });
    expect(t.rows).toBe(n);
    expect(t.labels.note![12345]).toBe(`a, b\n"${12345 % 7}"`);
    const xs = Array.from({ length: n }, (_, i) => (i % 100) / 10);
    expect(t.schema.columns[0]).toMatchObject({ kind: 'numeric', mean: expect.closeTo(mean(xs), 12), sd: expect.closeTo(sdPop(xs), 12) });
  });

  it('missing values: an error naming row and column, or dropped with dropMissing; tokens configurable', () => {
    const text = 'a,b\n1,2\n3,NA\n5,6\n,8\n9,10\n';
    expect(() => parseCsv(text)).toThrow('parseCsv: CSV row 3, column "b": missing value ("NA"); fill it in, or pass dropMissing: true to drop such rows');
    const t = parseCsv(text, { dropMissing: true });
    expect([t.rows, t.dropped]).toEqual([3, 2]);
    expect(t.schema.columns[0]).toMatchObject({ mean: 5 });
    expect(() => parseCsv('a,b\n1,-\n2,3\n4,5\n', { missing: ['-'] })).toThrow('row 2, column "b": missing value ("-")');
    // Missing cells in an ignored column are not read.
    expect(parseCsv('a,b\n1,\n2,3\n', { columns: { b: 'ignore' } }).rows).toBe(2);
  });

  it('every bad input is a short error naming the row or column', () => {
    const cases: [string, object, string | RegExp][] = [
      ['', {}, 'parseCsv: CSV is empty; expected a table: a header row (optional) and rows of values'],
      ['\n\n  \n', {}, /CSV is empty/],
      ['a,b,c\n', {}, 'parseCsv: CSV has a header ("a", "b", "c") but no data rows'],
      ['a,b,a\n1,2,3\n', { header: true }, 'parseCsv: CSV header (row 1) names column "a" twice (columns 1 and 3); column names must be distinct'],
      ['a,,c\n1,2,3\n', { header: true }, 'parseCsv: CSV header (row 1): column 2 has no name; name every column (or pass header: false)'],
      ['a,b\n1,2\n3,4,5\n6,7\n', {}, 'parseCsv: CSV row 3 has 3 fields, but the header has 2; every row needs the same number (a missing delimiter, or a delimiter inside an unquoted value?)'],
      ['a,b\n1,2\n3,4\n5,x\n7,8\n', {}, 'parseCsv: CSV column "b" is numeric, but row 4 has "x"; fix the cell, add it to missing, or declare the column categorical (columns: { "b": \'categorical\' })'],
      ['a,b\n1,2\n3,4\n5,x\n', { columns: { b: 'numeric' } }, /column "b" is numeric, but row 4 has "x"/],
      ['a,b\n1,"2\n3,4\n', {}, /parseCsv: CSV row 2: quoted field unterminated/],
      ['a,b\n1,2\n', { columns: { c: 'numeric' } }, 'parseCsv: columns names "c", which CSV does not have; its columns are "a", "b"'],
      ['a,b\n1,2\n3,4\n5,6\n', { columns: { a: 'binary' } }, 'parseCsv: CSV column "a" has 3 distinct values; binary needs exactly two'],
      ['a\n1\n', { delimiter: '"' }, /delimiter must be one character other than a quote or a line break/],
      ['a\n1\n', { colums: {} }, /unknown option "colums"/],
    ];
    for (const [text, options, message] of cases) expect(() => parseCsv(text, options), JSON.stringify(text)).toThrow(message);
    const ids = 'id,x\n' + Array.from({ length: 30 }, (_, i) => `user${i},${i}`).join('\n');
    expect(() => parseCsv(ids)).toThrow('parseCsv: CSV column "id" has 30 distinct text values, more than maxLevels (20): free text or an identifier? Leave it out with columns: { "id": \'ignore\' }, or raise maxLevels');
    expect(() => parseCsv(Uint8Array.from([0x61, 0x0a, 0xff, 0xfe, 0x0a]))).toThrow('parseCsv: CSV is not UTF-8 text (an invalid byte near offset 0); save it as UTF-8 (or it is not a CSV file)');
  });

  it('with a schema: unseen categories, missing and extra columns are errors naming them', () => {
    const { schema } = parseCsv(TEXT);
    const cases: [string, string][] = [
      ['age,smoker,colour,score\n30,yes,purple,1\n', 'parseCsv: CSV row 2, column "colour": "purple" is not one of the column\'s 3 values ("blue", "green", "red"); the schema was made without it'],
      ['age,smoker,colour,score\n30,maybe,red,1\n', 'row 2, column "smoker": "maybe" is not one of the column\'s 2 values ("no", "yes")'],
      ['age,smoker,colour\n30,yes,red\n', 'parseCsv: CSV has no column "score", which the schema encodes; its columns are "age", "smoker", "colour"'],
      ['age,smoker,colour,score,height\n30,yes,red,1,180\n', 'parseCsv: CSV has a column "height" that the schema does not know; pass columns: { "height": \'ignore\' } to leave it out'],
      ['age,smoker,colour,score\nold,yes,red,1\n', 'parseCsv: CSV row 2, column "age": "old" is not a number, and the column is numeric'],
    ];
    for (const [text, message] of cases) expect(() => parseCsv(text, { schema }), text).toThrow(message);
    expect(parseCsv('age,smoker,colour,score,height\n30,yes,red,1,180\n', { schema, columns: { height: 'ignore' } }).rows).toBe(1);
    expect(() => parseCsv('a\n1\n', { schema: { ...schema, width: 5 } })).toThrow('parseCsv: schema has width 5 but its columns add up to 6; pass the schema parseCsv returned (or its JSON)');
    expect(() => parseCsv(TEXT, { schema, columns: { age: 'binary' } })).toThrow(/the schema fixes every kind/);
  });

  it("with a schema, header: true or false reads a file laid out unlike the schema's (columns by position)", () => {
    const { schema, data } = parseCsv(TEXT);
    const body = TEXT.slice(TEXT.indexOf('\n') + 1);
    // The same rows without their header; by default the schema's word (a header) holds, and the first row's cells
    // are no column names it knows.
    expect(parseCsv(body, { schema, header: false }).data).toEqual(data);
    expect(() => parseCsv(body, { schema })).toThrow(/parseCsv: CSV has no column "age", which the schema encodes; its columns are "30", "yes", "red", "1.5"/);
    // A schema made without a header, and a file with one (whatever it calls the columns).
    const bare = parseCsv(body, { header: false });
    const renamed = `w,x,y,z\n${body}`;
    const withHeader = parseCsv(renamed, { schema: bare.schema, header: true });
    expect(withHeader.data).toEqual(bare.data);
    expect(withHeader.schema).toBe(bare.schema);
    // By position means the same number of columns.
    expect(() => parseCsv('w,x,y\n1,2,3\n', { schema: bare.schema, header: true })).toThrow(/has 3 columns; the schema \(made without a header: columns by position\) has 4/);
  });

  it('an encoding too large for the core is refused after one pass, before it is allocated', () => {
    // 600,000 rows of one categorical column with 1000 levels: 2.4 GB of one-hot floats from a 4 MB text.
    const levels = Array.from({ length: 1000 }, (_, i) => `L${i}`);
    const text = 'c\n' + Array.from({ length: 600000 }, (_, i) => levels[i % 1000]).join('\n');
    expect(() => parseCsv(text, { columns: { c: 'categorical' } })).toThrow('parseCsv: CSV encodes to 600000 rows × 1000 values = 2.2 GiB of float32; at most 2 GiB fit beside a model: use fewer rows, or ignore wide categorical columns');
  });
});

describe('decodeRows', () => {
  it('turns encoded rows (or model outputs) back into original units: numbers, binary levels, the argmax level', () => {
    const t = parseCsv('t,flag,ok,c\n-3.5,1,yes,b\n10,0,no,a\n2,1,no,c\n');
    const { rows } = decodeRows(t.schema, t.data);
    expect(rows.map((r) => ({ ...r, t: Number((r.t as number).toFixed(5)) }))).toEqual([
      { t: -3.5, flag: 1, ok: 'yes', c: 'b' }, { t: 10, flag: 0, ok: 'no', c: 'a' }, { t: 2, flag: 1, ok: 'no', c: 'c' }]);
    const out = decodeRows(t.schema, [0, 0.7, 0.2, 0.1, 0.3, 0.6]);
    expect(out.rows).toEqual([{ t: (t.schema.columns[0] as { mean: number }).mean, flag: 1, ok: 'no', c: 'c' }]);
    expect(Array.from(out.probabilities.c!)).toEqual([0.1, 0.3, 0.6].map(Math.fround));
    expect(Array.from(out.probabilities.ok!)).toEqual([Math.fround(0.2)]);
    expect(() => decodeRows(t.schema, [1, 2])).toThrow('decodeRows: values must be a flat array of rows × 6 (the schema\'s width)');
  });
});

describe("scikit-learn's bundled CSVs (Debian's python3-sklearn)", () => {
  /** The file's numbers by a plain split (these files have no quotes), for an independent re-computation. */
  const plain = (path: string) => readFileSync(path, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));

  it('iris.csv: the preamble is detected; columns match UCI\'s published summary and a plain re-computation', async () => {
    const path = sklearnCsv('iris.csv');
    const t = await loadCsv(path);
    expect(t.preamble).toEqual({ samples: 150, features: 4, classes: ['setosa', 'versicolor', 'virginica'] });
    expect(t.columns).toEqual(['column1', 'column2', 'column3', 'column4', 'target']);
    expect([t.rows, t.schema.width]).toEqual([150, 7]);
    // UCI's iris.names: means 5.84, 3.05, 3.76, 1.20 and SDs 0.83, 0.43, 1.76, 0.76 (sample SDs, two decimals; the
    // file's two corrected rows move them in the third).
    const uci = [[5.84, 0.83], [3.05, 0.43], [3.76, 1.76], [1.2, 0.76]];
    const rows = plain(path);
    t.schema.columns.slice(0, 4).forEach((c, j) => {
      const { mean: m, sd } = c as { mean: number; sd: number };
      expect(m).toBeCloseTo(uci[j]![0]!, 1);
      expect(sd * Math.sqrt(150 / 149)).toBeCloseTo(uci[j]![1]!, 1);
      const col = rows.map((r) => r[j]!);
      expect(m).toBeCloseTo(mean(col), 12);
      expect(sd).toBeCloseTo(sdPop(col), 12);
    });
    expect(t.schema.columns[4]).toEqual({ name: 'target', kind: 'categorical', offset: 4, width: 3, levels: ['0', '1', '2'] });
    const counts = [0, 0, 0];
    for (let r = 0; r < 150; r++) for (let k = 0; k < 3; k++) counts[k] = counts[k]! + t.data[r * 7 + 4 + k]!;
    expect(counts).toEqual([50, 50, 50]);
  });

  it('wine_data.csv, breast_cancer.csv and boston_house_prices.csv (preamble, then a header)', async () => {
    const classCounts = async (file: string, k: number) => {
      const t = await loadCsv(sklearnCsv(file), { columns: { target: 'label' } });
      const counts = new Array(k).fill(0);
      for (const v of t.labels.target!) counts[Number(v)]++;
      return { t, counts };
    };
    const wine = await classCounts('wine_data.csv', 3);
    expect([wine.t.rows, wine.t.schema.width, wine.counts]).toEqual([178, 13, [59, 71, 48]]);
    const cancer = await classCounts('breast_cancer.csv', 2);
    expect([cancer.t.rows, cancer.t.schema.width, cancer.counts]).toEqual([569, 30, [212, 357]]);
    expect(cancer.t.preamble!.classes).toEqual(['malignant', 'benign']);
    const boston = await loadCsv(sklearnCsv('boston_house_prices.csv'));
    expect(boston.preamble).toEqual({ samples: 506, features: 13, classes: [] });
    expect(boston.columns.slice(0, 4)).toEqual(['CRIM', 'ZN', 'INDUS', 'CHAS']);
    expect(boston.schema.columns[3]).toMatchObject({ kind: 'binary', levels: ['0', '1'] });
    // Read as data instead, the preamble row is refused for what it is.
    await expect(loadCsv(sklearnCsv('wine_data.csv'), { preamble: 'none' })).rejects.toThrow(/wine_data\.csv row 2 has 14 fields, but the header has 5/);
  });

  it('a table trains a Gaussian VAE as it is', async () => {
    const t = await loadCsv(sklearnCsv('wine_data.csv'), { columns: { target: 'ignore' } });
    const vae = await VAE.create({ inputDim: t.schema.width, latentDim: 2, encoder: [16], likelihood: 'gaussian', seed: 1 });
    const history = await vae.fit(t, { epochs: 20, batchSize: 32 });
    expect(history[19]!.loss).toBeLessThan(history[0]!.loss);
    vae.dispose();
  });
});

describe('loadCsv', () => {
  it('names the file in errors, and stops early on a file that is no table, whatever its size', async () => {
    await expect(loadCsv('/nonexistent/t.csv')).rejects.toThrow('loadCsv: no such file: /nonexistent/t.csv');
    await expect(loadCsv(tmpFile('t.csv', 'a,b\n1,2\n3\n'))).rejects.toThrow(/t\.csv row 3 has 1 field, but the header has 2/);
    // A 2 GB file (sparse: zeros) is refused after reading 17 MB: no row may be longer than 16 MB.
    const path = tmpFile('huge.csv', '');
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, 2 ** 31);
    closeSync(fd);
    const t0 = performance.now();
    await expect(loadCsv(path)).rejects.toThrow(/huge\.csv row 1 is longer than 16 MB: an opening quote that is never closed, or not a table/);
    expect(performance.now() - t0).toBeLessThan(20_000);
  }, 30_000);
  it('reads a gzipped file as it decompresses it, in every pass; a cut-off or corrupt one is an error', async () => {
    // scikit-learn's digits.csv.gz (1,797 rows of 65 columns) gives the table its decompressed text gives.
    const path = sklearnCsv('digits.csv.gz');
    const t = await loadCsv(path);
    const want = parseCsv(gunzipSync(readFileSync(path)), { name: path });
    expect([t.rows, t.schema.width]).toEqual([1797, want.schema.width]);
    expect(t.data).toEqual(want.data);
    expect(t.schema).toEqual(want.schema);
    // A file of two gzip members is the text of both (fflate's gunzipSync would keep only the first).
    const two = tmpFile('two.csv.gz', Buffer.concat([gzipSync(new TextEncoder().encode('a,b\n1,2\n')), gzipSync(new TextEncoder().encode('3,4\n'))]));
    expect(Array.from((await loadCsv(two)).data)).toEqual(Array.from(parseCsv('a,b\n1,2\n3,4\n').data));
    const gz = readFileSync(path);
    await expect(loadCsv(tmpFile('cut.csv.gz', gz.subarray(0, gz.length >> 1)))).rejects.toThrow(/cut\.csv\.gz is not valid gzip data \(unexpected EOF\)/);
    const bad = Uint8Array.from(gz);
    bad.fill(0xff, 100, 200);
    await expect(loadCsv(tmpFile('bad.csv.gz', bad))).rejects.toThrow(/bad\.csv\.gz is not valid gzip data \(/);
    // Stored deflate blocks: a changed digit still inflates, and only the member's CRC-32 tells.
    const stored = gzipSync(new TextEncoder().encode('a,b\n1,2\n3,4\n'), { level: 0 });
    stored[stored.length - 10]! ^= 1;
    await expect(loadCsv(tmpFile('flipped.csv.gz', stored))).rejects.toThrow(/flipped\.csv\.gz is not valid gzip data \(gzip member 1's data \(CRC-32 0x[0-9a-f]{8}, 12 bytes\) does not match its trailer/);
  });
});
