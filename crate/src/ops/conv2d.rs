//! 2-D convolution, channels last: input hb × wb × ch (the big side of its [`Windows`]), output hs × ws × filters.
//! W is stored [kh, kw, ch, filters] (TensorFlow.js's layout), which as a matrix is (kh·kw·ch) × filters: one row
//! per entry of a window, in the order `im2col` lays windows out. So the layer is a product on its input's windows:
//!   forward   a = im2col(x)·W + b
//!   backward  dW = im2col(x)ᵀ·da,  db = Σ da,  dx = col2im(da·Wᵀ)
//! Every product runs on the packed GEMM; both gathers and products split by the values they write.

use super::matmul::{self, Fused, Product};
use super::windows::{Then, Windows};
use super::{ConvSpec, Io, Padding, Reason, Shape};
use crate::act::Activation;
use crate::gemm::{self, Op};
use crate::par;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conv2d {
    pub win: Windows,
    pub filters: usize,
    /// Offsets of W and b in the parameter buffer.
    pub w: usize,
    pub b: usize,
}

impl Conv2d {
    /// The layer `spec` on `input` (an image), and its output shape; or why it cannot be, with two details.
    pub fn new(spec: &ConvSpec, input: Shape) -> Result<(Conv2d, Shape), (Reason, [usize; 2])> {
        if !input.image {
            return Err((Reason::NeedsImage, [0, 0]));
        }
        let side = |n: usize, k: usize, s: usize, explicit: usize| -> Result<(usize, usize), (Reason, [usize; 2])> {
            match spec.padding {
                Padding::Valid | Padding::Explicit { .. } => {
                    let padded = n + 2 * explicit;
                    if padded < k {
                        return Err((Reason::KernelTooLarge, [spec.kh, spec.kw]));
                    }
                    Ok(((padded - k) / s + 1, explicit))
                }
                Padding::Same => {
                    // TensorFlow: out = ceil(n / s), padding split with the extra one after.
                    let out = (n + s - 1) / s;
                    let total = ((out - 1) * s + k).saturating_sub(n);
                    Ok((out, total / 2))
                }
            }
        };
        let (ph, pw) = match spec.padding {
            Padding::Explicit { h, w } => (h, w),
            _ => (0, 0),
        };
        let (hs, pt) = side(input.h, spec.kh, spec.sh, ph)?;
        let (ws, pl) = side(input.w, spec.kw, spec.sw, pw)?;
        let win = Windows { hb: input.h, wb: input.w, ch: input.c, hs, ws, kh: spec.kh, kw: spec.kw, sh: spec.sh, sw: spec.sw, pt, pl };
        Ok((Conv2d { win, filters: spec.filters, w: 0, b: 0 }, Shape::image(hs, ws, spec.filters)))
    }

    pub fn weight_shape(&self) -> [usize; 4] {
        [self.win.kh, self.win.kw, self.win.ch, self.filters]
    }

    /// Fan-in and fan-out for initialisation (as PyTorch and Keras count them).
    pub fn fans(&self) -> (usize, usize) {
        (self.win.kh * self.win.kw * self.win.ch, self.win.kh * self.win.kw * self.filters)
    }

    /// Output values per image.
    pub fn out_len(&self) -> usize {
        self.win.hs * self.win.ws * self.filters
    }

    /// Scratch values per image (the windows of the input).
    pub fn cols_len(&self) -> usize {
        self.win.cols_len()
    }

    fn windows_product(&self, rows: usize) -> Product {
        let patch = self.win.patch();
        Product {
            op: Op::NN, m: rows * self.win.hs * self.win.ws, n: self.filters, k: patch, a: core::ptr::null(), lda: patch,
            b: core::ptr::null(), ldb: self.filters, c: core::ptr::null_mut(), ldc: self.filters, accumulate: false,
        }
    }

    /// a = im2col(x)·W + b; with `act`, h = act(a).
    ///
    /// # Safety
    /// x is rows × (hb·wb·ch), a rows × out_len, cols rows × cols_len.
    pub unsafe fn forward(&self, params: *const f32, x: *const f32, rows: usize, a: *mut f32, act: Option<Activation>, cols: *mut f32, scratch: *mut f32) {
        self.win.im2col(x, rows, cols);
        let p = Product { a: cols, b: params.add(self.w), c: a, accumulate: true, ..self.windows_product(rows) };
        matmul::run(p, Fused::Bias { bias: params.add(self.b), act }, scratch);
    }

    /// Parameter gradients from the input x and dL/da, and, with `dx`, the input gradient (times the derivative of
    /// the activation below, if any). Chunk by chunk of images (`Windows::chunk_images`, whole chunks per thread):
    /// the windows im2col(x) stay in cache for the chunk's share colsᵀ·da of dW (into `partials`, summed over the
    /// chunks in order so the bits do not depend on the threads), then d cols = da·Wᵀ is gathered into dx.
    ///
    /// # Safety
    /// As `forward`; dx is rows × (hb·wb·ch); partials holds ceil(rows / chunk) × the weights' values.
    pub unsafe fn backward(&self, io: Io, da: *const f32, dx: Option<(*mut f32, Option<Activation>)>) {
        let (rows, partials) = (io.rows, io.partials);
        let (small, f) = (self.win.hs * self.win.ws, self.filters);
        matmul::bias_grad(da, rows * small, f, io.grads.add(self.b));
        struct Task {
            op: Conv2d,
            io: Io,
            da: *const f32,
            dx: Option<(*mut f32, Option<Activation>)>,
        }
        let chunks = self.win.image_chunks(rows);
        let t = Task { op: *self, io, da, dx };
        let macs = 3 * small * self.win.patch() * f;
        par::run(&t, par::parts(rows * macs, gemm::PARALLEL_MIN_MACS).min(chunks), |t, p| {
            let win = &t.op.win;
            let (small, patch, f) = (win.hs * win.ws, win.patch(), t.op.filters);
            let scratch = gemm::thread_scratch(p.thread, t.io.scratch);
            for (c, r0, r1) in win.chunks_of(t.io.rows, p) {
                let (n, cols, da) = ((r1 - r0) * small, t.io.cols.add(r0 * win.cols_len()), t.da.add(r0 * small * f));
                win.im2col_images(t.io.x, r0, r1, t.io.cols);
                gemm::gemm(Op::TN, patch, f, n, cols, patch, da, f, t.io.partials.add(c * patch * f), f, false, scratch);
                if let Some((dx, below)) = t.dx {
                    gemm::gemm(Op::NT, n, patch, f, da, f, t.io.params.add(t.op.w), f, cols, patch, false, scratch);
                    win.col2im_images(t.io.cols, r0, r1, dx, None, below.map_or(Then::None, Then::ActGrad));
                }
            }
        });
        matmul::sum_partials(partials, chunks, self.win.patch() * f, io.grads.add(self.w));
    }

}
