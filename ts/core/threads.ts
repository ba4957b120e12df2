/**
 * Worker threads for the shared-memory build of the core (crate/src/par.rs). One pool per JavaScript realm: each
 * worker (Node `worker_threads`, or a Web Worker in a cross-origin isolated page) instantiates the same compiled
 * module over the same `WebAssembly.Memory`, gets a shadow stack of its own, and runs `vae_thread_work` whenever
 * the coordinating thread publishes a task. Tasks split outputs, so results do not depend on the thread count.
 *
 * Lifecycle: the pool starts on first need (a model or `fit` asking for more than one thread), grows by restarting,
 * and stops 0.2 s after the last model that used it is disposed. Node workers are `unref`ed, so they never keep a process
 * alive. A worker that throws (a trap in the core) marks the shared control block and gives up the chunk it held,
 * so the call that was running fails with a clear error instead of waiting forever (and leaves the model as it
 * was); the pool is then shut down and restarts on next use.
 */
import type { Core } from './wasm';

/** Word indices in the control block (`Control` and `word` in crate/src/par.rs). */
const GENERATION = 0;
const DONE = 1;
const STOP = 2;
const FAILED = 3;
const SLEEPERS = 4;
const HOLDING = 32;
const CONTROL_WORDS = HOLDING + 64;

/** Shadow stack per worker: the parts a worker runs need a few KiB; the rest is headroom. */
const STACK_BYTES = 256 * 1024;
/**
 * Idle polls of the task word before a worker goes to sleep: about 30 µs (measured on a 2-core AMD EPYC VM), longer
 * than most gaps between the tasks of a training step, much shorter than an operating system's time slice, so a worker burns little
 * of a core its caller has lost (longer spins measured slower beside a busy core). A sleeping worker costs its
 * caller only a wake-up call, and only for tasks long enough to profit from it: the caller never waits for a worker
 * that has not started.
 */
const SPINS = 1 << 16;
/** Bytes reserved for a failed worker's message. */
const MESSAGE_BYTES = 512;

/**
 * The worker's program: a classic script for browsers (from a Blob URL) and CommonJS for Node (`eval: true`). It
 * waits for its start message, instantiates the module, then loops: sleep on the generation word, run tasks.
 */
const WORKER_SOURCE = `'use strict';
const port = typeof require === 'function' ? require('node:worker_threads').parentPort : null;
const post = (m) => (port ? port.postMessage(m) : self.postMessage(m));
const start = (s) => {
  const all = new Int32Array(s.memory.buffer);
  const env = {
    memory: s.memory,
    vae_thread_wake: (addr, count) => { Atomics.notify(all, addr >>> 2, count >>> 0); },
    vae_thread_wait: (addr, expected, ms) => { Atomics.wait(all, addr >>> 2, expected | 0, ms); },
    vae_thread_now: () => performance.now(),
  };
  let x;
  try {
    x = new WebAssembly.Instance(s.module, { env }).exports;
    x.__stack_pointer.value = s.stackTop;
  } catch (e) {
    post({ type: 'error', message: String(e) });
    return;
  }
  const w = new Int32Array(s.memory.buffer, s.control, ${CONTROL_WORDS});
  let seen = Atomics.load(w, ${GENERATION});
  post({ type: 'ready' });
  // The stop word is only read after a wake-up: it may still be set by the previous pool when this one starts.
  for (;;) {
    Atomics.add(w, ${SLEEPERS}, 1);
    Atomics.wait(w, ${GENERATION}, seen);
    Atomics.sub(w, ${SLEEPERS}, 1);
    try {
      seen = x.vae_thread_work(s.id, seen, s.spins) >>> 0;
    } catch (e) {
      const text = String((e && e.stack) || e);
      const out = new Uint8Array(s.memory.buffer, s.message, ${MESSAGE_BYTES});
      let n = 0;
      for (; n < text.length && n < ${MESSAGE_BYTES - 1}; n++) out[n] = text.charCodeAt(n) & 0x7f;
      out[n] = 0;
      Atomics.compareExchange(w, ${FAILED}, 0, s.id); // the first failure is the one reported
      // A worker that dies inside a chunk never finishes it: count it as done (failed) so the caller stops waiting.
      if (Atomics.load(w, ${HOLDING} + s.id) !== 0) {
        Atomics.store(w, ${HOLDING} + s.id, 0);
        Atomics.add(w, ${DONE}, 1);
        Atomics.notify(w, ${DONE});
      }
      post({ type: 'error', message: text });
      return;
    }
    if (Atomics.load(w, ${STOP}) !== 0) return;
  }
};
if (port) port.once('message', start);
else self.onmessage = (e) => { self.onmessage = null; start(e.data); };
`;

interface AnyWorker {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

interface Pool {
  workers: AnyWorker[];
}

/**
 * Worker stacks and the failure-message buffer, allocated once and reused by every later pool: a terminated worker
 * may still be leaving its last call for a moment, so its stack is never handed to anything else.
 */
const stacks: number[] = [];
let messageBuffer = 0;

interface WorkerThreadsModule {
  Worker: new (src: string, o: { eval: true }) => AnyWorker & { unref(): void; once(e: string, f: (v: never) => void): void; on(e: string, f: (v: never) => void): void };
}

let pool: Pool | undefined;
/** Models currently holding the pool. */
const users = new Set<object>();
/** Termination of the previous pool's workers (Node resolves when the threads are gone). */
let stopped: Promise<unknown> = Promise.resolve();
/** The pending stop of an unused pool. */
let idleTimer: ReturnType<typeof setTimeout> | undefined;
/** How long an unused pool lives on. */
const IDLE_MS = 200;
/**
 * How long new workers may take to say they are ready (ms). A worker that never does (seen in Firefox: a page's
 * nested workers after a reload) would otherwise hang the model's creation; past this, the model runs on one thread
 * and its threadsNote says why. Tests shorten it.
 */
export const startLimits = { readyMs: 10_000 };
/** Pool start-up in progress (so concurrent requests share it). */
let starting: Promise<void> | undefined;
let lastStartError: string | undefined;

function nodeWorkerThreads(): WorkerThreadsModule | undefined {
  const p = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!p?.versions?.node) return undefined;
  return p.getBuiltinModule?.('node:worker_threads') as WorkerThreadsModule | undefined;
}

async function nodeWorkerThreadsAsync(): Promise<WorkerThreadsModule | undefined> {
  const direct = nodeWorkerThreads();
  if (direct) return direct;
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!p?.versions?.node) return undefined;
  // Node < 20.16 has no process.getBuiltinModule; a computed specifier keeps browser bundlers from following it.
  const id = ['node', 'worker_threads'].join(':');
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ id)) as WorkerThreadsModule;
}

/** Cores this environment reports (Node: availableParallelism; browsers: hardwareConcurrency). */
export function hardwareThreads(): number {
  const p = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (p?.versions?.node) {
    const os = p.getBuiltinModule?.('node:os') as { availableParallelism?: () => number; cpus(): unknown[] } | undefined;
    if (os) return os.availableParallelism?.() ?? os.cpus().length;
  }
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n > 0 ? n : 1;
}

/** Why this realm cannot use worker threads, or undefined when it can. */
export function sharedMemoryUnavailable(): string | undefined {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown; process?: { versions?: { node?: string } } };
  if (typeof SharedArrayBuffer === 'undefined' && g.crossOriginIsolated === true) {
    // WebKitGTK 2.50 (and its MiniBrowser) reports an isolated page but leaves SharedArrayBuffer off.
    return 'one thread: this browser has no SharedArrayBuffer even though the page is cross-origin isolated, so shared WebAssembly memory is unavailable';
  }
  if (typeof SharedArrayBuffer === 'undefined' || g.crossOriginIsolated === false) {
    return 'one thread: the page is not cross-origin isolated, so shared WebAssembly memory is unavailable (serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (!g.process?.versions?.node && typeof g.Worker !== 'function') return 'one thread: this environment has no Worker API';
  return undefined;
}

function spawn(wt: WorkerThreadsModule | undefined): AnyWorker & { ready: Promise<void> } {
  let worker: AnyWorker;
  let ready: Promise<void>;
  if (wt) {
    const w = new wt.Worker(WORKER_SOURCE, { eval: true });
    ready = new Promise<void>((resolve, reject) => {
      w.on('message', (m: { type: string; message?: string }) => {
        if (m.type === 'ready') resolve();
        else reject(new Error(m.message));
      });
      w.once('error', (e: Error) => reject(e));
      w.once('exit', (code: number) => reject(new Error(`the worker exited with code ${code} before it was ready`)));
    });
    // Referenced while starting (the caller awaits it), then not: an idle worker never keeps the process alive.
    void ready.then(() => w.unref(), () => {});
    worker = w;
  } else {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new Worker(url);
    URL.revokeObjectURL(url);
    ready = new Promise<void>((resolve, reject) => {
      w.onmessage = (e: MessageEvent<{ type: string; message?: string }>) => {
        if (e.data.type === 'ready') resolve();
        else reject(new Error(e.data.message));
      };
      w.onerror = (e) => { e.preventDefault(); reject(new Error(e.message || 'the worker failed to start')); };
    });
    worker = w;
  }
  ready.catch(() => {}); // observed by start(); avoid unhandled rejections from late errors
  return Object.assign(worker, { ready });
}

/** Stops the pool now: workers are told to exit and terminated (their termination is awaited by the next start). */
export function stopThreads(core: Core): void {
  if (!pool) return;
  const p = pool;
  pool = undefined;
  core.x.vae_threads_shutdown();
  stopped = terminate(p.workers);
}

/** Terminates `workers`; the next start awaits the result (a failed termination counts as done). */
function terminate(workers: AnyWorker[]): Promise<unknown> {
  return Promise.all(workers.map((w) => Promise.resolve(w.terminate()).catch(() => {})));
}

/** `p`, or a rejection with `what` after `ms` (the timer never keeps a process alive). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
    (timer as { unref?: () => void }).unref?.();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

async function start(core: Core, workers: number): Promise<void> {
  if (pool) stopThreads(core);
  await stopped;
  const wt = await nodeWorkerThreadsAsync();
  const module = core.module;
  const memory = core.x.memory;
  const control = core.x.vae_thread_control();
  // A worker terminated while asleep never took itself off the sleepers' count: left there, it would make the caller
  // of every later task pay a wake-up call (measured: 15.5 instead of 5.7 per default training step).
  Atomics.store(new Int32Array(memory.buffer, control, CONTROL_WORDS), SLEEPERS, 0);
  if (messageBuffer === 0) messageBuffer = core.alloc(MESSAGE_BYTES);
  const message = messageBuffer;
  while (stacks.length < workers) stacks.push(core.alloc(STACK_BYTES));
  const spawned: (AnyWorker & { ready: Promise<void> })[] = [];
  try {
    for (let id = 1; id <= workers; id++) {
      const stack = stacks[id - 1]!;
      const w = spawn(wt);
      spawned.push(w);
      w.postMessage({ module, memory, id, stackTop: (stack + STACK_BYTES) & ~15, control, message, spins: SPINS });
    }
    await within(Promise.all(spawned.map((w) => w.ready)), startLimits.readyMs, `no worker was ready within ${startLimits.readyMs / 1000} s`);
    core.check(core.x.vae_threads_register(workers), 'vae-wasm: starting worker threads');
  } catch (e) {
    core.x.vae_threads_shutdown();
    stopped = terminate(spawned);
    throw e;
  }
  pool = { workers: spawned };
}

/**
 * Makes at least `threads` threads (coordinator included) available if this realm can, for `user` (a model).
 * Returns undefined when they are, else why fewer are (and then uses what there is).
 */
export async function ensureThreads(core: Core, threads: number, user: object): Promise<string | undefined> {
  if (threads <= 1) {
    releaseThreads(core, user);
    return undefined;
  }
  if (idleTimer !== undefined) clearTimeout(idleTimer);
  idleTimer = undefined;
  const unavailable = core.shared ? undefined : core.sharedUnavailable ?? 'one thread: the single-memory core is loaded';
  if (unavailable) return unavailable;
  users.add(user);
  while (starting) await starting.catch(() => {});
  if (core.x.vae_threads_available() >= threads) return undefined;
  starting = start(core, threads - 1);
  try {
    await starting;
    lastStartError = undefined;
  } catch (e) {
    lastStartError = `one thread: worker threads could not start (${(e as Error).message})`;
  } finally {
    starting = undefined;
  }
  return lastStartError;
}

/**
 * `user` no longer needs threads. The pool stops when nobody has needed it for IDLE_MS (so that a loop creating and
 * disposing models does not restart workers every time); the timer never keeps a process alive.
 */
export function releaseThreads(core: Core, user: object): void {
  if (!users.delete(user) || users.size > 0 || idleTimer !== undefined) return;
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    if (users.size === 0) stopThreads(core);
  }, IDLE_MS);
  (idleTimer as { unref?: () => void }).unref?.();
}

/** The failed worker's message, read from the shared buffer (call when a core call reported WORKER_FAILED). */
export function workerFailure(core: Core): string {
  const id = pool ? new Int32Array(core.x.memory.buffer, core.x.vae_thread_control(), CONTROL_WORDS)[FAILED] : 0;
  let text = '';
  if (pool) {
    const bytes = core.u8(messageBuffer, MESSAGE_BYTES);
    for (let i = 0; i < bytes.length && bytes[i] !== 0; i++) text += String.fromCharCode(bytes[i]!);
  }
  return `worker thread ${id} failed: ${text.split('\n')[0] || 'unknown error'}`;
}
