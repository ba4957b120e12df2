//! Forward and backward passes through a model's plan: the encoder's layers, the latent, the decoder's layers and
//! the output layer, each reading the buffer its plan names. Views (flatten, reshape) share their input's buffer
//! and are skipped.

use crate::latent::{LatentBufs, Prior};
use crate::likelihood::ReconIo;
use crate::model::Model;
use crate::ops::{Io, Op};
use crate::workspace::Buf;

impl Model {
    /// A layer's view of the model's buffers, reading `src` for `rows` rows, with the condition rows of its side
    /// of the latent (the decoder's repeat each encoder row's per draw).
    fn io(&self, src: Buf, rows: usize, decoder: bool) -> Io {
        let b = &self.plan.bufs;
        let cond = self.buf(if decoder { b.cond_dec } else { b.cond });
        Io {
            params: self.params, grads: self.grads, x: self.buf(src), cond, rows, cols: self.buf(b.cols), partials: self.buf(b.partials),
            scratch: self.buf(b.scratch),
        }
    }

    /// Copies the condition rows `idx[i]` (or `start + i` when `idx` is null) of the bound condition into the
    /// encoder's (or, with `decoder`, the decoder's) condition buffer; BAD_ARGUMENT if none is bound.
    pub(crate) unsafe fn gather_condition(&self, idx: *const u32, start: usize, rows: usize, decoder: bool) -> Result<(), i32> {
        let c = self.plan.condition;
        if c == 0 {
            return Ok(());
        }
        let src = self.condition.ok_or(crate::model::status::BAD_ARGUMENT)?;
        let b = &self.plan.bufs;
        crate::data::gather(src, idx, start, rows, c, self.buf(if decoder { b.cond_dec } else { b.cond }));
        Ok(())
    }

    /// Copies each encoder row's condition to its `samples` decoder rows.
    pub(crate) unsafe fn repeat_condition(&self, rows: usize, samples: usize) {
        let c = self.plan.condition;
        if c == 0 {
            return;
        }
        let (from, to) = (self.buf(self.plan.bufs.cond), self.buf(self.plan.bufs.cond_dec));
        for r in 0..rows * samples {
            core::ptr::copy_nonoverlapping(from.add((r / samples) * c), to.add(r * c), c);
        }
    }

    pub(crate) fn latent_bufs(&self) -> LatentBufs {
        let b = &self.plan.bufs;
        LatentBufs {
            mean: self.buf(b.mean), logvar: self.buf(b.logvar), std: self.buf(b.std), dmean: self.buf(b.dmean),
            dlogvar: self.buf(b.dlogvar), eps: self.buf(b.eps), z: self.buf(b.z), row_kl: self.buf(b.row_kl),
            cond: self.buf(b.cond),
        }
    }

    pub(crate) fn recon_io(&self) -> ReconIo {
        let b = &self.plan.bufs;
        ReconIo {
            params: self.params, grads: self.grads, x: self.buf(b.x), out: self.buf(b.out), dout: self.buf(b.dout),
            row_rec: self.buf(b.row_rec), elem: core::ptr::null_mut(),
        }
    }

    unsafe fn layer_forward(&self, i: usize, rows: usize) {
        let l = &self.plan.layers[i];
        if l.op != Op::View {
            l.op.forward(self.io(l.src, rows, i >= self.plan.n_encoder), self.buf(l.a), self.plan.activation(i, |b| self.buf(b)));
        }
    }

    /// The encoder's layers on x (rows), then the latent's heads (mean and logvar, or the code into mean).
    pub(crate) unsafe fn encode_rows(&self, rows: usize) {
        for i in 0..self.plan.n_encoder {
            self.layer_forward(i, rows);
        }
        let io = self.io(self.plan.encoder_top(), rows, false);
        self.plan.latent.forward(self.params, io.x, rows, &self.latent_bufs(), io.scratch);
    }

    /// The decoder's layers and the output layer on z (drows), into the output buffer (logits or means).
    pub(crate) unsafe fn decode_rows(&self, drows: usize) {
        for i in self.plan.n_encoder..self.plan.n_layers {
            self.layer_forward(i, drows);
        }
    }

    /// Backward through every layer from dL/d(output) in the `dout` buffer: parameter gradients (overwritten),
    /// with the prior's terms as `prior` says, for `rows` rows with `samples` draws each.
    pub(crate) unsafe fn backward(&self, rows: usize, samples: usize, prior: Prior) {
        let plan = &self.plan;
        let b = &plan.bufs;
        let drows = rows * samples;
        let ptr = |b: Buf| self.buf(b);
        // dcur holds dL/d(pre-activation) of the layer being processed; each input gradient into a layer's output
        // is turned into the gradient of its pre-activation in the same task (`below`). Input gradients go to
        // whichever of d1, d2 dcur is not.
        let (d1, d2) = (self.buf(b.d1), self.buf(b.d2));
        let other = |p: *mut f32| if p == d1 { d2 } else { d1 };
        let mut dcur = self.buf(b.dout);
        for i in (plan.n_encoder..plan.n_layers).rev() {
            let l = &plan.layers[i];
            if l.op == Op::View {
                continue;
            }
            // The first decoder layer's input is z: its input gradient is dL/dz, needed by the latent.
            let dx = other(dcur);
            l.op.backward(self.io(l.src, drows, true), dcur, Some((dx, plan.below(i, ptr))));
            dcur = dx;
        }
        // dcur = dL/dz (drows × latent). The latent's heads read the encoder's output.
        let top = plan.encoder_top();
        let io = self.io(top, rows, false);
        let dx = other(dcur);
        let into_encoder = if top == b.x { None } else { Some((dx, plan.encoder_activation(ptr))) };
        plan.latent.backward(self.params, self.grads, io.x, rows, samples, prior, &self.latent_bufs(), dcur, into_encoder, io.scratch);
        dcur = dx;
        for i in (0..plan.n_encoder).rev() {
            let l = &plan.layers[i];
            if l.op == Op::View {
                continue;
            }
            let dx = other(dcur);
            let into = if l.src == b.x { None } else { Some((dx, plan.below(i, ptr))) };
            l.op.backward(self.io(l.src, rows, false), dcur, into);
            dcur = dx;
        }
    }
}
