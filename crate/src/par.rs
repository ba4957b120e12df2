//! Fork-join parallelism for the shared-memory build (cargo feature `threads`).
//!
//! A task is a function and its context, cut into `count` chunks (`Part`s); what chunk `index` computes depends on
//! `index` and `count` alone. Tasks split *outputs* (columns, rows, element ranges), never a reduction, so every
//! value is computed in the order one thread would use, by whichever thread claims its chunk: results are the same
//! bits for any number of threads and any claiming order. There are more chunks than threads, and they are claimed
//! dynamically, so a thread that is late, slow or descheduled delays only the chunk it holds.
//!
//! The thread that called into the core (thread 0, "the caller") publishes a task, wakes sleeping workers, then
//! claims chunks itself until none is left, and only then waits for chunks still being computed by workers. It
//! never waits for a worker that has not claimed anything: if the workers are asleep, busy elsewhere or
//! descheduled, the caller computes every chunk alone. Workers are JavaScript workers (worker_threads / Web Workers)
//! with their own instance of the module over the same memory; each runs [`Control::worker_loop`] (export
//! `vae_thread_work`), which spins a bounded number of times waiting for the next task and then returns, so that
//! its JavaScript sleeps in `Atomics.wait` on the generation word (`memory.atomic.wait32` is not stable in Rust
//! 1.63), to be woken through the imported `vae_thread_wake`. A worker never spins while there is no task, beyond
//! that bound; the caller, waiting for a worker's chunk, also spins only a bounded time and then sleeps (through
//! the imported `vae_thread_wait`) until the last chunk's worker wakes it, so a worker descheduled while holding a
//! chunk gets the caller's core instead of competing with a spinning caller.
//!
//! Spins are short (a worker's about 30 µs, the caller's about 7 µs, measured on a 2-core AMD EPYC VM): longer ones
//! measured no faster alone and slower beside a busy core or another training (a worker's 4× longer, 2026-12-01, 3
//! rounds: beside a busy core 0.81–0.94× the one-thread speed instead of 0.90–1.09×; two trainings at once 8,312–9,618
//! samples/s each instead of 9,658–10,738). Waking a sleeping worker costs the caller a system call (20–120
//! µs on a VM), so a task that took less than [`WAKE_MIN_MS`] last time does not wake sleepers; awake workers still
//! help with it.
//!
//! How many chunks: [`parts`] gives one per `min` units, between one and [`CHUNKS_PER_THREAD`] per active thread. A
//! product takes one per thread while the workers keep pace (`Gemm::parts`: each chunk repacks the operand it shares
//! with the others, and two per thread measured 2–5% slower alone) and [`BEHIND_SPLIT`] per thread once they fall
//! behind (`SPLIT`, decided from the caller's waits); its chunks are claimed either way, so the caller takes a late
//! worker's.
//!
//! # The claim protocol, and why a late worker can never run a stale task or a chunk twice
//!
//! One 64-bit word, `claim`, holds a task's generation (40 bits) and the number of its chunks not yet claimed
//! (24 bits). The caller publishes task g by writing the descriptor (trampoline, function, context, count), then
//! `done := 0`, then `claim := (g, count)`, then the 32-bit `generation` word (for sleepers). A thread claims a
//! chunk of the task it read as g with a compare-and-swap `(g, r) → (g, r − 1)`, which succeeds only if the word
//! still says g and r > 0; the chunk claimed is `count − r` (chunks go in ascending order). The claimant computes
//! it, then adds one to `done`. The caller claims the same way until the word says r = 0, then waits until `done`
//! counts every chunk it did not compute itself; only then does it return, and only after that can it write the
//! next task. All these accesses are sequentially consistent (wasm atomics are).
//!
//! - No chunk runs twice: each successful compare-and-swap takes a distinct value r of one generation, and r only
//!   decreases within a generation.
//! - A worker that claims with tag g reads g's descriptor. It read the descriptor after reading `(g, ·)`, so after
//!   the caller wrote g's descriptor. The next descriptor is written only after the caller saw r = 0 and every
//!   claimed chunk done — in particular after this worker's successful claim, which comes after its descriptor
//!   reads. So those reads saw exactly g's descriptor. A worker whose claim fails throws what it read away.
//! - Counting down matters: the test `r > 0` uses only the claim word, never the worker's copy of `count` (which a
//!   late worker may have read from the next task's descriptor while the word still showed the old, exhausted task).
//! - A worker that read task g and was descheduled before claiming finds the word at another generation when it
//!   resumes: its claim fails, and it moves on to the current task, if any. Generations repeat only after 2^40
//!   tasks.
//! - `done` is reset only at the next publication, after every chunk of the previous task was counted, so a late
//!   increment from an old task cannot exist.
//! - A worker that dies inside a chunk (a trap) never adds to `done`; its JavaScript sees the worker's `holding`
//!   word set, records the failure (`failed`), adds the chunk to `done` for it and wakes the caller. The call then
//!   reports WORKER_FAILED, and calls that change state keep the state they started from (`train_step` writes the
//!   optimizer update out of place and swaps it in only after a successful step). Later tasks run on the caller
//!   alone until the pool is restarted.
//!
//! Without the feature (the single-memory build, host tests) there are no workers and tasks run on the caller,
//! chunk by chunk (the same chunks, so the same bits).

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Upper bound on threads (caller included).
pub const MAX_THREADS: usize = 64;

/// Elementwise passes over fewer elements than this run on the calling thread: splitting them costs more than it
/// saves. Also the smallest chunk of a split pass.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 14;

/// At most this many chunks per active thread: enough that a thread missing for a while leaves work to the others
/// in small pieces, few enough that claiming and per-chunk set-up (a GEMM's packing) stay cheap.
pub const CHUNKS_PER_THREAD: usize = 4;

/// Spins of the caller waiting for workers' chunks before it sleeps (7 µs measured on this machine class's AMD EPYC).
/// Longer spins measured no faster alone and slower beside a busy core.
const JOIN_SPINS: u32 = 1 << 14;
/// Longest single sleep of the caller (ms); it re-checks after it, in case a wake-up was lost.
const JOIN_SLEEP_MS: f64 = 20.0;

const GEN_SHIFT: u32 = 24;
const LEFT_MASK: u64 = (1 << GEN_SHIFT) - 1;
/// Most chunks one task may have.
pub const MAX_CHUNKS: usize = LEFT_MASK as usize;

/// Word indices of the control block shared with the JavaScript of the workers (part of the ABI; checked by a test).
pub mod word {
    pub const GENERATION: usize = 0;
    pub const DONE: usize = 1;
    pub const STOP: usize = 2;
    pub const FAILED: usize = 3;
    pub const SLEEPERS: usize = 4;
    pub const WAITING: usize = 5;
    /// 1 while a worker sleeps in an injected delay (read by tests).
    pub const DELAYED: usize = 15;
    /// `holding[id]` is at HOLDING + id.
    pub const HOLDING: usize = 32;
}

/// The control block.
#[repr(C)]
pub struct Control {
    /// Low 32 bits of the current task's generation; workers sleep on it.
    pub generation: AtomicU32,
    /// Chunks of the current task finished by workers (or abandoned by a dead one, counted by its JavaScript).
    pub done: AtomicU32,
    /// Non-zero: workers return to JavaScript and exit.
    pub stop: AtomicU32,
    /// Id (1-based) of the first worker that failed (set by its JavaScript), else 0.
    pub failed: AtomicU32,
    /// Workers asleep in Atomics.wait (maintained by their JavaScript), so waking is skipped when none sleeps.
    pub sleepers: AtomicU32,
    /// 1 while the caller sleeps waiting for `done`.
    pub waiting: AtomicU32,
    /// Registered workers.
    workers: AtomicU32,
    /// Chunks of the current task.
    count: AtomicU32,
    /// Generation << 24 | chunks not yet claimed.
    claim: AtomicU64,
    /// Test hooks (see `inject_fault`, `inject_delay`).
    fault: AtomicU32,
    fault_at: AtomicU32,
    delay: AtomicU32,
    delay_at: AtomicU32,
    delay_ms: AtomicU32,
    /// 1 while a worker sleeps in an injected delay.
    pub delayed: AtomicU32,
    reserved: [AtomicU32; 16],
    /// `holding[id]` is 1 while worker `id` computes a chunk.
    pub holding: [AtomicU32; MAX_THREADS],
    /// The current task: a monomorphised trampoline, the function it calls and the context it passes, and the
    /// name of the context's type (for test hooks).
    trampoline: AtomicUsize,
    function: AtomicUsize,
    context: AtomicUsize,
    name: AtomicUsize,
}

const ZERO: AtomicU32 = AtomicU32::new(0);

impl Control {
    pub const fn new() -> Control {
        Control {
            generation: ZERO,
            done: ZERO,
            stop: ZERO,
            failed: ZERO,
            sleepers: ZERO,
            waiting: ZERO,
            workers: ZERO,
            count: ZERO,
            claim: AtomicU64::new(0),
            fault: ZERO,
            fault_at: ZERO,
            delay: ZERO,
            delay_at: ZERO,
            delay_ms: ZERO,
            delayed: ZERO,
            reserved: [ZERO; 16],
            holding: [ZERO; MAX_THREADS],
            trampoline: AtomicUsize::new(0),
            function: AtomicUsize::new(0),
            context: AtomicUsize::new(0),
            name: AtomicUsize::new(0),
        }
    }
}

impl Default for Control {
    fn default() -> Self {
        Control::new()
    }
}

pub static CONTROL: Control = Control::new();

/// How long recent tasks took (by their function, an average of the last few), so that a task too short to profit
/// from a sleeping worker does not pay the wake-up call (tens of µs on a VM) for it. Touched only by the caller.
static mut TASK_MS: [(usize, f64); 32] = [(0, 0.0); 32];
/// Tasks shorter than this (ms) do not wake sleeping workers (those awake still help), except while a test fault is
/// armed (so that the fault can fire in short tasks too).
const WAKE_MIN_MS: f64 = 0.2;

/// Chunks per thread for products ([`product_split`]), adapted to whether the workers keep pace with the caller. One
/// while they do: each chunk of a product repacks the operand it shares with the others, so fewer chunks cost less.
/// [`BEHIND_SPLIT`] when they fall behind (a worker sharing its core with another program, or descheduled), so the
/// caller claims most of the chunks instead of waiting for a slow worker's half. Decided from the last
/// [`ADAPT_TASKS`] tasks (see `Control::adapt`); only how work is cut changes, never how an output is computed, so
/// the bits do not. Touched only by the caller.
static mut SPLIT: usize = 1;
/// Chunks per thread for products while workers fall behind: as many as any task may have.
pub const BEHIND_SPLIT: usize = CHUNKS_PER_THREAD;
/// Tasks per decision.
const ADAPT_TASKS: u32 = 32;
/// Workers are behind when the caller, after claiming its last chunk, waited for theirs more than this fraction of
/// the time it spent computing (alone, one chunk per thread: 10–17% measured, the workers' start-up latency).
const BEHIND_WAIT: f64 = 0.4;
/// With small chunks, workers keep pace again when they compute at least this fraction of their fair share.
const PACE_SHARE: f64 = 0.8;

/// The tasks since the last decision: the caller's compute and wait times, the chunks the workers computed, and
/// how many they could fairly have taken.
#[derive(Clone, Copy, Default)]
struct Window {
    tasks: u32,
    compute_ms: f64,
    wait_ms: f64,
    worker_chunks: u64,
    fair_chunks: f64,
}
static mut WINDOW: Window = Window { tasks: 0, compute_ms: 0.0, wait_ms: 0.0, worker_chunks: 0, fair_chunks: 0.0 };

/// The workers' fair share of a task's `parts` chunks on `threads` threads: (threads − 1)/threads of them, but at
/// most all but the one the caller claims first (a task of 2 chunks on 3 threads gives the workers 1, not 1⅓).
fn fair_share(parts: usize, threads: usize) -> f64 {
    (parts as f64 * (threads - 1) as f64 / threads as f64).min(parts as f64 - 1.0)
}

/// Whether a window of tasks found the workers behind: with one chunk per thread (`split` 1), when the caller waited
/// for theirs more than [`BEHIND_WAIT`] of the time it computed; with finer chunks, when the workers computed less
/// than [`PACE_SHARE`] of their fair share.
fn behind(split: usize, w: &Window) -> bool {
    if split == 1 {
        w.wait_ms > BEHIND_WAIT * w.compute_ms
    } else {
        (w.worker_chunks as f64) < PACE_SHARE * w.fair_chunks
    }
}

/// Chunks per active thread for a split product, now (see [`SPLIT`]).
pub fn product_split() -> usize {
    unsafe { SPLIT }
}

/// Threads the current call may use (set per model call by `use_threads`); touched only by the caller.
static mut ACTIVE: usize = 1;
/// GEMM packing scratch of each worker (index 0 unused: the caller passes its model's).
static mut SCRATCH: [*mut f32; MAX_THREADS] = [core::ptr::null_mut(); MAX_THREADS];

/// Counters for the benchmark's fork-join figures (`vae_threads_stats`).
pub mod stats {
    use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
    /// Tasks published to workers.
    pub const TASKS: usize = 0;
    /// Tasks run as one part on the caller (small, or one thread active).
    pub const SERIAL: usize = 1;
    /// Chunks computed by the caller, and by workers.
    pub const CALLER_CHUNKS: usize = 2;
    pub const WORKER_CHUNKS: usize = 3;
    /// Tasks after whose last claim the caller had to wait for a worker's chunk, and those in which it slept.
    pub const JOINS_WAITED: usize = 4;
    pub const JOINS_SLEPT: usize = 5;
    /// Nanoseconds the caller spent waiting for workers' chunks.
    pub const WAIT_NS: usize = 6;
    /// Claims refused because the task had moved on (a late worker).
    pub const STALE: usize = 7;
    /// Tasks whose publication woke sleeping workers.
    pub const WAKES: usize = 8;
    /// Decisions (one per `ADAPT_TASKS` tasks) that found the workers behind, so products were cut finer.
    pub const BEHIND: usize = 9;
    pub const N: usize = 10;
    const Z: AtomicU64 = AtomicU64::new(0);
    pub static COUNTERS: [AtomicU64; N] = [Z; N];
    #[inline]
    pub fn add(i: usize, n: u64) {
        COUNTERS[i].fetch_add(n, Relaxed);
    }
    pub fn get(i: usize) -> u64 {
        COUNTERS[i].load(Relaxed)
    }
    pub fn reset() {
        for c in COUNTERS.iter() {
            c.store(0, Relaxed);
        }
    }
}

/// What the host offers: waking and waiting on a word, and a clock. JavaScript provides them to the threaded build;
/// elsewhere waking does nothing and waiting returns at once (a spin).
mod sys {
    use core::sync::atomic::AtomicU32;

    #[cfg(all(feature = "threads", target_arch = "wasm32"))]
    extern "C" {
        /// Atomics.notify on `addr` for up to `count` waiters.
        fn vae_thread_wake(addr: *const AtomicU32, count: u32);
        /// Atomics.wait on `addr` while it holds `expected`, at most `ms` milliseconds (returns at once where the
        /// thread may not block, as a browser's main thread).
        fn vae_thread_wait(addr: *const AtomicU32, expected: u32, ms: f64);
        /// performance.now(), in milliseconds.
        fn vae_thread_now() -> f64;
    }

    #[cfg(all(feature = "threads", target_arch = "wasm32"))]
    pub fn wake(addr: &AtomicU32, count: u32) {
        unsafe { vae_thread_wake(addr, count) }
    }
    #[cfg(all(feature = "threads", target_arch = "wasm32"))]
    pub fn wait(addr: &AtomicU32, expected: u32, ms: f64) {
        unsafe { vae_thread_wait(addr, expected, ms) }
    }
    #[cfg(all(feature = "threads", target_arch = "wasm32"))]
    pub fn now_ms() -> f64 {
        unsafe { vae_thread_now() }
    }

    #[cfg(not(all(feature = "threads", target_arch = "wasm32")))]
    pub fn wake(_: &AtomicU32, _: u32) {}
    #[cfg(not(all(feature = "threads", target_arch = "wasm32")))]
    pub fn wait(_: &AtomicU32, _: u32, _ms: f64) {
        #[cfg(not(target_arch = "wasm32"))]
        std::thread::yield_now();
    }
    #[cfg(all(not(feature = "threads"), target_arch = "wasm32"))]
    pub fn now_ms() -> f64 {
        0.0
    }
    #[cfg(not(target_arch = "wasm32"))]
    pub fn now_ms() -> f64 {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        t.as_secs_f64() * 1e3
    }
}

/// Threads available now: registered workers plus the caller, or 1 without the `threads` feature.
pub fn available() -> usize {
    if cfg!(feature = "threads") {
        CONTROL.workers.load(SeqCst) as usize + 1
    } else {
        1
    }
}

/// Sets the number of threads later tasks use (at most `available()`).
pub fn use_threads(n: usize) {
    unsafe { ACTIVE = n.clamp(1, available()) }
}

pub fn active() -> usize {
    unsafe { ACTIVE }
}

/// True once a worker has failed; every later task runs on the caller alone.
pub fn failed() -> bool {
    CONTROL.failed.load(SeqCst) != 0
}

/// Packing scratch of thread `t` ≥ 1 (see `gemm::thread_scratch`).
pub fn scratch(t: usize) -> *mut f32 {
    unsafe { SCRATCH[t] }
}

/// Registers `workers` workers (all already started and sleeping or spinning in `worker_loop`), allocating each a
/// GEMM scratch of `scratch_floats`. Returns false if memory runs out (nothing registered then).
pub fn register(workers: usize, scratch_floats: usize) -> bool {
    let workers = workers.min(MAX_THREADS - 1);
    unsafe {
        for t in 1..=workers {
            if SCRATCH[t].is_null() {
                SCRATCH[t] = crate::mem::alloc_f32(scratch_floats);
                if SCRATCH[t].is_null() {
                    return false;
                }
            }
        }
        let c = &CONTROL;
        c.failed.store(0, SeqCst);
        c.stop.store(0, SeqCst);
        for h in c.holding.iter() {
            h.store(0, SeqCst);
        }
        c.workers.store(workers as u32, SeqCst);
        ACTIVE = ACTIVE.min(workers + 1);
    }
    true
}

/// Deregisters every worker and tells them to exit (their JavaScript terminates them after).
pub fn shutdown() {
    let c = &CONTROL;
    c.workers.store(0, SeqCst);
    c.failed.store(0, SeqCst);
    c.stop.store(1, SeqCst);
    c.fault.store(0, SeqCst);
    c.delay.store(0, SeqCst);
    // An empty task of a new generation: workers see it, find the stop word and return.
    c.count.store(0, SeqCst);
    let g = (c.claim.load(SeqCst) >> GEN_SHIFT) + 1;
    c.claim.store(g << GEN_SHIFT, SeqCst);
    c.generation.store(g as u32, SeqCst);
    sys::wake(&c.generation, u32::MAX);
    unsafe { ACTIVE = 1 };
}

/// One piece of a task: part `index` of `count` (the parts cover the task once), run by thread `thread` (0 = the
/// calling thread). `thread` picks per-thread scratch only; what a part computes depends on its index and count
/// alone, so results are the same whichever thread runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub index: usize,
    pub count: usize,
    pub thread: usize,
}

impl Part {
    /// This part's range of `n` items cut in blocks of `align` (see [`split`]).
    pub fn range(&self, n: usize, align: usize) -> (usize, usize) {
        split(n, align, self.index, self.count)
    }
}

/// How many parts to cut a task of `units` units into, when fewer than `min` units are not worth a fork-join: 1
/// when the task is small or one thread is active, else one part per `min` units, at least one per active thread
/// and at most [`CHUNKS_PER_THREAD`] per active thread.
pub fn parts(units: usize, min: usize) -> usize {
    chunks(units, min, CHUNKS_PER_THREAD)
}

/// As [`parts`], with at most `per_thread` parts per active thread.
pub fn chunks(units: usize, min: usize, per_thread: usize) -> usize {
    chunks_for(active(), units, min, per_thread)
}

fn chunks_for(threads: usize, units: usize, min: usize, per_thread: usize) -> usize {
    if threads <= 1 || units < min.max(1) {
        1
    } else {
        (units / min.max(1)).clamp(threads, per_thread.max(1) * threads)
    }
}

/// Runs `f(ctx, part)` for every part in 0..parts over the active threads and returns when all are done. `f` must
/// write disjoint outputs for different parts.
pub fn run<T>(ctx: &T, parts: usize, f: fn(&T, Part)) {
    let parts = parts.clamp(1, MAX_CHUNKS);
    if parts == 1 || active() <= 1 || failed() {
        stats::add(stats::SERIAL, 1);
        for p in 0..parts {
            f(ctx, Part { index: p, count: parts, thread: 0 });
        }
        return;
    }
    CONTROL.run(ctx, parts, f);
}

unsafe fn trampoline<T>(function: usize, context: usize, index: usize, count: usize, thread: usize) {
    let f: fn(&T, Part) = core::mem::transmute(function);
    f(&*(context as *const T), Part { index, count, thread })
}

type Trampoline = unsafe fn(usize, usize, usize, usize, usize);

fn type_name<T>() -> &'static str {
    core::any::type_name::<T>()
}

type Name = fn() -> &'static str;

impl Control {
    /// The caller's side of one task of `parts` ≥ 2 chunks (see the module's protocol).
    pub fn run<T>(&self, ctx: &T, parts: usize, f: fn(&T, Part)) {
        self.trampoline.store(trampoline::<T> as Trampoline as usize, SeqCst);
        self.function.store(f as usize, SeqCst);
        self.context.store(ctx as *const T as usize, SeqCst);
        self.name.store(type_name::<T> as Name as usize, SeqCst);
        self.count.store(parts as u32, SeqCst);
        self.done.store(0, SeqCst);
        let g = (self.claim.load(SeqCst) >> GEN_SHIFT) + 1;
        self.claim.store(g << GEN_SHIFT | parts as u64, SeqCst);
        self.generation.store(g as u32, SeqCst);
        stats::add(stats::TASKS, 1);
        let t0 = sys::now_ms();
        let slot = unsafe { &mut TASK_MS[((f as usize as u32).wrapping_mul(0x9E37_79B9) >> 27) as usize] };
        let short = slot.0 == f as usize && slot.1 < WAKE_MIN_MS && self.fault.load(SeqCst) == 0;
        if self.sleepers.load(SeqCst) != 0 && !short {
            stats::add(stats::WAKES, 1);
            sys::wake(&self.generation, u32::MAX);
        }
        if self.fault.load(SeqCst) != 0 {
            self.await_worker_claim(g, parts);
        }
        let mut mine = 0u32;
        while let Some(i) = self.take(g, parts) {
            f(ctx, Part { index: i, count: parts, thread: 0 });
            mine += 1;
        }
        stats::add(stats::CALLER_CHUNKS, mine as u64);
        let wait_ms = self.join(parts as u32 - mine);
        let t2 = sys::now_ms();
        Self::adapt(parts, mine as usize, t2 - t0 - wait_ms, wait_ms);
        let ms = t2 - t0;
        *slot = (f as usize, if slot.0 == f as usize { 0.75 * slot.1 + 0.25 * ms } else { ms });
    }

    /// Adds one task to the window that decides [`SPLIT`]: `compute_ms` the caller's time until its last claim came
    /// back empty, `wait_ms` its wait for the workers' chunks after that. (Not inlined: `run` is generic, and one copy
    /// of this per kind of task grew the module by 3 KB.)
    #[inline(never)]
    fn adapt(parts: usize, mine: usize, compute_ms: f64, wait_ms: f64) {
        let mut w = unsafe { WINDOW };
        w.tasks += 1;
        w.compute_ms += compute_ms;
        w.wait_ms += wait_ms;
        w.worker_chunks += (parts - mine) as u64;
        w.fair_chunks += fair_share(parts, active());
        if w.tasks < ADAPT_TASKS {
            unsafe { WINDOW = w };
            return;
        }
        let is_behind = behind(unsafe { SPLIT }, &w);
        unsafe { SPLIT = if is_behind { BEHIND_SPLIT } else { 1 } };
        stats::add(stats::BEHIND, is_behind as u64);
        unsafe { WINDOW = Window::default() };
    }

    /// Test hook: while a fault is armed, the caller lets a worker claim the first chunk of each task (for up to a
    /// second), so that the fault fires in the first task of the kind it is armed for.
    fn await_worker_claim(&self, g: u64, count: usize) {
        let t0 = sys::now_ms();
        while self.claim.load(SeqCst) == g << GEN_SHIFT | count as u64 && sys::now_ms() - t0 < 1000.0 {
            core::hint::spin_loop();
        }
    }

    /// Claims the next chunk of task `g` of `count` chunks, if any is left (see the module's protocol).
    fn take(&self, g: u64, count: usize) -> Option<usize> {
        let mut w = self.claim.load(SeqCst);
        loop {
            let left = (w & LEFT_MASK) as usize;
            if w >> GEN_SHIFT != g {
                stats::add(stats::STALE, 1);
                return None;
            }
            if left == 0 {
                return None;
            }
            match self.claim.compare_exchange_weak(w, w - 1, SeqCst, SeqCst) {
                Ok(_) => return Some(count - left),
                Err(now) => w = now,
            }
        }
    }

    /// Waits until workers have finished `target` chunks of the current task: spins a while, then sleeps until the
    /// worker finishing a chunk wakes it. Returns how long it waited (ms).
    fn join(&self, target: u32) -> f64 {
        if self.done.load(SeqCst) >= target {
            return 0.0;
        }
        let t0 = sys::now_ms();
        stats::add(stats::JOINS_WAITED, 1);
        let limit = JOIN_SPINS;
        let mut spins = 0u32;
        while self.done.load(SeqCst) < target {
            if spins < limit {
                spins += 1;
                core::hint::spin_loop();
                continue;
            }
            if spins == limit {
                spins += 1;
                stats::add(stats::JOINS_SLEPT, 1);
            }
            self.waiting.store(1, SeqCst);
            let d = self.done.load(SeqCst);
            if d < target {
                sys::wait(&self.done, d, JOIN_SLEEP_MS);
            }
        }
        self.waiting.store(0, SeqCst);
        let waited = sys::now_ms() - t0;
        stats::add(stats::WAIT_NS, (waited * 1e6) as u64);
        waited
    }

    /// A worker's loop: helps with each new task, and returns the last generation it saw (low 32 bits) after
    /// spinning about `spins` times without a new task (or at once when told to stop).
    ///
    /// # Safety
    /// Called only by registered worker `id` (1-based), from its own instance with its own stack.
    pub unsafe fn worker_loop(&self, id: usize, mut seen: u32, spins: u32) -> u32 {
        let mut idle = 0u32;
        loop {
            let g = self.claim.load(SeqCst) >> GEN_SHIFT;
            if g as u32 == seen {
                idle += 1;
                if idle >= spins {
                    return seen;
                }
                core::hint::spin_loop();
                continue;
            }
            seen = g as u32;
            idle = 0;
            if self.stop.load(SeqCst) != 0 {
                return seen;
            }
            self.help(id, g);
        }
    }

    /// Worker `id` computes chunks of task `g` until none is left (or the task has moved on).
    unsafe fn help(&self, id: usize, g: u64) {
        // Read after the claim word said g; valid if a claim of g succeeds (see the module's protocol).
        let count = self.count.load(SeqCst) as usize;
        let t: Trampoline = core::mem::transmute(self.trampoline.load(SeqCst));
        let (function, context) = (self.function.load(SeqCst), self.context.load(SeqCst));
        let name = self.name.load(SeqCst);
        self.delay_hook(id, 0);
        let mut n = 0;
        while let Some(i) = self.take(g, count) {
            self.holding[id].store(1, SeqCst);
            self.delay_hook(id, 1);
            let fault = self.fault_here(id, name);
            if fault == Some(At::Start) {
                trap();
            }
            if fault == Some(At::Middle) {
                // The first half of this chunk's outputs (part 2i of 2·count covers a prefix of part i of count).
                t(function, context, 2 * i, 2 * count, id);
                trap();
            }
            t(function, context, i, count, id);
            if fault == Some(At::End) {
                trap();
            }
            self.done.fetch_add(1, SeqCst);
            self.holding[id].store(0, SeqCst);
            if self.waiting.load(SeqCst) != 0 {
                sys::wake(&self.done, 1);
            }
            n += 1;
        }
        stats::add(stats::WORKER_CHUNKS, n);
    }

    /// Test hook: sleeps for the armed delay if it is worker `id`'s at point `at`, once.
    fn delay_hook(&self, id: usize, at: u32) {
        if self.delay.load(SeqCst) != id as u32 + 1 || self.delay_at.load(SeqCst) != at {
            return;
        }
        self.delay.store(0, SeqCst);
        self.delayed.store(1, SeqCst);
        let ms = f32::from_bits(self.delay_ms.load(SeqCst)) as f64;
        let until = sys::now_ms() + ms;
        loop {
            let left = until - sys::now_ms();
            if left <= 0.0 {
                break;
            }
            sys::wait(&self.reserved[0], 0, left);
        }
        self.delayed.store(0, SeqCst);
    }

    /// Test hook: where in this chunk worker `id` must trap, if the armed fault is its own and the task's context
    /// type name contains the armed filter.
    fn fault_here(&self, id: usize, name: usize) -> Option<At> {
        if self.fault.load(SeqCst) != id as u32 + 1 {
            return None;
        }
        let name: Name = unsafe { core::mem::transmute(name) };
        let name = name();
        let filter = unsafe { &FAULT_FILTER[..FAULT_FILTER_LEN] };
        // Byte by byte: a slice comparison would call memcmp, which the shared-memory build must not link.
        let contains = |f: &[u8]| name.as_bytes().windows(f.len()).any(|w| w.iter().zip(f).all(|(a, b)| a == b));
        if !filter.is_empty() && !contains(filter) {
            return None;
        }
        self.fault.store(0, SeqCst);
        unsafe {
            let n = name.len().min(FAULT_SITE_LEN - 1);
            FAULT_SITE[..n].copy_from_slice(&name.as_bytes()[..n]);
            FAULT_SITE[n] = 0;
        }
        Some(match self.fault_at.load(SeqCst) {
            0 => At::Start,
            1 => At::Middle,
            _ => At::End,
        })
    }
}

/// A worker's loop (see [`Control::worker_loop`]) on the shared control block.
///
/// # Safety
/// As [`Control::worker_loop`].
pub unsafe fn worker_loop(id: usize, seen: u32, spins: u32) -> u32 {
    CONTROL.worker_loop(id, seen, spins)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Start,
    Middle,
    End,
}

const FAULT_FILTER_MAX: usize = 64;
static mut FAULT_FILTER: [u8; FAULT_FILTER_MAX] = [0; FAULT_FILTER_MAX];
static mut FAULT_FILTER_LEN: usize = 0;
const FAULT_SITE_LEN: usize = 96;
/// The context type name of the task in which the last injected fault fired (NUL-terminated).
pub static mut FAULT_SITE: [u8; FAULT_SITE_LEN] = [0; FAULT_SITE_LEN];

/// Test hook: worker `id` traps in the next chunk it claims of a task whose context type name contains `filter`
/// (any task when empty): at its start (`at` 0), after computing the first half of its outputs (1), or after
/// computing it all, before acknowledging it (2). Id 0 disarms.
pub fn inject_fault(id: u32, at: u32, filter: &[u8]) {
    if id == 0 {
        CONTROL.fault.store(0, SeqCst);
        return;
    }
    unsafe {
        let n = filter.len().min(FAULT_FILTER_MAX);
        FAULT_FILTER[..n].copy_from_slice(&filter[..n]);
        FAULT_FILTER_LEN = n;
        FAULT_SITE[0] = 0;
    }
    CONTROL.fault_at.store(at, SeqCst);
    CONTROL.fault.store(id + 1, SeqCst);
}

/// True while an injected fault has not fired yet.
pub fn fault_armed() -> bool {
    CONTROL.fault.load(SeqCst) != 0
}

/// Test hook: worker `id` sleeps `ms` milliseconds once: after reading the next task, before claiming any of it
/// (`at` 0), or inside the next chunk it claims, before computing it (1).
pub fn inject_delay(id: u32, at: u32, ms: f32) {
    CONTROL.delay_at.store(at, SeqCst);
    CONTROL.delay_ms.store(ms.to_bits(), SeqCst);
    CONTROL.delay.store(id + 1, SeqCst);
}

fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    panic!("injected worker fault");
}

/// The half-open range of part `part` of `parts` when `n` items are split in blocks of `align` (the last block may
/// be short): parts differ by at most one block, and part 2p of 2·parts is a prefix of part p of parts.
pub fn split(n: usize, align: usize, part: usize, parts: usize) -> (usize, usize) {
    if parts <= 1 {
        return (0, n);
    }
    let blocks = ((n + align - 1) / align) as u64;
    let b0 = (blocks * part as u64 / parts as u64) as usize;
    let b1 = (blocks * (part as u64 + 1) / parts as u64) as usize;
    ((b0 * align).min(n), (b1 * align).min(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::vec::Vec;

    #[test]
    fn workers_keep_pace_when_they_take_their_fair_share_even_of_tasks_with_fewer_chunks_than_threads() {
        let window = |tasks: &[(usize, u64)], threads: usize| {
            let mut w = Window::default();
            for &(parts, workers) in tasks {
                w.worker_chunks += workers;
                w.fair_chunks += fair_share(parts, threads);
            }
            w
        };
        // 2 threads, 4 chunks each: the worker keeps pace with 4 of 8, not with 3.
        assert!(!behind(BEHIND_SPLIT, &window(&[(8, 4); 32], 2)));
        assert!(behind(BEHIND_SPLIT, &window(&[(8, 3); 32], 2)));
        // 3 threads: tasks of 2 chunks leave the workers at most 1 each; taking it is keeping pace (with a share of
        // (threads − 1)/threads = 2/3 of every task's chunks, it read as behind).
        assert!(!behind(BEHIND_SPLIT, &window(&[(2, 1); 32], 3)));
        assert!(behind(BEHIND_SPLIT, &window(&[(2, 0); 32], 3)));
        assert!(!behind(BEHIND_SPLIT, &window(&[(12, 8); 32], 3)));
        assert!(behind(BEHIND_SPLIT, &window(&[(12, 6); 32], 3)));
        // One chunk per thread: decided by the caller's wait against its compute time.
        let w = Window { tasks: 32, compute_ms: 10.0, wait_ms: 3.0, ..Window::default() };
        assert!(!behind(1, &w));
        assert!(behind(1, &Window { wait_ms: 5.0, ..w }));
    }

    #[test]
    fn split_covers_everything_once_and_halves_are_prefixes() {
        for n in [0usize, 1, 7, 8, 9, 100, 784] {
            for align in [1usize, 4, 8] {
                for parts in 1..9 {
                    let mut next = 0;
                    for p in 0..parts {
                        let (a, b) = split(n, align, p, parts);
                        assert_eq!(a, next, "n={n} align={align} parts={parts}");
                        assert!(b >= a);
                        assert!(a % align == 0 || a == n);
                        let blocks = (n + align - 1) / align;
                        assert!((b - a + align - 1) / align <= blocks / parts + 1);
                        let (h0, h1) = split(n, align, 2 * p, 2 * parts);
                        assert!(h0 == a && h1 <= b, "half of part {p}/{parts} of {n}: {h0}..{h1} not in {a}..{b}");
                        next = b;
                    }
                    assert_eq!(next, n);
                }
            }
        }
    }

    #[test]
    fn chunk_counts() {
        assert_eq!(chunks_for(2, 10, 100, 4), 1);
        assert_eq!(chunks_for(2, 100, 100, 4), 2);
        assert_eq!(chunks_for(2, 350, 100, 4), 3);
        assert_eq!(chunks_for(2, 100_000, 100, 4), 8);
        assert_eq!(chunks_for(3, 100_000, 100, 2), 6);
        assert_eq!(chunks_for(1, 100_000, 100, 4), 1);
    }

    #[test]
    fn control_words_are_where_javascript_reads_them() {
        let c = Control::new();
        let at = |p: *const AtomicU32| (p as usize - &c as *const Control as usize) / 4;
        assert_eq!(at(&c.generation), word::GENERATION);
        assert_eq!(at(&c.done), word::DONE);
        assert_eq!(at(&c.stop), word::STOP);
        assert_eq!(at(&c.failed), word::FAILED);
        assert_eq!(at(&c.sleepers), word::SLEEPERS);
        assert_eq!(at(&c.waiting), word::WAITING);
        assert_eq!(at(&c.delayed), word::DELAYED);
        assert_eq!(at(&c.holding[0]), word::HOLDING);
        assert_eq!(at(&c.holding[5]), word::HOLDING + 5);
    }

    /// A task that records which part wrote each item (and how often), with an optional pause inside some parts.
    struct Marks {
        hits: Vec<AtomicU32>,
        task: u32,
        slow: usize,
    }

    fn mark(t: &Marks, p: Part) {
        let (a, b) = p.range(t.hits.len(), 1);
        if p.index == t.slow && p.thread != 0 {
            std::thread::sleep(std::time::Duration::from_micros(300));
        }
        for h in &t.hits[a..b] {
            // The task number in the high bits: a stale worker writing into a later task's array would show.
            h.fetch_add(1 | t.task << 8, SeqCst);
        }
    }

    /// The protocol with real threads on the host: thousands of tasks of random sizes over three workers, some of
    /// which are paused between reading a task and claiming, or inside a chunk. Every item of every task is
    /// written exactly once, by the task it belongs to; late workers' claims are refused.
    #[test]
    fn every_chunk_runs_once_whatever_the_workers_do() {
        let c: &'static Control = Box::leak(Box::new(Control::new()));
        c.workers.store(3, SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (1..=3)
            .map(|id| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut seen = 0;
                    let mut k = 0u32;
                    while !stop.load(SeqCst) {
                        k = k.wrapping_mul(1_103_515_245).wrapping_add(12_345 + id as u32);
                        if k >> 28 == 0 {
                            // Now and then a worker is descheduled right after it read a task, or inside a chunk.
                            c.delay_at.store(k >> 27 & 1, SeqCst);
                            c.delay_ms.store(0.05f32.to_bits(), SeqCst);
                            c.delay.store(id as u32 + 1, SeqCst);
                        }
                        seen = unsafe { c.worker_loop(id, seen, 1 << 12) };
                        if k >> 29 == 1 {
                            std::thread::sleep(std::time::Duration::from_micros(200));
                        }
                    }
                })
            })
            .collect();
        let stale0 = stats::get(stats::STALE);
        let mut rng = crate::rng::Pcg32::new(11, 0);
        for task in 1..4000u32 {
            let n = (rng.next_u32() % 3000) as usize;
            let parts = 2 + (rng.next_u32() % 15) as usize;
            let slow = if task % 7 == 0 { (rng.next_u32() as usize) % parts } else { usize::MAX };
            let t = Marks { hits: (0..n).map(|_| AtomicU32::new(0)).collect(), task, slow };
            c.run(&t, parts, mark);
            for (i, h) in t.hits.iter().enumerate() {
                assert_eq!(h.load(SeqCst), 1 | task << 8, "task {task}, item {i} of {n} in {parts} parts");
            }
            // Late writes into a finished task would show on a second look.
            if task % 500 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
                assert!(t.hits.iter().all(|h| h.load(SeqCst) == 1 | task << 8));
            }
        }
        stop.store(true, SeqCst);
        for t in threads {
            t.join().unwrap();
        }
        assert!(stats::get(stats::WORKER_CHUNKS) > 0, "the workers never took a chunk");
        assert!(stats::get(stats::STALE) > stale0, "no late worker was refused: the test did not exercise that path");
    }
}
