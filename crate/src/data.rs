//! Where a batch's input rows come from, and the per-use draws made on them (dynamic binarisation).

use crate::par;
use crate::rng::Pcg32;

/// Rows of data in wasm memory.
#[derive(Clone, Copy)]
pub enum Source {
    /// Bytes 0–255, scaled by 1/255.
    U8(*const u8),
    F32(*const f32),
}

impl Source {
    pub fn from_dtype(data: *const u8, dtype: u32) -> Option<Source> {
        match dtype {
            0 => Some(Source::U8(data)),
            1 => Some(Source::F32(data as *const f32)),
            _ => None,
        }
    }

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

/// Copies `rows` rows of `dim` values into `dst`: row i from source row `idx[i]`, or `start + i` when `idx` is
/// null. Split across threads by rows.
///
/// # Safety
/// The source holds every row addressed; dst holds rows × dim values.
pub unsafe fn gather(src: Source, idx: *const u32, start: usize, rows: usize, dim: usize, dst: *mut f32) {
    struct Task {
        src: Source,
        idx: *const u32,
        start: usize,
        rows: usize,
        dim: usize,
        dst: *mut f32,
    }
    let t = Task { src, idx, start, rows, dim, dst };
    par::run(&t, par::parts(rows * dim, par::PARALLEL_MIN_ELEMENTS), |t, p| {
        let (i0, i1) = p.range(t.rows, 1);
        for i in i0..i1 {
            let r = if t.idx.is_null() { t.start + i } else { *t.idx.add(i) as usize };
            t.src.copy_row(r, t.dim, t.dst.add(i * t.dim));
        }
    });
}

/// Replaces each of n values v in [0, 1] by a draw from Bernoulli(v), in order.
///
/// # Safety
/// p addresses n floats.
pub unsafe fn draw_bernoulli(p: *mut f32, n: usize, rng: &mut Pcg32) {
    for j in 0..n {
        *p.add(j) = if rng.uniform() < *p.add(j) { 1.0 } else { 0.0 };
    }
}
