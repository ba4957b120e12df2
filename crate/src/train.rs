//! Training: the objective's value and gradient for a batch, and one optimizer step (one call across the boundary
//! per step: gather rows, draw binarisations and ε, forward, backward, finite check, update).
//!
//! Objective per batch of B rows with S draws of ε each (R = B·S decoder rows):
//!   loss = (1/B) Σ_i [ (1/S) Σ_s rec(x_i, dec(z_is)) + β·KL_i ],   z_is = μ_i + exp(½ lv_i) ⊙ ε_is.

use crate::data::{self, Source};
use crate::latent::Prior;
use crate::likelihood::Scale;
use crate::model::{status, Model};
use crate::optim;
use crate::par;

#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Mean over rows of the reconstruction term (averaged over ε draws).
    pub rec: f64,
    /// Mean over rows of KL(q(z|x) ‖ p(z)); 0 for an autoencoder.
    pub kl: f64,
    /// The objective: rec + β·kl.
    pub loss: f64,
}

/// What training maximises: the ELBO (one or more draws per row, analytic KL weighted by β), or the
/// importance-weighted bound L_k of Burda et al. with k = the draws per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    Elbo,
    Iwae,
}

impl Objective {
    pub fn from_u32(x: u32) -> Option<Objective> {
        match x {
            0 => Some(Objective::Elbo),
            1 => Some(Objective::Iwae),
            _ => None,
        }
    }
}

impl Model {
    /// Forward pass and loss for `rows` rows already in the x buffer with ε in the eps buffer; with `backward`,
    /// the gradient of the objective (mean over rows) into `grads`.
    /// - ELBO: loss = mean over rows of (mean over draws of rec) + β·KL.
    /// - IWAE: loss = −mean over rows of L_k, L_k = log (1/k) Σ_s w_s; its gradient weights each draw's
    ///   −∂ log w_s by the normalised weight w̃_s (Burda et al., eq. 14). The reported rec and KL are the ELBO's.
    unsafe fn forward_backward(&mut self, rows: usize, samples: usize, beta: f32, objective: Objective, backward: bool) -> Stats {
        let vae = self.plan.vae();
        let samples = if vae { samples } else { 1 };
        let drows = rows * samples;
        let lb = self.latent_bufs();
        self.encode_rows(rows);
        self.plan.latent.reparameterize(&lb, rows, samples);
        self.repeat_condition(rows, samples);
        self.decode_rows(drows);
        let iwae = vae && objective == Objective::Iwae;
        let rec_scale = 1.0 / drows as f32;
        let lik = &self.plan.likelihood;
        let scale = if backward && !iwae { Scale::All(rec_scale) } else { Scale::None };
        lik.reconstruction(self.recon_io(), rows, samples, scale);
        let mut stats = Stats::default();
        let row_rec = self.buf(self.plan.bufs.row_rec);
        for r in 0..drows {
            stats.rec += *row_rec.add(r) as f64;
        }
        stats.rec /= drows as f64;
        if vae {
            // Values now; the KL gradient is added on top of the path gradient during the backward pass.
            self.plan.latent.kl(&lb, rows, None);
            for i in 0..rows {
                stats.kl += *lb.row_kl.add(i) as f64;
            }
            stats.kl /= rows as f64;
        }
        stats.loss = stats.rec + beta as f64 * stats.kl;
        let weights = self.buf(self.plan.bufs.row_scale);
        if iwae {
            stats.loss = -self.plan.latent.importance_weights(&lb, rows, samples, row_rec, weights) / rows as f64;
            if backward {
                // dL/dout for each draw, weighted by w̃ / rows (the same terms again, now with their gradients).
                lik.reconstruction(self.recon_io(), rows, samples, Scale::PerRow(weights));
            }
        }
        if backward {
            let prior = if iwae { Prior::Weights(weights) } else { Prior::Kl(beta * (1.0 / rows as f32)) };
            self.backward(rows, samples, prior);
        }
        stats
    }

    /// One training step on the rows `idx` of `src`, with KL weight β = kl_weight · min(1, (step + 1) / warmup)
    /// (β = kl_weight when warmup is 0) from the model's own step count. ε and binarisation draws come from the
    /// training RNG. If the loss, any gradient or any value the update would write is not finite, nothing is updated
    /// (the draws stay taken) and NON_FINITE is returned.
    /// Returns the stats and β.
    ///
    /// # Safety
    /// `idx` addresses `batch` row indices < the source's rows; the workspace holds batch × samples rows.
    pub unsafe fn train_step(
        &mut self, src: Source, idx: *const u32, batch: usize, samples: usize, kl_weight: f32, warmup_steps: u32,
        binarize: bool, objective: Objective,
    ) -> Result<(Stats, f32), i32> {
        let opt = self.opt.ok_or(status::NO_OPTIMIZER)?;
        let vae = self.plan.vae();
        let samples = if vae { samples.max(1) } else { 1 };
        if batch == 0 || batch > self.ws.rows || batch * samples > self.ws.drows {
            return Err(status::BAD_ARGUMENT);
        }
        let beta = if warmup_steps == 0 {
            kl_weight
        } else {
            let ramp = (self.step as u32 as f32 + 1.0) / warmup_steps as f32;
            kl_weight * if ramp < 1.0 { ramp } else { 1.0 }
        };
        let dim = self.plan.input.len();
        let x = self.buf(self.plan.bufs.x);
        let rng_before = self.rng;
        data::gather(src, idx, 0, batch, dim, x);
        self.gather_condition(idx, 0, batch, false)?;
        if binarize {
            data::draw_bernoulli(x, batch * dim, &mut self.rng);
        }
        if vae {
            let n = batch * samples * self.plan.latent_dim();
            self.rng.fill_normal(core::slice::from_raw_parts_mut(self.buf(self.plan.bufs.eps), n));
        }
        let stats = self.forward_backward(batch, samples, beta, objective, true);
        let n = self.n_params();
        let max_g = optim::max_magnitude(self.grads, n);
        if par::failed() {
            self.rng = rng_before;
            return Err(status::WORKER_FAILED);
        }
        if !(stats.loss.is_finite() && max_g.is_finite()) {
            return Err(status::NON_FINITE);
        }
        // All or nothing. The update writes in place only when nothing can go wrong inside it: it is one chunk (so
        // no worker runs it, and none can die in it) and the magnitudes of θ, the state and g prove that no value
        // overflows. Otherwise it writes the spare pair, which becomes the model's only if no worker failed and
        // every value written is finite (finite gradients can still overflow there: lr·v, g², a large weight decay).
        let (st, slots) = self.opt_state();
        let at = |p: *mut f32| if slots > 1 { p.add(n) } else { p };
        let from = optim::Slots { theta: self.params, s1: st, s2: at(st) };
        let t = self.step + 1;
        if par::parts(n, par::PARALLEL_MIN_ELEMENTS) == 1 {
            let max_state = match self.max_state {
                Some(m) => m,
                None => optim::max_state(from, slots, n),
            };
            self.max_state = Some(max_state);
            if opt.cannot_overflow(t, max_state, max_g) {
                self.max_state = Some(optim::update_proved(&opt, t, from, self.grads, n));
                self.step += 1;
                return Ok((stats, beta));
            }
        }
        let to = match self.standby() {
            Some((theta, s1)) => optim::Slots { theta, s1, s2: at(s1) },
            None => {
                self.rng = rng_before;
                return Err(status::OUT_OF_MEMORY);
            }
        };
        let finite = optim::update_into(&opt, t, from, self.grads, to, n);
        if par::failed() {
            self.rng = rng_before;
            return Err(status::WORKER_FAILED);
        }
        if !finite {
            return Err(status::NON_FINITE);
        }
        self.swap_in_standby();
        // Known again only after the next measurement (an in-place step's proof needs one).
        self.max_state = None;
        self.step += 1;
        Ok((stats, beta))
    }

    /// Loss terms and gradients (into `grads`) for given rows and ε (rows·samples × latent), without updating.
    ///
    /// # Safety
    /// x is rows × input; eps is rows·samples × latent (ignored for an autoencoder).
    pub unsafe fn loss_and_gradients(
        &mut self, x: *const f32, rows: usize, eps: *const f32, samples: usize, beta: f32, objective: Objective,
    ) -> Result<Stats, i32> {
        let vae = self.plan.vae();
        let samples = if vae { samples.max(1) } else { 1 };
        self.reserve(rows, rows * samples)?;
        core::ptr::copy_nonoverlapping(x, self.buf(self.plan.bufs.x), rows * self.plan.input.len());
        self.gather_condition(core::ptr::null(), 0, rows, false)?;
        if vae {
            core::ptr::copy_nonoverlapping(eps, self.buf(self.plan.bufs.eps), rows * samples * self.plan.latent_dim());
        }
        Ok(self.forward_backward(rows, samples, beta, objective, true))
    }
}
