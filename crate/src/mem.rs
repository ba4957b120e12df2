//! Where the core's buffers come from: on wasm32 a [`Heap`] over linear memory above `__heap_base`; on the host
//! (tests) the system allocator, with the same 16-byte alignment and live-allocation count.

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::heap::Heap;

    extern "C" {
        static __heap_base: u8;
    }

    // Only the thread that owns the instance allocates; the heap is never touched concurrently.
    static mut HEAP: Option<Heap> = None;

    unsafe fn heap() -> &'static mut Heap {
        if HEAP.is_none() {
            let base = &__heap_base as *const u8 as usize;
            let limit = core::arch::wasm32::memory_size(0) * 65536;
            HEAP = Some(Heap::new(base, limit));
        }
        HEAP.as_mut().unwrap_unchecked()
    }

    pub fn alloc(bytes: usize) -> *mut u8 {
        unsafe { heap().alloc(bytes) }
    }

    pub fn free(p: *mut u8) -> bool {
        unsafe { heap().free(p) }
    }

    pub fn live_allocations() -> u32 {
        unsafe { heap().live_allocations() }
    }

    pub fn heap_used_bytes() -> usize {
        unsafe { heap().used_bytes() }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    extern crate std;
    use core::sync::atomic::{AtomicU32, Ordering};
    use std::alloc::{alloc as sys_alloc, dealloc, Layout};

    static LIVE: AtomicU32 = AtomicU32::new(0);

    pub fn alloc(bytes: usize) -> *mut u8 {
        let total = match bytes.checked_add(16) {
            Some(t) => t,
            None => return core::ptr::null_mut(),
        };
        let layout = match Layout::from_size_align(total, 16) {
            Ok(l) => l,
            Err(_) => return core::ptr::null_mut(),
        };
        unsafe {
            let p = sys_alloc(layout);
            if p.is_null() {
                return p;
            }
            (p as *mut usize).write(total);
            LIVE.fetch_add(1, Ordering::Relaxed);
            p.add(16)
        }
    }

    pub fn free(p: *mut u8) -> bool {
        if p.is_null() {
            return false;
        }
        unsafe {
            let base = p.sub(16);
            let total = (base as *const usize).read();
            dealloc(base, Layout::from_size_align_unchecked(total, 16));
        }
        LIVE.fetch_sub(1, Ordering::Relaxed);
        true
    }

    pub fn live_allocations() -> u32 {
        LIVE.load(Ordering::Relaxed)
    }

    pub fn heap_used_bytes() -> usize {
        0
    }
}

pub use imp::{alloc, free, heap_used_bytes, live_allocations};

/// Allocates `n` f32s (uninitialised), or null.
pub fn alloc_f32(n: usize) -> *mut f32 {
    match n.checked_mul(4) {
        Some(b) => alloc(b) as *mut f32,
        None => core::ptr::null_mut(),
    }
}
