//! A product C (+)= op(A)·op(B) run across the threads as one task, with elementwise work fused onto each block of
//! C right after the thread computed it (while the block is in its cache): a bias and an activation in a forward
//! pass, an activation's derivative in a backward pass, or the bias gradient beside a weight gradient. Dense
//! layers and both convolutions are built from these.

use crate::act::Activation;
use crate::gemm::{Block, Gemm, Op};
use crate::par;
use crate::math::Real;
use crate::simd::{lanes, F32x4};

/// Work fused onto the product.
#[derive(Clone, Copy)]
pub enum Fused {
    None,
    /// Before the product C ← bias (broadcast over rows); after it, with an activation, h = act(C).
    Bias { bias: *const f32, act: Option<Activation> },
    /// After the product (accumulated onto C), with an activation, h = act(C).
    Act { act: Option<Activation> },
    /// After the product, with the activation of the layer below, C ← C · act'(a).
    ActGrad { below: Option<Activation> },
    /// Beside dW = Aᵀ·B, the bias gradient: column sums of B (the output gradient) into `bias_grad`.
    BiasGrad { bias_grad: *mut f32 },
}

/// The operands of one product (row-major, leading dimensions as in [`crate::gemm`]).
#[derive(Clone, Copy)]
pub struct Product {
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
}

/// Runs the product across the threads with its fused work. `scratch` is the calling thread's GEMM scratch.
///
/// # Safety
/// Operands address matrices of the stated shapes; C aliases neither A nor B; the fused buffers are laid out like C.
pub unsafe fn run(p: Product, fused: Fused, scratch: *mut f32) {
    let accumulate = p.accumulate || matches!(fused, Fused::Bias { .. });
    struct Task {
        g: Gemm,
        fused: Fused,
    }
    let g = Gemm {
        op: p.op, m: p.m, n: p.n, k: p.k, a: p.a, lda: p.lda, b: p.b, ldb: p.ldb, c: p.c, ldc: p.ldc, accumulate,
        scratch0: scratch,
    };
    let t = Task { g, fused };
    par::run(&t, t.g.parts(), |t, p| {
        let (g, blk) = (&t.g, t.g.block(p.index, p.count));
        if let Fused::Bias { bias, .. } = t.fused {
            let (from, n) = (bias.add(blk.j0), blk.j1 - blk.j0);
            for r in blk.i0..blk.i1 {
                let to = g.c.add(r * g.ldc + blk.j0);
                lanes!(n, |T, i| {
                    T::load(from.add(i)).store(to.add(i));
                });
            }
        }
        g.run_block(blk, p.thread);
        match t.fused {
            Fused::Bias { act: Some(act), .. } | Fused::Act { act: Some(act) } => for_block(blk, g.ldc, |o, n| act.forward_at(o, n)),
            Fused::ActGrad { below: Some(act) } => for_block(blk, g.ldc, |o, n| act.backward_at(g.c, o, n)),
            Fused::BiasGrad { bias_grad } => {
                // By its own column split (dW may be split by rows): each column is summed over rows in order.
                let (j0, j1) = p.range(g.n, 4);
                column_sums(g.b.add(j0), g.k, g.ldb, j1 - j0, bias_grad.add(j0));
            }
            _ => {}
        }
    });
}

/// Calls `f(offset, len)` for each row's span of a block of a row-major matrix with `stride` columns.
#[inline(always)]
unsafe fn for_block(blk: Block, stride: usize, f: impl Fn(usize, usize)) {
    for r in blk.i0..blk.i1 {
        f(r * stride + blk.j0, blk.j1 - blk.j0);
    }
}

/// out[j] = Σ_r m[r·stride + j] for j < cols, each column summed over rows in order.
pub unsafe fn column_sums(m: *const f32, rows: usize, stride: usize, cols: usize, out: *mut f32) {
    let mut j = 0;
    while j + 4 <= cols {
        let mut s = F32x4::zero();
        for r in 0..rows {
            s = s.add(F32x4::load(m.add(r * stride + j)));
        }
        s.store(out.add(j));
        j += 4;
    }
    while j < cols {
        let mut s = 0.0;
        for r in 0..rows {
            s += *m.add(r * stride + j);
        }
        *out.add(j) = s;
        j += 1;
    }
}

/// Column sums of a rows × cols matrix (contiguous rows) into `out`, split across threads by columns.
pub unsafe fn bias_grad(m: *const f32, rows: usize, cols: usize, out: *mut f32) {
    struct Task {
        m: *const f32,
        rows: usize,
        cols: usize,
        out: *mut f32,
    }
    par::run(&Task { m, rows, cols, out }, par::parts(rows * cols, par::PARALLEL_MIN_ELEMENTS), |t, p| {
        let (j0, j1) = p.range(t.cols, 4);
        column_sums(t.m.add(j0), t.rows, t.cols, j1 - j0, t.out.add(j0))
    });
}

/// out[j] = Σ_c partials[c·n + j] for j < n, each sum over c in order (weight gradients summed from per-chunk
/// parts, so that the order does not depend on the threads); split across threads by j.
pub unsafe fn sum_partials(partials: *const f32, chunks: usize, n: usize, out: *mut f32) {
    struct Task {
        partials: *const f32,
        chunks: usize,
        n: usize,
        out: *mut f32,
    }
    par::run(&Task { partials, chunks, n, out }, par::parts(chunks * n, par::PARALLEL_MIN_ELEMENTS), |t, p| {
        let (j0, j1) = p.range(t.n, 4);
        let o = t.out.add(j0);
        lanes!(j1 - j0, |T, j| {
            let mut s = T::load(t.partials.add(j0 + j));
            for c in 1..t.chunks {
                s = s.add(T::load(t.partials.add(c * t.n + j0 + j)));
            }
            s.store(o.add(j));
        });
    });
}
