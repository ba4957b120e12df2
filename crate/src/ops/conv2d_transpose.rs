//! Transposed 2-D convolution, channels last: input hs × ws × channels (the small side of its [`Windows`]), output
//! hb × wb × filters (the big side, so the windows' `ch` is `filters`). W is stored [kh, kw, filters, channels]
//! (TensorFlow.js's layout), as a matrix (kh·kw·filters) × channels. Each input pixel spreads x·Wᵀ over its window
//! of the output; computed as gathers, never as scatter-adds:
//!   forward   a = col2im(x·Wᵀ) + b
//!   backward  d cols = im2col(da),  dW = d colsᵀ·x,  db = Σ da,  dx = d cols·W

use super::matmul;
use super::windows::{Then, Windows};
use super::{ConvSpec, Io, Padding, Reason, Shape};
use crate::act::Activation;
use crate::gemm::{self, Op};
use crate::par;

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

    /// a = col2im(x·Wᵀ) + b; with `act`, h = act(a). A few images at a time, each computing its windows' columns and
    /// gathering them into its output while they are in cache; images split across threads.
    ///
    /// # Safety
    /// x is rows × (hs·ws·channels), a rows × out_len, cols rows × cols_len.
    pub unsafe fn forward(&self, params: *const f32, x: *const f32, rows: usize, a: *mut f32, act: Option<Activation>, cols: *mut f32, scratch: *mut f32) {
        struct Task {
            op: Conv2dTranspose,
            params: *const f32,
            x: *const f32,
            rows: usize,
            a: *mut f32,
            then: Then,
            cols: *mut f32,
            scratch: *mut f32,
        }
        let t = Task { op: *self, params, x, rows, a, then: act.map_or(Then::None, Then::Act), cols, scratch };
        let macs = self.win.hs * self.win.ws * self.win.patch() * self.channels;
        par::run(&t, par::parts(rows * macs, gemm::PARALLEL_MIN_MACS), |t, p| {
            let (r0, r1) = p.range(t.rows, 1);
            let scratch = gemm::thread_scratch(p.thread, t.scratch);
            let win = &t.op.win;
            let (small, patch, ch) = (win.hs * win.ws, win.patch(), t.op.channels);
            // Images per chunk: their columns stay within about 256 KiB.
            let chunk = (65_536 / win.cols_len().max(1)).max(1);
            let mut r = r0;
            while r < r1 {
                let n = (r1 - r).min(chunk);
                gemm::gemm(Op::NT, n * small, patch, ch, t.x.add(r * small * ch), ch, t.params.add(t.op.w), ch,
                    t.cols.add(r * win.cols_len()), patch, false, scratch);
                win.col2im_images(t.cols, r, r + n, t.a, Some(t.params.add(t.op.b)), t.then);
                r += n;
            }
        });
    }

    /// Parameter gradients from the input x and dL/da, and, with `dx`, the input gradient (times the derivative of
    /// the activation below, if any). Chunk by chunk of images (`Windows::chunk_images`, whole chunks per thread):
    /// d cols = im2col(da) stays in cache for dx = d cols·W and the chunk's share d colsᵀ·x of dW, which lands in
    /// `partials` and is summed over the chunks in order (so the bits do not depend on the threads).
    ///
    /// # Safety
    /// As `forward`; dx is rows × (hs·ws·channels); partials holds ceil(rows / chunk) × the weights' values.
    pub unsafe fn backward(&self, io: Io, da: *const f32, dx: Option<(*mut f32, Option<Activation>)>) {
        let (rows, partials) = (io.rows, io.partials);
        matmul::bias_grad(da, rows * self.win.hb * self.win.wb, self.win.ch, io.grads.add(self.b));
        struct Task {
            op: Conv2dTranspose,
            io: Io,
            da: *const f32,
            dx: Option<(*mut f32, Option<Activation>)>,
        }
        let chunks = self.win.image_chunks(rows);
        let t = Task { op: *self, io, da, dx };
        let macs = 3 * self.win.hs * self.win.ws * self.win.patch() * self.channels;
        par::run(&t, par::parts(rows * macs, gemm::PARALLEL_MIN_MACS).min(chunks), |t, p| {
            let win = &t.op.win;
            let (small, patch, ch, weights) = (win.hs * win.ws, win.patch(), t.op.channels, win.patch() * t.op.channels);
            let scratch = gemm::thread_scratch(p.thread, t.io.scratch);
            for (c, r0, r1) in win.chunks_of(t.io.rows, p) {
                let (n, dq) = ((r1 - r0) * small, t.io.cols.add(r0 * win.cols_len()));
                win.im2col_images(t.da, r0, r1, t.io.cols);
                if let Some((dx, below)) = t.dx {
                    let at = r0 * small * ch;
                    gemm::gemm(Op::NN, n, ch, patch, dq, patch, t.io.params.add(t.op.w), ch, dx.add(at), ch, false, scratch);
                    if let Some(act) = below {
                        act.backward_at(dx, at, n * ch);
                    }
                }
                gemm::gemm(Op::TN, patch, ch, n, dq, patch, t.io.x.add(r0 * small * ch), ch, t.io.partials.add(c * weights), ch, false, scratch);
            }
        });
        matmul::sum_partials(partials, chunks, self.win.patch() * self.channels, io.grads.add(self.w));
    }

}
