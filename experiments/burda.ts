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
 *   --stages S       stages i = 0 … S−1 of their schedule (default 6: 364 passes)
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

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const STAGES = Number(arg('--stages') ?? 6);
if (!Number.isInteger(STAGES) || STAGES < 1 || STAGES > 8) throw new Error(`--stages must be an integer 1 … 8 (stages of Burda et al.'s schedule); got ${arg('--stages')}`);
const threadsArg = arg('--threads') ?? 'auto';
const THREADS: number | 'auto' = threadsArg === 'auto' ? 'auto' : Number(threadsArg);
const modelsArg = (arg('--models') ?? 'vae-k1,vae-k5,iwae-k5').split(',');
for (const m of modelsArg) if (!(m in MODELS)) throw new Error(`--models: unknown model "${m}"; expected some of ${ORDER.join(', ')}`);
const SELECTED = modelsArg as ModelId[];
const REPORT_ONLY = process.argv.includes('--report');
const MEASURE = process.argv.includes('--measure') ? Number(arg('--measure') && !arg('--measure')!.startsWith('--') ? arg('--measure') : 300) : 0;

// --smoke: a quick check of the script itself (1,000 training images, 100 test images, L_50 for L_5000), written
// to --out (required with --smoke, so the results page is never overwritten by it).
const SMOKE = process.argv.includes('--smoke');
if (SMOKE && !arg('--out')) throw new Error('--smoke needs --out DIR (a folder for its JSON, page and plots)');
const K_EVAL = SMOKE ? 50 : 5000;
const out = arg('--out') ?? join(process.cwd(), 'docs/results');
const jsonPath = join(out, 'burda.json');
const ckptDir = arg('--out') ? join(out, 'burda-checkpoints') : join(process.cwd(), 'experiments/dist/burda-checkpoints');
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
  nll5000: number; elboFromSameDraws: number; gap: number; elbo: number; l1: number; l5: number; activeUnits: number;
  variances: number[]; evalSeconds: number;
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
}
interface Measure { id: ModelId; steps: number; threads: number; msPerStep: number; cpuMsPerStep: number; load: number }
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
const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

async function measure(train: Uint8Array | Float32Array): Promise<void> {
  const rows: Measure[] = [];
  for (const id of SELECTED) {
    const vae = await createModel(THREADS);
    const n = MEASURE * 20;
    const w0 = performance.now();
    const c0 = cpuSeconds();
    await vae.fit(train.subarray(0, n * 784), { ...fitOptions(id, 1e-3), epochs: 1 });
    const m = { id, steps: MEASURE, threads: vae.threads, msPerStep: (performance.now() - w0) / MEASURE, cpuMsPerStep: 1000 * (cpuSeconds() - c0) / MEASURE, load: loadavg()[0]! };
    rows.push(m);
    console.log(JSON.stringify(m));
    vae.dispose();
  }
  saved.measure = { date: new Date().toISOString(), cpu: cpuModel(), rows };
  save();
}

async function runModel(id: ModelId, train: Uint8Array | Float32Array, testBin: Float32Array): Promise<void> {
  const spec = MODELS[id];
  const ckpt = join(ckptDir, `${id}.safetensors`);
  let run = saved.models[id];
  if (run && run.stages !== STAGES) {
    throw new Error(`${id}: the saved run trains ${run.stages} stages, this one ${STAGES}; add --rerun to discard it, or pass --stages ${run.stages}`);
  }
  if (run?.final) { console.log(`${id}: finished on ${run.finished}, skipped (--rerun to train it again)`); return; }
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
  const e0 = performance.now();
  const lk = vae.logLikelihood(testBin, { samples: K_EVAL, seed: 1 });
  const evalSeconds = (performance.now() - e0) / 1000;
  const f32 = Float32Array.from(lk.perRow.logLikelihood);
  const active = vae.activeUnits(testBin);
  run.final = {
    nll5000: -lk.logLikelihood, elboFromSameDraws: lk.elbo, gap: lk.gap,
    elbo: vae.elbo(testBin, { samples: 100, seed: 2 }).elbo,
    l1: vae.logLikelihood(testBin, { samples: 1, seed: 1 }).logLikelihood,
    l5: vae.logLikelihood(testBin, { samples: 5, seed: 1 }).logLikelihood,
    activeUnits: active.count, variances: Array.from(active.variances), evalSeconds,
    perRowL5000: Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength).toString('base64'),
  };
  run.finished = new Date().toISOString();
  save();
  console.log(`${id}: −L_5000 ${run.final.nll5000.toFixed(2)}, ${active.count} active units, L_5000 took ${(evalSeconds / 60).toFixed(1)} min`);
  vae.dispose();
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
  }
}

// ——— The page, from the JSON alone ———

function perRow(f: Final): Float32Array {
  const b = Buffer.from(f.perRowL5000, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
/** Mean and standard error over test images of a's L_5000 minus b's (paired: the same images). */
function pairedDifference(a: Final, b: Final): { mean: number; se: number } {
  const x = perRow(a);
  const y = perRow(b);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! - y[i]!;
  const mean = s / x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - y[i]! - mean) ** 2;
  return { mean, se: Math.sqrt(v / (x.length - 1) / x.length) };
}
const f2 = (v: number) => v.toFixed(2);
const minutes = (s: number) => (s / 60).toFixed(1);

function report(): void {
  const runs = ORDER.map((id) => saved.models[id]).filter((r): r is ModelRun => r !== undefined && r.log.length > 0);
  if (runs.length === 0) { console.log('nothing saved yet to report'); return; }
  const finished = runs.filter((r) => r.final);
  const passes = runs[0]!.passes;
  const xMax = Math.log10(BURDA_PASSES);
  const burdaTicks = ORDER.filter((id) => MODELS[id].burda.nll !== null && runs.some((r) => r.id === id))
    .map((id) => ({ points: [[Math.log10(2000), MODELS[id].burda.nll!], [xMax, MODELS[id].burda.nll!]] as [number, number][], color: MODELS[id].color }));

  // Test bounds after every stage, and −L_5000 at the end; Burda et al.'s numbers as short lines at 3,280 passes.
  writeFileSync(join(out, 'images', 'burda.png'), lineChartPng([
    ...runs.map((r) => ({ points: r.log.map((s) => [Math.log10(s.passes), -s.testElbo] as [number, number]), color: MODELS[r.id].light })),
    ...runs.map((r) => ({ points: r.log.map((s) => [Math.log10(s.passes), -s.testL50] as [number, number]), color: MODELS[r.id].color })),
    ...finished.map((r) => ({ points: [[Math.log10(r.passes), r.final!.nll5000]] as [number, number][], color: MODELS[r.id].color })),
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
    'test set is binarized once (a fixed xorshift32 stream) and log p(x) is estimated by the mean of L₅₀₀₀ over all',
    '10,000 test images.', '',
    `Budget: the same ${passes} passes over the 60,000 images for every model — Burda et al.'s stages i = 0 … ${lastStage}`,
    `(3ⁱ passes at learning rate 0.001·10^(−i/7)), against their ${BURDA_PASSES.toLocaleString('en-US')} passes (i = 0 … 7). Equal in passes, not in`,
    'time, as in the paper, where every model gets the same schedule: the comparison is between objectives on the same',
    'data and the same number of steps, and the result does not depend on the machine\'s load.' + costNote(),
    '',
    '## Results', '',
    `| model | test −log p(x) by L₅₀₀₀, ${passes} passes | Burda et al., ${BURDA_PASSES.toLocaleString('en-US')} passes | test −ELBO | L₅₀₀₀ − ELBO | test −L_k of its own k | active units (of 50) | Burda et al. | training, wall minutes | training, CPU minutes |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...ORDER.map((id) => {
      const spec = MODELS[id];
      const r = saved.models[id];
      const b = spec.burda;
      const theirs = [b.nll === null ? 'not quoted' : f2(b.nll), b.active === null ? 'not quoted' : String(b.active)];
      if (!r?.final) {
        const where = r ? `stopped after ${r.passLoss.length} of ${r.passes} passes` : 'not run';
        return `| ${spec.label} | ${where} | ${theirs[0]} | | | | | ${theirs[1]} | ${r ? minutes(r.seconds) : ''} | ${r ? minutes(r.cpuSeconds) : ''} |`;
      }
      const f = r.final;
      const own = spec.k === 1 ? -f.l1 : spec.k === 5 ? -f.l5 : -r.log[r.log.length - 1]!.testL50;
      return `| ${spec.label} | **${f2(f.nll5000)}** | ${theirs[0]} | ${f2(-f.elbo)} | ${f2(f.gap)} | ${f2(own)} | ${f.activeUnits} | ${theirs[1]} | ${minutes(r.seconds)} | ${minutes(r.cpuSeconds)} |`;
    }),
    '',
    'Test −ELBO: analytic KL, 100 draws per image (seed 2). L₅₀₀₀ − ELBO: both from the same 5,000 draws (≈ KL(q(z|x) ‖',
    'p(z|x))). Active units: the variance over the test images of E_q[z_i | x] above 0.01, as in the paper.',
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
      '| after stage | passes | learning rate | training minutes (wall) | train objective | test ELBO | test L₅₀ |', '|---|---|---|---|---|---|---|',
      ...r.log.map((s) => `| ${s.stage} | ${s.passes} | ${s.learningRate.toExponential(2)} | ${minutes(s.seconds)} | ${f2(s.trainLoss)} | ${f2(s.testElbo)} | ${f2(s.testL50)} |`),
      '',
    ]),
    '## Time', '',
    ...timing(runs),
    ...previous(),
    `Made by \`${runs[0]!.command}\` (started ${started.slice(0, 10)}) on ${cpu}; \`npm run experiment:burda -- --report\``,
    'rewrites this page and the plots from docs/results/burda.json.', '',
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
        `(standard error ${d.se.toFixed(2)} over the paired test images, ${clear ? (better ? 'clearly better' : 'clearly worse') : 'within noise'}); ` +
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
          `IWAE's L₅₀₀₀ is ${nll ? 'better than' : d.mean > 0 ? 'not clearly better than' : 'worse than'} the VAE's and it has ` +
          `${units ? 'more' : iw.final!.activeUnits === v5.final!.activeUnits ? 'as many' : 'fewer'} active units.`);
    }
    lines.push('', 'The standard errors count only the test images\' sampling (one training seed per model, so the variation between',
      'training runs is not in them), and these models had ' + passes + ` of Burda et al.'s ${BURDA_PASSES.toLocaleString('en-US')} passes.`, '');
    return lines;
  }
}

/** What a pass of each k costs against k = 1, from the saved CPU times (--measure, else the runs). */
function costNote(): string {
  const m = saved.measure?.rows;
  const cost = (id: ModelId) => {
    const r = m?.find((x) => x.id === id);
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
    const base = m.rows.find((r) => r.id === 'vae-k1');
    lines.push(`Cost per training step (batch 20), \`npm run experiment:burda -- --measure\` on ${m.date.slice(0, 10)}, ${m.rows[0]!.steps} steps per model:`, '',
      '| model | threads | wall ms per step | CPU ms per step | CPU relative to VAE k = 1 | load average |', '|---|---|---|---|---|---|',
      ...m.rows.map((r) => `| ${MODELS[r.id].label} | ${r.threads} | ${r.msPerStep.toFixed(2)} | ${r.cpuMsPerStep.toFixed(2)} | ${base ? (r.cpuMsPerStep / base.cpuMsPerStep).toFixed(2) : ''} | ${r.load.toFixed(1)} |`), '');
  }
  lines.push('| model | threads | training, wall minutes | training, CPU minutes | L₅₀₀₀ on 10,000 images, wall minutes | load average during training (min – max) |', '|---|---|---|---|---|---|',
    ...runs.map((r) => `| ${MODELS[r.id].label} | ${r.threads} | ${minutes(r.seconds)} | ${minutes(r.cpuSeconds)} | ${r.final ? minutes(r.final.evalSeconds) : ''} | ${Math.min(...r.load).toFixed(1)} – ${Math.max(...r.load).toFixed(1)} |`), '',
    'The machine has 2 cores shared with other jobs, and the runs were niced: wall times depend on what else ran and are',
    'longer than on a quiet machine; CPU time (the process\'s, all threads) is the steadier measure of cost. The numbers',
    'above do not depend on the load or the thread count (the core gives the same bits for any thread count).', '');
  return lines;
}

function previous(): string[] {
  const p = saved.previous as { date?: string; passes?: number; trainSeconds?: number; threads?: number; nll5000?: number; elbo?: number; activeUnits?: number } | undefined;
  if (!p?.nll5000) return [];
  const now = saved.models['vae-k1']?.final;
  return [
    `The first version of this experiment (${p.date?.slice(0, 10)}) trained only the VAE with k = 1, on the same ${p.passes} passes:`,
    `−L₅₀₀₀ ${f2(p.nll5000)}, −ELBO ${f2(-p.elbo!)}, ${p.activeUnits} active units, ${minutes(p.trainSeconds!)} minutes on ${p.threads} threads of a quiet machine`,
    now ? `(this run: −L₅₀₀₀ ${f2(now.nll5000)}, −ELBO ${f2(-now.elbo)}, ${now.activeUnits} active units${Math.abs(now.nll5000 - p.nll5000) < 5e-13 ? ': the same numbers' : ''}).` : '(kept in burda.json under "previous").', '',
  ];
}

report();
