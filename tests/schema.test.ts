// Models of tables: a parsed CSV's schema gives the model its input size and each column its likelihood (or loss),
// travels in the model file, guards against rows encoded another way, and turns outputs and scores back into the
// table's columns.
import { describe, expect, it } from 'vitest';
import { Autoencoder, VAE, decodeRows, describeColumn, parseCsv, schemaLikelihood, schemaLoss } from '../ts/index';
import type { TableSchema } from '../ts/index';

/**
 * A table whose columns depend on each other: `size` drives `weight` (numeric), `large` (binary: size > 0) and
 * `colour` (categorical, by the sign of size and a small numeric `noise`). Deterministic.
 */
function table(rows: number): string {
  const lines = ['size,weight,large,colour,noise'];
  let s = 12345;
  const u = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < rows; i++) {
    const size = (u() - 0.5) * 4;
    const weight = 3 * size + 10 + (u() - 0.5) * 0.2;
    const colour = size < -0.7 ? 'red' : size < 0.7 ? 'green' : 'blue';
    lines.push(`${size.toFixed(4)},${weight.toFixed(4)},${size > 0 ? 'yes' : 'no'},${colour},${((u() - 0.5) * 0.1).toFixed(4)}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('describeColumn', () => {
  it('says what parseCsv inferred: mean and sd, the two levels, and at most 8 levels with their names', () => {
    const rows = Array.from({ length: 10 }, (_, i) => `${i},${i % 2 ? 'yes' : 'no'},${'abcdefghij'[i]}`).join('\n');
    const [num, bin, cat] = parseCsv(`x,flag,letter\n${rows}\n`, { maxLevels: 20 }).schema.columns;
    expect(describeColumn(num!)).toBe('mean 4.5, sd 2.872');
    expect(describeColumn(bin!)).toBe('no → 0, yes → 1');
    expect(describeColumn(cat!)).toBe('10 levels: a, b, c, d, e, f, g, h, …');
    expect(describeColumn(cat!, (l, i) => `${l}${i}`)).toBe('10 levels: a0, b1, c2, d3, e4, f5, g6, h7, …');
  });
});

describe('column names that are keys of Object.prototype', () => {
  it('parse, encode and decode like any other name: constructor, toString and __proto__ stay numeric, own keys', () => {
    const csv = `constructor,toString,__proto__,hasOwnProperty\n${Array.from({ length: 30 }, (_, i) => `${i},${2 * i},${i % 7},${i % 2 ? 'yes' : 'no'}`).join('\n')}\n`;
    const t = parseCsv(csv);
    expect(t.schema.columns.map((c) => [c.name, c.kind, c.width])).toEqual([['constructor', 'numeric', 1], ['toString', 'numeric', 1], ['__proto__', 'numeric', 1], ['hasOwnProperty', 'binary', 1]]);
    const { rows, probabilities } = decodeRows(t.schema, t.data);
    const row = rows[5]!;
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.keys(row)).toEqual(['constructor', 'toString', '__proto__', 'hasOwnProperty']);
    expect(Object.getOwnPropertyDescriptor(row, '__proto__')!.value).toBeCloseTo(5, 4);
    expect(row.constructor).toBeCloseTo(5, 4);
    expect(row.hasOwnProperty).toBe('yes');
    expect(Object.getPrototypeOf(probabilities)).toBe(Object.prototype);
    expect(Object.keys(probabilities)).toEqual(['hasOwnProperty']);
  });
});

describe('numbers beyond what a model can read', () => {
  it('are refused where they appear, naming the row and column: in parseCsv, with or without a schema, and decodeRows', () => {
    expect(() => parseCsv('a,b\n1,1e400\n2,3\n4,5\n')).toThrow('parseCsv: CSV column "b": row 2 has "1e400", beyond the range of numbers');
    expect(() => parseCsv('a,b\n1,1e200\n2,-1e200\n4,5\n')).toThrow(/column "b": its values are so large that their spread overflows .*rescale the column/);
    const t = parseCsv('a,b\n1,2\n2,3\n4,5\n');
    expect(() => parseCsv('a,b\n1,1e300\n', { schema: t.schema })).toThrow(/row 2, column "b": "1e300" is 8\.\d+e\+299 standard deviations from the column's mean; standardised, it does not fit a 32-bit float/);
    expect(() => parseCsv('a,b\n1,-1e400\n', { schema: t.schema })).toThrow(/"-1e400" is beyond the range of numbers/);
    expect(parseCsv('a,b\n1,1e30\n', { schema: t.schema }).data[1]).toBeCloseTo(1e30 / (t.schema.columns[1] as { sd: number }).sd, -25);
    const c = parseCsv('a,b,c\n1,x,yes\n2,y,no\n3,x,no\n');
    expect(() => decodeRows(c.schema, [NaN, 0, 0])).toThrow("decodeRows: values[0] (row 0) is NaN; expected finite numbers, a model's outputs for rows of this schema");
    expect(() => decodeRows(c.schema, new Float32Array([0, 1, 0, 1, Infinity, 0]))).toThrow('values[4] (row 1) is Infinity');
    expect(() => decodeRows(c.schema, ['1', '0.2', '0.3'] as never)).toThrow('values[0] (row 0) is "1"');
    expect(decodeRows(c.schema, [0, 0.9, 0.1]).rows).toEqual([{ a: 2, b: 'y', c: 'no' }]);
  });
});

describe('wide tables', () => {
  // Bounded time: name lookups are linear in the columns (they were quadratic: 80,000 columns took 36 s, then 9 s
  // more with the schema); 50,000 columns now take well under a second each way.
  it('50,000 columns parse, and parse again with their schema, within the test timeout', () => {
    const n = 50_000;
    const csv = `${Array.from({ length: n }, (_, j) => `c${j}`).join(',')}\n${[0, 1, 2].map((r) => Array.from({ length: n }, (_, j) => (j * 7 + r * 3) % 11).join(',')).join('\n')}\n`;
    const t = parseCsv(csv);
    expect(t.schema.width).toBe(n);
    expect(parseCsv(csv, { schema: t.schema }).data).toEqual(t.data);
  }, 10_000);
});

describe('a table schema in a model', () => {
  const parsed = parseCsv(table(600));
  const schema = parsed.schema;

  it('maps columns to likelihood and loss groups: numeric, binary, categorical; neighbours of one kind joined', () => {
    expect(schema.columns.map((c) => [c.name, c.kind, c.width])).toEqual([
      ['size', 'numeric', 1], ['weight', 'numeric', 1], ['large', 'binary', 1], ['colour', 'categorical', 3], ['noise', 'numeric', 1],
    ]);
    expect(schemaLikelihood(schema)).toEqual([
      { type: 'gaussian', width: 2, variance: 'learned' }, { type: 'bernoulli', width: 1 }, { type: 'categorical', width: 3 },
      { type: 'gaussian', width: 1, variance: 'learned' },
    ]);
    expect(schemaLoss(schema)).toEqual([{ type: 'mse', width: 2 }, { type: 'bce', width: 1 }, { type: 'categorical', width: 3 }, { type: 'mse', width: 1 }]);
    // A categorical column with one level (always 1) is Bernoulli: a softmax over one value has nothing to learn.
    const one = parseCsv('a,b\n1,x\n2,x\n3,x\n', { columns: { b: 'categorical' } }).schema;
    expect(schemaLikelihood(one)).toEqual([{ type: 'gaussian', width: 1, variance: 'learned' }, { type: 'bernoulli', width: 1 }]);
  });

  it('VAE.create({ schema }): input size and likelihood from it; a clash or a bad schema is refused, naming it', async () => {
    const vae = await VAE.create({ schema, latentDim: 2, encoder: [8], seed: 1 });
    // The model keeps its own copy, frozen: an edit through model.schema would change toRows and the saved file.
    expect(vae.schema).not.toBe(schema);
    expect(Object.isFrozen(vae.schema!.columns[0])).toBe(true);
    expect(() => { (vae.schema!.columns[0] as { mean: number }).mean = 1000; }).toThrow(TypeError);
    expect(vae.schema!.columns).toEqual(schema.columns);
    expect(vae.config.inputDim).toBe(7);
    expect(vae.config.likelihood).toEqual(schemaLikelihood(schema));
    expect(vae.schema).toEqual(schema);
    expect(vae.tensors.find((t) => t.name === 'decoder.logVar')?.shape).toEqual([3]);
    vae.dispose();
    // The model keeps its own copy.
    const copy = JSON.parse(JSON.stringify(schema)) as TableSchema;
    const own = await VAE.create({ schema: copy, latentDim: 2, encoder: [8] });
    (copy.columns[0] as { mean: number }).mean = 99;
    expect(own.schema!.columns[0]).toEqual(schema.columns[0]);
    own.dispose();
    await expect(VAE.create({ schema, inputDim: 5, latentDim: 2 })).rejects.toThrow("VAE.create: inputDim must be left out or 7, the schema's width, got 5");
    await expect(VAE.create({ schema, inputShape: [7, 1, 1], latentDim: 2 })).rejects.toThrow(/inputShape must be left out with a schema: a table's rows are flat \(7 values\)/);
    await expect(VAE.create({ schema: { ...schema, width: 9 }, latentDim: 2 })).rejects.toThrow('VAE.create: schema has width 9 but its columns add up to 7');
    // Every field is checked: an sd that JSON turned from Infinity into null, lists of strings, no column twice.
    const withColumn = (i: number, c: object) => ({ ...schema, columns: schema.columns.map((x, j) => (j === i ? { ...x, ...c } : x)) });
    await expect(VAE.create({ schema: withColumn(0, { sd: null }) as never, latentDim: 2 })).rejects.toThrow(/columns\[0\] \("size"\): numeric needs width 1, a finite mean and a finite sd ≥ 0/);
    await expect(VAE.create({ schema: { ...schema, missing: [1] } as never, latentDim: 2 })).rejects.toThrow('VAE.create: schema missing[0] is 1; expected a string');
    await expect(VAE.create({ schema: { ...schema, fileColumns: [...schema.fileColumns, 'size'] }, latentDim: 2 })).rejects.toThrow('VAE.create: schema fileColumns names a column twice');
    await expect(VAE.create({ schema: { ...schema, ignored: ['size'] }, latentDim: 2 })).rejects.toThrow('VAE.create: schema both encodes and ignores column "size"');
    await expect(VAE.create({ schema, latentDim: 2, likelihood: [{ type: 'gaussian', width: 6 }] })).rejects.toThrow(/widths summing to the 7 values of a row \(they sum to 6\)/);
    // An explicit likelihood of the right width overrides the schema's.
    const plain = await VAE.create({ schema, latentDim: 2, likelihood: 'gaussian' });
    expect(plain.config.likelihood).toBe('gaussian');
    plain.dispose();
  });

  it('trains, learns the columns, and the file keeps the schema: a loaded model gives the same outputs', async () => {
    const vae = await VAE.create({ schema, latentDim: 2, encoder: [32], decoder: [32], seed: 3, threads: 1 });
    const history = await vae.fit(parsed, { epochs: 100, batchSize: 50, optimizer: { name: 'adam', learningRate: 3e-3 } });
    // Nats per row. Columns modelled independently cost about 3 × 1.42 (standardised Gaussians) + ln 2 + ln 3 = 6.05;
    // the links (weight, large and colour follow size) are worth more than 3 nats of that.
    expect(history[0]!.loss).toBeGreaterThan(5.5);
    expect(history[history.length - 1]!.loss).toBeLessThan(3);
    const back = await VAE.load(vae.save());
    expect(back.schema).toEqual(schema);
    expect(back.config.likelihood).toEqual(vae.config.likelihood);
    const x = parsed.data.subarray(0, 20 * 7);
    expect(back.reconstruct(x)).toEqual(vae.reconstruct(x));
    // Reconstructions in original units: weight ≈ 3·size + 10 and the colour follows size, as in the data.
    const rows = vae.toRows(vae.reconstruct(parseCsv(table(600), { schema })));
    const truth = decodeRows(schema, parsed.data).rows;
    let colourRight = 0;
    let weightError = 0;
    rows.rows.forEach((r, i) => {
      colourRight += r.colour === truth[i]!.colour ? 1 : 0;
      weightError += Math.abs((r.weight as number) - (truth[i]!.weight as number));
    });
    expect(colourRight / rows.rows.length).toBeGreaterThan(0.97);
    expect(weightError / rows.rows.length).toBeLessThan(0.4); // weight's sd is about 3.5
    expect(rows.probabilities.colour!.length).toBe(600 * 3);
    vae.dispose();
    back.dispose();
  }, 60_000);

  it('rows encoded with another schema are refused before anything runs; toRows needs a schema', async () => {
    const vae = await VAE.create({ schema, latentDim: 2, encoder: [8], seed: 1 });
    const before = vae.getWeights();
    const other = parseCsv(table(600).replace('size,weight', 'length,weight'));
    await expect(vae.fit(other, { epochs: 1 })).rejects.toThrow(`VAE.fit: data was encoded with another schema than the model's (column 1 ("size") has name "length" in the data's schema, "size" in the model's); parse it with parseCsv(text, { schema: model.schema })`);
    expect(() => vae.score(other)).toThrow(/VAE\.score: x was encoded with another schema/);
    // Same names and kinds, other statistics (parsed from other rows): the message says which.
    const fewer = parseCsv(table(50));
    expect(() => vae.score(fewer)).toThrow(/\(column 1 \("size"\) has mean -?[\d.e+-]+ in the data's schema, -?[\d.e+-]+ in the model's\)/);
    expect(vae.getWeights()).toEqual(before);
    const image = await VAE.create({ inputDim: 4, latentDim: 1 });
    expect(() => image.toRows(new Float32Array(4))).toThrow(/VAE\.toRows: this model has no table schema/);
    image.dispose();
    vae.dispose();
  });

  it('scores per column: shares sum to the reconstruction term, and a broken row points at its column', async () => {
    const vae = await VAE.create({ schema, latentDim: 2, encoder: [32], decoder: [32], seed: 3, threads: 1 });
    await vae.fit(parsed, { epochs: 100, batchSize: 50, optimizer: { name: 'adam', learningRate: 3e-3 } });
    // Row 0 as it is, and with its colour changed to one that contradicts its size.
    const normal = parseCsv(table(1), { schema });
    const colour = decodeRows(schema, normal.data).rows[0]!.colour;
    const wrong = colour === 'red' ? 'blue' : 'red';
    const lines = table(1).trim().split('\n');
    const broken = parseCsv(`${lines[0]}\n${lines[1]!.replace(`,${colour},`, `,${wrong},`)}\n`, { schema });
    const s = vae.score(new Float32Array([...normal.data, ...broken.data]), { method: 'reconstruction', samples: 64, seed: 1 });
    expect(s.columns).toEqual(['size', 'weight', 'large', 'colour', 'noise']);
    expect(s.perColumn.length).toBe(2 * 5);
    for (let r = 0; r < 2; r++) {
      const sum = s.perColumn.subarray(r * 5, r * 5 + 5).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(s.scores[r]!, 3);
    }
    expect(s.scores[1]! - s.scores[0]!).toBeGreaterThan(2);
    const top = [...s.perColumn.subarray(5, 10)].map((v, j) => [v - s.perColumn[j]!, j] as const).sort((a, b) => b[0] - a[0])[0]![1];
    expect(s.columns![top]).toBe('colour');
    vae.dispose();
  }, 60_000);

  it('an autoencoder of a table: losses from the schema, saved with it', async () => {
    const ae = await Autoencoder.create({ schema, latentDim: 2, encoder: [16], seed: 2 });
    expect(ae.config.loss).toEqual(schemaLoss(schema));
    await ae.fit(parsed, { epochs: 2, batchSize: 100 });
    const back = await Autoencoder.load(ae.save());
    expect(back.schema).toEqual(schema);
    const s = back.score(parsed.data.subarray(0, 3 * 7));
    expect(s.columns).toHaveLength(5);
    expect(back.toRows(back.reconstruct(parsed.data.subarray(0, 7))).rows[0]).toHaveProperty('colour');
    ae.dispose();
    back.dispose();
  });
});
