//! The windows of a 2-D convolution, and the two gathers that turn convolutions into products.
//!
//! A convolution relates a "big" image (hb × wb pixels of `ch` channels, channels last) and a "small" grid (hs × ws):
//! small pixel (oy, ox) looks at big pixels (oy·sh + ky − pt, ox·sw + kx − pl) for the kernel taps (ky, kx); taps
//! outside the big image read zeros. A conv2d reads big (its input) and writes small (its output); a transposed
//! conv2d reads small and writes big. Both directions are gathers, split across threads by the pixels they write:
//! - `im2col` gathers, for each small pixel, its window of the big image into one row of `cols`
//!   (kh·kw·ch values, taps in (ky, kx) order, channels innermost);
//! - `col2im` gathers, for each big pixel, the sum over the windows that cover it of their entries for that pixel,
//!   in a fixed order of taps — the transposed operation, without scatter-adds, so every value is the same bits
//!   whichever thread computes it.

use crate::act::Activation;
use crate::math::Real;
use crate::par;
use crate::simd::lanes;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Windows {
    pub hb: usize,
    pub wb: usize,
    pub ch: usize,
    pub hs: usize,
    pub ws: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    /// Padding before the first big row and column (rows and columns past the end are implied).
    pub pt: usize,
    pub pl: usize,
}

/// Work on each big pixel's `ch` values once `col2im` has summed them.
#[derive(Clone, Copy)]
pub enum Then {
    None,
    /// h = act(a), with `a` the buffer being written.
    Act(Activation),
    /// d ← d · act'(a) of the layer below, with d the buffer being written.
    ActGrad(Activation),
}

impl Windows {
    /// Values in one window: kh·kw·ch.
    pub fn patch(&self) -> usize {
        self.kh.saturating_mul(self.kw).saturating_mul(self.ch)
    }

    /// Values of `cols` per image: one window per small pixel.
    pub fn cols_len(&self) -> usize {
        self.hs.saturating_mul(self.ws).saturating_mul(self.patch())
    }

    /// Values of the big image per image.
    pub fn big_len(&self) -> usize {
        self.hb.saturating_mul(self.wb).saturating_mul(self.ch)
    }

    /// cols[r][oy][ox][ky][kx][c] = big[r][oy·sh + ky − pt][ox·sw + kx − pl][c], or 0 outside, for `rows` images.
    ///
    /// # Safety
    /// big holds rows × big_len values, cols rows × cols_len.
    pub unsafe fn im2col(&self, big: *const f32, rows: usize, cols: *mut f32) {
        struct Task {
            w: Windows,
            big: *const f32,
            cols: *mut f32,
            units: usize,
        }
        let parts = par::parts(rows * self.cols_len(), par::PARALLEL_MIN_ELEMENTS);
        par::run(&Task { w: *self, big, cols, units: rows * self.hs }, parts, |t, p| {
            let (u0, u1) = p.range(t.units, 1);
            for u in u0..u1 {
                t.w.im2col_row(t.big, u / t.w.hs, u % t.w.hs, t.cols);
            }
        });
    }

    /// The windows of small row `oy` of image `r`.
    unsafe fn im2col_row(&self, big: *const f32, r: usize, oy: usize, cols: *mut f32) {
        let (ch, kw, patch) = (self.ch, self.kw, self.patch());
        let image = big.add(r * self.big_len());
        for ox in 0..self.ws {
            let dst = cols.add(((r * self.hs + oy) * self.ws + ox) * patch);
            // Columns of the window's first tap, and how many of its kw taps fall inside the image.
            let x0 = (ox * self.sw) as isize - self.pl as isize;
            let inside = |kx: usize| {
                let ix = x0 + kx as isize;
                ix >= 0 && (ix as usize) < self.wb
            };
            let all_inside = inside(0) && inside(kw - 1);
            for ky in 0..self.kh {
                let row = dst.add(ky * kw * ch);
                let iy = (oy * self.sh + ky) as isize - self.pt as isize;
                if iy < 0 || iy as usize >= self.hb {
                    zero(row, kw * ch);
                    continue;
                }
                let src = image.add(iy as usize * self.wb * ch);
                if all_inside {
                    // The kw taps are kw neighbouring pixels: one contiguous run.
                    copy(src.add(x0 as usize * ch), row, kw * ch);
                    continue;
                }
                for kx in 0..kw {
                    if inside(kx) {
                        copy(src.add((x0 + kx as isize) as usize * ch), row.add(kx * ch), ch);
                    } else {
                        zero(row.add(kx * ch), ch);
                    }
                }
            }
        }
    }

    /// big[r][iy][ix][c] = init[c] (or 0) + Σ over the windows covering (iy, ix), taps in (ky, kx) order, of their
    /// entry cols[r][oy][ox][ky][kx][c]; then `then` on the pixel's values.
    ///
    /// # Safety
    /// cols holds rows × cols_len values, big rows × big_len; init (if given) ch values; `then`'s buffers are laid
    /// out like big.
    pub unsafe fn col2im(&self, cols: *const f32, rows: usize, big: *mut f32, init: Option<*const f32>, then: Then) {
        struct Task {
            w: Windows,
            cols: *const f32,
            big: *mut f32,
            init: Option<*const f32>,
            then: Then,
            units: usize,
        }
        let parts = par::parts(rows * self.big_len(), par::PARALLEL_MIN_ELEMENTS);
        par::run(&Task { w: *self, cols, big, init, then, units: rows * self.hb }, parts, |t, p| {
            let (u0, u1) = p.range(t.units, 1);
            for u in u0..u1 {
                t.w.col2im_row(t.cols, u / t.w.hb, u % t.w.hb, t.big, t.init, t.then);
            }
        });
    }

    /// Images per chunk when a convolution works image by image: about 1 MiB of columns. Fixed by the layer alone,
    /// so results do not depend on the thread count.
    pub fn chunk_images(&self) -> usize {
        (262_144 / self.cols_len().max(1)).max(1)
    }

    /// How many chunks of [`Self::chunk_images`] images `rows` images make.
    pub fn image_chunks(&self, rows: usize) -> usize {
        let chunk = self.chunk_images();
        (rows + chunk - 1) / chunk
    }

    /// The chunks of `rows` images that part `p` computes (whole chunks per part), each as (its index, its first
    /// image, the image after its last).
    pub fn chunks_of(&self, rows: usize, p: par::Part) -> impl Iterator<Item = (usize, usize, usize)> {
        let chunk = self.chunk_images();
        let (c0, c1) = p.range(self.image_chunks(rows), 1);
        (c0..c1).map(move |c| (c, c * chunk, ((c + 1) * chunk).min(rows)))
    }

    /// `im2col` for images [r0, r1) on the calling thread.
    ///
    /// # Safety
    /// As `im2col`.
    pub unsafe fn im2col_images(&self, big: *const f32, r0: usize, r1: usize, cols: *mut f32) {
        for r in r0..r1 {
            for oy in 0..self.hs {
                self.im2col_row(big, r, oy, cols);
            }
        }
    }

    /// `col2im` for images [r0, r1) on the calling thread.
    ///
    /// # Safety
    /// As `col2im`.
    pub unsafe fn col2im_images(&self, cols: *const f32, r0: usize, r1: usize, big: *mut f32, init: Option<*const f32>, then: Then) {
        for r in r0..r1 {
            for iy in 0..self.hb {
                self.col2im_row(cols, r, iy, big, init, then);
            }
        }
    }

    /// The big row `iy` of image `r`.
    unsafe fn col2im_row(&self, cols: *const f32, r: usize, iy: usize, big: *mut f32, init: Option<*const f32>, then: Then) {
        let (ch, patch, kw) = (self.ch, self.patch(), self.kw);
        // The window rows covering this big row, once for the row: taps ky ≡ iy + pt (mod sh) with
        // oy = (iy + pt − ky) / sh inside the small grid, in ascending ky.
        let ty = iy + self.pt;
        let mut taps = [(0usize, 0usize); super::MAX_KERNEL + 1];
        let mut n = 0;
        let mut ky = ty % self.sh;
        while ky < self.kh && ky <= ty {
            let oy = (ty - ky) / self.sh;
            if oy < self.hs {
                taps[n] = (ky, oy);
                n += 1;
            }
            ky += self.sh;
        }
        let image = cols.add(r * self.hs * self.ws * patch);
        for ix in 0..self.wb {
            let o = ((r * self.hb + iy) * self.wb + ix) * ch;
            let out = big.add(o);
            match init {
                Some(b) => copy(b, out, ch),
                None => zero(out, ch),
            }
            // Columns likewise: kx ≡ ix + pl (mod sw), and ox falls by one as kx rises by sw.
            let tx = ix + self.pl;
            let kx0 = tx % self.sw;
            let ox0 = (tx - kx0) / self.sw;
            for &(ky, oy) in &taps[..n] {
                let row = image.add(oy * self.ws * patch + ky * kw * ch);
                let (mut kx, mut ox) = (kx0, ox0);
                while kx < kw && kx <= tx {
                    if ox < self.ws {
                        let src = row.add(ox * patch + kx * ch);
                        if ch == 1 {
                            *out += *src;
                        } else {
                            lanes!(ch, |T, c| {
                                T::load(out.add(c)).add(T::load(src.add(c))).store(out.add(c));
                            });
                        }
                    }
                    kx += self.sw;
                    ox = ox.wrapping_sub(1);
                }
            }
            match then {
                Then::None => {}
                Then::Act(act) => act.forward_at(o, ch),
                Then::ActGrad(below) => below.backward_at(big, o, ch),
            }
        }
    }
}

/// n floats from `from` to `to` (four lanes at a time: the single-memory build has no bulk memory instructions).
#[inline(always)]
unsafe fn copy(from: *const f32, to: *mut f32, n: usize) {
    lanes!(n, |T, i| {
        T::load(from.add(i)).store(to.add(i));
    });
}

unsafe fn zero(p: *mut f32, n: usize) {
    lanes!(n, |T, i| {
        T::splat(0.0).store(p.add(i));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Pcg32;

    /// The scatter form written from the definition: cols[...] → big, one window after another.
    fn col2im_by_scatter(w: &Windows, cols: &[f32], rows: usize) -> Vec<f64> {
        let mut big = vec![0.0f64; rows * w.big_len()];
        for r in 0..rows {
            for oy in 0..w.hs {
                for ox in 0..w.ws {
                    for ky in 0..w.kh {
                        for kx in 0..w.kw {
                            let iy = (oy * w.sh + ky) as isize - w.pt as isize;
                            let ix = (ox * w.sw + kx) as isize - w.pl as isize;
                            if iy < 0 || ix < 0 || iy as usize >= w.hb || ix as usize >= w.wb {
                                continue;
                            }
                            for c in 0..w.ch {
                                let src = ((r * w.hs + oy) * w.ws + ox) * w.patch() + (ky * w.kw + kx) * w.ch + c;
                                big[((r * w.hb + iy as usize) * w.wb + ix as usize) * w.ch + c] += cols[src] as f64;
                            }
                        }
                    }
                }
            }
        }
        big
    }

    #[test]
    fn col2im_is_the_transpose_of_im2col() {
        // ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩ for random x, y on awkward geometries; and col2im equals the scatter form.
        let mut rng = Pcg32::new(7, 0);
        let cases = [
            Windows { hb: 7, wb: 5, ch: 3, hs: 4, ws: 3, kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1 },
            Windows { hb: 6, wb: 6, ch: 2, hs: 3, ws: 3, kh: 3, kw: 2, sh: 2, sw: 2, pt: 0, pl: 0 },
            Windows { hb: 5, wb: 9, ch: 5, hs: 5, ws: 9, kh: 3, kw: 3, sh: 1, sw: 1, pt: 1, pl: 1 },
            Windows { hb: 9, wb: 4, ch: 1, hs: 2, ws: 2, kh: 4, kw: 1, sh: 3, sw: 3, pt: 2, pl: 0 },
            Windows { hb: 4, wb: 4, ch: 6, hs: 2, ws: 2, kh: 1, kw: 1, sh: 3, sw: 3, pt: 0, pl: 0 },
        ];
        for w in cases {
            let rows = 2;
            let x: Vec<f32> = (0..rows * w.big_len()).map(|_| rng.uniform() - 0.5).collect();
            let y: Vec<f32> = (0..rows * w.cols_len()).map(|_| rng.uniform() - 0.5).collect();
            let mut cols = vec![f32::NAN; y.len()];
            let mut back = vec![f32::NAN; x.len()];
            unsafe {
                w.im2col(x.as_ptr(), rows, cols.as_mut_ptr());
                w.col2im(y.as_ptr(), rows, back.as_mut_ptr(), None, Then::None);
            }
            let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| *a as f64 * *b as f64).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| *a as f64 * *b as f64).sum();
            assert!((lhs - rhs).abs() < 1e-5 * lhs.abs().max(1.0), "{w:?}: {lhs} vs {rhs}");
            let scatter = col2im_by_scatter(&w, &y, rows);
            for (i, (a, b)) in back.iter().zip(&scatter).enumerate() {
                assert!((*a as f64 - b).abs() < 1e-5, "{w:?} at {i}: {a} vs {b}");
            }
        }
    }
}
