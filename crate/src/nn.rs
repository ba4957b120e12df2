//! Layer building blocks: activations (forward and derivative side by side), dense layers on top of the GEMM,
//! bias gradients. Elementwise work runs four lanes at a time with a scalar tail; both instantiate the same generic
//! function, so lanes and tail round identically.

use crate::gemm::{Block, Gemm, Op};
use crate::par;
use crate::math::{self, Real};
use crate::simd::F32x4;

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
fn act_value<T: Real>(act: Act, slope: f32, a: T) -> T {
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
fn act_grad<T: Real>(act: Act, slope: f32, a: T, h: T, d: T) -> T {
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

/// Elementwise passes over fewer elements than this run on the calling thread.
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 14;

/// h[i] = act(a[i]) for n elements.
///
/// # Safety
/// a and h address n floats (they may be the same buffer).
pub unsafe fn act_forward(act: Act, slope: f32, a: *const f32, h: *mut f32, n: usize) {
    if act == Act::Linear && a as *const u8 == h as *const u8 {
        return;
    }
    struct T(Act, f32, *const f32, *mut f32, usize);
    par::run(&T(act, slope, a, h, n), n < PARALLEL_MIN_ELEMENTS, part);
    fn part(t: &T, part: usize, parts: usize) {
        let (i0, i1) = par::split(t.4, 4, part, parts);
        unsafe { act_forward_range(t.0, t.1, t.2.add(i0), t.3.add(i0), i1 - i0) }
    }
}

unsafe fn act_forward_range(act: Act, slope: f32, a: *const f32, h: *mut f32, n: usize) {
    let mut i = 0;
    while i + 4 <= n {
        act_value(act, slope, F32x4::load(a.add(i))).store(h.add(i));
        i += 4;
    }
    while i < n {
        *h.add(i) = act_value(act, slope, *a.add(i));
        i += 1;
    }
}

/// d[i] ← d[i] · act'(a[i]) (in place).
///
/// # Safety
/// a, h, d address n floats.
pub unsafe fn act_backward(act: Act, slope: f32, a: *const f32, h: *const f32, d: *mut f32, n: usize) {
    if act == Act::Linear {
        return;
    }
    struct T(Act, f32, *const f32, *const f32, *mut f32, usize);
    par::run(&T(act, slope, a, h, d, n), n < PARALLEL_MIN_ELEMENTS, part);
    fn part(t: &T, part: usize, parts: usize) {
        let (i0, i1) = par::split(t.5, 4, part, parts);
        unsafe { act_backward_range(t.0, t.1, t.2.add(i0), t.3.add(i0), t.4.add(i0), i1 - i0) }
    }
}

unsafe fn act_backward_range(act: Act, slope: f32, a: *const f32, h: *const f32, d: *mut f32, n: usize) {
    let mut i = 0;
    while i + 4 <= n {
        let v = act_grad(act, slope, F32x4::load(a.add(i)), F32x4::load(h.add(i)), F32x4::load(d.add(i)));
        v.store(d.add(i));
        i += 4;
    }
    while i < n {
        *d.add(i) = act_grad(act, slope, *a.add(i), *h.add(i), *d.add(i));
        i += 1;
    }
}

/// A dense layer's place in the parameter buffer: W (fan_in × fan_out) at `w`, b (fan_out) at `b`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dense {
    pub fan_in: usize,
    pub fan_out: usize,
    pub w: usize,
    pub b: usize,
}

/// A hidden layer's activation and its buffers, row-major with the layer's fan_out columns: pre-activations `a`
/// and outputs `h` = act(a) (the same buffer when the activation is linear).
#[derive(Clone, Copy)]
pub struct Activation {
    pub act: Act,
    pub slope: f32,
    pub a: *mut f32,
    pub h: *mut f32,
}

impl Activation {
    /// h = act(a) on a block of rows × columns.
    unsafe fn forward(&self, blk: Block, stride: usize) {
        if self.act == Act::Linear && self.a == self.h {
            return;
        }
        for r in blk.i0..blk.i1 {
            let o = r * stride + blk.j0;
            act_forward_range(self.act, self.slope, self.a.add(o), self.h.add(o), blk.j1 - blk.j0);
        }
    }

    /// d ← d · act'(a) on a block of rows × columns.
    unsafe fn backward(&self, d: *mut f32, blk: Block, stride: usize) {
        if self.act == Act::Linear {
            return;
        }
        for r in blk.i0..blk.i1 {
            let o = r * stride + blk.j0;
            act_backward_range(self.act, self.slope, self.a.add(o), self.h.add(o), d.add(o), blk.j1 - blk.j0);
        }
    }
}

/// Elementwise work fused into a dense layer's product: each thread does it on the block of C it has just
/// computed, while that block is still in its cache, so a layer is one fork-join task.
#[derive(Clone, Copy)]
enum Fused {
    /// Before the product C ← bias (broadcast over rows); after it, with an activation, h = act(C).
    Forward { bias: *const f32, act: Option<Activation> },
    /// After the product, with the activation of the layer below, C ← C · act'(a).
    InputGrad { below: Option<Activation> },
    /// Beside the product dW = xᵀ·da, the bias gradient: column sums of da (the product's B) into `bias_grad`.
    ParamGrads { bias_grad: *mut f32 },
}

/// Runs `g` across the threads with its fused work.
unsafe fn dense_task(g: Gemm, fused: Fused) {
    struct T(Gemm, Fused);
    let t = T(g, fused);
    par::run(&t, t.0.small(), part);
    fn part(t: &T, part: usize, parts: usize) {
        let (g, blk) = (&t.0, t.0.block(part, parts));
        unsafe {
            if let Fused::Forward { bias, .. } = t.1 {
                for r in blk.i0..blk.i1 {
                    core::ptr::copy_nonoverlapping(bias.add(blk.j0), g.c.add(r * g.ldc + blk.j0), blk.j1 - blk.j0);
                }
            }
            g.run_block(blk, part);
            match t.1 {
                Fused::Forward { act: Some(act), .. } => act.forward(blk, g.ldc),
                Fused::InputGrad { below: Some(act) } => act.backward(g.c, blk, g.ldc),
                Fused::ParamGrads { bias_grad } => {
                    // By its own column split (dW may be split by rows): each column is summed over rows in order.
                    let (j0, j1) = par::split(g.n, 4, part, parts);
                    column_sums_range(g.b.add(j0), g.k, g.n, j1 - j0, bias_grad.add(j0), g.accumulate);
                }
                _ => {}
            }
        }
    }
}

/// a = x·W + b for `rows` rows (bias first, then the product accumulated on top); with `act`, also h = act(a).
///
/// # Safety
/// x is rows × fan_in, a (and act's h) rows × fan_out, params holds the layer; `act.a` is `a`.
pub unsafe fn dense_forward(
    d: Dense, params: *const f32, x: *const f32, rows: usize, a: *mut f32, act: Option<Activation>, scratch: &mut [f32],
) {
    let g = Gemm {
        op: Op::NN, m: rows, n: d.fan_out, k: d.fan_in, a: x, lda: d.fan_in, b: params.add(d.w), ldb: d.fan_out, c: a,
        ldc: d.fan_out, accumulate: true, scratch0: scratch.as_mut_ptr(),
    };
    dense_task(g, Fused::Forward { bias: params.add(d.b), act });
}

/// Weight and bias gradients of a dense layer from its input x (rows × fan_in) and dL/da (rows × fan_out):
/// dW = xᵀ·da, db = Σ_rows da. With `accumulate`, adds to the existing gradients.
///
/// # Safety
/// Shapes as stated.
pub unsafe fn dense_param_grads(
    d: Dense, grads: *mut f32, x: *const f32, da: *const f32, rows: usize, accumulate: bool, scratch: &mut [f32],
) {
    let g = Gemm {
        op: Op::TN, m: d.fan_in, n: d.fan_out, k: rows, a: x, lda: d.fan_in, b: da, ldb: d.fan_out,
        c: grads.add(d.w), ldc: d.fan_out, accumulate, scratch0: scratch.as_mut_ptr(),
    };
    dense_task(g, Fused::ParamGrads { bias_grad: grads.add(d.b) });
}

/// dL/dx = da·Wᵀ (rows × fan_in); with `accumulate`, adds to dx. With `below` (the activation of the layer whose
/// output x is), then dx ← dx · act'(a) on the same block: the gradient with respect to that layer's pre-activation.
///
/// # Safety
/// Shapes as stated.
pub unsafe fn dense_input_grad(
    d: Dense, params: *const f32, da: *const f32, rows: usize, dx: *mut f32, accumulate: bool,
    below: Option<Activation>, scratch: &mut [f32],
) {
    let g = Gemm {
        op: Op::NT, m: rows, n: d.fan_in, k: d.fan_out, a: da, lda: d.fan_out, b: params.add(d.w), ldb: d.fan_out,
        c: dx, ldc: d.fan_in, accumulate, scratch0: scratch.as_mut_ptr(),
    };
    dense_task(g, Fused::InputGrad { below });
}

/// Columns [0, cols) of a matrix with `stride` columns.
unsafe fn column_sums_range(m: *const f32, rows: usize, stride: usize, cols: usize, out: *mut f32, accumulate: bool) {
    let mut j = 0;
    while j + 4 <= cols {
        let mut s = if accumulate { F32x4::load(out.add(j)) } else { F32x4::zero() };
        for r in 0..rows {
            s = s.add(F32x4::load(m.add(r * stride + j)));
        }
        s.store(out.add(j));
        j += 4;
    }
    while j < cols {
        let mut s = if accumulate { *out.add(j) } else { 0.0 };
        for r in 0..rows {
            s += *m.add(r * stride + j);
        }
        *out.add(j) = s;
        j += 1;
    }
}

/// True when every element is finite (x·0 is NaN exactly for ±∞ and NaN).
///
/// # Safety
/// p addresses n floats.
pub unsafe fn all_finite(p: *const f32, n: usize) -> bool {
    use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
    struct T(*const f32, usize, AtomicBool);
    let t = T(p, n, AtomicBool::new(true));
    par::run(&t, n < PARALLEL_MIN_ELEMENTS, part);
    fn part(t: &T, part: usize, parts: usize) {
        let (i0, i1) = par::split(t.1, 4, part, parts);
        if !unsafe { all_finite_range(t.0.add(i0), i1 - i0) } {
            t.2.store(false, Relaxed);
        }
    }
    t.2.load(Relaxed)
}

unsafe fn all_finite_range(p: *const f32, n: usize) -> bool {
    let mut acc = F32x4::zero();
    let zero = F32x4::zero();
    let mut i = 0;
    while i + 4 <= n {
        acc = acc.add(F32x4::load(p.add(i)).mul(zero));
        i += 4;
    }
    let mut s = acc.hsum();
    while i < n {
        s += *p.add(i) * 0.0;
        i += 1;
    }
    s == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_values_and_derivatives() {
        let a = [-2.0f32, -0.5, 0.0, 0.25, 3.0, -7.0, 1.5];
        for act in [Act::Relu, Act::LeakyRelu, Act::Tanh, Act::Sigmoid, Act::Softplus, Act::Linear] {
            let mut h = [0.0f32; 7];
            unsafe { act_forward(act, 0.1, a.as_ptr(), h.as_mut_ptr(), 7) };
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
            unsafe { act_backward(act, 0.1, a.as_ptr(), h.as_ptr(), d.as_mut_ptr(), 7) };
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

    #[test]
    fn finite_check() {
        let mut v = vec![1.0f32; 13];
        assert!(unsafe { all_finite(v.as_ptr(), 13) });
        v[12] = f32::NAN;
        assert!(!unsafe { all_finite(v.as_ptr(), 13) });
        v[12] = 0.0;
        v[5] = f32::INFINITY;
        assert!(!unsafe { all_finite(v.as_ptr(), 13) });
    }
}
