//! Seeded randomness: PCG32 (O'Neill's XSH-RR variant) seeded through SplitMix64, uniform floats with 24 random
//! bits, and standard normals by Marsaglia's polar method. Only integer arithmetic, +, ×, ÷, √ and our own `ln`,
//! so a seed yields the same bits on every engine.

use crate::math::{ln, F32x16, Real};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Pcg32 {
    state: u64,
    inc: u64,
    /// Second normal of the last polar pair (bits), valid when `has_spare` is 1.
    spare: u32,
    has_spare: u32,
}

/// √(−2 ln s / s), the polar method's factor.
#[inline(always)]
fn polar_factor<T: Real>(s: T) -> T {
    T::splat(-2.0).mul(ln(s)).div(s).sqrt()
}

const MULT: u64 = 6_364_136_223_846_793_005;

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Pcg32 {
    /// A generator for `seed` on independent `stream`s (different streams of one seed do not overlap).
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut s = seed ^ stream.wrapping_mul(0xd134_2543_de82_ef95);
        let init = splitmix64(&mut s);
        let inc = (splitmix64(&mut s) << 1) | 1;
        let mut rng = Pcg32 { state: 0, inc, spare: 0, has_spare: 0 };
        rng.next_u32();
        rng.state = rng.state.wrapping_add(init);
        rng.next_u32();
        rng
    }

    /// The full state as six words (state lo/hi, inc lo/hi, spare, has_spare), for checkpoints.
    pub fn to_words(&self) -> [u32; 6] {
        [self.state as u32, (self.state >> 32) as u32, self.inc as u32, (self.inc >> 32) as u32, self.spare, self.has_spare]
    }

    /// Restores a state written by `to_words`; None if it cannot have come from one (even increment, bad flag).
    pub fn from_words(w: &[u32; 6]) -> Option<Pcg32> {
        let state = w[0] as u64 | (w[1] as u64) << 32;
        let inc = w[2] as u64 | (w[3] as u64) << 32;
        if inc & 1 == 0 || w[5] > 1 {
            return None;
        }
        Some(Pcg32 { state, inc, spare: w[4], has_spare: w[5] })
    }

    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(MULT).wrapping_add(self.inc);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        let rot = (old >> 59) as u32;
        xorshifted.rotate_right(rot)
    }

    /// Uniform in [0, 1) with 24 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// Uniform integer in [0, n) without modulo bias (Lemire's method with rejection), n ≥ 1.
    #[inline]
    pub fn below(&mut self, n: u32) -> u32 {
        let mut m = self.next_u32() as u64 * n as u64;
        let mut low = m as u32;
        if low < n {
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                m = self.next_u32() as u64 * n as u64;
                low = m as u32;
            }
        }
        (m >> 32) as u32
    }

    /// Standard normal N(0, 1).
    pub fn normal(&mut self) -> f32 {
        if self.has_spare != 0 {
            self.has_spare = 0;
            return f32::from_bits(self.spare);
        }
        let (u, v, s) = self.polar_pair();
        let f = polar_factor(s);
        self.spare = (v * f).to_bits();
        self.has_spare = 1;
        u * f
    }

    /// The polar method's next accepted point: u, v uniform in (−1, 1) with 0 < s = u² + v² < 1.
    #[inline(always)]
    fn polar_pair(&mut self) -> (f32, f32, f32) {
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return (u, v, s);
            }
        }
    }

    /// Fills `out` with standard normals: the values, and the state after, of calling `normal` for each. The
    /// rejection loop stays scalar (it is the stream's order); the factor √(−2 ln s / s), most of a normal's cost,
    /// is taken for 16 points at a time in SIMD lanes, which give the scalar's bits (+, ×, ÷ and √ are correctly
    /// rounded, and `ln`'s lanes are tested against its scalar twin).
    pub fn fill_normal(&mut self, out: &mut [f32]) {
        const BLOCK: usize = 16;
        let mut i = 0;
        if self.has_spare != 0 && !out.is_empty() {
            self.has_spare = 0;
            out[0] = f32::from_bits(self.spare);
            i = 1;
        }
        let (mut u, mut v) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
        // Lanes not drawn in a block keep an earlier s (or ½): finite, and their results are not used.
        let (mut s, mut f) = ([0.5f32; BLOCK], [0.0f32; BLOCK]);
        while i < out.len() {
            let points = ((out.len() - i + 1) / 2).min(BLOCK);
            for j in 0..points {
                let (a, b, c) = self.polar_pair();
                u[j] = a;
                v[j] = b;
                s[j] = c;
            }
            unsafe { polar_factor(F32x16::load(s.as_ptr())).store(f.as_mut_ptr()) };
            for j in 0..points {
                out[i] = u[j] * f[j];
                let second = v[j] * f[j];
                // As `normal` does, the spare's bits stay after it is used (checkpoints hold them).
                self.spare = second.to_bits();
                if i + 1 < out.len() {
                    out[i + 1] = second;
                } else {
                    self.has_spare = 1;
                }
                i += 2;
            }
        }
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle(&mut self, v: &mut [u32]) {
        let n = v.len();
        for i in (1..n).rev() {
            let j = self.below(i as u32 + 1) as usize;
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_streams_differ() {
        let mut a = Pcg32::new(42, 0);
        let mut b = Pcg32::new(42, 0);
        let mut c = Pcg32::new(42, 1);
        let mut d = Pcg32::new(43, 0);
        let xa: Vec<u32> = (0..100).map(|_| a.next_u32()).collect();
        let xb: Vec<u32> = (0..100).map(|_| b.next_u32()).collect();
        let xc: Vec<u32> = (0..100).map(|_| c.next_u32()).collect();
        let xd: Vec<u32> = (0..100).map(|_| d.next_u32()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        assert_ne!(xa, xd);
    }

    #[test]
    fn fill_normal_gives_the_bits_and_state_of_one_normal_at_a_time() {
        // Every length across blocks of 16 points, from a state with a spare normal and without, and in pieces.
        for spare in [false, true] {
            for len in 0..80 {
                let mut a = Pcg32::new(7, 3);
                if spare {
                    a.normal();
                }
                let mut b = a;
                let want: Vec<u32> = (0..len).map(|_| a.normal().to_bits()).collect();
                let mut got = vec![0.0f32; len];
                b.fill_normal(&mut got);
                assert_eq!(got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), want, "len {len}, spare {spare}");
                assert_eq!(a, b, "state after len {len}, spare {spare}");
                assert_eq!(a.normal().to_bits(), b.normal().to_bits());
            }
        }
        let mut a = Pcg32::new(1, 0);
        let mut b = a;
        let want: Vec<u32> = (0..5000).map(|_| a.normal().to_bits()).collect();
        let mut got = vec![0.0f32; 5000];
        let mut at = 0;
        for piece in [1, 33, 2, 31, 1000, 3933] {
            b.fill_normal(&mut got[at..at + piece]);
            at += piece;
        }
        assert_eq!(got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), want);
        assert_eq!(a, b);
    }

    #[test]
    fn state_words_round_trip() {
        let mut a = Pcg32::new(9, 1);
        a.normal();
        let mut b = Pcg32::from_words(&a.to_words()).unwrap();
        assert_eq!(a.normal().to_bits(), b.normal().to_bits());
        assert_eq!(a.next_u32(), b.next_u32());
        let mut bad = a.to_words();
        bad[2] &= !1;
        assert!(Pcg32::from_words(&bad).is_none());
    }

    #[test]
    fn uniform_and_normal_moments() {
        let mut r = Pcg32::new(7, 3);
        let n = 200_000;
        let (mut s1, mut s2) = (0f64, 0f64);
        for _ in 0..n {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            s1 += u as f64;
        }
        assert!((s1 / n as f64 - 0.5).abs() < 0.005);
        s1 = 0.0;
        let mut s4 = 0f64;
        for _ in 0..n {
            let z = r.normal() as f64;
            s1 += z;
            s2 += z * z;
            s4 += z * z * z * z;
        }
        let m = s1 / n as f64;
        let var = s2 / n as f64 - m * m;
        assert!(m.abs() < 0.01, "mean {m}");
        assert!((var - 1.0).abs() < 0.015, "var {var}");
        assert!((s4 / n as f64 - 3.0).abs() < 0.1, "kurtosis");
    }

    #[test]
    fn shuffle_is_a_permutation_and_below_is_uniform() {
        let mut r = Pcg32::new(1, 0);
        let mut v: Vec<u32> = (0..1000).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        assert_ne!(v, sorted);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[r.below(3) as usize] += 1;
        }
        for c in counts {
            assert!((c as i32 - 10_000).abs() < 400, "{counts:?}");
        }
    }
}
