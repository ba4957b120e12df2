//! Dense layer: a = x·W + b, with x the input flattened per row (fan_in values), W stored fan_in × fan_out (in × out,
//! as TensorFlow.js stores it), b of fan_out. Output shape: flat [fan_out]. A conditional model's condition c
//! (`cond` values per row) joins one dense layer on each side of the latent: its input is then [x | c] and W has
//! fan_in + cond rows, computed as x·W_top + c·W_bottom (the same sums in the same order as one product).

use super::matmul::{self, Fused, Product};
use super::Shape;
use crate::act::Activation;
use crate::gemm::Op;

/// A dense layer's place in the parameter buffer: W at `w`, b at `b` (offsets in floats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dense {
    pub fan_in: usize,
    pub fan_out: usize,
    /// Condition values appended to the input (0 unless the condition joins here).
    pub cond: usize,
    pub w: usize,
    pub b: usize,
}

impl Dense {
    /// A layer of `units` outputs on `input` (any shape, read as flat); its output is flat [units].
    pub fn new(units: usize, input: Shape) -> (Dense, Shape) {
        (Dense { fan_in: input.len(), fan_out: units, cond: 0, w: 0, b: 0 }, Shape::flat(units))
    }

    /// Rows of W: the input's values, then the condition's.
    pub fn weight_rows(&self) -> usize {
        self.fan_in + self.cond
    }

    /// a = [x | c]·W + b for `rows` rows (bias first, then the products accumulated on top); with `act`, also
    /// h = act(a). `c` (rows × cond) is read only when the condition joins here.
    ///
    /// # Safety
    /// x is rows × fan_in, a (and act's h) rows × fan_out, params holds the layer.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn forward(&self, params: *const f32, x: *const f32, c: *const f32, rows: usize, a: *mut f32, act: Option<Activation>, scratch: *mut f32) {
        let p = Product {
            op: Op::NN, m: rows, n: self.fan_out, k: self.fan_in, a: x, lda: self.fan_in, b: params.add(self.w),
            ldb: self.fan_out, c: a, ldc: self.fan_out, accumulate: true,
        };
        if self.cond == 0 {
            matmul::run(p, Fused::Bias { bias: params.add(self.b), act }, scratch);
            return;
        }
        matmul::run(p, Fused::Bias { bias: params.add(self.b), act: None }, scratch);
        let pc = Product { k: self.cond, a: c, lda: self.cond, b: params.add(self.w + self.fan_in * self.fan_out), ..p };
        matmul::run(pc, Fused::Act { act }, scratch);
    }

    /// dW = [x | c]ᵀ·da and db = Σ_rows da, from the input x (rows × fan_in), the condition c and dL/da
    /// (rows × fan_out); overwrites both.
    ///
    /// # Safety
    /// Shapes as stated.
    pub unsafe fn param_grads(&self, grads: *mut f32, x: *const f32, c: *const f32, da: *const f32, rows: usize, scratch: *mut f32) {
        let p = Product {
            op: Op::TN, m: self.fan_in, n: self.fan_out, k: rows, a: x, lda: self.fan_in, b: da, ldb: self.fan_out,
            c: grads.add(self.w), ldc: self.fan_out, accumulate: false,
        };
        matmul::run(p, Fused::BiasGrad { bias_grad: grads.add(self.b) }, scratch);
        if self.cond > 0 {
            let pc = Product { m: self.cond, a: c, lda: self.cond, c: grads.add(self.w + self.fan_in * self.fan_out), ..p };
            matmul::run(pc, Fused::None, scratch);
        }
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
