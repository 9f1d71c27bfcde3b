//! A heap-limited allocator for one runtime.
//!
//! QuickJS's own memory limit cannot tell us afterwards that it was hit: when the limit leaves
//! no room even for the `InternalError: out of memory` object, the script sees `null` thrown,
//! which is indistinguishable from `throw null`. Enforcing the limit here lets the engine record
//! that an allocation was refused during the current execution.

use std::cell::Cell;
use std::rc::Rc;

use rquickjs::allocator::{Allocator, RustAllocator};

/// Bookkeeping shared by the allocator and the engine (same thread).
pub(crate) struct Budget {
    limit: usize,
    used: Cell<usize>,
    refused: Cell<bool>,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Rc<Budget> {
        Rc::new(Budget { limit, used: Cell::new(0), refused: Cell::new(false) })
    }

    /// Bytes currently allocated by the runtime.
    pub(crate) fn used(&self) -> usize {
        self.used.get()
    }

    /// Whether an allocation was refused since the last [`Budget::reset_refused`].
    pub(crate) fn refused(&self) -> bool {
        self.refused.get()
    }

    pub(crate) fn reset_refused(&self) {
        self.refused.set(false);
    }

    fn admit(&self, extra: usize) -> bool {
        let fits = self.used.get().checked_add(extra).is_some_and(|total| total <= self.limit);
        if !fits {
            self.refused.set(true);
        }
        fits
    }
}

/// Rust's global allocator, refusing allocations beyond the budget's limit.
pub(crate) struct LimitedAllocator {
    pub(crate) budget: Rc<Budget>,
}

// SAFETY: every pointer handed out comes from `RustAllocator` and is returned to it unchanged;
// the wrapper only keeps counts and refuses (returns null) before allocating.
unsafe impl Allocator for LimitedAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.budget.admit(size) {
            return std::ptr::null_mut();
        }
        let ptr = RustAllocator.alloc(size);
        if !ptr.is_null() {
            // SAFETY: `ptr` was just allocated by `RustAllocator`.
            let usable = unsafe { RustAllocator::usable_size(ptr) };
            self.budget.used.set(self.budget.used.get() + usable);
        }
        ptr
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return std::ptr::null_mut();
        };
        if total == 0 || !self.budget.admit(total) {
            return std::ptr::null_mut();
        }
        let ptr = RustAllocator.calloc(count, size);
        if !ptr.is_null() {
            // SAFETY: `ptr` was just allocated by `RustAllocator`.
            let usable = unsafe { RustAllocator::usable_size(ptr) };
            self.budget.used.set(self.budget.used.get() + usable);
        }
        ptr
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        let usable = RustAllocator::usable_size(ptr);
        self.budget.used.set(self.budget.used.get().saturating_sub(usable));
        RustAllocator.dealloc(ptr);
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        let old = RustAllocator::usable_size(ptr);
        if new_size > old && !self.budget.admit(new_size - old) {
            return std::ptr::null_mut();
        }
        let new_ptr = RustAllocator.realloc(ptr, new_size);
        if !new_ptr.is_null() {
            let usable = RustAllocator::usable_size(new_ptr);
            self.budget.used.set(self.budget.used.get().saturating_sub(old) + usable);
        }
        new_ptr
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        RustAllocator::usable_size(ptr)
    }
}
