//! Packed, register-blocked f32 GEMM: C (+)= op(A) · op(B), row-major, in three forms:
//! `NN` (A·B), `NT` (A·Bᵀ, B stored N×K) and `TN` (Aᵀ·B, A stored K×M).
//!
//! Operands are packed into MR-row panels of A and NR-column panels of B (zero-padded), and an MR×NR micro-kernel
//! keeps the whole C tile in SIMD registers across a KC-long slice of k. Every C element is accumulated
//! sequentially over k starting from its initial value (0, or C itself when accumulating), exactly like the naive
//! loop in [`gemm_scalar`]; so the two agree bit for bit, and the result does not depend on blocking or on how the
//! work is split. (One row of A times a finite B may skip A's zeros, which changes no bit: see `Sparse`. Where B
//! holds an infinity or NaN facing a zero of that row, the full sum's NaN is then missing.)

use crate::simd::F32x4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    NN,
    NT,
    TN,
}

impl Op {
    pub fn from_u32(x: u32) -> Option<Op> {
        match x {
            0 => Some(Op::NN),
            1 => Some(Op::NT),
            2 => Some(Op::TN),
            _ => None,
        }
    }
}

/// Rows of the micro-tile.
pub const MR: usize = 4;
/// f32x4 vectors per micro-tile row.
pub const NV: usize = 2;
/// Columns of the micro-tile.
pub const NR: usize = 4 * NV;
pub const KC: usize = 256;
pub const MC: usize = MR * 16;
pub const NC: usize = NR * 48;
/// f32s of scratch a call needs for its packed panels.
pub const SCRATCH: usize = 4 * MC * KC + KC * NC;

/// op(A)[i, p] for a row-major A with leading dimension lda.
#[inline(always)]
unsafe fn a_at(op: Op, a: *const f32, lda: usize, i: usize, p: usize) -> f32 {
    match op {
        Op::TN => *a.add(p * lda + i),
        _ => *a.add(i * lda + p),
    }
}

#[inline(always)]
unsafe fn b_at(op: Op, b: *const f32, ldb: usize, p: usize, j: usize) -> f32 {
    match op {
        Op::NT => *b.add(j * ldb + p),
        _ => *b.add(p * ldb + j),
    }
}

/// The scalar twin: the naive triple loop with the same per-element summation order.
///
/// # Safety
/// Pointers must address matrices of the stated shapes and leading dimensions; C must not alias A or B.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_scalar(
    op: Op, m: usize, n: usize, k: usize, a: *const f32, lda: usize, b: *const f32, ldb: usize, c: *mut f32,
    ldc: usize, accumulate: bool,
) {
    for i in 0..m {
        for j in 0..n {
            let mut s = if accumulate { *c.add(i * ldc + j) } else { 0.0 };
            for p in 0..k {
                s += a_at(op, a, lda, i, p) * b_at(op, b, ldb, p, j);
            }
            *c.add(i * ldc + j) = s;
        }
    }
}

/// Packs rows [i0, i0+mc) × k-slice [p0, p0+kc) of op(A) into MR-row panels: panel q holds, for each p, MR values,
/// each already broadcast to a full vector (so the kernel reads them with plain vector loads).
unsafe fn pack_a(op: Op, a: *const f32, lda: usize, i0: usize, mc: usize, p0: usize, kc: usize, out: *mut f32) {
    let panels = (mc + MR - 1) / MR;
    for q in 0..panels {
        let dst = out.add(q * kc * MR * 4);
        let rows = (mc - q * MR).min(MR);
        let r0 = i0 + q * MR;
        match op {
            Op::TN => {
                for p in 0..kc {
                    let src = a.add((p0 + p) * lda + r0);
                    let d = dst.add(p * MR * 4);
                    for r in 0..MR {
                        let v = if r < rows { *src.add(r) } else { 0.0 };
                        F32x4::splat(v).store(d.add(4 * r));
                    }
                }
            }
            _ => {
                for r in 0..MR {
                    if r < rows {
                        let src = a.add((r0 + r) * lda + p0);
                        for p in 0..kc {
                            F32x4::splat(*src.add(p)).store(dst.add(p * MR * 4 + 4 * r));
                        }
                    } else {
                        for p in 0..kc {
                            F32x4::zero().store(dst.add(p * MR * 4 + 4 * r));
                        }
                    }
                }
            }
        }
    }
}

/// Packs k-slice [p0, p0+kc) × columns [j0, j0+nc) of op(B) into NR-column panels.
unsafe fn pack_b(op: Op, b: *const f32, ldb: usize, p0: usize, kc: usize, j0: usize, nc: usize, out: *mut f32) {
    let panels = (nc + NR - 1) / NR;
    for q in 0..panels {
        let dst = out.add(q * kc * NR);
        let cols = (nc - q * NR).min(NR);
        let c0 = j0 + q * NR;
        match op {
            Op::NT if cols == NR => {
                // Four rows of B (= four columns of op(B)) at a time, four k at a time, through 4×4 transposes.
                let mut p = 0;
                while p + 4 <= kc {
                    for g in 0..NR / 4 {
                        let row = |c: usize| F32x4::load(b.add((c0 + 4 * g + c) * ldb + p0 + p));
                        let t = crate::simd::transpose4(row(0), row(1), row(2), row(3));
                        for (i, v) in t.iter().enumerate() {
                            v.store(dst.add((p + i) * NR + 4 * g));
                        }
                    }
                    p += 4;
                }
                while p < kc {
                    for c in 0..NR {
                        *dst.add(p * NR + c) = *b.add((c0 + c) * ldb + p0 + p);
                    }
                    p += 1;
                }
            }
            Op::NT => {
                for c in 0..NR {
                    if c < cols {
                        let src = b.add((c0 + c) * ldb + p0);
                        for p in 0..kc {
                            *dst.add(p * NR + c) = *src.add(p);
                        }
                    } else {
                        for p in 0..kc {
                            *dst.add(p * NR + c) = 0.0;
                        }
                    }
                }
            }
            _ => {
                for p in 0..kc {
                    let src = b.add((p0 + p) * ldb + c0);
                    let d = dst.add(p * NR);
                    if cols == NR {
                        for v in 0..NV {
                            F32x4::load(src.add(4 * v)).store(d.add(4 * v));
                        }
                    } else {
                        for c in 0..NR {
                            *d.add(c) = if c < cols { *src.add(c) } else { 0.0 };
                        }
                    }
                }
            }
        }
    }
}

/// C tile (MR × NR at `c`, leading dimension ldc) (+)= Ap panel · Bp panel over kc. With `T` (transposed), the
/// tile is of Cᵀ: C's NR rows × MR columns at `c`, read and written through 4×4 transposes.
#[inline(always)]
unsafe fn micro_kernel<const T: bool>(kc: usize, ap: *const f32, bp: *const f32, c: *mut f32, ldc: usize, accumulate: bool) {
    let mut acc = [[F32x4::zero(); NV]; MR];
    if accumulate {
        if T {
            for v in 0..NV {
                let row = |q: usize| F32x4::load(c.add((4 * v + q) * ldc));
                let t = crate::simd::transpose4(row(0), row(1), row(2), row(3));
                for (r, x) in t.iter().enumerate() {
                    acc[r][v] = *x;
                }
            }
        } else {
            for (r, row) in acc.iter_mut().enumerate() {
                for (v, x) in row.iter_mut().enumerate() {
                    *x = F32x4::load(c.add(r * ldc + 4 * v));
                }
            }
        }
    }
    let mut a = ap;
    let mut b = bp;
    for _ in 0..kc {
        let mut bv = [F32x4::zero(); NV];
        for (v, x) in bv.iter_mut().enumerate() {
            *x = F32x4::load(b.add(4 * v));
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let av = F32x4::load(a.add(4 * r));
            for (v, x) in row.iter_mut().enumerate() {
                *x = x.add(av.mul(bv[v]));
            }
        }
        a = a.add(4 * MR);
        b = b.add(NR);
    }
    if T {
        for v in 0..NV {
            let t = crate::simd::transpose4(acc[0][v], acc[1][v], acc[2][v], acc[3][v]);
            for (q, x) in t.iter().enumerate() {
                x.store(c.add((4 * v + q) * ldc));
            }
        }
    } else {
        for (r, row) in acc.iter().enumerate() {
            for (v, x) in row.iter().enumerate() {
                x.store(c.add(r * ldc + 4 * v));
            }
        }
    }
}

/// C (+)= op(A)·op(B). `scratch` must hold at least [`SCRATCH`] f32s.
///
/// Packing broadcasts each A value to a full vector, so A's panels cost four times its size, once per NC-wide block
/// of C's columns; when C is narrow and tall (convolutions' products over all pixels) that dominates. Then the
/// product is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ with the roles of A and B swapped and each tile written back through
/// transposes. Every C element is still the same sequential sum over k (a·b = b·a exactly), so both orientations
/// give the same bits. An NN product of one row may skip the row's zeros: the same bits when B is finite (see
/// `Sparse`).
///
/// # Safety
/// As [`gemm_scalar`]; `scratch` must not alias any operand.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm(
    op: Op, m: usize, n: usize, k: usize, a: *const f32, lda: usize, b: *const f32, ldb: usize, c: *mut f32,
    ldc: usize, accumulate: bool, scratch: &mut [f32],
) {
    debug_assert!(scratch.len() >= SCRATCH);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.add(i * ldc + j) = 0.0;
                }
            }
        }
        return;
    }
    if op == Op::NN && m < FEW_ROWS {
        // A few rows times a matrix (inference on one row, small batches): packing B would cost more than the
        // product, so B is read where it lies.
        if m == 1 {
            if let Some(terms) = Sparse::of(a, k, b, ldb, c, n, accumulate, scratch) {
                return few_rows(1, n, terms, b, ldb, c, ldc, accumulate);
            }
        }
        few_rows(m, n, Dense { a, lda, k, ldb, k0: 0 }, b, ldb, c, ldc, accumulate);
        return;
    }
    // The cost of each orientation in floats written by packing, plus the kernel's idle edge lanes (an idle lane
    // costs about 1/8 of a float written) and, for Cᵀ, its tiles' transposes (measured: about 7% of the kernel's
    // time, i.e. 1/57 of a float per multiply-add).
    let blocks = |x: u64, size: usize| (x + size as u64 - 1) / size as u64;
    let (m64, n64, k64) = (m as u64, n as u64, k as u64);
    // (A is packed once when it fits one block of rows, else once per block of columns.)
    let a_packs = |m: u64, n: u64| if m <= MC as u64 { 1 } else { blocks(n, NC) };
    let cost = |m: u64, n: u64| 4 * m * k64 * a_packs(m, n) + k64 * n + (blocks(m, MR) * MR as u64 * blocks(n, NR) * NR as u64 - m * n) * k64 / 8;
    let transposed = cost(n64, m64) + m64 * n64 * k64 / 57 < cost(m64, n64);
    oriented(transposed, op, m, n, k, a, lda, b, ldb, c, ldc, accumulate, scratch);
}

/// Below this many rows an NN product reads B unpacked (see [`few_rows`]): measured, 4–15 rows of 784 × 400 took 0.66–0.99× the packed path's time.
const FEW_ROWS: usize = 16;

/// Terms (rows of B) per pass of [`few_rows`] over C's columns. Over all of B at once, each 64-byte piece of a row
/// came from a different row far from the last (one row of 1×400·400×784 read 240 rows 3 KB apart, one page each);
/// over 32 rows at a time there are few enough such streams, we think, for the prefetcher to follow them (not
/// checked with counters). Measured on 1×400·400×784 (a decoder's output layer) on an Intel Xeon with 2 MB of L2:
/// 1.2× the calls per second (8–64 rows all alike); 2–15 rows and 1×784·784×400 no slower.
const FEW_ROWS_TERMS: usize = 32;

/// C (+)= A·B for m < [`FEW_ROWS`] rows of A, B row-major and unpacked, in passes over [`FEW_ROWS_TERMS`] terms
/// (the first from C or 0, the next from what the last left in C: the same sums, in the same order). Each pass
/// takes the rows in groups of at most 4 (see [`few_rows_pass`]). Each C element is the same sequential sum over k
/// as [`gemm_scalar`]'s: over the terms `t` lists, every k or only one row's nonzero ones, which sum to the same
/// bits (see [`Sparse`]).
#[allow(clippy::too_many_arguments)]
unsafe fn few_rows<T: Terms>(m: usize, n: usize, t: T, b: *const f32, ldb: usize, c: *mut f32, ldc: usize, accumulate: bool) {
    let len = t.len();
    let mut q0 = 0;
    // At least one pass, so that C is written (zeros) when no term is left.
    loop {
        let q1 = (q0 + FEW_ROWS_TERMS).min(len);
        few_rows_pass(m, n, t.slice(q0, q1), b, ldb, c, ldc, accumulate || q0 > 0);
        q0 = q1;
        if q0 >= len {
            break;
        }
    }
}

/// One pass of [`few_rows`] over the terms `t`: each group's columns in blocks of 24 (one row), 16 (2 rows) or 8 (3–4
/// rows), at most 8 vector sums and the B vectors they share, which fit the 16 SIMD registers (one row with 8 sums
/// of 32 columns spilled in V8 and ran at 0.57× the speed), then what is left in one pass, then single columns.
#[allow(clippy::too_many_arguments)]
unsafe fn few_rows_pass<T: Terms>(m: usize, n: usize, t: T, b: *const f32, ldb: usize, c: *mut f32, ldc: usize, accumulate: bool) {
    // Blocks start on a 64-byte cache line of each B row (a block of 16 columns reads one): when every row starts
    // at the same place in a line (ldb a multiple of 16), the columns before the first line boundary go first
    // (measured: a B starting 16 or 32 bytes into a line made one row's product 25% slower).
    let lead = if ldb % 16 == 0 { ((16 - (b as usize / 4) % 16) % 16).min(n) } else { 0 };
    let mut i = 0;
    while i < m {
        let rows = (m - i).min(4);
        let (t, c) = (t.from_row(i), c.add(i * ldc));
        let scalar = |j0: usize, j1: usize| scalar_columns(rows, j0, j1, t, b, c, ldc, accumulate);
        // Columns [j, end) of fewer than 4·V: for 1–2 rows one pass over k with as many vector sums as fit (each pass is a
        // chain of dependent adds, so one pass of three vectors costs what one of one vector does).
        let rest = |j: usize, end: usize| match (rows, (end - j) / 4) {
            (_, 0) => j,
            (1, 1) => row_block::<1, 1, T>(j, end, t, b, c, ldc, accumulate),
            (2, 1) => row_block::<2, 1, T>(j, end, t, b, c, ldc, accumulate),
            (1, 2) => row_block::<1, 2, T>(j, end, t, b, c, ldc, accumulate),
            (1, 3) => row_block::<1, 3, T>(j, end, t, b, c, ldc, accumulate),
            (1, 4) => row_block::<1, 4, T>(j, end, t, b, c, ldc, accumulate),
            (1, _) => row_block::<1, 5, T>(j, end, t, b, c, ldc, accumulate),
            (2, 2) => row_block::<2, 2, T>(j, end, t, b, c, ldc, accumulate),
            (2, _) => row_block::<2, 3, T>(j, end, t, b, c, ldc, accumulate),
            (3, _) => row_block::<3, 1, T>(j, end, t, b, c, ldc, accumulate),
            _ => row_block::<4, 1, T>(j, end, t, b, c, ldc, accumulate),
        };
        scalar(0, lead % 4);
        let mut j = rest(lead % 4, lead);
        j = match rows {
            // One row: blocks of 6 vectors (6 independent add chains: 1×784·784×400 took 0.9–0.95× the time of
            // 4); `rest` then takes what is left, up to 5 vectors, in one more pass over the terms.
            1 => row_block::<1, 6, T>(j, n, t, b, c, ldc, accumulate),
            2 => row_block::<2, 4, T>(j, n, t, b, c, ldc, accumulate),
            3 => row_block::<3, 2, T>(j, n, t, b, c, ldc, accumulate),
            _ => row_block::<4, 2, T>(j, n, t, b, c, ldc, accumulate),
        };
        j = rest(j, n);
        // The last n mod 4 columns, one element at a time (the same sums).
        scalar(j, n);
        i += rows;
    }
}

/// Columns [j, …) of C's R rows in blocks of 4·V while whole blocks fit; returns the first column not done.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn row_block<const R: usize, const V: usize, T: Terms>(
    mut j: usize, n: usize, t: T, b: *const f32, c: *mut f32, ldc: usize, accumulate: bool,
) -> usize {
    while j + 4 * V <= n {
        let mut acc = [[F32x4::zero(); V]; R];
        if accumulate {
            for (r, row) in acc.iter_mut().enumerate() {
                for (v, x) in row.iter_mut().enumerate() {
                    *x = F32x4::load(c.add(r * ldc + j + 4 * v));
                }
            }
        }
        for q in 0..t.len() {
            let bp = t.b_row(b, q).add(j);
            let mut bv = [F32x4::zero(); V];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = F32x4::load(bp.add(4 * v));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let av = F32x4::splat(t.a(r, q));
                for (v, x) in row.iter_mut().enumerate() {
                    *x = x.add(av.mul(bv[v]));
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, x) in row.iter().enumerate() {
                x.store(c.add(r * ldc + j + 4 * v));
            }
        }
        j += 4 * V;
    }
    j
}

/// The terms of the sums over k that [`few_rows`] computes, in order: term q adds A's value `a(r, q)` for row r times
/// the row of B (at `b`) that `b_row(b, q)` points to.
trait Terms: Copy {
    fn len(&self) -> usize;
    unsafe fn a(&self, r: usize, q: usize) -> f32;
    unsafe fn b_row(&self, b: *const f32, q: usize) -> *const f32;
    /// The same terms for the rows from row i on.
    unsafe fn from_row(self, i: usize) -> Self;
    /// Terms [q0, q1) alone.
    unsafe fn slice(self, q0: usize, q1: usize) -> Self;
}

/// Every k.
#[derive(Clone, Copy)]
struct Dense {
    a: *const f32,
    lda: usize,
    k: usize,
    ldb: usize,
    /// The first k (of B's rows) these terms cover.
    k0: usize,
}

impl Terms for Dense {
    #[inline(always)]
    fn len(&self) -> usize {
        self.k
    }
    #[inline(always)]
    unsafe fn a(&self, r: usize, q: usize) -> f32 {
        *self.a.add(r * self.lda + q)
    }
    #[inline(always)]
    unsafe fn b_row(&self, b: *const f32, q: usize) -> *const f32 {
        b.add((self.k0 + q) * self.ldb)
    }
    #[inline(always)]
    unsafe fn from_row(self, i: usize) -> Self {
        Dense { a: self.a.add(i * self.lda), ..self }
    }
    #[inline(always)]
    unsafe fn slice(self, q0: usize, q1: usize) -> Self {
        Dense { a: self.a.add(q0), k: q1 - q0, k0: self.k0 + q0, ..self }
    }
}

/// One row's k where A is not zero (a digit's background, a ReLU's output). A zero value's term is ±0 when B is
/// finite, and adding ±0 leaves a sum unchanged unless the sum is −0 and the term +0. A sum that does not start from
/// −0 never becomes −0 (x + y is −0 only when both are; an exact cancellation gives +0), so the terms are skipped only
/// when no column starts from −0; the bits are then those of every term in order. The model's NN products (dense
/// and convolution layers forward, a transposed convolution's input gradient) all have a layer's weights as B,
/// finite by construction: checked when set or loaded, and training applies no step whose loss, gradients or
/// update are not finite.
#[derive(Clone, Copy)]
struct Sparse {
    terms: *const Term,
    len: usize,
}

/// A nonzero value of A's row and the row of B it multiplies, side by side (one stream for the kernel to read).
#[repr(C)]
struct Term {
    a: f32,
    b_row: *const f32,
}

impl Sparse {
    /// The terms of A's row (k values) written into `scratch`, when enough of them are zero to be worth skipping.
    #[allow(clippy::too_many_arguments)]
    unsafe fn of(a: *const f32, k: usize, b: *const f32, ldb: usize, c: *const f32, n: usize, accumulate: bool, scratch: &mut [f32]) -> Option<Sparse> {
        // A listed term costs more than a dense one (its B row's address is loaded too): measured on 1×784·784×400
        // and 1×400·400×784, skipping is 0.97–1.04× as fast with 1 zero in 5, 1.1× with 3 in 10, 1.55× with half of
        // them, 3.9–4.8× with an MNIST digit's 81%.
        // (The alignment test is constant on wasm32, where a Term is aligned like an f32.)
        let aligned = scratch.as_ptr() as usize % core::mem::align_of::<Term>() == 0;
        if !aligned || k * core::mem::size_of::<Term>() > core::mem::size_of_val(scratch) || (0..k).filter(|&p| *a.add(p) == 0.0).count() * 4 < k {
            return None;
        }
        if accumulate && (0..n).any(|j| (*c.add(j)).to_bits() == 0x8000_0000) {
            return None;
        }
        let terms = scratch.as_mut_ptr() as *mut Term;
        let mut len = 0;
        for p in 0..k {
            let x = *a.add(p);
            if x != 0.0 {
                terms.add(len).write(Term { a: x, b_row: b.add(p * ldb) });
                len += 1;
            }
        }
        Some(Sparse { terms, len })
    }
}

impl Terms for Sparse {
    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }
    #[inline(always)]
    unsafe fn a(&self, _r: usize, q: usize) -> f32 {
        (*self.terms.add(q)).a
    }
    #[inline(always)]
    unsafe fn b_row(&self, _b: *const f32, q: usize) -> *const f32 {
        (*self.terms.add(q)).b_row
    }
    #[inline(always)]
    unsafe fn from_row(self, _i: usize) -> Self {
        self
    }
    #[inline(always)]
    unsafe fn slice(self, q0: usize, q1: usize) -> Self {
        Sparse { terms: self.terms.add(q0), len: q1 - q0 }
    }
}

/// Columns [j0, j1) of C's rows, one element at a time, over the same terms.
#[allow(clippy::too_many_arguments)]
unsafe fn scalar_columns<T: Terms>(rows: usize, j0: usize, j1: usize, t: T, b: *const f32, c: *mut f32, ldc: usize, accumulate: bool) {
    for r in 0..rows {
        for j in j0..j1 {
            let mut s = if accumulate { *c.add(r * ldc + j) } else { 0.0 };
            for q in 0..t.len() {
                s += t.a(r, q) * *t.b_row(b, q).add(j);
            }
            *c.add(r * ldc + j) = s;
        }
    }
}

/// The product in the given orientation (see [`gemm`]); public for tests and the benchmark.
#[allow(clippy::too_many_arguments)]
pub unsafe fn oriented(
    transposed: bool, op: Op, m: usize, n: usize, k: usize, a: *const f32, lda: usize, b: *const f32, ldb: usize,
    c: *mut f32, ldc: usize, accumulate: bool, scratch: &mut [f32],
) {
    if transposed {
        // Cᵀ = op(B)ᵀ·op(A)ᵀ: its A is op(B)ᵀ (B read down its columns unless op(B) = Bᵀ), its B is op(A)ᵀ.
        let a_op = if op == Op::NT { Op::NN } else { Op::TN };
        let b_op = if op == Op::TN { Op::NN } else { Op::NT };
        packed::<true>(n, m, k, b, ldb, a_op, a, lda, b_op, c, ldc, accumulate, scratch);
    } else {
        packed::<false>(m, n, k, a, lda, op, b, ldb, op, c, ldc, accumulate, scratch);
    }
}

/// The blocked product of an m × k operand A (read as `a_op` reads it) and a k × n operand B (read as `b_op`);
/// with `T`, the result is written transposed (C is n × m).
#[allow(clippy::too_many_arguments)]
unsafe fn packed<const T: bool>(
    m: usize, n: usize, k: usize, a: *const f32, lda: usize, a_op: Op, b: *const f32, ldb: usize, b_op: Op, c: *mut f32,
    ldc: usize, accumulate: bool, scratch: &mut [f32],
) {
    let (ap_buf, bp_buf) = scratch.split_at_mut(4 * MC * KC);
    let (ap_buf, bp_buf) = (ap_buf.as_mut_ptr(), bp_buf.as_mut_ptr());
    let tile = Tile { c, ldc, ap: ap_buf, bp: bp_buf };
    if m <= MC {
        // One block of rows: pack each k-slice of A once, not once per block of columns. Each C element is still
        // summed over k in order (a later slice accumulates onto the earlier ones), so the bits are the same.
        let mut p0 = 0;
        while p0 < k {
            let kc = (k - p0).min(KC);
            pack_a(a_op, a, lda, 0, m, p0, kc, ap_buf);
            let mut j0 = 0;
            while j0 < n {
                let nc = (n - j0).min(NC);
                pack_b(b_op, b, ldb, p0, kc, j0, nc, bp_buf);
                tile.block::<T>(0, m, j0, nc, kc, accumulate || p0 > 0);
                j0 += nc;
            }
            p0 += kc;
        }
        return;
    }
    let mut j0 = 0;
    while j0 < n {
        let nc = (n - j0).min(NC);
        let mut p0 = 0;
        while p0 < k {
            let kc = (k - p0).min(KC);
            pack_b(b_op, b, ldb, p0, kc, j0, nc, bp_buf);
            let mut i0 = 0;
            while i0 < m {
                let mc = (m - i0).min(MC);
                pack_a(a_op, a, lda, i0, mc, p0, kc, ap_buf);
                tile.block::<T>(i0, mc, j0, nc, kc, accumulate || p0 > 0);
                i0 += mc;
            }
            p0 += kc;
        }
        j0 += nc;
    }
}

/// Where the micro-kernels of one packed block read and write.
struct Tile {
    c: *mut f32,
    ldc: usize,
    ap: *const f32,
    bp: *const f32,
}

impl Tile {
    /// C' rows [i0, i0 + mc) × columns [j0, j0 + nc) (+)= the packed A and B panels over kc (C' = C, or Cᵀ with `T`).
    #[inline(always)]
    unsafe fn block<const T: bool>(&self, i0: usize, mc: usize, j0: usize, nc: usize, kc: usize, acc: bool) {
        let (c, ldc) = (self.c, self.ldc);
        let cell = |i: usize, j: usize| if T { c.add(j * ldc + i) } else { c.add(i * ldc + j) };
        let mut edge = [0.0f32; MR * NR];
        let mut jr = 0;
        while jr < nc {
            let cols = (nc - jr).min(NR);
            let bp = self.bp.add((jr / NR) * kc * NR);
            let mut ir = 0;
            while ir < mc {
                let rows = (mc - ir).min(MR);
                let ap = self.ap.add((ir / MR) * kc * MR * 4);
                let (i, j) = (i0 + ir, j0 + jr);
                if rows == MR && cols == NR {
                    micro_kernel::<T>(kc, ap, bp, cell(i, j), ldc, acc);
                } else {
                    // Partial tile: run the kernel on a full-size copy so it never touches memory outside C.
                    if acc {
                        for r in 0..rows {
                            for q in 0..cols {
                                edge[r * NR + q] = *cell(i + r, j + q);
                            }
                        }
                    }
                    micro_kernel::<false>(kc, ap, bp, edge.as_mut_ptr(), NR, acc);
                    for r in 0..rows {
                        for q in 0..cols {
                            *cell(i + r, j + q) = edge[r * NR + q];
                        }
                    }
                }
                ir += MR;
            }
            jr += NR;
        }
    }
}

/// The packing scratch of thread `t`: `caller`'s (the calling thread passes its model's) for thread 0, the worker's
/// own (`par::scratch`) otherwise.
///
/// # Safety
/// `caller` addresses [`SCRATCH`] floats; a thread uses only its own scratch.
pub unsafe fn thread_scratch<'a>(t: usize, caller: *mut f32) -> &'a mut [f32] {
    core::slice::from_raw_parts_mut(if t == 0 { caller } else { crate::par::scratch(t) }, SCRATCH)
}

/// Products smaller than this many multiply-adds run on the calling thread: splitting them costs more than it saves.
pub const PARALLEL_MIN_MACS: usize = 1 << 17;

/// One product C (+)= op(A)·op(B) to be split across the active threads (`crate::par`) in chunks of output rows or
/// of output columns. Each chunk computes whole C elements in the usual order, so the result is the same bits for
/// any thread count and whichever thread computes a chunk. The caller runs the task (`crate::ops::matmul` adds its
/// own work on each part's block of C, so that work stays in that thread's cache).
pub struct Gemm {
    pub op: Op,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: *const f32,
    pub lda: usize,
    pub b: *const f32,
    pub ldb: usize,
    pub c: *mut f32,
    pub ldc: usize,
    pub accumulate: bool,
    /// Thread 0's packing scratch; the others use their own (`thread_scratch`).
    pub scratch0: *mut f32,
}

/// The rows [i0, i1) and columns [j0, j1) of C that one part computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub i0: usize,
    pub i1: usize,
    pub j0: usize,
    pub j1: usize,
}

impl Gemm {
    /// How many parts to split the product into (1 when it is too small to be worth splitting).
    pub fn parts(&self) -> usize {
        let macs = self.m.saturating_mul(self.n).saturating_mul(self.k);
        // Chunks per thread: one while the workers keep pace (each chunk packs its own copy of the operand it shares
        // with the others; two per thread measured 2–5% slower alone), more when they fall behind (`par::SPLIT`).
        crate::par::chunks(macs, PARALLEL_MIN_MACS, crate::par::product_split())
    }

    /// The block of C that part `part` of `parts` computes: a range of rows or of columns, whichever makes the
    /// chunks repack less. A chunk of columns packs all of op(A) (m·k values, each broadcast to four lanes), a
    /// chunk of rows all of op(B) (k·n): rows when n < 4m. The choice depends on the shape alone, so part 2p of 2·parts
    /// is a prefix of part p of parts (the test hook that fails a worker halfway through a chunk relies on it).
    pub fn block(&self, part: usize, parts: usize) -> Block {
        if self.n < 4 * self.m {
            let (i0, i1) = crate::par::split(self.m, MR, part, parts);
            Block { i0, i1, j0: 0, j1: self.n }
        } else {
            let (j0, j1) = crate::par::split(self.n, NR, part, parts);
            Block { i0: 0, i1: self.m, j0, j1 }
        }
    }

    /// Computes one block of C on thread `thread` (whose packing scratch it uses).
    ///
    /// # Safety
    /// As [`gemm`]; blocks run concurrently must be disjoint.
    pub unsafe fn run_block(&self, blk: Block, thread: usize) {
        if blk.i0 >= blk.i1 || blk.j0 >= blk.j1 {
            return;
        }
        let scratch = thread_scratch(thread, self.scratch0);
        let (i0, j0) = (blk.i0, blk.j0);
        let a = if self.op == Op::TN { self.a.add(i0) } else { self.a.add(i0 * self.lda) };
        let b = if self.op == Op::NT { self.b.add(j0 * self.ldb) } else { self.b.add(j0) };
        let c = self.c.add(i0 * self.ldc + j0);
        gemm(self.op, blk.i1 - i0, blk.j1 - j0, self.k, a, self.lda, b, self.ldb, c, self.ldc, self.accumulate, scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Pcg32;

    fn random(n: usize, rng: &mut Pcg32) -> Vec<f32> {
        (0..n).map(|_| rng.uniform() * 2.0 - 1.0).collect()
    }

    #[test]
    fn packed_matches_scalar_twin_bitwise_on_awkward_shapes() {
        let mut rng = Pcg32::new(3, 0);
        let mut scratch = vec![0.0f32; SCRATCH];
        let shapes = [(1, 1, 1), (3, 5, 7), (8, 8, 8), (9, 17, 300), (130, 20, 33), (17, 530, 260), (128, 40, 400), (1, 400, 784), (1, 37, 5), (2, 45, 300), (3, 70, 9), (2, 3, 2),
            // Four or more rows below FEW_ROWS: groups of four, then the rest.
            (4, 37, 9), (5, 45, 300), (7, 70, 9), (15, 33, 65), (16, 20, 5)];
        for &(m, n, k) in &shapes {
            for op in [Op::NN, Op::NT, Op::TN] {
                for &accumulate in &[false, true] {
                    // Leading dimensions larger than the logical widths, to catch stride mistakes.
                    let (a_rows, a_cols) = if op == Op::TN { (k, m) } else { (m, k) };
                    let (b_rows, b_cols) = if op == Op::NT { (n, k) } else { (k, n) };
                    let (lda, ldb, ldc) = (a_cols + 3, b_cols + 1, n + 2);
                    let a = random(a_rows * lda, &mut rng);
                    let b = random(b_rows * ldb, &mut rng);
                    let c0 = random(m * ldc, &mut rng);
                    let mut c1 = c0.clone();
                    let mut c2 = c0.clone();
                    unsafe {
                        gemm(op, m, n, k, a.as_ptr(), lda, b.as_ptr(), ldb, c1.as_mut_ptr(), ldc, accumulate, &mut scratch);
                        gemm_scalar(op, m, n, k, a.as_ptr(), lda, b.as_ptr(), ldb, c2.as_mut_ptr(), ldc, accumulate);
                    }
                    for i in 0..c1.len() {
                        assert_eq!(c1[i].to_bits(), c2[i].to_bits(), "{op:?} {m}x{n}x{k} acc={accumulate} at {i}");
                    }
                    // Padding columns of C (beyond n) must be untouched.
                    for i in 0..m {
                        for j in n..ldc {
                            assert_eq!(c1[i * ldc + j].to_bits(), c0[i * ldc + j].to_bits());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn one_row_with_zeros_skips_their_terms_and_keeps_the_bits() {
        let mut rng = Pcg32::new(11, 0);
        let mut scratch = vec![0.0f32; SCRATCH];
        for &(n, k) in &[(1, 4), (3, 9), (20, 400), (37, 33), (70, 8), (400, 784), (784, 400)] {
            for &zeros in &[0.0f32, 0.2, 0.3, 0.81, 1.0] {
                // Zeros of both signs; other values of both signs, some subnormal (1e-40) or the smallest subnormal
                // (whose products underflow to ±0).
                let mut a: Vec<f32> = (0..k)
                    .map(|p| {
                        if rng.uniform() < zeros {
                            return if p % 2 == 0 { 0.0 } else { -0.0 };
                        }
                        let x = rng.uniform() - 0.5;
                        match p % 5 {
                            0 => x * 1e-40,
                            1 => x.signum() * f32::from_bits(1),
                            _ => x,
                        }
                    })
                    .collect();
                let ldb = n + 1;
                let mut b = random(k * ldb, &mut rng);
                // The first two terms cancel exactly (the same B row, opposite values): every sum passes through +0.
                if k >= 2 {
                    a[1] = -a[0];
                    let (first, rest) = b.split_at_mut(ldb);
                    rest[..ldb].copy_from_slice(first);
                }
                for &minus_zero in &[false, true] {
                    let mut c0 = random(n, &mut rng);
                    c0[0] = 0.0;
                    if minus_zero {
                        c0[n - 1] = -0.0; // then an accumulating product sums every term
                    }
                    for &accumulate in &[false, true] {
                        let (mut c1, mut c2) = (c0.clone(), c0.clone());
                        unsafe {
                            gemm(Op::NN, 1, n, k, a.as_ptr(), k, b.as_ptr(), ldb, c1.as_mut_ptr(), n, accumulate, &mut scratch);
                            gemm_scalar(Op::NN, 1, n, k, a.as_ptr(), k, b.as_ptr(), ldb, c2.as_mut_ptr(), n, accumulate);
                        }
                        for j in 0..n {
                            assert_eq!(c1[j].to_bits(), c2[j].to_bits(), "1x{n}x{k} zeros {zeros} −0 {minus_zero} acc={accumulate} at {j}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn one_row_skips_zero_terms_only_when_a_quarter_are_zero_and_no_sum_starts_from_minus_zero() {
        // A NaN in B where A is zero shows whether that term was summed (0·NaN = NaN) or skipped.
        let mut scratch = vec![0.0f32; SCRATCH];
        let (n, k) = (8, 8);
        let mut b = vec![0.5f32; k * n];
        b[0] = f32::NAN;
        let run = |zeros: usize, accumulate: bool, c0: f32, scratch: &mut [f32]| {
            let a: Vec<f32> = (0..k).map(|p| if p < zeros { 0.0 } else { 1.0 }).collect();
            let mut c = vec![c0; n];
            unsafe { gemm(Op::NN, 1, n, k, a.as_ptr(), k, b.as_ptr(), n, c.as_mut_ptr(), n, accumulate, scratch) };
            c[0]
        };
        assert!(run(1, false, 0.0, &mut scratch).is_nan(), "1 zero in 8: every term summed");
        assert_eq!(run(2, false, 0.0, &mut scratch), 3.0, "2 zeros in 8: skipped");
        assert_eq!(run(2, true, 1.0, &mut scratch), 4.0, "accumulating onto +1: skipped");
        assert!(run(2, true, -0.0, &mut scratch).is_nan(), "a sum starting from −0: every term summed");
    }

    #[test]
    fn few_rows_from_any_place_in_a_cache_line_match_the_scalar_twin_bitwise() {
        // ldb a multiple of 16, so few_rows first does the columns before B's first 64-byte boundary.
        let mut rng = Pcg32::new(8, 0);
        let mut scratch = vec![0.0f32; SCRATCH];
        let (k, ldb) = (9, 80);
        let b_all = random(16 + k * ldb, &mut rng);
        for offset in 0..16 {
            for &(m, n) in &[(1, 3), (1, 70), (2, 5), (3, 16), (4, 37), (6, 80), (15, 21)] {
                let a = random(m * k, &mut rng);
                let c0 = random(m * n, &mut rng);
                for &accumulate in &[false, true] {
                    let (mut c1, mut c2) = (c0.clone(), c0.clone());
                    // b_all's own place in a line is arbitrary; the offsets cover all 16 places.
                    let b = unsafe { b_all.as_ptr().add(offset) };
                    unsafe {
                        gemm(Op::NN, m, n, k, a.as_ptr(), k, b, ldb, c1.as_mut_ptr(), n, accumulate, &mut scratch);
                        gemm_scalar(Op::NN, m, n, k, a.as_ptr(), k, b, ldb, c2.as_mut_ptr(), n, accumulate);
                    }
                    for i in 0..c1.len() {
                        assert_eq!(c1[i].to_bits(), c2[i].to_bits(), "{m}x{n} offset {offset} acc={accumulate} at {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn few_rows_in_several_passes_over_the_terms_and_every_column_tail_match_the_scalar_twin_bitwise() {
        // k around and across FEW_ROWS_TERMS; one row's n cover its blocks of 24 columns with 0–5 vectors and 0–3
        // single columns after them; one row also with half its A zero (the listed terms, cut into passes too).
        let mut rng = Pcg32::new(13, 0);
        let mut scratch = vec![0.0f32; SCRATCH];
        let t = FEW_ROWS_TERMS;
        for &k in &[t - 1, t, t + 1, 2 * t + 5, 100] {
            for &m in &[1usize, 2, 3, 4, 5, 15] {
                for &n in &[3usize, 23, 24, 28, 32, 36, 40, 44, 47, 48, 70] {
                    for &half_zero in &[false, true] {
                        let mut a = random(m * k, &mut rng);
                        if half_zero {
                            a.iter_mut().step_by(2).for_each(|x| *x = 0.0);
                        }
                        let b = random(k * n, &mut rng);
                        let c0 = random(m * n, &mut rng);
                        for &accumulate in &[false, true] {
                            let (mut c1, mut c2) = (c0.clone(), c0.clone());
                            unsafe {
                                gemm(Op::NN, m, n, k, a.as_ptr(), k, b.as_ptr(), n, c1.as_mut_ptr(), n, accumulate, &mut scratch);
                                gemm_scalar(Op::NN, m, n, k, a.as_ptr(), k, b.as_ptr(), n, c2.as_mut_ptr(), n, accumulate);
                            }
                            for i in 0..c1.len() {
                                assert_eq!(c1[i].to_bits(), c2[i].to_bits(), "{m}x{n}x{k} zeros {half_zero} acc={accumulate} at {i}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn both_orientations_match_the_scalar_twin_bitwise() {
        let mut rng = Pcg32::new(5, 0);
        let mut scratch = vec![0.0f32; SCRATCH];
        for &(m, n, k) in &[(1, 1, 1), (5, 9, 3), (9, 5, 300), (70, 13, 17), (13, 70, 260), (4, 8, 8), (400, 9, 32)] {
            for op in [Op::NN, Op::NT, Op::TN] {
                for &accumulate in &[false, true] {
                    let (a_rows, a_cols) = if op == Op::TN { (k, m) } else { (m, k) };
                    let (b_rows, b_cols) = if op == Op::NT { (n, k) } else { (k, n) };
                    let (lda, ldb, ldc) = (a_cols + 1, b_cols + 2, n + 3);
                    let a = random(a_rows * lda, &mut rng);
                    let b = random(b_rows * ldb, &mut rng);
                    let c0 = random(m * ldc, &mut rng);
                    let mut want = c0.clone();
                    unsafe { gemm_scalar(op, m, n, k, a.as_ptr(), lda, b.as_ptr(), ldb, want.as_mut_ptr(), ldc, accumulate) };
                    for transposed in [false, true] {
                        let mut got = c0.clone();
                        unsafe { oriented(transposed, op, m, n, k, a.as_ptr(), lda, b.as_ptr(), ldb, got.as_mut_ptr(), ldc, accumulate, &mut scratch) };
                        for i in 0..got.len() {
                            assert_eq!(got[i].to_bits(), want[i].to_bits(), "{op:?} {m}x{n}x{k} acc={accumulate} T={transposed} at {i}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn scalar_twin_computes_the_product() {
        // 2×3 · 3×2 by hand.
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [7.0f32, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut c = [0.0f32; 4];
        unsafe { gemm_scalar(Op::NN, 2, 2, 3, a.as_ptr(), 3, b.as_ptr(), 2, c.as_mut_ptr(), 2, false) };
        assert_eq!(c, [58.0, 64.0, 139.0, 154.0]);
        // Aᵀ·B with A stored 3×2 (so op(A) is 2×3 = [[1,3,5],[2,4,6]]).
        unsafe { gemm_scalar(Op::TN, 2, 2, 3, a.as_ptr(), 2, b.as_ptr(), 2, c.as_mut_ptr(), 2, false) };
        assert_eq!(c, [1.0 * 7.0 + 3.0 * 9.0 + 5.0 * 11.0, 1.0 * 8.0 + 3.0 * 10.0 + 5.0 * 12.0, 2.0 * 7.0 + 4.0 * 9.0 + 6.0 * 11.0, 2.0 * 8.0 + 4.0 * 10.0 + 6.0 * 12.0]);
        // A·Bᵀ with B stored 2×3.
        unsafe { gemm_scalar(Op::NT, 2, 2, 3, a.as_ptr(), 3, b.as_ptr(), 3, c.as_mut_ptr(), 2, false) };
        assert_eq!(c, [7.0 + 16.0 + 27.0, 10.0 + 22.0 + 36.0, 28.0 + 40.0 + 54.0, 40.0 + 55.0 + 72.0]);
    }
}
