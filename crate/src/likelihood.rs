//! The reconstruction term −log p(x | decoder output), per decoder row, with its gradient with respect to the
//! output (and to the learned log-variances).
//!
//! The output is split into groups of columns, each with its own term: one group over the whole row for images, or
//! per column group of a table (numeric columns Gaussian with a learned variance, binary ones Bernoulli, each
//! categorical column a softmax over its levels). The row's term is the sum of its groups' terms.

use crate::math::{self, Real};
use crate::simd::{wide_lanes, F32x4};

/// The term of one group.
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
    /// Categorical over the group's values (logits; x one-hot): −log softmax(o)[true] = logsumexp(o) − Σ x·o.
    Categorical,
}

/// The terms' numbers (part of the ABI: the plan's words; also the loops specialised by term).
const BERNOULLI: u32 = 0;
const GAUSSIAN: u32 = 1;
const GAUSSIAN_LEARNED: u32 = 2;
const SQUARED_ERROR: u32 = 3;
const CATEGORICAL: u32 = 4;

impl Recon {
    pub fn from_u32(x: u32) -> Option<Recon> {
        Some(match x {
            BERNOULLI => Recon::Bernoulli,
            GAUSSIAN => Recon::Gaussian,
            GAUSSIAN_LEARNED => Recon::GaussianLearned,
            SQUARED_ERROR => Recon::SquaredError,
            CATEGORICAL => Recon::Categorical,
            _ => return None,
        })
    }
}

const HALF_LN_2PI: f32 = 0.918_938_5;
/// Most groups a likelihood can have.
pub const MAX_GROUPS: usize = 256;

/// Columns [start, start + width) of a row with term `recon`; `logvar` is the offset of a learned group's
/// log-variances in the parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Group {
    pub recon: Option<Recon>,
    pub start: usize,
    pub width: usize,
    pub logvar: usize,
}

/// The likelihood of a model: its groups (covering the row in order), the fixed variance of Gaussian groups and
/// the data width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Likelihood {
    pub groups: [Group; MAX_GROUPS],
    pub n_groups: usize,
    pub variance: f32,
    pub dim: usize,
}

/// How the gradient of each decoder row's term is scaled: the same factor for every row (the ELBO's mean), or one
/// per row (the importance-weighted bound's normalised weights).
#[derive(Clone, Copy)]
pub enum Scale {
    None,
    All(f32),
    PerRow(*const f32),
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
    /// If not null, each element's share of its row's term (rows·samples × dim).
    pub elem: *mut f32,
}

/// One element of a term, without its constant: (loss, ∂loss/∂out, ∂loss/∂lv).
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
        // Handled group-wise (its normaliser couples the group's values).
        Recon::Categorical => (T::splat(0.0), T::splat(0.0), T::splat(0.0)),
    }
}

impl Likelihood {
    /// One group of `recon` over the whole row (learned log-variances at `logvar`).
    pub fn single(recon: Recon, variance: f32, dim: usize, logvar: usize) -> Likelihood {
        let mut groups = [Group::default(); MAX_GROUPS];
        groups[0] = Group { recon: Some(recon), start: 0, width: dim, logvar };
        Likelihood { groups, n_groups: 1, variance, dim }
    }

    fn groups(&self) -> &[Group] {
        &self.groups[..self.n_groups]
    }

    /// Log-variance parameters of the learned groups (they are laid out together).
    pub fn learned_len(&self) -> usize {
        self.groups().iter().filter(|g| g.recon == Some(Recon::GaussianLearned)).map(|g| g.width).sum()
    }

    /// Offset of the first learned log-variance (the `decoder.logVar` tensor), if any.
    pub fn learned_offset(&self) -> Option<usize> {
        self.groups().iter().find(|g| g.recon == Some(Recon::GaussianLearned)).map(|g| g.logvar)
    }

    /// The term per row into io.row_rec for rows·samples decoder rows (row r reads data row r / samples); with a
    /// gradient scale, also dL/dout = c_r·∂rec/∂out into io.dout and the learned log-variances' gradient (Σ_r c_r·
    /// ∂rec_r/∂lv) into io.grads.
    ///
    /// # Safety
    /// Buffers as `ReconIo` says; a per-row scale holds rows·samples values.
    pub unsafe fn reconstruction(&self, io: ReconIo, rows: usize, samples: usize, scale: Scale) {
        let learned = self.learned_len() > 0;
        if learned && !matches!(scale, Scale::None) {
            if let Some(off) = self.learned_offset() {
                core::ptr::write_bytes(io.grads.add(off), 0, self.learned_len());
            }
        }
        // Rows are independent (each writes its own row_rec and dout row), so they split across threads; the
        // learned variances' gradient is a sum over rows, so that case stays on one thread.
        struct Task<'a> {
            lik: &'a Likelihood,
            io: ReconIo,
            samples: usize,
            scale: Scale,
            drows: usize,
        }
        let drows = rows * samples;
        let parts = if learned { 1 } else { crate::par::parts(drows * self.dim, crate::par::PARALLEL_MIN_ELEMENTS) };
        crate::par::run(&Task { lik: self, io, samples, scale, drows }, parts, |t, p| {
            let (r0, r1) = p.range(t.drows, 1);
            for r in r0..r1 {
                t.lik.row(t.io, r, t.samples, t.scale);
            }
        });
    }

    /// Decoder row r: the sum of its groups' terms into row_rec[r], and the gradient with a scale.
    unsafe fn row(&self, io: ReconIo, r: usize, samples: usize, scale: Scale) {
        let dim = self.dim;
        let c = match scale {
            Scale::None => None,
            Scale::All(c) => Some(c),
            Scale::PerRow(p) => Some(*p.add(r)),
        };
        let (x, o) = (io.x.add((r / samples) * dim), io.out.add(r * dim));
        let g = io.dout.add(r * dim);
        let e = if io.elem.is_null() { core::ptr::null_mut() } else { io.elem.add(r * dim) };
        let mut total = 0.0f32;
        for (i, grp) in self.groups().iter().enumerate() {
            let t = self.group(io, grp, x, o, g, e, c);
            // The first group's term is the row's (so a one-group row is exactly that group's term).
            total = if i == 0 { t } else { total + t };
        }
        *io.row_rec.add(r) = total;
    }

    /// One group of one row: its term (with its constant), and the gradient with a scale.
    #[allow(clippy::too_many_arguments)]
    unsafe fn group(&self, io: ReconIo, grp: &Group, x: *const f32, o: *const f32, g: *mut f32, e: *mut f32, c: Option<f32>) -> f32 {
        let (s, w) = (grp.start, grp.width);
        let (x, o, g) = (x.add(s), o.add(s), g.add(s));
        let e = if e.is_null() { e } else { e.add(s) };
        let recon = grp.recon.unwrap_or(Recon::Bernoulli);
        let inv_var = 1.0 / self.variance;
        // Per-dimension constants of the Gaussian terms: ½ ln(2πσ²) (fixed) or ½ ln 2π (learned).
        let per = match recon {
            Recon::Gaussian => HALF_LN_2PI + 0.5 * math::ln(self.variance),
            Recon::GaussianLearned => HALF_LN_2PI,
            _ => 0.0,
        };
        let (lvp, dlv) = (io.params.add(grp.logvar), io.grads.add(grp.logvar));
        let cs = c.unwrap_or(0.0);
        let a = Terms { inv_var, per, cs, x, o, g, e, lvp, dlv, w };
        // One loop per term, with the gradient and without: a choice left inside the loop is made for every value,
        // keeps every term's constants live across it, and a loss-only pass would still compute the Bernoulli
        // gradient's division. Const generics, not an inlined function with constant arguments: LLVM merged the
        // latter's twin loops back into one (a third fewer loops in the module, the likelihood 5–10% slower).
        macro_rules! with_grad {
            ($r:expr) => {
                if c.is_some() {
                    terms::<{ $r }, true>(&a)
                } else {
                    terms::<{ $r }, false>(&a)
                }
            };
        }
        let (acc, tail) = match recon {
            Recon::Bernoulli => with_grad!(BERNOULLI),
            Recon::Gaussian => with_grad!(GAUSSIAN),
            Recon::GaussianLearned => with_grad!(GAUSSIAN_LEARNED),
            Recon::SquaredError => with_grad!(SQUARED_ERROR),
            // Its normaliser couples the group's values: a loop of its own.
            Recon::Categorical => return categorical(x, o, g, e, w, c),
        };
        (acc.hsum() + tail) + per * w as f32
    }

    /// Applies the output link in place to rows of `dim` values: σ for Bernoulli groups, softmax over each
    /// categorical group, identity otherwise.
    ///
    /// # Safety
    /// p addresses rows × dim floats.
    pub unsafe fn link(&self, p: *mut f32, rows: usize) {
        if self.n_groups == 1 && self.groups[0].recon == Some(Recon::Bernoulli) {
            // The whole output at once (as release 0.1 did).
            wide_lanes!(rows * self.dim, |T, i| {
                math::sigmoid(T::load(p.add(i))).store(p.add(i));
            });
            return;
        }
        for r in 0..rows {
            let row = p.add(r * self.dim);
            for grp in self.groups() {
                let q = row.add(grp.start);
                match grp.recon {
                    Some(Recon::Bernoulli) => wide_lanes!(grp.width, |T, i| {
                        math::sigmoid(T::load(q.add(i))).store(q.add(i));
                    }),
                    Some(Recon::Categorical) => softmax(q, grp.width),
                    _ => {}
                }
            }
        }
    }
}

/// The categorical term of one group: logsumexp(o)·Σx − Σ x·o (for one-hot x: −log softmax(o)[true]), its gradient
/// c·(softmax(o)·Σx − x), and each element's share x_j·(logsumexp(o) − o_j). In f32, with the maximum subtracted.
unsafe fn categorical(x: *const f32, o: *const f32, g: *mut f32, e: *mut f32, w: usize, c: Option<f32>) -> f32 {
    let mut max = *o;
    for j in 1..w {
        if *o.add(j) > max {
            max = *o.add(j);
        }
    }
    let mut sum = 0.0f32;
    let mut sum_x = 0.0f32;
    let mut dot = 0.0f32;
    for j in 0..w {
        sum += math::exp(*o.add(j) - max);
        sum_x += *x.add(j);
        dot += *x.add(j) * *o.add(j);
    }
    let lse = max + math::ln(sum);
    if !e.is_null() {
        for j in 0..w {
            *e.add(j) = *x.add(j) * (lse - *o.add(j));
        }
    }
    if let Some(c) = c {
        for j in 0..w {
            *g.add(j) = c * (math::exp(*o.add(j) - lse) * sum_x - *x.add(j));
        }
    }
    lse * sum_x - dot
}

/// Softmax in place over w values.
unsafe fn softmax(p: *mut f32, w: usize) {
    let mut max = *p;
    for j in 1..w {
        if *p.add(j) > max {
            max = *p.add(j);
        }
    }
    let mut sum = 0.0f32;
    for j in 0..w {
        let v = math::exp(*p.add(j) - max);
        *p.add(j) = v;
        sum += v;
    }
    for j in 0..w {
        *p.add(j) /= sum;
    }
}

/// One group's inputs and outputs, for [`terms`].
#[derive(Clone, Copy)]
struct Terms {
    inv_var: f32,
    per: f32,
    cs: f32,
    x: *const f32,
    o: *const f32,
    g: *mut f32,
    e: *mut f32,
    lvp: *const f32,
    dlv: *mut f32,
    w: usize,
}

/// The loop over one group's values for term `RECON`: the loss summed (lanes, then tail, as the loss always has
/// been), each value's share into `e` if it is not null, and with `GRAD` the gradient scaled by `cs`.
#[inline(always)]
unsafe fn terms<const RECON: u32, const GRAD: bool>(a: &Terms) -> (F32x4, f32) {
    let recon = Recon::from_u32(RECON).unwrap_or(Recon::SquaredError);
    let learned = RECON == GAUSSIAN_LEARNED;
    let Terms { inv_var, per, cs, x, o, g, e, lvp, dlv, w } = *a;
    let mut acc = F32x4::zero();
    let mut tail = 0.0f32;
    wide_lanes!(w, |T, j| {
        let lv = if learned { T::load(lvp.add(j)) } else { T::splat(0.0) };
        let (l, gr, glv) = elem(recon, inv_var, T::load(x.add(j)), T::load(o.add(j)), lv);
        accumulate(&mut acc, &mut tail, l);
        if !e.is_null() {
            l.add(T::splat(per)).store(e.add(j));
        }
        if GRAD {
            gr.mul(T::splat(cs)).store(g.add(j));
            if learned {
                T::load(dlv.add(j)).add(glv.mul(T::splat(cs))).store(dlv.add(j));
            }
        }
    });
    (acc, tail)
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

/// In lane order: the same additions, in the same order, as the four-lane loop would make.
impl<T: Accumulate> Accumulate for crate::math::Pair<T> {
    #[inline(always)]
    fn into(self, acc: &mut F32x4, tail: &mut f32) {
        self.0.into(acc, tail);
        self.1.into(acc, tail);
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

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use crate::rng::Pcg32;
    use std::vec::Vec;

    #[test]
    fn term_numbers_round_trip() {
        for r in [Recon::Bernoulli, Recon::Gaussian, Recon::GaussianLearned, Recon::SquaredError, Recon::Categorical] {
            assert_eq!(Recon::from_u32(r as u32), Some(r));
        }
    }

    /// Each term over every width that ends in each of the loops (16 values, 4, scalar), against the definition
    /// written out one value at a time in the order the loss has always been summed: value j into lane j mod 4 for
    /// the values that fill whole vectors, the rest into a scalar, then hsum + that scalar + the constants.
    #[test]
    fn group_term_matches_the_value_by_value_sum_bit_for_bit() {
        let mut rng = Pcg32::new(7, 1);
        for recon in [Recon::Bernoulli, Recon::Gaussian, Recon::GaussianLearned, Recon::SquaredError] {
            for w in 1..=41usize {
                let lik = Likelihood::single(recon, 0.7, w, 0);
                let x: Vec<f32> = (0..w).map(|_| rng.uniform()).collect();
                let o: Vec<f32> = (0..w).map(|_| rng.uniform() * 8.0 - 4.0).collect();
                let lv: Vec<f32> = (0..w).map(|_| rng.uniform() - 0.5).collect();
                for scale in [None, Some(0.375f32)] {
                    let (mut dout, mut row, mut e, mut dlv) = (std::vec![0.0f32; w], [0.0f32], std::vec![0.0f32; w], std::vec![0.0f32; w]);
                    let io = ReconIo {
                        params: lv.as_ptr(), grads: dlv.as_mut_ptr(), x: x.as_ptr(), out: o.as_ptr(), dout: dout.as_mut_ptr(),
                        row_rec: row.as_mut_ptr(), elem: e.as_mut_ptr(),
                    };
                    let s = match scale { None => Scale::None, Some(c) => Scale::All(c) };
                    unsafe { lik.reconstruction(io, 1, 1, s) };
                    let per = match recon {
                        Recon::Gaussian => HALF_LN_2PI + 0.5 * math::ln(0.7f32),
                        Recon::GaussianLearned => HALF_LN_2PI,
                        _ => 0.0,
                    };
                    let lvj = |j: usize| if recon == Recon::GaussianLearned { lv[j] } else { 0.0 };
                    let (mut lanes, mut tail) = ([0.0f32; 4], 0.0f32);
                    for j in 0..w {
                        let (l, g, glv) = elem::<f32>(recon, 1.0 / 0.7, x[j], o[j], lvj(j));
                        if j < w / 4 * 4 { lanes[j % 4] += l } else { tail += l }
                        assert_eq!(e[j].to_bits(), (l + per).to_bits(), "{recon:?} w={w} e[{j}]");
                        let c = scale.unwrap_or(0.0);
                        let (want_g, want_lv) = if scale.is_some() { (g * c, if recon == Recon::GaussianLearned { 0.0 + glv * c } else { 0.0 }) } else { (0.0, 0.0) };
                        assert_eq!(dout[j].to_bits(), want_g.to_bits(), "{recon:?} w={w} dout[{j}]");
                        assert_eq!(dlv[j].to_bits(), want_lv.to_bits(), "{recon:?} w={w} dlv[{j}]");
                    }
                    let want = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail) + per * w as f32;
                    assert_eq!(row[0].to_bits(), want.to_bits(), "{recon:?} w={w} scale={scale:?}");
                }
            }
        }
    }
}
