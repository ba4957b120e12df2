//! Per-step buffers, described once as a list and used both to size the workspace and to hand out its slices, so
//! the two cannot drift. A buffer holds max(enc·rows, dec·drows) + fixed floats, where `rows` are the encoder's
//! rows (data rows) and `drows` the decoder's (data rows × draws of ε).

pub const MAX_BUFS: usize = 96;

/// A buffer's size rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufSpec {
    /// Floats per encoder row.
    pub enc: usize,
    /// Floats per decoder row.
    pub dec: usize,
    /// Floats independent of the rows.
    pub fixed: usize,
}

/// Index of a buffer in its list.
pub type Buf = usize;

#[derive(Clone, Copy)]
pub struct BufList {
    specs: [BufSpec; MAX_BUFS],
    n: usize,
}

fn align4(x: usize) -> Option<usize> {
    x.checked_add(3).map(|v| v & !3)
}

impl BufList {
    pub const fn new() -> BufList {
        BufList { specs: [BufSpec { enc: 0, dec: 0, fixed: 0 }; MAX_BUFS], n: 0 }
    }

    /// Adds a buffer; None when the list is full.
    pub fn add(&mut self, spec: BufSpec) -> Option<Buf> {
        if self.n == MAX_BUFS {
            return None;
        }
        self.specs[self.n] = spec;
        self.n += 1;
        Some(self.n - 1)
    }

    /// Grows buffer `b` so it also holds `spec`.
    pub fn widen(&mut self, b: Buf, spec: BufSpec) {
        let s = &mut self.specs[b];
        s.enc = s.enc.max(spec.enc);
        s.dec = s.dec.max(spec.dec);
        s.fixed = s.fixed.max(spec.fixed);
    }

    pub fn len(&self) -> usize {
        self.n
    }

    /// Calls `f(buffer, offset)` for every buffer, each starting on a 16-byte boundary; returns the total floats,
    /// or None on overflow.
    fn walk(&self, rows: usize, drows: usize, mut f: impl FnMut(Buf, usize)) -> Option<usize> {
        let mut at = 0usize;
        for (i, s) in self.specs[..self.n].iter().enumerate() {
            f(i, at);
            let floats = s.enc.checked_mul(rows)?.max(s.dec.checked_mul(drows)?).checked_add(s.fixed)?;
            at = at.checked_add(align4(floats)?)?;
        }
        Some(at)
    }

    /// Floats the whole workspace needs.
    pub fn floats(&self, rows: usize, drows: usize) -> Option<usize> {
        self.walk(rows, drows, |_, _| {})
    }

    /// Every buffer's address in a workspace at `base` sized by `floats(rows, drows)`.
    pub fn slices(&self, base: *mut f32, rows: usize, drows: usize, out: &mut [*mut f32; MAX_BUFS]) {
        self.walk(rows, drows, |i, at| out[i] = unsafe { base.add(at) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_disjoint_aligned_and_within_the_total() {
        let mut l = BufList::new();
        let specs = [BufSpec { enc: 3, dec: 0, fixed: 0 }, BufSpec { enc: 0, dec: 5, fixed: 1 }, BufSpec { enc: 2, dec: 1, fixed: 7 }];
        for s in specs {
            l.add(s).unwrap();
        }
        let (rows, drows) = (5, 15);
        let total = l.floats(rows, drows).unwrap();
        let mut out = [core::ptr::null_mut(); MAX_BUFS];
        l.slices(16 as *mut f32, rows, drows, &mut out);
        let mut end = 0usize;
        for (i, s) in specs.iter().enumerate() {
            let at = (out[i] as usize - 16) / 4;
            assert!(at >= end && at % 4 == 0);
            end = at + (s.enc * rows).max(s.dec * drows) + s.fixed;
        }
        assert!(end <= total && total - end < 4);
        assert_eq!(l.floats(usize::MAX / 2, 1), None);
    }
}
