//! Every function the wasm module exports. Coarse calls over (pointer, count) pairs into caller-allocated buffers;
//! TypeScript validates arguments first, and these functions return status codes (see `model::status`) instead
//! of trapping. Pointers are offsets into the module's linear memory.

use crate::data::Source;
use crate::gemm::{self, Op};
use crate::math::{self, Real};
use crate::mem;
use crate::model::{status, Model};
use crate::optim::{OptConfig, OptKind};
use crate::plan::{Plan, Tensor, ERROR_WORDS};
use crate::train::Objective;
use crate::rng::Pcg32;
use crate::simd::{wide_lanes, F32x4};

/// Bumped whenever an export's signature or meaning changes; TypeScript refuses a module with another version.
pub const ABI_VERSION: u32 = 8;

static mut LAST_STATUS: i32 = 0;

#[no_mangle]
pub extern "C" fn vae_abi_version() -> u32 {
    ABI_VERSION
}

/// Status of the last call that returned a pointer (0 when it succeeded).
#[no_mangle]
pub extern "C" fn vae_last_status() -> i32 {
    unsafe { LAST_STATUS }
}

#[no_mangle]
pub extern "C" fn vae_alloc(bytes: usize) -> *mut u8 {
    mem::alloc(bytes)
}

/// 1 if freed, 0 for a null, foreign or already freed pointer.
#[no_mangle]
pub extern "C" fn vae_free(p: *mut u8) -> i32 {
    mem::free(p) as i32
}

#[no_mangle]
pub extern "C" fn vae_live_allocations() -> u32 {
    mem::live_allocations()
}

#[no_mangle]
pub extern "C" fn vae_heap_used() -> usize {
    mem::heap_used_bytes()
}

/// The model behind a handle; its calls use its own thread count from here on.
unsafe fn model<'a>(m: *mut Model) -> &'a mut Model {
    crate::par::use_threads((*m).threads);
    &mut *m
}

/// The status of a computing call: a worker's failure during it overrides success (its results are incomplete).
fn code<T>(r: Result<T, i32>) -> i32 {
    match r {
        _ if crate::par::failed() => status::WORKER_FAILED,
        Ok(_) => status::OK,
        Err(e) => e,
    }
}

/// Compiles a model descriptor (see `crate::plan`) without allocating anything: OK, or BAD_CONFIG with the reason
/// written to `error` (ERROR_WORDS words: reason, layer, input rank/h/w/c, output rank/h/w/c, two details).
#[no_mangle]
pub unsafe extern "C" fn vae_plan_check(words: *const u32, n: usize, error: *mut u32) -> i32 {
    match compile(words, n, error) {
        Some(_) => status::OK,
        None => status::BAD_CONFIG,
    }
}

unsafe fn compile(words: *const u32, n: usize, error: *mut u32) -> Option<Plan> {
    match Plan::compile(core::slice::from_raw_parts(words, n)) {
        Ok(p) => Some(p),
        Err(e) => {
            core::ptr::copy_nonoverlapping(e.words().as_ptr(), error, ERROR_WORDS);
            None
        }
    }
}

/// Creates and initialises a model from a descriptor; null on failure with the reason in `vae_last_status` (and,
/// for BAD_CONFIG, in `error` as `vae_plan_check` writes it).
#[no_mangle]
pub unsafe extern "C" fn vae_model_new(words: *const u32, n: usize, error: *mut u32) -> *mut Model {
    let plan = match compile(words, n, error) {
        Some(p) => p,
        None => {
            LAST_STATUS = status::BAD_CONFIG;
            return core::ptr::null_mut();
        }
    };
    let m = match Model::new(plan) {
        Ok(m) => m,
        Err(e) => {
            LAST_STATUS = e;
            return core::ptr::null_mut();
        }
    };
    let p = mem::alloc(core::mem::size_of::<Model>()) as *mut Model;
    if p.is_null() {
        let mut m = m;
        m.release();
        LAST_STATUS = status::OUT_OF_MEMORY;
        return p;
    }
    p.write(m);
    LAST_STATUS = status::OK;
    p
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_free(m: *mut Model) {
    if m.is_null() {
        return;
    }
    model(m).release();
    mem::free(m as *mut u8);
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_param_count(m: *mut Model) -> usize {
    model(m).n_params()
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_params(m: *mut Model) -> *mut f32 {
    // The caller may write through it.
    model(m).forget_max_state();
    model(m).params
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_grads(m: *mut Model) -> *mut f32 {
    model(m).grads
}

/// Tensor `i` of the model, in storage order.
fn tensor(m: &Model, i: u32) -> Option<Tensor> {
    let mut k = 0u32;
    let mut found = None;
    m.plan.tensors(|t| {
        if k == i {
            found = Some(t);
        }
        k += 1;
    });
    found
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_tensor_count(m: *mut Model) -> u32 {
    let mut k = 0u32;
    model(m).plan.tensors(|_| k += 1);
    k
}

/// Writes [rank, d0, d1, d2, d3, offset, values, name length] of tensor `i` to `out`.
#[no_mangle]
pub unsafe extern "C" fn vae_model_tensor_info(m: *mut Model, i: u32, out: *mut u32) -> i32 {
    let t = match tensor(model(m), i) {
        Some(t) => t,
        None => return status::BAD_ARGUMENT,
    };
    let d = |k: usize| if k < t.rank { t.shape[k] as u32 } else { 0 };
    let vals = [t.rank as u32, d(0), d(1), d(2), d(3), t.offset as u32, t.len() as u32, t.name.len as u32];
    core::ptr::copy_nonoverlapping(vals.as_ptr(), out, vals.len());
    status::OK
}

/// Writes tensor `i`'s name (ASCII, at most `cap` bytes) to `out`; returns its full length, or 0 for no tensor.
#[no_mangle]
pub unsafe extern "C" fn vae_model_tensor_name(m: *mut Model, i: u32, out: *mut u8, cap: usize) -> usize {
    match tensor(model(m), i) {
        Some(t) => {
            let b = t.name.as_bytes();
            core::ptr::copy_nonoverlapping(b.as_ptr(), out, b.len().min(cap));
            b.len()
        }
        None => 0,
    }
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_layer_count(m: *mut Model) -> u32 {
    model(m).plan.n_layers as u32
}

/// Writes [op (0 view, 1 dense, 2 conv2d, 3 conv2dTranspose), section, index, input rank/h/w/c, output rank/h/w/c]
/// of layer `i` (descriptor order) to `out`.
#[no_mangle]
pub unsafe extern "C" fn vae_model_layer_info(m: *mut Model, i: u32, out: *mut u32) -> i32 {
    use crate::ops::Op as L;
    let plan = &model(m).plan;
    if i as usize >= plan.n_layers {
        return status::BAD_ARGUMENT;
    }
    let l = &plan.layers[i as usize];
    let op = match l.op {
        L::View => 0,
        L::Dense(_) => 1,
        L::Conv2d(_) => 2,
        L::Conv2dTranspose(_) => 3,
    };
    let s = |s: crate::ops::Shape| [if s.image { 3 } else { 1 }, s.h as u32, s.w as u32, s.c as u32];
    let (a, b) = (s(l.input), s(l.output));
    let vals = [op, l.section as u32, l.index as u32, a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]];
    core::ptr::copy_nonoverlapping(vals.as_ptr(), out, vals.len());
    status::OK
}

/// kind: 0 SGD, 1 Adam, 2 Adagrad.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vae_model_set_optimizer(
    m: *mut Model, kind: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, momentum: f32, weight_decay: f32,
) -> i32 {
    let kind = match OptKind::from_u32(kind) {
        Some(k) => k,
        None => return status::BAD_ARGUMENT,
    };
    code(model(m).set_optimizer(OptConfig { kind, lr, beta1, beta2, eps, momentum, weight_decay }))
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_reset_optimizer(m: *mut Model) {
    model(m).reset_optimizer();
}

/// Optimizer steps taken so far.
#[no_mangle]
pub unsafe extern "C" fn vae_model_step(m: *mut Model) -> f64 {
    model(m).step as f64
}

/// Words in a training-state record (`vae_model_get_state`).
pub const STATE_WORDS: usize = 15;

/// Writes the training state as 15 words: training RNG (6), evaluation RNG (6), optimizer step (lo, hi), and the
/// optimizer kind whose state is held (0 SGD, 1 Adam, 2 Adagrad, or 0xFFFFFFFF for none).
#[no_mangle]
pub unsafe extern "C" fn vae_model_get_state(m: *mut Model, out: *mut u32) {
    let m = model(m);
    let mut w = [0u32; STATE_WORDS];
    w[..6].copy_from_slice(&m.rng.to_words());
    w[6..12].copy_from_slice(&m.aux.to_words());
    w[12] = m.step as u32;
    w[13] = (m.step >> 32) as u32;
    w[14] = match m.opt_state().1 {
        0 => u32::MAX,
        _ => m.opt_kind_code(),
    };
    core::ptr::copy_nonoverlapping(w.as_ptr(), out, STATE_WORDS);
}

/// Restores a record written by `vae_model_get_state`; allocates (zeroed) optimizer state of the recorded kind,
/// which the caller then fills through `vae_model_opt_state`. Changes nothing if the record is invalid.
#[no_mangle]
pub unsafe extern "C" fn vae_model_set_state(m: *mut Model, words: *const u32) -> i32 {
    let m = model(m);
    let mut w = [0u32; STATE_WORDS];
    core::ptr::copy_nonoverlapping(words, w.as_mut_ptr(), STATE_WORDS);
    let mut a = [0u32; 6];
    let mut b = [0u32; 6];
    a.copy_from_slice(&w[..6]);
    b.copy_from_slice(&w[6..12]);
    let (rng, aux) = match (Pcg32::from_words(&a), Pcg32::from_words(&b)) {
        (Some(r), Some(x)) => (r, x),
        _ => return status::BAD_ARGUMENT,
    };
    let kind = match w[14] {
        u32::MAX => None,
        k => match OptKind::from_u32(k) {
            Some(k) => Some(k),
            None => return status::BAD_ARGUMENT,
        },
    };
    if let Some(k) = kind {
        if let Err(e) = m.ensure_opt_state(k) {
            return e;
        }
    }
    m.rng = rng;
    m.aux = aux;
    m.step = w[12] as u64 | (w[13] as u64) << 32;
    status::OK
}

/// Optimizer state (`vae_model_opt_slots` × param_count floats), or null when none is held.
#[no_mangle]
pub unsafe extern "C" fn vae_model_opt_state(m: *mut Model) -> *mut f32 {
    model(m).forget_max_state();
    model(m).opt_state().0
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_opt_slots(m: *mut Model) -> u32 {
    model(m).opt_state().1 as u32
}

/// Binds a conditional model's condition rows (dtype 0: u8, 1: f32; `conditionDim` values per row), read by the
/// calls that follow with the same row indices as their data (`decode` and `sample`: one per output row); null
/// unbinds. The caller keeps the memory alive while bound.
#[no_mangle]
pub unsafe extern "C" fn vae_model_set_condition(m: *mut Model, data: *const u8, dtype: u32) -> i32 {
    let m = model(m);
    if data.is_null() {
        m.condition = None;
        return status::OK;
    }
    match Source::from_dtype(data, dtype) {
        Some(s) => {
            m.condition = Some(s);
            status::OK
        }
        None => status::BAD_ARGUMENT,
    }
}

/// Sizes the workspace for `rows` encoder rows and `drows` decoder rows (rows × samples).
#[no_mangle]
pub unsafe extern "C" fn vae_model_reserve(m: *mut Model, rows: usize, drows: usize) -> i32 {
    code(model(m).reserve(rows, drows))
}

/// Shuffles `perm` (n indices) in place with the training RNG.
#[no_mangle]
pub unsafe extern "C" fn vae_model_shuffle(m: *mut Model, perm: *mut u32, n: usize) {
    model(m).rng.shuffle(core::slice::from_raw_parts_mut(perm, n));
}

/// One optimizer step on rows `idx[0..batch]` of `data` (dtype 0: u8, 1: f32), on the objective 0 (the ELBO with
/// `samples` draws) or 1 (the importance-weighted bound with k = `samples`). The KL weight is
/// β = kl_weight · min(1, (step + 1) / warmup_steps) (β = kl_weight when warmup_steps is 0), with `step` the
/// model's own optimizer step count, so a resumed run continues the ramp. Writes [loss, reconstruction, kl, β] to
/// `stats`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vae_model_train_step(
    m: *mut Model, data: *const u8, dtype: u32, idx: *const u32, batch: usize, samples: usize, kl_weight: f32,
    warmup_steps: u32, binarize: u32, objective: u32, stats: *mut f64,
) -> i32 {
    let (src, objective) = match (Source::from_dtype(data, dtype), Objective::from_u32(objective)) {
        (Some(s), Some(o)) => (s, o),
        _ => return status::BAD_ARGUMENT,
    };
    match model(m).train_step(src, idx, batch, samples, kl_weight, warmup_steps, binarize != 0, objective) {
        Ok((s, beta)) if !crate::par::failed() => {
            let vals = [s.loss, s.rec, s.kl, beta as f64];
            core::ptr::copy_nonoverlapping(vals.as_ptr(), stats, 4);
            status::OK
        }
        Ok(_) => status::WORKER_FAILED,
        Err(e) => e,
    }
}

/// Loss terms and every gradient (left in the gradient buffer) for f32 rows `x` and noise `eps`
/// (rows·samples × latent), on the objective 0 (ELBO) or 1 (IWAE). Writes [loss, reconstruction, kl] to `stats`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vae_model_loss_grad(
    m: *mut Model, x: *const f32, rows: usize, eps: *const f32, samples: usize, beta: f32, objective: u32, stats: *mut f64,
) -> i32 {
    let objective = match Objective::from_u32(objective) {
        Some(o) => o,
        None => return status::BAD_ARGUMENT,
    };
    match model(m).loss_and_gradients(x, rows, eps, samples, beta, objective) {
        Ok(s) if !crate::par::failed() => {
            let vals = [s.loss, s.rec, s.kl];
            core::ptr::copy_nonoverlapping(vals.as_ptr(), stats, 3);
            status::OK
        }
        Ok(_) => status::WORKER_FAILED,
        Err(e) => e,
    }
}

/// Summed reconstruction and KL over n rows into stats[0..2]; per-row values too when those pointers are non-null,
/// and each element's share of its row's reconstruction term (n × input) when `per_elem` is. ε comes from a
/// generator seeded with `seed` when `use_seed` is 1, else from the model's evaluation stream.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vae_model_evaluate(
    m: *mut Model, data: *const u8, dtype: u32, n: usize, samples: usize, seed: u32, use_seed: u32,
    per_rec: *mut f32, per_kl: *mut f32, per_elem: *mut f32, stats: *mut f64,
) -> i32 {
    let src = match Source::from_dtype(data, dtype) {
        Some(s) => s,
        None => return status::BAD_ARGUMENT,
    };
    let m = model(m);
    let per_row = if per_rec.is_null() || per_kl.is_null() { None } else { Some((per_rec, per_kl)) };
    let per_elem = if per_elem.is_null() { None } else { Some(per_elem) };
    let mut own = Pcg32::new(seed as u64, 3);
    let r = if use_seed != 0 {
        m.evaluate(src, n, samples, &mut own, per_row, per_elem)
    } else {
        let mut aux = m.aux;
        let r = m.evaluate(src, n, samples, &mut aux, per_row, per_elem);
        // A call a worker's failure abandoned leaves the stream where it was.
        if !crate::par::failed() {
            m.aux = aux;
        }
        r
    };
    match r {
        Ok((rec, kl)) if !crate::par::failed() => {
            *stats = rec;
            *stats.add(1) = kl;
            status::OK
        }
        Ok(_) => status::WORKER_FAILED,
        Err(e) => e,
    }
}

/// Importance-weighted bound L_k and the mean log-weight (ELBO estimate) per row, as f64, into `out_lk` and
/// `out_elbo`; ε seeded like `vae_model_evaluate`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vae_model_log_likelihood(
    m: *mut Model, data: *const u8, dtype: u32, n: usize, k: usize, seed: u32, use_seed: u32, out_lk: *mut f64,
    out_elbo: *mut f64,
) -> i32 {
    let src = match Source::from_dtype(data, dtype) {
        Some(s) => s,
        None => return status::BAD_ARGUMENT,
    };
    let m = model(m);
    if use_seed != 0 {
        let mut own = Pcg32::new(seed as u64, 5);
        code(m.log_likelihood(src, n, k, &mut own, out_lk, out_elbo))
    } else {
        let mut aux = m.aux;
        let r = m.log_likelihood(src, n, k, &mut aux, out_lk, out_elbo);
        // A call a worker's failure abandoned leaves the stream where it was.
        if !crate::par::failed() {
            m.aux = aux;
        }
        code(r)
    }
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_encode(
    m: *mut Model, data: *const u8, dtype: u32, n: usize, mean_out: *mut f32, logvar_out: *mut f32,
) -> i32 {
    match Source::from_dtype(data, dtype) {
        Some(src) => code(model(m).encode(src, n, mean_out, logvar_out)),
        None => status::BAD_ARGUMENT,
    }
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_decode(m: *mut Model, z: *const f32, n: usize, out: *mut f32, logits: u32) -> i32 {
    code(model(m).decode(z, n, out, logits != 0))
}

#[no_mangle]
pub unsafe extern "C" fn vae_model_reconstruct(m: *mut Model, data: *const u8, dtype: u32, n: usize, out: *mut f32) -> i32 {
    match Source::from_dtype(data, dtype) {
        Some(src) => code(model(m).reconstruct(src, n, out)),
        None => status::BAD_ARGUMENT,
    }
}

/// n samples from the prior, decoded; seeded like `vae_model_evaluate`.
#[no_mangle]
pub unsafe extern "C" fn vae_model_sample(m: *mut Model, n: usize, seed: u32, use_seed: u32, out: *mut f32) -> i32 {
    let m = model(m);
    if use_seed != 0 {
        let mut own = Pcg32::new(seed as u64, 4);
        code(m.sample(n, &mut own, out))
    } else {
        let mut aux = m.aux;
        let r = m.sample(n, &mut aux, out);
        // A call a worker's failure abandoned leaves the stream where it was.
        if !crate::par::failed() {
            m.aux = aux;
        }
        code(r)
    }
}

// ---- kernels exposed for tests (SIMD vs scalar twin) and the benchmark ----------------------------------------

static mut GEMM_SCRATCH: *mut f32 = core::ptr::null_mut();

/// C (+)= op(A)·op(B) with the packed SIMD kernel, or with its scalar twin when `mode` is 1; modes 2 and 3 force the
/// packed kernel's orientation (C, or Cᵀ = op(B)ᵀ·op(A)ᵀ) for tests and the benchmark. The same bits in every mode,
/// except that one row of A times a B with an infinity or NaN facing a zero of that row may miss the NaN (see gemm.rs).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vae_gemm(
    op: u32, m: usize, n: usize, k: usize, a: *const f32, lda: usize, b: *const f32, ldb: usize, c: *mut f32,
    ldc: usize, accumulate: u32, mode: u32,
) -> i32 {
    let op = match Op::from_u32(op) {
        Some(o) => o,
        None => return status::BAD_ARGUMENT,
    };
    if mode == 1 {
        gemm::gemm_scalar(op, m, n, k, a, lda, b, ldb, c, ldc, accumulate != 0);
        return status::OK;
    }
    if GEMM_SCRATCH.is_null() {
        GEMM_SCRATCH = mem::alloc_f32(gemm::SCRATCH);
        if GEMM_SCRATCH.is_null() {
            return status::OUT_OF_MEMORY;
        }
    }
    let s = core::slice::from_raw_parts_mut(GEMM_SCRATCH, gemm::SCRATCH);
    match mode {
        0 => gemm::gemm(op, m, n, k, a, lda, b, ldb, c, ldc, accumulate != 0, s),
        2 | 3 => gemm::oriented(mode == 3, op, m, n, k, a, lda, b, ldb, c, ldc, accumulate != 0, s),
        _ => return status::BAD_ARGUMENT,
    }
    status::OK
}

/// Elementwise function `f` (0 exp, 1 ln, 2 sigmoid, 3 softplus, 4 tanh, 5 log1p) over n floats as the training
/// code runs such loops (`wide_lanes!`: 16 values at a time, then 4, then one) or (scalar = 1) one at a time.
#[no_mangle]
pub unsafe extern "C" fn vae_math(f: u32, x: *const f32, out: *mut f32, n: usize, scalar: u32) -> i32 {
    macro_rules! apply {
        ($func:path) => {{
            if scalar == 0 {
                wide_lanes!(n, |T, i| {
                    $func(T::load(x.add(i))).store(out.add(i));
                });
            } else {
                for i in 0..n {
                    *out.add(i) = $func(*x.add(i));
                }
            }
        }};
    }
    match f {
        0 => apply!(math::exp),
        1 => apply!(math::ln),
        2 => apply!(math::sigmoid),
        3 => apply!(math::softplus),
        4 => apply!(math::tanh),
        5 => apply!(math::log1p_nonneg),
        _ => return status::BAD_ARGUMENT,
    }
    status::OK
}

/// Peak-throughput probe: `iters` rounds of 12 independent f32x4 multiply-add chains (96 flops per round).
/// Returns a value that depends on every chain so the work cannot be removed.
#[no_mangle]
pub extern "C" fn vae_peak(iters: u32) -> f32 {
    let m = F32x4::splat(0.999_999);
    let a = F32x4::splat(1e-7);
    let mut acc = [F32x4::splat(1.0); 12];
    for (i, v) in acc.iter_mut().enumerate() {
        *v = F32x4::splat(1.0 + i as f32 * 1e-3);
    }
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = v.mul(m).add(a);
        }
    }
    let mut s = F32x4::zero();
    for v in acc.iter() {
        s = s.add(*v);
    }
    s.hsum()
}

/// Runs one elementwise kernel over n floats, either as the training code does (four lanes at a time plus a scalar
/// tail) or, with `scalar` = 1, one element per call (scalar path only) — so tests can compare the SIMD lanes with
/// their scalar twin in the built module. Kernels: 0–5 activation forward (relu, leakyRelu 0.1, tanh, sigmoid,
/// softplus, linear) of `a`; 6–11 their backward pass with dL/dh = `b`; 12–14 three optimizer steps (SGD with
/// momentum 0.9 and weight decay 0.01, Adam, Adagrad) on θ = `a` with gradient `b`. Writes n floats to `out`.
#[no_mangle]
pub unsafe extern "C" fn vae_kernel_twin(id: u32, n: usize, a: *const f32, b: *const f32, out: *mut f32, scalar: u32) -> i32 {
    use crate::act::{self, Act};
    use crate::optim::update;
    let (chunk, calls) = if scalar != 0 { (1, n) } else { (n, 1) };
    let act = |i: u32| Act::from_u32(i % 6);
    for c in 0..calls {
        let off = c * chunk;
        let (a, b, out) = (a.add(off), b.add(off), out.add(off));
        match id {
            0..=5 => act::forward(act(id).unwrap_or(Act::Linear), 0.1, a, out, chunk),
            6..=11 => {
                // h = act(a), then d ← b · act'(a) in place in `out`.
                let k = act(id - 6).unwrap_or(Act::Linear);
                let hs = mem::alloc_f32(chunk);
                if hs.is_null() {
                    return status::OUT_OF_MEMORY;
                }
                act::forward(k, 0.1, a, hs, chunk);
                core::ptr::copy_nonoverlapping(b, out, chunk);
                act::backward(k, 0.1, a, hs, out, chunk);
                mem::free(hs as *mut u8);
            }
            12..=14 => {
                let kind = [OptKind::Sgd, OptKind::Adam, OptKind::Adagrad][(id - 12) as usize];
                let cfg = OptConfig { kind, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0.9, weight_decay: 0.01 };
                let st = mem::alloc_f32(2 * chunk);
                if st.is_null() {
                    return status::OUT_OF_MEMORY;
                }
                for i in 0..2 * chunk {
                    *st.add(i) = 0.0;
                }
                core::ptr::copy_nonoverlapping(a, out, chunk);
                for t in 1..=3 {
                    update(&cfg, t, out, b, st, st.add(chunk), chunk);
                }
                mem::free(st as *mut u8);
            }
            _ => return status::BAD_ARGUMENT,
        }
    }
    status::OK
}

// ---- threads (see `crate::par`) ------------------------------------------------------------------------------

/// Address of the control block shared with the worker threads' JavaScript (words: generation, pending, stop,
/// failed, sleepers, ...).
#[no_mangle]
pub extern "C" fn vae_thread_control() -> *const crate::par::Control {
    &crate::par::CONTROL
}

/// Threads usable now (registered workers + 1); always 1 in the single-memory build.
#[no_mangle]
pub extern "C" fn vae_threads_available() -> u32 {
    crate::par::available() as u32
}

/// Registers `workers` started workers, giving each its GEMM scratch. Status OUT_OF_MEMORY if that fails.
#[no_mangle]
pub extern "C" fn vae_threads_register(workers: u32) -> i32 {
    if crate::par::register(workers as usize, gemm::SCRATCH) {
        status::OK
    } else {
        status::OUT_OF_MEMORY
    }
}

/// Deregisters every worker and tells them to return; later calls run on one thread.
#[no_mangle]
pub extern "C" fn vae_threads_shutdown() {
    crate::par::shutdown();
}

/// The loop of worker `id` (1-based): returns the last generation seen after `spins` idle spins or when stopped.
///
/// # Safety
/// Only from worker `id`'s own instance, with its own stack.
#[no_mangle]
pub unsafe extern "C" fn vae_thread_work(id: u32, seen: u32, spins: u32) -> u32 {
    crate::par::worker_loop(id as usize, seen, spins)
}

/// Threads the model's calls may use (clamped to those available at each call).
#[no_mangle]
pub unsafe extern "C" fn vae_model_set_threads(m: *mut Model, threads: u32) {
    (*m).threads = (threads as usize).clamp(1, crate::par::MAX_THREADS);
}

/// Test hook: worker `id` traps in the next chunk it claims of a task whose context type name contains the
/// `filter_len` bytes at `filter` (any task when 0): at the chunk's start (`at` 0), after computing the first half of
/// its outputs (1), or after computing all of it, before acknowledging it (2). Id 0 disarms.
#[no_mangle]
pub unsafe extern "C" fn vae_threads_inject_fault(id: u32, at: u32, filter: *const u8, filter_len: usize) {
    let filter = if filter_len == 0 { &[][..] } else { core::slice::from_raw_parts(filter, filter_len) };
    crate::par::inject_fault(id, at, filter);
}

/// Test hook: 1 while an injected fault has not fired yet; the task type where the last one fired, NUL-terminated.
#[no_mangle]
pub extern "C" fn vae_threads_fault_armed() -> u32 {
    crate::par::fault_armed() as u32
}

#[no_mangle]
pub unsafe extern "C" fn vae_threads_fault_site() -> *const u8 {
    core::ptr::addr_of!(crate::par::FAULT_SITE) as *const u8
}

/// Test hook: worker `id` sleeps `ms` milliseconds once, after reading its next task and before claiming any of it
/// (`at` 0), or inside the next chunk it claims (1). `CONTROL.delayed` is 1 while it sleeps.
#[no_mangle]
pub extern "C" fn vae_threads_inject_delay(id: u32, at: u32, ms: f32) {
    crate::par::inject_delay(id, at, ms);
}

/// Fork-join counters (see `crate::par::stats`) as `n` ≤ their number f64s into `out`; with `reset`, zeroes them.
#[no_mangle]
pub unsafe extern "C" fn vae_threads_stats(out: *mut f64, n: usize, reset: u32) -> usize {
    use crate::par::stats;
    let n = n.min(stats::N);
    for i in 0..n {
        *out.add(i) = stats::get(i) as f64;
    }
    if reset != 0 {
        stats::reset();
    }
    n
}

/// For the benchmark: `reps` tasks of `parts` parts on `threads` threads, each part a loop of `work` dependent
/// steps (0: nothing), to time the fork-join round trip against the same parts on one thread.
///
/// Each step is a xorshift on a register, its result stored once at the end (so that the loop is kept). A
/// volatile load and store per step ran 4× slower once V8 had compiled it with TurboFan than in its baseline tier
/// (Node 20, AMD EPYC: 2.4 ms against 10 ms for 2²² steps), so the part's length depended on which tier ran it.
#[no_mangle]
pub extern "C" fn vae_threads_empty_tasks(threads: u32, parts: u32, reps: u32, work: u32) {
    crate::par::use_threads(threads as usize);
    for _ in 0..reps {
        crate::par::run(&work, parts as usize, |&work, _| {
            let mut x = work | 1;
            for _ in 0..work {
                // xorshift32: no closed form for the compiler to fold the loop into.
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
            }
            let mut sink = 0u32;
            unsafe { core::ptr::write_volatile(&mut sink, x) };
        });
    }
}
