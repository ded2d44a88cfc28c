//! Scheduling of the Binder threads, as minigbm's allocator does it: `SCHED_FIFO` priority 2
//! (SurfaceFlinger's main thread runs at the same class), so a small request gets a CPU ahead
//! of every ordinary task, and `SCHED_OTHER` while a thread sits in a slow contiguous-heap
//! ioctl ([`SlowSection`]), so a page-zeroing call cannot starve the small ones.
//!
//! Each Binder thread asks for the class on its first call ([`on_binder_call`]): the pool is
//! spawned by rsbinder on the kernel's request (`BR_SPAWN_LOOPER`), so there is no hook at
//! thread start, and threads are created with `SCHED_RESET_ON_FORK` semantics anyway. Without
//! `CAP_SYS_NICE` (the rc file grants it) the change fails: that is logged once per process
//! and the thread stays `SCHED_OTHER`; nothing else changes. [`disable`] turns all of it off
//! (`gralloc-allocator --latency-isolation off`, for before/after measurements).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use heaps::sched::{self, Policy};

/// The class of a Binder thread: minigbm's and SurfaceFlinger's.
pub const BINDER_POLICY: Policy = Policy::Fifo(2);

static DISABLED: AtomicBool = AtomicBool::new(false);
static REFUSED: Once = Once::new();

/// What this thread has been given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ThreadClass {
    /// Not asked yet.
    Unset,
    /// Runs at [`BINDER_POLICY`].
    RealTime,
    /// The kernel refused (or isolation is off): ordinary scheduling.
    Ordinary,
}

thread_local! {
    static CLASS: Cell<ThreadClass> = const { Cell::new(ThreadClass::Unset) };
}

/// Turns real-time scheduling off for threads that have not asked yet (call before serving).
pub fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// Whether Binder threads ask for [`BINDER_POLICY`].
pub fn enabled() -> bool {
    !DISABLED.load(Ordering::Relaxed)
}

/// Puts the calling Binder thread in [`BINDER_POLICY`] the first time it serves a call.
pub fn on_binder_call() {
    if CLASS.get() != ThreadClass::Unset {
        return;
    }
    if !enabled() {
        CLASS.set(ThreadClass::Ordinary);
        return;
    }
    match sched::set_current_thread(BINDER_POLICY) {
        Ok(()) => {
            log::debug!("binder thread now {BINDER_POLICY}");
            CLASS.set(ThreadClass::RealTime);
        }
        Err(errno) => {
            REFUSED.call_once(|| {
                log::warn!(
                    "binder threads stay SCHED_OTHER: {BINDER_POLICY} refused ({errno}); \
                     the service needs CAP_SYS_NICE"
                );
            });
            CLASS.set(ThreadClass::Ordinary);
        }
    }
}

/// Whether the calling thread runs at [`BINDER_POLICY`] (as far as this module set it).
pub fn is_real_time() -> bool {
    CLASS.get() == ThreadClass::RealTime
}

/// While alive, the calling thread runs `SCHED_OTHER`; a real-time thread gets its class
/// back on drop. A no-op on a thread that is not real-time.
#[derive(Debug)]
#[must_use = "the thread gets its class back when this is dropped"]
pub struct SlowSection {
    restore: bool,
}

impl SlowSection {
    /// Lowers the calling thread for a slow heap call.
    pub fn enter() -> Self {
        if !is_real_time() {
            return Self { restore: false };
        }
        // Lowering never needs a privilege; a failure leaves the thread as it was.
        match sched::set_current_thread(Policy::Other) {
            Ok(()) => Self { restore: true },
            Err(errno) => {
                log::debug!("cannot lower a binder thread for a slow call: {errno}");
                Self { restore: false }
            }
        }
    }
}

impl Drop for SlowSection {
    fn drop(&mut self) {
        if !self.restore {
            return;
        }
        if let Err(errno) = sched::set_current_thread(BINDER_POLICY) {
            log::warn!("binder thread stays SCHED_OTHER after a slow call: {errno}");
            CLASS.set(ThreadClass::Ordinary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_asks_once_and_a_slow_section_restores_its_class() {
        std::thread::spawn(|| {
            on_binder_call();
            let first = sched::current_thread().unwrap();
            // Either the process may raise (root, CAP_SYS_NICE) or it stays ordinary.
            assert_eq!(first == BINDER_POLICY, is_real_time());
            {
                let _slow = SlowSection::enter();
                assert_eq!(sched::current_thread().unwrap(), Policy::Other);
            }
            on_binder_call();
            assert_eq!(sched::current_thread().unwrap(), first);
        })
        .join()
        .unwrap();
    }
}
