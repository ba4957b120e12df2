#!/usr/bin/env node
// `npm run bench`: vae-wasm (one thread, and every core) beside TensorFlow.js (wasm and cpu backends, which run
// one thread under Node) on the same models, one process per measurement, rounds interleaved so machine noise hits
// every contender alike; and the same one-thread training in the other engines (Chromium, Firefox, WebKitGTK, Bun,
// Deno). Writes
// bench/RESULTS.md and bench/results.json. Options: --rounds N (default 3), --quick (fewer steps), --only threads
// (just the thread-pool scenarios: their section of RESULTS.md is rewritten, the rest kept).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { CHROMIUM, FIREFOX, runtimeCommand } from '../tests/engines/drivers.mjs';
import { median } from './mnist.mjs';

const rounds = Number(process.argv.includes('--rounds') ? process.argv[process.argv.indexOf('--rounds') + 1] : 3);
const quick = process.argv.includes('--quick');
const here = new URL('.', import.meta.url).pathname;
const scale = quick ? 0.25 : 1;
const steps = (n) => String(Math.max(4, Math.round(n * scale)));
const cores = Math.min(os.availableParallelism?.() ?? os.cpus().length, 64);
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only !== undefined && only !== 'threads') throw new Error(`--only: expected 'threads', got ${only}`);

const jobs = [
  { key: 'kernels', script: 'kernels.mjs', args: [] },
  { key: 'profile', script: 'profile.mjs', args: [] },
  { key: 'vae-wasm/default', script: 'vae-wasm-contender.mjs', args: ['--config', 'default', '--steps', steps(400), '--warmup', '20'] },
  { key: 'vae-wasm-mt/default', script: 'vae-wasm-contender.mjs', args: ['--config', 'default', '--steps', steps(400), '--warmup', '20', '--threads', String(cores)] },
  { key: 'vae-wasm/kw', script: 'vae-wasm-contender.mjs', args: ['--config', 'kw', '--steps', steps(400), '--warmup', '20'] },
  { key: 'vae-wasm-mt/kw', script: 'vae-wasm-contender.mjs', args: ['--config', 'kw', '--steps', steps(400), '--warmup', '20', '--threads', String(cores)] },
  { key: 'chromium/default', script: 'browser-contender.mjs', args: ['--config', 'default', '--steps', steps(400), '--warmup', '20', '--isolated', 'no'] },
  { key: 'chromium-coi/default', script: 'browser-contender.mjs', args: ['--config', 'default', '--steps', steps(400), '--warmup', '20', '--isolated', 'yes'] },
  { key: 'chromium/kw', script: 'browser-contender.mjs', args: ['--config', 'kw', '--steps', steps(400), '--warmup', '20', '--isolated', 'no'] },
  { key: 'chromium-coi/kw', script: 'browser-contender.mjs', args: ['--config', 'kw', '--steps', steps(400), '--warmup', '20', '--isolated', 'yes'] },
  { key: 'tfjs-wasm/default', script: 'tfjs-contender.mjs', args: ['--backend', 'wasm', '--config', 'default', '--steps', steps(100), '--warmup', '10'] },
  { key: 'tfjs-wasm/kw', script: 'tfjs-contender.mjs', args: ['--backend', 'wasm', '--config', 'kw', '--steps', steps(100), '--warmup', '10'] },
  { key: 'tfjs-cpu/default', script: 'tfjs-contender.mjs', args: ['--backend', 'cpu', '--config', 'default', '--steps', steps(20), '--warmup', '3'] },
  { key: 'tfjs-cpu/kw', script: 'tfjs-contender.mjs', args: ['--backend', 'cpu', '--config', 'kw', '--steps', steps(20), '--warmup', '3'] },
];

// The other engines, one thread, the same training: Firefox (SpiderMonkey; single-memory and shared-memory builds)
// and WebKitGTK's MiniBrowser (JavaScriptCore; it has no SharedArrayBuffer, so the single-memory build) in a page,
// Bun (JavaScriptCore) and Deno (V8) running the package's Node entry. And Bun's worker threads.
for (const cfg of ['default', 'kw']) {
  const train = ['--config', cfg, '--steps', steps(400), '--warmup', '20'];
  jobs.push(
    { key: `firefox/${cfg}`, script: 'browser-contender.mjs', args: [...train, '--browser', 'firefox', '--isolated', 'no'] },
    { key: `firefox-coi/${cfg}`, script: 'browser-contender.mjs', args: [...train, '--browser', 'firefox', '--isolated', 'yes'] },
    { key: `webkit/${cfg}`, script: 'browser-contender.mjs', args: [...train, '--browser', 'webkit', '--isolated', 'no'] },
    { key: `bun/${cfg}`, script: 'vae-wasm-contender.mjs', runtime: 'bun', args: train },
    { key: `deno/${cfg}`, script: 'vae-wasm-contender.mjs', runtime: 'deno', args: train },
  );
}
jobs.push({ key: 'bun-mt/default', script: 'vae-wasm-contender.mjs', runtime: 'bun', args: ['--config', 'default', '--steps', steps(400), '--warmup', '20', '--threads', String(cores)] });

// The keras.io convolutional VAE (issue 12): vae-wasm with 1 thread and every core, TensorFlow.js's cpu backend (about
// a sample per second: a short run once) and its wasm backend (which refuses to train it: recorded once), PyTorch on 1
// thread and every core (Debian's python3-torch, installed by its contender when missing).
jobs.push(
  { key: 'conv/vae-wasm', script: 'conv-contender.mjs', args: ['--steps', steps(40), '--warmup', '4'] },
  { key: 'conv/vae-wasm-mt', script: 'conv-contender.mjs', args: ['--steps', steps(40), '--warmup', '4', '--threads', String(cores)] },
  { key: 'conv/pytorch', script: 'pytorch-conv-contender.mjs', args: ['--steps', steps(20)] },
  { key: 'conv/pytorch-mt', script: 'pytorch-conv-contender.mjs', args: ['--steps', steps(20), '--threads', String(cores)] },
  { key: 'conv/tfjs-cpu', script: 'tfjs-conv-contender.mjs', args: ['--backend', 'cpu', '--steps', '1', '--warmup', '1', '--batch', '32'], once: true },
  { key: 'conv/tfjs-wasm', script: 'tfjs-conv-contender.mjs', args: ['--backend', 'wasm', '--steps', '1', '--warmup', '1', '--batch', '32'], once: true },
);

// Cores of a VM (or a laptop) need not be equally fast, and a speed-up over "one thread" depends on which core that
// thread got. Where taskset exists, one-thread runs pinned to each core show what each core does alone.
const pinnedCores = os.platform() === 'linux' && spawnSync('taskset', ['-c', '0', 'true']).status === 0 ? Math.min(cores, 8) : 0;
for (let cpu = pinnedCores - 1; cpu >= 0; cpu--) {
  jobs.splice(4, 0, { key: `vae-wasm-core${cpu}/default`, script: 'vae-wasm-contender.mjs', args: ['--config', 'default', '--steps', steps(400), '--warmup', '20'], pin: cpu });
}

// The ceiling for threads: as many independent one-thread processes as cores, all at once (their throughputs
// summed). Cores that slow each other down when both are busy (shared caches, memory, a hyperthread sibling)
// lower it; the thread pool cannot beat it.
jobs.splice(4, 0, { key: 'vae-wasm-copies/default', script: 'vae-wasm-contender.mjs', args: ['--config', 'default', '--steps', steps(400), '--warmup', '20'], copies: cores });

// The thread pool when the cores are not ours alone: as many trainings as cores at once, each with the default
// setting (threads: 'auto', one thread per core), against the same number of one-thread trainings (above); one
// training beside a busy core (a busy loop pinned to core 0 with taskset), with one thread and with every core; and
// the fork-join round trip alone.
const busyCore = os.platform() === 'linux' && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const threadJobs = [
  { key: 'vae-wasm-copies-auto/default', script: 'vae-wasm-contender.mjs', args: ['--config', 'default', '--steps', steps(400), '--warmup', '20', '--threads', 'auto'], copies: cores },
  ...(busyCore ? [
    { key: 'vae-wasm-busy/default', script: 'vae-wasm-contender.mjs', args: ['--config', 'default', '--steps', steps(400), '--warmup', '20'], busy: true },
    { key: 'vae-wasm-mt-busy/default', script: 'vae-wasm-contender.mjs', args: ['--config', 'default', '--steps', steps(400), '--warmup', '20', '--threads', String(cores)], busy: true },
  ] : []),
  { key: 'forkjoin', script: 'forkjoin.mjs', args: [] },
  { key: 'paired', script: 'paired.mjs', args: ['--threads', String(cores)] },
];
jobs.splice(5, 0, ...threadJobs);
if (only === 'threads') {
  const keep = new Set(['vae-wasm/default', 'vae-wasm-mt/default', 'vae-wasm-copies/default', ...threadJobs.map((j) => j.key)]);
  for (let i = jobs.length - 1; i >= 0; i--) if (!keep.has(jobs[i].key)) jobs.splice(i, 1);
}

/** A busy loop pinned to core 0 while `fn` runs (another program keeping one core busy). */
async function besideBusyCore(fn) {
  const busy = spawn('taskset', ['-c', '0', process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  try {
    return await fn();
  } finally {
    busy.kill('SIGKILL');
    await new Promise((r) => busy.once('exit', r));
  }
}

/** Runs `copies` processes at once; resolves to their exit statuses and outputs. */
function runConcurrently(argv, copies) {
  return Promise.all(Array.from({ length: copies }, () => new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  })));
}

/** The machine's CPU time so far in ticks, and the part of it the hypervisor gave to other guests ("steal" in
 * Linux's /proc/stat); undefined elsewhere. */
const cpuTicks = () => {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] };
  } catch {
    return undefined;
  }
};

const results = Object.fromEntries(jobs.map((j) => [j.key, []]));
for (let r = 1; r <= rounds; r++) {
  for (const job of jobs) {
    if (job.once && r > 1) continue;
    process.stderr.write(`round ${r}/${rounds}: ${job.key} ... `);
    const argv = [...runtimeCommand(job.runtime ?? 'node'), here + job.script, ...job.args];
    if (job.pin !== undefined) argv.unshift('taskset', '-c', String(job.pin));
    const once = () => (job.copies ? runConcurrently(argv, job.copies) : runConcurrently(argv, 1));
    const ticks = cpuTicks();
    const runs = job.busy ? await besideBusyCore(once) : await once();
    const ticksAfter = cpuTicks();
    const bad = runs.find((p) => p.status !== 0);
    if (bad) {
      process.stderr.write(`failed\n${bad.stderr}\n`);
      process.exit(1);
    }
    const each = runs.map((p) => JSON.parse(p.stdout.trim().split('\n').pop()));
    const res = each.length === 1 ? each[0] : { ...each[0], copies: each.length, samplesPerSecond: each.reduce((a, r) => a + r.samplesPerSecond, 0) };
    if (ticks && ticksAfter && ticksAfter.total > ticks.total) res.stolenShare = (ticksAfter.steal - ticks.steal) / (ticksAfter.total - ticks.total);
    results[job.key].push(res);
    process.stderr.write(res.peakGflops ? `peak ${res.peakGflops.toFixed(1)} GFLOP/s\n` : res.roundTripUs !== undefined ? `round trip ${res.roundTripUs.toFixed(1)} µs\n` : res.medianRatio !== undefined ? `${res.medianRatio.toFixed(2)}× (paired)\n` : res.samplesPerSecond ? `${res.samplesPerSecond.toFixed(0)} samples/s\n` : `${res.refused ?? res.missing}\n`);
  }
}

const stat = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const fmt = (s, d = 0) => `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})`;

const command = `npm run bench${process.argv.slice(2).length ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';

// ---- the thread pool when the cores are busy ----
const trainKeys = Object.keys(results).filter((k) => !['kernels', 'profile', 'forkjoin', 'paired'].includes(k));
const train = {};
for (const key of trainKeys) {
  // Contenders that refused or are missing (TensorFlow.js wasm on the conv VAE, PyTorch not installed) have no rate.
  const rates = results[key].map((x) => x.samplesPerSecond).filter((x) => x !== undefined);
  if (rates.length > 0) train[key] = stat(rates);
}
const threadLines = (() => {
  const one = train['vae-wasm/default'];
  const mt = train['vae-wasm-mt/default'];
  const copies = train['vae-wasm-copies/default'];
  const auto = train['vae-wasm-copies-auto/default'];
  const fj = (f) => stat(results['vae-wasm-mt/default'].map((r) => f(r.forkJoin)));
  const rt = (f) => stat(results.forkjoin.map(f));
  const l = [
    '## Threads when the cores are not ours alone', '',
    `Command: \`${command}\` — ${rounds} rounds, interleaved; median (min–max). Machine: ${cpu}, ${os.cpus().length} logical cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. Default configuration (784-400-20, batch 128, Adam), samples/s through the public API.`, '',
    '| situation | threads: 1 | threads: 2 | ratio | goal |', '|---|---|---|---|---|',
    `| alone | ${fmt(one)} | ${fmt(mt)} | ${(mt.median / one.median).toFixed(2)}× | ≥ 1.85× |`,
    ...(results.paired ? [`| alone, paired in one process (bench/paired.mjs: ${results.paired[0].pairs} pairs of ${results.paired[0].steps}-step windows per round, one thread and ${cores} alternating) | | | ${fmt(stat(results.paired.map((r) => r.medianRatio)), 2)}× (pairs ${fmt(stat(results.paired.flatMap((r) => r.ratios)), 2)}×) | ≥ 1.85× |`] : []),
    `| ${cores} trainings at once (${cores} processes; total) | ${fmt(copies)} | ${fmt(auto)} (threads: 'auto') | ${(100 * auto.median / copies.median).toFixed(0)}% | ≥ 90% |`,
  ];
  if (train['vae-wasm-busy/default']) {
    const b1 = train['vae-wasm-busy/default'];
    const b2 = train['vae-wasm-mt-busy/default'];
    l.push(`| beside a busy core (a busy loop pinned to core 0) | ${fmt(b1)} | ${fmt(b2)} | ${(b2.median / b1.median).toFixed(2)}× | ≥ 1.0× |`);
  }
  // Products are cut finer while the workers fall behind (par.rs, SPLIT): how often each situation found them so.
  const behind = (key) => results[key]?.[0]?.forkJoin ? `${fmt(stat(results[key].map((r) => r.forkJoin.behindShare * 100)), 0)}%` : undefined;
  const shares = [['alone', 'vae-wasm-mt/default'], ['two trainings at once', 'vae-wasm-copies-auto/default'], ['beside a busy core', 'vae-wasm-mt-busy/default']]
    .map(([what, key]) => [what, behind(key)]).filter(([, v]) => v !== undefined);
  // A virtual machine's cores are not always its own: the time its hypervisor ran other guests instead.
  const stolen = (key) => results[key]?.length && results[key].every((r) => r.stolenShare !== undefined) ? stat(results[key].map((r) => 100 * r.stolenShare)) : undefined;
  const stolenRows = [['alone, 1 thread', 'vae-wasm/default'], [`alone, ${cores} threads`, 'vae-wasm-mt/default'], [`${cores} trainings at once, 1 thread each`, 'vae-wasm-copies/default'], [`${cores} trainings at once, threads: 'auto'`, 'vae-wasm-copies-auto/default']]
    .map(([what, key]) => [what, stolen(key)]).filter(([, v]) => v !== undefined);
  if (stolenRows.length > 0) l.push('', `CPU time the hypervisor gave to other guests while each ran (\`steal\` in /proc/stat, share of both cores' time): ${stolenRows.map(([w, v]) => `${w} ${fmt(v, 0)}%`).join('; ')}. Time taken from one core while the other works stretches every fork-join step; it is part of what "alone" measures on this machine.`);
  if (shares.length > 0) l.push('', `Share of the pool's decisions (one per 32 tasks) that found the workers behind and cut products into 4 chunks per thread instead of one: ${shares.map(([w, v]) => `${w} ${v}`).join(', ')}.`);
  l.push('', `Fork-join, ${cores} threads alone (counters of the core, per training step): ${fmt(fj((f) => f.tasksPerStep), 1)} tasks split across the threads and ${fmt(fj((f) => f.serialTasksPerStep), 1)} run on the caller alone; chunks computed by the caller ${fmt(fj((f) => f.callerChunksPerStep), 1)}, by the worker ${fmt(fj((f) => f.workerChunksPerStep), 1)}; the caller waited for a worker's chunk after its last claim in ${fmt(fj((f) => f.waitsPerStep), 1)} tasks, ${fmt(fj((f) => f.waitMsPerStep * 1000), 0)} µs per step in all (asleep in ${fmt(fj((f) => f.sleepsPerStep), 2)}); sleeping workers were woken in ${fmt(fj((f) => f.wakesPerStep), 2)} tasks per step.`,
    `Fork-join round trip (bench/forkjoin.mjs): tasks of 2 parts of ${fmt(rt((r) => r.partUs), 0)} µs each; on 2 threads a task takes ${fmt(rt((r) => r.roundTripUs), 1)} µs more than half of its one-thread time in the window beside it (per round, the median over 15 pairs of alternating one- and two-thread windows; the windows' own medians: ${fmt(rt((r) => r.oneThreadUs), 1)} µs on one thread, ${fmt(rt((r) => r.twoThreadsUs), 1)} µs on two). Publishing and claiming an empty task: ${fmt(rt((r) => r.emptyUs), 2)} µs; ${fmt(rt((r) => r.emptyAsleepUs), 1)} µs when the worker sleeps (the caller's wake-up call; it does not wait for the worker). Per step: ${fj((f) => f.tasksPerStep).median.toFixed(0)} tasks × ${rt((r) => r.roundTripUs).median.toFixed(1)} µs = ${(fj((f) => f.tasksPerStep).median * rt((r) => r.roundTripUs).median).toFixed(0)} µs of round trips, plus the waits above, in a ${(128e6 / mt.median).toFixed(0)} µs step.`, '');
  return l;
})();
if (only === 'threads') {
  const path = here + 'RESULTS.md';
  const old = readFileSync(path, 'utf8');
  const start = old.indexOf('## Threads when the cores are not ours alone');
  const end = start < 0 ? -1 : old.indexOf('\n## ', start + 1);
  const kept = start < 0 ? old.trimEnd() + '\n\n' : old.slice(0, start) + (end < 0 ? '' : old.slice(end + 1));
  const at = kept.indexOf('## In the browser');
  const text = at < 0 ? kept + threadLines.join('\n') : kept.slice(0, at) + threadLines.join('\n') + '\n' + kept.slice(at);
  writeFileSync(path, text);
  console.log(threadLines.join('\n'));
  process.exit(0);
}

const peak = stat(results.kernels.map((k) => k.peakGflops));
const gemm = results.kernels[0].gemm.map((g, i) => ({ name: g.name, gflops: stat(results.kernels.map((k) => k.gemm[i].gflops)) }));
const lines = [
  '# Benchmark results',
  '',
  `Command: \`${command}\` — ${rounds} rounds, one process per measurement, interleaved; median (min–max).`,
  `Machine: ${cpu}, ${os.cpus().length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}. TensorFlow.js runs one thread under Node (its wasm backend's threads are browser-only); vae-wasm is measured with one thread and with ${cores} (every core).`,
  `Date: ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '## Training throughput (samples/s)',
  '',
  `| configuration | vae-wasm, 1 thread | vae-wasm, ${cores} threads | threads speed-up | TensorFlow.js wasm | TensorFlow.js cpu | vae-wasm 1 thread ÷ tfjs-wasm | vae-wasm ${cores} threads ÷ tfjs-wasm | one epoch (60,000), vae-wasm ${cores} threads |`,
  '|---|---|---|---|---|---|---|---|---|',
];
for (const [cfg, label] of [['default', 'default: 784-400-20 ReLU, Bernoulli, Adam 1e-3, batch 128'], ['kw', 'Kingma & Welling: 784-500-20 tanh, Bernoulli, Adagrad 0.01, batch 100']]) {
  const ours = train[`vae-wasm/${cfg}`];
  const mt = train[`vae-wasm-mt/${cfg}`];
  const tw = train[`tfjs-wasm/${cfg}`];
  const tc = train[`tfjs-cpu/${cfg}`];
  lines.push(`| ${label} | ${fmt(ours)} | ${fmt(mt)} | ${(mt.median / ours.median).toFixed(2)}× | ${fmt(tw)} | ${fmt(tc)} | ${(ours.median / tw.median).toFixed(1)}× | ${(mt.median / tw.median).toFixed(1)}× | ${(60000 / mt.median).toFixed(1)} s |`);
}
{
  const copies = train['vae-wasm-copies/default'];
  const mt = train['vae-wasm-mt/default'];
  lines.push('', `The ceiling for ${cores} threads: ${cores} independent one-thread processes at once (default configuration) train ${fmt(copies)} samples/s in total; ${cores} threads in one process reach ${(100 * mt.median / copies.median).toFixed(0)}% of that.`);
}
if (pinnedCores > 0) {
  const each = Array.from({ length: pinnedCores }, (_, cpu) => train[`vae-wasm-core${cpu}/default`]);
  lines.push('', `Each core alone (one thread pinned with \`taskset\`, default configuration): ${each.map((s, cpu) => `core ${cpu} ${fmt(s)}`).join(', ')} samples/s.`);
}
lines.push('', ...threadLines.slice(0, -1));
const version = (argv, fallback) => spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' }).stdout?.trim() || fallback;
const chromiumVersion = version([CHROMIUM, '--version'], 'Chromium');
lines.push('', '## In the browser (one thread)', '',
  `${chromiumVersion} (headless, driven by playwright-core), the same training through the built package in a page:`,
  'not cross-origin isolated (the single-memory build, what most pages get) and cross-origin isolated (the',
  'shared-memory build, run with `threads: 1`). Node: the same run in Node on one thread, from the table above.', '',
  '| configuration | Node | Chromium, not isolated | ÷ Node | Chromium, isolated | ÷ Node |', '|---|---|---|---|---|---|');
for (const cfg of ['default', 'kw']) {
  const node = train[`vae-wasm/${cfg}`];
  const plain = train[`chromium/${cfg}`];
  const coi = train[`chromium-coi/${cfg}`];
  lines.push(`| ${cfg} | ${fmt(node)} | ${fmt(plain)} | ${(100 * plain.median / node.median).toFixed(0)}% | ${fmt(coi)} | ${(100 * coi.median / node.median).toFixed(0)}% |`);
}
{
  const engines = [
    ['chromium', chromiumVersion], ['chromium-coi', `${chromiumVersion}, cross-origin isolated`],
    ['firefox', version([FIREFOX, '--version'], 'Firefox')], ['firefox-coi', `${version([FIREFOX, '--version'], 'Firefox')}, cross-origin isolated`],
    ['webkit', `WebKitGTK ${version(['dpkg-query', '-W', '-f', '${Version}', 'libwebkit2gtk-4.1-0'], '')} MiniBrowser`],
    ['bun', `Bun ${version([...runtimeCommand('bun'), '--version'], '')}`], ['deno', version([...runtimeCommand('deno').slice(0, 1), '--version'], 'Deno').split('\n')[0]],
  ];
  lines.push('', '## Every engine (one thread)', '',
    'The same training, one thread, in each engine, as a ratio to Node\'s speed in this run (samples/s, median of the rounds).',
    'Browsers are driven by tests/engines/drivers.mjs (WebKitGTK under Xvfb); Bun and Deno run the package\'s Node entry.', '',
    '| engine | default | ÷ Node | Kingma & Welling | ÷ Node |', '|---|---|---|---|---|',
    `| Node ${process.version} | ${fmt(train['vae-wasm/default'])} | 100% | ${fmt(train['vae-wasm/kw'])} | 100% |`);
  for (const [key, label] of engines) {
    const d = train[`${key}/default`];
    const k = train[`${key}/kw`];
    lines.push(`| ${label} | ${fmt(d)} | ${(100 * d.median / train['vae-wasm/default'].median).toFixed(0)}% | ${fmt(k)} | ${(100 * k.median / train['vae-wasm/kw'].median).toFixed(0)}% |`);
  }
  const bun = train['bun/default'];
  const bunMt = train['bun-mt/default'];
  lines.push('', `Bun's worker threads (default configuration): ${fmt(bun)} samples/s on one thread, ${fmt(bunMt)} on ${cores} (${(bunMt.median / bun.median).toFixed(2)}×; Node ${(train['vae-wasm-mt/default'].median / train['vae-wasm/default'].median).toFixed(2)}×).`);
}
{
  // 39.9 MFLOP per training sample (forward 13.3, backward twice that), from the layer shapes.
  const mflop = 39.9;
  const conv = (k) => train[`conv/${k}`];
  const note = (k) => { const r = results[`conv/${k}`][0]; return r.refused ? `refuses: \`${r.refused}\`` : r.missing ? `not measured: ${r.missing}` : fmt(conv(k), 1); };
  const ours = conv('vae-wasm');
  const mt = conv('vae-wasm-mt');
  const pt = conv('pytorch');
  lines.push('', '## The keras.io convolutional VAE (samples/s)', '',
    'The keras.io conv VAE (two stride-2 convolutions, dense 16, latent 2, transposed convolutions back; TensorFlow\'s \'same\'',
    'padding; 134,165 parameters; 39.9 MFLOP per training sample), Adam 1e-3, batch 128 (TensorFlow.js cpu: batch 32, one',
    'step, once: it trains about a sample per second). PyTorch: Debian\'s CPU build (python3-torch), the same model as',
    '`scripts/torch/conv_vae_ref.py` ports it (padding 1: the same shapes and FLOPs).', '',
    `| vae-wasm, 1 thread | vae-wasm, ${cores} threads | threads speed-up | share of the SIMD peak (1 thread) | PyTorch, 1 thread | PyTorch, ${cores} threads | vae-wasm ÷ PyTorch (1 thread) | TensorFlow.js cpu | TensorFlow.js wasm |`,
    '|---|---|---|---|---|---|---|---|---|',
    `| ${fmt(ours)} | ${fmt(mt)} | ${(mt.median / ours.median).toFixed(2)}× | ${(100 * ours.median * mflop / 1000 / peak.median).toFixed(0)}% | ${note('pytorch')} | ${note('pytorch-mt')} | ${pt ? `${(ours.median / pt.median).toFixed(1)}×` : '–'} | ${note('tfjs-cpu')} | ${note('tfjs-wasm')} |`);
}
lines.push('', `## Kernels`, '', `Peak (12 independent f32x4 multiply-add chains): ${fmt(peak, 1)} GFLOP/s.`, '',
  '| GEMM | GFLOP/s | fraction of peak |', '|---|---|---|');
for (const g of gemm) lines.push(`| ${g.name} | ${fmt(g.gflops, 1)} | ${((g.gflops.median / peak.median) * 100).toFixed(0)}% |`);
const prof = results.profile;
const p = (f) => stat(prof.map(f));
lines.push('', '## Where a default training step goes (batch 128, one thread)', '',
  'The step is timed whole; its 14 GEMMs are then replayed alone on the same shapes (bench/profile.mjs).', '',
  '| | ms per step | share |', '|---|---|---|',
  `| whole step | ${fmt(p((r) => r.stepMs), 2)} | 100% |`,
  `| GEMM (forward and backward products) | ${fmt(p((r) => r.gemmMs), 2)} | ${(100 * (1 - p((r) => r.otherShare).median)).toFixed(0)}% |`,
  `| everything else (activations, loss, RNG, reparameterisation, KL, optimizer, gathers, copies) | ${fmt(p((r) => r.otherMs), 2)} | ${(100 * p((r) => r.otherShare).median).toFixed(0)}% |`,
  '', '## Inference (samples/s, one thread, through the public API)', '',
  'MNIST digits, and for decode their codes (the encoder\'s means); the best of 5 windows of 0.2 s each. One row\'s products skip the terms where the row is zero (a digit\'s background, a ReLU\'s output), with the same bits.', '',
  '| | batch 1 | batch 256 |', '|---|---|---|',
  `| encode | ${fmt(p((r) => r.inference['encode@1']))} | ${fmt(p((r) => r.inference['encode@256']))} |`,
  `| decode | ${fmt(p((r) => r.inference['decode@1']))} | ${fmt(p((r) => r.inference['decode@256']))} |`,
  `| encode into the caller's arrays (\`{ out }\`) | ${fmt(p((r) => r.inference['encodeOut@1']))} | |`,
  `| decode into the caller's array (\`{ out }\`) | ${fmt(p((r) => r.inference['decodeOut@1']))} | |`,
  '', `The importance-weighted bound \`logLikelihood(x, { samples: 1000 })\` on 20 rows: ${fmt(p((r) => r.lkGflops), 1)} GFLOP/s of its products, ${(100 * p((r) => r.lkGflops).median / peak.median).toFixed(0)}% of the peak above; its decoder's product alone (1000×400·400×784), run back to back for as long, sustains ${fmt(p((r) => r.lkProductGflops), 1)} GFLOP/s (the bound: ${(100 * p((r) => r.lkGflops).median / p((r) => r.lkProductGflops).median).toFixed(0)}% of that).`,
  '', `wasm memory after training the default model on 41,000 MNIST rows held as bytes: ${fmt(p((r) => r.wasmMemoryMiB), 1)} MiB, of which the data is ${(320 * 128 * 784 / 2 ** 20).toFixed(1)} MiB.`,
  '');
writeFileSync(here + 'RESULTS.md', lines.join('\n'));
writeFileSync(here + 'results.json', JSON.stringify({ command, machine: { cpu, cores: os.cpus().length, node: process.version }, threads: cores, rounds, results }, null, 1) + '\n');
console.log(lines.join('\n'));
