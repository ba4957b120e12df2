//! Optimizers, updating every parameter in one pass over flat buffers. Weight decay is an L2 term added to the
//! gradient (g + λθ), as PyTorch's `weight_decay`. Formulas follow PyTorch so that settings carry over:
//! - SGD:     v ← μv + g;  θ ← θ − lr·v            (v ← g on the first step, as PyTorch)
//! - Adam:    m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε)
//! - Adagrad: s ← s + g²;  θ ← θ − lr·g/(√s + ε)

use crate::math::Real;
use crate::simd::{lanes, sqrt_f32};

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

/// Applies one update in place. `t` is the 1-based step number (Adam's bias correction; SGD's first-step rule).
///
/// # Safety
/// θ, g and each state slot address n floats; `s2` is only read for Adam.
pub unsafe fn update(cfg: &OptConfig, t: u64, theta: *mut f32, g: *const f32, s1: *mut f32, s2: *mut f32, n: usize) {
    let s = Slots { theta, s1, s2 };
    update_into(cfg, t, s, g, s, n)
}

/// Applies one update reading θ and the state from `from` and writing them to `to` (the same buffers, or
/// disjoint ones: the arithmetic is the same, so are the bits).
///
/// # Safety
/// As [`update`] for both; `to` is either `from` or disjoint from it and from `g`.
pub unsafe fn update_into(cfg: &OptConfig, t: u64, from: Slots, g: *const f32, to: Slots, n: usize) {
    struct Task<'a> {
        cfg: &'a OptConfig,
        k: Coeffs,
        from: Slots,
        g: *const f32,
        to: Slots,
        n: usize,
    }
    let task = Task { cfg, k: Coeffs::new(cfg, t), from, g, to, n };
    // Split into element ranges across threads: every parameter is updated by exactly the same arithmetic.
    crate::par::run(&task, crate::par::parts(n, crate::par::PARALLEL_MIN_ELEMENTS), |t, p| {
        let (i0, i1) = p.range(t.n, 4);
        update_range(t.cfg, &t.k, t.from.at(i0), t.g.add(i0), t.to.at(i0), i1 - i0)
    });
}

unsafe fn update_range(cfg: &OptConfig, k: &Coeffs, from: Slots, g: *const f32, to: Slots, n: usize) {
    lanes!(n, |T, i| {
        step::<T>(cfg.kind, k, from.at(i), g.add(i), to.at(i));
    });
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

#[inline(always)]
unsafe fn step<T: Real>(kind: OptKind, k: &Coeffs, from: Slots, g: *const f32, to: Slots) {
    let sp = T::splat;
    let th = T::load(from.theta);
    let gg = T::load(g).add(th.mul(sp(k.wd)));
    match kind {
        OptKind::Sgd => {
            let v = if k.momentum == 0.0 || k.first { gg } else { T::load(from.s1).mul(sp(k.momentum)).add(gg) };
            v.store(to.s1);
            th.sub(v.mul(sp(k.lr))).store(to.theta);
        }
        OptKind::Adam => {
            let m = T::load(from.s1).mul(sp(k.beta1)).add(gg.mul(sp(1.0 - k.beta1)));
            let v = T::load(from.s2).mul(sp(k.beta2)).add(gg.mul(gg).mul(sp(1.0 - k.beta2)));
            m.store(to.s1);
            v.store(to.s2);
            let denom = v.sqrt().div(sp(k.adam_sqrt_bc2)).add(sp(k.eps));
            th.sub(m.div(denom).mul(sp(k.adam_step))).store(to.theta);
        }
        OptKind::Adagrad => {
            let s = T::load(from.s1).add(gg.mul(gg));
            s.store(to.s1);
            let denom = s.sqrt().add(sp(k.eps));
            th.sub(gg.div(denom).mul(sp(k.lr))).store(to.theta);
        }
    }
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
            unsafe { update(&cfg, t, th.as_mut_ptr(), grads.as_ptr(), s1.as_mut_ptr(), s2.as_mut_ptr(), n) };
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
    fn out_of_place_gives_the_same_bits_and_leaves_the_source() {
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
            unsafe { update(&cfg, 2, th.as_mut_ptr(), g.as_ptr(), s1.as_mut_ptr(), s2.as_mut_ptr(), n) };
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&th), bits(&th2), "{kind:?}");
            assert_eq!(bits(&s1), bits(&s12), "{kind:?}");
            if kind == OptKind::Adam {
                assert_eq!(bits(&s2), bits(&s22));
            }
            assert_ne!(bits(&th), bits(&th0));
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
