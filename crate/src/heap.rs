//! A small first-fit allocator over linear memory, for the few large, long-lived buffers the library needs (model
//! parameters, workspaces, datasets, I/O staging). Blocks are laid end to end, each behind a 16-byte header;
//! neighbouring free blocks merge when an allocation walks past them. It counts live allocations so tests can
//! assert that nothing leaks.

const HEADER: usize = 16;
const ALIGN: usize = 16;
const USED: u32 = 0xA11C_0001;
const FREE: u32 = 0xF4EE_0002;
const MAGIC: u32 = 0x5641_4521;

#[derive(Debug)]
pub struct Heap {
    base: usize,
    top: usize,
    limit: usize,
    live: u32,
}

#[repr(C)]
struct Header {
    size: u32,
    state: u32,
    magic: u32,
    _pad: u32,
}

#[inline]
fn round_up(x: usize, a: usize) -> Option<usize> {
    x.checked_add(a - 1).map(|v| v & !(a - 1))
}

impl Heap {
    /// A heap managing [base, limit); `base` is rounded up to 16 bytes.
    pub const fn new(base: usize, limit: usize) -> Heap {
        let base = (base + ALIGN - 1) & !(ALIGN - 1);
        Heap { base, top: base, limit, live: 0 }
    }

    pub fn live_allocations(&self) -> u32 {
        self.live
    }

    /// Bytes between the heap's base and the end of its last block.
    pub fn used_bytes(&self) -> usize {
        self.top - self.base
    }

    unsafe fn header(at: usize) -> *mut Header {
        at as *mut Header
    }

    /// Makes sure memory reaches `end`; on wasm32 grows the linear memory.
    unsafe fn ensure(&mut self, end: usize) -> bool {
        if end <= self.limit {
            return true;
        }
        #[cfg(target_arch = "wasm32")]
        {
            let pages = (end - self.limit + 65535) / 65536;
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return false;
            }
            self.limit = core::arch::wasm32::memory_size(0) * 65536;
            end <= self.limit
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            false
        }
    }

    /// Returns a 16-byte-aligned pointer to `bytes` bytes, or null if memory cannot grow (or the size overflows the
    /// 32-bit block size).
    pub unsafe fn alloc(&mut self, bytes: usize) -> *mut u8 {
        let need = match round_up(bytes.max(1), ALIGN).and_then(|b| b.checked_add(HEADER)) {
            Some(n) if n <= u32::MAX as usize => n,
            _ => return core::ptr::null_mut(),
        };
        let mut at = self.base;
        let mut last_free: Option<usize> = None;
        while at < self.top {
            let h = Self::header(at);
            if (*h).state == FREE {
                // Merge the free blocks that follow.
                let mut next = at + (*h).size as usize;
                while next < self.top && (*Self::header(next)).state == FREE {
                    let merged = (*h).size as usize + (*Self::header(next)).size as usize;
                    if merged > u32::MAX as usize {
                        break;
                    }
                    (*h).size = merged as u32;
                    next = at + merged;
                }
                let size = (*h).size as usize;
                if size >= need {
                    if size - need >= HEADER + ALIGN {
                        let rest = Self::header(at + need);
                        (*rest).size = (size - need) as u32;
                        (*rest).state = FREE;
                        (*rest).magic = MAGIC;
                        (*h).size = need as u32;
                    }
                    (*h).state = USED;
                    self.live += 1;
                    return (at + HEADER) as *mut u8;
                }
                last_free = if next >= self.top { Some(at) } else { None };
                at = next;
            } else {
                last_free = None;
                at += (*h).size as usize;
            }
        }
        // No fit: extend a trailing free block, or append a new one.
        let start = last_free.unwrap_or(self.top);
        let end = match start.checked_add(need) {
            Some(e) => e,
            None => return core::ptr::null_mut(),
        };
        if !self.ensure(end) {
            return core::ptr::null_mut();
        }
        let h = Self::header(start);
        (*h).size = need as u32;
        (*h).state = USED;
        (*h).magic = MAGIC;
        self.top = end;
        self.live += 1;
        (start + HEADER) as *mut u8
    }

    /// Frees a pointer returned by `alloc`. Returns false (and changes nothing) for null, foreign or already-freed
    /// pointers.
    pub unsafe fn free(&mut self, p: *mut u8) -> bool {
        let at = (p as usize).wrapping_sub(HEADER);
        if p.is_null() || at < self.base || at >= self.top || at % ALIGN != 0 {
            return false;
        }
        let h = Self::header(at);
        if (*h).magic != MAGIC || (*h).state != USED {
            return false;
        }
        (*h).state = FREE;
        self.live -= 1;
        // Give back a trailing run of free blocks so the heap top shrinks (memory itself never shrinks in wasm).
        self.trim();
        true
    }

    unsafe fn trim(&mut self) {
        // Find the start of the trailing free run.
        let mut at = self.base;
        let mut run: Option<usize> = None;
        while at < self.top {
            let h = Self::header(at);
            if (*h).state == FREE {
                if run.is_none() {
                    run = Some(at);
                }
            } else {
                run = None;
            }
            at += (*h).size as usize;
        }
        if let Some(r) = run {
            self.top = r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_heap(cap: usize, f: impl FnOnce(&mut Heap, usize)) {
        let mut buf = vec![0u8; cap + 64];
        let base = buf.as_mut_ptr() as usize;
        let mut heap = Heap::new(base, base + cap);
        f(&mut heap, base);
        drop(buf);
    }

    #[test]
    fn alloc_free_reuse_and_live_count() {
        with_heap(1 << 16, |h, _| unsafe {
            let a = h.alloc(100);
            let b = h.alloc(1000);
            let c = h.alloc(10);
            assert!(!a.is_null() && !b.is_null() && !c.is_null());
            assert_eq!(a as usize % 16, 0);
            assert_eq!(h.live_allocations(), 3);
            // Writes do not overlap.
            core::ptr::write_bytes(a, 1, 100);
            core::ptr::write_bytes(b, 2, 1000);
            core::ptr::write_bytes(c, 3, 10);
            assert_eq!(*a.add(99), 1);
            assert_eq!(*b, 2);
            assert!(h.free(b));
            assert!(!h.free(b), "double free is refused");
            assert!(!h.free(a.add(1)), "interior pointer is refused");
            let d = h.alloc(500);
            assert_eq!(d, b, "first fit reuses the hole");
            assert_eq!(h.live_allocations(), 3);
            assert!(h.free(a) && h.free(c) && h.free(d));
            assert_eq!(h.live_allocations(), 0);
            assert_eq!(h.used_bytes(), 0, "trailing free blocks are trimmed");
        });
    }

    #[test]
    fn merges_neighbours_and_fails_cleanly_when_full() {
        with_heap(4096, |h, _| unsafe {
            let a = h.alloc(1000);
            let b = h.alloc(1000);
            let keep = h.alloc(16);
            assert!(h.free(a) && h.free(b));
            let big = h.alloc(2000);
            assert_eq!(big, a, "two merged holes hold a larger block");
            assert!(h.alloc(1 << 20).is_null());
            assert!(h.alloc(usize::MAX - 8).is_null());
            assert!(h.free(big) && h.free(keep));
        });
    }

    #[test]
    fn churn_stays_flat() {
        with_heap(1 << 20, |h, _| unsafe {
            let keep = h.alloc(5000);
            let mut high = 0;
            for i in 0..10_000usize {
                let p = h.alloc(100 + (i * 37) % 3000);
                let q = h.alloc(64);
                assert!(!p.is_null() && !q.is_null());
                assert!(h.free(p) && h.free(q));
                high = high.max(h.used_bytes());
            }
            assert!(high < 5000 + 3200 + 200);
            assert_eq!(h.live_allocations(), 1);
            assert!(h.free(keep));
        });
    }
}
