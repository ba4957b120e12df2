//! Fork-join parallelism for the shared-memory build (cargo feature `threads`).
//!
//! The thread that called into the core (thread 0, "the coordinator") publishes a task — a function and its
//! context — bumps a generation counter and wakes the workers; thread t of n runs part t of n, the coordinator
//! runs part 0 and then spins until every worker has acknowledged. Tasks split *outputs* (columns, rows, element
//! ranges), never a reduction, so every value is computed by one thread in the order a single thread would use:
//! results are bit-identical for any number of threads.
//!
//! Workers are JavaScript workers (worker_threads / Web Workers) with their own instance of the module over the same
//! memory; each calls [`worker_loop`] (export `vae_thread_work`) and, when it returns after a while without work,
//! sleeps in `Atomics.wait` on the generation word (`memory.atomic.wait32` is not stable in Rust 1.63), to be woken
//! through the imported `vae_thread_wake`. Every worker acknowledges every task, even when it has no part in it, so
//! the coordinator never rewrites a task some worker is still reading.
//!
//! Cores are not always equally fast (a busy sibling hyperthread, a noisy neighbour on a VM, big and little cores
//! on phones), and a task waits for its slowest part. So parts are not equal: each thread has a share, and after
//! every task the coordinator moves a little share from the thread that finished last to the one that finished
//! first ([`split`] cuts work by shares). Shares change only which thread computes an output, never how, so
//! results stay the same bits.
//!
//! Without the feature (the single-memory build, host tests) there are no workers and tasks run as one part.

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

/// Upper bound on threads (coordinator included).
pub const MAX_THREADS: usize = 64;

/// Elementwise passes over fewer elements than this run on the calling thread: splitting them costs more than it
/// saves.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 14;

/// Words of the control block, shared with the JavaScript workers (their indices are part of the ABI).
#[repr(C)]
pub struct Control {
    /// Bumped once per task; workers sleep on it.
    pub generation: AtomicU32,
    /// Workers that have not yet acknowledged the current task.
    pub pending: AtomicU32,
    /// Non-zero: workers return to JavaScript and exit.
    pub stop: AtomicU32,
    /// Id (1-based) of the first worker that failed (set by its JavaScript), else 0.
    pub failed: AtomicU32,
    /// Workers asleep in Atomics.wait (maintained by their JavaScript), so waking is skipped when none sleeps.
    pub sleepers: AtomicU32,
    /// Parts of the current task.
    parts: AtomicU32,
    /// The current task: a monomorphised trampoline, the function it calls and the context it passes.
    trampoline: AtomicU32,
    function: AtomicU32,
    context: AtomicU32,
    /// Registered workers.
    workers: AtomicU32,
    /// Test hook: 1 + index of a worker that must trap when it next runs a part.
    fault: AtomicU32,
    /// Parts of the current task finished so far, and the threads that finished first and last.
    done: AtomicU32,
    first: AtomicU32,
    last: AtomicU32,
}

pub static CONTROL: Control = Control {
    generation: AtomicU32::new(0),
    pending: AtomicU32::new(0),
    stop: AtomicU32::new(0),
    failed: AtomicU32::new(0),
    sleepers: AtomicU32::new(0),
    parts: AtomicU32::new(0),
    trampoline: AtomicU32::new(0),
    function: AtomicU32::new(0),
    context: AtomicU32::new(0),
    workers: AtomicU32::new(0),
    fault: AtomicU32::new(0),
    done: AtomicU32::new(0),
    first: AtomicU32::new(0),
    last: AtomicU32::new(0),
};

/// A thread's share when all are equal, and the least and most one can have.
const SHARE_EQUAL: u32 = 1024;
const SHARE_MIN: u32 = SHARE_EQUAL / 4;
const SHARE_MAX: u32 = SHARE_EQUAL * 4;
/// Share moved after each task: for two threads, 0.4% of the work. Converges in about one training step and then
/// hovers within a step of the balance.
const SHARE_STEP: u32 = 8;

/// Each thread's share of the work of the next tasks; written only by the coordinator between tasks.
static SHARES: [AtomicU32; MAX_THREADS] = {
    const EQUAL: AtomicU32 = AtomicU32::new(SHARE_EQUAL);
    [EQUAL; MAX_THREADS]
};

/// Threads the current call may use (set per model call by `use_threads`); touched only by the coordinator.
static mut ACTIVE: usize = 1;
/// GEMM packing scratch of each worker (index 0 unused: the coordinator passes its model's).
static mut SCRATCH: [*mut f32; MAX_THREADS] = [core::ptr::null_mut(); MAX_THREADS];

#[cfg(feature = "threads")]
extern "C" {
    /// Wakes up to `count` workers sleeping on `addr` (JavaScript's Atomics.notify).
    fn vae_thread_wake(addr: *const AtomicU32, count: u32);
}

/// Threads available now: registered workers plus the coordinator, or 1 without the `threads` feature.
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

/// True once a worker has failed; every later task runs on the coordinator alone.
pub fn failed() -> bool {
    CONTROL.failed.load(SeqCst) != 0
}

/// Packing scratch of thread `t` ≥ 1.
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
        CONTROL.failed.store(0, SeqCst);
        CONTROL.stop.store(0, SeqCst);
        for share in SHARES.iter() {
            share.store(SHARE_EQUAL, SeqCst);
        }
        CONTROL.workers.store(workers as u32, SeqCst);
        ACTIVE = ACTIVE.min(workers + 1);
    }
    true
}

/// Deregisters every worker and tells them to exit (their JavaScript terminates them after).
pub fn shutdown() {
    CONTROL.workers.store(0, SeqCst);
    CONTROL.failed.store(0, SeqCst);
    CONTROL.stop.store(1, SeqCst);
    CONTROL.generation.fetch_add(1, SeqCst);
    wake();
    unsafe { ACTIVE = 1 };
}

fn wake() {
    #[cfg(feature = "threads")]
    if CONTROL.sleepers.load(SeqCst) != 0 {
        unsafe { vae_thread_wake(&CONTROL.generation, u32::MAX) };
    }
}

unsafe fn trampoline<T>(function: usize, context: usize, part: usize, parts: usize) {
    let f: fn(&T, Part) = core::mem::transmute(function);
    f(&*(context as *const T), Part { index: part, count: parts, thread: part })
}

type Trampoline = unsafe fn(usize, usize, usize, usize);

/// One piece of a task: part `index` of `count` (the parts cover the task once), run by thread `thread` (0 = the
/// calling thread). `thread` picks per-thread scratch only; what a part computes depends on its index alone, so
/// results are the same whichever thread runs it.
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

/// How many parts to cut a task of `units` units into, when fewer than `min` units are not worth a fork-join: 1 when
/// the task is small or one thread is active.
pub fn parts(units: usize, min: usize) -> usize {
    if units < min {
        1
    } else {
        active()
    }
}

/// Runs `f(ctx, part)` for every part in 0..parts over the active threads and returns when all are done. `f` must
/// write disjoint outputs for different parts.
pub fn run<T>(ctx: &T, parts: usize, f: fn(&T, Part)) {
    let parts = parts.clamp(1, active());
    if parts <= 1 {
        f(ctx, Part { index: 0, count: 1, thread: 0 });
        return;
    }
    if failed() {
        for p in 0..parts {
            f(ctx, Part { index: p, count: parts, thread: 0 });
        }
        return;
    }
    let c = &CONTROL;
    c.trampoline.store(trampoline::<T> as Trampoline as usize as u32, SeqCst);
    c.function.store(f as usize as u32, SeqCst);
    c.context.store(ctx as *const T as usize as u32, SeqCst);
    c.parts.store(parts as u32, SeqCst);
    c.done.store(0, SeqCst);
    c.pending.store(c.workers.load(SeqCst), SeqCst);
    c.generation.fetch_add(1, SeqCst);
    wake();
    f(ctx, Part { index: 0, count: parts, thread: 0 });
    finished(0, parts);
    while c.pending.load(SeqCst) != 0 {
        core::hint::spin_loop();
    }
    if !failed() {
        rebalance(&SHARES, c.first.load(SeqCst) as usize, c.last.load(SeqCst) as usize);
    }
}

/// Records that thread `id` has finished its part of the current task.
fn finished(id: usize, parts: usize) {
    let c = &CONTROL;
    let order = c.done.fetch_add(1, SeqCst) as usize;
    if order == 0 {
        c.first.store(id as u32, SeqCst);
    }
    if order + 1 == parts {
        c.last.store(id as u32, SeqCst);
    }
}

/// Moves SHARE_STEP of share from the thread that finished last to the one that finished first, within bounds.
fn rebalance(shares: &[AtomicU32], first: usize, last: usize) {
    if first == last {
        return;
    }
    let (give, take) = (shares[last].load(SeqCst), shares[first].load(SeqCst));
    let step = SHARE_STEP.min(give - SHARE_MIN).min(SHARE_MAX - take);
    shares[last].store(give - step, SeqCst);
    shares[first].store(take + step, SeqCst);
}

/// A worker's loop: runs its part of each new task, acknowledges it, and returns the last generation it saw after
/// spinning about `spins` times without a new task (or at once when told to stop).
///
/// # Safety
/// Called only by registered worker `id` (1-based), from its own instance with its own stack.
pub unsafe fn worker_loop(id: usize, mut seen: u32, spins: u32) -> u32 {
    let c = &CONTROL;
    let mut idle = 0u32;
    loop {
        let g = c.generation.load(SeqCst);
        if g == seen {
            idle += 1;
            if idle >= spins {
                return seen;
            }
            core::hint::spin_loop();
            continue;
        }
        seen = g;
        idle = 0;
        if c.stop.load(SeqCst) != 0 {
            return seen;
        }
        let parts = c.parts.load(SeqCst) as usize;
        if id < parts {
            if c.fault.load(SeqCst) == id as u32 + 1 {
                c.fault.store(0, SeqCst);
                trap();
            }
            let t: Trampoline = core::mem::transmute(c.trampoline.load(SeqCst) as usize);
            t(c.function.load(SeqCst) as usize, c.context.load(SeqCst) as usize, id, parts);
            finished(id, parts);
        }
        c.pending.fetch_sub(1, SeqCst);
    }
}

/// Test hook: worker `id` traps when it next runs a part (before doing anything).
pub fn inject_fault(id: u32) {
    CONTROL.fault.store(id + 1, SeqCst);
}

fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    panic!("injected worker fault");
}

/// The half-open range of part `part` of `parts` when `n` items are split in blocks of `align` (the last block may
/// be short), in proportion to the threads' shares (equal shares: parts differ by at most one block).
pub fn split(n: usize, align: usize, part: usize, parts: usize) -> (usize, usize) {
    if parts <= 1 {
        return (0, n);
    }
    let (mut below, mut total) = (0u64, 0u64);
    for (t, share) in SHARES[..parts].iter().enumerate() {
        let s = share.load(SeqCst) as u64;
        if t < part {
            below += s;
        }
        total += s;
    }
    let own = SHARES[part].load(SeqCst) as u64;
    split_shares(n, align, below, own, total)
}

/// Items [b0, b1) of n in blocks of `align`, for a part whose share is `own` of `total`, after `below` of shares.
fn split_shares(n: usize, align: usize, below: u64, own: u64, total: u64) -> (usize, usize) {
    let blocks = ((n + align - 1) / align) as u64;
    let b0 = (blocks * below / total) as usize;
    let b1 = (blocks * (below + own) / total) as usize;
    ((b0 * align).min(n), (b1 * align).min(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unequal_shares_cover_everything_once_in_proportion() {
        let shares = [1500u64, 700, 1024];
        let total: u64 = shares.iter().sum();
        for n in [0usize, 1, 9, 400, 784, 100_000] {
            let mut next = 0;
            let mut below = 0;
            for (p, &own) in shares.iter().enumerate() {
                let (a, b) = split_shares(n, 8, below, own, total);
                assert_eq!(a, next, "n={n} part {p}");
                let ideal = n as f64 * own as f64 / total as f64;
                assert!(((b - a) as f64 - ideal).abs() <= 16.0, "n={n} part {p}: {} items, ideal {ideal}", b - a);
                next = b;
                below += own;
            }
            assert_eq!(next, n);
        }
    }

    #[test]
    fn rebalance_moves_share_from_last_to_first_within_bounds() {
        let shares = [AtomicU32::new(SHARE_EQUAL), AtomicU32::new(SHARE_EQUAL), AtomicU32::new(SHARE_EQUAL)];
        rebalance(&shares, 2, 0);
        assert_eq!(shares.iter().map(|s| s.load(SeqCst)).collect::<Vec<_>>(), [SHARE_EQUAL - SHARE_STEP, SHARE_EQUAL, SHARE_EQUAL + SHARE_STEP]);
        rebalance(&shares, 1, 1);
        assert_eq!(shares[1].load(SeqCst), SHARE_EQUAL);
        // Thread 0 always last: its share falls to the floor and stays there; the total is conserved.
        for _ in 0..1000 {
            rebalance(&shares, 1, 0);
        }
        assert_eq!(shares[0].load(SeqCst), SHARE_MIN);
        assert_eq!(shares.iter().map(|s| s.load(SeqCst)).sum::<u32>(), 3 * SHARE_EQUAL);
        for _ in 0..1000 {
            rebalance(&shares, 2, 1);
        }
        assert_eq!(shares[2].load(SeqCst), SHARE_MAX.min(3 * SHARE_EQUAL - 2 * SHARE_MIN));
        assert_eq!(shares.iter().map(|s| s.load(SeqCst)).sum::<u32>(), 3 * SHARE_EQUAL);
    }

    #[test]
    fn split_covers_everything_once() {
        for n in [0usize, 1, 7, 8, 9, 100, 784] {
            for align in [1usize, 4, 8] {
                for parts in 1..6 {
                    let mut next = 0;
                    for p in 0..parts {
                        let (a, b) = split(n, align, p, parts);
                        assert_eq!(a, next, "n={n} align={align} parts={parts}");
                        assert!(b >= a);
                        assert!(a % align == 0 || a == n);
                        next = b;
                    }
                    assert_eq!(next, n);
                }
            }
        }
    }
}
