//! Transposed 2-D convolution, channels last: input hs × ws × channels (the small side of its [`Windows`]), output
//! hb × wb × filters (the big side, so the windows' `ch` is `filters`). W is stored [kh, kw, filters, channels]
//! (TensorFlow.js's layout), as a matrix (kh·kw·filters) × channels. Each input pixel spreads x·Wᵀ over its window
//! of the output; computed as gathers, never as scatter-adds:
//!   forward   a = col2im(x·Wᵀ) + b
//!   backward  d cols = im2col(da),  dW = d colsᵀ·x,  db = Σ da,  dx = d cols·W

use super::matmul::{self, Fused, Product};
use super::windows::{Then, Windows};
use super::{ConvSpec, Padding, Reason, Shape};
use crate::act::Activation;
use crate::gemm::Op;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conv2dTranspose {
    pub win: Windows,
    /// Input channels.
    pub channels: usize,
    pub w: usize,
    pub b: usize,
}

impl Conv2dTranspose {
    /// The layer `spec` on `input` (an image), and its output shape; or why it cannot be, with two details.
    /// Output size per side, for input n, kernel k, stride s and output padding op:
    /// - explicit padding p (PyTorch): (n − 1)·s + k − 2p + op, windows padded by p before;
    /// - 'valid' (Keras): n·s + max(k − s, 0), or (n − 1)·s + k + op when op is given; no padding before;
    /// - 'same' (Keras): n·s, or (n − 1)·s + k − 2⌊k/2⌋ + op when op is given; padding before as TensorFlow's
    ///   (the total max((n − 1)·s + k − out, 0) split with the extra one after).
    pub fn new(spec: &ConvSpec, input: Shape) -> Result<(Conv2dTranspose, Shape), (Reason, [usize; 2])> {
        if !input.image {
            return Err((Reason::NeedsImage, [0, 0]));
        }
        let side = |n: usize, k: usize, s: usize, explicit: usize, op: Option<usize>| -> Result<(usize, usize), (Reason, [usize; 2])> {
            if let Some(op) = op {
                if op >= s {
                    return Err((Reason::OutputPadding, [op, s]));
                }
            }
            let span = (n - 1) * s + k;
            let (out, before) = match spec.padding {
                Padding::Explicit { .. } => ((span + op.unwrap_or(0)).checked_sub(2 * explicit).unwrap_or(0), explicit),
                Padding::Valid => (op.map_or(n * s + k.saturating_sub(s), |op| span + op), 0),
                Padding::Same => {
                    let out = op.map_or(n * s, |op| span - 2 * (k / 2) + op);
                    (out, span.saturating_sub(out) / 2)
                }
            };
            if out == 0 {
                return Err((Reason::EmptyOutput, [0, 0]));
            }
            Ok((out, before))
        };
        let (ph, pw) = match spec.padding {
            Padding::Explicit { h, w } => (h, w),
            _ => (0, 0),
        };
        let (hb, pt) = side(input.h, spec.kh, spec.sh, ph, spec.output_padding.map(|p| p.0))?;
        let (wb, pl) = side(input.w, spec.kw, spec.sw, pw, spec.output_padding.map(|p| p.1))?;
        let win = Windows { hb, wb, ch: spec.filters, hs: input.h, ws: input.w, kh: spec.kh, kw: spec.kw, sh: spec.sh, sw: spec.sw, pt, pl };
        Ok((Conv2dTranspose { win, channels: input.c, w: 0, b: 0 }, Shape::image(hb, wb, spec.filters)))
    }

    pub fn filters(&self) -> usize {
        self.win.ch
    }

    pub fn weight_shape(&self) -> [usize; 4] {
        [self.win.kh, self.win.kw, self.win.ch, self.channels]
    }

    /// Fan-in and fan-out for initialisation, as PyTorch and Keras count them for a transposed convolution (from
    /// the weight's shape: fan-in = kh·kw·filters).
    pub fn fans(&self) -> (usize, usize) {
        (self.win.kh * self.win.kw * self.win.ch, self.win.kh * self.win.kw * self.channels)
    }

    pub fn out_len(&self) -> usize {
        self.win.big_len()
    }

    pub fn cols_len(&self) -> usize {
        self.win.cols_len()
    }

    /// a = col2im(x·Wᵀ) + b; with `act`, h = act(a).
    ///
    /// # Safety
    /// x is rows × (hs·ws·channels), a rows × out_len, cols rows × cols_len.
    pub unsafe fn forward(&self, params: *const f32, x: *const f32, rows: usize, a: *mut f32, act: Option<Activation>, cols: *mut f32, scratch: *mut f32) {
        let patch = self.win.patch();
        let p = Product {
            op: Op::NT, m: rows * self.win.hs * self.win.ws, n: patch, k: self.channels, a: x, lda: self.channels,
            b: params.add(self.w), ldb: self.channels, c: cols, ldc: patch, accumulate: false,
        };
        matmul::run(p, Fused::None, scratch);
        self.win.col2im(cols, rows, a, Some(params.add(self.b)), act.map_or(Then::None, Then::Act));
    }

    /// Parameter gradients from the input x and dL/da, and, with `dx`, the input gradient (times the derivative of
    /// the activation below, if any).
    ///
    /// # Safety
    /// As `forward`; dx is rows × (hs·ws·channels).
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn backward(
        &self, params: *const f32, grads: *mut f32, x: *const f32, da: *const f32, rows: usize,
        dx: Option<(*mut f32, Option<Activation>)>, cols: *mut f32, scratch: *mut f32,
    ) {
        let patch = self.win.patch();
        let m = rows * self.win.hs * self.win.ws;
        self.win.im2col(da, rows, cols);
        let p = Product {
            op: Op::TN, m: patch, n: self.channels, k: m, a: cols, lda: patch, b: x, ldb: self.channels,
            c: grads.add(self.w), ldc: self.channels, accumulate: false,
        };
        matmul::run(p, Fused::None, scratch);
        matmul::bias_grad(da, rows * self.win.hb * self.win.wb, self.win.ch, grads.add(self.b));
        if let Some((dx, below)) = dx {
            let p = Product {
                op: Op::NN, m, n: self.channels, k: patch, a: cols, lda: patch, b: params.add(self.w), ldb: self.channels,
                c: dx, ldc: self.channels, accumulate: false,
            };
            matmul::run(p, Fused::ActGrad { below }, scratch);
        }
    }
}
