//! The VAE and the classical autoencoder: parameter layout, forward pass, loss, backward pass, training step.
//!
//! Parameters live in one flat f32 buffer (gradients and optimizer state mirror it), tensors in this order:
//! encoder hidden layers (W, b each), then the VAE heads `mean` (W, b) and `logVar` (W, b) — or the autoencoder's
//! `code` (W, b) —, decoder hidden layers, the output layer, and (Gaussian, learned variance) the decoder's
//! per-dimension log-variance. W is fan_in × fan_out, row-major. Each tensor starts on a 16-byte boundary.
//!
//! Objective per batch of B rows with S draws of ε each (R = B·S decoder rows):
//!   loss = (1/B) Σ_i [ (1/S) Σ_s rec(x_i, dec(z_is)) + β·KL_i ],   z_is = μ_i + exp(½ lv_i) ⊙ ε_is,
//!   KL_i = −½ Σ_k (1 + lv_ik − μ_ik² − exp(lv_ik)).

use crate::gemm::SCRATCH as GEMM_SCRATCH;
use crate::math::{self, Real};
use crate::mem;
use crate::nn::{self, Act, Dense};
use crate::optim::{self, OptConfig, OptKind};
use crate::rng::Pcg32;
use crate::simd::F32x4;

pub const MAX_HIDDEN: usize = 8;
/// Upper bound on any width, so sizes stay far from overflow in 32-bit arithmetic.
pub const MAX_WIDTH: usize = 1 << 20;
pub const MAX_PARAMS: usize = 1 << 28;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Vae,
    Autoencoder,
}

/// The reconstruction term −log p(x | decoder output).
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    LecunUniform,
    GlorotUniform,
    Normal,
}

#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub kind: Kind,
    pub recon: Recon,
    pub act: Act,
    pub slope: f32,
    pub variance: f32,
    pub init: Init,
    pub init_std: f32,
    pub seed: u32,
    pub input: usize,
    pub latent: usize,
    pub n_enc: usize,
    pub enc: [usize; MAX_HIDDEN],
    pub n_dec: usize,
    pub dec: [usize; MAX_HIDDEN],
}

/// Status codes returned across the boundary (TypeScript maps them to messages).
pub mod status {
    pub const OK: i32 = 0;
    pub const BAD_CONFIG: i32 = 1;
    pub const OUT_OF_MEMORY: i32 = 2;
    pub const NON_FINITE: i32 = 3;
    pub const BAD_ARGUMENT: i32 = 4;
    pub const NO_OPTIMIZER: i32 = 5;
    /// A worker thread failed during the call; nothing was updated.
    pub const WORKER_FAILED: i32 = 6;
}

impl Config {
    /// Decodes the word array TypeScript writes (see ts/core/abi.ts): kind, recon, act, slope bits,
    /// variance bits, init, init_std bits, seed, input, latent, n_enc, n_dec, enc widths…, dec widths….
    pub fn from_words(w: &[u32]) -> Option<Config> {
        if w.len() < 12 {
            return None;
        }
        let kind = match w[0] {
            0 => Kind::Vae,
            1 => Kind::Autoencoder,
            _ => return None,
        };
        let recon = match w[1] {
            0 => Recon::Bernoulli,
            1 => Recon::Gaussian,
            2 => Recon::GaussianLearned,
            3 => Recon::SquaredError,
            _ => return None,
        };
        let act = Act::from_u32(w[2])?;
        let slope = f32::from_bits(w[3]);
        let variance = f32::from_bits(w[4]);
        let init = match w[5] {
            0 => Init::LecunUniform,
            1 => Init::GlorotUniform,
            2 => Init::Normal,
            _ => return None,
        };
        let init_std = f32::from_bits(w[6]);
        let (n_enc, n_dec) = (w[10] as usize, w[11] as usize);
        if n_enc > MAX_HIDDEN || n_dec > MAX_HIDDEN || w.len() != 12 + n_enc + n_dec {
            return None;
        }
        let mut cfg = Config {
            kind,
            recon,
            act,
            slope,
            variance,
            init,
            init_std,
            seed: w[7],
            input: w[8] as usize,
            latent: w[9] as usize,
            n_enc,
            enc: [0; MAX_HIDDEN],
            n_dec,
            dec: [0; MAX_HIDDEN],
        };
        for l in 0..n_enc {
            cfg.enc[l] = w[12 + l] as usize;
        }
        for l in 0..n_dec {
            cfg.dec[l] = w[12 + n_enc + l] as usize;
        }
        let widths_ok = cfg.enc[..n_enc].iter().chain(cfg.dec[..n_dec].iter()).chain([cfg.input, cfg.latent].iter()).all(|&d| d >= 1 && d <= MAX_WIDTH);
        let kind_ok = match kind {
            Kind::Vae => recon != Recon::SquaredError,
            Kind::Autoencoder => recon == Recon::Bernoulli || recon == Recon::SquaredError,
        };
        let numbers_ok = slope.is_finite() && variance.is_finite() && variance > 0.0 && init_std.is_finite() && init_std >= 0.0;
        if !(widths_ok && kind_ok && numbers_ok) {
            return None;
        }
        Some(cfg)
    }
}

/// What a tensor is, for naming on the TypeScript side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Role {
    EncoderWeight = 0,
    EncoderBias = 1,
    MeanWeight = 2,
    MeanBias = 3,
    LogVarWeight = 4,
    LogVarBias = 5,
    CodeWeight = 6,
    CodeBias = 7,
    DecoderWeight = 8,
    DecoderBias = 9,
    OutWeight = 10,
    OutBias = 11,
    DecoderLogVar = 12,
}

#[derive(Clone, Copy, Debug)]
pub struct TensorInfo {
    pub role: Role,
    /// Hidden-layer index for encoder/decoder layers, else 0.
    pub index: usize,
    pub rows: usize,
    pub cols: usize,
    pub offset: usize,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Layout {
    pub enc: [Dense; MAX_HIDDEN],
    /// VAE: the mean head; autoencoder: the code layer.
    pub mean: Dense,
    /// VAE only.
    pub logvar: Dense,
    pub dec: [Dense; MAX_HIDDEN],
    pub out: Dense,
    /// Offset of the decoder's log-variance (Gaussian, learned), else 0 and unused.
    pub dec_logvar: usize,
    pub n_params: usize,
    /// Widest layer output, for scratch sizing.
    pub max_width: usize,
}

fn align4(x: usize) -> usize {
    (x + 3) & !3
}

impl Layout {
    pub fn new(cfg: &Config) -> Option<Layout> {
        let mut lay = Layout::default();
        let mut at = 0usize;
        let mut take = |fan_in: usize, fan_out: usize| -> Option<Dense> {
            let w = at;
            let b = align4(w.checked_add(fan_in.checked_mul(fan_out)?)?);
            at = align4(b.checked_add(fan_out)?);
            if at > MAX_PARAMS {
                return None;
            }
            Some(Dense { fan_in, fan_out, w, b })
        };
        let mut prev = cfg.input;
        for l in 0..cfg.n_enc {
            lay.enc[l] = take(prev, cfg.enc[l])?;
            prev = cfg.enc[l];
        }
        lay.mean = take(prev, cfg.latent)?;
        if cfg.kind == Kind::Vae {
            lay.logvar = take(prev, cfg.latent)?;
        }
        prev = cfg.latent;
        for l in 0..cfg.n_dec {
            lay.dec[l] = take(prev, cfg.dec[l])?;
            prev = cfg.dec[l];
        }
        lay.out = take(prev, cfg.input)?;
        if cfg.recon == Recon::GaussianLearned {
            lay.dec_logvar = at;
            at = align4(at.checked_add(cfg.input)?);
        }
        if at > MAX_PARAMS {
            return None;
        }
        lay.n_params = at;
        let mut mw = cfg.latent.max(cfg.input);
        for l in 0..cfg.n_enc {
            mw = mw.max(cfg.enc[l]);
        }
        for l in 0..cfg.n_dec {
            mw = mw.max(cfg.dec[l]);
        }
        lay.max_width = mw;
        Some(lay)
    }

    /// Every tensor in storage order.
    pub fn tensors(&self, cfg: &Config, out: &mut [TensorInfo; 4 * MAX_HIDDEN + 8]) -> usize {
        let mut n = 0;
        let mut push = |role: Role, index: usize, rows: usize, cols: usize, offset: usize| {
            out[n] = TensorInfo { role, index, rows, cols, offset };
            n += 1;
        };
        for l in 0..cfg.n_enc {
            let d = self.enc[l];
            push(Role::EncoderWeight, l, d.fan_in, d.fan_out, d.w);
            push(Role::EncoderBias, l, 1, d.fan_out, d.b);
        }
        let d = self.mean;
        match cfg.kind {
            Kind::Vae => {
                push(Role::MeanWeight, 0, d.fan_in, d.fan_out, d.w);
                push(Role::MeanBias, 0, 1, d.fan_out, d.b);
                let d = self.logvar;
                push(Role::LogVarWeight, 0, d.fan_in, d.fan_out, d.w);
                push(Role::LogVarBias, 0, 1, d.fan_out, d.b);
            }
            Kind::Autoencoder => {
                push(Role::CodeWeight, 0, d.fan_in, d.fan_out, d.w);
                push(Role::CodeBias, 0, 1, d.fan_out, d.b);
            }
        }
        for l in 0..cfg.n_dec {
            let d = self.dec[l];
            push(Role::DecoderWeight, l, d.fan_in, d.fan_out, d.w);
            push(Role::DecoderBias, l, 1, d.fan_out, d.b);
        }
        let d = self.out;
        push(Role::OutWeight, 0, d.fan_in, d.fan_out, d.w);
        push(Role::OutBias, 0, 1, d.fan_out, d.b);
        if cfg.recon == Recon::GaussianLearned {
            push(Role::DecoderLogVar, 0, 1, cfg.input, self.dec_logvar);
        }
        n
    }
}

/// Per-step buffers, carved from one allocation sized for `rows` encoder rows and `drows` decoder rows.
#[derive(Clone, Copy)]
struct Bufs {
    x: *mut f32,
    enc_a: [*mut f32; MAX_HIDDEN],
    enc_h: [*mut f32; MAX_HIDDEN],
    mean: *mut f32,
    logvar: *mut f32,
    std: *mut f32,
    eps: *mut f32,
    z: *mut f32,
    dec_a: [*mut f32; MAX_HIDDEN],
    dec_h: [*mut f32; MAX_HIDDEN],
    out: *mut f32,
    dout: *mut f32,
    d1: *mut f32,
    d2: *mut f32,
    dmean: *mut f32,
    dlogvar: *mut f32,
    row_rec: *mut f32,
    row_kl: *mut f32,
    scratch: *mut f32,
}

#[derive(Clone, Copy)]
struct Workspace {
    base: *mut f32,
    rows: usize,
    drows: usize,
}

pub struct Model {
    pub cfg: Config,
    pub lay: Layout,
    /// params, then grads (one allocation).
    pub params: *mut f32,
    pub grads: *mut f32,
    pub opt: Option<OptConfig>,
    /// Optimizer state: `opt.kind.slots()` buffers of n_params each (one allocation).
    opt_state: *mut f32,
    opt_state_kind: Option<OptKind>,
    /// Optimizer steps taken with the current optimizer state.
    pub step: u64,
    /// Training stream: shuffling, ε, binarisation.
    pub rng: Pcg32,
    /// Evaluation stream: `sample`, `elbo` and validation draws when no seed is given.
    pub aux: Pcg32,
    /// Threads this model's calls may use (see `crate::par`); 1 by default.
    pub threads: usize,
    ws: Workspace,
}

/// Where a batch's input rows come from.
#[derive(Clone, Copy)]
pub enum Source {
    /// Bytes 0–255, scaled by 1/255.
    U8(*const u8),
    F32(*const f32),
}

impl Source {
    /// Copies row `r` (dim values) to `dst`.
    unsafe fn copy_row(self, r: usize, dim: usize, dst: *mut f32) {
        match self {
            Source::U8(p) => {
                let src = p.add(r * dim);
                for j in 0..dim {
                    *dst.add(j) = *src.add(j) as f32 / 255.0;
                }
            }
            Source::F32(p) => core::ptr::copy_nonoverlapping(p.add(r * dim), dst, dim),
        }
    }
}

/// Replaces each of n values v in [0, 1] by a draw from Bernoulli(v), in order.
unsafe fn draw_bernoulli(p: *mut f32, n: usize, rng: &mut Pcg32) {
    for j in 0..n {
        *p.add(j) = if rng.uniform() < *p.add(j) { 1.0 } else { 0.0 };
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Mean over rows of the reconstruction term (averaged over ε draws).
    pub rec: f64,
    /// Mean over rows of KL(q(z|x) ‖ p(z)); 0 for an autoencoder.
    pub kl: f64,
    /// The objective: rec + β·kl.
    pub loss: f64,
}

unsafe fn fill(p: *mut f32, n: usize, v: f32) {
    for i in 0..n {
        *p.add(i) = v;
    }
}

impl Model {
    pub fn new(cfg: Config) -> Result<Model, i32> {
        let lay = Layout::new(&cfg).ok_or(status::BAD_CONFIG)?;
        let params = mem::alloc_f32(2 * lay.n_params);
        if params.is_null() {
            return Err(status::OUT_OF_MEMORY);
        }
        let grads = unsafe { params.add(lay.n_params) };
        let seed = cfg.seed as u64;
        let mut m = Model {
            cfg,
            lay,
            params,
            grads,
            opt: None,
            opt_state: core::ptr::null_mut(),
            opt_state_kind: None,
            step: 0,
            rng: Pcg32::new(seed, 1),
            aux: Pcg32::new(seed, 2),
            threads: 1,
            ws: Workspace { base: core::ptr::null_mut(), rows: 0, drows: 0 },
        };
        unsafe {
            fill(m.params, 2 * lay.n_params, 0.0);
            m.initialize(Pcg32::new(seed, 0));
        }
        Ok(m)
    }

    /// Draws every weight and bias in storage order (rows, then columns) from `rng`.
    unsafe fn initialize(&mut self, mut rng: Pcg32) {
        let cfg = self.cfg;
        let mut layers = [Dense::default(); 2 * MAX_HIDDEN + 3];
        let mut n = 0;
        for l in 0..cfg.n_enc {
            layers[n] = self.lay.enc[l];
            n += 1;
        }
        layers[n] = self.lay.mean;
        n += 1;
        if cfg.kind == Kind::Vae {
            layers[n] = self.lay.logvar;
            n += 1;
        }
        for l in 0..cfg.n_dec {
            layers[n] = self.lay.dec[l];
            n += 1;
        }
        layers[n] = self.lay.out;
        n += 1;
        for d in &layers[..n] {
            let (w, b) = (self.params.add(d.w), self.params.add(d.b));
            let (nw, nb) = (d.fan_in * d.fan_out, d.fan_out);
            match cfg.init {
                Init::LecunUniform => {
                    let bound = 1.0 / crate::simd::sqrt_f32(d.fan_in as f32);
                    for i in 0..nw {
                        *w.add(i) = (2.0 * rng.uniform() - 1.0) * bound;
                    }
                    for i in 0..nb {
                        *b.add(i) = (2.0 * rng.uniform() - 1.0) * bound;
                    }
                }
                Init::GlorotUniform => {
                    let bound = crate::simd::sqrt_f32(6.0 / (d.fan_in + d.fan_out) as f32);
                    for i in 0..nw {
                        *w.add(i) = (2.0 * rng.uniform() - 1.0) * bound;
                    }
                    fill(b, nb, 0.0);
                }
                Init::Normal => {
                    for i in 0..nw {
                        *w.add(i) = rng.normal() * cfg.init_std;
                    }
                    for i in 0..nb {
                        *b.add(i) = rng.normal() * cfg.init_std;
                    }
                }
            }
        }
        if cfg.recon == Recon::GaussianLearned {
            fill(self.params.add(self.lay.dec_logvar), cfg.input, 0.0);
        }
    }

    pub fn n_params(&self) -> usize {
        self.lay.n_params
    }

    /// Frees everything the model owns (not the model struct itself).
    pub fn release(&mut self) {
        mem::free(self.params as *mut u8);
        self.params = core::ptr::null_mut();
        self.grads = core::ptr::null_mut();
        if !self.opt_state.is_null() {
            mem::free(self.opt_state as *mut u8);
            self.opt_state = core::ptr::null_mut();
        }
        if !self.ws.base.is_null() {
            mem::free(self.ws.base as *mut u8);
            self.ws = Workspace { base: core::ptr::null_mut(), rows: 0, drows: 0 };
        }
    }

    // ---- workspace -------------------------------------------------------------------------------------------

    fn ws_floats(&self, rows: usize, drows: usize) -> Option<usize> {
        let cfg = &self.cfg;
        let mut n = 0usize;
        let mut add = |k: usize| -> Option<()> {
            n = n.checked_add(align4(k))?;
            Some(())
        };
        add(rows.checked_mul(cfg.input)?)?; // x
        for l in 0..cfg.n_enc {
            add(rows.checked_mul(cfg.enc[l])?)?;
            add(rows.checked_mul(cfg.enc[l])?)?;
        }
        for _ in 0..5 {
            add(rows.checked_mul(cfg.latent)?)?; // mean, logvar, std, dmean, dlogvar
        }
        add(drows.checked_mul(cfg.latent)?)?; // eps
        add(drows.checked_mul(cfg.latent)?)?; // z
        for l in 0..cfg.n_dec {
            add(drows.checked_mul(cfg.dec[l])?)?;
            add(drows.checked_mul(cfg.dec[l])?)?;
        }
        add(drows.checked_mul(cfg.input)?)?; // out
        add(drows.checked_mul(cfg.input)?)?; // dout
        let wide = drows.max(rows).checked_mul(self.lay.max_width)?;
        add(wide)?; // d1
        add(wide)?; // d2
        add(drows)?; // row_rec
        add(rows)?; // row_kl
        add(GEMM_SCRATCH)?;
        Some(n)
    }

    /// Makes the workspace hold `rows` encoder rows and `drows` decoder rows. Allocates only when it grows.
    pub fn reserve(&mut self, rows: usize, drows: usize) -> Result<(), i32> {
        if rows <= self.ws.rows && drows <= self.ws.drows && !self.ws.base.is_null() {
            return Ok(());
        }
        let rows = rows.max(self.ws.rows);
        let drows = drows.max(self.ws.drows);
        let n = self.ws_floats(rows, drows).ok_or(status::OUT_OF_MEMORY)?;
        let p = mem::alloc_f32(n);
        if p.is_null() {
            return Err(status::OUT_OF_MEMORY);
        }
        if !self.ws.base.is_null() {
            mem::free(self.ws.base as *mut u8);
        }
        self.ws = Workspace { base: p, rows, drows };
        Ok(())
    }

    fn bufs(&self) -> Bufs {
        let cfg = &self.cfg;
        let (rows, drows) = (self.ws.rows, self.ws.drows);
        let mut at = self.ws.base;
        let mut take = |k: usize| -> *mut f32 {
            let p = at;
            at = unsafe { at.add(align4(k)) };
            p
        };
        let x = take(rows * cfg.input);
        let mut enc_a = [core::ptr::null_mut(); MAX_HIDDEN];
        let mut enc_h = [core::ptr::null_mut(); MAX_HIDDEN];
        for l in 0..cfg.n_enc {
            enc_a[l] = take(rows * cfg.enc[l]);
            enc_h[l] = take(rows * cfg.enc[l]);
        }
        let mean = take(rows * cfg.latent);
        let logvar = take(rows * cfg.latent);
        let std = take(rows * cfg.latent);
        let dmean = take(rows * cfg.latent);
        let dlogvar = take(rows * cfg.latent);
        let eps = take(drows * cfg.latent);
        let z = take(drows * cfg.latent);
        let mut dec_a = [core::ptr::null_mut(); MAX_HIDDEN];
        let mut dec_h = [core::ptr::null_mut(); MAX_HIDDEN];
        for l in 0..cfg.n_dec {
            dec_a[l] = take(drows * cfg.dec[l]);
            dec_h[l] = take(drows * cfg.dec[l]);
        }
        let out = take(drows * cfg.input);
        let dout = take(drows * cfg.input);
        let wide = drows.max(rows) * self.lay.max_width;
        let d1 = take(wide);
        let d2 = take(wide);
        let row_rec = take(drows);
        let row_kl = take(rows);
        let scratch = take(GEMM_SCRATCH);
        Bufs {
            x,
            enc_a,
            enc_h,
            mean,
            logvar,
            std,
            eps,
            z,
            dec_a,
            dec_h,
            out,
            dout,
            d1,
            d2,
            dmean,
            dlogvar,
            row_rec,
            row_kl,
            scratch,
        }
    }

    fn scratch<'a>(&self, b: &Bufs) -> &'a mut [f32] {
        unsafe { core::slice::from_raw_parts_mut(b.scratch, GEMM_SCRATCH) }
    }

    // ---- forward ---------------------------------------------------------------------------------------------

    /// Copies `rows` input rows into b.x: row i from source row `idx[i]`, or `start + i` when `idx` is null.
    /// Split across threads by rows.
    unsafe fn gather(&self, b: &Bufs, src: Source, idx: *const u32, start: usize, rows: usize) {
        struct T(Source, *const u32, usize, usize, usize, *mut f32);
        let dim = self.cfg.input;
        let t = T(src, idx, start, rows, dim, b.x);
        crate::par::run(&t, rows * dim < nn::PARALLEL_MIN_ELEMENTS, part);
        fn part(t: &T, part: usize, parts: usize) {
            let (i0, i1) = crate::par::split(t.3, 1, part, parts);
            for i in i0..i1 {
                unsafe {
                    let r = if t.1.is_null() { t.2 + i } else { *t.1.add(i) as usize };
                    t.0.copy_row(r, t.4, t.5.add(i * t.4));
                }
            }
        }
    }

    /// Encoder on b.x (rows): hidden layers, then mean/logvar (VAE) or the code (autoencoder, into b.mean).
    unsafe fn encode_rows(&self, b: &Bufs, rows: usize) {
        let cfg = &self.cfg;
        let s = self.scratch(b);
        let inp = self.hidden_forward(&self.lay.enc[..cfg.n_enc], &b.enc_a, &b.enc_h, b.x, rows, s);
        nn::dense_forward(self.lay.mean, self.params, inp, rows, b.mean, None, s);
        if cfg.kind == Kind::Vae {
            nn::dense_forward(self.lay.logvar, self.params, inp, rows, b.logvar, None, s);
        }
    }

    /// Last encoder hidden output (or the input when there are no hidden layers).
    fn enc_top(&self, b: &Bufs) -> *mut f32 {
        if self.cfg.n_enc == 0 {
            b.x
        } else {
            b.enc_h[self.cfg.n_enc - 1]
        }
    }

    fn dec_top(&self, b: &Bufs) -> *mut f32 {
        if self.cfg.n_dec == 0 {
            b.z
        } else {
            b.dec_h[self.cfg.n_dec - 1]
        }
    }

    /// std = exp(½ lv); z_rs = μ_r + std_r ⊙ ε_rs for rows·samples decoder rows. Autoencoder: z = code.
    unsafe fn reparameterize(&self, b: &Bufs, rows: usize, samples: usize) {
        let lat = self.cfg.latent;
        if self.cfg.kind == Kind::Autoencoder {
            core::ptr::copy_nonoverlapping(b.mean, b.z, rows * lat);
            return;
        }
        map1(b.logvar, b.std, rows * lat, |v| math::exp(v.mul(Real::splat(0.5))), |v| math::exp(v * 0.5));
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

    /// Decoder on b.z (drows): hidden layers and the output layer into b.out (logits or means).
    unsafe fn decode_rows(&self, b: &Bufs, drows: usize) {
        let s = self.scratch(b);
        let inp = self.hidden_forward(&self.lay.dec[..self.cfg.n_dec], &b.dec_a, &b.dec_h, b.z, drows, s);
        nn::dense_forward(self.lay.out, self.params, inp, drows, b.out, None, s);
    }

    /// The configured activation over one hidden layer's buffers.
    fn activation(&self, a: *mut f32, h: *mut f32) -> nn::Activation {
        nn::Activation { act: self.cfg.act, slope: self.cfg.slope, a, h }
    }

    /// Hidden layers on `inp` (rows): pre-activations into a[l], outputs into h[l]. Returns the last output (or
    /// `inp` when there are no layers).
    unsafe fn hidden_forward(
        &self, layers: &[Dense], a: &[*mut f32; MAX_HIDDEN], h: &[*mut f32; MAX_HIDDEN], inp: *const f32, rows: usize,
        s: &mut [f32],
    ) -> *const f32 {
        let mut inp = inp;
        for (l, d) in layers.iter().enumerate() {
            nn::dense_forward(*d, self.params, inp, rows, a[l], Some(self.activation(a[l], h[l])), s);
            inp = h[l];
        }
        inp
    }

    /// Reconstruction term per decoder row into b.row_rec; with `grad_scale` Some(c), also dL/dout = c·∂rec/∂out
    /// into b.dout and (learned variance) the decoder log-variance gradient into grads.
    unsafe fn reconstruction(&self, b: &Bufs, rows: usize, samples: usize, grad_scale: Option<f32>) {
        let cfg = &self.cfg;
        let dim = cfg.input;
        let learned = cfg.recon == Recon::GaussianLearned;
        if learned && grad_scale.is_some() {
            fill(self.grads.add(self.lay.dec_logvar), dim, 0.0);
        }
        let inv_var = 1.0 / cfg.variance;
        // Per-dimension constants of the Gaussian terms: ½ ln(2πσ²) (fixed) or ½ ln 2π (learned).
        let constant = match cfg.recon {
            Recon::Gaussian => HALF_LN_2PI + 0.5 * math::ln(cfg.variance),
            Recon::GaussianLearned => HALF_LN_2PI,
            _ => 0.0,
        } * dim as f32;
        // Rows are independent (each writes its own row_rec and dout row), so they split across threads; the
        // learned variance's gradient is a sum over rows, so that case stays on one thread.
        struct T<'a>(&'a Model, &'a Bufs, usize, Option<f32>, f32, f32, usize);
        let task = T(self, b, samples, grad_scale, inv_var, constant, rows * samples);
        crate::par::run(&task, learned || rows * samples * dim < nn::PARALLEL_MIN_ELEMENTS, part);
        fn part(t: &T<'_>, part: usize, parts: usize) {
            let (r0, r1) = crate::par::split(t.6, 1, part, parts);
            unsafe { t.0.reconstruction_rows(t.1, r0, r1, t.2, t.3, t.4, t.5) }
        }
    }

    unsafe fn reconstruction_rows(
        &self, b: &Bufs, r0: usize, r1: usize, samples: usize, grad_scale: Option<f32>, inv_var: f32, constant: f32,
    ) {
        let cfg = &self.cfg;
        let dim = cfg.input;
        let learned = cfg.recon == Recon::GaussianLearned;
        let lvp = self.params.add(self.lay.dec_logvar);
        let dlv = self.grads.add(self.lay.dec_logvar);
        let c = grad_scale.unwrap_or(0.0);
        for r in r0..r1 {
            let x = b.x.add((r / samples) * dim);
            let o = b.out.add(r * dim);
            let g = b.dout.add(r * dim);
            let mut acc = F32x4::zero();
            let mut j = 0;
            while j + 4 <= dim {
                let lv = if learned { F32x4::load(lvp.add(j)) } else { F32x4::zero() };
                let (l, gr, glv) = recon_elem(cfg.recon, inv_var, F32x4::load(x.add(j)), F32x4::load(o.add(j)), lv);
                acc = acc.add(l);
                if grad_scale.is_some() {
                    gr.mul(F32x4::splat(c)).store(g.add(j));
                    if learned {
                        F32x4::load(dlv.add(j)).add(glv.mul(F32x4::splat(c))).store(dlv.add(j));
                    }
                }
                j += 4;
            }
            let mut tail = 0.0f32;
            while j < dim {
                let lv = if learned { *lvp.add(j) } else { 0.0 };
                let (l, gr, glv) = recon_elem(cfg.recon, inv_var, *x.add(j), *o.add(j), lv);
                tail += l;
                if grad_scale.is_some() {
                    *g.add(j) = gr * c;
                    if learned {
                        *dlv.add(j) += glv * c;
                    }
                }
                j += 1;
            }
            *b.row_rec.add(r) = (acc.hsum() + tail) + constant;
        }
    }

    /// KL per row into b.row_kl; with Some(c), adds c·∂KL/∂μ and c·∂KL/∂lv to b.dmean / b.dlogvar.
    unsafe fn kl(&self, b: &Bufs, rows: usize, grad_scale: Option<f32>) {
        let lat = self.cfg.latent;
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

    /// Forward pass and loss for `rows` rows already in b.x with ε in b.eps; with `backward`, the gradient of the
    /// objective (mean over rows) into `grads`.
    unsafe fn forward_backward(&mut self, rows: usize, samples: usize, beta: f32, backward: bool) -> Stats {
        let b = self.bufs();
        let cfg = self.cfg;
        let vae = cfg.kind == Kind::Vae;
        let samples = if vae { samples } else { 1 };
        let drows = rows * samples;
        self.encode_rows(&b, rows);
        self.reparameterize(&b, rows, samples);
        self.decode_rows(&b, drows);
        let inv_rows = 1.0 / rows as f32;
        let rec_scale = 1.0 / drows as f32;
        self.reconstruction(&b, rows, samples, if backward { Some(rec_scale) } else { None });
        let mut stats = Stats::default();
        for r in 0..drows {
            stats.rec += *b.row_rec.add(r) as f64;
        }
        stats.rec /= drows as f64;
        if vae {
            // Values now; the KL gradient is added on top of the path gradient during the backward pass.
            self.kl(&b, rows, None);
            for i in 0..rows {
                stats.kl += *b.row_kl.add(i) as f64;
            }
            stats.kl /= rows as f64;
        }
        stats.loss = stats.rec + beta as f64 * stats.kl;
        if !backward {
            return stats;
        }
        let s = self.scratch(&b);
        let (g, p) = (self.grads, self.params as *const f32);
        // Decoder, top down. dcur holds dL/d(output of the layer below).
        let top = self.dec_top(&b);
        // Each input gradient into a hidden layer's output is turned into the gradient w.r.t. its pre-activation
        // in the same task (`below`).
        let dec_act = |l: usize| if l < cfg.n_dec { Some(self.activation(b.dec_a[l], b.dec_h[l])) } else { None };
        let enc_act = |l: usize| if l < cfg.n_enc { Some(self.activation(b.enc_a[l], b.enc_h[l])) } else { None };
        nn::dense_param_grads(self.lay.out, g, top, b.dout, drows, false, s);
        let mut dcur = b.d1;
        let mut dnext = b.d2;
        nn::dense_input_grad(self.lay.out, p, b.dout, drows, dcur, false, dec_act(cfg.n_dec.wrapping_sub(1)), s);
        for l in (0..cfg.n_dec).rev() {
            let d = self.lay.dec[l];
            let inp = if l == 0 { b.z } else { b.dec_h[l - 1] };
            nn::dense_param_grads(d, g, inp, dcur, drows, false, s);
            nn::dense_input_grad(d, p, dcur, drows, dnext, false, dec_act(l.wrapping_sub(1)), s);
            core::mem::swap(&mut dcur, &mut dnext);
        }
        // dcur = dL/dz (drows × latent).
        let lat = cfg.latent;
        let henc = self.enc_top(&b);
        if vae {
            for i in 0..rows {
                for k in 0..lat {
                    let (mut gm, mut gl) = (0.0f32, 0.0f32);
                    for smp in 0..samples {
                        let r = i * samples + smp;
                        let dz = *dcur.add(r * lat + k);
                        gm += dz;
                        gl += dz * *b.eps.add(r * lat + k);
                    }
                    *b.dmean.add(i * lat + k) = gm;
                    *b.dlogvar.add(i * lat + k) = gl * (0.5 * *b.std.add(i * lat + k));
                }
            }
            self.kl(&b, rows, Some(beta * inv_rows));
            nn::dense_param_grads(self.lay.mean, g, henc, b.dmean, rows, false, s);
            nn::dense_param_grads(self.lay.logvar, g, henc, b.dlogvar, rows, false, s);
            if cfg.n_enc > 0 {
                nn::dense_input_grad(self.lay.mean, p, b.dmean, rows, dnext, false, None, s);
                nn::dense_input_grad(self.lay.logvar, p, b.dlogvar, rows, dnext, true, enc_act(cfg.n_enc - 1), s);
            }
        } else {
            nn::dense_param_grads(self.lay.mean, g, henc, dcur, rows, false, s);
            if cfg.n_enc > 0 {
                nn::dense_input_grad(self.lay.mean, p, dcur, rows, dnext, false, enc_act(cfg.n_enc - 1), s);
            }
        }
        core::mem::swap(&mut dcur, &mut dnext);
        // Encoder, top down; dcur = dL/d(top hidden output).
        for l in (0..cfg.n_enc).rev() {
            let d = self.lay.enc[l];
            let inp = if l == 0 { b.x } else { b.enc_h[l - 1] };
            nn::dense_param_grads(d, g, inp, dcur, rows, false, s);
            if l > 0 {
                nn::dense_input_grad(d, p, dcur, rows, dnext, false, enc_act(l - 1), s);
                core::mem::swap(&mut dcur, &mut dnext);
            }
        }
        stats
    }

    // ---- public operations -----------------------------------------------------------------------------------

    /// Installs optimizer settings; state is (re)allocated and zeroed when the kind changes.
    pub fn set_optimizer(&mut self, cfg: OptConfig) -> Result<(), i32> {
        if self.opt_state_kind != Some(cfg.kind) {
            self.ensure_opt_state(cfg.kind)?;
            self.step = 0;
        }
        self.opt = Some(cfg);
        Ok(())
    }

    /// Optimizer state buffers (`slots` × n_params floats), if any.
    pub fn opt_state(&self) -> (*mut f32, usize) {
        match self.opt_state_kind {
            Some(k) => (self.opt_state, k.slots()),
            None => (core::ptr::null_mut(), 0),
        }
    }

    /// Makes the optimizer state exist for `kind` (zeroed when newly allocated) without choosing hyperparameters;
    /// a later `set_optimizer` of the same kind keeps it. For restoring checkpoints.
    pub fn ensure_opt_state(&mut self, kind: OptKind) -> Result<(), i32> {
        if self.opt_state_kind == Some(kind) {
            return Ok(());
        }
        let n = self.lay.n_params.checked_mul(kind.slots()).ok_or(status::OUT_OF_MEMORY)?;
        let p = mem::alloc_f32(n);
        if p.is_null() {
            return Err(status::OUT_OF_MEMORY);
        }
        if !self.opt_state.is_null() {
            mem::free(self.opt_state as *mut u8);
        }
        unsafe { fill(p, n, 0.0) };
        self.opt_state = p;
        self.opt_state_kind = Some(kind);
        self.opt = None;
        Ok(())
    }

    /// The code of the optimizer kind whose state is held (as `OptKind::from_u32`), else u32::MAX.
    pub fn opt_kind_code(&self) -> u32 {
        match self.opt_state_kind {
            Some(OptKind::Sgd) => 0,
            Some(OptKind::Adam) => 1,
            Some(OptKind::Adagrad) => 2,
            None => u32::MAX,
        }
    }

    /// Clears optimizer state (moments, step count).
    pub fn reset_optimizer(&mut self) {
        if let Some(kind) = self.opt_state_kind {
            unsafe { fill(self.opt_state, self.lay.n_params * kind.slots(), 0.0) };
        }
        self.step = 0;
    }

    /// One training step on the rows `idx` of `src`. ε, binarisation draws come from the training RNG. If the loss
    /// or any gradient is not finite, nothing is updated and NON_FINITE is returned.
    ///
    /// # Safety
    /// `idx` addresses `batch` row indices < the source's rows; the workspace holds batch × samples rows.
    pub unsafe fn train_step(
        &mut self, src: Source, idx: *const u32, batch: usize, samples: usize, beta: f32, binarize: bool,
    ) -> Result<Stats, i32> {
        let opt = self.opt.ok_or(status::NO_OPTIMIZER)?;
        let samples = if self.cfg.kind == Kind::Vae { samples.max(1) } else { 1 };
        if batch == 0 || batch > self.ws.rows || batch * samples > self.ws.drows {
            return Err(status::BAD_ARGUMENT);
        }
        let b = self.bufs();
        let dim = self.cfg.input;
        let rng_before = self.rng;
        self.gather(&b, src, idx, 0, batch);
        if binarize {
            draw_bernoulli(b.x, batch * dim, &mut self.rng);
        }
        if self.cfg.kind == Kind::Vae {
            let n = batch * samples * self.cfg.latent;
            self.rng.fill_normal(core::slice::from_raw_parts_mut(b.eps, n));
        }
        let stats = self.forward_backward(batch, samples, beta, true);
        if crate::par::failed() {
            self.rng = rng_before;
            return Err(status::WORKER_FAILED);
        }
        let n = self.lay.n_params;
        if !stats.loss.is_finite() || !nn::all_finite(self.grads, n) {
            return Err(status::NON_FINITE);
        }
        let st = self.opt_state;
        let s2 = if opt.kind.slots() > 1 { st.add(n) } else { st };
        self.step += 1;
        optim::update(&opt, self.step, self.params, self.grads, st, s2, n);
        Ok(stats)
    }

    /// Loss terms and gradients (into `grads`) for given rows and ε (rows·samples × latent), without updating.
    ///
    /// # Safety
    /// x is rows × input; eps is rows·samples × latent (ignored for an autoencoder).
    pub unsafe fn loss_and_gradients(
        &mut self, x: *const f32, rows: usize, eps: *const f32, samples: usize, beta: f32,
    ) -> Result<Stats, i32> {
        let samples = if self.cfg.kind == Kind::Vae { samples.max(1) } else { 1 };
        self.reserve(rows, rows * samples)?;
        let b = self.bufs();
        core::ptr::copy_nonoverlapping(x, b.x, rows * self.cfg.input);
        if self.cfg.kind == Kind::Vae {
            core::ptr::copy_nonoverlapping(eps, b.eps, rows * samples * self.cfg.latent);
        }
        Ok(self.forward_backward(rows, samples, beta, true))
    }

    /// Rows processed per chunk by the inference operations.
    fn chunk_rows(&mut self, samples: usize) -> Result<usize, i32> {
        const CHUNK: usize = 256;
        if self.ws.rows < CHUNK || self.ws.drows < CHUNK * samples {
            self.reserve(CHUNK, CHUNK * samples)?;
        }
        Ok(self.ws.rows.min(self.ws.drows / samples))
    }

    /// Sum over rows of the reconstruction term (mean over `samples` ε draws from `rng`) and of the KL, and, if
    /// given, per-row values. Rows go in chunks of at most 256 and draws in passes of at most 1024 decoder rows, so
    /// memory stays small for any `samples` and the draws do not depend on the training batch size.
    ///
    /// # Safety
    /// src addresses n rows.
    pub unsafe fn evaluate(&mut self, src: Source, n: usize, samples: usize, rng: &mut Pcg32, per_row: Option<(*mut f32, *mut f32)>) -> Result<(f64, f64), i32> {
        const MAX_ROWS: usize = 256;
        const PASS: usize = 1024;
        let vae = self.cfg.kind == Kind::Vae;
        let samples = if vae { samples.max(1) } else { 1 };
        let draws = samples.min(PASS);
        let rows_per_chunk = (PASS / draws).clamp(1, MAX_ROWS);
        self.reserve(rows_per_chunk, rows_per_chunk * draws)?;
        let b = self.bufs();
        let lat = self.cfg.latent;
        let (mut rec, mut kl) = (0.0f64, 0.0f64);
        let mut rec_sum = [0.0f64; MAX_ROWS];
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(rows_per_chunk);
            self.gather(&b, src, core::ptr::null(), start, rows);
            rec_sum[..rows].fill(0.0);
            self.encode_rows(&b, rows);
            let mut done = 0;
            while done < samples {
                let s = (samples - done).min(draws);
                if vae {
                    rng.fill_normal(core::slice::from_raw_parts_mut(b.eps, rows * s * lat));
                }
                self.reparameterize(&b, rows, s);
                self.decode_rows(&b, rows * s);
                self.reconstruction(&b, rows, s, None);
                for i in 0..rows {
                    for d in 0..s {
                        rec_sum[i] += *b.row_rec.add(i * s + d) as f64;
                    }
                }
                done += s;
            }
            if vae {
                self.kl(&b, rows, None);
            }
            for i in 0..rows {
                let r = rec_sum[i] / samples as f64;
                let k = if vae { *b.row_kl.add(i) as f64 } else { 0.0 };
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
    pub unsafe fn log_likelihood(
        &mut self, src: Source, n: usize, k: usize, rng: &mut Pcg32, out_lk: *mut f64, out_mean_logw: *mut f64,
    ) -> Result<(), i32> {
        const MAX_ROWS: usize = 256;
        const PASS: usize = 1024;
        if self.cfg.kind != Kind::Vae || k == 0 {
            return Err(status::BAD_ARGUMENT);
        }
        // Draws per pass and rows per chunk, so that one decoder pass has about PASS rows.
        let draws = k.min(PASS);
        let rows_per_chunk = (PASS / draws).clamp(1, MAX_ROWS);
        self.reserve(rows_per_chunk, rows_per_chunk * draws)?;
        let b = self.bufs();
        let lat = self.cfg.latent;
        let mut max = [0.0f64; MAX_ROWS];
        let mut sum = [0.0f64; MAX_ROWS];
        let mut sum_logw = [0.0f64; MAX_ROWS];
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(rows_per_chunk);
            self.gather(&b, src, core::ptr::null(), start, rows);
            for i in 0..rows {
                max[i] = f64::NEG_INFINITY;
                sum[i] = 0.0;
                sum_logw[i] = 0.0;
            }
            self.encode_rows(&b, rows);
            let mut done = 0;
            while done < k {
                let s = (k - done).min(draws);
                rng.fill_normal(core::slice::from_raw_parts_mut(b.eps, rows * s * lat));
                self.reparameterize(&b, rows, s);
                self.decode_rows(&b, rows * s);
                self.reconstruction(&b, rows, s, None);
                for i in 0..rows {
                    let lv = b.logvar.add(i * lat);
                    let mut half_sum_lv = 0.0f32;
                    for q in 0..lat {
                        half_sum_lv += 0.5 * *lv.add(q);
                    }
                    for d in 0..s {
                        let r = i * s + d;
                        let (z, e) = (b.z.add(r * lat), b.eps.add(r * lat));
                        // log p(z) − log q(z|x) = −½Σz² + ½Σε² + ½Σ lv
                        let mut t = 0.0f32;
                        for q in 0..lat {
                            t += 0.5 * (*e.add(q) * *e.add(q) - *z.add(q) * *z.add(q));
                        }
                        let logw = (-*b.row_rec.add(r) + t + half_sum_lv) as f64;
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
        let chunk = self.chunk_rows(1)?;
        let b = self.bufs();
        let lat = self.cfg.latent;
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(chunk);
            self.gather(&b, src, core::ptr::null(), start, rows);
            self.encode_rows(&b, rows);
            core::ptr::copy_nonoverlapping(b.mean, mean_out.add(start * lat), rows * lat);
            if self.cfg.kind == Kind::Vae {
                core::ptr::copy_nonoverlapping(b.logvar, logvar_out.add(start * lat), rows * lat);
            }
            start += rows;
        }
        Ok(())
    }

    /// Applies the output link: σ for Bernoulli/BCE, identity otherwise.
    unsafe fn link(&self, p: *mut f32, n: usize) {
        if self.cfg.recon == Recon::Bernoulli {
            map1(p, p, n, math::sigmoid, math::sigmoid);
        }
    }

    /// Decodes n codes (n × latent) into n × input outputs: probabilities (Bernoulli/BCE) or means; raw logits with
    /// `logits`.
    ///
    /// # Safety
    /// Shapes as stated.
    pub unsafe fn decode(&mut self, z: *const f32, n: usize, out: *mut f32, logits: bool) -> Result<(), i32> {
        let chunk = self.chunk_rows(1)?;
        let b = self.bufs();
        let (dim, lat) = (self.cfg.input, self.cfg.latent);
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(chunk);
            core::ptr::copy_nonoverlapping(z.add(start * lat), b.z, rows * lat);
            self.decode_rows(&b, rows);
            if !logits {
                self.link(b.out, rows * dim);
            }
            core::ptr::copy_nonoverlapping(b.out, out.add(start * dim), rows * dim);
            start += rows;
        }
        Ok(())
    }

    /// decode(encoder mean) for n rows.
    ///
    /// # Safety
    /// out holds n × input floats.
    pub unsafe fn reconstruct(&mut self, src: Source, n: usize, out: *mut f32) -> Result<(), i32> {
        let chunk = self.chunk_rows(1)?;
        let b = self.bufs();
        let (dim, lat) = (self.cfg.input, self.cfg.latent);
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(chunk);
            self.gather(&b, src, core::ptr::null(), start, rows);
            self.encode_rows(&b, rows);
            core::ptr::copy_nonoverlapping(b.mean, b.z, rows * lat);
            self.decode_rows(&b, rows);
            self.link(b.out, rows * dim);
            core::ptr::copy_nonoverlapping(b.out, out.add(start * dim), rows * dim);
            start += rows;
        }
        Ok(())
    }

    /// n draws z ~ N(0, I) from `rng`, decoded (probabilities or means).
    ///
    /// # Safety
    /// out holds n × input floats.
    pub unsafe fn sample(&mut self, n: usize, rng: &mut Pcg32, out: *mut f32) -> Result<(), i32> {
        let chunk = self.chunk_rows(1)?;
        let b = self.bufs();
        let (dim, lat) = (self.cfg.input, self.cfg.latent);
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(chunk);
            rng.fill_normal(core::slice::from_raw_parts_mut(b.z, rows * lat));
            self.decode_rows(&b, rows);
            self.link(b.out, rows * dim);
            core::ptr::copy_nonoverlapping(b.out, out.add(start * dim), rows * dim);
            start += rows;
        }
        Ok(())
    }
}

/// out[i] = f(inp[i]) with four lanes at a time and a scalar tail.
unsafe fn map1(inp: *const f32, out: *mut f32, n: usize, fv: impl Fn(F32x4) -> F32x4, fs: impl Fn(f32) -> f32) {
    let mut i = 0;
    while i + 4 <= n {
        fv(F32x4::load(inp.add(i))).store(out.add(i));
        i += 4;
    }
    while i < n {
        *out.add(i) = fs(*inp.add(i));
        i += 1;
    }
}

const HALF_LN_2PI: f32 = 0.918_938_5;

/// e^x for x ≤ 0 in f64 (x = −∞ gives 0): 2^n · e^r with |r| ≤ ½ ln 2 and a degree-13 Taylor polynomial (error
/// below 1e-16 relative). Built from +, ×, / only, so identical on every engine.
fn exp_f64_nonpos(x: f64) -> f64 {
    if x < -745.0 {
        return 0.0;
    }
    const LN2: f64 = core::f64::consts::LN_2;
    let n = (x / LN2 - 0.5) as i64 as f64; // round to nearest for x ≤ 0 (truncation toward zero of x/ln2 − ½)
    // ln 2 split so that n·LN2_HI is exact for |n| < 2^11.
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    for i in 1..14 {
        term = term * r / i as f64;
        sum += term;
    }
    let mut p = 1.0f64;
    let mut e = -(n as i64);
    let mut base = 0.5f64;
    while e > 0 {
        if e & 1 == 1 {
            p *= base;
        }
        base *= base;
        e >>= 1;
    }
    sum * p
}

/// Natural log in f64 for positive normal x: x = m·2^e with m in [√½, √2), then ln m = 2·atanh((m−1)/(m+1)) by its
/// series (converges fast since |(m−1)/(m+1)| < 0.172).
fn ln_f64(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > core::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let mut term = t;
    let mut sum = 0.0f64;
    let mut i = 1.0f64;
    while i < 40.0 {
        sum += term / i;
        term *= t2;
        i += 2.0;
    }
    2.0 * sum + e as f64 * core::f64::consts::LN_2
}

/// One element of the reconstruction term, without its constant: (loss, ∂loss/∂out, ∂loss/∂lv).
/// Bernoulli: softplus(o) − x·o; Gaussian: ½(o−x)²/σ²; learned: ½((o−x)²e^{−lv} + lv); squared error: (o−x)².
#[inline(always)]
fn recon_elem<T: Real>(recon: Recon, inv_var: f32, x: T, o: T, lv: T) -> (T, T, T) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f64_exp_and_ln_are_accurate() {
        for i in 0..2000 {
            let x = -(i as f64) * 0.37;
            let (got, want) = (exp_f64_nonpos(x), x.exp());
            assert!((got - want).abs() <= 1e-14 * want, "exp({x}) = {got} vs {want}");
        }
        assert_eq!(exp_f64_nonpos(f64::NEG_INFINITY), 0.0);
        let mut x = 1e-300;
        while x < 1e300 {
            let (got, want) = (ln_f64(x), x.ln());
            assert!((got - want).abs() <= 1e-14 * want.abs().max(1.0), "ln({x}) = {got} vs {want}");
            x *= 7.3;
        }
    }
}
