//! A model: its compiled plan, parameters and gradients (one allocation), optimizer state, the two random streams
//! and the workspace. The passes over it live beside: `net` (forward and backward through the plan), `train`
//! (the training step), `infer` (encode, decode, sample, bounds).

use crate::mem;
use crate::optim::{OptConfig, OptKind};
use crate::plan::{Init, Plan};
use crate::rng::Pcg32;
use crate::workspace::{Buf, MAX_BUFS};

/// Status codes returned across the boundary (TypeScript maps them to messages).
pub mod status {
    pub const OK: i32 = 0;
    pub const BAD_CONFIG: i32 = 1;
    pub const OUT_OF_MEMORY: i32 = 2;
    pub const NON_FINITE: i32 = 3;
    pub const BAD_ARGUMENT: i32 = 4;
    pub const NO_OPTIMIZER: i32 = 5;
    /// A worker thread failed during the call; nothing was updated.
    pub const WORKER_FAILED: i32 = 6;
}

/// The workspace: one allocation holding every buffer of the plan for `rows` encoder and `drows` decoder rows.
#[derive(Clone, Copy)]
pub struct Workspace {
    pub base: *mut f32,
    pub rows: usize,
    pub drows: usize,
    pub ptr: [*mut f32; MAX_BUFS],
}

pub struct Model {
    pub plan: Plan,
    /// The parameters (in `block`, or in `spare` after an odd number of out-of-place steps) and the gradients.
    pub params: *mut f32,
    pub grads: *mut f32,
    pub opt: Option<OptConfig>,
    /// Optimizer state: `opt.kind.slots()` buffers of n_params each (`state_block`, or in `spare`).
    opt_state: *mut f32,
    opt_state_kind: Option<OptKind>,
    /// The allocations: params then grads; the optimizer state; and, once a step ran its update out of place
    /// (split across threads, or not proved unable to overflow), a spare copy of params and state that the update
    /// writes and that is swapped in only when the step succeeded (see `train_step`).
    block: *mut f32,
    state_block: *mut f32,
    spare: *mut f32,
    /// The largest magnitude in the parameters and optimizer state, as the last in-place update wrote them (or as
    /// measured by the step that found None), from which a step proves that its update cannot overflow and so may
    /// run in place (see `train_step`). None whenever they may have changed otherwise: anything that writes the
    /// parameters or the state, or hands out a pointer through which JavaScript could, must call
    /// `forget_max_state`.
    pub max_state: Option<f32>,
    /// Optimizer steps taken with the current optimizer state.
    pub step: u64,
    /// Training stream: shuffling, ε, binarisation.
    pub rng: Pcg32,
    /// Evaluation stream: `sample`, `elbo` and validation draws when no seed is given.
    pub aux: Pcg32,
    /// Threads this model's calls may use (see `crate::par`); 1 by default.
    pub threads: usize,
    pub ws: Workspace,
    /// A conditional model's condition rows, indexed like the data rows of each call (set by the caller).
    pub condition: Option<crate::data::Source>,
}

impl Model {
    pub fn new(plan: Plan) -> Result<Model, i32> {
        let n = plan.n_params;
        let params = mem::alloc_f32(2 * n);
        if params.is_null() {
            return Err(status::OUT_OF_MEMORY);
        }
        let grads = unsafe { params.add(n) };
        let seed = plan.seed as u64;
        let mut m = Model {
            plan,
            params,
            grads,
            opt: None,
            opt_state: core::ptr::null_mut(),
            opt_state_kind: None,
            block: params,
            state_block: core::ptr::null_mut(),
            spare: core::ptr::null_mut(),
            max_state: None,
            step: 0,
            rng: Pcg32::new(seed, 1),
            aux: Pcg32::new(seed, 2),
            threads: 1,
            ws: Workspace { base: core::ptr::null_mut(), rows: 0, drows: 0, ptr: [core::ptr::null_mut(); MAX_BUFS] },
            condition: None,
        };
        unsafe {
            core::ptr::write_bytes(m.params, 0, 2 * n);
            m.initialize(Pcg32::new(seed, 0));
        }
        Ok(m)
    }

    /// Draws every weight and bias, layer by layer in storage order (each weight's values in storage order, then
    /// its bias's), from `rng`. The learned log-variance starts at 0.
    unsafe fn initialize(&mut self, mut rng: Pcg32) {
        let (init, std, params) = (self.plan.init, self.plan.init_std, self.params);
        self.plan.parametric(|p| {
            let (w, b) = (params.add(p.w), params.add(p.b));
            let (nw, nb) = (p.weights(), p.bias);
            match init {
                Init::LecunUniform => {
                    let bound = 1.0 / crate::simd::sqrt_f32(p.fan_in as f32);
                    for i in 0..nw {
                        *w.add(i) = (2.0 * rng.uniform() - 1.0) * bound;
                    }
                    for i in 0..nb {
                        *b.add(i) = (2.0 * rng.uniform() - 1.0) * bound;
                    }
                }
                Init::GlorotUniform => {
                    let bound = crate::simd::sqrt_f32(6.0 / (p.fan_in + p.fan_out) as f32);
                    for i in 0..nw {
                        *w.add(i) = (2.0 * rng.uniform() - 1.0) * bound;
                    }
                }
                Init::Normal => {
                    for i in 0..nw {
                        *w.add(i) = rng.normal() * std;
                    }
                    for i in 0..nb {
                        *b.add(i) = rng.normal() * std;
                    }
                }
            }
        });
    }

    pub fn n_params(&self) -> usize {
        self.plan.n_params
    }

    /// Frees everything the model owns (not the model struct itself).
    pub fn release(&mut self) {
        mem::free(self.block as *mut u8);
        self.block = core::ptr::null_mut();
        self.params = core::ptr::null_mut();
        self.grads = core::ptr::null_mut();
        self.drop_spare();
        if !self.state_block.is_null() {
            mem::free(self.state_block as *mut u8);
            self.state_block = core::ptr::null_mut();
            self.opt_state = core::ptr::null_mut();
        }
        if !self.ws.base.is_null() {
            mem::free(self.ws.base as *mut u8);
            self.ws.base = core::ptr::null_mut();
            self.ws.rows = 0;
            self.ws.drows = 0;
        }
    }

    /// Makes the workspace hold `rows` encoder rows and `drows` decoder rows. Allocates only when it grows.
    pub fn reserve(&mut self, rows: usize, drows: usize) -> Result<(), i32> {
        if rows <= self.ws.rows && drows <= self.ws.drows && !self.ws.base.is_null() {
            return Ok(());
        }
        let rows = rows.max(self.ws.rows);
        let drows = drows.max(self.ws.drows);
        let n = self.plan.buf_list.floats(rows, drows).ok_or(status::OUT_OF_MEMORY)?;
        let p = mem::alloc_f32(n);
        if p.is_null() {
            return Err(status::OUT_OF_MEMORY);
        }
        if !self.ws.base.is_null() {
            mem::free(self.ws.base as *mut u8);
        }
        self.ws.base = p;
        self.ws.rows = rows;
        self.ws.drows = drows;
        self.plan.buf_list.slices(p, rows, drows, &mut self.ws.ptr);
        Ok(())
    }

    /// The address of buffer `b` in the workspace.
    #[inline]
    pub fn buf(&self, b: Buf) -> *mut f32 {
        self.ws.ptr[b]
    }

    // ---- optimizer state -------------------------------------------------------------------------------------

    /// Installs optimizer settings; state is (re)allocated and zeroed when the kind changes.
    pub fn set_optimizer(&mut self, cfg: OptConfig) -> Result<(), i32> {
        if !cfg.coefficients_finite() {
            return Err(status::BAD_ARGUMENT);
        }
        if self.opt_state_kind != Some(cfg.kind) {
            self.ensure_opt_state(cfg.kind)?;
            self.step = 0;
        }
        self.opt = Some(cfg);
        Ok(())
    }

    /// Optimizer state buffers (`slots` × n_params floats), if any.
    pub fn opt_state(&self) -> (*mut f32, usize) {
        match self.opt_state_kind {
            Some(k) => (self.opt_state, k.slots()),
            None => (core::ptr::null_mut(), 0),
        }
    }

    /// Makes the optimizer state exist for `kind` (zeroed when newly allocated) without choosing hyperparameters;
    /// a later `set_optimizer` of the same kind keeps it. For restoring checkpoints.
    pub fn ensure_opt_state(&mut self, kind: OptKind) -> Result<(), i32> {
        if self.opt_state_kind == Some(kind) {
            return Ok(());
        }
        let n = self.n_params().checked_mul(kind.slots()).ok_or(status::OUT_OF_MEMORY)?;
        let p = mem::alloc_f32(n);
        if p.is_null() {
            return Err(status::OUT_OF_MEMORY);
        }
        self.drop_spare();
        self.forget_max_state();
        if !self.state_block.is_null() {
            mem::free(self.state_block as *mut u8);
        }
        unsafe { core::ptr::write_bytes(p, 0, n) };
        self.state_block = p;
        self.opt_state = p;
        self.opt_state_kind = Some(kind);
        self.opt = None;
        Ok(())
    }

    /// The code of the optimizer kind whose state is held (as `OptKind::from_u32`), else u32::MAX.
    pub fn opt_kind_code(&self) -> u32 {
        match self.opt_state_kind {
            Some(OptKind::Sgd) => 0,
            Some(OptKind::Adam) => 1,
            Some(OptKind::Adagrad) => 2,
            None => u32::MAX,
        }
    }

    /// Clears optimizer state (moments, step count).
    pub fn reset_optimizer(&mut self) {
        self.forget_max_state();
        if let Some(kind) = self.opt_state_kind {
            unsafe { core::ptr::write_bytes(self.opt_state, 0, self.n_params() * kind.slots()) };
        }
        self.step = 0;
    }

    /// Says that the parameters or the optimizer state may have been written other than by an update.
    pub fn forget_max_state(&mut self) {
        self.max_state = None;
    }

    // ---- out-of-place optimizer steps --------------------------------------------------------------------------

    /// Where an out-of-place update writes: the parameter and state buffers not in use now (the spare pair,
    /// allocated on first use, or the original ones once the spare is in use). None if memory runs out.
    pub fn standby(&mut self) -> Option<(*mut f32, *mut f32)> {
        let n = self.n_params();
        let slots = self.opt_state().1;
        if self.params != self.block {
            return Some((self.block, self.state_block));
        }
        if self.spare.is_null() {
            self.spare = mem::alloc_f32(n.checked_mul(1 + slots)?);
            if self.spare.is_null() {
                return None;
            }
        }
        Some((self.spare, unsafe { self.spare.add(n) }))
    }

    /// Makes the standby buffers (just written by a successful update) the model's parameters and state.
    pub fn swap_in_standby(&mut self) {
        let (p, s) = self.standby().unwrap_or((self.params, self.opt_state));
        self.params = p;
        self.opt_state = s;
    }

    /// Frees the spare pair, first moving the parameters and state back to the original buffers if they live in it.
    fn drop_spare(&mut self) {
        if self.spare.is_null() {
            return;
        }
        if self.params != self.block && !self.block.is_null() {
            let n = self.n_params();
            unsafe {
                core::ptr::copy_nonoverlapping(self.params, self.block, n);
                core::ptr::copy_nonoverlapping(self.opt_state, self.state_block, n * self.opt_state().1);
            }
            self.params = self.block;
            self.opt_state = self.state_block;
        }
        mem::free(self.spare as *mut u8);
        self.spare = core::ptr::null_mut();
    }
}
