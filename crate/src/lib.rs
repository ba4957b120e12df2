//! vae-core: the numeric core of vae-wasm. A model is a plan of layers (dense, conv2d, conv2dTranspose, views)
//! compiled from a descriptor, on a packed SIMD GEMM; the reparameterised ELBO and its gradients, optimizers, a
//! seeded RNG, and a small allocator — no dependencies, `no_std` on wasm32.
//!
//! Modules know nothing of wasm except `simd` (the lane type), `mem` (where memory comes from) and `ffi` (the
//! exports).
#![cfg_attr(target_arch = "wasm32", no_std)]

pub mod act;
pub mod data;
pub mod ffi;
pub mod gemm;
pub mod heap;
pub mod infer;
pub mod latent;
pub mod likelihood;
pub mod math;
pub mod mem;
pub mod model;
pub mod net;
pub mod ops;
pub mod optim;
pub mod par;
pub mod plan;
pub mod rng;
pub mod simd;
pub mod train;
pub mod workspace;

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
