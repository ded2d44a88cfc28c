//! The calling thread's scheduling class, for the allocator's Binder threads.
//!
//! The service runs its Binder threads `SCHED_FIFO` at priority 2, as minigbm's allocator and
//! SurfaceFlinger's main thread do, and drops a thread to `SCHED_OTHER` while it sits in a
//! slow contiguous-heap ioctl (page zeroing on the CPU), so the slow call cannot starve
//! small requests. Every change carries `SCHED_RESET_ON_FORK`: a thread spawned from a
//! real-time thread starts as `SCHED_OTHER` and does not inherit the class by accident.
//! Raising to `SCHED_FIFO` needs `CAP_SYS_NICE` (or `RLIMIT_RTPRIO`); lowering never does.

use std::fmt;

use nix::errno::Errno;

use crate::sys::sched as sys;

/// A scheduling class of one thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// `SCHED_OTHER` (CFS, nice 0 unless changed elsewhere).
    Other,
    /// `SCHED_FIFO` at this static priority (1..=99).
    Fifo(u8),
    /// Any other kernel policy (`SCHED_BATCH`, `SCHED_RR`, ...), by number.
    Unknown(i32),
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Other => f.write_str("SCHED_OTHER"),
            Policy::Fifo(priority) => write!(f, "SCHED_FIFO {priority}"),
            Policy::Unknown(policy) => write!(f, "policy {policy}"),
        }
    }
}

/// Puts the calling thread in `policy` (with `SCHED_RESET_ON_FORK`).
///
/// # Errors
/// `EPERM` raising to `SCHED_FIFO` without `CAP_SYS_NICE`, `EINVAL` for a priority out of
/// 1..=99 or for [`Policy::Unknown`].
pub fn set_current_thread(policy: Policy) -> Result<(), Errno> {
    let (class, priority) = match policy {
        Policy::Other => (sys::SCHED_OTHER, 0),
        Policy::Fifo(priority) if (1..=99).contains(&priority) => {
            (sys::SCHED_FIFO, i32::from(priority))
        }
        Policy::Fifo(_) | Policy::Unknown(_) => return Err(Errno::EINVAL),
    };
    sys::set_scheduler(class | sys::SCHED_RESET_ON_FORK, priority)
}

/// The calling thread's class.
///
/// # Errors
/// Only what `sched_getscheduler(2)` reports (nothing on a live thread).
pub fn current_thread() -> Result<Policy, Errno> {
    let class = sys::get_scheduler()? & !sys::SCHED_RESET_ON_FORK;
    Ok(match class {
        sys::SCHED_OTHER => Policy::Other,
        sys::SCHED_FIFO => {
            let priority = sys::get_priority()?;
            Policy::Fifo(u8::try_from(priority).unwrap_or(u8::MAX))
        }
        other => Policy::Unknown(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_priorities_are_refused_before_the_kernel() {
        assert_eq!(set_current_thread(Policy::Fifo(0)), Err(Errno::EINVAL));
        assert_eq!(set_current_thread(Policy::Fifo(100)), Err(Errno::EINVAL));
        assert_eq!(set_current_thread(Policy::Unknown(3)), Err(Errno::EINVAL));
    }

    #[test]
    fn a_thread_reads_back_the_class_it_was_given() {
        std::thread::spawn(|| {
            set_current_thread(Policy::Other).unwrap();
            assert_eq!(current_thread().unwrap(), Policy::Other);
            // Raising needs CAP_SYS_NICE: either it works and reads back, or it is EPERM.
            match set_current_thread(Policy::Fifo(2)) {
                Ok(()) => assert_eq!(current_thread().unwrap(), Policy::Fifo(2)),
                Err(errno) => assert_eq!(errno, Errno::EPERM),
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn policies_print_like_chrt() {
        assert_eq!(Policy::Fifo(2).to_string(), "SCHED_FIFO 2");
        assert_eq!(Policy::Other.to_string(), "SCHED_OTHER");
    }
}
