//! A model as a plan of layers, compiled from the versioned descriptor TypeScript writes (ts/core/abi.ts).
//!
//! Descriptor (u32 words; f32 fields as their bits):
//!   header  version, kind (0 VAE, 1 autoencoder), likelihood (0 Bernoulli, 1 Gaussian, 2 Gaussian with learned
//!           variance, 3 squared error), leaky-relu slope, variance, init (0 lecun-uniform, 1 glorot-uniform,
//!           2 normal), init std, seed, input rank (1 flat, 3 image), input h, w, c, latent size, condition size
//!           (0), number of likelihood groups (0: one group of the header's likelihood over the whole row), number
//!           of layers
//!   layer   kind, section (0 encoder, 1 decoder, 2 output), activation, then the kind's fields:
//!           1 dense [units] · 2 conv2d [filters, kh, kw, sh, sw, padding, ph, pw] · 3 conv2dTranspose [same, then
//!           output padding h, w, or NONE for "not given"] · 4 flatten [] · 5 reshape [rank, h, w, c]
//!           padding: 0 valid, 1 same, 2 explicit (ph rows above and below, pw columns left and right)
//!   group   (after the layers) likelihood (as in the header, or 4 categorical), first column, width; the groups
//!           cover the row in order (a table: one group per run of numeric or binary columns, one per categorical)
//! The encoder's layers come first, then the decoder's, then exactly one output layer (producing the input's
//! shape, linear: the likelihood applies its own link). Between encoder and decoder sits the latent: Gaussian
//! heads μ and log σ² for a VAE, one code layer for an autoencoder.
//!
//! One walk over the layers checks every shape, assigns every parameter's offset (in storage order: encoder
//! layers, latent heads, decoder layers, output layer, learned log-variance; each weight then its bias, on 16-byte
//! boundaries), lists the workspace buffers and names the tensors from where each layer sits (`encoder.3.weight`,
//! `encoder.mean.bias`, `decoder.out.weight`, `decoder.logVar`). The descriptor is never trusted: anything
//! malformed or beyond the limits is a `PlanError`, decided before anything is allocated.

use crate::act::{Act, Activation};
use crate::latent::Latent;
use crate::likelihood::{Group, Likelihood, Recon, MAX_GROUPS};
use crate::ops::{self, conv2d::Conv2d, conv2d_transpose::Conv2dTranspose, view, ConvSpec, Dense, Op, Padding, Reason, Shape};
use crate::workspace::{Buf, BufList, BufSpec};

pub const DESCRIPTOR_VERSION: u32 = 1;
pub const HEADER_WORDS: usize = 16;
/// Most layers in a plan (all sections).
pub const MAX_LAYERS: usize = 32;
/// Most parameters in a model (so parameters and gradients stay well under a GiB).
pub const MAX_PARAMS: usize = 1 << 25;
/// Largest dense width, latent size or channel count.
pub const MAX_UNITS: usize = 1 << 20;
/// "Not given", for optional descriptor fields.
pub const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Vae,
    Autoencoder,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    LecunUniform,
    GlorotUniform,
    Normal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Encoder,
    Decoder,
    Output,
}

/// One compiled layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    pub op: Op,
    pub act: Act,
    pub section: Section,
    /// Position within its section (the user's encoder[i] / decoder[i]).
    pub index: usize,
    pub input: Shape,
    pub output: Shape,
    /// Its input buffer, pre-activation output and output (the same when the activation is linear; a view's are
    /// all its input's).
    pub src: Buf,
    pub a: Buf,
    pub h: Buf,
}

/// The buffers every plan has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bufs {
    pub x: Buf,
    /// Condition rows for the encoder's rows and, repeated per draw, the decoder's.
    pub cond: Buf,
    pub cond_dec: Buf,
    pub mean: Buf,
    pub logvar: Buf,
    pub std: Buf,
    pub dmean: Buf,
    pub dlogvar: Buf,
    pub eps: Buf,
    pub z: Buf,
    /// The decoder's output (the output layer's `a`) and its gradient.
    pub out: Buf,
    pub dout: Buf,
    /// Ping-pong gradients of layer outputs.
    pub d1: Buf,
    pub d2: Buf,
    pub row_rec: Buf,
    pub row_kl: Buf,
    /// Each decoder row's gradient scale (the importance-weighted objective's normalised weights).
    pub row_scale: Buf,
    /// Convolution windows (the largest any layer needs), per-chunk weight gradients, and the calling thread's GEMM
    /// scratch.
    pub cols: Buf,
    pub partials: Buf,
    pub scratch: Buf,
}

#[derive(Clone, Copy)]
pub struct Plan {
    pub kind: Kind,
    pub slope: f32,
    pub init: Init,
    pub init_std: f32,
    pub seed: u32,
    pub input: Shape,
    /// Values of the condition per row (0: not conditional).
    pub condition: usize,
    pub layers: [Layer; MAX_LAYERS],
    pub n_layers: usize,
    /// Layers before the latent.
    pub n_encoder: usize,
    pub latent: Latent,
    pub likelihood: Likelihood,
    pub n_params: usize,
    pub buf_list: BufList,
    pub bufs: Bufs,
}

/// Why a descriptor was refused: the reason, the layer (descriptor position, or `NONE` for the model as a whole),
/// the shape that reached it and the shape it produced (when known), and two reason-specific numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanError {
    pub reason: Reason,
    pub layer: u32,
    pub input: Shape,
    pub output: Shape,
    pub detail: [usize; 3],
}

impl PlanError {
    /// The record TypeScript reads: reason, layer, input (rank, h, w, c), output (rank, h, w, c), three details.
    pub fn words(&self) -> [u32; ERROR_WORDS] {
        let s = |s: Shape| [if s.image { 3 } else { 1 }, clamp(s.h), clamp(s.w), clamp(s.c)];
        let (i, o) = (s(self.input), s(self.output));
        let d = self.detail.map(clamp);
        [self.reason as u32, self.layer, i[0], i[1], i[2], i[3], o[0], o[1], o[2], o[3], d[0], d[1], d[2]]
    }
}

pub const ERROR_WORDS: usize = 13;
/// What was too large (the third detail of `Reason::TooLarge`): a layer's output, its windows, or the weights.
pub const TOO_LARGE_OUTPUT: usize = 0;
pub const TOO_LARGE_WINDOWS: usize = 1;
pub const TOO_LARGE_WEIGHTS: usize = 2;

fn clamp(x: usize) -> u32 {
    x.min(u32::MAX as usize) as u32
}

fn align4(x: usize) -> usize {
    (x + 3) & !3
}

/// A tensor of the model: its name, shape and place in the parameter buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tensor {
    pub name: Name,
    pub shape: [usize; 4],
    pub rank: usize,
    pub offset: usize,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape[..self.rank].iter().product()
    }
}

/// A short ASCII name built without allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name {
    pub bytes: [u8; 32],
    pub len: usize,
}

impl Name {
    fn new() -> Name {
        Name { bytes: [0; 32], len: 0 }
    }

    fn push(mut self, s: &str) -> Name {
        for &c in s.as_bytes() {
            if self.len < self.bytes.len() {
                self.bytes[self.len] = c;
                self.len += 1;
            }
        }
        self
    }

    fn number(mut self, mut n: usize) -> Name {
        let mut digits = [0u8; 20];
        let mut k = 0;
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            k += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while k > 0 {
            k -= 1;
            if self.len < self.bytes.len() {
                self.bytes[self.len] = digits[k];
                self.len += 1;
            }
        }
        self
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Reads descriptor words in order, failing as a malformed descriptor past the end.
struct Reader<'a> {
    w: &'a [u32],
    at: usize,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<u32, ()> {
        let v = *self.w.get(self.at).ok_or(())?;
        self.at += 1;
        Ok(v)
    }

    /// A size in [1, max].
    fn size(&mut self, max: usize) -> Result<usize, ()> {
        let v = self.next()? as usize;
        if v == 0 || v > max {
            return Err(());
        }
        Ok(v)
    }

    fn f32(&mut self) -> Result<f32, ()> {
        let v = f32::from_bits(self.next()?);
        if !v.is_finite() {
            return Err(());
        }
        Ok(v)
    }
}

/// Parameter offsets handed out in storage order.
struct Params {
    at: usize,
}

impl Params {
    /// Places a weight of `weights` values and a bias of `bias`; returns their offsets.
    fn take(&mut self, weights: usize, bias: usize) -> Result<(usize, usize), ()> {
        let w = self.at;
        let b = align4(w.checked_add(weights).ok_or(())?);
        self.at = align4(b.checked_add(bias).ok_or(())?);
        if self.at > MAX_PARAMS {
            return Err(());
        }
        Ok((w, b))
    }
}

impl Plan {
    /// Compiles a descriptor; nothing is allocated.
    pub fn compile(words: &[u32]) -> Result<Plan, PlanError> {
        let model_error = |reason: Reason| PlanError { reason, layer: NONE, input: Shape::default(), output: Shape::default(), detail: [0, 0, 0] };
        let malformed = model_error(Reason::BadDescriptor);
        let mut r = Reader { w: words, at: 0 };
        let header = (|| -> Result<_, ()> {
            if r.next()? != DESCRIPTOR_VERSION {
                return Err(());
            }
            let kind = match r.next()? {
                0 => Kind::Vae,
                1 => Kind::Autoencoder,
                _ => return Err(()),
            };
            let recon = Recon::from_u32(r.next()?).ok_or(())?;
            let slope = r.f32()?;
            let variance = r.f32()?;
            let init = match r.next()? {
                0 => Init::LecunUniform,
                1 => Init::GlorotUniform,
                2 => Init::Normal,
                _ => return Err(()),
            };
            let init_std = r.f32()?;
            let seed = r.next()?;
            let rank = r.next()?;
            let (h, w, c) = (r.size(MAX_UNITS)?, r.size(MAX_UNITS)?, r.size(MAX_UNITS)?);
            let input = match rank {
                1 if h == 1 && w == 1 => Shape::flat(c),
                3 => Shape::image(h, w, c),
                _ => return Err(()),
            };
            let latent = r.size(MAX_UNITS)?;
            let condition = r.next()? as usize;
            let n_groups = r.next()? as usize;
            let n = r.next()? as usize;
            let kind_ok = match kind {
                Kind::Vae => recon != Recon::SquaredError,
                Kind::Autoencoder => recon == Recon::Bernoulli || recon == Recon::SquaredError,
            };
            if !kind_ok || variance <= 0.0 || init_std < 0.0 || n_groups > MAX_GROUPS || n == 0 || n > MAX_LAYERS {
                return Err(());
            }
            Ok((kind, recon, slope, variance, init, init_std, seed, input, latent, condition, n_groups, n))
        })()
        .map_err(|_| malformed)?;
        let (kind, recon, slope, variance, init, init_std, seed, input, latent_dim, condition, n_groups, n) = header;
        if condition > MAX_UNITS || (condition > 0 && kind != Kind::Vae) {
            return Err(model_error(Reason::Condition));
        }
        if input.len() > ops::MAX_ELEMENTS {
            return Err(PlanError { detail: [input.len(), ops::MAX_ELEMENTS, 0], ..model_error(Reason::TooLarge) });
        }

        let mut bl = BufList::new();
        let full = || malformed;
        let add = |bl: &mut BufList, enc: usize, dec: usize, fixed: usize| bl.add(BufSpec { enc, dec, fixed }).ok_or_else(full);
        let x = add(&mut bl, input.len(), 0, 0)?;
        // A conditional model's condition rows, per encoder row and repeated per draw for the decoder.
        let cond = add(&mut bl, condition, 0, 0)?;
        let cond_dec = add(&mut bl, 0, condition, 0)?;
        // The condition joins the encoder's first dense layer (or the latent's heads) and the decoder's first layer.
        let (mut cond_enc_joined, mut cond_dec_joined) = (condition == 0, condition == 0);
        let mut params = Params { at: 0 };
        let mut layers = [Layer { op: Op::View, act: Act::Linear, section: Section::Encoder, index: 0, input, output: input, src: x, a: x, h: x }; MAX_LAYERS];
        let mut plan_latent = None;
        // Per side: the widest layer output (for the gradient buffers) and the largest window scratch.
        let (mut enc_width, mut dec_width, mut enc_cols, mut dec_cols) = (0usize, latent_dim, 0usize, 0usize);
        let (mut enc_part, mut dec_part, mut part_fixed) = (0usize, 0usize, 0usize);
        let (mut shape, mut src) = (input, x);
        let mut section = Section::Encoder;
        let mut index = 0usize;
        let mut n_encoder = 0usize;
        let mut latent_bufs = None;
        for i in 0..n {
            let err = |reason: Reason, input: Shape, detail: [usize; 2]| PlanError { reason, layer: i as u32, input, output: Shape::default(), detail: [detail[0], detail[1], 0] };
            let kind_code = r.next().map_err(|_| malformed)?;
            let sec = match r.next().map_err(|_| malformed)? {
                0 => Section::Encoder,
                1 => Section::Decoder,
                2 => Section::Output,
                _ => return Err(malformed),
            };
            let act = r.next().ok().and_then(Act::from_u32).ok_or(malformed)?;
            // Sections in order, exactly one output layer, last.
            let order = |s: Section| s as u32;
            if order(sec) < order(section) || (section == Section::Output) || (sec == Section::Output) != (i == n - 1) {
                return Err(malformed);
            }
            if sec != section {
                index = 0;
            }
            if section == Section::Encoder && sec != Section::Encoder {
                // The latent sits here, on the encoder's output.
                n_encoder = i;
                let head_cond = if cond_enc_joined { 0 } else { condition };
                cond_enc_joined = true;
                let (lat, lb) = Self::latent(kind, latent_dim, shape, head_cond, &mut params, &mut bl).map_err(|_| PlanError { detail: [latent_dim, MAX_PARAMS, TOO_LARGE_WEIGHTS], ..err(Reason::TooLarge, shape, [0, 0]) })?;
                plan_latent = Some(lat);
                latent_bufs = Some(lb);
                shape = Shape::flat(latent_dim);
                src = lb.z;
            }
            section = sec;
            let too_large = |value: usize, limit: usize, what: usize| PlanError { detail: [value, limit, what], ..err(Reason::TooLarge, shape, [0, 0]) };
            let (op, output) = match kind_code {
                1 => {
                    let units = r.size(MAX_UNITS).map_err(|_| malformed)?;
                    let (mut d, out) = Dense::new(units, shape);
                    let joined = if sec == Section::Encoder { &mut cond_enc_joined } else { &mut cond_dec_joined };
                    if !*joined {
                        d.cond = condition;
                        *joined = true;
                    }
                    (Op::Dense(d), out)
                }
                2 | 3 => {
                    let mut f = || r.size(MAX_UNITS).map_err(|_| malformed);
                    let filters = f()?;
                    let mut k = || r.size(ops::MAX_KERNEL).map_err(|_| malformed);
                    let (kh, kw, sh, sw) = (k()?, k()?, k()?, k()?);
                    let mut g = || r.next().map_err(|_| malformed);
                    let (mode, ph, pw) = (g()?, g()? as usize, g()? as usize);
                    let padding = match mode {
                        0 => Padding::Valid,
                        1 => Padding::Same,
                        2 if ph <= ops::MAX_KERNEL && pw <= ops::MAX_KERNEL => Padding::Explicit { h: ph, w: pw },
                        _ => return Err(malformed),
                    };
                    if mode != 2 && (ph != 0 || pw != 0) {
                        return Err(malformed);
                    }
                    let output_padding = if kind_code == 3 {
                        match (g()?, g()?) {
                            (NONE, NONE) => None,
                            (a, b) if a != NONE && b != NONE => Some((a as usize, b as usize)),
                            _ => return Err(malformed),
                        }
                    } else {
                        None
                    };
                    let spec = ConvSpec { filters, kh, kw, sh, sw, padding, output_padding };
                    let built = if kind_code == 2 {
                        Conv2d::new(&spec, shape).map(|(c, s)| (Op::Conv2d(c), s))
                    } else {
                        Conv2dTranspose::new(&spec, shape).map(|(c, s)| (Op::Conv2dTranspose(c), s))
                    };
                    built.map_err(|(reason, detail)| err(reason, shape, detail))?
                }
                4 => (Op::View, view::flatten(shape)),
                5 => {
                    let rank = r.next().map_err(|_| malformed)?;
                    let mut d = || r.size(MAX_UNITS).map_err(|_| malformed);
                    let (h, w, c) = (d()?, d()?, d()?);
                    let target = match rank {
                        1 if h == 1 && w == 1 => Shape::flat(c),
                        3 => Shape::image(h, w, c),
                        _ => return Err(malformed),
                    };
                    (Op::View, view::reshape(shape, target).map_err(|(reason, detail)| err(reason, shape, detail))?)
                }
                _ => return Err(malformed),
            };
            let with_output = |e: PlanError| PlanError { output, ..e };
            if sec != Section::Encoder && !cond_dec_joined && op != Op::View {
                // The condition joins z at the decoder's first layer, which must be dense.
                return Err(with_output(err(Reason::Condition, shape, [0, 0])));
            }
            if output.len() > ops::MAX_ELEMENTS {
                return Err(with_output(too_large(output.len(), ops::MAX_ELEMENTS, TOO_LARGE_OUTPUT)));
            }
            if op.cols_len() > ops::MAX_COLS {
                return Err(with_output(too_large(op.cols_len(), ops::MAX_COLS, TOO_LARGE_WINDOWS)));
            }
            if act != Act::Linear && (op == Op::View || sec == Section::Output) {
                return Err(with_output(err(Reason::ActivationNotAllowed, shape, [0, 0])));
            }
            if sec == Section::Output {
                if op == Op::View {
                    return Err(with_output(err(Reason::OutputKind, shape, [0, 0])));
                }
                let same = output.len() == input.len() && (!(output.image && input.image) || output == input);
                if !same {
                    return Err(with_output(err(Reason::OutputShape, shape, [0, 0])));
                }
            }
            let mut op = op;
            if let Some(p) = op.params() {
                let (w, b) = params.take(p.weights(), p.bias).map_err(|_| with_output(too_large(p.weights(), MAX_PARAMS, TOO_LARGE_WEIGHTS)))?;
                op.place(w, b);
            }
            let decoder_side = sec != Section::Encoder;
            let rows = |n: usize| if decoder_side { (0, n) } else { (n, 0) };
            let (a, h) = if op == Op::View {
                (src, src)
            } else {
                let (e, d) = rows(output.len());
                let a = add(&mut bl, e, d, 0)?;
                let h = if act == Act::Linear { a } else { add(&mut bl, e, d, 0)? };
                (a, h)
            };
            let (per_row, fixed) = op.partials_len();
            part_fixed = part_fixed.max(fixed);
            if decoder_side {
                dec_width = dec_width.max(output.len());
                dec_cols = dec_cols.max(op.cols_len());
                dec_part = dec_part.max(per_row);
            } else {
                enc_width = enc_width.max(output.len());
                enc_cols = enc_cols.max(op.cols_len());
                enc_part = enc_part.max(per_row);
            }
            layers[i] = Layer { op, act, section: sec, index, input: shape, output, src, a, h };
            shape = output;
            src = h;
            index += 1;
        }
        let likelihood = Self::likelihood(&mut r, kind, recon, variance, input.len(), n_groups, &mut params)?;
        if r.at != words.len() {
            return Err(malformed);
        }
        let (latent, lb) = match (plan_latent, latent_bufs) {
            (Some(l), Some(b)) => (l, b),
            _ => return Err(malformed),
        };
        let out = layers[n - 1].a;
        let dout = add(&mut bl, 0, input.len(), 0)?;
        let d1 = add(&mut bl, enc_width, dec_width, 0)?;
        let d2 = add(&mut bl, enc_width, dec_width, 0)?;
        let row_rec = add(&mut bl, 0, 1, 0)?;
        let row_kl = add(&mut bl, 1, 0, 0)?;
        let row_scale = add(&mut bl, 0, 1, 0)?;
        let cols = add(&mut bl, enc_cols, dec_cols, 0)?;
        let partials = add(&mut bl, enc_part, dec_part, part_fixed)?;
        let scratch = add(&mut bl, 0, 0, crate::gemm::SCRATCH)?;
        let bufs = Bufs {
            x, cond, cond_dec, mean: lb.mean, logvar: lb.logvar, std: lb.std, dmean: lb.dmean, dlogvar: lb.dlogvar, eps: lb.eps, z: lb.z,
            out, dout, d1, d2, row_rec, row_kl, row_scale, cols, partials, scratch,
        };
        Ok(Plan {
            kind, slope, init, init_std, seed, input, condition, layers, n_layers: n, n_encoder, latent, likelihood, n_params: params.at,
            buf_list: bl, bufs,
        })
    }

    /// The likelihood: one group of the header's term, or `n_groups` groups read from the descriptor, which must
    /// tile the row in order; learned log-variances are placed together after every layer's parameters.
    #[allow(clippy::too_many_arguments)]
    fn likelihood(r: &mut Reader, kind: Kind, recon: Recon, variance: f32, dim: usize, n_groups: usize, params: &mut Params) -> Result<Likelihood, PlanError> {
        let malformed = PlanError { reason: Reason::BadDescriptor, layer: NONE, input: Shape::default(), output: Shape::default(), detail: [0, 0, 0] };
        let mut lik = Likelihood::single(recon, variance, dim, 0);
        if n_groups > 0 {
            let mut at = 0usize;
            let mut groups = [Group::default(); MAX_GROUPS];
            for g in groups.iter_mut().take(n_groups) {
                let code = r.next().map_err(|_| malformed)?;
                let term = Recon::from_u32(code).ok_or(malformed)?;
                let (start, width) = (r.next().map_err(|_| malformed)? as usize, r.next().map_err(|_| malformed)? as usize);
                let allowed = match kind {
                    Kind::Vae => term != Recon::SquaredError,
                    Kind::Autoencoder => matches!(term, Recon::Bernoulli | Recon::SquaredError | Recon::Categorical),
                };
                if !allowed || start != at || width == 0 || width > dim - at || (term == Recon::Categorical && width < 2) {
                    return Err(malformed);
                }
                *g = Group { recon: Some(term), start, width, logvar: 0 };
                at += width;
            }
            if at != dim {
                return Err(malformed);
            }
            lik.groups = groups;
            lik.n_groups = n_groups;
        }
        let learned = lik.learned_len();
        if learned > 0 {
            let (_, mut off) = params.take(0, learned).map_err(|_| PlanError { reason: Reason::TooLarge, detail: [learned, MAX_PARAMS, TOO_LARGE_WEIGHTS], ..malformed })?;
            for g in lik.groups[..lik.n_groups].iter_mut().filter(|g| g.recon == Some(Recon::GaussianLearned)) {
                g.logvar = off;
                off += g.width;
            }
        }
        Ok(lik)
    }

    /// The latent's heads on the encoder's output `shape`, and its buffers.
    fn latent(kind: Kind, dim: usize, shape: Shape, cond: usize, params: &mut Params, bl: &mut BufList) -> Result<(Latent, Bufs), ()> {
        let mut head = || -> Result<Dense, ()> {
            let (mut d, _) = Dense::new(dim, shape);
            d.cond = cond;
            let w = d.weight_rows().checked_mul(d.fan_out).ok_or(())?;
            let (wo, bo) = params.take(w, d.fan_out)?;
            d.w = wo;
            d.b = bo;
            Ok(d)
        };
        let latent = match kind {
            Kind::Vae => {
                let mean = head()?;
                let logvar = head()?;
                Latent::Gaussian { mean, logvar }
            }
            Kind::Autoencoder => Latent::Code(head()?),
        };
        let mut add = |enc: usize, dec: usize| bl.add(BufSpec { enc, dec, fixed: 0 }).ok_or(());
        let b = Bufs {
            mean: add(dim, 0)?, logvar: add(dim, 0)?, std: add(dim, 0)?, dmean: add(dim, 0)?, dlogvar: add(dim, 0)?,
            eps: add(0, dim)?, z: add(0, dim)?, ..Bufs::default()
        };
        Ok((latent, b))
    }

    pub fn vae(&self) -> bool {
        self.kind == Kind::Vae
    }

    pub fn latent_dim(&self) -> usize {
        self.latent.dim()
    }

    /// The activation of layer i on `ptr` (its buffers' addresses), or None when it is linear and in place.
    pub fn activation(&self, i: usize, ptr: impl Fn(Buf) -> *mut f32) -> Option<Activation> {
        let l = &self.layers[i];
        if l.act == Act::Linear && l.a == l.h {
            return None;
        }
        Some(Activation { act: l.act, slope: self.slope, a: ptr(l.a), h: ptr(l.h) })
    }

    /// The activation whose output layer i reads: that of the nearest layer before it on its side of the latent
    /// that computes (views pass their input through), or None when it reads x or z.
    pub fn below(&self, i: usize, ptr: impl Fn(Buf) -> *mut f32) -> Option<Activation> {
        let start = if i < self.n_encoder { 0 } else { self.n_encoder };
        self.last_activation(start, i, ptr)
    }

    /// The activation whose output the latent reads (the encoder's last computing layer's), or None for x.
    pub fn encoder_activation(&self, ptr: impl Fn(Buf) -> *mut f32) -> Option<Activation> {
        self.last_activation(0, self.n_encoder, ptr)
    }

    fn last_activation(&self, start: usize, end: usize, ptr: impl Fn(Buf) -> *mut f32) -> Option<Activation> {
        (start..end).rev().find(|&j| self.layers[j].op != Op::View).and_then(|j| self.activation(j, ptr))
    }

    /// The encoder's output buffer (the latent's input).
    pub fn encoder_top(&self) -> Buf {
        if self.n_encoder == 0 {
            self.bufs.x
        } else {
            self.layers[self.n_encoder - 1].h
        }
    }

    /// Every layer with parameters, in storage order: (weight offset, weights, bias offset, bias, fan-in, fan-out).
    pub fn parametric(&self, mut f: impl FnMut(ops::LayerParams)) {
        let dense = |d: Dense| ops::Op::Dense(d).params().unwrap_or_else(|| unreachable!());
        for l in &self.layers[..self.n_encoder] {
            if let Some(p) = l.op.params() {
                f(p);
            }
        }
        match self.latent {
            Latent::Gaussian { mean, logvar } => {
                f(dense(mean));
                f(dense(logvar));
            }
            Latent::Code(code) => f(dense(code)),
        }
        for l in &self.layers[self.n_encoder..self.n_layers] {
            if let Some(p) = l.op.params() {
                f(p);
            }
        }
    }

    /// Every tensor, in storage order, named from where it sits.
    pub fn tensors(&self, mut f: impl FnMut(Tensor)) {
        let both = |prefix: Name, p: ops::LayerParams, f: &mut dyn FnMut(Tensor)| {
            f(Tensor { name: prefix.push(".weight"), shape: p.shape, rank: p.rank, offset: p.w });
            f(Tensor { name: prefix.push(".bias"), shape: [p.bias, 0, 0, 0], rank: 1, offset: p.b });
        };
        let layer_name = |l: &Layer| match l.section {
            Section::Encoder => Name::new().push("encoder.").number(l.index),
            Section::Decoder => Name::new().push("decoder.").number(l.index),
            Section::Output => Name::new().push("decoder.out"),
        };
        let dense = |d: Dense| ops::Op::Dense(d).params().unwrap_or_else(|| unreachable!());
        for l in &self.layers[..self.n_encoder] {
            if let Some(p) = l.op.params() {
                both(layer_name(l), p, &mut f);
            }
        }
        match self.latent {
            Latent::Gaussian { mean, logvar } => {
                both(Name::new().push("encoder.mean"), dense(mean), &mut f);
                both(Name::new().push("encoder.logVar"), dense(logvar), &mut f);
            }
            Latent::Code(code) => both(Name::new().push("encoder.code"), dense(code), &mut f),
        }
        for l in &self.layers[self.n_encoder..self.n_layers] {
            if let Some(p) = l.op.params() {
                both(layer_name(l), p, &mut f);
            }
        }
        if let Some(offset) = self.likelihood.learned_offset() {
            f(Tensor { name: Name::new().push("decoder.logVar"), shape: [self.likelihood.learned_len(), 0, 0, 0], rank: 1, offset });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header words for a VAE (Bernoulli, relu default codes) on `input` with `latent` and `n` layers.
    fn header(input: [u32; 4], latent: u32, n: u32) -> Vec<u32> {
        let mut w = vec![DESCRIPTOR_VERSION, 0, 0, 0.01f32.to_bits(), 1.0f32.to_bits(), 0, 0, 1];
        w.extend_from_slice(&input);
        w.extend_from_slice(&[latent, 0, 0, n]);
        w
    }
    const ENC: u32 = 0;
    const DEC: u32 = 1;
    const OUT: u32 = 2;
    const RELU: u32 = 0;
    const LIN: u32 = 5;

    #[test]
    fn the_default_mlp_lays_out_parameters_as_release_0_1_did() {
        let mut w = header([1, 1, 1, 784], 20, 3);
        w.extend_from_slice(&[1, ENC, RELU, 400, 1, DEC, RELU, 400, 1, OUT, LIN, 784]);
        let p = Plan::compile(&w).unwrap();
        // encoder.0 (784×400 + 400), mean and logVar (400×20 + 20 each), decoder.0 (20×400 + 400), out (400×784 + 784),
        // every tensor starting on a multiple of 4 floats.
        assert_eq!(p.n_params, 784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784);
        let mut names = vec![];
        p.tensors(|t| names.push((core::str::from_utf8(t.name.as_bytes()).unwrap().to_string(), t.offset, t.len())));
        assert_eq!(names[0], ("encoder.0.weight".to_string(), 0, 313_600));
        assert_eq!(names[2], ("encoder.mean.weight".to_string(), 314_000, 8000));
        assert_eq!(names[4], ("encoder.logVar.weight".to_string(), 322_020, 8000));
        assert_eq!(names.last().unwrap().0, "decoder.out.bias");
        assert!(names.iter().all(|(_, off, _)| off % 4 == 0));
    }

    #[test]
    fn the_keras_conv_vae_compiles_to_keras_shapes() {
        let mut w = header([3, 28, 28, 1], 2, 9);
        let conv = |f: u32, sec: u32, mode: u32| vec![2, sec, RELU, f, 3, 3, 2, 2, mode, 0, 0];
        let convt = |f: u32, sec: u32, act: u32, s: u32| vec![3, sec, act, f, 3, 3, s, s, 1, 0, 0, NONE, NONE];
        w.extend(conv(32, ENC, 1));
        w.extend(conv(64, ENC, 1));
        w.extend([4, ENC, LIN]);
        w.extend([1, ENC, RELU, 16]);
        w.extend([1, DEC, RELU, 3136]);
        w.extend([5, DEC, LIN, 3, 7, 7, 64]);
        w.extend(convt(64, DEC, RELU, 2));
        w.extend(convt(32, DEC, RELU, 2));
        w.extend(convt(1, OUT, LIN, 1));
        let p = Plan::compile(&w).unwrap();
        let out: Vec<_> = p.layers[..p.n_layers].iter().map(|l| (l.output.h, l.output.w, l.output.c)).collect();
        assert_eq!(out, [(14, 14, 32), (7, 7, 64), (1, 1, 3136), (1, 1, 16), (1, 1, 3136), (7, 7, 64), (14, 14, 64), (28, 28, 32), (28, 28, 1)]);
        assert_eq!(p.n_encoder, 4);
        assert_eq!(p.n_params % 4, 0);
        // TensorFlow's 'same': 28 → 14 with stride 2 pads nothing before (the extra row goes after).
        match p.layers[0].op {
            Op::Conv2d(c) => assert_eq!((c.win.pt, c.win.pl), (0, 0)),
            _ => panic!(),
        }
        match p.layers[8].op {
            Op::Conv2dTranspose(c) => assert_eq!((c.win.pt, c.win.hb), (1, 28)),
            _ => panic!(),
        }
    }

    #[test]
    fn bad_descriptors_name_the_reason_and_layer() {
        let reason = |w: &[u32]| Plan::compile(w).err().map(|e| (e.reason, e.layer));
        // A reshape of the wrong size at layer 1.
        let mut w = header([1, 1, 1, 8], 2, 3);
        w.extend_from_slice(&[1, DEC, RELU, 10, 5, DEC, LIN, 3, 2, 2, 2, 1, OUT, LIN, 8]);
        assert_eq!(reason(&w), Some((Reason::ReshapeSize, 1)));
        // A convolution on flat data.
        let mut w = header([1, 1, 1, 8], 2, 2);
        w.extend_from_slice(&[2, ENC, RELU, 2, 3, 3, 1, 1, 0, 0, 0, 1, OUT, LIN, 8]);
        assert_eq!(reason(&w), Some((Reason::NeedsImage, 0)));
        // An output of the wrong size, an activation on the output, a missing output, trailing words.
        let mut w = header([1, 1, 1, 8], 2, 1);
        w.extend_from_slice(&[1, OUT, LIN, 9]);
        assert_eq!(reason(&w), Some((Reason::OutputShape, 0)));
        let mut w = header([1, 1, 1, 8], 2, 1);
        w.extend_from_slice(&[1, OUT, RELU, 8]);
        assert_eq!(reason(&w), Some((Reason::ActivationNotAllowed, 0)));
        let mut w = header([1, 1, 1, 8], 2, 1);
        w.extend_from_slice(&[1, DEC, RELU, 8]);
        assert_eq!(reason(&w), Some((Reason::BadDescriptor, NONE)));
        let mut w = header([1, 1, 1, 8], 2, 1);
        w.extend_from_slice(&[1, OUT, LIN, 8, 0]);
        assert_eq!(reason(&w), Some((Reason::BadDescriptor, NONE)));
        // A dense layer whose weights overflow 32 bits.
        let mut w = header([3, 2048, 1024, 2], 2, 2);
        w.extend_from_slice(&[1, ENC, RELU, 1 << 20, 1, OUT, LIN, 2048 * 1024 * 2]);
        assert!(matches!(reason(&w), Some((Reason::TooLarge, _))));
    }
}
