//! Inference: codes, decodings, reconstructions, prior samples, the ELBO's terms and the importance-weighted bound.
//! Rows go in chunks so memory stays small for any number of rows and draws; chunks do not depend on the training
//! batch size, so results do not either.

use crate::data::{self, Source};
use crate::likelihood::Scale;
use crate::math::{exp_f64_nonpos, ln_f64};
use crate::model::{status, Model};
use crate::rng::Pcg32;

/// Rows per chunk of the inference operations, and decoder rows per pass of the bounds.
const CHUNK: usize = 256;
const PASS: usize = 1024;

impl Model {
    /// Rows processed per chunk by the one-draw operations.
    fn chunk_rows(&mut self) -> Result<usize, i32> {
        if self.ws.rows < CHUNK || self.ws.drows < CHUNK {
            self.reserve(CHUNK, CHUNK)?;
        }
        Ok(self.ws.rows.min(self.ws.drows))
    }

    /// Draws per pass and rows per chunk for `samples` draws per row, so that a decoder pass has about PASS rows;
    /// reserves the workspace for them.
    fn passes(&mut self, samples: usize) -> Result<(usize, usize), i32> {
        let draws = samples.min(PASS);
        let rows = (PASS / draws).clamp(1, CHUNK);
        self.reserve(rows, rows * draws)?;
        Ok((draws, rows))
    }

    /// Data rows start..start + rows into x, and their condition rows (a conditional model).
    fn gather_x(&self, src: Source, start: usize, rows: usize) -> Result<(), i32> {
        unsafe {
            data::gather(src, core::ptr::null(), start, rows, self.plan.input.len(), self.buf(self.plan.bufs.x));
            self.gather_condition(core::ptr::null(), start, rows, false)
        }
    }

    /// Sum over rows of the reconstruction term (mean over `samples` ε draws from `rng`) and of the KL, and, if
    /// given, per-row values and each element's share of its row's reconstruction term (n × input, mean over
    /// draws: anomaly scores per column or pixel).
    ///
    /// # Safety
    /// src addresses n rows; the outputs hold n (per row) and n × input (per element) floats.
    pub unsafe fn evaluate(
        &mut self, src: Source, n: usize, samples: usize, rng: &mut Pcg32, per_row: Option<(*mut f32, *mut f32)>,
        per_elem: Option<*mut f32>,
    ) -> Result<(f64, f64), i32> {
        let vae = self.plan.vae();
        let samples = if vae { samples.max(1) } else { 1 };
        let (draws, rows_per_chunk) = self.passes(samples)?;
        let lat = self.plan.latent_dim();
        let lb = self.latent_bufs();
        let row_rec = self.buf(self.plan.bufs.row_rec);
        let dim = self.plan.input.len();
        // Elements' shares are written into the (otherwise unused) output-gradient buffer, then summed per row.
        let mut io = self.recon_io();
        if per_elem.is_some() {
            io.elem = io.dout;
            core::ptr::write_bytes(per_elem.unwrap_or(core::ptr::null_mut()), 0, n * dim);
        }
        let (mut rec, mut kl) = (0.0f64, 0.0f64);
        let mut rec_sum = [0.0f64; CHUNK];
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(rows_per_chunk);
            self.gather_x(src, start, rows)?;
            rec_sum[..rows].fill(0.0);
            self.encode_rows(rows);
            let mut done = 0;
            while done < samples {
                let s = (samples - done).min(draws);
                if vae {
                    rng.fill_normal(core::slice::from_raw_parts_mut(lb.eps, rows * s * lat));
                }
                self.plan.latent.reparameterize(&lb, rows, s);
                self.repeat_condition(rows, s);
                self.decode_rows(rows * s);
                self.plan.likelihood.reconstruction(io, rows, s, Scale::None);
                for i in 0..rows {
                    for d in 0..s {
                        rec_sum[i] += *row_rec.add(i * s + d) as f64;
                    }
                }
                if let Some(pe) = per_elem {
                    for i in 0..rows {
                        let to = pe.add((start + i) * dim);
                        for d in 0..s {
                            let from = io.elem.add((i * s + d) * dim);
                            for j in 0..dim {
                                *to.add(j) += *from.add(j);
                            }
                        }
                    }
                }
                done += s;
            }
            if let Some(pe) = per_elem {
                let inv = 1.0 / samples as f32;
                for j in 0..rows * dim {
                    *pe.add(start * dim + j) *= inv;
                }
            }
            if vae {
                self.plan.latent.kl(&lb, rows, None);
            }
            for i in 0..rows {
                let r = rec_sum[i] / samples as f64;
                let k = if vae { *lb.row_kl.add(i) as f64 } else { 0.0 };
                rec += r;
                kl += k;
                if let Some((pr, pk)) = per_row {
                    *pr.add(start + i) = r as f32;
                    *pk.add(start + i) = k as f32;
                }
            }
            start += rows;
        }
        Ok((rec, kl))
    }

    /// Importance-weighted bound (Burda et al. 2015) for each of n rows:
    ///   L_k(x) = log (1/k) Σ_i w_i,  w_i = p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ q(z|x),
    /// with a streaming log-sum-exp (running maximum, f64 sum). Also the mean of log w_i over the same draws, an
    /// ELBO estimate, so L_k − that mean ≥ 0 is the (estimated) gap KL(q(z|x) ‖ p(z|x)).
    /// The ½·L·ln 2π terms of log p(z) and log q(z|x) cancel and are left out.
    ///
    /// # Safety
    /// src addresses n rows; the outputs hold n f64 each.
    pub unsafe fn log_likelihood(&mut self, src: Source, n: usize, k: usize, rng: &mut Pcg32, out_lk: *mut f64, out_mean_logw: *mut f64) -> Result<(), i32> {
        if !self.plan.vae() || k == 0 {
            return Err(status::BAD_ARGUMENT);
        }
        let (draws, rows_per_chunk) = self.passes(k)?;
        let lat = self.plan.latent_dim();
        let b = self.latent_bufs();
        let row_rec = self.buf(self.plan.bufs.row_rec);
        let mut max = [0.0f64; CHUNK];
        let mut sum = [0.0f64; CHUNK];
        let mut sum_logw = [0.0f64; CHUNK];
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(rows_per_chunk);
            self.gather_x(src, start, rows)?;
            for i in 0..rows {
                max[i] = f64::NEG_INFINITY;
                sum[i] = 0.0;
                sum_logw[i] = 0.0;
            }
            self.encode_rows(rows);
            let mut done = 0;
            while done < k {
                let s = (k - done).min(draws);
                rng.fill_normal(core::slice::from_raw_parts_mut(b.eps, rows * s * lat));
                self.plan.latent.reparameterize(&b, rows, s);
                self.repeat_condition(rows, s);
                self.decode_rows(rows * s);
                self.plan.likelihood.reconstruction(self.recon_io(), rows, s, Scale::None);
                for i in 0..rows {
                    let half_lv = self.plan.latent.half_sum_logvar(&b, i);
                    for d in 0..s {
                        let r = i * s + d;
                        let logw = self.plan.latent.log_weight(&b, r, *row_rec.add(r), half_lv);
                        sum_logw[i] += logw;
                        if logw > max[i] {
                            sum[i] = sum[i] * exp_f64_nonpos(max[i] - logw) + 1.0;
                            max[i] = logw;
                        } else {
                            sum[i] += exp_f64_nonpos(logw - max[i]);
                        }
                    }
                }
                done += s;
            }
            for i in 0..rows {
                *out_lk.add(start + i) = max[i] + ln_f64(sum[i]) - ln_f64(k as f64);
                *out_mean_logw.add(start + i) = sum_logw[i] / k as f64;
            }
            start += rows;
        }
        Ok(())
    }

    /// Encoder outputs for n rows: mean and log-variance (VAE) or the code (autoencoder, into `mean_out`).
    ///
    /// # Safety
    /// Outputs hold n × latent floats (logvar_out unused for an autoencoder).
    pub unsafe fn encode(&mut self, src: Source, n: usize, mean_out: *mut f32, logvar_out: *mut f32) -> Result<(), i32> {
        let chunk = self.chunk_rows()?;
        let lat = self.plan.latent_dim();
        let b = self.latent_bufs();
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(chunk);
            self.gather_x(src, start, rows)?;
            self.encode_rows(rows);
            core::ptr::copy_nonoverlapping(b.mean, mean_out.add(start * lat), rows * lat);
            if self.plan.vae() {
                core::ptr::copy_nonoverlapping(b.logvar, logvar_out.add(start * lat), rows * lat);
            }
            start += rows;
        }
        Ok(())
    }

    /// Decodes the codes in z (rows × latent, already in the z buffer) and copies the outputs (probabilities or
    /// means; raw logits with `logits`) to `out`.
    unsafe fn decode_into(&self, rows: usize, out: *mut f32, logits: bool) {
        let dim = self.plan.input.len();
        let o = self.buf(self.plan.bufs.out);
        self.decode_rows(rows);
        if !logits {
            self.plan.likelihood.link(o, rows);
        }
        core::ptr::copy_nonoverlapping(o, out, rows * dim);
    }

    /// Decodes n codes (n × latent) into n × input outputs.
    ///
    /// # Safety
    /// Shapes as stated.
    pub unsafe fn decode(&mut self, z: *const f32, n: usize, out: *mut f32, logits: bool) -> Result<(), i32> {
        let chunk = self.chunk_rows()?;
        let (dim, lat) = (self.plan.input.len(), self.plan.latent_dim());
        let zb = self.latent_bufs().z;
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(chunk);
            core::ptr::copy_nonoverlapping(z.add(start * lat), zb, rows * lat);
            self.gather_condition(core::ptr::null(), start, rows, true)?;
            self.decode_into(rows, out.add(start * dim), logits);
            start += rows;
        }
        Ok(())
    }

    /// decode(encoder mean) for n rows.
    ///
    /// # Safety
    /// out holds n × input floats.
    pub unsafe fn reconstruct(&mut self, src: Source, n: usize, out: *mut f32) -> Result<(), i32> {
        let chunk = self.chunk_rows()?;
        let (dim, lat) = (self.plan.input.len(), self.plan.latent_dim());
        let b = self.latent_bufs();
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(chunk);
            self.gather_x(src, start, rows)?;
            self.encode_rows(rows);
            core::ptr::copy_nonoverlapping(b.mean, b.z, rows * lat);
            self.repeat_condition(rows, 1);
            self.decode_into(rows, out.add(start * dim), false);
            start += rows;
        }
        Ok(())
    }

    /// n draws z ~ N(0, I) from `rng`, decoded (probabilities or means).
    ///
    /// # Safety
    /// out holds n × input floats.
    pub unsafe fn sample(&mut self, n: usize, rng: &mut Pcg32, out: *mut f32) -> Result<(), i32> {
        let chunk = self.chunk_rows()?;
        let (dim, lat) = (self.plan.input.len(), self.plan.latent_dim());
        let zb = self.latent_bufs().z;
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(chunk);
            rng.fill_normal(core::slice::from_raw_parts_mut(zb, rows * lat));
            self.gather_condition(core::ptr::null(), start, rows, true)?;
            self.decode_into(rows, out.add(start * dim), false);
            start += rows;
        }
        Ok(())
    }
}
