// The fork-join round trip of the thread pool alone, through the shared-memory build. A task of 2 parts, each a
// fixed loop of about `--part-us` microseconds, runs back to back on one thread (2 parts one after the other) and on
// 2 threads (the parts side by side): the round trip is what 2 threads take beyond half of one thread's time. Also
// a task of empty parts (publishing and claiming alone: the caller takes every part before the worker looks), and
// the same when the worker sleeps (the caller then pays the wake-up call). Prints one JSON line, in microseconds.
// Parts of 250 µs: a task that took under 0.2 ms last time does not wake a sleeping worker (WAKE_MIN_MS in
// crate/src/par.rs). With 2 parts of 50 µs, once the worker had gone to sleep the caller computed both parts of every
// later task, and the figure said whether the worker happened to fall asleep (measured: 1.3 or 34–48 µs, from run to
// run) instead of what a round trip costs. 2 parts of 150 µs take about 165 µs on 2 threads, still under the bound:
// in one of three runs (AMD EPYC) five of its 15 pairs read 121–221 µs, where the other runs' pairs read 2–52 µs. At
// 250 µs a task on 2 threads takes over 0.2 ms, so a worker that fell asleep is always woken, and its wake-up is part
// of the round trip.
import { VAE, init } from '../dist/index.js';
import { alternatingPairs, arg, median } from './mnist.mjs';

const partUs = Number(arg('part-us', 250));
const vae = await VAE.create({ inputDim: 4, latentDim: 2, threads: 2 }); // starts the pool
if (vae.threads !== 2) throw new Error(`asked for 2 threads, got ${vae.threads}: ${vae.threadsNote}`);
const core = await init();
const x = core.x;
/** Best of 7 of the mean time per task (µs). */
function perTask(threads, parts, reps, work) {
  x.vae_threads_empty_tasks(threads, parts, reps, work);
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    x.vae_threads_empty_tasks(threads, parts, reps, work);
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best * 1000;
}
// Calibrate the loop: iterations per microsecond on one thread.
const probe = 1 << 20;
const perIter = perTask(1, 1, 20, probe) / probe;
const work = Math.max(1, Math.round(partUs / perIter));
// One thread and two in alternating windows of 200 tasks, 15 pairs: the round trip of each pair is the two-thread
// time beyond half the one-thread time of the window beside it, so that the VM's drift from window to window does not
// enter it (best-of-7 times taken one after the other, with the tier-dependent loop the core had before, read
// −384 to +530 µs on an AMD EPYC VM).
/** Mean time per task (µs) over one window. */
function windowUs(threads, reps) {
  const t0 = performance.now();
  x.vae_threads_empty_tasks(threads, 2, reps, work);
  return ((performance.now() - t0) / reps) * 1000;
}
windowUs(1, 50);
windowUs(2, 50);
const pairs = await alternatingPairs(15, () => windowUs(1, 200), () => windowUs(2, 200));
const one = median(pairs.map((q) => q.one));
const two = median(pairs.map((q) => q.two));
const roundTrip = median(pairs.map((q) => q.two - q.one / 2));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let asleep = 0;
const n = 100;
for (let i = 0; i < n; i++) {
  await sleep(5); // the worker goes to sleep
  const t0 = performance.now();
  x.vae_threads_empty_tasks(2, 2, 1, 0);
  asleep += performance.now() - t0;
}
console.log(JSON.stringify({
  contender: 'forkjoin', partUs: one / 2, oneThreadUs: one, twoThreadsUs: two, roundTripUs: roundTrip,
  pairRoundTripsUs: pairs.map((q) => Math.round(q.two - q.one / 2)), emptyUs: perTask(2, 2, 20000, 0), emptyAsleepUs: (asleep / n) * 1000,
}));
vae.dispose();
