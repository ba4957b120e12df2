//! Optimizers, updating every parameter in one pass over flat buffers. Weight decay is an L2 term added to the
//! gradient (g + λθ), as PyTorch's `weight_decay`. Formulas follow PyTorch so that settings carry over:
//! - SGD:     v ← μv + g;  θ ← θ − lr·v            (v ← g on the first step, as PyTorch)
//! - Adam:    m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε)
//! - Adagrad: s ← s + g²;  θ ← θ − lr·g/(√s + ε)

use crate::math::Real;
use crate::simd::{sqrt_f32, F32x4};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptKind {
    Sgd,
    Adam,
    Adagrad,
}

impl OptKind {
    pub fn from_u32(x: u32) -> Option<OptKind> {
        Some(match x {
            0 => OptKind::Sgd,
            1 => OptKind::Adam,
            2 => OptKind::Adagrad,
            _ => return None,
        })
    }
    /// How many per-parameter state buffers the optimizer keeps.
    pub fn slots(self) -> usize {
        match self {
            OptKind::Sgd | OptKind::Adagrad => 1,
            OptKind::Adam => 2,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct OptConfig {
    pub kind: OptKind,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub momentum: f32,
    pub weight_decay: f32,
}

impl OptConfig {
    /// True when every per-step coefficient is finite and usable in f32 (TypeScript checks the same first, with a
    /// message): settings that round to ∞, a β of 1 (Adam's bias correction 0) or an ε of 0 would write NaN into
    /// every weight on the first step.
    pub fn coefficients_finite(&self) -> bool {
        let ok = |v: f32| v.is_finite() && v >= 0.0;
        let adam_ok = self.kind != OptKind::Adam
            || (self.beta1 < 1.0 && self.beta2 < 1.0 && self.eps > 0.0 && ((self.lr as f64 / (1.0 - self.beta1 as f64)) as f32).is_finite());
        let adagrad_ok = self.kind != OptKind::Adagrad || self.eps > 0.0;
        ok(self.lr) && self.lr > 0.0 && ok(self.beta1) && ok(self.beta2) && ok(self.eps) && ok(self.momentum) && ok(self.weight_decay) && adam_ok && adagrad_ok
    }

    /// True when no value that step `t` computes can overflow, for any θ and state of magnitude at most `max_state`
    /// and any g of magnitude at most `max_g` (squares, Adam's v and Adagrad's s, being ≥ 0 as training writes them
    /// and loading checks). The bounds take the worst case of every operation in exact arithmetic, in f64 (which
    /// cannot overflow here); keeping them under 10³⁸, a factor 3.4 below f32's largest value, covers the rounding
    /// of the f32 operations (each raises a magnitude by at most a factor 1 + 2⁻²⁴). False for any input ∞ or NaN.
    pub fn cannot_overflow(&self, t: u64, max_state: f32, max_g: f32) -> bool {
        const LIMIT: f64 = 1e38;
        let k = Coeffs::new(self, t);
        let f = |x: f32| x as f64;
        let (state, g) = (f(max_state), f(max_g));
        let gg = g + state * f(k.wd);
        // The largest intermediate of each formula (in `step`); θ' = θ − (a step no larger than `delta`).
        let (largest, delta) = match self.kind {
            OptKind::Sgd => {
                let v = if k.momentum == 0.0 || k.first { gg } else { state * f(k.momentum) + gg };
                (v, v * f(k.lr))
            }
            OptKind::Adam => {
                let mom = state * f(k.beta1) + gg * f(1.0 - k.beta1);
                let v = state * f(k.beta2) + gg * gg * f(1.0 - k.beta2);
                // denom = √v / √bc2 + ε ≥ ε, so |m / denom| ≤ |m| / ε. (denom itself stays below 10²³ for v below
                // the limit: √bc2 ≥ √(1 − 0.99999994) > 2·10⁻⁴.)
                let ratio = mom / f(k.eps);
                (mom.max(v).max(gg * gg).max(ratio), ratio * f(k.adam_step))
            }
            OptKind::Adagrad => {
                // As Adam's: √s + ε < 10²⁰ for s below the limit, and |g / (√s + ε)| ≤ |g| / ε.
                let s = state + gg * gg;
                let ratio = gg / f(k.eps);
                (s.max(gg * gg).max(ratio), ratio * f(k.lr))
            }
        };
        // Written so that NaN fails too.
        [gg, largest, state + delta].iter().all(|&x| x < LIMIT)
    }
}

/// A parameter vector and its optimizer state slots (`s2` is only read for Adam).
#[derive(Clone, Copy)]
pub struct Slots {
    pub theta: *mut f32,
    pub s1: *mut f32,
    pub s2: *mut f32,
}

impl Slots {
    unsafe fn at(self, i: usize) -> Slots {
        Slots { theta: self.theta.add(i), s1: self.s1.add(i), s2: self.s2.add(i) }
    }
}

/// The largest |x| of n floats, or ∞ if one of them is NaN or ±∞ (split across threads).
///
/// # Safety
/// p addresses n floats.
pub unsafe fn max_magnitude(p: *const f32, n: usize) -> f32 {
    struct Task {
        p: *const f32,
        n: usize,
        max: AtomicU32,
    }
    let task = Task { p, n, max: AtomicU32::new(0) };
    crate::par::run(&task, crate::par::parts(n, crate::par::PARALLEL_MIN_ELEMENTS), |t, p| {
        let (i0, i1) = p.range(t.n, 4);
        // For floats ≥ 0 the bits order like the values.
        t.max.fetch_max(range_max_magnitude(t.p.add(i0), i1 - i0).to_bits(), Relaxed);
    });
    f32::from_bits(task.max.load(Relaxed))
}

/// The largest magnitude in θ and the state slots (`slots` of them), as [`OptConfig::cannot_overflow`] takes it.
///
/// # Safety
/// As [`update`].
pub unsafe fn max_state(s: Slots, slots: usize, n: usize) -> f32 {
    let mut m = max_magnitude(s.theta, n);
    for p in [s.s1, s.s2].iter().take(slots) {
        m = m.pmax(max_magnitude(*p, n));
    }
    m
}

unsafe fn range_max_magnitude(p: *const f32, n: usize) -> f32 {
    let mut max = F32x4::zero();
    let mut i = 0;
    while i + 4 <= n {
        max = max.max_bits(F32x4::load(p.add(i)).abs());
        i += 4;
    }
    let mut m = lanes_max(max);
    while i < n {
        m = max_bits(m, (*p.add(i)).abs());
        i += 1;
    }
    // NaN's bits (sign cleared) are above ∞'s.
    if m.to_bits() <= f32::INFINITY.to_bits() {
        m
    } else {
        f32::INFINITY
    }
}

/// [`F32x4::max_bits`] for one value.
fn max_bits(a: f32, b: f32) -> f32 {
    f32::from_bits(a.to_bits().max(b.to_bits()))
}

fn lanes_max(v: F32x4) -> f32 {
    max_bits(max_bits(v.lane(0), v.lane(1)), max_bits(v.lane(2), v.lane(3)))
}

/// Applies one update in place; returns whether every value written is finite, as [`update_into`].
/// `t` is the 1-based step number (Adam's bias correction; SGD's first-step rule).
///
/// # Safety
/// θ, g and each state slot address n floats; `s2` is only read for Adam.
pub unsafe fn update(cfg: &OptConfig, t: u64, theta: *mut f32, g: *const f32, s1: *mut f32, s2: *mut f32, n: usize) -> bool {
    let s = Slots { theta, s1, s2 };
    update_into(cfg, t, s, g, s, n)
}

/// Calls `$f` with the optimizer kind as a constant, so that each kind gets a loop of its own (a match on the kind
/// inside the loop measured 2–3× slower).
macro_rules! by_kind {
    ($kind:expr, |$k:ident| $f:expr) => {
        match $kind {
            OptKind::Sgd => {
                let $k = OptKind::Sgd;
                $f
            }
            OptKind::Adam => {
                let $k = OptKind::Adam;
                $f
            }
            OptKind::Adagrad => {
                let $k = OptKind::Adagrad;
                $f
            }
        }
    };
}

/// Applies one update reading θ and the state from `from` and writing them to `to` (the same buffers, or
/// disjoint ones: the arithmetic is the same, so are the bits). Returns whether every value written is finite:
/// finite θ, g and state can still overflow here (lr·v in SGD, g² in Adam and Adagrad, a large weight decay), so a
/// caller that must not keep such a step writes out of place and discards it. A square that was ∞ already and is
/// written ∞ again does not count (see [`new_overflow`]).
///
/// # Safety
/// As [`update`] for both; `to` is either `from` or disjoint from it and from `g`.
pub unsafe fn update_into(cfg: &OptConfig, t: u64, from: Slots, g: *const f32, to: Slots, n: usize) -> bool {
    struct Task<'a> {
        cfg: &'a OptConfig,
        k: Coeffs,
        from: Slots,
        g: *const f32,
        to: Slots,
        n: usize,
        finite: AtomicBool,
    }
    let task = Task { cfg, k: Coeffs::new(cfg, t), from, g, to, n, finite: AtomicBool::new(true) };
    // Split into element ranges across threads: every parameter is updated by exactly the same arithmetic.
    crate::par::run(&task, crate::par::parts(n, crate::par::PARALLEL_MIN_ELEMENTS), |t, p| {
        let (i0, i1) = p.range(t.n, 4);
        let (from, g, to, n) = (t.from.at(i0), t.g.add(i0), t.to.at(i0), i1 - i0);
        if !by_kind!(t.cfg.kind, |kind| checked_range(kind, &t.k, from, g, to, n)) {
            t.finite.store(false, Relaxed);
        }
    });
    task.finite.load(Relaxed)
}

/// Applies one update in place that [`OptConfig::cannot_overflow`] has proved safe for the current magnitudes, and
/// returns the largest magnitude it wrote (θ and state): the next step's `max_state`. (Without such a proof, or
/// out of place, use [`update_into`].)
///
/// # Safety
/// As [`update`].
pub unsafe fn update_proved(cfg: &OptConfig, t: u64, s: Slots, g: *const f32, n: usize) -> f32 {
    struct Task<'a> {
        cfg: &'a OptConfig,
        k: Coeffs,
        s: Slots,
        g: *const f32,
        n: usize,
        max: AtomicU32,
    }
    let task = Task { cfg, k: Coeffs::new(cfg, t), s, g, n, max: AtomicU32::new(0) };
    crate::par::run(&task, crate::par::parts(n, crate::par::PARALLEL_MIN_ELEMENTS), |t, p| {
        let (i0, i1) = p.range(t.n, 4);
        let (s, g, n) = (t.s.at(i0), t.g.add(i0), i1 - i0);
        let max = by_kind!(t.cfg.kind, |kind| proved_range(kind, &t.k, s, g, n));
        t.max.fetch_max(max.to_bits(), Relaxed);
    });
    f32::from_bits(task.max.load(Relaxed))
}

/// n elements of [`update_into`]: each `step` returns the sum of its outputs times 0, which is ±0 when they are all
/// finite and NaN otherwise; those sums are added up, so one NaN or infinity anywhere leaves the total NaN.
#[inline(always)]
unsafe fn checked_range(kind: OptKind, k: &Coeffs, from: Slots, g: *const f32, to: Slots, n: usize) -> bool {
    let mut check = F32x4::zero();
    let mut i = 0;
    while i + 4 <= n {
        check = check.add(step::<F32x4>(kind, k, from.at(i), g.add(i), to.at(i)).check);
        i += 4;
    }
    let mut sum = check.hsum();
    while i < n {
        sum += step::<f32>(kind, k, from.at(i), g.add(i), to.at(i)).check;
        i += 1;
    }
    sum == 0.0
}

/// n elements of [`update_proved`]; returns the largest magnitude written (a NaN, which the proof rules out,
/// would come out as NaN). One running maximum for θ and every slot, raised by `max_bits`: three maxima, or
/// `pmax` (a compare and a select on the loop's dependency chain), measured 1.6–3.5× slower.
#[inline(always)]
unsafe fn proved_range(kind: OptKind, k: &Coeffs, s: Slots, g: *const f32, n: usize) -> f32 {
    let mut max = F32x4::zero();
    let mut i = 0;
    while i + 4 <= n {
        let w = step::<F32x4>(kind, k, s.at(i), g.add(i), s.at(i));
        max = max.max_bits(w.theta.abs().max_bits(w.s1.abs()).max_bits(w.s2.abs()));
        i += 4;
    }
    let mut m = lanes_max(max);
    while i < n {
        let w = step::<f32>(kind, k, s.at(i), g.add(i), s.at(i));
        m = max_bits(m, max_bits(max_bits(w.theta.abs(), w.s1.abs()), w.s2.abs()));
        i += 1;
    }
    m
}

/// Per-step scalars, computed once.
struct Coeffs {
    lr: f32,
    wd: f32,
    momentum: f32,
    first: bool,
    beta1: f32,
    beta2: f32,
    eps: f32,
    adam_step: f32,
    adam_sqrt_bc2: f32,
}

impl Coeffs {
    fn new(cfg: &OptConfig, t: u64) -> Coeffs {
        // Adam's bias corrections in f64, rounded once.
        let bc1 = 1.0 - pow_f64(cfg.beta1 as f64, t);
        let bc2 = 1.0 - pow_f64(cfg.beta2 as f64, t);
        Coeffs {
            lr: cfg.lr,
            wd: cfg.weight_decay,
            momentum: cfg.momentum,
            first: t == 1,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            adam_step: (cfg.lr as f64 / bc1) as f32,
            adam_sqrt_bc2: sqrt_f32(bc2 as f32),
        }
    }
}

/// What one `step` wrote, for the checks: the sum of θ' · 0 and each state value written · 0 (±0 when all are finite,
/// NaN otherwise; a square that was ∞ already is not counted, see [`new_overflow`]) and |θ'|, |s1'|, |s2'|.
struct Written<T> {
    check: T,
    theta: T,
    s1: T,
    s2: T,
}

/// One update of `T::LANES` elements.
#[inline(always)]
unsafe fn step<T: Real>(kind: OptKind, k: &Coeffs, from: Slots, g: *const f32, to: Slots) -> Written<T> {
    let sp = T::splat;
    let th = T::load(from.theta);
    let gg = T::load(g).add(th.mul(sp(k.wd)));
    let (theta, state_times_0, s1, s2) = match kind {
        OptKind::Sgd => {
            let v = if k.momentum == 0.0 || k.first { gg } else { T::load(from.s1).mul(sp(k.momentum)).add(gg) };
            v.store(to.s1);
            (th.sub(v.mul(sp(k.lr))), v.mul(sp(0.0)), v, sp(0.0))
        }
        OptKind::Adam => {
            let v_before = T::load(from.s2);
            let m = T::load(from.s1).mul(sp(k.beta1)).add(gg.mul(sp(1.0 - k.beta1)));
            let v = v_before.mul(sp(k.beta2)).add(gg.mul(gg).mul(sp(1.0 - k.beta2)));
            m.store(to.s1);
            v.store(to.s2);
            let denom = v.sqrt().div(sp(k.adam_sqrt_bc2)).add(sp(k.eps));
            (th.sub(m.div(denom).mul(sp(k.adam_step))), m.mul(sp(0.0)).add(new_overflow(v_before, v)), m, v)
        }
        OptKind::Adagrad => {
            let s_before = T::load(from.s1);
            let s = s_before.add(gg.mul(gg));
            s.store(to.s1);
            let denom = s.sqrt().add(sp(k.eps));
            (th.sub(gg.div(denom).mul(sp(k.lr))), new_overflow(s_before, s), s, sp(0.0))
        }
    };
    theta.store(to.theta);
    // Each value times 0 before adding, so that two large finite values cannot overflow into a false alarm.
    Written { check: theta.mul(sp(0.0)).add(state_times_0), theta: theta.abs(), s1: s1.abs(), s2: s2.abs() }
}

/// `after` · 0 where `before` is finite, else 0. Files saved before updates were checked can hold a square (Adam's
/// v, Adagrad's s) that overflowed to ∞; it stays ∞, and its weight's step stays 0, as it was then. Only a square
/// that overflows now counts. (θ itself is always finite before a step, so θ' needs no such rule.)
#[inline(always)]
fn new_overflow<T: Real>(before: T, after: T) -> T {
    let zero = T::splat(0.0);
    let b = before.mul(zero);
    b.eq_select(b, after.mul(zero), zero)
}

fn pow_f64(x: f64, n: u64) -> f64 {
    // Square-and-multiply: exact enough and identical everywhere (IEEE f64 multiplies).
    let (mut base, mut e, mut acc) = (x, n, 1.0f64);
    while e > 0 {
        if e & 1 == 1 {
            acc *= base;
        }
        base *= base;
        e >>= 1;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: OptConfig, steps: u64, grads: &[f32]) -> Vec<f32> {
        let n = grads.len();
        let mut th = vec![1.0f32; n];
        let mut s1 = vec![0.0f32; n];
        let mut s2 = vec![0.0f32; n];
        for t in 1..=steps {
            assert!(unsafe { update(&cfg, t, th.as_mut_ptr(), grads.as_ptr(), s1.as_mut_ptr(), s2.as_mut_ptr(), n) });
        }
        th
    }

    fn base(kind: OptKind) -> OptConfig {
        OptConfig { kind, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0.0, weight_decay: 0.0 }
    }

    #[test]
    fn settings_whose_coefficients_overflow_are_refused() {
        for kind in [OptKind::Sgd, OptKind::Adam, OptKind::Adagrad] {
            assert!(base(kind).coefficients_finite());
            assert!(!OptConfig { lr: f32::INFINITY, ..base(kind) }.coefficients_finite());
            assert!(!OptConfig { lr: 0.0, ..base(kind) }.coefficients_finite());
            assert!(!OptConfig { weight_decay: f32::NAN, ..base(kind) }.coefficients_finite());
        }
        // Adam's first step lr / (1 − β1) overflows f32 although lr is finite.
        assert!(!OptConfig { lr: 3.0e38, ..base(OptKind::Adam) }.coefficients_finite());
        assert!(OptConfig { lr: 3.0e38, ..base(OptKind::Sgd) }.coefficients_finite());
        assert!(!OptConfig { beta1: 1.0, ..base(OptKind::Adam) }.coefficients_finite());
        assert!(!OptConfig { eps: 0.0, ..base(OptKind::Adagrad) }.coefficients_finite());
    }

    #[test]
    fn adam_matches_closed_form() {
        // Constant gradient g: m̂ = g and v̂ = g² exactly, so each step moves by lr·g/(|g| + ε·…) ≈ lr·sign(g).
        let g = [0.5f32, -2.0, 3.0, 0.25, -1.0];
        let th = run(base(OptKind::Adam), 3, &g);
        for i in 0..5 {
            let expect = 1.0 - 3.0 * 0.1 * g[i].signum();
            assert!((th[i] - expect).abs() < 1e-5, "{} vs {expect}", th[i]);
        }
    }

    #[test]
    fn sgd_momentum_and_weight_decay() {
        let mut cfg = base(OptKind::Sgd);
        cfg.momentum = 0.9;
        let th = run(cfg, 2, &[1.0; 5]);
        // step 1: v=1, θ=0.9; step 2: v=1.9, θ=0.71
        for x in th {
            assert!((x - 0.71).abs() < 1e-6);
        }
        let mut cfg = base(OptKind::Sgd);
        cfg.weight_decay = 0.5;
        let th = run(cfg, 1, &[0.0; 6]);
        for x in th {
            assert!((x - 0.95).abs() < 1e-7);
        }
    }

    #[test]
    fn out_of_place_and_proved_give_the_same_bits_and_out_of_place_leaves_the_source() {
        let n = 37;
        let g: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        for kind in [OptKind::Sgd, OptKind::Adam, OptKind::Adagrad] {
            let mut cfg = base(kind);
            cfg.momentum = 0.5;
            cfg.weight_decay = 0.01;
            let init = |k: f32| (0..n).map(|i| k + i as f32 * 0.01).collect::<Vec<f32>>();
            let (mut th, mut s1, mut s2) = (init(1.0), init(0.1), init(0.2));
            let (th0, s10, s20) = (th.clone(), s1.clone(), s2.clone());
            let (mut th2, mut s12, mut s22) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
            unsafe {
                let from = Slots { theta: th.as_mut_ptr(), s1: s1.as_mut_ptr(), s2: s2.as_mut_ptr() };
                let to = Slots { theta: th2.as_mut_ptr(), s1: s12.as_mut_ptr(), s2: s22.as_mut_ptr() };
                update_into(&cfg, 2, from, g.as_ptr(), to, n);
            }
            assert!(th == th0 && s1 == s10 && s2 == s20, "{kind:?}: the source was written");
            // The proved in-place path computes the same values.
            let (mut th3, mut s13, mut s23) = (th0.clone(), s10.clone(), s20.clone());
            let s = Slots { theta: th3.as_mut_ptr(), s1: s13.as_mut_ptr(), s2: s23.as_mut_ptr() };
            unsafe { update_proved(&cfg, 2, s, g.as_ptr(), n) };
            assert!(unsafe { update(&cfg, 2, th.as_mut_ptr(), g.as_ptr(), s1.as_mut_ptr(), s2.as_mut_ptr(), n) });
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&th), bits(&th2), "{kind:?}");
            assert_eq!(bits(&s1), bits(&s12), "{kind:?}");
            assert_eq!(bits(&th), bits(&th3), "{kind:?}");
            assert_eq!(bits(&s1), bits(&s13), "{kind:?}");
            if kind == OptKind::Adam {
                assert_eq!(bits(&s2), bits(&s22));
                assert_eq!(bits(&s2), bits(&s23));
            }
            assert_ne!(bits(&th), bits(&th0));
        }
    }

    #[test]
    fn an_update_that_overflows_is_reported_wherever_it_is() {
        // One element among 37 (in the vector body or in the scalar tail) gets a gradient, weight or momentum that is
        // finite but whose update is not; every other element is ordinary. Cases: (settings, g, θ, v) there.
        let n = 37;
        let cases: [(OptConfig, f32, f32, f32); 5] = [
            (OptConfig { lr: 1e10, ..base(OptKind::Sgd) }, 1e30, 0.5, 0.0), // θ − lr·v
            (OptConfig { momentum: 0.9, ..base(OptKind::Sgd) }, 3e38, 0.5, 3e38), // μv + g
            (base(OptKind::Adam), 1e20, 0.5, 0.0),                          // g² in v
            (base(OptKind::Adagrad), 1e20, 0.5, 0.0),                       // g² in s
            (OptConfig { weight_decay: 1e25, ..base(OptKind::Adam) }, 0.25, 0.5, 0.0), // (g + λθ)²
        ];
        for (cfg, g_at, theta_at, v_at) in cases {
            for at in [5, 36] {
                let (mut th, mut s1, mut s2, mut g) = (vec![1e-10f32; n], vec![0.0f32; n], vec![0.0f32; n], vec![0.25f32; n]);
                let ok = unsafe { update(&cfg, 2, th.as_mut_ptr(), g.as_ptr(), s1.as_mut_ptr(), s2.as_mut_ptr(), n) };
                assert!(ok, "{cfg:?}: ordinary values reported as overflowing");
                let (mut th, mut s1, mut s2) = (vec![1e-10f32; n], vec![0.0f32; n], vec![0.0f32; n]);
                (g[at], th[at], s1[at]) = (g_at, theta_at, v_at);
                let ok = unsafe { update(&cfg, 2, th.as_mut_ptr(), g.as_ptr(), s1.as_mut_ptr(), s2.as_mut_ptr(), n) };
                assert!(!ok, "{cfg:?} at {at}: an overflow was not reported");
                let all_finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
                assert!(!(all_finite(&th) && all_finite(&s1) && all_finite(&s2)), "{cfg:?}: the test overflows nothing");
            }
        }
        // A square that was ∞ already (a file from before this check) stays ∞ and its weight stays where it was;
        // that is not a new overflow.
        for kind in [OptKind::Adam, OptKind::Adagrad] {
            let cfg = base(kind);
            let (mut th, mut s1, mut s2, g) = (vec![0.5f32; n], vec![0.0f32; n], vec![0.0f32; n], vec![0.25f32; n]);
            let squares = if kind == OptKind::Adam { &mut s2 } else { &mut s1 };
            squares[7] = f32::INFINITY;
            assert!(unsafe { update(&cfg, 2, th.as_mut_ptr(), g.as_ptr(), s1.as_mut_ptr(), s2.as_mut_ptr(), n) }, "{kind:?}");
            assert_eq!(th[7], 0.5, "{kind:?}");
            assert!(th[6] != 0.5 && th[6].is_finite(), "{kind:?}");
        }
        // Large finite values side by side are not an overflow: θ' = 3e38 and v = 3e38 (their sum would be ∞).
        let cfg = OptConfig { lr: 1e-30, ..base(OptKind::Sgd) };
        let (mut th, mut s1, mut s2, g) = (vec![3e38f32; n], vec![0.0f32; n], vec![0.0f32; n], vec![3e38f32; n]);
        assert!(unsafe { update(&cfg, 1, th.as_mut_ptr(), g.as_ptr(), s1.as_mut_ptr(), s2.as_mut_ptr(), n) });
        assert!(th.iter().chain(&s1).all(|&x| x == 3e38));
    }

    #[test]
    fn max_magnitude_sees_every_value_and_every_non_finite_one() {
        for n in [1usize, 3, 4, 13, 40] {
            for at in [0, n / 2, n - 1] {
                let mut v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).sin()).collect();
                v[at] = -5.0;
                assert_eq!(unsafe { max_magnitude(v.as_ptr(), n) }, 5.0, "n {n} at {at}");
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    v[at] = bad;
                    assert_eq!(unsafe { max_magnitude(v.as_ptr(), n) }, f32::INFINITY, "n {n} at {at}: {bad}");
                }
            }
        }
    }

    /// A small deterministic generator for the property tests below.
    struct Lcg(u64);
    impl Lcg {
        fn unit(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        /// 10^(lo..hi), log-uniform.
        fn decades(&mut self, lo: f64, hi: f64) -> f32 {
            10f64.powf(lo + (hi - lo) * self.unit()) as f32
        }
    }

    #[test]
    fn cannot_overflow_is_never_wrong() {
        // Random settings and magnitudes; wherever cannot_overflow holds, every combination of 0, +M and −M for θ,
        // g and both slots (81 elements, plus a tail of 3 for the scalar path) must update in place to finite values,
        // and update_proved must report their largest magnitude exactly.
        let mut r = Lcg(7);
        let (mut proved, mut refused) = (0, 0);
        for trial in 0..4000 {
            let kind = [OptKind::Sgd, OptKind::Adam, OptKind::Adagrad][trial % 3];
            let cfg = OptConfig {
                kind,
                lr: r.decades(-6.0, 36.0),
                beta1: [0.0, 0.5, 0.9, 0.999][trial / 3 % 4],
                beta2: [0.0, 0.9, 0.999, 0.999_999_94][trial / 12 % 4],
                eps: r.decades(-45.0, 0.0),
                momentum: [0.0, 0.9, 1.0, 3.0][trial / 48 % 4],
                weight_decay: if trial % 2 == 0 { 0.0 } else { r.decades(-6.0, 30.0) },
            };
            if !cfg.coefficients_finite() {
                continue;
            }
            let t = [1u64, 2, 1000][trial / 192 % 3];
            let (state, max_g) = (r.decades(-10.0, 38.5), r.decades(-10.0, 38.5));
            if !(state.is_finite() && max_g.is_finite()) {
                continue;
            }
            if !cfg.cannot_overflow(t, state, max_g) {
                refused += 1;
                continue;
            }
            proved += 1;
            let n = 84;
            let pick = |mag: f32, i: usize| [0.0, mag, -mag][i % 3];
            // Squares (Adagrad's s1, Adam's s2) are never negative: training writes none and loading refuses them.
            let square = |x: f32, is: bool| if is { x.abs() } else { x };
            let mut th: Vec<f32> = (0..n).map(|i| pick(state, i)).collect();
            let g: Vec<f32> = (0..n).map(|i| pick(max_g, i / 3)).collect();
            let mut s1: Vec<f32> = (0..n).map(|i| square(pick(state, i / 9), kind == OptKind::Adagrad)).collect();
            let mut s2: Vec<f32> = (0..n).map(|i| pick(state, i / 27).abs()).collect();
            let s = Slots { theta: th.as_mut_ptr(), s1: s1.as_mut_ptr(), s2: s2.as_mut_ptr() };
            let max = unsafe { update_proved(&cfg, t, s, g.as_ptr(), n) };
            let all = th.iter().chain(&s1).chain(if kind == OptKind::Adam { &s2[..] } else { &[] });
            assert!(all.clone().all(|x| x.is_finite()), "{cfg:?} t {t} state {state} g {max_g}: proved safe, but it overflowed");
            assert_eq!(max, all.fold(0.0f32, |a, &x| if x.abs() > a { x.abs() } else { a }));
        }
        // Both answers must be common for the test to mean anything.
        assert!(proved > 500 && refused > 500, "proved {proved}, refused {refused}");
    }

    #[test]
    fn ordinary_training_is_proved_safe() {
        for kind in [OptKind::Sgd, OptKind::Adam, OptKind::Adagrad] {
            let mut cfg = base(kind);
            cfg.momentum = 0.9;
            cfg.weight_decay = 1e-4;
            for t in [1, 2, 1_000_000] {
                assert!(cfg.cannot_overflow(t, 1e3, 1e4), "{kind:?} t {t}");
            }
            assert!(!cfg.cannot_overflow(1, f32::INFINITY, 1e4));
            assert!(!cfg.cannot_overflow(1, 1e3, f32::NAN));
        }
    }

    #[test]
    fn adagrad_closed_form() {
        let th = run(base(OptKind::Adagrad), 2, &[2.0; 7]);
        // step 1: s=4, θ = 1 − 0.1·2/2 = 0.9; step 2: s=8, θ = 0.9 − 0.1·2/√8
        let expect = 0.9 - 0.2 / 8f32.sqrt();
        for x in th {
            assert!((x - expect).abs() < 1e-6);
        }
    }
}
