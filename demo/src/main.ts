// The page: controls, live views, files. Training runs in ./worker.ts, so the page never waits on it.
import { downloadModel, idxImages, idxLabels, loadFromIndexedDB, loadIdx, readModelFile, saveToIndexedDB, threshold } from 'vae-wasm';
import type { ColumnInfo, Dataset, FromWorker, LossPoint, Settings, TableSettings, ToWorker, Views } from './protocol';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const STORE_KEY = 'vae-demo-last';

/** What tests (and curious users) can read: window.__demo. */
const demo = {
  ready: false,
  done: false,
  step: 0,
  threads: 0,
  losses: [] as number[],
  validation: [] as LossPoint[],
  reconstructions: undefined as number[] | undefined,
  restored: false,
  clickLatencies: [] as number[],
  errors: [] as string[],
  /** The worker's last trace messages, each with the page's time in ms. */
  trace: [] as string[],
  /** A conditional model: the class drawn, the samples under it, and the sliders' last decoded image. */
  digit: undefined as number | undefined,
  samples: undefined as number[] | undefined,
  slid: undefined as { z: number[]; image: number[]; digit?: number } | undefined,
  /** The CSV table: what was inferred, the scores, the threshold shown and the rows listed as most anomalous. */
  table: {
    name: '', columns: [] as ColumnInfo[], scores: [] as number[], names: [] as string[], quantile: 0.95, threshold: NaN,
    bins: [] as number[], top: [] as { row: number; score: number; columns: string[] }[], done: false, errors: [] as string[],
  },
  hash: () => request<string>('hash', { type: 'hash' }),
  save: () => save(),
};
(window as unknown as { __demo: typeof demo }).__demo = demo;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
const waiting = new Map<string, (v: never) => void>();
function request<T>(reply: string, m: ToWorker): Promise<T> {
  return new Promise<T>((resolve) => {
    waiting.set(reply, resolve as (v: never) => void);
    send(m);
  });
}

let side = 28;
let cols = 784;
let running = false;
let hasModel = false;
let selection = { a: 0, b: 1 };
let code = new Float32Array(0);
const trainSeries: LossPoint[] = [];
const validationSeries: LossPoint[] = [];

function status(text: string, error = false): void {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', error);
  if (error) demo.errors.push(text);
}

function settings(): Settings {
  const f = new FormData($<HTMLFormElement>('settings'));
  return {
    arch: f.get('arch') as Settings['arch'], latent: Number(f.get('latent')), hidden: Number(f.get('hidden')), activation: f.get('activation') as Settings['activation'],
    likelihood: f.get('likelihood') as Settings['likelihood'], learningRate: Number(f.get('learningRate')), beta: Number(f.get('beta')),
    batch: Number(params.get('batch') ?? 100), seed: Number(params.get('seed') ?? 1), steps: Number(params.get('steps') ?? 0),
    conditional: f.get('conditional') === 'on',
  };
}

/** The table model: small dense layers (tables have few columns); URL parameters may override for links and tests. */
function tableSettings(): TableSettings {
  return {
    epochs: Number($<HTMLSelectElement>('table-epochs').value), latent: Number(params.get('tableLatent') ?? 4), hidden: Number(params.get('tableHidden') ?? 32),
    learningRate: Number(params.get('tableLearningRate') ?? 3e-3), batch: Number(params.get('tableBatch') ?? 32), seed: Number(params.get('seed') ?? 1),
  };
}

function buttons(): void {
  $<HTMLButtonElement>('train').disabled = !demo.ready;
  $<HTMLButtonElement>('pause').disabled = !hasModel;
  $<HTMLButtonElement>('pause').textContent = running ? 'Pause' : 'Resume';
  $<HTMLButtonElement>('reset').disabled = !hasModel;
  $<HTMLButtonElement>('save').disabled = !hasModel;
}

// ---- drawing ------------------------------------------------------------------------------------------------

/** Draws n images (rows of `cols` values in [0, 1]) into `canvas`, `perRow` per row. */
function drawImages(canvas: HTMLCanvasElement, data: Float32Array, n: number, perRow: number): void {
  const w = Math.round(cols / side);
  const rowsOf = Math.ceil(n / perRow);
  canvas.width = perRow * w;
  canvas.height = rowsOf * side;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let k = 0; k < n; k++) {
    const ox = (k % perRow) * w;
    const oy = Math.floor(k / perRow) * side;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < w; x++) {
        const v = Math.max(0, Math.min(1, data[k * cols + y * w + x]!)) * 255;
        const i = ((oy + y) * canvas.width + ox + x) * 4;
        img.data[i] = img.data[i + 1] = img.data[i + 2] = v;
        img.data[i + 3] = 255;
      }
    }
  }
  ctx.putImageData(img, 0, 0);
}

/** A chart canvas sized to its CSS width at the screen's pixel density, cleared; drawn in CSS pixels. */
function chart(id: string, cssH: number): { ctx: CanvasRenderingContext2D; cssW: number; cssH: number } {
  const canvas = $<HTMLCanvasElement>(id);
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 720;
  canvas.width = Math.round(cssW * dpr);
  canvas.height = Math.round(cssH * dpr);
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  return { ctx, cssW, cssH };
}

function drawLoss(): void {
  const { ctx, cssW, cssH } = chart('loss', 260);
  if (trainSeries.length === 0) return;
  // Smoothed training curves (exponential moving average) and validation points.
  const smooth = (key: keyof LossPoint) => {
    let s = trainSeries[0]![key];
    return trainSeries.map((p) => (s = 0.95 * s + 0.05 * p[key]));
  };
  const curves: [number[], string][] = [[smooth('loss'), '--loss'], [smooth('reconstruction'), '--rec'], [smooth('kl'), '--kl']];
  const all = curves.flatMap(([c]) => c.slice(Math.floor(c.length * 0.05))).concat(validationSeries.flatMap((p) => [p.loss, p.kl]));
  const yMax = Math.max(...all) * 1.05;
  const yMin = Math.min(0, Math.min(...all));
  const xMax = Math.max(trainSeries[trainSeries.length - 1]!.step, 1);
  const L = 44, R = 10, T = 8, B = 22;
  const X = (s: number) => L + (s / xMax) * (cssW - L - R);
  const Y = (v: number) => T + (1 - (v - yMin) / (yMax - yMin)) * (cssH - T - B);
  const css = getComputedStyle(document.documentElement);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = css.getPropertyValue('--muted');
  ctx.strokeStyle = css.getPropertyValue('--line');
  ctx.lineWidth = 1;
  const step = Math.pow(10, Math.floor(Math.log10((yMax - yMin) / 4 || 1)));
  const tick = [1, 2, 5, 10].map((m) => m * step).find((t) => (yMax - yMin) / t <= 6) ?? step * 10;
  for (let v = Math.ceil(yMin / tick) * tick; v <= yMax; v += tick) {
    ctx.beginPath(); ctx.moveTo(L, Y(v)); ctx.lineTo(cssW - R, Y(v)); ctx.stroke();
    ctx.fillText(String(Math.round(v)), 4, Y(v) + 4);
  }
  ctx.fillText(`step ${xMax}`, cssW - R - 60, cssH - 6);
  for (const [c, color] of curves) {
    ctx.strokeStyle = css.getPropertyValue(color);
    ctx.lineWidth = 2;
    ctx.beginPath();
    c.forEach((v, i) => (i === 0 ? ctx.moveTo(X(trainSeries[i]!.step), Y(v)) : ctx.lineTo(X(trainSeries[i]!.step), Y(v))));
    ctx.stroke();
  }
  for (const p of validationSeries) {
    for (const [v, color] of [[p.loss, '--loss'], [p.reconstruction, '--rec'], [p.kl, '--kl']] as const) {
      ctx.fillStyle = css.getPropertyValue(color);
      ctx.beginPath(); ctx.arc(X(p.step), Y(v), 3.5, 0, 2 * Math.PI); ctx.fill();
    }
  }
}

const DIGIT_COLORS = ['#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe'];

function drawLatentPlane(v: Views): void {
  const hint = $('manifold-hint');
  const m = v.manifold;
  const manifold = $<HTMLCanvasElement>('manifold');
  const scatter = $<HTMLCanvasElement>('scatter');
  if (!m || !v.codes) {
    manifold.hidden = scatter.hidden = true;
    hint.hidden = false;
    return;
  }
  manifold.hidden = scatter.hidden = false;
  drawImages(manifold, m.images, m.grid * m.grid, m.grid);
  const ctx = scatter.getContext('2d')!;
  const size = 300;
  scatter.width = scatter.height = size;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, size, size);
  const e = m.extent * 1.6;
  const P = (z: number) => ((z + e) / (2 * e)) * size;
  ctx.strokeStyle = '#333';
  ctx.strokeRect(P(-m.extent), size - P(m.extent), P(m.extent) - P(-m.extent), P(m.extent) - P(-m.extent));
  const z = v.codes.z;
  for (let i = 0; i < z.length / 2; i++) {
    ctx.fillStyle = DIGIT_COLORS[v.codes.labels?.[i] ?? 0]!;
    ctx.fillRect(P(z[2 * i]!) - 1.5, size - P(z[2 * i + 1]!) - 1.5, 3, 3);
  }
  if (v.codes.labels) {
    ctx.font = '11px system-ui, sans-serif';
    DIGIT_COLORS.forEach((c, d) => { ctx.fillStyle = c; ctx.fillText(String(d), 8 + d * 14, 14); });
  }
}

function buildThumbs(originals: Float32Array, n: number): void {
  const holder = $('originals');
  if (holder.childElementCount !== n) {
    holder.replaceChildren();
    for (let i = 0; i < n; i++) {
      const b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('aria-label', `test digit ${i + 1}`);
      b.append(document.createElement('canvas'));
      b.addEventListener('click', (e) => {
        selection = e.shiftKey ? { a: selection.a, b: i } : { a: i, b: selection.b === i ? selection.a : selection.b };
        send({ type: 'select', ...selection });
        markSelection();
      });
      holder.append(b);
    }
  }
  [...holder.querySelectorAll('canvas')].forEach((c, i) => drawImages(c, originals.subarray(i * cols, (i + 1) * cols), 1, 1));
  markSelection();
}

function markSelection(): void {
  [...$('originals').children].forEach((b, i) => {
    b.classList.toggle('a', i === selection.a);
    b.classList.toggle('b', i === selection.b);
    b.setAttribute('aria-pressed', String(i === selection.a || i === selection.b));
  });
}

function buildSliders(z: Float32Array): void {
  const holder = $('sliders');
  const dims = Math.min(z.length, 8);
  if (holder.contains(document.activeElement)) return; // the user is moving one
  if (holder.childElementCount !== dims) {
    holder.replaceChildren();
    for (let k = 0; k < dims; k++) {
      const label = document.createElement('label');
      label.textContent = `z${k + 1}`;
      const input = document.createElement('input');
      input.type = 'range';
      input.min = '-3';
      input.max = '3';
      input.step = '0.05';
      const out = document.createElement('span');
      input.addEventListener('input', () => { out.textContent = Number(input.value).toFixed(2); decodeSliders(); });
      label.append(input, out);
      holder.append(label);
    }
  }
  code = Float32Array.from(z);
  [...holder.querySelectorAll('input')].forEach((input, k) => {
    input.value = String(z[k]);
    (input.nextElementSibling as HTMLElement).textContent = z[k]!.toFixed(2);
  });
  decodeSliders();
}

let decodePending = false;
function decodeSliders(): void {
  if (decodePending) return;
  decodePending = true;
  requestAnimationFrame(() => {
    decodePending = false;
    const z = Float32Array.from(code);
    [...$('sliders').querySelectorAll('input')].forEach((input, k) => { z[k] = Number(input.value); });
    send({ type: 'decode', z });
  });
}

/** The 0–9 buttons of a conditional model: picking one redraws everything decoded under that class. */
function buildClasses(show: boolean, current: number | undefined): void {
  const holder = $('classes');
  holder.hidden = $('classes-hint').hidden = !show;
  $('samples-title').textContent = show ? `Samples from the prior, z ~ N(0, I), given the class ${current ?? 0}` : 'Samples from the prior, z ~ N(0, I)';
  if (!show) return;
  if (holder.childElementCount !== 10) {
    holder.replaceChildren();
    for (let d = 0; d < 10; d++) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = String(d);
      b.setAttribute('aria-label', `draw class ${d}`);
      b.addEventListener('click', () => pickClass(d));
      holder.append(b);
    }
  }
  [...holder.children].forEach((b, d) => b.setAttribute('aria-pressed', String(d === (current ?? 0))));
}

let digit = 0;
function pickClass(d: number): void {
  digit = d;
  send({ type: 'class', digit: d });
  buildClasses(true, d);
}

/** Histogram of the scores (counts in 30 equal bins), with the threshold as a line; bars above it in its colour. */
function drawHistogram(): void {
  const t = demo.table;
  $<HTMLCanvasElement>('histogram').hidden = t.scores.length === 0;
  if (t.scores.length === 0) return;
  const { ctx, cssW, cssH } = chart('histogram', 220);
  const BINS = 30;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of t.scores) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const width = hi > lo ? (hi - lo) / BINS : 1;
  const bins = new Array<number>(BINS).fill(0);
  for (const v of t.scores) bins[Math.min(BINS - 1, Math.floor((v - lo) / width))]!++;
  t.bins = bins;
  const most = Math.max(...bins);
  const L = 36, R = 10, T = 8, B = 22;
  const X = (v: number) => L + ((v - lo) / (width * BINS)) * (cssW - L - R);
  const Y = (n: number) => T + (1 - n / most) * (cssH - T - B);
  const css = getComputedStyle(document.documentElement);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = css.getPropertyValue('--muted');
  ctx.fillText(String(most), 4, T + 8);
  ctx.fillText('0', 4, cssH - B);
  ctx.fillText(`score ${lo.toFixed(1)}`, L, cssH - 6);
  ctx.fillText(hi.toFixed(1), cssW - R - 30, cssH - 6);
  bins.forEach((n, i) => {
    const x0 = X(lo + i * width);
    ctx.fillStyle = css.getPropertyValue(lo + i * width >= t.threshold ? '--rec' : '--loss');
    ctx.fillRect(x0 + 0.5, Y(n), Math.max(1, X(lo + (i + 1) * width) - x0 - 1), Y(0) - Y(n));
  });
  ctx.strokeStyle = css.getPropertyValue('--rec');
  ctx.lineWidth = 2;
  ctx.setLineDash([5, 4]);
  ctx.beginPath(); ctx.moveTo(X(t.threshold), T); ctx.lineTo(X(t.threshold), cssH - B); ctx.stroke();
  ctx.setLineDash([]);
}

let perColumn: Float32Array = new Float32Array(0);
/** The threshold for the chosen quantile (vae-wasm's threshold), the histogram, and the most anomalous rows. */
function showScores(): void {
  const t = demo.table;
  if (t.scores.length === 0) return;
  t.quantile = Number($<HTMLSelectElement>('quantile').value);
  t.threshold = threshold(t.scores, { quantile: t.quantile });
  const flagged = t.scores.filter((v) => v > t.threshold).length;
  $('threshold').textContent = t.threshold.toFixed(3);
  $('flagged').textContent = `the ${t.quantile} quantile of the ${t.scores.length.toLocaleString()} rows' scores; ${flagged} row${flagged === 1 ? '' : 's'} above it`;
  $('threshold-line').hidden = false;
  drawHistogram();
  const cols = t.names.length;
  t.top = [];
  const order = [...t.scores.keys()].sort((a, b) => t.scores[b]! - t.scores[a]! || a - b).slice(0, 10);
  const trs = order.map((r) => {
    const shares = perColumn.subarray(r * cols, (r + 1) * cols);
    const top = [...shares.keys()].sort((a, b) => shares[b]! - shares[a]! || a - b).slice(0, 3);
    t.top.push({ row: r + 1, score: t.scores[r]!, columns: top.map((j) => t.names[j]!) });
    const tr = document.createElement('tr');
    tr.classList.toggle('flagged', t.scores[r]! > t.threshold);
    for (const text of [String(r + 1), t.scores[r]!.toFixed(3), top.map((j) => `${t.names[j]} (${shares[j]!.toFixed(2)})`).join(', ')]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  $('top-rows').querySelector('tbody')!.replaceChildren(...trs);
  $('top-rows').hidden = false;
}

function tableStatus(text: string, error = false): void {
  const el = $('table-status');
  el.textContent = text;
  el.classList.toggle('error', error);
  if (error) demo.table.errors.push(text);
}

function clearTable(): void {
  Object.assign(demo.table, { columns: [], scores: [], names: [], bins: [], top: [], threshold: NaN, done: false });
  $('table-columns').replaceChildren();
  $<HTMLCanvasElement>('histogram').hidden = $('threshold-line').hidden = $('top-rows').hidden = true;
}

// ---- worker messages ----------------------------------------------------------------------------------------

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  const resolve = waiting.get(m.type);
  if (resolve) {
    waiting.delete(m.type);
    resolve((m.type === 'hash' ? m.hex : m) as never);
  }
  switch (m.type) {
    case 'trace':
      demo.trace = [...demo.trace.slice(-15), `${Math.round(performance.now())} ms: ${m.text}`];
      break;
    case 'ready':
      side = m.side;
      cols = m.cols;
      buildClasses(false, undefined);
      status(`${m.name}: ${m.trainRows.toLocaleString()} training and ${m.testRows.toLocaleString()} test images of ${m.cols} values. Choose settings and press Train.`);
      // Only for the bundled data on arrival: the model kept last time, or a run the URL asks for.
      if (!demo.ready) {
        demo.ready = true;
        void restore();
        if (params.has('autostart')) start();
      }
      buttons();
      break;
    case 'model': {
      hasModel = true;
      demo.threads = m.threads;
      $('threads').textContent = String(m.threads);
      $('threads').title = m.threadsNote ?? '';
      const f = $<HTMLFormElement>('settings');
      (f.elements.namedItem('arch') as HTMLSelectElement).value = m.settings.arch;
      (f.elements.namedItem('latent') as HTMLSelectElement).value = String(m.settings.latent);
      (f.elements.namedItem('activation') as HTMLSelectElement).value = m.settings.activation;
      (f.elements.namedItem('likelihood') as HTMLSelectElement).value = m.settings.likelihood;
      (f.elements.namedItem('conditional') as HTMLInputElement).checked = m.settings.conditional;
      buildClasses(m.settings.conditional, digit);
      const hidden = f.elements.namedItem('hidden') as HTMLSelectElement;
      if (![...hidden.options].some((o) => o.value === String(m.settings.hidden))) hidden.add(new Option(String(m.settings.hidden)));
      hidden.value = String(m.settings.hidden);
      const arch = (m.settings.arch === 'conv' ? `convolutional VAE (keras.io) with latent size ${m.settings.latent}` : `VAE ${cols}-${m.settings.hidden}-${m.settings.latent}`) +
        (m.settings.conditional ? ' conditional on the label (CVAE)' : '');
      status(`A ${arch} (${m.parameters.toLocaleString()} parameters) on ${m.threads} thread${m.threads === 1 ? '' : 's'}` +
        (m.threadsNote ? ` — ${m.threadsNote}` : '') + '.');
      buttons();
      break;
    }
    case 'progress':
      trainSeries.push(...m.train);
      validationSeries.push(...m.validation);
      demo.losses.push(...m.train.map((p) => p.loss));
      demo.validation.push(...m.validation);
      demo.step = m.step;
      // Not `running = m.running`: a progress message posted before the worker saw a Pause would undo it.
      $('step').textContent = m.step.toLocaleString();
      $('epoch').textContent = String(m.epoch);
      $('speed').textContent = m.samplesPerSecond ? Math.round(m.samplesPerSecond).toLocaleString() : '–';
      buttons();
      requestAnimationFrame(drawLoss);
      break;
    case 'views': {
      const v = m.views;
      buildClasses(v.digit !== undefined, v.digit);
      demo.digit = v.digit;
      demo.samples = Array.from(v.samples);
      const n = v.originals.length / cols;
      buildThumbs(v.originals, n);
      drawImages($('reconstructions'), v.reconstructions, n, n);
      drawImages($('samples'), v.samples, v.samples.length / cols, 8);
      drawImages($('interpolation'), v.interpolation, v.interpolation.length / cols, v.interpolation.length / cols);
      drawLatentPlane(v);
      buildSliders(v.code);
      demo.reconstructions = Array.from(v.reconstructions);
      break;
    }
    case 'decoded':
      drawImages($('slid'), m.image, 1, 1);
      demo.slid = { z: Array.from(m.z), image: Array.from(m.image), ...(m.digit !== undefined ? { digit: m.digit } : {}) };
      break;
    case 'labelled':
      status(`${m.name}: labels for the ${m.trainRows.toLocaleString()} training and ${m.testRows.toLocaleString()} test images; tick "conditional" and press Train for a conditional VAE.`);
      break;
    case 'tableSchema': {
      clearTable();
      demo.table.name = m.name;
      demo.table.columns = m.columns;
      const list = $('table-columns');
      for (const c of m.columns) {
        const li = document.createElement('li');
        const kind = document.createElement('span');
        kind.className = 'kind';
        kind.textContent = `${c.kind} (${c.detail})`;
        li.append(`${c.name}: `, kind);
        list.append(li);
      }
      tableStatus(`${m.name}: ${m.rows.toLocaleString()} rows, ${m.columns.length} columns encoded into ${m.width} values per row${m.preamble ?? ''}` +
        `${m.ignored.length ? `; not encoded: ${m.ignored.join(', ')}` : ''}${m.warnings.length ? `; ${m.warnings.join('; ')}` : ''}. Training…`);
      break;
    }
    case 'tableProgress':
      tableStatus(`${demo.table.name}: epoch ${m.epoch} of ${m.epochs}, −ELBO ${m.loss.toFixed(2)} nats per row`);
      break;
    case 'tableScores':
      demo.table.scores = Array.from(m.scores);
      demo.table.names = m.columns;
      perColumn = m.perColumn;
      tableStatus(`${demo.table.name}: a VAE ${m.columns.length} columns → ${tableSettings().hidden} → ${tableSettings().latent} (${m.parameters.toLocaleString()} parameters) trained in ${m.seconds.toFixed(1)} s; ` +
        'each row scored by −ELBO (nats; higher = more anomalous).');
      showScores();
      demo.table.done = true;
      break;
    case 'tableError':
      tableStatus(`Error: ${m.message}`, true);
      break;
    case 'saved':
      break;
    case 'done':
      demo.done = true;
      running = false;
      buttons();
      status(`Trained ${m.step} steps.`);
      break;
    case 'error':
      running = false;
      buttons();
      status(`Error: ${m.message}`, true);
      break;
  }
};
worker.onerror = (e) => status(`The training worker failed: ${e.message}`, true);

// ---- actions ------------------------------------------------------------------------------------------------

function clearCharts(): void {
  trainSeries.length = 0;
  validationSeries.length = 0;
  demo.losses = [];
  demo.validation = [];
  drawLoss();
}

function start(): void {
  clearCharts();
  demo.done = false;
  running = true;
  send({ type: 'start', settings: settings() });
  buttons();
}

async function save(): Promise<void> {
  const { bytes } = await request<{ bytes: Uint8Array }>('saved', { type: 'save' });
  downloadModel(bytes, 'vae-demo.safetensors');
  await saveToIndexedDB(STORE_KEY, bytes);
  status('Saved: downloaded vae-demo.safetensors, and kept in this browser (restored on the next visit).');
}

/** Loads the model kept by the last Save, unless this visit trains on its own. */
async function restore(): Promise<void> {
  if (params.has('autostart')) return;
  const bytes = await loadFromIndexedDB(STORE_KEY).catch(() => undefined);
  if (!bytes) return;
  clearCharts();
  send({ type: 'load', bytes }, [bytes.buffer]);
  demo.restored = true;
  status('Restored the model you saved last time in this browser.');
}

/** Last held out of a user's IDX images (the worker splits their label file by the rows it holds). */
const testRowsOf = (rows: number) => Math.min(1000, Math.floor(rows / 10));

const isTable = (file: File) => /\.(csv|tsv|txt)$/i.test(file.name) || /^text\//.test(file.type);

/** A CSV file goes to the table panel: parsed, trained on and scored in the worker. */
async function openTable(file: File): Promise<void> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  clearTable();
  tableStatus(`Reading ${file.name}…`);
  if (running) {
    send({ type: 'pause' });
    running = false;
    buttons();
  }
  send({ type: 'table', name: file.name, bytes, settings: tableSettings() }, [bytes.buffer]);
}

async function openFile(file: File): Promise<void> {
  if (isTable(file)) return openTable(file);
  const bytes = await readModelFile(file);
  const idx = (bytes[0] === 0 && bytes[1] === 0 && bytes[2]! >= 8) || (bytes[0] === 0x1f && bytes[1] === 0x8b);
  if (!idx) {
    clearCharts();
    send({ type: 'load', bytes }, [bytes.buffer]);
    return;
  }
  const array = loadIdx(bytes);
  if (array.shape.length === 1) {
    // A label file (MNIST's *-labels-idx1-ubyte) for the images opened before it.
    const labels = idxLabels(array);
    send({ type: 'labels', name: file.name, labels });
    return;
  }
  const img = idxImages(array);
  const testRows = testRowsOf(img.rows);
  const part = (from: number, n: number): Dataset => ({ images: img.data.slice(from * img.cols, (from + n) * img.cols), rows: n, cols: img.cols });
  hasModel = false;
  send({ type: 'data', name: `${file.name}`, train: part(0, img.rows - testRows), test: part(img.rows - testRows, testRows) });
  buttons();
}

/** Several files at once (images and their labels): images first, then labels, each in turn. */
async function openFiles(files: File[]): Promise<void> {
  const labelsLast = [...files].sort((a, b) => Number(/label/i.test(a.name)) - Number(/label/i.test(b.name)));
  for (const f of labelsLast) await openFile(f).catch((err: Error) => status(`Could not open ${f.name}: ${err.message}`, true));
}

// URL parameters preset the form (e.g. ?latent=2&steps=2000&autostart=1), for links and tests.
for (const el of [...$<HTMLFormElement>('settings').elements] as HTMLInputElement[]) {
  const v = params.get(el.name);
  if (v !== null && el.type === 'checkbox') el.checked = v === '1' || v === 'on' || v === 'true';
  else if (v !== null) el.value = v;
}
for (const id of ['quantile', 'table-epochs']) {
  const v = params.get(id === 'quantile' ? 'quantile' : 'tableEpochs');
  if (v !== null) {
    const select = $<HTMLSelectElement>(id);
    if (![...select.options].some((o) => o.value === v)) select.add(new Option(v));
    select.value = v;
  }
}

$('train').addEventListener('click', start);
$('pause').addEventListener('click', () => {
  send({ type: running ? 'pause' : 'resume' });
  running = !running;
  buttons();
});
$('reset').addEventListener('click', () => { clearCharts(); send({ type: 'reset' }); });
$('save').addEventListener('click', () => { save().catch((e: Error) => status(`Saving failed: ${e.message}`, true)); });
$<HTMLInputElement>('file').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  void openFiles([...(input.files ?? [])]).then(() => { input.value = ''; });
});
$<HTMLInputElement>('csv').addEventListener('change', (e) => {
  const input = e.target as HTMLInputElement;
  const f = input.files?.[0];
  if (f) openTable(f).catch((err: Error) => tableStatus(`Could not open ${f.name}: ${err.message}`, true)).finally(() => { input.value = ''; });
});
$('quantile').addEventListener('change', showScores);
$('settings').addEventListener('input', () => {
  const f = new FormData($<HTMLFormElement>('settings'));
  $('beta-value').textContent = Number(f.get('beta')).toFixed(1);
  // The convolutional VAE's layers are fixed (keras.io's); the width applies to the MLP only.
  ($<HTMLFormElement>('settings').elements.namedItem('hidden') as HTMLSelectElement).disabled = f.get('arch') === 'conv';
});
document.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dragging'); });
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  void openFiles([...(e.dataTransfer?.files ?? [])]);
});
// Input latency: time from the browser's event timestamp to this handler (the UI must stay responsive).
document.addEventListener('click', (e) => demo.clickLatencies.push(performance.now() - e.timeStamp), { capture: true });
window.addEventListener('resize', () => requestAnimationFrame(() => { drawLoss(); drawHistogram(); }));
window.addEventListener('error', (e) => demo.errors.push(String(e.message)));
