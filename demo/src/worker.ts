// The training worker: owns the data and the model, trains in steps, and sends the page what it draws. Everything
// numeric happens in vae-wasm's core (with its own worker threads when the page is cross-origin isolated).
import { VAE, convLayers, describeColumn, idxImages, loadIdx, oneHot, parseCsv, type TableSchema } from 'vae-wasm';
import type { ColumnInfo, Dataset, FromWorker, LossPoint, Settings, TableSettings, ToWorker, Views } from './protocol';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);
const trace = (text: string) => post({ type: 'trace', text });

let train: Dataset | undefined;
let test: Dataset | undefined;
let vae: VAE | undefined;
let settings: Settings | undefined;
let step = 0;
let epoch = 0;
let controller: AbortController | undefined;
let running: Promise<void> | undefined;
let trainPoints: LossPoint[] = [];
let validationPoints: LossPoint[] = [];
let selected = { a: 0, b: 1 };
let speed = 0;
/** A conditional model's class for what it draws. */
let digit = 0;

/** Test images shown beside their reconstructions, and test codes plotted for a 2-D latent space. */
const SHOWN = 12;
const CODES = 1000;
const GRID = 15;

function rows(d: Dataset, from: number, n: number): Float32Array {
  const out = new Float32Array(n * d.cols);
  const scale = d.images instanceof Uint8Array ? 1 / 255 : 1;
  for (let i = 0; i < out.length; i++) out[i] = d.images[from * d.cols + i]! * scale;
  return out;
}

/** Inverse of the standard normal CDF (Acklam's rational approximation), for K&W's manifold grid. */
function probit(p: number): number {
  const a = [-39.6968302866538, 220.946098424521, -275.928510446969, 138.357751867269, -30.6647980661472, 2.50662827745924];
  const b = [-54.4760987982241, 161.585836858041, -155.698979859887, 66.8013118877197, -13.2806815528857];
  const c = [-0.00778489400243029, -0.322396458041136, -2.40075827716184, -2.54973253934373, 4.37466414146497, 2.93816398269878];
  const d = [0.00778469570904146, 0.32246712907004, 2.445134137143, 3.75440866190742];
  const q = Math.min(p, 1 - p);
  let x: number;
  if (q < 0.02425) {
    const r = Math.sqrt(-2 * Math.log(q));
    x = (((((c[0]! * r + c[1]!) * r + c[2]!) * r + c[3]!) * r + c[4]!) * r + c[5]!) / ((((d[0]! * r + d[1]!) * r + d[2]!) * r + d[3]!) * r + 1);
    return p < 0.5 ? x : -x;
  }
  const r = (p - 0.5) ** 2;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * (p - 0.5)) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

const conditional = () => (vae?.config.conditionDim ?? 0) > 0;
const CLASSES = 10;

/** A conditional model's condition for rows of these labels (one-hot); nothing for a plain VAE. */
function given(labels: () => ArrayLike<number>): { condition?: Float32Array } {
  return conditional() ? { condition: oneHot(labels(), CLASSES) } : {};
}

/** The first `n` rows' labels of `d`, as their condition. */
const labelled = (d: Dataset, n: number) => given(() => d.labels!.subarray(0, n));
/** `n` rows of the picked class, as their condition. */
const picked = (n: number) => given(() => new Uint8Array(n).fill(digit));

/** Frees the image model. */
function drop(): void {
  vae?.dispose();
  vae = undefined;
}

function views(): Views {
  const m = vae!;
  const t = test ?? train!;
  const shown = Math.min(SHOWN, t.rows);
  const originals = rows(t, 0, shown);
  const latent = m.config.latentDim;
  const pair = new Float32Array(2 * t.cols);
  pair.set(rows(t, selected.a, 1));
  pair.set(rows(t, selected.b, 1), t.cols);
  // A and B are encoded with their own labels, q(z | x, c); everything drawn is decoded under the picked class.
  const { mean } = m.encode(pair, given(() => [t.labels![selected.a]!, t.labels![selected.b]!]));
  const za = mean.subarray(0, latent);
  const zb = mean.subarray(latent, 2 * latent);
  const steps = 10;
  const path = new Float32Array(steps * latent);
  for (let s = 0; s < steps; s++) for (let k = 0; k < latent; k++) path[s * latent + k] = za[k]! + ((zb[k]! - za[k]!) * s) / (steps - 1);
  const v: Views = {
    step,
    originals,
    reconstructions: m.reconstruct(originals, labelled(t, shown)),
    samples: m.sample(32, { seed: 7, ...picked(32) }),
    interpolation: m.decode(path, picked(steps)),
    code: Float32Array.from(za),
    ...(conditional() ? { digit } : {}),
  };
  if (latent === 2) {
    const grid = new Float32Array(GRID * GRID * 2);
    for (let i = 0; i < GRID; i++) {
      for (let j = 0; j < GRID; j++) {
        grid[(i * GRID + j) * 2] = probit((j + 0.5) / GRID);
        grid[(i * GRID + j) * 2 + 1] = probit(1 - (i + 0.5) / GRID);
      }
    }
    v.manifold = { grid: GRID, images: m.decode(grid, picked(GRID * GRID)), extent: probit(1 - 0.5 / GRID) };
    const n = Math.min(CODES, t.rows);
    v.codes = { z: m.encode(rows(t, 0, n), labelled(t, n)).mean, labels: t.labels?.slice(0, n) };
  }
  return v;
}

function sendViews(): void {
  const v = views();
  post({ type: 'views', views: v });
}

function sendProgress(): void {
  post({ type: 'progress', step, epoch, train: trainPoints, validation: validationPoints, samplesPerSecond: speed });
  trainPoints = [];
  validationPoints = [];
}

function validate(): void {
  if (!test || !vae) return;
  const e = vae!.elbo(test.images, { samples: 1, seed: 1, ...labelled(test, test.rows) });
  validationPoints.push({ step, loss: -e.elbo, reconstruction: e.reconstruction, kl: e.kl });
}

/** The layers for the settings: one dense layer each side, or the keras.io conv VAE on square images. */
function layers(s: Settings, cols: number) {
  if (s.arch === 'mlp') return { inputDim: cols, encoder: [s.hidden] };
  const side = Math.round(Math.sqrt(cols));
  if (side * side !== cols || side % 4 !== 0) {
    throw new Error(`the convolutional VAE needs square images with a side divisible by 4; these have ${cols} pixels`);
  }
  return convLayers([side, side, 1]);
}

/** A conditional model needs every image's label (train and test). */
function checkLabels(): void {
  const missing = [train, test].find((d) => d && d.labels === undefined);
  if (missing) {
    throw new Error('a conditional VAE needs the images\' labels: open the label file (IDX, e.g. train-labels-idx1-ubyte) after the images, or untick "conditional"');
  }
}

async function create(s: Settings): Promise<void> {
  await stop();
  if (s.conditional) checkLabels();
  drop();
  settings = s;
  const config = {
    ...layers(s, train!.cols), latentDim: s.latent, activation: s.activation, likelihood: s.likelihood, seed: s.seed,
    ...(s.conditional ? { conditionDim: CLASSES } : {}),
  };
  trace('creating the model');
  vae = await VAE.create(config);
  trace(`model created (${vae.threads} threads)`);
  step = 0;
  epoch = 0;
  post({ type: 'model', settings: s, threads: vae.threads, threadsNote: vae.threadsNote, parameters: vae.parameterCount });
}

/** Trains until paused, reset, or `settings.steps` is reached; reports about ten times a second. */
function start(): void {
  if (running || !vae || !settings || !train) return;
  const s = settings;
  const m = vae;
  const ctrl = new AbortController();
  controller = ctrl;
  // The training rows' conditions from the labels held now (a label file opened since is taken at the next start).
  const condition = labelled(train, train.rows);
  running = (async () => {
    let lastReport = performance.now();
    let lastViews = 0;
    let windowStart = performance.now();
    let windowSteps = 0;
    while (!ctrl.signal.aborted && (s.steps === 0 || step < s.steps)) {
      await m.fit(train.images, {
        epochs: 1, batchSize: s.batch, klWeight: s.beta, signal: ctrl.signal, ...condition,
        optimizer: { name: 'adam', learningRate: s.learningRate },
        onBatchEnd: (b) => {
          if (step === 0) trace('first step done');
          step++;
          windowSteps++;
          trainPoints.push({ step, loss: b.loss, reconstruction: b.reconstruction, kl: b.kl });
          if (s.steps > 0 && step >= s.steps) ctrl.abort();
          if (step % 50 === 0) validate();
          const now = performance.now();
          if (now - windowStart > 500) {
            speed = (windowSteps * s.batch * 1000) / (now - windowStart);
            windowStart = now;
            windowSteps = 0;
          }
          if (now - lastReport > 100) {
            lastReport = now;
            sendProgress();
            if (now - lastViews > 400) {
              lastViews = now;
              sendViews();
            }
          }
        },
      });
      if (!ctrl.signal.aborted) epoch++;
    }
    running = undefined;
    validate();
    sendProgress();
    sendViews();
    if (s.steps > 0 && step >= s.steps) post({ type: 'done', step });
  })();
  running.catch((e: Error) => {
    running = undefined;
    post({ type: 'error', message: e.message });
  });
}

async function stop(): Promise<void> {
  controller?.abort();
  await running?.catch(() => {});
  running = undefined;
}

async function hash(): Promise<string> {
  const parts = Object.values(vae!.getWeights()).map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  const digest = await crypto.subtle.digest('SHA-256', all);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function defaultData(): Promise<void> {
  const get = async (name: string) => new Uint8Array(await (await fetch(new URL(`../data/${name}`, self.location.href))).arrayBuffer());
  const [ti, tl, vi, vl] = await Promise.all(['train-images.idx', 'train-labels.idx', 'test-images.idx', 'test-labels.idx'].map(get));
  const t = idxImages(loadIdx(ti!));
  const v = idxImages(loadIdx(vi!));
  train = { images: t.data, rows: t.rows, cols: t.cols, labels: loadIdx(tl!).data as Uint8Array };
  test = { images: v.data, rows: v.rows, cols: v.cols, labels: loadIdx(vl!).data as Uint8Array };
  ready('MNIST (10,000 training and 1,000 test images)');
}

function ready(name: string): void {
  post({ type: 'ready', name, trainRows: train!.rows, testRows: test?.rows ?? 0, cols: train!.cols, side: Math.round(Math.sqrt(train!.cols)) });
}

const handlers: { [K in ToWorker['type']]: (m: Extract<ToWorker, { type: K }>) => Promise<void> | void } = {
  data: async (m) => {
    await stop();
    drop();
    train = m.train;
    test = m.test;
    ready(m.name);
  },
  start: async (m) => {
    await create(m.settings);
    start();
  },
  pause: stop,
  resume: start,
  reset: async () => {
    await stop();
    if (settings) await create(settings);
    trainPoints = [];
    validationPoints = [];
    sendViews();
  },
  save: () => {
    const bytes = vae!.save();
    post({ type: 'saved', bytes }, [bytes.buffer]);
  },
  load: async (m) => {
    await stop();
    const loaded = await VAE.load(m.bytes);
    if (loaded.config.inputDim !== train!.cols) {
      loaded.dispose();
      throw new Error(`the model expects ${loaded.config.inputDim} values per image; the data has ${train!.cols}`);
    }
    const isConditional = (loaded.config.conditionDim ?? 0) > 0;
    if (isConditional && loaded.config.conditionDim !== CLASSES) {
      loaded.dispose();
      throw new Error(`the model is conditioned on ${loaded.config.conditionDim} values; this page conditions on ${CLASSES} classes (one-hot labels)`);
    }
    try {
      if (isConditional) checkLabels();
    } catch (e) {
      loaded.dispose();
      throw e;
    }
    drop();
    vae = loaded;
    const c = loaded.config;
    settings = {
      arch: c.encoder.some((l) => typeof l === 'object' && l.type === 'conv2d') ? 'conv' : 'mlp',
      latent: c.latentDim, hidden: typeof c.encoder[0] === 'number' ? c.encoder[0] : 0, activation: c.activation as Settings['activation'], likelihood: typeof c.likelihood === 'string' ? c.likelihood : 'gaussian',
      learningRate: settings?.learningRate ?? 1e-3, beta: settings?.beta ?? 1, batch: settings?.batch ?? 100, seed: c.seed, steps: 0,
      conditional: isConditional,
    };
    step = 0;
    post({ type: 'model', settings, threads: loaded.threads, threadsNote: loaded.threadsNote, parameters: loaded.parameterCount });
    validate();
    sendProgress();
    sendViews();
  },
  select: (m) => {
    selected = { a: m.a, b: m.b };
    if (vae) sendViews();
  },
  decode: (m) => {
    if (vae) post({ type: 'decoded', image: vae!.decode(m.z, picked(1)), z: m.z, ...(conditional() ? { digit } : {}) });
  },
  class: (m) => {
    digit = m.digit;
    if (vae && conditional()) sendViews();
  },
  labels: async (m) => {
    if (!train) throw new Error('open the images first, then their label file');
    const count = m.labels.length;
    const images = train.rows + (test?.rows ?? 0);
    if (count !== images) throw new Error(`${m.name} has ${count.toLocaleString()} labels, but the images are ${images.toLocaleString()}; open the label file that belongs to them`);
    const bad = m.labels.findIndex((l) => l >= CLASSES);
    if (bad >= 0) throw new Error(`${m.name}: label ${bad + 1} is ${m.labels[bad]}; the conditional VAE takes classes 0–${CLASSES - 1}`);
    await stop();
    // The images' split: the training rows first, then the held-out ones.
    train.labels = m.labels.subarray(0, train.rows);
    if (test) test.labels = m.labels.subarray(train.rows);
    post({ type: 'labelled', name: m.name, trainRows: train.rows, testRows: test?.rows ?? 0 });
  },
  table: async (m) => {
    await stop();
    try {
      await table(m.name, m.bytes, m.settings);
    } catch (e) {
      post({ type: 'tableError', message: (e as Error).message });
    }
  },
  hash: async () => post({ type: 'hash', hex: await hash() }),
};

/** What parseCsv inferred for each encoded column, as the page lists it. */
function describeColumns(schema: TableSchema): ColumnInfo[] {
  return schema.columns.map((c) => ({ name: c.name, kind: c.kind, detail: describeColumn(c), ...(c.kind === 'numeric' ? {} : { levels: [...c.levels] }) }));
}

/** A CSV: parse it (each column's kind inferred), train a VAE with the table's schema, score every row by −ELBO. */
async function table(name: string, bytes: Uint8Array, s: TableSettings): Promise<void> {
  const t = parseCsv(bytes, { name });
  const classes = t.preamble?.classes.length ? ` (scikit-learn preamble: ${t.preamble.samples} samples, ${t.preamble.features} features, classes ${t.preamble.classes.join(', ')})` : '';
  post({ type: 'tableSchema', name, rows: t.rows, width: t.schema.width, columns: describeColumns(t.schema), ignored: t.schema.ignored, warnings: t.warnings, ...(classes ? { preamble: classes } : {}) });
  // The model lives for this table's scores only: nothing else reads it.
  const m = await VAE.create({ schema: t.schema, latentDim: s.latent, encoder: [s.hidden], seed: s.seed });
  try {
    const t0 = performance.now();
    let last = 0;
    await m.fit(t.data, {
      epochs: s.epochs, batchSize: s.batch, optimizer: { name: 'adam', learningRate: s.learningRate },
      onEpochEnd: (e) => {
        const now = performance.now();
        if (now - last > 100 || e.epoch === s.epochs) {
          last = now;
          post({ type: 'tableProgress', epoch: e.epoch, epochs: s.epochs, loss: e.loss });
        }
      },
    });
    const r = m.score(t.data, { method: 'elbo', seed: 1 });
    post({ type: 'tableScores', scores: r.scores, perColumn: r.perColumn, columns: r.columns!, parameters: m.parameterCount, seconds: (performance.now() - t0) / 1000 },
      [r.scores.buffer, r.perColumn.buffer]);
  } finally {
    m.dispose();
  }
}

// Messages are handled one at a time, in order.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type !== 'decode' && m.type !== 'select') trace(`received ${m.type}`);
  queue = queue.then(() => (handlers[m.type] as (x: ToWorker) => Promise<void> | void)(m)).catch((err: Error) => post({ type: 'error', message: err.message }));
};
defaultData().catch((err: Error) => post({ type: 'error', message: `loading the MNIST subset failed: ${err.message}` }));
