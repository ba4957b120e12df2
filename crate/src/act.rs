//! Activations: each one's value and derivative side by side, elementwise over ranges (16, then 4 values at a time,
//! then a scalar tail, one generic formula for all: `wide_lanes!`) and over blocks of a row-major layer output.

use crate::math::{self, Real};
use crate::par;
use crate::simd::wide_lanes;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Relu,
    LeakyRelu,
    Tanh,
    Sigmoid,
    Softplus,
    Linear,
}

impl Act {
    pub fn from_u32(x: u32) -> Option<Act> {
        Some(match x {
            0 => Act::Relu,
            1 => Act::LeakyRelu,
            2 => Act::Tanh,
            3 => Act::Sigmoid,
            4 => Act::Softplus,
            5 => Act::Linear,
            _ => return None,
        })
    }
}

/// h = act(a).
#[inline(always)]
fn value<T: Real>(act: Act, slope: f32, a: T) -> T {
    match act {
        Act::Relu => a.pmax(T::splat(0.0)),
        Act::LeakyRelu => a.gt_select(T::splat(0.0), a, a.mul(T::splat(slope))),
        Act::Tanh => math::tanh(a),
        Act::Sigmoid => math::sigmoid(a),
        Act::Softplus => math::softplus(a),
        Act::Linear => a,
    }
}

/// dL/da = dL/dh · act'(a), with act' written from whichever of a and h gives it most accurately.
#[inline(always)]
fn grad<T: Real>(act: Act, slope: f32, a: T, h: T, d: T) -> T {
    match act {
        // relu'(a) = [a > 0]
        Act::Relu => a.gt_select(T::splat(0.0), d, T::splat(0.0)),
        // leaky'(a) = 1 if a > 0 else slope
        Act::LeakyRelu => a.gt_select(T::splat(0.0), d, d.mul(T::splat(slope))),
        // tanh' = 1 − h²
        Act::Tanh => d.mul(T::splat(1.0).sub(h.mul(h))),
        // σ' = h(1 − h)
        Act::Sigmoid => d.mul(h.mul(T::splat(1.0).sub(h))),
        // softplus' = σ(a)
        Act::Softplus => d.mul(math::sigmoid(a)),
        Act::Linear => d,
    }
}

/// Runs `$call` with `$a` bound to `act` as a constant, in one arm per activation: with the loop inlined into each
/// arm, no loop carries a match (a match inside the loop keeps every formula's constants and values live across it,
/// which made the four-chain loop barely faster than the one-chain one).
macro_rules! each_act {
    ($act:expr, |$a:ident| $call:expr) => {
        match $act {
            Act::Relu => { let $a = Act::Relu; $call }
            Act::LeakyRelu => { let $a = Act::LeakyRelu; $call }
            Act::Tanh => { let $a = Act::Tanh; $call }
            Act::Sigmoid => { let $a = Act::Sigmoid; $call }
            Act::Softplus => { let $a = Act::Softplus; $call }
            Act::Linear => { let $a = Act::Linear; $call }
        }
    };
}

/// h[i] = act(a[i]) for i < n (a and h may be the same buffer).
pub unsafe fn forward_range(act: Act, slope: f32, a: *const f32, h: *mut f32, n: usize) {
    each_act!(act, |act| wide_lanes!(n, |T, i| {
        value(act, slope, T::load(a.add(i))).store(h.add(i));
    }))
}

/// d[i] ← d[i] · act'(a[i]) for i < n, in place.
pub unsafe fn backward_range(act: Act, slope: f32, a: *const f32, h: *const f32, d: *mut f32, n: usize) {
    each_act!(act, |act| wide_lanes!(n, |T, i| {
        grad(act, slope, T::load(a.add(i)), T::load(h.add(i)), T::load(d.add(i))).store(d.add(i));
    }))
}

/// h = act(a) over n elements, split across threads (a and h may be the same buffer).
pub unsafe fn forward(act: Act, slope: f32, a: *const f32, h: *mut f32, n: usize) {
    if act == Act::Linear && a as *const u8 == h as *const u8 {
        return;
    }
    struct Task {
        act: Act,
        slope: f32,
        a: *const f32,
        h: *mut f32,
        n: usize,
    }
    par::run(&Task { act, slope, a, h, n }, par::parts(n, par::PARALLEL_MIN_ELEMENTS), |t, p| {
        let (i0, i1) = p.range(t.n, 4);
        forward_range(t.act, t.slope, t.a.add(i0), t.h.add(i0), i1 - i0)
    });
}

/// d ← d · act'(a) over n elements, split across threads.
pub unsafe fn backward(act: Act, slope: f32, a: *const f32, h: *const f32, d: *mut f32, n: usize) {
    if act == Act::Linear {
        return;
    }
    struct Task {
        act: Act,
        slope: f32,
        a: *const f32,
        h: *const f32,
        d: *mut f32,
        n: usize,
    }
    par::run(&Task { act, slope, a, h, d, n }, par::parts(n, par::PARALLEL_MIN_ELEMENTS), |t, p| {
        let (i0, i1) = p.range(t.n, 4);
        backward_range(t.act, t.slope, t.a.add(i0), t.h.add(i0), t.d.add(i0), i1 - i0)
    });
}

/// A layer's activation and its buffers, row-major with `stride` values per row: pre-activations `a` and outputs
/// `h` = act(a) (the same buffer when the activation is linear).
#[derive(Clone, Copy)]
pub struct Activation {
    pub act: Act,
    pub slope: f32,
    pub a: *mut f32,
    pub h: *mut f32,
}

impl Activation {
    /// h = act(a) on elements [o, o + n).
    pub unsafe fn forward_at(&self, o: usize, n: usize) {
        if self.act == Act::Linear && self.a == self.h {
            return;
        }
        forward_range(self.act, self.slope, self.a.add(o), self.h.add(o), n);
    }

    /// d ← d · act'(a) on elements [o, o + n) (d indexed like a).
    pub unsafe fn backward_at(&self, d: *mut f32, o: usize, n: usize) {
        if self.act == Act::Linear {
            return;
        }
        backward_range(self.act, self.slope, self.a.add(o), self.h.add(o), d.add(o), n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_derivatives() {
        let a = [-2.0f32, -0.5, 0.0, 0.25, 3.0, -7.0, 1.5];
        for act in [Act::Relu, Act::LeakyRelu, Act::Tanh, Act::Sigmoid, Act::Softplus, Act::Linear] {
            let mut h = [0.0f32; 7];
            unsafe { forward(act, 0.1, a.as_ptr(), h.as_mut_ptr(), 7) };
            let f = |x: f64| -> f64 {
                match act {
                    Act::Relu => x.max(0.0),
                    Act::LeakyRelu => if x > 0.0 { x } else { 0.1 * x },
                    Act::Tanh => x.tanh(),
                    Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
                    Act::Softplus => (1.0 + x.exp()).ln(),
                    Act::Linear => x,
                }
            };
            let mut d = [1.0f32; 7];
            unsafe { backward(act, 0.1, a.as_ptr(), h.as_ptr(), d.as_mut_ptr(), 7) };
            for i in 0..7 {
                let x = a[i] as f64;
                assert!((h[i] as f64 - f(x)).abs() < 1e-6, "{act:?}({x})");
                if x != 0.0 {
                    let fd = (f(x + 1e-6) - f(x - 1e-6)) / 2e-6;
                    assert!((d[i] as f64 - fd).abs() < 1e-5, "{act:?}'({x}) = {} vs {fd}", d[i]);
                }
            }
        }
    }
}
