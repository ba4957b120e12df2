//! The code between encoder and decoder. A VAE's is Gaussian: two dense heads give q(z|x) = N(μ, diag e^{lv}),
//! z = μ + e^{½lv} ⊙ ε (the reparameterisation, so gradients flow through μ and lv), and the KL term to
//! p(z) = N(0, I), −½ Σ(1 + lv − μ² − e^{lv}), with their gradients side by side. An autoencoder's is one dense head,
//! the code itself.

use crate::act::Activation;
use crate::math::{self, exp_f64_nonpos, ln_f64, Real};
use crate::ops::Dense;
use crate::simd::wide_lanes;

/// How the prior enters the gradient: the ELBO's analytic KL term (weighted by β / rows), or the
/// importance-weighted bound's per-draw terms, each decoder row weighted by its normalised weight / rows.
#[derive(Clone, Copy)]
pub enum Prior {
    Kl(f32),
    Weights(*const f32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latent {
    Gaussian { mean: Dense, logvar: Dense },
    Code(Dense),
}

/// The latent's buffers: per encoder row mean, logvar, std and their gradients (an autoencoder's code is `mean`);
/// per decoder row ε and z.
#[derive(Clone, Copy)]
pub struct LatentBufs {
    pub mean: *mut f32,
    pub logvar: *mut f32,
    pub std: *mut f32,
    pub dmean: *mut f32,
    pub dlogvar: *mut f32,
    pub eps: *mut f32,
    pub z: *mut f32,
    pub row_kl: *mut f32,
    /// The condition rows the heads read (null unless the condition joins at the heads).
    pub cond: *const f32,
}

impl Latent {
    pub fn dim(&self) -> usize {
        match self {
            Latent::Gaussian { mean, .. } => mean.fan_out,
            Latent::Code(code) => code.fan_out,
        }
    }

    pub fn gaussian(&self) -> bool {
        matches!(self, Latent::Gaussian { .. })
    }

    /// The heads on the encoder's output h (rows × fan_in): mean and logvar, or the code (into `mean`).
    ///
    /// # Safety
    /// Buffers hold `rows` rows.
    pub unsafe fn forward(&self, params: *const f32, h: *const f32, rows: usize, b: &LatentBufs, scratch: *mut f32) {
        match self {
            Latent::Gaussian { mean, logvar } => {
                mean.forward(params, h, b.cond, rows, b.mean, None, scratch);
                logvar.forward(params, h, b.cond, rows, b.logvar, None, scratch);
            }
            Latent::Code(code) => code.forward(params, h, b.cond, rows, b.mean, None, scratch),
        }
    }

    /// std = exp(½ lv); z_rs = μ_r + std_r ⊙ ε_rs for rows·samples decoder rows. Autoencoder: z = code.
    ///
    /// # Safety
    /// ε holds rows·samples draws (VAE).
    pub unsafe fn reparameterize(&self, b: &LatentBufs, rows: usize, samples: usize) {
        let lat = self.dim();
        if !self.gaussian() {
            core::ptr::copy_nonoverlapping(b.mean, b.z, rows * lat);
            return;
        }
        let (lv, sd) = (b.logvar, b.std);
        wide_lanes!(rows * lat, |T, i| {
            math::exp(T::load(lv.add(i)).mul(T::splat(0.5))).store(sd.add(i));
        });
        for i in 0..rows {
            for s in 0..samples {
                let r = i * samples + s;
                let (mu, sd) = (b.mean.add(i * lat), b.std.add(i * lat));
                let (e, z) = (b.eps.add(r * lat), b.z.add(r * lat));
                for k in 0..lat {
                    *z.add(k) = *mu.add(k) + *sd.add(k) * *e.add(k);
                }
            }
        }
    }

    /// KL per row into row_kl; with Some(c), adds c·∂KL/∂μ and c·∂KL/∂lv to dmean / dlogvar.
    ///
    /// # Safety
    /// Buffers hold `rows` rows; `reparameterize` has computed std.
    pub unsafe fn kl(&self, b: &LatentBufs, rows: usize, grad_scale: Option<f32>) {
        let lat = self.dim();
        for i in 0..rows {
            let (mu, lv, sd) = (b.mean.add(i * lat), b.logvar.add(i * lat), b.std.add(i * lat));
            let mut s = 0.0f32;
            for k in 0..lat {
                let (m, l) = (*mu.add(k), *lv.add(k));
                // e^{lv} as std², reusing the exponential computed for the reparameterisation.
                let var = *sd.add(k) * *sd.add(k);
                s += 1.0 + l - m * m - var;
                if let Some(c) = grad_scale {
                    *b.dmean.add(i * lat + k) += c * m;
                    *b.dlogvar.add(i * lat + k) += c * 0.5 * (var - 1.0);
                }
            }
            *b.row_kl.add(i) = -0.5 * s;
        }
    }

    /// ½ Σ lv of row i: the log q(z|x) normaliser the importance weights need.
    pub unsafe fn half_sum_logvar(&self, b: &LatentBufs, i: usize) -> f32 {
        let lat = self.dim();
        let lv = b.logvar.add(i * lat);
        let mut s = 0.0f32;
        for q in 0..lat {
            s += 0.5 * *lv.add(q);
        }
        s
    }

    /// log w for decoder row r of data row i (Burda et al.): log p(x|z) + log p(z) − log q(z|x) =
    /// −rec_r − ½Σz² + ½Σε² + ½Σ lv, with `half_lv` = ½Σ lv of row i (the ½·L·ln 2π of p and q cancel).
    ///
    /// # Safety
    /// `reparameterize` has filled z for row r.
    pub unsafe fn log_weight(&self, b: &LatentBufs, r: usize, rec: f32, half_lv: f32) -> f64 {
        let lat = self.dim();
        let (z, e) = (b.z.add(r * lat), b.eps.add(r * lat));
        let mut t = 0.0f32;
        for q in 0..lat {
            t += 0.5 * (*e.add(q) * *e.add(q) - *z.add(q) * *z.add(q));
        }
        (-rec + t + half_lv) as f64
    }

    /// The importance-weighted objective of rows·samples draws: Σ_i L_k(i) with L_k(i) = log (1/k) Σ_s w_is (a
    /// log-sum-exp in f64), and each decoder row's gradient scale w̃_is / rows (its normalised weight) into `scale`.
    ///
    /// # Safety
    /// `row_rec` holds the reconstruction term of every decoder row; `scale` rows·samples floats.
    pub unsafe fn importance_weights(&self, b: &LatentBufs, rows: usize, samples: usize, row_rec: *const f32, scale: *mut f32) -> f64 {
        let mut total = 0.0f64;
        for i in 0..rows {
            let half_lv = self.half_sum_logvar(b, i);
            // Each draw's log w (an f32, so held exactly in `scale` until its weight replaces it).
            let w = scale.add(i * samples);
            let mut max = f64::NEG_INFINITY;
            for s in 0..samples {
                let lw = self.log_weight(b, i * samples + s, *row_rec.add(i * samples + s), half_lv);
                *w.add(s) = lw as f32;
                if lw > max {
                    max = lw;
                }
            }
            let sum: f64 = (0..samples).map(|s| exp_f64_nonpos(*w.add(s) as f64 - max)).sum();
            for s in 0..samples {
                *w.add(s) = (exp_f64_nonpos(*w.add(s) as f64 - max) / sum / rows as f64) as f32;
            }
            total += max + ln_f64(sum) - ln_f64(samples as f64);
        }
        total
    }

    /// From dL/dz (rows·samples × dim, in `dz`): the heads' parameter gradients (with the prior's: the KL term's,
    /// weighted by β / rows, or the importance-weighted bound's) and, with `dx`, dL/dh into dx times the
    /// derivative of the activation below.
    ///
    /// # Safety
    /// As `forward`; dz holds rows·samples rows; dx does not alias dz.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn backward(
        &self, params: *const f32, grads: *mut f32, h: *const f32, rows: usize, samples: usize, prior: Prior,
        b: &LatentBufs, dz: *const f32, dx: Option<(*mut f32, Option<Activation>)>, scratch: *mut f32,
    ) {
        match self {
            Latent::Gaussian { mean, logvar } => {
                let lat = mean.fan_out;
                for i in 0..rows {
                    for k in 0..lat {
                        let (mut gm, mut gl, mut gc) = (0.0f32, 0.0f32, 0.0f32);
                        for smp in 0..samples {
                            let r = i * samples + smp;
                            let mut d = *dz.add(r * lat + k);
                            if let Prior::Weights(c) = prior {
                                // −log w's prior and entropy terms: ∂/∂z of ½z² (times the row's weight), and the
                                // −½ of ½Σ lv below.
                                let c = *c.add(r);
                                d += c * *b.z.add(r * lat + k);
                                gc += c;
                            }
                            gm += d;
                            gl += d * *b.eps.add(r * lat + k);
                        }
                        *b.dmean.add(i * lat + k) = gm;
                        *b.dlogvar.add(i * lat + k) = match prior {
                            Prior::Kl(_) => gl * (0.5 * *b.std.add(i * lat + k)),
                            Prior::Weights(_) => gl * (0.5 * *b.std.add(i * lat + k)) - 0.5 * gc,
                        };
                    }
                }
                if let Prior::Kl(kl_scale) = prior {
                    self.kl(b, rows, Some(kl_scale));
                }
                mean.param_grads(grads, h, b.cond, b.dmean, rows, scratch);
                logvar.param_grads(grads, h, b.cond, b.dlogvar, rows, scratch);
                if let Some((dx, below)) = dx {
                    mean.input_grad(params, b.dmean, rows, dx, false, None, scratch);
                    logvar.input_grad(params, b.dlogvar, rows, dx, true, below, scratch);
                }
            }
            Latent::Code(code) => {
                code.param_grads(grads, h, b.cond, dz, rows, scratch);
                if let Some((dx, below)) = dx {
                    code.input_grad(params, dz, rows, dx, false, below, scratch);
                }
            }
        }
    }
}
