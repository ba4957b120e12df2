/**
 * Anomaly detection (issue 15, "Measured against what others publish"), two parts:
 * 1. One-class MNIST and Fashion-MNIST (the protocol of Ruff et al. 2018): for each class c a VAE is trained on the
 *    training images of class c only and scores the whole 10,000-image test split (normal = c, anomalous = the other
 *    nine); AUROC per class and the mean, for −ELBO, −L_k and the reconstruction term, beside published numbers.
 * 2. Real tables from Debian's python3-sklearn (wine_data.csv with each class as normal; breast_cancer.csv with
 *    benign as normal): a one-class protocol with a held-out split, a table VAE (`VAE.create({ schema })`) beside
 *    two baselines computed here on the same split (Mahalanobis distance, PCA reconstruction error), 10 splits.
 * Writes docs/results/anomaly.md, anomaly.json and images/anomaly-*.png. Run: npm run experiment:anomaly (about 14
 * minutes of CPU on one thread, 42 s per class; half an hour of wall time beside other jobs); the JSON is saved after
 * each class and an interrupted run resumes from it (`-- --fresh` starts over); `-- --report` rewrites the page and
 * plots from the JSON.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { VAE, auroc, idxImages, idxLabels, loadIdx, parseCsv, type ParsedTable } from '../ts/index';
import { findMnistDir } from '../ts/cli/datasets';
import type { CsvOptions } from '../ts/csv';
import { numberOption } from './args';
import { lineChartPng } from './plot';

/** The conv VAE's training speeds in docs/results/conv-vae.md (its JSON: each run's mean over epochs, as its table). */
function convRates(): { min: number; max: number } {
  const runs = (JSON.parse(readFileSync(join(process.cwd(), 'docs/results/conv-vae.json'), 'utf8')) as { runs: { model: string; history: { samplesPerSecond: number }[] }[] }).runs;
  const rates = runs.filter((r) => r.model === 'conv').map((r) => r.history.reduce((a, e) => a + e.samplesPerSecond, 0) / r.history.length);
  return { min: Math.round(Math.min(...rates)), max: Math.round(Math.max(...rates)) };
}

// ---- settings -------------------------------------------------------------------------------------------------

/** Passes over one class's ~6,000 training images (≈ 2,350 Adam steps of 128: a quarter of the steps of the
 * 10-epoch full-MNIST default run), chosen to fit the time budget, not tuned on test AUROC. */
const EPOCHS = numberOption('--epochs', 50);
/** k of the importance-weighted bound L_k. */
const K = 100;
/** ε draws averaged in the −ELBO and reconstruction scores. */
const DRAWS = 10;
const SPLITS = numberOption('--splits', 10);
/** Classes per image dataset (all 10 by default; fewer for a quick look). */
const CLASSES = numberOption('--classes', 10);
const TRAIN_FRACTION = 0.7;
/** Share of the training (normal) rows the table VAE holds out to pick its checkpoint. */
const VALIDATION_FRACTION = 0.2;
const TABLE_MAX_EPOCHS = 1000;
const TABLE_CHECK_EVERY = 25;
/** Ridge added to the covariance of the standardised features (each has variance 1 on the training rows). */
const RIDGE = 0.01;
const PCA_VARIANCE = 0.9;
const BINS = 60;
const IMAGE_HIDDEN = 400;
const IMAGE_LATENT = 20;
const TABLE_HIDDEN = 32;
const TABLE_LATENT = 2;
const METHODS = ['elbo', 'logLikelihood', 'reconstruction'] as const;
type Method = (typeof METHODS)[number];

// ---- published numbers (../shared/REFERENCES.md), not rerun ---------------------------------------------------

/** One-Class Deep SVDD, AUROC % per digit, as reported in Ruff et al. 2018 (mean 94.8), and from the authors' code. */
const DEEP_SVDD_PAPER = [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5];
const DEEP_SVDD_CODE = [97.8, 99.4, 88.9, 90.5, 93.5, 86.0, 98.3, 95.1, 93.0, 95.8];
/** Golan & El-Yaniv 2018, mean AUROC % over the 10 Fashion-MNIST classes. */
const FASHION_PUBLISHED: [string, number][] = [['RAW-OC-SVM', 92.8], ['CAE-OC-SVM', 91.7], ['DSEBM', 86.6], ['ADGAN', 88.4], ['GEOM', 93.5]];
/** PyOD's benchmark on ODDS "wbc" (378 × 30, 5.6 % outliers), ROC AUC, 60/40 split, mean of 10 trials: the wbc row of
 * docs/tables/roc.csv in yzhao062/pyod at commit 1e5adf2 (IForest 0.93248 there, rounded to 0.932). */
const PYOD_WBC: [string, number][] = [['IForest', 0.932], ['KNN', 0.940], ['OCSVM', 0.938], ['LOF', 0.937], ['HBOS', 0.954], ['PCA', 0.924]];
const FASHION_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
const SKLEARN_DIR = process.env.VAE_WASM_SKLEARN_DATA ?? '/usr/lib/python3/dist-packages/sklearn/datasets/data';
const out = join(process.cwd(), 'docs/results');
const jsonPath = join(out, 'anomaly.json');
mkdirSync(join(out, 'images'), { recursive: true });

// ---- results as saved -----------------------------------------------------------------------------------------

interface Histogram { lo: number; hi: number; normal: number[]; anomalous: number[] }
interface ImageRun {
  dataset: 'mnist' | 'fashion-mnist';
  cls: number;
  trainRows: number;
  steps: number;
  /** −ELBO per image in nats, training loss of the last epoch. */
  trainLoss: number;
  /** Mean score (nats) of the normal and of the anomalous test images. */
  means: Record<Method, { normal: number; anomalous: number }>;
  /** Mean of L_k − ELBO (both from the same k draws), ≈ KL(q(z|x) ‖ p(z|x)), over the normal and anomalous images. */
  gap: { normal: number; anomalous: number };
  auroc: Record<Method, number>;
  /** AUROC of the normal test images against each class's test images alone (null for the normal class). */
  byClass: Record<Method, (number | null)[]>;
  hist: Record<Method, Histogram>;
  /** Wall time and CPU time (user + system) of this class's training and scoring. */
  seconds: number;
  cpuSeconds: number;
}
interface TableSplit {
  seed: number;
  /** Epoch of the table VAE's checkpoint picked on the held-out normal rows. */
  epochs: number;
  pcaComponents: number;
  auroc: Record<Method | 'mahalanobis' | 'pca', number>;
}
interface TableRun {
  name: string;
  file: string;
  normal: string;
  features: number;
  trainRows: number;
  fitRows: number;
  testNormal: number;
  testAnomalous: number;
  splits: TableSplit[];
  seconds: number;
}
interface Results {
  date: string;
  command: string;
  machine: { cpu: string; cpus: number; node: string; loadAverage: number[] };
  settings: { epochs: number; k: number; draws: number; splits: number; classes: number };
  images: ImageRun[];
  ink: Record<'mnist' | 'fashion-mnist', number[]>;
  tables: TableRun[];
  /** Sums over the classes and tables run (a resumed run adds up its pieces). */
  seconds: { images: number; tables: number };
  cpuSeconds: { images: number; tables: number };
  /** False while classes or tables are still to run: the file is saved after each class, and a rerun with the same
   * settings resumes from it (`-- --fresh` starts over). */
  complete: boolean;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// ---- part 1: images -------------------------------------------------------------------------------------------

function idxFile(dataset: string, file: string): Uint8Array {
  if (dataset === 'mnist') return readFileSync(join(findMnistDir(), file));
  const path = join(FASHION_DIR, `${file}.gz`);
  if (!existsSync(path)) throw new Error(`${path} is missing: apt-get install dataset-fashion-mnist`);
  return readFileSync(path);
}

function split(dataset: string, which: 'train' | 't10k'): { x: Uint8Array; y: Uint8Array } {
  const images = idxImages(loadIdx(idxFile(dataset, `${which}-images-idx3-ubyte`)));
  if (!(images.data instanceof Uint8Array) || images.cols !== 784) throw new Error(`${dataset} ${which}: expected 28×28 bytes`);
  return { x: images.data, y: idxLabels(loadIdx(idxFile(dataset, `${which}-labels-idx1-ubyte`))) };
}

/** Normalised counts of both groups over one range: the pooled 0.5 % and 99.5 % quantiles (outside: the end bins). */
function histogram(scores: ArrayLike<number>, anomalous: boolean[]): Histogram {
  const sorted = Float64Array.from(scores).sort();
  const lo = sorted[Math.floor(0.005 * (sorted.length - 1))]!;
  const hi = sorted[Math.ceil(0.995 * (sorted.length - 1))]!;
  const normal = new Array<number>(BINS).fill(0);
  const anom = new Array<number>(BINS).fill(0);
  for (let i = 0; i < scores.length; i++) {
    const b = Math.min(BINS - 1, Math.max(0, Math.floor(((scores[i]! - lo) / (hi - lo)) * BINS)));
    (anomalous[i] ? anom : normal)[b]! += 1;
  }
  return { lo, hi, normal, anomalous: anom };
}

/** Mean ink per test image of each class: the sum of its intensities /255 (a crude measure of how much there is to model). */
function ink(dataset: 'mnist' | 'fashion-mnist'): number[] {
  const { x, y } = split(dataset, 't10k');
  const sum = new Array<number>(10).fill(0);
  const count = new Array<number>(10).fill(0);
  for (let i = 0; i < y.length; i++) {
    let s = 0;
    for (let j = i * 784; j < (i + 1) * 784; j++) s += x[j]!;
    sum[y[i]!]! += s / 255;
    count[y[i]!]! += 1;
  }
  return sum.map((s, c) => s / count[c]!);
}

/** Trains and scores each class not yet in `done`, calling `save` after each one. */
async function runImages(dataset: 'mnist' | 'fashion-mnist', done: ImageRun[], save: (run: ImageRun) => void): Promise<void> {
  const todo = Array.from({ length: CLASSES }, (_, c) => c).filter((c) => !done.some((x) => x.dataset === dataset && x.cls === c));
  if (todo.length === 0) return;
  const train = split(dataset, 'train');
  const test = split(dataset, 't10k');
  for (const cls of todo) {
    const t0 = performance.now();
    const c0 = cpuSeconds();
    const rows: number[] = [];
    train.y.forEach((label, i) => { if (label === cls) rows.push(i); });
    const x = new Uint8Array(rows.length * 784);
    rows.forEach((r, i) => x.set(train.x.subarray(r * 784, (r + 1) * 784), i * 784));
    const vae = await VAE.create({ inputDim: 784, latentDim: IMAGE_LATENT, encoder: [IMAGE_HIDDEN], activation: 'relu', likelihood: 'bernoulli', seed: 1, threads: 1 });
    const history = await vae.fit(x, { epochs: EPOCHS, batchSize: 128, optimizer: { name: 'adam', learningRate: 1e-3 } });
    // −L_k per row: the same numbers as score(x, { method: 'logLikelihood', samples: K, seed }) (checked to f32
    // rounding), at about a third of the time (score also evaluates K reconstruction draws for perColumn).
    const ll = vae.logLikelihood(test.x, { samples: K, seed: 1 }).perRow;
    const scores: Record<Method, ArrayLike<number>> = {
      elbo: vae.score(test.x, { method: 'elbo', samples: DRAWS, seed: 1 }).scores,
      logLikelihood: ll.logLikelihood.map((v) => -v),
      reconstruction: vae.score(test.x, { method: 'reconstruction', samples: DRAWS, seed: 1 }).scores,
    };
    vae.dispose();
    const isAnomalous = Array.from(test.y, (label) => label !== cls);
    const groups = (s: ArrayLike<number>) => {
      const n: number[] = [];
      const a: number[] = [];
      for (let i = 0; i < s.length; i++) (isAnomalous[i] ? a : n).push(s[i]!);
      return { n, a };
    };
    const mean = (v: number[]) => v.reduce((s, u) => s + u, 0) / v.length;
    const perMethod = <T>(f: (m: Method) => T) => Object.fromEntries(METHODS.map((m) => [m, f(m)])) as Record<Method, T>;
    const gap = groups(ll.logLikelihood.map((v, i) => v - ll.elbo[i]!));
    const byClass = (m: Method) => Array.from({ length: 10 }, (_, d) => {
      if (d === cls) return null;
      const n: number[] = [];
      const a: number[] = [];
      for (let i = 0; i < test.y.length; i++) if (test.y[i] === cls) n.push(scores[m][i]!); else if (test.y[i] === d) a.push(scores[m][i]!);
      return auroc(n, a);
    });
    const run: ImageRun = {
      dataset, cls, trainRows: rows.length, steps: Math.ceil(rows.length / 128) * EPOCHS, trainLoss: history.at(-1)!.loss,
      means: perMethod((m) => { const g = groups(scores[m]); return { normal: mean(g.n), anomalous: mean(g.a) }; }),
      gap: { normal: mean(gap.n), anomalous: mean(gap.a) },
      auroc: perMethod((m) => { const g = groups(scores[m]); return auroc(g.n, g.a); }),
      byClass: perMethod(byClass),
      hist: perMethod((m) => histogram(scores[m], isAnomalous)),
      seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds() - c0,
    };
    console.log(`${dataset} class ${cls}: AUROC −ELBO ${run.auroc.elbo.toFixed(4)}, −L_${K} ${run.auroc.logLikelihood.toFixed(4)}, ` +
      `reconstruction ${run.auroc.reconstruction.toFixed(4)} (train −ELBO ${run.trainLoss.toFixed(1)}, ${run.seconds.toFixed(0)} s, ${run.cpuSeconds.toFixed(0)} s of CPU)`);
    save(run);
  }
}

// ---- part 2: tables -------------------------------------------------------------------------------------------

/** xorshift32 in [0, 1), for the splits (plain JS: the splits are the experiment's, not the library's). */
function random(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

function shuffled<T>(items: T[], rand: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Rows of a table as f64 arrays (the schema's encoding: standardised with the training rows' mean and sd). */
function matrix(t: ParsedTable): Float64Array[] {
  const d = t.schema.width;
  return Array.from({ length: t.rows }, (_, i) => Float64Array.from(t.data.subarray(i * d, (i + 1) * d)));
}

function meanAndCovariance(x: Float64Array[]): { mean: Float64Array; cov: Float64Array[] } {
  const d = x[0]!.length;
  const mean = new Float64Array(d);
  for (const r of x) for (let j = 0; j < d; j++) mean[j]! += r[j]! / x.length;
  const cov = Array.from({ length: d }, () => new Float64Array(d));
  for (const r of x) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cov[i]![j]! += ((r[i]! - mean[i]!) * (r[j]! - mean[j]!)) / x.length;
  return { mean, cov };
}

/** Squared Mahalanobis distance to the training rows' mean under (Σ + RIDGE·I), by a Cholesky factor. */
function mahalanobis(train: Float64Array[], test: Float64Array[]): number[] {
  const { mean, cov } = meanAndCovariance(train);
  const d = mean.length;
  const L = Array.from({ length: d }, () => new Float64Array(d));
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = cov[i]![j]! + (i === j ? RIDGE : 0);
      for (let k = 0; k < j; k++) s -= L[i]![k]! * L[j]![k]!;
      L[i]![j] = i === j ? Math.sqrt(s) : s / L[j]![j]!;
    }
  }
  return test.map((r) => {
    const y = new Float64Array(d); // L y = r − mean; distance² = |y|²
    let q = 0;
    for (let i = 0; i < d; i++) {
      let s = r[i]! - mean[i]!;
      for (let k = 0; k < i; k++) s -= L[i]![k]! * y[k]!;
      y[i] = s / L[i]![i]!;
      q += y[i]! * y[i]!;
    }
    return q;
  });
}

/** Eigenvalues (descending) and eigenvectors (columns of `vectors`, as rows here) of a symmetric matrix, cyclic Jacobi. */
function eigenSymmetric(a0: Float64Array[]): { values: number[]; vectors: Float64Array[] } {
  const d = a0.length;
  const a = a0.map((r) => Float64Array.from(r));
  const v = Array.from({ length: d }, (_, i) => { const r = new Float64Array(d); r[i] = 1; return r; });
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p]![q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) { // columns p, q
          const akp = a[k]![p]!; const akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq; a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) { // rows p, q
          const apk = a[p]![k]!; const aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk; a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) { // V ← V·J: eigenvectors are v[·][i]
          const vkp = v[k]![p]!; const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq; v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => a[j]![j]! - a[i]![i]!);
  return { values: order.map((i) => a[i]![i]!), vectors: order.map((i) => Float64Array.from(v, (r) => r[i]!)) };
}

/** Squared reconstruction error of each test row from the top k principal components of the training rows, k the
 * fewest that explain PCA_VARIANCE of the variance. */
function pcaError(train: Float64Array[], test: Float64Array[]): { scores: number[]; k: number } {
  const { mean, cov } = meanAndCovariance(train);
  const { values, vectors } = eigenSymmetric(cov);
  const total = values.reduce((s, u) => s + Math.max(u, 0), 0);
  let k = 0;
  for (let acc = 0; k < values.length && acc < PCA_VARIANCE * total;) acc += Math.max(values[k++]!, 0);
  const scores = test.map((r) => {
    const c = Float64Array.from(r, (u, j) => u - mean[j]!);
    let rest = c.reduce((s, u) => s + u * u, 0);
    for (let i = 0; i < k; i++) rest -= vectors[i]!.reduce((s, u, j) => s + u * c[j]!, 0) ** 2;
    return Math.max(rest, 0);
  });
  return { scores, k };
}

function sklearnText(file: string): string {
  const path = join(SKLEARN_DIR, file);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: apt-get install python3-sklearn, or unpack it without installing: apt-get download python3-sklearn && ` +
      'dpkg -x python3-sklearn_*.deb DIR, then VAE_WASM_SKLEARN_DATA=DIR/usr/lib/python3/dist-packages/sklearn/datasets/data');
  }
  return readFileSync(path, 'utf8');
}

async function runTable(name: string, file: string, normalClass: string): Promise<TableRun> {
  const t0 = performance.now();
  const text = sklearnText(file);
  // The whole file once for the class of each row (its preamble names the classes; `target` kept as text).
  const all = parseCsv(text, { columns: { target: 'label' } });
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(1); // the rows after the preamble
  if (lines.length !== all.rows) throw new Error(`${file}: ${lines.length} lines but ${all.rows} rows`);
  const header = [...all.columns, 'target'].join(',');
  const kinds = Object.fromEntries(all.columns.map((c) => [c, 'numeric' as const])); // measurements, never binary
  const labels = all.labels.target!;
  const normal = lines.filter((_, i) => labels[i] === normalClass);
  const others = lines.filter((_, i) => labels[i] !== normalClass);
  const nTrain = Math.round(TRAIN_FRACTION * normal.length);
  const nFit = nTrain - Math.round(VALIDATION_FRACTION * nTrain);
  const table = (rows: string[], options: CsvOptions = {}) => parseCsv([header, ...rows].join('\n'), { header: true, preamble: 'none', ...options });
  const splits: TableSplit[] = [];
  for (let seed = 1; seed <= SPLITS; seed++) {
    const order = shuffled(normal, random(seed));
    const trainRows = order.slice(0, nTrain);
    // The schema (standardisation) from the training rows only; every other row is encoded with it.
    const train = table(trainRows, { columns: { ...kinds, target: 'ignore' } });
    const fit = table(trainRows.slice(0, nFit), { schema: train.schema });
    const validation = table(trainRows.slice(nFit), { schema: train.schema });
    const test = table([...order.slice(nTrain), ...others], { schema: train.schema, columns: { target: 'label' } });
    const isAnomalous = test.labels.target!.map((t) => t !== normalClass);
    const area = (s: ArrayLike<number>) => {
      const n: number[] = [];
      const a: number[] = [];
      for (let i = 0; i < s.length; i++) (isAnomalous[i] ? a : n).push(s[i]!);
      return auroc(n, a);
    };
    // The table VAE: per-column likelihoods from the schema; trained on the fit rows, checkpoint with the lowest
    // mean −ELBO on the held-out normal rows (no anomalies are used to choose it).
    const vae = await VAE.create({ schema: train.schema, latentDim: TABLE_LATENT, encoder: [TABLE_HIDDEN], activation: 'relu', seed, threads: 1 });
    let best = { loss: Infinity, epochs: 0, weights: vae.getWeights() };
    for (let epochs = TABLE_CHECK_EVERY; epochs <= TABLE_MAX_EPOCHS; epochs += TABLE_CHECK_EVERY) {
      await vae.fit(fit, { epochs: TABLE_CHECK_EVERY, batchSize: 16, optimizer: { name: 'adam', learningRate: 1e-3 } });
      const v = vae.score(validation, { method: 'elbo', samples: DRAWS, seed: 1 }).scores;
      const loss = v.reduce((s, u) => s + u, 0) / v.length;
      if (loss < best.loss) best = { loss, epochs, weights: vae.getWeights() };
    }
    vae.setWeights(best.weights);
    const x = matrix(train);
    const y = matrix(test);
    const pca = pcaError(x, y);
    splits.push({
      seed, epochs: best.epochs, pcaComponents: pca.k,
      auroc: {
        elbo: area(vae.score(test, { method: 'elbo', samples: DRAWS, seed: 1 }).scores),
        logLikelihood: area(vae.score(test, { method: 'logLikelihood', samples: K, seed: 1 }).scores),
        reconstruction: area(vae.score(test, { method: 'reconstruction', samples: DRAWS, seed: 1 }).scores),
        mahalanobis: area(mahalanobis(x, y)),
        pca: area(pca.scores),
      },
    });
    vae.dispose();
  }
  const run: TableRun = {
    name, file, normal: `${normalClass} (${all.preamble?.classes[Number(normalClass)] ?? '?'})`, features: all.columns.length,
    trainRows: nTrain, fitRows: nFit, testNormal: normal.length - nTrain, testAnomalous: others.length, splits,
    seconds: (performance.now() - t0) / 1000,
  };
  const m = (k: keyof TableSplit['auroc']) => stats(splits.map((s) => s.auroc[k])).mean.toFixed(3);
  console.log(`${name}: AUROC VAE −ELBO ${m('elbo')}, −L_${K} ${m('logLikelihood')}, reconstruction ${m('reconstruction')}; ` +
    `Mahalanobis ${m('mahalanobis')}, PCA ${m('pca')} (${run.seconds.toFixed(0)} s)`);
  return run;
}

// ---- the page -------------------------------------------------------------------------------------------------

function stats(v: number[]): { mean: number; sd: number } {
  const mean = v.reduce((s, u) => s + u, 0) / v.length;
  return { mean, sd: Math.sqrt(v.reduce((s, u) => s + (u - mean) ** 2, 0) / Math.max(v.length - 1, 1)) };
}

/** The two groups' histograms as frequency polygons (the share of each group in each bin, at the bin centres; normal
 * blue, anomalous orange) on the repo's line-chart helper; x in nats over [lo, hi], y from 0 to the tallest bin. */
function histogramPng(h: Histogram): Uint8Array {
  const share = (c: number[]) => { const n = c.reduce((s, u) => s + u, 0); return c.map((v) => v / n); };
  const width = (h.hi - h.lo) / BINS;
  const polygon = (c: number[]): [number, number][] => share(c).map((v, b) => [h.lo + (b + 0.5) * width, v]);
  const top = Math.max(...share(h.normal), ...share(h.anomalous));
  return lineChartPng([
    { points: polygon(h.anomalous), color: [255, 127, 14] },
    { points: polygon(h.normal), color: [31, 119, 180] },
  ], { width: 640, height: 280, xRange: [h.lo, h.hi], yRange: [0, top * 1.05], yStep: top / 4 });
}

const pct = (v: number) => (100 * v).toFixed(1);
const label = (dataset: string, cls: number) => (dataset === 'mnist' ? `digit ${cls}` : `${cls} ${FASHION_NAMES[cls]}`);
function report(r: Results): string {
  const { epochs, k, draws, splits } = r.settings;
  const methodName: Record<Method, string> = { elbo: `−ELBO (${draws} draws)`, logLikelihood: `−L_${k}`, reconstruction: `reconstruction term (${draws} draws)` };
  const steps = stats(r.images.map((x) => x.steps)).mean;
  const convRate = convRates();
  const [fast, slow] = [convRate.max, convRate.min].map((v) => ((20 * epochs * 6000) / v / 3600).toFixed(1));
  const hours = fast === slow ? `about ${fast}` : `${fast}–${slow}`;
  const md: string[] = [
    '# Anomaly detection: one-class MNIST, Fashion-MNIST and two real tables', '',
    `Made by \`${r.command}\` ([experiments/anomaly.ts](../../experiments/anomaly.ts)) on ${r.date}, on ${r.machine.cpu} ` +
    `(${r.machine.cpus} vCPUs, shared with other jobs: load average ${r.machine.loadAverage.map((v) => v.toFixed(1)).join(' / ')} ` +
    `at the start), Node ${r.machine.node}, one thread. Run time: ${(r.seconds.images / 60).toFixed(1)} min for the images ` +
    `(${(r.cpuSeconds.images / 60).toFixed(1)} min of CPU), ${r.seconds.tables.toFixed(0)} s for the tables ` +
    `(${r.cpuSeconds.tables.toFixed(0)} s of CPU); the wall times include waiting for the other jobs. Every number below is read from [anomaly.json](anomaly.json), ` +
    'which the run wrote; `-- --report` rewrites this page from it.', '',
    'Scores come from `model.score` (higher = more anomalous): **−ELBO** (the negative evidence lower bound, ' +
    `${draws} ε draws averaged), **−L_${k}** (the importance-weighted bound of Burda et al. with k = ${k}) and the ` +
    `**reconstruction term** alone (−E_q log p(x|z), ${draws} draws). AUROC by \`auroc(normal, anomalous)\` ` +
    '(the Mann–Whitney statistic, ties counted half).', '',
    '## 1. One-class MNIST and Fashion-MNIST', '',
    'The protocol of Ruff et al. (2018): for each class c, a VAE is trained on the training images of class c only ' +
    '(about 6,000), then scores the whole 10,000-image test split, normal = class c (about 1,000), anomalous = the ' +
    'other nine (about 9,000). One model per class, seed 1, one run each (no repeats: the spread over seeds is not measured).', '',
    `- Model: the MLP VAE 784-${IMAGE_HIDDEN}-${IMAGE_LATENT} (ReLU, Bernoulli likelihood on the logits), Adam 1e-3, batch 128, ` +
    `${epochs} epochs over the class's images (${Math.round(steps).toLocaleString('en-US')} steps on average), chosen to fit ` +
    'the time budget and not tuned on any test AUROC. The convolutional VAE (`convLayers([28, 28, 1])`) was not run: ' +
    `it trained at ${convRate.min.toLocaleString('en-US')}–${convRate.max.toLocaleString('en-US')} samples/s on two threads in [conv-vae.md](conv-vae.md), so 20 models × ` +
    `${epochs} epochs × about 6,000 images would take ${hours} hours of training alone.`,
    '- Preprocessing: intensities /255 in [0, 1], not binarized. Ruff et al. use per-image global contrast normalisation ' +
    '(L1) and min–max scaling with bounds from the normal class; we do not, because a Bernoulli likelihood needs values in ' +
    '[0, 1] and test images of other classes fall outside a min–max range fitted to one class.', '',
  ];
  for (const dataset of ['mnist', 'fashion-mnist'] as const) {
    const runs = r.images.filter((x) => x.dataset === dataset);
    if (runs.length === 0) continue;
    const mean = (m: Method) => stats(runs.map((x) => x.auroc[m])).mean;
    md.push(`### ${dataset === 'mnist' ? 'MNIST' : 'Fashion-MNIST'}`, '',
      `AUROC (%) per normal class. ${dataset === 'mnist' ? 'Deep SVDD columns: published, not rerun ([1]: the paper\'s One-Class Deep SVDD, and the numbers attributed to the authors\' PyTorch code; see Sources).' : ''}`, '');
    const published = dataset === 'mnist';
    md.push(`| normal class | VAE ${methodName.elbo} | VAE ${methodName.logLikelihood} | VAE ${methodName.reconstruction} |` +
      `${published ? ' Deep SVDD (paper) | Deep SVDD (code) |' : ''} train −ELBO | test −ELBO normal / anomalous | CPU seconds |`,
      `|---|---|---|---|${published ? '---|---|' : ''}---|---|---|`);
    for (const x of runs) {
      md.push(`| ${label(dataset, x.cls)} | ${pct(x.auroc.elbo)} | ${pct(x.auroc.logLikelihood)} | ${pct(x.auroc.reconstruction)} |` +
        `${published ? ` ${DEEP_SVDD_PAPER[x.cls]!.toFixed(1)} | ${DEEP_SVDD_CODE[x.cls]!.toFixed(1)} |` : ''} ${x.trainLoss.toFixed(1)} | ` +
        `${x.means.elbo.normal.toFixed(1)} / ${x.means.elbo.anomalous.toFixed(1)} | ${x.cpuSeconds.toFixed(0)} |`);
    }
    const avg = (v: number[]) => (v.reduce((s, u) => s + u, 0) / v.length).toFixed(1);
    md.push(`| **mean** | **${pct(mean('elbo'))}** | **${pct(mean('logLikelihood'))}** | **${pct(mean('reconstruction'))}** |` +
      `${published ? ` **${avg(DEEP_SVDD_PAPER)}** | **${avg(DEEP_SVDD_CODE)}** |` : ''} | | |`, '');
    const best = METHODS.reduce((a, b) => (mean(b) > mean(a) ? b : a));
    if (published) {
      const paper = stats(DEEP_SVDD_PAPER).mean;
      const code = stats(DEEP_SVDD_CODE).mean;
      const side = (ours: number, theirs: number) => { const d = Math.round(10 * (100 * ours - theirs)) / 10; return d === 0 ? 'equal to' : `${Math.abs(d).toFixed(1)} points ${d > 0 ? 'above' : 'below'}`; };
      const by = (ref: number[]) => {
        const above = runs.filter((x) => Number(pct(x.auroc.elbo)) > ref[x.cls]!).map((x) => x.cls);
        const below = runs.filter((x) => Number(pct(x.auroc.elbo)) < ref[x.cls]!).map((x) => x.cls);
        return `above it on ${above.length} of ${runs.length} digits (${above.join(', ') || 'none'}) and below it on ${below.length} (${below.join(', ') || 'none'})`;
      };
      md.push(`**Against the published numbers.** Our mean AUROC by −ELBO, ${pct(mean('elbo'))} %, is ${side(mean('elbo'), paper)} ` +
        `One-Class Deep SVDD as published (${paper.toFixed(1)} %) and ${side(mean('elbo'), code)} the code's ${code.toFixed(1)} %; ` +
        `digit by digit against the paper's column, −ELBO is ${by(DEEP_SVDD_PAPER)}. Ours are one model (seed 1) per ` +
        'class and the spread over seeds is not measured, so a difference of a few tenths on one digit is no result. ' +
        'Our preprocessing and network also differ from theirs (see above). Our best score on average is ' +
        `the ${methodName[best]}, ${pct(mean(best))} % (${side(mean(best), paper)} the paper's Deep SVDD). ` +
        'Ruff et al.\'s table also has KDE, OC-SVM, Isolation Forest, DCAE and AnoGAN; they are not quoted here because ' +
        'we could not read them from the paper itself (our reference notes hold only Deep SVDD\'s numbers), and a second-hand ' +
        'copy is not a citation.', '');
    }
    if (!published) {
      const ours = Number(pct(mean('elbo')));
      const above = FASHION_PUBLISHED.filter(([, v]) => ours > v).map(([n, v]) => `${n} (${v.toFixed(1)} %)`);
      const below = FASHION_PUBLISHED.filter(([, v]) => ours < v).map(([n, v]) => `${n} (${v.toFixed(1)} %, by ${(v - ours).toFixed(1)} points)`);
      md.push(`**Against the published numbers.** Our mean AUROC by −ELBO, ${pct(mean('elbo'))} %, is ` +
        `${above.length > 0 ? `above ${above.join(', ')}` : 'above none of them'} and ${below.length > 0 ? `below ${below.join(', ')}` : 'below none'} ` +
        `in Golan & El-Yaniv's table [2] (means over the 10 classes; their per-class numbers are not in our notes, so no ` +
        `class-by-class comparison). Our best score on average is the ${methodName[best]}, ${pct(mean(best))} %.`, '');
      md.push('Published mean AUROC (%) over the 10 classes, not rerun ([2], read from a secondary copy; ' +
        'their OC-SVM hyperparameters were picked on test AUROC, which favours those baselines):', '',
        `| VAE ${methodName.elbo} (this run) | ${FASHION_PUBLISHED.map(([n]) => n).join(' | ')} |`,
        `|---|${FASHION_PUBLISHED.map(() => '---').join('|')}|`,
        `| ${pct(mean('elbo'))} | ${FASHION_PUBLISHED.map(([, v]) => v.toFixed(1)).join(' | ')} |`, '');
    }
    // Which anomalies are missed: the normal class against each other class alone.
    md.push(`Which anomalies are hard: AUROC (%) of −ELBO, the normal class's test images (rows) against one other class's ` +
      'test images alone (columns); the last rows give each column\'s mean (how hard that class is to flag, whatever the ' +
      'normal class) and its mean ink per image (the sum of intensities /255).', '',
      `| normal \\ anomalous | ${runs.map((x) => x.cls).join(' | ')} |`, `|---|${runs.map(() => '---').join('|')}|`);
    for (const x of runs) md.push(`| ${label(dataset, x.cls)} | ${x.byClass.elbo.slice(0, runs.length).map((v) => (v === null ? '—' : pct(v))).join(' | ')} |`);
    const column = (d: number) => stats(runs.filter((x) => x.cls !== d).map((x) => x.byClass.elbo[d]!)).mean;
    md.push(`| *mean over normal classes* | ${runs.map((x) => pct(column(x.cls))).join(' | ')} |`,
      `| *ink per image* | ${runs.map((x) => r.ink[dataset][x.cls]!.toFixed(0)).join(' | ')} |`, '');
    if (runs.length > 2) {
      const cols = runs.map((x) => column(x.cls));
      const inks = runs.map((x) => r.ink[dataset][x.cls]!);
      const mc = stats(cols).mean;
      const mi = stats(inks).mean;
      const cov = cols.reduce((s, c, i) => s + (c - mc) * (inks[i]! - mi), 0);
      const rho = cov / Math.sqrt(cols.reduce((s, c) => s + (c - mc) ** 2, 0) * inks.reduce((s, v) => s + (v - mi) ** 2, 0));
      const inverted = runs.filter((x) => x.means.elbo.normal > x.means.elbo.anomalous).map((x) => label(dataset, x.cls));
      md.push(`Across the anomalous classes, how easily a class is flagged correlates with its ink (Pearson r = ${rho.toFixed(2)} ` +
        'between the two last rows): images with little ink have less to explain, get a low −ELBO from a model trained on ' +
        'any class, and pass as normal — a known weakness of likelihood-based detection (Nalisnick et al. 2019, "Do Deep ' +
        'Generative Models Know What They Don\'t Know?", ICLR).' +
        (inverted.length > 0 ? ` For ${inverted.join(', ')} the normal test images even have a higher mean −ELBO than the anomalous ones.` : ''), '');
    }
    // Histograms for the classes where −ELBO separates best and worst.
    const sorted = [...runs].sort((a, b) => b.auroc.elbo - a.auroc.elbo);
    for (const [which, x] of [['best', sorted[0]!], ['worst', sorted.at(-1)!]] as const) {
      const file = `anomaly-${dataset}-${x.cls}-elbo.png`;
      writeFileSync(join(out, 'images', file), histogramPng(x.hist.elbo));
      md.push(`−ELBO of the test images, normal class ${label(dataset, x.cls)} (the ${which} AUROC, ${pct(x.auroc.elbo)} %): ` +
        `blue: the ${Math.round(x.hist.elbo.normal.reduce((s, u) => s + u, 0)).toLocaleString('en-US')} normal images; orange: the ` +
        `${Math.round(x.hist.elbo.anomalous.reduce((s, u) => s + u, 0)).toLocaleString('en-US')} anomalous ones; each curve is the share of its group in each of ` +
        `${BINS} bins, drawn at the bin centres (frequency polygons); grid lines every quarter of the tallest bin; x from ${x.hist.elbo.lo.toFixed(0)} to ${x.hist.elbo.hi.toFixed(0)} nats (the pooled 0.5 % and ` +
        '99.5 % quantiles; scores beyond them counted in the end bins).', '',
        `![−ELBO histogram, ${label(dataset, x.cls)}](images/${file})`, '');
    }
  }
  md.push('## 2. Real tables (scikit-learn\'s bundled CSVs, from Debian\'s python3-sklearn)', '',
    'Read from the package\'s `sklearn/datasets/data` folder (`VAE_WASM_SKLEARN_DATA` or the installed package), never ' +
    'copied into this repository. One-class protocol with a held-out split: the rows of the normal class are shuffled; ' +
    `${pct(TRAIN_FRACTION)} % of them are the training rows; the test rows are the other normal rows and every row of the ` +
    'other classes. The training rows are parsed first (`parseCsv`, every feature numeric, `target` ignored), and that ' +
    'schema — the standardisation with the training rows\' mean and sd — encodes the test rows (`parseCsv(text, { schema ' +
    '})`, `target` as a label). All methods see the same standardised rows.', '',
    `- **VAE**: \`VAE.create({ schema, latentDim: ${TABLE_LATENT}, encoder: [${TABLE_HIDDEN}], activation: ` +
    `'relu' })\`: per-column Gaussian likelihoods with learned variances, from the schema. Adam 1e-3, batch 16, ` +
    `trained on ${pct(1 - VALIDATION_FRACTION)} % of the training rows for up to ${TABLE_MAX_EPOCHS} epochs; every ` +
    `${TABLE_CHECK_EVERY} epochs its mean −ELBO on the other ${pct(VALIDATION_FRACTION)} % (normal rows only) is measured and the ` +
    'best checkpoint kept (the picked epoch is in the JSON). No anomaly is used for any choice. Model seed = split seed.',
    `- **Mahalanobis**: squared distance to the training rows' mean under their covariance + ${RIDGE}·I (the features ` +
    'have variance 1 on the training rows).',
    `- **PCA**: squared reconstruction error from the top k principal components of the training rows, k the fewest ` +
    `explaining ${pct(PCA_VARIANCE)} % of their variance.`,
    '- Both baselines are plain f64 TypeScript in the experiment, fitted on all training rows.', '',
    `AUROC, mean ± sd over ${splits} random splits (seeds 1–${splits}):`, '',
    `| table | normal class | features | train rows | test normal / anomalous | VAE ${methodName.elbo} | VAE ${methodName.logLikelihood} | ` +
    `VAE ${methodName.reconstruction} | Mahalanobis | PCA (k) | VAE epochs picked |`,
    '|---|---|---|---|---|---|---|---|---|---|---|');
  for (const t of r.tables) {
    const ms = (k: keyof TableSplit['auroc']) => { const s = stats(t.splits.map((x) => x.auroc[k])); return `${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)}`; };
    const ks = t.splits.map((x) => x.pcaComponents);
    const es = t.splits.map((x) => x.epochs);
    md.push(`| ${t.file} | ${t.normal} | ${t.features} | ${t.trainRows} | ${t.testNormal} / ${t.testAnomalous} | ${ms('elbo')} | ` +
      `${ms('logLikelihood')} | ${ms('reconstruction')} | ${ms('mahalanobis')} | ${ms('pca')} (${Math.min(...ks)}–${Math.max(...ks)}) | ` +
      `${Math.min(...es)}–${Math.max(...es)} |`);
  }
  md.push('', '**VAE against the baselines**, split by split (the same rows for every method; "higher on n of 10" counts ' +
    'the splits where the VAE\'s AUROC by −ELBO exceeds the baseline\'s):', '');
  for (const t of r.tables) {
    const m = (k: keyof TableSplit['auroc']) => stats(t.splits.map((x) => x.auroc[k])).mean;
    const versus = (k: 'mahalanobis' | 'pca', name: string) => {
      const d = m('elbo') - m(k);
      if (Math.abs(d) < 0.0005) return `equal to ${name} to three decimals (higher on ${t.splits.filter((x) => x.auroc.elbo > x.auroc[k]).length} of ${t.splits.length}, equal on ${t.splits.filter((x) => x.auroc.elbo === x.auroc[k]).length})`;
      const wins = t.splits.filter((x) => x.auroc.elbo > x.auroc[k]).length;
      const ties = t.splits.filter((x) => x.auroc.elbo === x.auroc[k]).length;
      return `${d >= 0 ? 'above' : 'below'} ${name} by ${Math.abs(d).toFixed(3)} (higher on ${wins} of ${t.splits.length}${ties > 0 ? `, equal on ${ties}` : ''})`;
    };
    md.push(`- ${t.name}: VAE −ELBO ${m('elbo').toFixed(3)}, ${versus('mahalanobis', 'Mahalanobis')}, ${versus('pca', 'PCA')}.`);
  }
  md.push('', 'Context only, not comparable: PyOD\'s 2019 benchmark on ODDS "wbc" (ROC AUC, mean of 10 random 60/40 splits). ' +
    'wbc (378 rows × 30 features, 5.6 % outliers) is by its size and features the same diagnostic Wisconsin table with ' +
    'its 357 benign rows and only 21 of the 212 malignant ones, and PyOD fits each detector without labels on a split ' +
    'that contains outliers; here every malignant row is a test anomaly and the models see benign rows only.', '',
    `| ${PYOD_WBC.map(([n]) => n).join(' | ')} |`, `|${PYOD_WBC.map(() => '---').join('|')}|`, `| ${PYOD_WBC.map(([, v]) => v.toFixed(3)).join(' | ')} |`, '',
    'Our VAE\'s breast-cancer AUROC is not set beside these as better or worse: the protocols differ as said above.', '',
    '## Sources', '',
    '1. L. Ruff, R. A. Vandermeulen, N. Görnitz, L. Deecke, S. A. Siddiqui, A. Binder, E. Müller, M. Kloft, "Deep ' +
    'One-Class Classification", ICML 2018, PMLR 80:4393–4402 (<http://proceedings.mlr.press/v80/ruff18a.html>). The ' +
    '"paper" column: One-Class Deep SVDD\'s per-digit AUROC as reported there (read from a secondary copy of its table). ' +
    'The "code" column: numbers our reference notes attribute to the authors\' PyTorch implementation ' +
    '(<https://github.com/lukasruff/Deep-SVDD-PyTorch>); that repository\'s README does not list them, so treat that ' +
    'column as second-hand.',
    '2. I. Golan, R. El-Yaniv, "Deep Anomaly Detection Using Geometric Transformations", NeurIPS 2018, pp. 9758–9769: ' +
    'mean AUROC over the Fashion-MNIST classes for RAW-OC-SVM, CAE-OC-SVM, DSEBM, ADGAN and GEOM (read from a ' +
    'secondary copy).',
    '3. Y. Zhao, Z. Nasrullah, Z. Li, "PyOD: A Python Toolbox for Scalable Outlier Detection", JMLR 20(96), 2019; ' +
    'benchmark table `docs/tables/roc.csv` of <https://github.com/yzhao062/pyod> (the wbc row, read at commit 1e5adf2).',
    '4. Y. Burda, R. Grosse, R. Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016 (the bound L_k).', '');
  return md.join('\n');
}

function machine(): Results['machine'] {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /^Model name:\s*(.+)$/m.exec(execFileSync('lscpu', { encoding: 'utf8' }));
    if (m) cpu = m[1]!.trim();
  } catch {
    // no lscpu: os.cpus()'s name
  }
  return { cpu, cpus: os.cpus().length, node: process.version, loadAverage: os.loadavg() };
}

let results: Results;
if (process.argv.includes('--report') && existsSync(jsonPath)) {
  results = JSON.parse(readFileSync(jsonPath, 'utf8')) as Results;
} else {
  const settings: Results['settings'] = { epochs: EPOCHS, k: K, draws: DRAWS, splits: SPLITS, classes: CLASSES };
  let previous = existsSync(jsonPath) && !process.argv.includes('--fresh') ? JSON.parse(readFileSync(jsonPath, 'utf8')) as Results : undefined;
  if (previous && (previous.complete || JSON.stringify(previous.settings) !== JSON.stringify(settings))) previous = undefined;
  if (previous) console.log(`resuming ${jsonPath}: ${previous.images.length} classes done`);
  const flags = process.argv.slice(2).filter((a) => a !== '--fresh');
  results = previous ?? {
    date: new Date().toISOString().slice(0, 10), machine: machine(),
    command: ['npm run experiment:anomaly', ...(flags.length > 0 ? ['--', ...flags] : [])].join(' '), settings, images: [],
    ink: { mnist: ink('mnist'), 'fashion-mnist': ink('fashion-mnist') }, tables: [],
    seconds: { images: 0, tables: 0 }, cpuSeconds: { images: 0, tables: 0 }, complete: false,
  };
  const r = results;
  const save = () => writeFileSync(jsonPath, JSON.stringify(r, null, 1) + '\n');
  for (const dataset of ['mnist', 'fashion-mnist'] as const) {
    await runImages(dataset, r.images, (run) => {
      r.images.push(run);
      r.seconds.images += run.seconds;
      r.cpuSeconds.images += run.cpuSeconds;
      save();
    });
  }
  if (r.tables.length === 0) {
    const t0 = performance.now();
    const c0 = cpuSeconds();
    for (const c of ['0', '1', '2']) r.tables.push(await runTable(`wine, class ${c} normal`, 'wine_data.csv', c));
    r.tables.push(await runTable('breast cancer, benign normal', 'breast_cancer.csv', '1'));
    r.seconds.tables = (performance.now() - t0) / 1000;
    r.cpuSeconds.tables = cpuSeconds() - c0;
  }
  r.complete = true;
  save();
}
writeFileSync(join(out, 'anomaly.md'), report(results));
console.log(`wrote ${join(out, 'anomaly.md')}`);
