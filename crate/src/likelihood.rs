//! The reconstruction term −log p(x | decoder output), per decoder row, with its gradient with respect to the
//! output (and to the decoder's learned log-variance).

use crate::math::{self, Real};
use crate::simd::{lanes, F32x4};

/// The reconstruction term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recon {
    /// Bernoulli on logits (binary cross-entropy).
    Bernoulli,
    /// Gaussian with a fixed variance.
    Gaussian,
    /// Gaussian with a learned per-dimension log-variance.
    GaussianLearned,
    /// Squared error Σ(x − x̂)² (autoencoder).
    SquaredError,
}

impl Recon {
    pub fn from_u32(x: u32) -> Option<Recon> {
        Some(match x {
            0 => Recon::Bernoulli,
            1 => Recon::Gaussian,
            2 => Recon::GaussianLearned,
            3 => Recon::SquaredError,
            _ => return None,
        })
    }
}

const HALF_LN_2PI: f32 = 0.918_938_5;

/// The likelihood of a model: its term, the fixed variance, the data width and (learned variance) the offset of
/// the log-variance parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Likelihood {
    pub recon: Recon,
    pub variance: f32,
    pub dim: usize,
    pub logvar: usize,
}

/// The buffers of one evaluation: data x (rows × dim), decoder output `out` (rows·samples × dim), and the outputs.
#[derive(Clone, Copy)]
pub struct ReconIo {
    pub params: *const f32,
    pub grads: *mut f32,
    pub x: *const f32,
    pub out: *const f32,
    /// dL/dout (written with a gradient scale).
    pub dout: *mut f32,
    /// The term per decoder row.
    pub row_rec: *mut f32,
}

/// One element of the term, without its constant: (loss, ∂loss/∂out, ∂loss/∂lv).
/// Bernoulli: softplus(o) − x·o; Gaussian: ½(o−x)²/σ²; learned: ½((o−x)²e^{−lv} + lv); squared error: (o−x)².
#[inline(always)]
fn elem<T: Real>(recon: Recon, inv_var: f32, x: T, o: T, lv: T) -> (T, T, T) {
    match recon {
        Recon::Bernoulli => {
            let (sp, sig) = math::softplus_sigmoid(o);
            (sp.sub(x.mul(o)), sig.sub(x), T::splat(0.0))
        }
        Recon::Gaussian => {
            let d = o.sub(x);
            (d.mul(d).mul(T::splat(0.5 * inv_var)), d.mul(T::splat(inv_var)), T::splat(0.0))
        }
        Recon::GaussianLearned => {
            let iv = math::exp(lv.mul(T::splat(-1.0)));
            let d = o.sub(x);
            let d2iv = d.mul(d).mul(iv);
            (d2iv.add(lv).mul(T::splat(0.5)), d.mul(iv), T::splat(1.0).sub(d2iv).mul(T::splat(0.5)))
        }
        Recon::SquaredError => {
            let d = o.sub(x);
            (d.mul(d), d.mul(T::splat(2.0)), T::splat(0.0))
        }
    }
}

impl Likelihood {
    pub fn learned(&self) -> bool {
        self.recon == Recon::GaussianLearned
    }

    /// The term per row into io.row_rec for rows·samples decoder rows (row r reads data row r / samples); with
    /// `grad_scale` Some(c), also dL/dout = c·∂rec/∂out into io.dout and (learned variance) the log-variance
    /// gradient into io.grads.
    ///
    /// # Safety
    /// Buffers as `ReconIo` says.
    pub unsafe fn reconstruction(&self, io: ReconIo, rows: usize, samples: usize, grad_scale: Option<f32>) {
        let learned = self.learned();
        if learned && grad_scale.is_some() {
            core::ptr::write_bytes(io.grads.add(self.logvar), 0, self.dim);
        }
        // Rows are independent (each writes its own row_rec and dout row), so they split across threads; the
        // learned variance's gradient is a sum over rows, so that case stays on one thread.
        struct Task {
            lik: Likelihood,
            io: ReconIo,
            samples: usize,
            grad_scale: Option<f32>,
            drows: usize,
        }
        let drows = rows * samples;
        let parts = if learned { 1 } else { crate::par::parts(drows * self.dim, crate::par::PARALLEL_MIN_ELEMENTS) };
        crate::par::run(&Task { lik: *self, io, samples, grad_scale, drows }, parts, |t, p| {
            let (r0, r1) = p.range(t.drows, 1);
            t.lik.rows(t.io, r0, r1, t.samples, t.grad_scale)
        });
    }

    unsafe fn rows(&self, io: ReconIo, r0: usize, r1: usize, samples: usize, grad_scale: Option<f32>) {
        let dim = self.dim;
        let recon = self.recon;
        let learned = self.learned();
        let inv_var = 1.0 / self.variance;
        // Per-dimension constants of the Gaussian terms: ½ ln(2πσ²) (fixed) or ½ ln 2π (learned).
        let constant = match recon {
            Recon::Gaussian => HALF_LN_2PI + 0.5 * math::ln(self.variance),
            Recon::GaussianLearned => HALF_LN_2PI,
            _ => 0.0,
        } * dim as f32;
        let lvp = io.params.add(self.logvar);
        let dlv = io.grads.add(self.logvar);
        let c = grad_scale.unwrap_or(0.0);
        for r in r0..r1 {
            let x = io.x.add((r / samples) * dim);
            let o = io.out.add(r * dim);
            let g = io.dout.add(r * dim);
            // Lanes and tail keep separate partial sums (lanes summed as hsum), as the loss always has.
            let mut acc = F32x4::zero();
            let mut tail = 0.0f32;
            lanes!(dim, |T, j| {
                let lv = if learned { T::load(lvp.add(j)) } else { T::splat(0.0) };
                let (l, gr, glv) = elem(recon, inv_var, T::load(x.add(j)), T::load(o.add(j)), lv);
                accumulate(&mut acc, &mut tail, l);
                if grad_scale.is_some() {
                    gr.mul(T::splat(c)).store(g.add(j));
                    if learned {
                        T::load(dlv.add(j)).add(glv.mul(T::splat(c))).store(dlv.add(j));
                    }
                }
            });
            *io.row_rec.add(r) = (acc.hsum() + tail) + constant;
        }
    }

    /// Applies the output link in place: σ for Bernoulli/BCE, identity otherwise.
    ///
    /// # Safety
    /// p addresses n floats.
    pub unsafe fn link(&self, p: *mut f32, n: usize) {
        if self.recon == Recon::Bernoulli {
            lanes!(n, |T, i| {
                math::sigmoid(T::load(p.add(i))).store(p.add(i));
            });
        }
    }
}

/// Adds a lane vector to the vector accumulator, or a scalar to the scalar one.
trait Accumulate: Real {
    fn into(self, acc: &mut F32x4, tail: &mut f32);
}

impl Accumulate for F32x4 {
    #[inline(always)]
    fn into(self, acc: &mut F32x4, _: &mut f32) {
        *acc = acc.add(self);
    }
}

impl Accumulate for f32 {
    #[inline(always)]
    fn into(self, _: &mut F32x4, tail: &mut f32) {
        *tail += self;
    }
}

#[inline(always)]
fn accumulate<T: Accumulate>(acc: &mut F32x4, tail: &mut f32, v: T) {
    v.into(acc, tail);
}
