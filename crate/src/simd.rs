//! `F32x4`: four f32 lanes. On wasm32 it is a `v128` driven by `simd128` instructions; elsewhere (host tests) it
//! is a plain array with the same per-lane IEEE semantics. Only operations that round identically in both
//! (add, sub, mul, div, sqrt, compare, select, pmin/pmax) are offered, so a kernel and its scalar twin agree bit
//! for bit. There is deliberately no fused multiply-add.

#[cfg(target_arch = "wasm32")]
mod imp {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    #[repr(transparent)]
    pub struct F32x4(pub v128);

    impl F32x4 {
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            F32x4(f32x4_splat(x))
        }
        #[inline(always)]
        pub fn zero() -> Self {
            F32x4(f32x4_splat(0.0))
        }
        /// Loads 4 floats from `p` (no alignment needed).
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> Self {
            F32x4(v128_load(p as *const v128))
        }
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            v128_store(p as *mut v128, self.0)
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            F32x4(f32x4_add(self.0, o.0))
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            F32x4(f32x4_sub(self.0, o.0))
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            F32x4(f32x4_mul(self.0, o.0))
        }
        #[inline(always)]
        pub fn div(self, o: Self) -> Self {
            F32x4(f32x4_div(self.0, o.0))
        }
        #[inline(always)]
        pub fn sqrt(self) -> Self {
            F32x4(f32x4_sqrt(self.0))
        }
        #[inline(always)]
        pub fn abs(self) -> Self {
            F32x4(f32x4_abs(self.0))
        }
        #[inline(always)]
        pub fn neg(self) -> Self {
            F32x4(f32x4_neg(self.0))
        }
        /// `if o < self { o } else { self }` per lane.
        #[inline(always)]
        pub fn pmin(self, o: Self) -> Self {
            F32x4(f32x4_pmin(self.0, o.0))
        }
        /// `if self < o { o } else { self }` per lane.
        #[inline(always)]
        pub fn pmax(self, o: Self) -> Self {
            F32x4(f32x4_pmax(self.0, o.0))
        }
        /// Per lane, the operand whose bits are larger as an unsigned integer: for values ≥ 0 the larger one, NaN
        /// (sign clear) above ∞. One instruction, where a running `pmax` compiles to a compare and a select.
        #[inline(always)]
        pub fn max_bits(self, o: Self) -> Self {
            F32x4(u32x4_max(self.0, o.0))
        }
        /// Lane mask: all ones where `self > o`.
        #[inline(always)]
        pub fn gt(self, o: Self) -> Mask {
            Mask(f32x4_gt(self.0, o.0))
        }
        #[inline(always)]
        pub fn lt(self, o: Self) -> Mask {
            Mask(f32x4_lt(self.0, o.0))
        }
        #[inline(always)]
        pub fn ge(self, o: Self) -> Mask {
            Mask(f32x4_ge(self.0, o.0))
        }
        #[inline(always)]
        pub fn eq(self, o: Self) -> Mask {
            Mask(f32x4_eq(self.0, o.0))
        }
        #[inline(always)]
        pub fn to_bits(self) -> U32x4 {
            U32x4(self.0)
        }
        #[inline(always)]
        pub fn lane(self, i: usize) -> f32 {
            let mut out = [0.0f32; 4];
            unsafe { self.store(out.as_mut_ptr()) };
            out[i]
        }
        /// Sum of the lanes as ((l0 + l1) + (l2 + l3)).
        #[inline(always)]
        pub fn hsum(self) -> f32 {
            let mut out = [0.0f32; 4];
            unsafe { self.store(out.as_mut_ptr()) };
            (out[0] + out[1]) + (out[2] + out[3])
        }
        /// Rounds to the nearest integer (ties to even), as f32.
        #[inline(always)]
        pub fn round(self) -> Self {
            F32x4(f32x4_nearest(self.0))
        }
    }

    #[derive(Clone, Copy)]
    pub struct Mask(v128);

    impl Mask {
        /// Lanes of `a` where the mask is set, else lanes of `b`.
        #[inline(always)]
        pub fn select(self, a: F32x4, b: F32x4) -> F32x4 {
            F32x4(v128_bitselect(a.0, b.0, self.0))
        }
        #[inline(always)]
        pub fn and(self, o: Mask) -> Mask {
            Mask(v128_and(self.0, o.0))
        }
    }

    #[derive(Clone, Copy)]
    pub struct U32x4(v128);

    impl U32x4 {
        #[inline(always)]
        pub fn to_f32(self) -> F32x4 {
            F32x4(self.0)
        }
        #[inline(always)]
        pub fn shr(self, n: u32) -> Self {
            U32x4(u32x4_shr(self.0, n))
        }
        #[inline(always)]
        pub fn shl(self, n: u32) -> Self {
            U32x4(i32x4_shl(self.0, n))
        }
        #[inline(always)]
        pub fn and(self, m: u32) -> Self {
            U32x4(v128_and(self.0, u32x4_splat(m)))
        }
        #[inline(always)]
        pub fn or(self, m: u32) -> Self {
            U32x4(v128_or(self.0, u32x4_splat(m)))
        }
        /// Integer lanes (as i32) converted to f32.
        #[inline(always)]
        pub fn i32_to_f32(self) -> F32x4 {
            F32x4(f32x4_convert_i32x4(self.0))
        }
        #[inline(always)]
        pub fn add_i32(self, c: i32) -> Self {
            U32x4(i32x4_add(self.0, i32x4_splat(c)))
        }
    }

    /// Square root of one f32 (the wasm instruction; correctly rounded).
    #[inline(always)]
    pub fn sqrt_f32(x: f32) -> f32 {
        F32x4::splat(x).sqrt().lane(0)
    }

    /// Transposes the 4×4 matrix whose rows are a, b, c, d.
    #[inline(always)]
    pub fn transpose4(a: F32x4, b: F32x4, c: F32x4, d: F32x4) -> [F32x4; 4] {
        let t0 = i32x4_shuffle::<0, 4, 1, 5>(a.0, b.0);
        let t1 = i32x4_shuffle::<2, 6, 3, 7>(a.0, b.0);
        let t2 = i32x4_shuffle::<0, 4, 1, 5>(c.0, d.0);
        let t3 = i32x4_shuffle::<2, 6, 3, 7>(c.0, d.0);
        [
            F32x4(i32x4_shuffle::<0, 1, 4, 5>(t0, t2)),
            F32x4(i32x4_shuffle::<2, 3, 6, 7>(t0, t2)),
            F32x4(i32x4_shuffle::<0, 1, 4, 5>(t1, t3)),
            F32x4(i32x4_shuffle::<2, 3, 6, 7>(t1, t3)),
        ]
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    #[derive(Clone, Copy, Debug)]
    pub struct F32x4(pub [f32; 4]);

    macro_rules! lanes {
        ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
            let (a, b) = ($a.0, $b.0);
            F32x4([
                { let ($x, $y) = (a[0], b[0]); $e },
                { let ($x, $y) = (a[1], b[1]); $e },
                { let ($x, $y) = (a[2], b[2]); $e },
                { let ($x, $y) = (a[3], b[3]); $e },
            ])
        }};
    }

    impl F32x4 {
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            F32x4([x; 4])
        }
        #[inline(always)]
        pub fn zero() -> Self {
            F32x4([0.0; 4])
        }
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> Self {
            F32x4((p as *const [f32; 4]).read_unaligned())
        }
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            (p as *mut [f32; 4]).write_unaligned(self.0)
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            lanes!(self, o, |x, y| x + y)
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            lanes!(self, o, |x, y| x - y)
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            lanes!(self, o, |x, y| x * y)
        }
        #[inline(always)]
        pub fn div(self, o: Self) -> Self {
            lanes!(self, o, |x, y| x / y)
        }
        #[inline(always)]
        pub fn sqrt(self) -> Self {
            F32x4(self.0.map(|x| x.sqrt()))
        }
        #[inline(always)]
        pub fn abs(self) -> Self {
            F32x4(self.0.map(|x| f32::from_bits(x.to_bits() & 0x7fff_ffff)))
        }
        #[inline(always)]
        pub fn neg(self) -> Self {
            F32x4(self.0.map(|x| f32::from_bits(x.to_bits() ^ 0x8000_0000)))
        }
        #[inline(always)]
        pub fn pmin(self, o: Self) -> Self {
            lanes!(self, o, |x, y| if y < x { y } else { x })
        }
        #[inline(always)]
        pub fn pmax(self, o: Self) -> Self {
            lanes!(self, o, |x, y| if x < y { y } else { x })
        }
        #[inline(always)]
        pub fn max_bits(self, o: Self) -> Self {
            let mut r = self.0;
            for (x, y) in r.iter_mut().zip(o.0) {
                *x = f32::from_bits(x.to_bits().max(y.to_bits()));
            }
            F32x4(r)
        }
        #[inline(always)]
        pub fn gt(self, o: Self) -> Mask {
            Mask([0, 1, 2, 3].map(|i| self.0[i] > o.0[i]))
        }
        #[inline(always)]
        pub fn lt(self, o: Self) -> Mask {
            Mask([0, 1, 2, 3].map(|i| self.0[i] < o.0[i]))
        }
        #[inline(always)]
        pub fn ge(self, o: Self) -> Mask {
            Mask([0, 1, 2, 3].map(|i| self.0[i] >= o.0[i]))
        }
        #[inline(always)]
        pub fn eq(self, o: Self) -> Mask {
            Mask([0, 1, 2, 3].map(|i| self.0[i] == o.0[i]))
        }
        #[inline(always)]
        pub fn to_bits(self) -> U32x4 {
            U32x4(self.0.map(|x| x.to_bits()))
        }
        #[inline(always)]
        pub fn lane(self, i: usize) -> f32 {
            self.0[i]
        }
        #[inline(always)]
        pub fn hsum(self) -> f32 {
            (self.0[0] + self.0[1]) + (self.0[2] + self.0[3])
        }
        #[inline(always)]
        pub fn round(self) -> Self {
            F32x4(self.0.map(super::round_ties_even))
        }
    }

    #[derive(Clone, Copy)]
    pub struct Mask([bool; 4]);

    impl Mask {
        #[inline(always)]
        pub fn select(self, a: F32x4, b: F32x4) -> F32x4 {
            F32x4([0, 1, 2, 3].map(|i| if self.0[i] { a.0[i] } else { b.0[i] }))
        }
        #[inline(always)]
        pub fn and(self, o: Mask) -> Mask {
            Mask([0, 1, 2, 3].map(|i| self.0[i] && o.0[i]))
        }
    }

    #[derive(Clone, Copy)]
    pub struct U32x4([u32; 4]);

    impl U32x4 {
        #[inline(always)]
        pub fn to_f32(self) -> F32x4 {
            F32x4(self.0.map(f32::from_bits))
        }
        #[inline(always)]
        pub fn shr(self, n: u32) -> Self {
            U32x4(self.0.map(|x| x >> n))
        }
        #[inline(always)]
        pub fn shl(self, n: u32) -> Self {
            U32x4(self.0.map(|x| x << n))
        }
        #[inline(always)]
        pub fn and(self, m: u32) -> Self {
            U32x4(self.0.map(|x| x & m))
        }
        #[inline(always)]
        pub fn or(self, m: u32) -> Self {
            U32x4(self.0.map(|x| x | m))
        }
        #[inline(always)]
        pub fn i32_to_f32(self) -> F32x4 {
            F32x4(self.0.map(|x| x as i32 as f32))
        }
        #[inline(always)]
        pub fn add_i32(self, c: i32) -> Self {
            U32x4(self.0.map(|x| (x as i32).wrapping_add(c) as u32))
        }
    }

    #[inline(always)]
    pub fn sqrt_f32(x: f32) -> f32 {
        x.sqrt()
    }

    #[inline(always)]
    pub fn transpose4(a: F32x4, b: F32x4, c: F32x4, d: F32x4) -> [F32x4; 4] {
        let m = [a.0, b.0, c.0, d.0];
        [0, 1, 2, 3].map(|i| F32x4([m[0][i], m[1][i], m[2][i], m[3][i]]))
    }
}

pub use imp::{sqrt_f32, transpose4, F32x4, Mask, U32x4};

/// Round to nearest, ties to even, for |x| < 2²² (the range the math kernels use), written with plain f32
/// arithmetic so that it matches `f32x4.nearest` exactly.
#[inline(always)]
pub fn round_ties_even(x: f32) -> f32 {
    // Adding and subtracting 1.5·2²³ rounds to an integer under the default rounding mode.
    const MAGIC: f32 = 12_582_912.0;
    (x + MAGIC) - MAGIC
}

/// The "four lanes, then a scalar tail" loop, written once: runs `$body` with the type `$T` = [`F32x4`] for
/// `$i` = 0, 4, 8, … while `$i` + 4 ≤ n, then with `$T` = `f32` for each remaining `$i`. Bodies are written against
/// [`crate::math::Real`], so lanes and tail compute the same formula and round identically.
macro_rules! lanes {
    ($n:expr, |$T:ident, $i:ident| $body:block) => {{
        let n: usize = $n;
        let mut $i = 0usize;
        {
            #[allow(dead_code)]
            type $T = $crate::simd::F32x4;
            while $i + 4 <= n {
                $body
                $i += 4;
            }
        }
        {
            #[allow(dead_code)]
            type $T = f32;
            while $i < n {
                $body
                $i += 1;
            }
        }
    }};
}
pub(crate) use lanes;

/// [`lanes!`] for long formulas (exp, log, division): first 16 values at a time as four independent vectors
/// ([`crate::math::F32x16`]), then as `lanes!`. Each value is computed by the same per-lane operations, so the bits are
/// those of `lanes!`; the four dependency chains overlap, where one chain leaves the processor waiting on each
/// operation's latency (1.3–1.9× faster measured in V8). A body that accumulates across `$i` must add the four
/// vectors in lane order (see `likelihood::Accumulate`).
macro_rules! wide_lanes {
    ($n:expr, |$T:ident, $i:ident| $body:block) => {{
        let n: usize = $n;
        let mut $i = 0usize;
        {
            #[allow(dead_code)]
            type $T = $crate::math::F32x16;
            while $i + 16 <= n {
                $body
                $i += 16;
            }
        }
        let done = $i;
        $crate::simd::lanes!(n - done, |$T, k| {
            let $i = done + k;
            $body
        });
    }};
}
pub(crate) use wide_lanes;

#[cfg(test)]
mod tests {
    extern crate std;
    use crate::math::Real;
    use std::vec::Vec;

    #[test]
    fn wide_lanes_visits_each_index_once_widest_first() {
        for n in 0..60usize {
            let mut seen = Vec::new();
            wide_lanes!(n, |T, i| {
                seen.push((i, T::LANES));
            });
            let mut next = 0;
            for &(i, lanes) in &seen {
                assert_eq!(i, next, "n = {n}");
                next += lanes;
            }
            assert_eq!(next, n);
            let widths: Vec<usize> = seen.iter().map(|&(_, l)| l).collect();
            let (w16, rest) = (n / 16, n % 16);
            let want: Vec<usize> = [std::vec![16; w16], std::vec![4; rest / 4], std::vec![1; rest % 4]].concat();
            assert_eq!(widths, want, "n = {n}");
        }
    }
}
