//! Elementary functions (exp, ln, log1p, sigmoid, softplus, tanh) built only from operations that round the same
//! everywhere, so results are bit-identical across engines. Each function is written once, generic over
//! [`Real`], and instantiated for `f32` (the scalar twin), `F32x4` (the SIMD kernel) and [`F32x16`] (four F32x4 at
//! once, for long loops); tests compare them.
//! Polynomials are Cephes' single-precision minimax fits (≈1 ulp on their reduced ranges).

use crate::simd::{round_ties_even, F32x4};

pub trait Real: Copy {
    fn splat(x: f32) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn abs(self) -> Self;
    /// `if o < self { o } else { self }`
    fn pmin(self, o: Self) -> Self;
    /// `if self < o { o } else { self }`
    fn pmax(self, o: Self) -> Self;
    fn round(self) -> Self;
    /// Per lane: `if self > o { a } else { b }`.
    fn gt_select(self, o: Self, a: Self, b: Self) -> Self;
    /// Per lane: `if self < o { a } else { b }`.
    fn lt_select(self, o: Self, a: Self, b: Self) -> Self;
    /// Per lane: `if self == o { a } else { b }`.
    fn eq_select(self, o: Self, a: Self, b: Self) -> Self;
    /// 2^n for lanes holding integers n in [-126, 127].
    fn pow2i(self) -> Self;
    /// Splits positive normal x into (m, e) with x = m·2^e and m in [1, 2).
    fn frexp1(self) -> (Self, Self);
    fn sqrt(self) -> Self;
    /// Loads `LANES` values from `p`.
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    /// Lanes per value: 1 (f32), 4 (F32x4), or twice its half's (Pair).
    const LANES: usize;
}

/// 2²³ + 127: for an integer n in [-126, 127], n + this is exact, and its bits are 0x4b00_0000 + (n + 127); shifted
/// left by 23, that leaves (n + 127) << 23, the bits of 2^n (one add and one shift, where a float-to-int conversion
/// takes six instructions in V8).
const POW2I_MAGIC: f32 = 8_388_735.0;

impl Real for f32 {
    #[inline(always)]
    fn splat(x: f32) -> Self {
        x
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self + o
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self - o
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self * o
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        self / o
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::from_bits(self.to_bits() & 0x7fff_ffff)
    }
    #[inline(always)]
    fn pmin(self, o: Self) -> Self {
        if o < self {
            o
        } else {
            self
        }
    }
    #[inline(always)]
    fn pmax(self, o: Self) -> Self {
        if self < o {
            o
        } else {
            self
        }
    }
    #[inline(always)]
    fn round(self) -> Self {
        round_ties_even(self)
    }
    #[inline(always)]
    fn gt_select(self, o: Self, a: Self, b: Self) -> Self {
        if self > o {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn lt_select(self, o: Self, a: Self, b: Self) -> Self {
        if self < o {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn eq_select(self, o: Self, a: Self, b: Self) -> Self {
        if self == o {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn pow2i(self) -> Self {
        f32::from_bits((self + POW2I_MAGIC).to_bits() << 23)
    }
    #[inline(always)]
    fn frexp1(self) -> (Self, Self) {
        let bits = self.to_bits();
        let e = ((bits >> 23) as i32 - 127) as f32;
        (f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000), e)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        crate::simd::sqrt_f32(self)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        *p
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        *p = self
    }
    const LANES: usize = 1;
}

impl Real for F32x4 {
    #[inline(always)]
    fn splat(x: f32) -> Self {
        F32x4::splat(x)
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        F32x4::add(self, o)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        F32x4::sub(self, o)
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        F32x4::mul(self, o)
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        F32x4::div(self, o)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        F32x4::abs(self)
    }
    #[inline(always)]
    fn pmin(self, o: Self) -> Self {
        F32x4::pmin(self, o)
    }
    #[inline(always)]
    fn pmax(self, o: Self) -> Self {
        F32x4::pmax(self, o)
    }
    #[inline(always)]
    fn round(self) -> Self {
        F32x4::round(self)
    }
    #[inline(always)]
    fn gt_select(self, o: Self, a: Self, b: Self) -> Self {
        self.gt(o).select(a, b)
    }
    #[inline(always)]
    fn lt_select(self, o: Self, a: Self, b: Self) -> Self {
        self.lt(o).select(a, b)
    }
    #[inline(always)]
    fn eq_select(self, o: Self, a: Self, b: Self) -> Self {
        self.eq(o).select(a, b)
    }
    #[inline(always)]
    fn pow2i(self) -> Self {
        F32x4::add(self, F32x4::splat(POW2I_MAGIC)).to_bits().shl(23).to_f32()
    }
    #[inline(always)]
    fn frexp1(self) -> (Self, Self) {
        let bits = self.to_bits();
        let e = bits.shr(23).add_i32(-127).i32_to_f32();
        (bits.and(0x007f_ffff).or(0x3f80_0000).to_f32(), e)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        F32x4::sqrt(self)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F32x4::load(p)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        F32x4::store(self, p)
    }
    const LANES: usize = 4;
}

/// Two values of `T` side by side, each operation applied to both: the same per-lane arithmetic as `T` (so the same
/// bits), with two independent dependency chains in one instruction sequence, so that long formulas (exp, then
/// log1p) overlap instead of waiting on each operation's latency.
#[derive(Clone, Copy)]
pub struct Pair<T>(pub T, pub T);
/// Four F32x4: what [`crate::simd::wide_lanes`] runs. Measured in V8 against one F32x4: two 1.1–1.4× faster, four
/// 1.3–1.9×, eight faster still on softplus but slower on tanh and log1p (registers spill).
pub type F32x16 = Pair<Pair<F32x4>>;

/// Methods of `Pair` that apply the same method of `T` to both halves, by arity.
macro_rules! both {
    ($($f:ident($($o:ident),*);)*) => {
        $(
            #[inline(always)]
            fn $f(self $(, $o: Self)*) -> Self {
                Pair(Real::$f(self.0 $(, $o.0)*), Real::$f(self.1 $(, $o.1)*))
            }
        )*
    };
}

impl<T: Real> Real for Pair<T> {
    #[inline(always)]
    fn splat(x: f32) -> Self {
        let v = T::splat(x);
        Pair(v, v)
    }
    both! {
        add(o); sub(o); mul(o); div(o); pmin(o); pmax(o);
        abs(); round(); pow2i(); sqrt();
        gt_select(o, a, b); lt_select(o, a, b); eq_select(o, a, b);
    }
    #[inline(always)]
    fn frexp1(self) -> (Self, Self) {
        let ((m0, e0), (m1, e1)) = (self.0.frexp1(), self.1.frexp1());
        (Pair(m0, m1), Pair(e0, e1))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Pair(T::load(p), T::load(p.add(T::LANES)))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        self.0.store(p);
        self.1.store(p.add(T::LANES));
    }
    const LANES: usize = 2 * T::LANES;
}

const LOG2E: f32 = 1.442_695_04;
const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_4e-4;
const LN2: f32 = 0.693_147_18;

/// Clamp bounds, read through [`opaque`]. (They live in linear memory, so a stray write would change them instead of
/// trapping; Rust 1.63 has no `black_box` to hide a constant otherwise.)
static EXP_MIN: f32 = -87.33;
static EXP_MAX: f32 = 88.0;
static TANH_MAX: f32 = 40.0;

/// A constant LLVM cannot see. Given pmin/pmax against a visible non-zero constant, LLVM emits `f32x4.min/max`
/// instead (the same values there), which engines lower to 7–8 instructions each (NaN and ±0 fix-ups) instead of
/// pmin/pmax's one; a volatile load costs one.
#[inline(always)]
fn opaque(c: &'static f32) -> f32 {
    unsafe { core::ptr::read_volatile(c) }
}

/// e^x. Inputs are clamped to [-87.33, 88.0], so the result is finite and ≥ 2⁻¹²⁶ for every input (NaN stays NaN
/// only through the arithmetic; callers never pass NaN on the hot paths they check).
#[inline(always)]
pub fn exp<T: Real>(x: T) -> T {
    let x = x.pmax(T::splat(opaque(&EXP_MIN))).pmin(T::splat(opaque(&EXP_MAX)));
    let n = x.mul(T::splat(LOG2E)).round();
    let r = x.sub(n.mul(T::splat(LN2_HI))).sub(n.mul(T::splat(LN2_LO)));
    let r2 = r.mul(r);
    let mut p = T::splat(1.987_569_1e-4);
    p = p.mul(r).add(T::splat(1.398_199_9e-3));
    p = p.mul(r).add(T::splat(8.333_452e-3));
    p = p.mul(r).add(T::splat(4.166_579_6e-2));
    p = p.mul(r).add(T::splat(1.666_666_5e-1));
    p = p.mul(r).add(T::splat(5.000_000_1e-1));
    let y = p.mul(r2).add(r).add(T::splat(1.0));
    y.mul(n.pow2i())
}

/// Natural logarithm, accurate for positive normal inputs (the only finite ones the core gives it); NaN for NaN
/// and ∞, whatever the NaN's bits.
#[inline(always)]
pub fn ln<T: Real>(x: T) -> T {
    let (m, e) = x.frexp1();
    // Move m into [√½, √2) so the polynomial argument f = m − 1 stays small.
    let big = m.gt_select(T::splat(core::f32::consts::SQRT_2), T::splat(1.0), T::splat(0.0));
    let m = m.mul(big.mul(T::splat(-0.5)).add(T::splat(1.0)));
    let e = e.add(big);
    let f = m.sub(T::splat(1.0));
    // + (x − x): 0 for finite x (the same bits), NaN for NaN or ∞, which the bits of x alone would turn into a
    // finite value that depends on the NaN's payload (engines differ in payloads, not in NaN-ness).
    ln_1p_reduced(f).add(e.mul(T::splat(LN2))).add(x.sub(x))
}

/// ln(1 + f) for f in [√½ − 1, √2 − 1] (Cephes' polynomial), the reduced argument of both logarithms.
#[inline(always)]
fn ln_1p_reduced<T: Real>(f: T) -> T {
    let z = f.mul(f);
    let mut p = T::splat(7.037_683_6e-2);
    p = p.mul(f).add(T::splat(-1.151_461_1e-1));
    p = p.mul(f).add(T::splat(1.167_699_9e-1));
    p = p.mul(f).add(T::splat(-1.242_014_1e-1));
    p = p.mul(f).add(T::splat(1.424_932_3e-1));
    p = p.mul(f).add(T::splat(-1.666_805_8e-1));
    p = p.mul(f).add(T::splat(2.000_071_5e-1));
    p = p.mul(f).add(T::splat(-2.499_999_4e-1));
    p = p.mul(f).add(T::splat(3.333_333e-1));
    let y = p.mul(f).mul(z).sub(z.mul(T::splat(0.5)));
    f.add(y)
}

/// log(1 + t) for t ≥ 0, accurate for tiny t: with u = 1 + t rounded, log1p(t) = ln(u)·t/(u − 1).
#[inline(always)]
pub fn log1p_nonneg<T: Real>(t: T) -> T {
    let one = T::splat(1.0);
    let u = one.add(t);
    let d = u.sub(one);
    // Where u rounds to 1, log1p(t) = t to within f32 precision; the division is then 0/0 and discarded.
    let safe_d = d.eq_select(T::splat(0.0), one, d);
    let v = ln(u).mul(t.div(safe_d));
    d.eq_select(T::splat(0.0), t, v)
}

/// log(1 + t) for t in [0, 1] (softplus' e^{−|a|}), without forming 1 + t and so without log1p_nonneg's division:
/// below √2 − 1 the reduced argument is t itself (exact), above it (1 + t)/2 − 1 = (t − 1)/2 (exact for t ≥ ½,
/// within half an ulp of f below), plus ln 2. 0 gives +0; NaN stays NaN.
#[inline(always)]
pub fn log1p_unit<T: Real>(t: T) -> T {
    let big = t.gt_select(T::splat(core::f32::consts::SQRT_2 - 1.0), T::splat(1.0), T::splat(0.0));
    // big = 1: (t − 1)·½; big = 0: (t − 0)·1.
    let f = t.sub(big).mul(big.mul(T::splat(-0.5)).add(T::splat(1.0)));
    ln_1p_reduced(f).add(big.mul(T::splat(LN2)))
}

/// Returns (softplus(a), sigmoid(a)) from one exponential: softplus(a) = max(a, 0) + log1p(e^{−|a|}),
/// σ(a) = 1/(1 + e^{−|a|}) for a ≥ 0 and e^{−|a|}/(1 + e^{−|a|}) otherwise. Stable for every finite a.
#[inline(always)]
pub fn softplus_sigmoid<T: Real>(a: T) -> (T, T) {
    let e = exp(a.abs().mul(T::splat(-1.0)));
    let sp = a.pmax(T::splat(0.0)).add(log1p_unit(e));
    let inv = T::splat(1.0).div(T::splat(1.0).add(e));
    let sig = a.lt_select(T::splat(0.0), e.mul(inv), inv);
    (sp, sig)
}

#[inline(always)]
pub fn sigmoid<T: Real>(a: T) -> T {
    softplus_sigmoid(a).1
}

/// softplus as an activation: max(a, 0) + log1p(e^{−|a|}) through log1p_nonneg, the bits release 0.1 computed, so
/// models saved with softplus layers keep every output (the Bernoulli loss' softplus_sigmoid is a little faster).
#[inline(always)]
pub fn softplus<T: Real>(a: T) -> T {
    a.pmax(T::splat(0.0)).add(log1p_nonneg(exp(a.abs().mul(T::splat(-1.0)))))
}

/// tanh: Cephes' odd polynomial for |a| < 0.625, else sign(a)·(1 − 2/(e^{2|a|} + 1)).
#[inline(always)]
pub fn tanh<T: Real>(a: T) -> T {
    let x = a.abs();
    let z = a.mul(a);
    let mut p = T::splat(-5.704_988_7e-3);
    p = p.mul(z).add(T::splat(2.063_908_9e-2));
    p = p.mul(z).add(T::splat(-5.373_971_6e-2));
    p = p.mul(z).add(T::splat(1.333_144_2e-1));
    p = p.mul(z).add(T::splat(-3.333_328_2e-1));
    let small = p.mul(z).mul(a).add(a);
    let e = exp(x.mul(T::splat(2.0)).pmin(T::splat(opaque(&TANH_MAX))));
    let big_abs = T::splat(1.0).sub(T::splat(2.0).div(e.add(T::splat(1.0))));
    let big = a.lt_select(T::splat(0.0), big_abs.mul(T::splat(-1.0)), big_abs);
    x.lt_select(T::splat(0.625), small, big)
}

/// e^x for x ≤ 0 in f64 (x = −∞ gives 0): 2^n · e^r with |r| ≤ ½ ln 2 and a degree-13 Taylor polynomial (error
/// below 1e-16 relative). Built from +, × and one division only, so identical on every engine.
pub fn exp_f64_nonpos(x: f64) -> f64 {
    if x < -745.0 {
        return 0.0;
    }
    const LN2: f64 = core::f64::consts::LN_2;
    let n = (x / LN2 - 0.5) as i64 as f64; // round to nearest for x ≤ 0 (truncation toward zero of x/ln2 − ½)
    // ln 2 split so that n·LN2_HI is exact for |n| < 2^11.
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Σ r^i/i! for i ≤ 13 by Horner's rule on the rounded 1/i! (no divisions: a chain of 13 of them was most of
    // this function's latency, paid once per draw of the importance-weighted bound).
    const INV_FACT: [f64; 14] = [
        1.0, 1.0, 0.5, 0.166_666_666_666_666_66, 0.041_666_666_666_666_664, 0.008_333_333_333_333_333,
        0.001_388_888_888_888_889, 1.984_126_984_126_984e-4, 2.480_158_730_158_73e-5, 2.755_731_922_398_589_3e-6,
        2.755_731_922_398_589e-7, 2.505_210_838_544_172e-8, 2.087_675_698_786_81e-9, 1.605_904_383_682_161_3e-10,
    ];
    let mut sum = INV_FACT[13];
    for c in INV_FACT[..13].iter().rev() {
        sum = sum * r + c;
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
pub fn ln_f64(x: f64) -> f64 {
    // NaN, ∞ and x ≤ 0 are not read from their bits (a NaN would give a finite value depending on its payload).
    if !(x > 0.0 && x < f64::INFINITY) {
        return if x == 0.0 { f64::NEG_INFINITY } else if x == f64::INFINITY { x } else { f64::NAN };
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f64, rel: f64) -> bool {
        let d = (a as f64 - b).abs();
        d <= rel * b.abs().max(1e-30)
    }

    fn grid() -> Vec<f32> {
        let mut v = Vec::new();
        let mut x = -100.0f32;
        while x <= 100.0 {
            v.push(x);
            x += 0.0137;
        }
        v.extend_from_slice(&[0.0, -0.0, 1e-20, -1e-20, 1e-7, -1e-7, 0.625, -0.625, 87.0, -87.0, 1e4, -1e4]);
        v
    }

    #[test]
    fn exp_is_accurate() {
        for &x in &grid() {
            if (-87.0..=88.0).contains(&x) {
                assert!(close(exp(x), (x as f64).exp(), 3e-7), "exp({x}) = {} vs {}", exp(x), (x as f64).exp());
            }
        }
        assert_eq!(exp(0.0f32), 1.0);
        assert!(exp(-1e4f32) > 0.0 && exp(-1e4f32) < 1.2e-38);
        assert!(exp(1e4f32).is_finite());
    }

    #[test]
    fn ln_is_accurate() {
        let mut x = 1e-30f32;
        while x < 1e30 {
            assert!(close(ln(x), (x as f64).ln(), 2e-7) || (ln(x) as f64 - (x as f64).ln()).abs() < 1e-7, "ln({x})");
            x *= 1.37;
        }
        assert_eq!(ln(1.0f32), 0.0);
    }

    #[test]
    fn ln_gives_nan_for_nan_whatever_its_payload() {
        // A NaN's bits must not become a finite logarithm (engines differ in NaN payloads, not in NaN-ness).
        for bits in [0x7fc0_0000u32, 0xffc0_0000, 0x7f80_0001, 0x7fff_ffff, 0xffa5_5a5a] {
            assert!(ln(f32::from_bits(bits)).is_nan(), "ln of NaN {bits:#x}");
            assert!(ln_f64(f32::from_bits(bits) as f64).is_nan(), "ln_f64 of NaN {bits:#x}");
        }
        assert!(ln(f32::INFINITY).is_nan(), "ln of ∞ (the doc says NaN: x − x)");
        assert_eq!(ln_f64(f64::INFINITY), f64::INFINITY);
        assert_eq!(ln_f64(0.0), f64::NEG_INFINITY);
        assert!(ln_f64(-1.0).is_nan());
        // Finite inputs keep their values (ln(1) = +0 exactly).
        assert_eq!(ln(1.0f32).to_bits(), 0);
        assert!((ln_f64(10.0) - 10f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn log1p_small_and_large() {
        for &t in &[0.0f32, 1e-30, 1e-10, 1e-7, 1e-4, 0.1, 0.5, 1.0] {
            assert!(close(log1p_nonneg(t), (t as f64).ln_1p(), 3e-7) || t == 0.0, "log1p({t})");
        }
        assert_eq!(log1p_nonneg(0.0f32), 0.0);
    }

    #[test]
    fn log1p_unit_accurate_on_0_1() {
        // Every 97th f32 in [2⁻¹⁴⁹, 1] (≈ 11 million values), both sides of the √2 − 1 switch, and the ends.
        let mut worst = 0.0f64;
        let mut check = |t: f32| {
            let (got, want) = (log1p_unit(t) as f64, (t as f64).ln_1p());
            worst = worst.max(((got - want) / want).abs());
        };
        let mut bits = 1u32;
        while bits <= 1.0f32.to_bits() {
            check(f32::from_bits(bits));
            bits += 97;
        }
        let switch = core::f32::consts::SQRT_2 - 1.0;
        for t in [switch, f32::from_bits(switch.to_bits() + 1), f32::from_bits(switch.to_bits() - 1), 0.5, 1.0] {
            check(t);
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(log1p_unit(0.0f32).to_bits(), 0);
        assert!(log1p_unit(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_softplus_tanh_accurate_everywhere() {
        for &a in &grid() {
            let a64 = a as f64;
            let sig = 1.0 / (1.0 + (-a64).exp());
            let sp = if a64 > 0.0 { a64 + (-a64).exp().ln_1p() } else { a64.exp().ln_1p() };
            let (s, g) = softplus_sigmoid(a);
            // Below e^-87 the clamped exponential makes tails slightly too large but still ≈ 0 in absolute terms.
            if a > -87.0 {
                assert!(close(g, sig, 1e-6), "sigmoid({a}) = {g} vs {sig}");
                assert!(close(s, sp, 1e-6), "softplus({a}) = {s} vs {sp}");
                assert!(close(softplus(a), sp, 1e-6), "the activation's softplus({a}) = {} vs {sp}", softplus(a));
            } else {
                assert!(g < 1.7e-38 && s < 1.7e-38);
            }
            let t = tanh(a);
            assert!(close(t, a64.tanh(), 2e-6) || (t as f64 - a64.tanh()).abs() < 1e-7, "tanh({a}) = {t}");
        }
    }

    #[test]
    fn simd_lanes_match_scalar_twin_bitwise() {
        let xs = grid();
        for chunk in xs.chunks_exact(4) {
            let v = unsafe { F32x4::load(chunk.as_ptr()) };
            let pos = v.abs().add(F32x4::splat(1e-3));
            let checks: [(F32x4, fn(f32) -> f32); 5] = [
                (exp(v), exp::<f32>),
                (sigmoid(v), sigmoid::<f32>),
                (softplus(v), softplus::<f32>),
                (tanh(v), tanh::<f32>),
                (ln(pos), |x| ln::<f32>(x.abs() + 1e-3)),
            ];
            for (vec, scalar) in checks.iter() {
                for i in 0..4 {
                    assert_eq!(vec.lane(i).to_bits(), scalar(chunk[i]).to_bits());
                }
            }
        }
    }

    #[test]
    fn four_vectors_at_once_match_scalar_twin_bitwise() {
        let xs = grid();
        for chunk in xs.chunks_exact(16) {
            let v = unsafe { F32x16::load(chunk.as_ptr()) };
            let pos = v.abs().add(F32x16::splat(1e-3));
            let checks: [(F32x16, fn(f32) -> f32); 7] = [
                (exp(v), exp::<f32>),
                (sigmoid(v), sigmoid::<f32>),
                (softplus(v), softplus::<f32>),
                (tanh(v), tanh::<f32>),
                (ln(pos), |x| ln::<f32>(x.abs() + 1e-3)),
                (log1p_nonneg(pos), |x| log1p_nonneg::<f32>(x.abs() + 1e-3)),
                (log1p_unit(pos.pmin(F32x16::splat(1.0))), |x| log1p_unit::<f32>((x.abs() + 1e-3).min(1.0))),
            ];
            for (wide, scalar) in checks.iter() {
                let mut out = [0.0f32; 16];
                unsafe { wide.store(out.as_mut_ptr()) };
                for i in 0..16 {
                    assert_eq!(out[i].to_bits(), scalar(chunk[i]).to_bits(), "lane {i} of {:?}", chunk);
                }
            }
        }
    }

    #[test]
    fn pow2i_is_exact_for_every_exponent() {
        for n in -126..=127i32 {
            let want = 2f64.powi(n) as f32;
            assert_eq!((n as f32).pow2i().to_bits(), want.to_bits(), "2^{n}");
            assert_eq!(F32x4::splat(n as f32).pow2i().lane(3).to_bits(), want.to_bits(), "2^{n}");
        }
    }

    #[test]
    fn f64_exp_and_ln_are_accurate() {
        for i in 0..2000 {
            let x = -(i as f64) * 0.37;
            let (got, want) = (exp_f64_nonpos(x), x.exp());
            assert!((got - want).abs() <= 1e-14 * want, "exp({x}) = {got} vs {want}");
        }
        assert_eq!(exp_f64_nonpos(f64::NEG_INFINITY), 0.0);
        // The reduced range, finely: within 2 ulp of the correctly rounded value.
        for i in 0..20_000 {
            let x = -(i as f64) * 1e-4;
            let (got, want) = (exp_f64_nonpos(x), x.exp());
            assert!((got - want).abs() <= 4.5e-16 * want, "exp({x}) = {got} vs {want}");
        }
        let mut x = 1e-300;
        while x < 1e300 {
            let (got, want) = (ln_f64(x), x.ln());
            assert!((got - want).abs() <= 1e-14 * want.abs().max(1.0), "ln({x}) = {got} vs {want}");
            x *= 7.3;
        }
    }
}
