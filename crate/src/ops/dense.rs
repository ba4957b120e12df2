//! Dense layer: a = x·W + b, with x the input flattened per row (fan_in values), W stored fan_in × fan_out (in × out,
//! as TensorFlow.js stores it), b of fan_out. Output shape: flat [fan_out].

use super::matmul::{self, Fused, Product};
use super::Shape;
use crate::act::Activation;
use crate::gemm::Op;

/// A dense layer's place in the parameter buffer: W at `w`, b at `b` (offsets in floats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dense {
    pub fan_in: usize,
    pub fan_out: usize,
    pub w: usize,
    pub b: usize,
}

impl Dense {
    /// A layer of `units` outputs on `input` (any shape, read as flat); its output is flat [units].
    pub fn new(units: usize, input: Shape) -> (Dense, Shape) {
        (Dense { fan_in: input.len(), fan_out: units, w: 0, b: 0 }, Shape::flat(units))
    }

    /// a = x·W + b for `rows` rows (bias first, then the product accumulated on top); with `act`, also h = act(a).
    ///
    /// # Safety
    /// x is rows × fan_in, a (and act's h) rows × fan_out, params holds the layer.
    pub unsafe fn forward(&self, params: *const f32, x: *const f32, rows: usize, a: *mut f32, act: Option<Activation>, scratch: *mut f32) {
        let p = Product {
            op: Op::NN, m: rows, n: self.fan_out, k: self.fan_in, a: x, lda: self.fan_in, b: params.add(self.w),
            ldb: self.fan_out, c: a, ldc: self.fan_out, accumulate: true,
        };
        matmul::run(p, Fused::Bias { bias: params.add(self.b), act }, scratch);
    }

    /// dW = xᵀ·da and db = Σ_rows da, from the input x (rows × fan_in) and dL/da (rows × fan_out); overwrites both.
    ///
    /// # Safety
    /// Shapes as stated.
    pub unsafe fn param_grads(&self, grads: *mut f32, x: *const f32, da: *const f32, rows: usize, scratch: *mut f32) {
        let p = Product {
            op: Op::TN, m: self.fan_in, n: self.fan_out, k: rows, a: x, lda: self.fan_in, b: da, ldb: self.fan_out,
            c: grads.add(self.w), ldc: self.fan_out, accumulate: false,
        };
        matmul::run(p, Fused::BiasGrad { bias_grad: grads.add(self.b) }, scratch);
    }

    /// dL/dx = da·Wᵀ (rows × fan_in); with `accumulate`, adds to dx. With `below` (the activation of the layer whose
    /// output x is), then dx ← dx · act'(a) on the same block: the gradient with respect to that layer's
    /// pre-activation.
    ///
    /// # Safety
    /// Shapes as stated.
    pub unsafe fn input_grad(
        &self, params: *const f32, da: *const f32, rows: usize, dx: *mut f32, accumulate: bool, below: Option<Activation>,
        scratch: *mut f32,
    ) {
        let p = Product {
            op: Op::NT, m: rows, n: self.fan_in, k: self.fan_out, a: da, lda: self.fan_out, b: params.add(self.w),
            ldb: self.fan_out, c: dx, ldc: self.fan_in, accumulate,
        };
        matmul::run(p, Fused::ActGrad { below }, scratch);
    }
}
