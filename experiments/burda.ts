/**
 * Burda, Grosse & Salakhutdinov (2015), Importance Weighted Autoencoders, table 1 (MNIST, one stochastic layer),
 * reproduced as far as the machine allows (issues 7 and 16): the 784-200-200-50 tanh encoder and its mirrored
 * Bernoulli decoder on dynamically binarized MNIST, Adam (β₂ 0.999, ε 1e-4), batch 20, the first stages of their
 * schedule (3^i passes at learning rate 0.001·10^(−i/7)), trained as
 *   vae-k1   the ELBO with one draw (Burda's "VAE, k = 1"),
 *   vae-k5   the ELBO averaged over 5 draws ("VAE, k = 5"),
 *   iwae-k5  the importance-weighted bound L_5 ("IWAE, k = 5"),
 *   iwae-k50 L_50 (only when asked for: about 8× the cost of k = 5),
 * every model on the same budget of passes; then per model the test −log p(x) by L_5000, the ELBO, active units.
 *
 * Run: npm run experiment:burda [-- options]
 *   --models a,b,…   which models, in this order (default vae-k1,vae-k5,iwae-k5); models already finished in the
 *                    saved JSON are skipped, a model cut off mid-training resumes from its checkpoint (bit-identical
 *                    to an uninterrupted run)
 *   --stages S       stages i = 0 … S−1 of their schedule (default 6: 364 passes); a saved run planned for more
 *                    stages continues with S while it has not gone past their end (refused otherwise)
 *   --eval-images N  L_5000 on the first N test images (a multiple of 1,000; default all 10,000), computed after
 *                    all listed models are trained, 1,000 images at a time with the models taking turns
 *   --threads N      threads (default 'auto'); results are bit-identical for any thread count
 *   --rerun          discard the saved results and checkpoints of the models listed
 *   --measure N      only time N training steps of each listed model (default 300) and save the timings
 *   --report         only rewrite the markdown and plots from the saved JSON
 * Writes docs/results/burda.json after every pass and stage, burda.md and images/burda*.png; checkpoints go to
 * experiments/dist/burda-checkpoints/ (not committed).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { VAE } from '../ts/index';
import { loadDataset } from '../ts/cli/datasets';
import { stringOption } from './args';
import { lineChartPng } from './plot';

type ModelId = 'vae-k1' | 'vae-k5' | 'iwae-k5' | 'iwae-k50';
interface ModelSpec { label: string; objective: 'elbo' | 'iwae'; k: number; color: [number, number, number]; light: [number, number, number];
  /** Burda et al.'s table 1 as quoted in docs/references.md (null: not quoted there). */
  burda: { nll: number | null; active: number | null } }
const MODELS: Record<ModelId, ModelSpec> = {
  'vae-k1': { label: 'VAE, k = 1', objective: 'elbo', k: 1, color: [214, 39, 40], light: [240, 160, 160], burda: { nll: 86.76, active: 19 } },
  'vae-k5': { label: 'VAE, k = 5', objective: 'elbo', k: 5, color: [255, 127, 14], light: [255, 200, 140], burda: { nll: null, active: null } },
  'iwae-k5': { label: 'IWAE, k = 5', objective: 'iwae', k: 5, color: [31, 119, 180], light: [150, 195, 230], burda: { nll: 85.54, active: null } },
  'iwae-k50': { label: 'IWAE, k = 50', objective: 'iwae', k: 50, color: [148, 103, 189], light: [205, 180, 230], burda: { nll: 84.78, active: null } },
};
const ORDER = Object.keys(MODELS) as ModelId[];
const BURDA_PASSES = 3280;

const STAGES = Number(stringOption('--stages') ?? 6);
if (!Number.isInteger(STAGES) || STAGES < 1 || STAGES > 8) throw new Error(`--stages must be an integer 1 … 8 (stages of Burda et al.'s schedule); got ${stringOption('--stages')}`);
const threadsArg = stringOption('--threads') ?? 'auto';
const THREADS: number | 'auto' = threadsArg === 'auto' ? 'auto' : Number(threadsArg);
const modelsArg = (stringOption('--models') ?? 'vae-k1,vae-k5,iwae-k5').split(',');
for (const m of modelsArg) if (!(m in MODELS)) throw new Error(`--models: unknown model "${m}"; expected some of ${ORDER.join(', ')}`);
const SELECTED = modelsArg as ModelId[];
const REPORT_ONLY = process.argv.includes('--report');
const MEASURE = process.argv.includes('--measure') ? Number(stringOption('--measure') && !stringOption('--measure')!.startsWith('--') ? stringOption('--measure') : 300) : 0;

// --smoke: a quick check of the script itself (1,000 training images, 100 test images, L_50 for L_5000), written
// to --out (required with --smoke, so the results page is never overwritten by it).
const SMOKE = process.argv.includes('--smoke');
if (SMOKE && !stringOption('--out')) throw new Error('--smoke needs --out DIR (a folder for its JSON, page and plots)');
const K_EVAL = SMOKE ? 50 : 5000;
const EVAL_CHUNK = 1000;
const EVAL_IMAGES = Number(stringOption('--eval-images') ?? 10000);
if (!Number.isInteger(EVAL_IMAGES) || EVAL_IMAGES < EVAL_CHUNK || EVAL_IMAGES > 10000 || EVAL_IMAGES % EVAL_CHUNK !== 0) {
  throw new Error(`--eval-images must be a multiple of ${EVAL_CHUNK} from ${EVAL_CHUNK} to 10000 (the first test images L_5000 is computed on); got ${stringOption('--eval-images')}`);
}
const out = stringOption('--out') ?? join(process.cwd(), 'docs/results');
const jsonPath = join(out, 'burda.json');
const ckptDir = stringOption('--out') ? join(out, 'burda-checkpoints') : join(process.cwd(), 'experiments/dist/burda-checkpoints');
mkdirSync(join(out, 'images'), { recursive: true });

/** Burda et al.'s stage i: 3^i passes at 0.001·10^(−i/7). */
const stage = (i: number) => ({ passes: 3 ** i, learningRate: 0.001 * 10 ** (-i / 7) });
const passesAfter = (i: number) => (3 ** (i + 1) - 1) / 2;
const PASSES = passesAfter(STAGES - 1);

interface StageLog {
  stage: number; passes: number; learningRate: number;
  /** Training wall and CPU seconds (whole process, all threads) up to the end of this stage, evaluations excluded. */
  seconds: number; cpuSeconds: number;
  /** Mean over the stage's last pass of the training objective: −ELBO (VAE) or −L_k (IWAE), on dynamic binarizations. */
  trainLoss: number;
  /** On the binarized test set: the ELBO (analytic KL, one draw, seed 1) and L_50 (seed 1). */
  testElbo: number; testL50: number;
}
interface Final {
  /** On all test images: the ELBO (analytic KL, 100 draws, seed 2), L_1 and L_5 (seed 1), active units. */
  elbo: number; l1: number; l5: number; activeUnits: number; variances: number[];
  /** L_5000 so far on the first `images` test images, in chunks of 1,000 (chunk c with seed 1 + c); wall and CPU seconds. */
  images: number; evalSeconds: number; evalCpuSeconds: number;
  /** Sums over those images (f64) of L_5000 and of the mean log-weight of the same draws (an ELBO estimate). */
  sumL5000: number; sumElboSameDraws: number;
  /** −L_5000, the ELBO from the same draws and their gap, means over those images. */
  nll5000?: number; elboFromSameDraws?: number; gap?: number;
  /** Per test image L_5000 as little-endian float32, base64 (for paired differences between models). */
  perRowL5000: string;
}
interface ModelRun {
  id: ModelId; objective: 'elbo' | 'iwae'; k: number; stages: number; passes: number; threads: number;
  cpu: string; node: string; started: string; finished?: string; command: string;
  /** One-minute load average (over the machine's cores) when training started, and after every stage. */
  load: number[];
  seconds: number; cpuSeconds: number;
  /** The training objective's mean per pass (index = pass − 1). */
  passLoss: (number | null)[];
  log: StageLog[];
  final?: Final;
  /** Set when the run was started for more stages and then cut to `stages` (after `cutAfter` passes). */
  plannedStages?: number; plannedPasses?: number; cutAfter?: number;
}
interface Measure { id: ModelId; date?: string; steps: number; threads: number; msPerStep: number; cpuMsPerStep: number; load: number }
interface Saved {
  models: Partial<Record<ModelId, ModelRun>>;
  measure?: { date: string; cpu: string; rows: Measure[] };
  /** The k = 1 run made by the first version of this script (2026-11-24), kept as it was. */
  previous?: Record<string, unknown>;
}

function cpuModel(): string {
  try {
    const m = /^Model name:\s*(.+)$/m.exec(execFileSync('lscpu', { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }));
    if (m) return `${m[1]!.trim()}, ${cpus().length} cores`;
  } catch {
    // no lscpu: fall back to Node's view
  }
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores`;
}

function loadSaved(): Saved {
  if (!existsSync(jsonPath)) return { models: {} };
  const j = JSON.parse(readFileSync(jsonPath, 'utf8')) as Saved & { nll5000?: number };
  if (j.models) return j;
  // The first version of this script saved one k = 1 run at the top level: keep it as the previous run.
  return { models: {}, previous: j.nll5000 !== undefined ? j as unknown as Record<string, unknown> : undefined };
}
const saved = loadSaved();
const save = () => writeFileSync(jsonPath, JSON.stringify(saved, null, 1) + '\n');

/** The test set binarized once, pixel ~ Bernoulli(intensity), with a fixed xorshift32 stream (seed 1). */
function binarizeOnce(x: Uint8Array | Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  let s = 1;
  const scale = x instanceof Uint8Array ? 1 / 255 : 1;
  for (let i = 0; i < x.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    y[i] = s / 2 ** 32 < x[i]! * scale ? 1 : 0;
  }
  return y;
}

const createModel = (seedThreads: number | 'auto') => VAE.create({
  inputDim: 784, latentDim: 50, encoder: [200, 200], activation: 'tanh', likelihood: 'bernoulli', init: 'glorot-uniform', seed: 1, threads: seedThreads,
});
const fitOptions = (id: ModelId, learningRate: number) => ({
  batchSize: 20, binarize: 'dynamic' as const, objective: MODELS[id].objective, samples: MODELS[id].k,
  optimizer: { name: 'adam' as const, learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-4 },
});
const f2 = (v: number) => v.toFixed(2);
const minutes = (s: number) => (s / 60).toFixed(1);
const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

async function measure(train: Uint8Array | Float32Array): Promise<void> {
  const rows: Measure[] = [];
  for (const id of SELECTED) {
    const vae = await createModel(THREADS);
    const n = MEASURE * 20;
    const w0 = performance.now();
    const c0 = cpuSeconds();
    await vae.fit(train.subarray(0, n * 784), { ...fitOptions(id, 1e-3), epochs: 1 });
    const m = { id, date: new Date().toISOString(), steps: MEASURE, threads: vae.threads, msPerStep: (performance.now() - w0) / MEASURE, cpuMsPerStep: 1000 * (cpuSeconds() - c0) / MEASURE, load: loadavg()[0]! };
    rows.push(m);
    console.log(JSON.stringify(m));
    vae.dispose();
  }
  // Keep earlier timings made with another thread count (or of other models).
  const kept = (saved.measure?.rows ?? []).filter((r) => !rows.some((n) => n.id === r.id && n.threads === r.threads));
  saved.measure = { date: new Date().toISOString(), cpu: cpuModel(), rows: [...kept, ...rows] };
  save();
}

async function runModel(id: ModelId, train: Uint8Array | Float32Array, testBin: Float32Array): Promise<void> {
  const spec = MODELS[id];
  const ckpt = join(ckptDir, `${id}.safetensors`);
  let run = saved.models[id];
  if (run && run.stages !== STAGES) {
    // Stages 0 … S−1 are a prefix of the schedule of any longer run (the same passes at the same learning rates), and a
    // resumed run is bit-identical to an uninterrupted one: a saved run planned for more stages that has not yet gone
    // past the new end is the run --stages S would have made. Anything else (more stages, or already past) is refused.
    const done = run.passLoss.length;
    if (run.stages < STAGES || done > PASSES || run.final) {
      throw new Error(`${id}: the saved run trains ${run.stages} stages and has done ${done} passes, this one ${STAGES} stages (${PASSES} passes); ` +
        `a saved run can only be cut to fewer stages before it has passed their end; add --rerun to discard it, or pass --stages ${run.stages}`);
    }
    console.log(`${id}: the saved run was planned for ${run.stages} stages (${run.passes} passes); ${done} done, continuing with ${STAGES} stages (${PASSES} passes)`);
    run.plannedStages = run.plannedStages ?? run.stages;
    run.plannedPasses = run.plannedPasses ?? run.passes;
    run.cutAfter = run.cutAfter ?? done;
    run.stages = STAGES;
    run.passes = PASSES;
  }
  if (run?.final) { console.log(`${id}: trained${run.finished ? `, evaluated on ${run.finished}` : ''}; training skipped (--rerun to train it again)`); return; }
  let vae: VAE;
  if (run && existsSync(ckpt)) {
    vae = await VAE.load(readFileSync(ckpt));
    await vae.setThreads(THREADS);
    const done = vae.epochsTrained;
    run.passLoss.length = done;
    run.log = run.log.filter((s) => s.passes <= done);
    console.log(`${id}: resuming after pass ${done} from ${ckpt}`);
  } else {
    vae = await createModel(THREADS);
    run = {
      id, objective: spec.objective, k: spec.k, stages: STAGES, passes: PASSES, threads: vae.threads, cpu: cpuModel(), node: process.version,
      started: new Date().toISOString(), command: `npm run experiment:burda -- ${process.argv.slice(2).join(' ')}`.trim(),
      load: [loadavg()[0]!], seconds: 0, cpuSeconds: 0, passLoss: [], log: [],
    };
  }
  saved.models[id] = run;
  run.threads = vae.threads;
  save();
  mkdirSync(ckptDir, { recursive: true });
  for (let i = 0; i < STAGES; i++) {
    const end = passesAfter(i);
    if (run.log.some((s) => s.stage === i)) continue;
    const { learningRate } = stage(i);
    const remaining = end - vae.epochsTrained;
    if (remaining > 0) {
      let c0 = cpuSeconds();
      await vae.fit(train, {
        ...fitOptions(id, learningRate), epochs: remaining,
        checkpoint: { everyEpochs: 1, path: ckpt },
        onEpochEnd: (e) => {
          const c = cpuSeconds();
          run!.cpuSeconds += c - c0;
          c0 = c;
          run!.seconds += e.seconds;
          run!.passLoss[vae.epochsTrained - 1] = e.loss;
          save();
        },
      });
    }
    const testElbo = vae.elbo(testBin, { samples: 1, seed: 1 }).elbo;
    const testL50 = vae.logLikelihood(testBin, { samples: 50, seed: 1 }).logLikelihood;
    run.log.push({ stage: i, passes: end, learningRate, seconds: run.seconds, cpuSeconds: run.cpuSeconds, trainLoss: run.passLoss[end - 1] ?? NaN, testElbo, testL50 });
    run.load.push(loadavg()[0]!);
    save();
    console.log(`${id}: ${JSON.stringify(run.log[run.log.length - 1])}`);
  }
  // The cheap measures on all test images now; L_5000 (the costly one) by evaluate(), in chunks shared by all models.
  const active = vae.activeUnits(testBin);
  run.final = {
    elbo: vae.elbo(testBin, { samples: 100, seed: 2 }).elbo,
    l1: vae.logLikelihood(testBin, { samples: 1, seed: 1 }).logLikelihood,
    l5: vae.logLikelihood(testBin, { samples: 5, seed: 1 }).logLikelihood,
    activeUnits: active.count, variances: Array.from(active.variances),
    images: 0, evalSeconds: 0, evalCpuSeconds: 0, sumL5000: 0, sumElboSameDraws: 0, perRowL5000: '',
  };
  save();
  console.log(`${id}: trained, −ELBO ${(-run.final.elbo).toFixed(2)}, ${active.count} active units`);
  vae.dispose();
}

/**
 * L_5000 of every selected model on the first EVAL_IMAGES test images, 1,000 images at a time, the models taking turns
 * (chunk c of every model, then chunk c + 1), so that whenever the run is stopped all models have been evaluated on
 * the same images. Chunk c draws its ε from seed 1 + c; every chunk is saved as it is done and never redone.
 */
async function evaluate(testBin: Float32Array): Promise<void> {
  const n = Math.min(EVAL_IMAGES, testBin.length / 784);
  const vaes = new Map<ModelId, VAE>();
  for (const id of SELECTED) {
    const run = saved.models[id];
    if (!run?.final || run.final.images >= n) continue;
    const vae = await VAE.load(readFileSync(join(ckptDir, `${id}.safetensors`)));
    if (vae.epochsTrained !== run.passes) throw new Error(`${id}: the checkpoint has ${vae.epochsTrained} passes, the run ${run.passes}; add --rerun to train it again`);
    await vae.setThreads(THREADS);
    vaes.set(id, vae);
  }
  for (let start = 0; start < n; start += EVAL_CHUNK) {
    const end = Math.min(start + EVAL_CHUNK, n);
    for (const [id, vae] of vaes) {
      const f = saved.models[id]!.final!;
      if (f.images >= end) continue;
      if (f.images !== start) throw new Error(`${id}: L_${K_EVAL} saved for ${f.images} images, not a multiple of ${EVAL_CHUNK}`);
      const w0 = performance.now();
      const c0 = cpuSeconds();
      const lk = vae.logLikelihood(testBin.subarray(start * 784, end * 784), { samples: K_EVAL, seed: 1 + start / EVAL_CHUNK });
      f.evalSeconds += (performance.now() - w0) / 1000;
      f.evalCpuSeconds += cpuSeconds() - c0;
      const rows = Float32Array.from([...perRow(f), ...lk.perRow.logLikelihood]);
      for (let i = 0; i < lk.perRow.logLikelihood.length; i++) { f.sumL5000 += lk.perRow.logLikelihood[i]!; f.sumElboSameDraws += lk.perRow.elbo[i]!; }
      f.images = end;
      f.perRowL5000 = Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength).toString('base64');
      f.nll5000 = -f.sumL5000 / end;
      f.elboFromSameDraws = f.sumElboSameDraws / end;
      f.gap = -f.nll5000 - f.elboFromSameDraws;
      if (end === n) saved.models[id]!.finished = new Date().toISOString();
      save();
      console.log(`${id}: −L_${K_EVAL} ${f.nll5000.toFixed(2)} on the first ${end} test images (${minutes(f.evalSeconds)} min so far)`);
    }
  }
  for (const vae of vaes.values()) vae.dispose();
}

if (!REPORT_ONLY) {
  const { train, test } = loadDataset('mnist');
  const trainData = SMOKE ? train.data.subarray(0, 1000 * 784) : train.data;
  if (MEASURE) {
    await measure(trainData);
  } else {
    const testBin = binarizeOnce(SMOKE ? test!.data.subarray(0, 100 * 784) : test!.data);
    if (process.argv.includes('--rerun')) {
      for (const id of SELECTED) { delete saved.models[id]; rmSync(join(ckptDir, `${id}.safetensors`), { force: true }); }
      save();
    }
    for (const id of SELECTED) await runModel(id, trainData, testBin);
    await evaluate(testBin);
  }
}

// ——— The page, from the JSON alone ———

function perRow(f: Final): Float32Array {
  const b = Buffer.from(f.perRowL5000, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
/** Mean and standard error over test images of a's L_5000 minus b's (paired: the same images). */
function pairedDifference(a: Final, b: Final): { mean: number; se: number } {
  const n = Math.min(a.images, b.images);
  const x = perRow(a).subarray(0, n);
  const y = perRow(b).subarray(0, n);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! - y[i]!;
  const mean = s / x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - y[i]! - mean) ** 2;
  return { mean, se: Math.sqrt(v / (x.length - 1) / x.length) };
}

function report(): void {
  const runs = ORDER.map((id) => saved.models[id]).filter((r): r is ModelRun => r !== undefined && r.log.length > 0);
  if (runs.length === 0) { console.log('nothing saved yet to report'); return; }
  const finished = runs.filter((r) => r.final?.nll5000 !== undefined);
  const images = finished.length ? Math.min(...finished.map((r) => r.final!.images)) : 0;
  const allImages = finished.every((r) => r.final!.images === finished[0]!.final!.images);
  const passes = runs[0]!.passes;
  const xMax = Math.log10(BURDA_PASSES);
  const burdaTicks = ORDER.filter((id) => MODELS[id].burda.nll !== null && runs.some((r) => r.id === id))
    .map((id) => ({ points: [[Math.log10(2000), MODELS[id].burda.nll!], [xMax, MODELS[id].burda.nll!]] as [number, number][], color: MODELS[id].color }));

  // Test bounds after every stage, and −L_5000 at the end; Burda et al.'s numbers as short lines at 3,280 passes.
  writeFileSync(join(out, 'images', 'burda.png'), lineChartPng([
    ...runs.map((r) => ({ points: r.log.map((s) => [Math.log10(s.passes), -s.testElbo] as [number, number]), color: MODELS[r.id].light })),
    ...runs.map((r) => ({ points: r.log.map((s) => [Math.log10(s.passes), -s.testL50] as [number, number]), color: MODELS[r.id].color })),
    ...finished.map((r) => ({ points: [[Math.log10(r.passes), r.final!.nll5000!]] as [number, number][], color: MODELS[r.id].color })),
    ...burdaTicks,
  ], { xRange: [0, xMax], yRange: [80, 140], yStep: 5 }));
  // The training objective of every pass.
  writeFileSync(join(out, 'images', 'burda-train.png'), lineChartPng(runs.map((r) => ({
    points: r.passLoss.flatMap((v, i) => (v === null || v === undefined ? [] : [[Math.log10(i + 1), v] as [number, number]])),
    color: MODELS[r.id].color,
  })), { xRange: [0, Math.log10(passes)], yRange: [80, 140], yStep: 5 }));

  const lastStage = runs[0]!.stages - 1;
  const started = runs.map((r) => r.started).sort()[0]!;
  const cpu = runs[0]!.cpu;
  const byId = (id: ModelId) => finished.find((r) => r.id === id);
  const md: string[] = [
    '# Burda et al. (2015), table 1: VAE and IWAE with one stochastic layer on MNIST', '',
    'Architecture and training as in Importance Weighted Autoencoders ([references](../references.md)): 784 → 200 tanh →',
    '200 tanh → 50 Gaussian latents → 200 tanh → 200 tanh → 784 Bernoulli; dynamically binarized MNIST (every pixel',
    'redrawn ~ Bernoulli(intensity) each time an image is used, inside the core); Adam with β₁ 0.9, β₂ 0.999, ε 1e-4;',
    'batch 20; Glorot-uniform initialisation, seed 1 for every model. "VAE, k" maximises the ELBO averaged over k draws',
    'per image (analytic KL); "IWAE, k" maximises L_k = log (1/k) Σ p(x, z_s)/q(z_s|x) (`objective: \'iwae\'`). The',
    'test set is binarized once (a fixed xorshift32 stream) and log p(x) is estimated by the mean of L₅₀₀₀ over ' +
      (images === 10000 ? 'all' : 'the first'),
    `${images.toLocaleString('en-US')} test images${images === 10000 || images === 0 ? '' : ' (not all 10,000: the time ran out; the ELBO, L₁, L₅ and active units are on all 10,000)'}, computed 1,000 images at a time with the ε of chunk c from seed 1 + c,`,
    `the same images and seeds for every model${allImages ? '' : ' (the models were not all evaluated on as many images: the paired differences use the images common to both)'}.`, '',
    `Budget: the same ${passes} passes over the 60,000 images for every model — Burda et al.'s stages i = 0 … ${lastStage}`,
    `(3ⁱ passes at learning rate 0.001·10^(−i/7)), against their ${BURDA_PASSES.toLocaleString('en-US')} passes (i = 0 … 7). Equal in passes, not in`,
    'time, as in the paper, where every model gets the same schedule: the comparison is between objectives on the same',
    'data and the same number of steps, and the result does not depend on the machine\'s load.' + costNote(),
    '', ...cutNote(runs),
    '## Results', '',
    `| model | test −log p(x) by L₅₀₀₀, ${passes} passes, ${images.toLocaleString('en-US')} images | Burda et al., ${BURDA_PASSES.toLocaleString('en-US')} passes | test −ELBO | L₅₀₀₀ − ELBO | test −L_k of its own k | active units (of 50) | Burda et al. | training, wall minutes | training, CPU minutes |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...ORDER.map((id) => {
      const spec = MODELS[id];
      const r = saved.models[id];
      const b = spec.burda;
      const theirs = [b.nll === null ? 'not quoted' : f2(b.nll), b.active === null ? 'not quoted' : String(b.active)];
      if (r?.final?.nll5000 === undefined) {
        const where = r?.final ? 'trained, L₅₀₀₀ not computed' : r ? `stopped after ${r.passLoss.length} of ${r.passes} passes` : 'not run';
        return `| ${spec.label} | ${where} | ${theirs[0]} | | | | | ${theirs[1]} | ${r ? minutes(r.seconds) : ''} | ${r ? minutes(r.cpuSeconds) : ''} |`;
      }
      const f = r.final!;
      const own = spec.k === 1 ? -f.l1 : spec.k === 5 ? -f.l5 : -r.log[r.log.length - 1]!.testL50;
      return `| ${spec.label} | **${f2(f.nll5000!)}**${f.images === images ? '' : ` (${f.images} images)`} | ${theirs[0]} | ${f2(-f.elbo)} | ${f2(f.gap!)} | ${f2(own)} | ${f.activeUnits} | ${theirs[1]} | ${minutes(r.seconds)} | ${minutes(r.cpuSeconds)} |`;
    }),
    '',
    'Test −ELBO: analytic KL, 100 draws per image (seed 2), all 10,000 images. L₅₀₀₀ − ELBO: both from the same 5,000 draws',
    '(≈ KL(q(z|x) ‖ p(z|x))), on the L₅₀₀₀ images. Test −L_k of its own k: seed 1, all 10,000 images. Active units: the variance over the test images of E_q[z_i | x] above 0.01, as in the paper.',
    '"Not quoted": docs/references.md does not quote that number from the paper\'s table 1.', '',
    ...ordering(),
    '## Bounds against passes', '',
    '![test bounds against passes](images/burda.png)', '',
    'Test bounds in nats per image (80 to 140 from bottom to top, grid every 5) against passes over the training set',
    `(log scale, 1 to ${BURDA_PASSES.toLocaleString('en-US')}), after every stage: the light line is −ELBO, the dark line −L₅₀, the lone dot`,
    `−L₅₀₀₀ at ${passes} passes, the short line at the right Burda et al.'s −log p(x) after ${BURDA_PASSES.toLocaleString('en-US')} passes; ${runs.map((r) => `${colorName(r.id)} ${MODELS[r.id].label}`).join(', ')}.`, '',
    '![training objective against passes](images/burda-train.png)', '',
    `The training objective (mean over each pass, on fresh binarizations; 80 to 140 nats, log passes 1 to ${passes}): −ELBO for`,
    'the VAEs, −L_k for the IWAEs — not the same quantity across models, so only each curve\'s shape is comparable.', '',
    ...runs.flatMap((r) => [
      `### ${MODELS[r.id].label}`, '',
      '| after stage | passes | learning rate | training minutes (wall) | training minutes (CPU) | train objective | test ELBO | test L₅₀ |', '|---|---|---|---|---|---|---|---|',
      ...r.log.map((s) => `| ${s.stage} | ${s.passes} | ${s.learningRate.toExponential(2)} | ${minutes(s.seconds)} | ${minutes(s.cpuSeconds)} | ${f2(s.trainLoss)} | ${f2(s.testElbo)} | ${f2(s.testL50)} |`),
      '',
    ]),
    '## Time', '',
    ...timing(runs),
    ...previous(),
    `Made by ${[...new Set(runs.map((r) => r.command))].map((c) => `\`${c}\``).join(', then ')} (started ${started.slice(0, 10)}) on ${cpu},`,
    `L₅₀₀₀ by later runs of the same command with \`--eval-images N\` on the saved checkpoints (resumed chunk by chunk, stopped after ${images.toLocaleString('en-US')} images);`,
    '`npm run experiment:burda -- --report` rewrites this page and the plots from docs/results/burda.json.', '',
  ];
  writeFileSync(join(out, 'burda.md'), md.join('\n'));
  console.log(`wrote ${join(out, 'burda.md')}`);

  function colorName(id: ModelId): string {
    return { 'vae-k1': 'red', 'vae-k5': 'orange', 'iwae-k5': 'blue', 'iwae-k50': 'purple' }[id];
  }

  /** Burda et al.'s finding, checked on our numbers: IWAE's L_5000 better than the VAE's at equal k, more active units. */
  function ordering(): string[] {
    const lines: string[] = ['## Does their ordering hold here?', ''];
    const pairs: [ModelId, ModelId][] = [['iwae-k5', 'vae-k5'], ['iwae-k5', 'vae-k1'], ['vae-k5', 'vae-k1'], ['iwae-k50', 'iwae-k5']];
    let any = false;
    for (const [a, b] of pairs) {
      const ra = byId(a);
      const rb = byId(b);
      if (!ra || !rb) continue;
      any = true;
      const d = pairedDifference(ra.final!, rb.final!);
      const z = d.mean / d.se;
      const better = d.mean > 0;
      const clear = Math.abs(z) >= 3;
      const units = ra.final!.activeUnits - rb.final!.activeUnits;
      lines.push(`- ${MODELS[a].label} against ${MODELS[b].label}: L₅₀₀₀ ${better ? 'higher' : 'lower'} by ${Math.abs(d.mean).toFixed(2)} nats per image ` +
        `(standard error ${d.se.toFixed(2)} over ${Math.min(ra.final!.images, rb.final!.images).toLocaleString('en-US')} paired test images: ${Math.abs(z).toFixed(1)} standard errors, ${clear ? (better ? 'better' : 'worse') : 'not distinguishable'} by the 3-standard-error rule); ` +
        `${ra.final!.activeUnits} against ${rb.final!.activeUnits} active units (${units > 0 ? `${units} more` : units < 0 ? `${-units} fewer` : 'the same'}).`);
    }
    if (!any) return [...lines, 'Not yet: it needs at least two finished models.', ''];
    const iw = byId('iwae-k5');
    const v5 = byId('vae-k5');
    if (iw && v5) {
      const d = pairedDifference(iw.final!, v5.final!);
      const nll = d.mean / d.se >= 3;
      const units = iw.final!.activeUnits > v5.final!.activeUnits;
      lines.push('', nll && units
        ? `At equal k = 5 the ordering Burda et al. found holds after ${passes} passes: IWAE's L₅₀₀₀ is better than the VAE's and it uses more active units.`
        : `At equal k = 5 the ordering Burda et al. found ${nll || units ? 'holds only in part' : 'does not hold'} after ${passes} passes: ` +
          `IWAE's L₅₀₀₀ is ${nll ? 'better than' : d.mean > 0 ? 'higher, but by less than 3 standard errors, than' : 'lower than'} the VAE's and it has ` +
          `${units ? 'more' : iw.final!.activeUnits === v5.final!.activeUnits ? 'as many' : 'fewer'} active units.`);
      const cmp = (a: number, b: number) => (a > b ? 'higher' : a < b ? 'lower' : 'equal');
      lines.push('', `The looser bounds, on all 10,000 test images (one seed each; the per-image values are not saved, so no paired standard error): ` +
        `IWAE's ELBO ${f2(iw.final!.elbo)} against the VAE's ${f2(v5.final!.elbo)} (${cmp(iw.final!.elbo, v5.final!.elbo)}), its L₅ ${f2(iw.final!.l5)} against ` +
        `${f2(v5.final!.l5)} (${cmp(iw.final!.l5, v5.final!.l5)}), its L₅₀ after the last stage ${f2(iw.log[iw.log.length - 1]!.testL50)} against ` +
        `${f2(v5.log[v5.log.length - 1]!.testL50)} (${cmp(iw.log[iw.log.length - 1]!.testL50, v5.log[v5.log.length - 1]!.testL50)}).`);
    }
    lines.push('', '"Better" here means a paired difference of at least 3 standard errors. The standard errors count only the test images\' sampling (one training seed per model, so the variation between',
      'training runs is not in them), and these models had ' + passes + ` of Burda et al.'s ${BURDA_PASSES.toLocaleString('en-US')} passes.`, '');
    return lines;
  }
}

/** What a pass of each k costs against k = 1, from the saved CPU times (--measure, else the runs). */
function costNote(): string {
  const m = saved.measure?.rows;
  const cost = (id: ModelId) => {
    const r = m?.find((x) => x.id === id && x.threads === 1) ?? m?.find((x) => x.id === id);
    if (r) return r.cpuMsPerStep;
    const run = saved.models[id];
    return run && run.passLoss.length > 0 ? run.cpuSeconds / run.passLoss.length : undefined;
  };
  const base = cost('vae-k1');
  const others = (['vae-k5', 'iwae-k5', 'iwae-k50'] as ModelId[]).flatMap((id) => {
    const c = cost(id);
    return base && c ? [`${MODELS[id].label} ${(c / base).toFixed(1)}×`] : [];
  });
  return others.length ? ` CPU time per pass against the VAE with k = 1: ${others.join(', ')} (timings below); at equal time the VAE k = 1 would get that many times more passes.` : '';
}

function timing(runs: ModelRun[]): string[] {
  const lines: string[] = [];
  const m = saved.measure;
  if (m) {
    const rows = [...m.rows].sort((a, b) => a.threads - b.threads || ORDER.indexOf(a.id) - ORDER.indexOf(b.id));
    const base = (t: number) => m.rows.find((r) => r.id === 'vae-k1' && r.threads === t);
    lines.push(`Cost per training step (batch 20), \`npm run experiment:burda -- --measure N --threads T\` (N steps on the first N × 20 training images, one model at a time):`, '',
      '| model | threads | steps | wall ms per step | CPU ms per step | CPU relative to VAE k = 1 | load average | date |', '|---|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${MODELS[r.id].label} | ${r.threads} | ${r.steps} | ${r.msPerStep.toFixed(2)} | ${r.cpuMsPerStep.toFixed(2)} | ${base(r.threads) ? (r.cpuMsPerStep / base(r.threads)!.cpuMsPerStep).toFixed(2) : ''} | ${r.load.toFixed(1)} | ${(r.date ?? m.date).slice(0, 16).replace('T', ' ')} |`), '');
  }
  lines.push('| model | threads | training, wall minutes | training, CPU minutes | L₅₀₀₀: images | L₅₀₀₀: wall minutes | L₅₀₀₀: CPU minutes | load average during training (min – max) |', '|---|---|---|---|---|---|---|---|',
    ...runs.map((r) => `| ${MODELS[r.id].label} | ${r.threads} | ${minutes(r.seconds)} | ${minutes(r.cpuSeconds)} | ${r.final?.images ?? ''} | ${r.final?.images ? minutes(r.final.evalSeconds) : ''} | ${r.final?.images ? minutes(r.final.evalCpuSeconds) : ''} | ${Math.min(...r.load).toFixed(1)} – ${Math.max(...r.load).toFixed(1)} |`), '',
    ...threadsNote(),
    'The machine has 2 cores shared with other jobs, and the runs were niced: wall times depend on what else ran and are',
    'longer than on a quiet machine; CPU time (the process\'s, all threads) is the steadier measure of cost. The numbers',
    'above do not depend on the load or the thread count (the core gives the same bits for any thread count).', '');
  return lines;
}

/** Why the runs used the thread count they did, from the timings, when there are timings with 1 and 2 threads. */
function threadsNote(): string[] {
  const rows = saved.measure?.rows ?? [];
  const one = rows.find((r) => r.id === 'vae-k1' && r.threads === 1);
  const two = rows.find((r) => r.id === 'vae-k1' && r.threads === 2);
  if (!one || !two) return [];
  return [`On this shared machine one step of the VAE k = 1 took ${two.msPerStep.toFixed(1)} ms of wall time and ${two.cpuMsPerStep.toFixed(1)} ms of CPU with 2`,
    `threads (load ${two.load.toFixed(1)}), against ${one.msPerStep.toFixed(1)} ms and ${one.cpuMsPerStep.toFixed(1)} ms with 1 (load ${one.load.toFixed(1)}): when other jobs hold the cores, the`,
    'threads of a step wait for each other, so one thread is both faster and lighter on the neighbours here.', ''];
}

/** Runs started for more stages and cut to fewer (see runModel): what was planned, and why the cut run is sound. */
function cutNote(runs: ModelRun[]): string[] {
  const cut = runs.filter((r) => r.plannedStages !== undefined);
  if (cut.length === 0) return [];
  return [cut.map((r) => `${MODELS[r.id].label} was started for ${r.plannedStages} stages (${r.plannedPasses} passes) and cut to ${r.stages} (${r.passes} passes) after pass ${r.cutAfter}`).join('; ') +
    ': the machine\'s time did not allow more. Stages 0 … S−1 of the schedule are the first S stages of any longer one (the same',
    'passes at the same learning rates), and a run resumed from its checkpoint is bit-identical to an uninterrupted one, so',
    'the cut run is the one a run started with the shorter schedule makes.', ''];
}

function previous(): string[] {
  const p = saved.previous as { date?: string; passes?: number; trainSeconds?: number; threads?: number; nll5000?: number; elbo?: number; activeUnits?: number } | undefined;
  if (!p?.nll5000) return [];
  const f = saved.models['vae-k1']?.final;
  const now = f?.nll5000 !== undefined && saved.models['vae-k1']!.passes === p.passes ? { ...f, nll5000: f.nll5000 } : undefined;
  return [
    `The first version of this experiment (${p.date?.slice(0, 10)}) trained only the VAE with k = 1, on ${p.passes} passes:`,
    `−L₅₀₀₀ ${f2(p.nll5000)}, −ELBO ${f2(-p.elbo!)}, ${p.activeUnits} active units, ${minutes(p.trainSeconds!)} minutes on ${p.threads} threads of a quiet machine`,
    now ? `(this run: −L₅₀₀₀ ${f2(now.nll5000)}, −ELBO ${f2(-now.elbo)}, ${now.activeUnits} active units${Math.abs(now.nll5000 - p.nll5000) < 5e-13 ? ': the same numbers' : ''}).` : '(kept in burda.json under "previous").', '',
  ];
}

report();
