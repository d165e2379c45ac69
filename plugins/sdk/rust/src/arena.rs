//! The `call-arena` feature: a global allocator for plugins that keep nothing allocated during a
//! call once it returns (no caches filled lazily, no lazily created globals, no printing). While a
//! call runs, allocation is a pointer bump in one region and freeing is free; the next call starts
//! the region over. Outside calls (describe, configure, the host reading the answer) and when the
//! region is full, the system allocator serves. Measured in `make bench-wasm`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;

/// Bytes in the region (taken from the system allocator on the first call).
const REGION_BYTES: usize = 4 << 20;

struct Region {
    start: usize,
    end: usize,
    next: usize,
    active: bool,
}

/// A Wasm instance has one thread: no call interleaves with another.
struct Shared(UnsafeCell<Region>);
unsafe impl Sync for Shared {}

static REGION: Shared = Shared(UnsafeCell::new(Region { start: 0, end: 0, next: 0, active: false }));

fn region() -> *mut Region {
    REGION.0.get()
}

/// A call begins: everything the previous call allocated in the region is dead.
pub fn begin_call() {
    // SAFETY: one thread per instance; no reference to the region outlives these statements.
    unsafe {
        let r = region();
        (*r).next = (*r).start;
        (*r).active = true;
    }
}

/// The call's answer is built: what is allocated from here on (the host's copy of it) is the
/// system allocator's.
pub fn end_call() {
    // SAFETY: as above.
    unsafe { (*region()).active = false }
}

/// The allocator; installed by the `call-arena` feature.
pub struct CallArena;

fn in_region(ptr: *mut u8) -> bool {
    let p = ptr as usize;
    // SAFETY: a read of plain fields, one thread.
    unsafe { p >= (*region()).start && p < (*region()).end }
}

unsafe impl GlobalAlloc for CallArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: one thread; the region's bounds come from the system allocator.
        unsafe {
            let r = region();
            if (*r).active {
                if (*r).start == 0 {
                    let base = System.alloc(Layout::from_size_align_unchecked(REGION_BYTES, 16));
                    if !base.is_null() {
                        (*r).start = base as usize;
                        (*r).end = base as usize + REGION_BYTES;
                        (*r).next = base as usize;
                    }
                }
                let at = (*r).next.next_multiple_of(layout.align());
                if (*r).start != 0 && at + layout.size() <= (*r).end {
                    (*r).next = at + layout.size();
                    return at as *mut u8;
                }
            }
            System.alloc(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !in_region(ptr) {
            // SAFETY: it came from the system allocator with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !in_region(ptr) {
            // SAFETY: it came from the system allocator with this layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: one thread; `ptr` is a live block of `layout.size()` bytes in the region.
        unsafe {
            let r = region();
            let p = ptr as usize;
            if p + layout.size() == (*r).next && p + new_size <= (*r).end {
                (*r).next = p + new_size; // the last block grows (or shrinks) in place
                return ptr;
            }
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            }
            new
        }
    }
}

#[cfg(feature = "call-arena")]
#[global_allocator]
static GLOBAL: CallArena = CallArena;
