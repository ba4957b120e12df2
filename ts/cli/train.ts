/** The `train` command's work: load data, fit with a progress bar per epoch, write the four output files. */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { ParsedTable, TableSchema } from '../csv';
import { Autoencoder, VAE, convLayers, describeColumn, oneHot } from '../index';
import type { LayerInfo } from '../model';
import type { AutoencoderConfig, EpochLog, VAEConfig } from '../types';
import type { TrainPlan } from './args';
import { DatasetError, datasetLabelFiles, head, type Images, labelsFor, loadDataset, loadOwnData } from './datasets';
import { imageGridPng, imageShapeFor } from './png';
import { writeAtomic } from './write';

const f2 = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(2));

/** One summary line per epoch (printed whether or not the progress bar is shown). */
export function epochLine(e: EpochLog, epochs: number | undefined): string {
  return `epoch ${e.epoch}${epochs ? `/${epochs}` : ''}: train loss ${f2(e.loss)} (rec ${f2(e.reconstruction)}, KL ${f2(e.kl)})` +
    ` | test loss ${f2(e.valLoss)} | ${e.samplesPerSecond.toFixed(0)} samples/s | ${e.seconds.toFixed(1)} s`;
}

/** The model config: dense widths on flat rows, or the conv VAE or a --layers file on [h, w, c] images. */
function modelConfig(plan: TrainPlan, cols: number, [h, w, c]: [number, number, number]): VAEConfig | AutoencoderConfig {
  if (plan.layersFile === undefined && plan.arch === 'mlp') return { ...plan.modelConfig, inputDim: cols };
  const { encoder: _e, decoder: _d, inputDim: _i, ...rest } = plan.modelConfig;
  if (plan.layersFile === undefined) {
    if (h % 4 !== 0 || w % 4 !== 0) throw new DatasetError(`--arch conv needs image sides that are multiples of 4; the images are ${h}×${w} (set --image-shape)`);
    return { ...rest, ...convLayers([h, w, c]) };
  }
  const where = `--layers ${plan.layersFile}`;
  let spec: unknown;
  try {
    spec = JSON.parse(readFileSync(plan.layersFile, 'utf8'));
  } catch (e) {
    throw new DatasetError(`${where}: ${(e as Error).message}`);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new DatasetError(`${where}: expected a JSON object with encoder, decoder and optionally output and inputShape`);
  const known = ['encoder', 'decoder', 'output', 'inputShape'];
  const unknown = Object.keys(spec).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new DatasetError(`${where}: unknown key ${JSON.stringify(unknown[0])}; expected ${known.join(', ')}`);
  const s = spec as Record<string, unknown>;
  const inputShape = s.inputShape ?? [h, w, c];
  const size = Array.isArray(inputShape) ? inputShape.reduce((a: number, b: unknown) => a * Number(b), 1) : NaN;
  if (size !== cols) throw new DatasetError(`${where}: inputShape ${JSON.stringify(inputShape)} does not hold the ${cols} values per row of the data`);
  return { ...rest, ...s, inputShape } as VAEConfig | AutoencoderConfig;
}

/**
 * The model for a table: dense layers on the encoded rows, with the schema, which gives each column its likelihood
 * (numeric Gaussian with a learned variance, binary Bernoulli, categorical softmax; an autoencoder's losses alike).
 */
export function tableModelConfig(schema: TableSchema, plan: TrainPlan): VAEConfig | AutoencoderConfig {
  if (plan.arch === 'conv' || plan.layersFile !== undefined) throw new DatasetError('a table trains dense layers (--encoder, --decoder); --arch conv and --layers need images');
  if (plan.termFlags) {
    throw new DatasetError(`${plan.termFlags.join(', ')} do${plan.termFlags.length === 1 ? 'es' : ''} not apply to a table: its schema gives each column its term (numeric: Gaussian with a learned variance, or squared error; binary: Bernoulli; categorical: softmax); leave ${plan.termFlags.length === 1 ? 'it' : 'them'} out`);
  }
  // The schema sets the input size and each column's likelihood (or loss), and is saved in the model file.
  const { inputDim: _d, inputShape: _s, likelihood: _l, variance: _v, loss: _o, ...layers } = plan.modelConfig as VAEConfig & AutoencoderConfig;
  return plan.model === 'vae' ? { ...(layers as VAEConfig), schema } : { ...(layers as AutoencoderConfig), schema };
}

/** What parseCsv inferred, one line per column, as the CLI prints it. */
export function describeTable(t: ParsedTable): string[] {
  const lines = [`${t.rows} rows${t.dropped ? ` (${t.dropped} dropped for missing values)` : ''}, ${t.columns.length} columns encoded into ${t.schema.width} values per row` +
    `${t.preamble ? ` (scikit-learn preamble: ${t.preamble.samples} samples, ${t.preamble.features} features)` : ''}${t.schema.ignored.length ? `; not encoded: ${t.schema.ignored.join(', ')}` : ''}`];
  for (const c of t.schema.columns) {
    // A scikit-learn file's target levels with their class names.
    const level = (l: string, i: number) => (c.name === 'target' && t.preamble?.classes[i] !== undefined ? `${l} (${t.preamble.classes[i]})` : l);
    lines.push(`  ${c.name}: ${c.kind} (${describeColumn(c, level)})`);
  }
  return [...lines, ...t.warnings.map((w) => `  note: ${w}`)];
}

interface TrainingData {
  data: Images;
  test?: Images;
  label: string;
  /** Images' [h, w, c] (PNG grids, --arch conv); none for a table. */
  shape?: [number, number, number];
  table?: ParsedTable;
  /** --conditional: the class of each training (and test) row, the first rows only, and the number of classes. */
  labels?: { train: Int32Array; test?: Int32Array; classes: number; file: string };
}

/** --conditional: the labels of the training and test rows (before --limit), checked against the data, and the classes. */
function readTrainingLabels(plan: TrainPlan, train: Images, test: Images | undefined, label: string): NonNullable<TrainingData['labels']> {
  const files = plan.data === undefined ? datasetLabelFiles(plan.dataset) : undefined;
  // parseTrainArgs has made sure that data without label files came with --labels (and --test-data with --test-labels).
  const file = plan.labels ?? files!.train;
  const labels = labelsFor(file, 'the training labels', train.rows, label);
  let classes = 0;
  for (const l of labels) classes = Math.max(classes, l + 1);
  if (!test) return { train: labels, classes, file };
  const testFile = plan.testLabels ?? files!.test;
  const testLabels = labelsFor(testFile, 'the test labels', test.rows, plan.testData ?? 'the test set');
  const over = testLabels.findIndex((l) => l >= classes);
  if (over >= 0) throw new DatasetError(`${testFile} (the test labels): row ${over}'s label is ${testLabels[over]}, but the training labels go up to ${classes - 1} (${classes} classes)`);
  return { train: labels, test: testLabels, classes, file };
}

/** --data (your own, by content) or --dataset (named or IDX), with the test set, the first rows only. */
async function trainingData(plan: TrainPlan, log: (s: string) => void): Promise<TrainingData> {
  let full: Images;
  let fullTest: Images | undefined;
  let label: string;
  let shape: [number, number, number] | undefined;
  let table: ParsedTable | undefined;
  if (plan.data !== undefined) {
    const own = await loadOwnData(plan.data);
    const test = plan.testData !== undefined ? await loadOwnData(plan.testData, own.table?.schema) : undefined;
    if (test && test.format !== own.format) throw new DatasetError(`--test-data ${plan.testData} is ${test.format}, --data ${own.format}; give both in one format`);
    if (test && test.rows.cols !== own.rows.cols) throw new DatasetError(`--test-data has ${test.rows.cols} values per row, --data ${own.rows.cols}`);
    ({ rows: full, label, table } = own);
    fullTest = test?.rows;
    shape = own.imageShape;
    if (table) {
      for (const line of describeTable(table)) log(`vae-wasm: ${line}`);
      log(`vae-wasm: a table trains on its encoded rows, each column with its own ${plan.model === 'vae' ? 'likelihood (numeric: Gaussian, learned variance; binary: Bernoulli; categorical: softmax)' : 'loss (numeric: squared error; binary: cross-entropy; categorical: softmax cross-entropy)'}; the schema goes into the model file and schema.json`);
    }
  } else {
    ({ train: full, test: fullTest, label } = loadDataset(plan.dataset, plan.testData));
  }
  const labels = plan.conditional ? readTrainingLabels(plan, full, fullTest, label) : undefined;
  const data = head(full, plan.limit);
  if (!table && (shape === undefined || plan.imageShape !== undefined)) {
    const [h, w] = plan.imageShape ?? imageShapeFor(data.cols);
    if (h * w !== data.cols) throw new DatasetError(`--image-shape ${h}x${w} does not match the ${data.cols} values per row`);
    shape = [h, w, 1];
  }
  const test = fullTest ? head(fullTest, plan.testLimit) : undefined;
  if (labels) {
    labels.train = labels.train.subarray(0, data.rows);
    if (labels.test) labels.test = labels.test.subarray(0, test!.rows);
  }
  return { data, ...(test ? { test } : {}), label, ...(shape ? { shape } : {}), ...(table ? { table } : {}), ...(labels ? { labels } : {}) };
}

/** "784 → dense 400 → z 20 → dense 400 → dense 784", with image shapes as h×w×c. */
export function describeLayers(input: string, layers: readonly LayerInfo[]): string {
  const shape = (s: LayerInfo['input']) => (s.rank === 3 ? `${s.h}×${s.w}×${s.c}` : `${s.c}`);
  const parts = [input];
  layers.forEach((l, i) => {
    if (l.section !== 'encoder' && (i === 0 || layers[i - 1]!.section === 'encoder')) parts.push(`z ${shape(l.input)}`);
    parts.push(`${l.op === 'view' ? 'reshape' : l.op} ${shape(l.output)}`);
  });
  return parts.join(' → ');
}

/** Rows of samples.png for a conditional VAE: at most this many classes. */
export const SAMPLE_CLASSES = 32;

/** `perClass` decoded codes for each of the first `rows` classes, row after row; the same codes (one seed) in every row. */
export function conditionalSamples(vae: VAE, rows: number, classes: number, perClass: number, seed: number): Float32Array {
  const out = new Float32Array(rows * perClass * vae.config.inputDim);
  for (let k = 0; k < rows; k++) {
    out.set(vae.sample(perClass, { seed, condition: oneHot(new Int32Array(perClass).fill(k), classes) }), k * perClass * vae.config.inputDim);
  }
  return out;
}

/** Trains as the plan says and writes the outputs; `signal` stops training early (the outputs are still written). */
export async function train(plan: TrainPlan, signal?: AbortSignal, log: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<EpochLog[]> {
  const { data, test, label, shape, table, labels } = await trainingData(plan, log);
  const batchSize = plan.fit.batchSize ?? 128;
  if (batchSize > data.rows) throw new DatasetError(`--batch-size ${batchSize} is larger than the ${data.rows} training rows; pass --batch-size ${data.rows} or less`);
  const layers = table ? tableModelConfig(table.schema, plan) : modelConfig(plan, data.cols, shape!);
  const config = labels ? { ...layers, conditionDim: labels.classes } : layers;
  // A conditional VAE's condition: each row's class, one-hot.
  const condition = labels ? { train: oneHot(labels.train, labels.classes), ...(labels.test ? { test: oneHot(labels.test, labels.classes) } : {}) } : undefined;
  const model = plan.model === 'vae' ? await VAE.create(config as VAEConfig) : await Autoencoder.create(config as AutoencoderConfig);
  try {
    mkdirSync(plan.out, { recursive: true });
    const metricsPath = join(plan.out, 'metrics.jsonl');
    writeAtomic(metricsPath, '');
    log(`vae-wasm: training ${plan.model === 'vae' ? (labels ? 'a conditional VAE' : 'a VAE') : 'an autoencoder'} ${describeLayers(config.inputShape ? config.inputShape.join('×') : String(data.cols), model.layers)} (${model.parameterCount} parameters) on ` +
      `${data.rows} rows of ${label}${test ? `, testing on ${test.rows}` : ''}, ` +
      (labels ? `conditioned on ${labels.classes} classes (labels 0–${labels.classes - 1} of ${labels.file}, one-hot), ` : '') + `${model.threads} thread${model.threads === 1 ? '' : 's'}` +
      (model.threadsNote ? ` (${model.threadsNote})` : ''));
    const tty = process.stderr.isTTY === true;
    const lines: string[] = [];
    let bar: SingleBar | undefined;
    let epochStart = 0;
    let seen = 0;
    let running = 0;
    const history: EpochLog[] = await model.fit(data.data, {
      ...plan.fit,
      ...(test ? { validationData: test.data } : {}),
      ...(condition ? { condition: condition.train, ...(condition.test ? { validationCondition: condition.test } : {}) } : {}),
      ...(signal ? { signal } : {}),
      onBatchEnd: (b) => {
        if (b.batch === 0) {
          epochStart = performance.now();
          seen = 0;
          running = 0;
          if (tty) {
            bar = new SingleBar({
              format: `epoch ${b.epoch}/${plan.fit.epochs} [{bar}] {value}/{total} batches | loss {loss} | {rate} samples/s`,
              hideCursor: true, clearOnComplete: true, stream: process.stderr,
            });
            bar.start(b.batches, 0, { loss: '-', rate: '-' });
          }
        }
        const n = Math.min(batchSize, data.rows - b.batch * batchSize);
        seen += n;
        running += (b.reconstruction + b.kl) * n; // the same running mean the epoch's `loss` reports
        bar?.update(b.batch + 1, { loss: (running / seen).toFixed(2), rate: (seen / ((performance.now() - epochStart) / 1000)).toFixed(0) });
      },
      onEpochEnd: (e) => {
        bar?.stop();
        bar = undefined;
        lines.push(JSON.stringify(e));
        writeAtomic(metricsPath, lines.join('\n') + '\n');
        log(epochLine(e, plan.fit.epochs));
      },
    });
    bar?.stop(); // stopped mid-epoch
    writeAtomic(join(plan.out, 'model.safetensors'), model.save());
    const written = ['model.safetensors', 'metrics.jsonl'];
    if (table) {
      // Until models keep it in their files: the schema that encodes new rows (parseCsv(text, { schema })).
      writeAtomic(join(plan.out, 'schema.json'), JSON.stringify(table.schema, null, 1) + '\n');
      written.push('schema.json');
    } else {
      // First 8 test images (or training images without a test set) on one row, their reconstructions below.
      const [h, w, c] = shape!;
      const shown = test ?? data;
      const n = Math.min(8, shown.rows);
      const originals = shown.data.subarray(0, n * shown.cols);
      const pixels = originals instanceof Uint8Array ? Float32Array.from(originals, (v) => v / 255) : originals;
      const grid = new Float32Array(2 * n * data.cols);
      grid.set(pixels, 0);
      // A conditional VAE reconstructs each row under its own (true) label.
      const shownLabels = labels ? (test ? labels.test! : labels.train).subarray(0, n) : undefined;
      grid.set(shownLabels ? (model as VAE).reconstruct(originals, { condition: oneHot(shownLabels, labels!.classes) }) : model.reconstruct(originals), n * data.cols);
      writeAtomic(join(plan.out, 'reconstructions.png'), imageGridPng(grid, 2 * n, h, w, n, { channels: c }));
      // Decoded codes z ~ N(0, I): the VAE's prior gives data-like samples; an autoencoder's code space need not.
      // A conditional VAE: one row per class (the first SAMPLE_CLASSES), row k conditioned on class k, each row
      // decoding the same 8 codes (one seed), so a column shows one z under every class.
      const seed = plan.modelConfig.seed ?? 1;
      const rows = labels ? Math.min(labels.classes, SAMPLE_CLASSES) : 8;
      const samples = labels ? conditionalSamples(model as VAE, rows, labels.classes, 8, seed) : model.sample(64, { seed });
      writeAtomic(join(plan.out, 'samples.png'), imageGridPng(samples, rows * 8, h, w, 8, { channels: c }));
      written.push('reconstructions.png', 'samples.png');
      if (labels && labels.classes > SAMPLE_CLASSES) log(`vae-wasm: samples.png shows the first ${SAMPLE_CLASSES} of the ${labels.classes} classes, one row each`);
    }

    const last = history[history.length - 1];
    const final = !last ? '; no epoch completed'
      : last.valLoss !== undefined ? `; final test loss ${last.valLoss.toFixed(2)} nats per sample (train ${last.loss.toFixed(2)})`
        : `; final train loss ${last.loss.toFixed(2)} nats per sample (no test set)`;
    const stopped = signal?.aborted && history.length < (plan.fit.epochs ?? 1)
      ? ` (stopped after ${history.length} complete epochs; the saved model includes the steps taken since)` : '';
    log(`vae-wasm: wrote ${written.map((f) => join(plan.out, f)).join(', ')}${final}${stopped}`);
    return history;
  } finally {
    model.dispose();
  }
}
