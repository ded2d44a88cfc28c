//! `sched_setscheduler(2)` / `sched_getscheduler(2)` / `sched_getparam(2)` for the calling
//! thread (`pid` 0 is the caller's thread id on Linux, not the process).
//!
//! Raw system calls rather than the C library's wrappers: musl's `sched_setscheduler` is a
//! stub that always fails with ENOSYS (POSIX says the call is process-wide); glibc and bionic
//! pass it through.

use std::os::raw::{c_int, c_long};

use nix::errno::Errno;

/// `SCHED_OTHER` (`SCHED_NORMAL` in the kernel), `include/uapi/linux/sched.h`.
pub(crate) const SCHED_OTHER: c_int = 0;
/// `SCHED_FIFO`.
pub(crate) const SCHED_FIFO: c_int = 1;
/// `SCHED_RESET_ON_FORK`: children (threads included) start as `SCHED_OTHER`.
pub(crate) const SCHED_RESET_ON_FORK: c_int = 0x4000_0000;

/// `struct sched_param`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct SchedParam {
    sched_priority: c_int,
}
const _: () = assert!(std::mem::size_of::<SchedParam>() == 4);

/// Sets the calling thread's policy (with any flag bits) and static priority.
pub(crate) fn set_scheduler(policy: c_int, priority: c_int) -> nix::Result<()> {
    let param = SchedParam { sched_priority: priority };
    let no_pid: c_long = 0;
    // SAFETY: sched_setscheduler takes (pid_t, int, const struct sched_param *); `param` is a
    // repr(C) copy of that struct that outlives the call, and the kernel only reads it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_setscheduler,
            no_pid,
            c_long::from(policy),
            std::ptr::from_ref(&param),
        )
    };
    Errno::result(rc).map(drop)
}

/// The calling thread's policy, flag bits included.
pub(crate) fn get_scheduler() -> nix::Result<c_int> {
    let no_pid: c_long = 0;
    // SAFETY: sched_getscheduler takes one pid_t and touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_sched_getscheduler, no_pid) };
    let policy = Errno::result(rc)?;
    c_int::try_from(policy).map_err(|_| Errno::EOVERFLOW)
}

/// The calling thread's static priority.
pub(crate) fn get_priority() -> nix::Result<c_int> {
    let mut param = SchedParam::default();
    let no_pid: c_long = 0;
    // SAFETY: sched_getparam writes one struct sched_param through the pointer, which points
    // at a repr(C) value of that type owned by this frame.
    let rc =
        unsafe { libc::syscall(libc::SYS_sched_getparam, no_pid, std::ptr::from_mut(&mut param)) };
    Errno::result(rc)?;
    Ok(param.sched_priority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_libc() {
        assert_eq!(SCHED_OTHER, libc::SCHED_OTHER);
        assert_eq!(SCHED_FIFO, libc::SCHED_FIFO);
        assert_eq!(SCHED_RESET_ON_FORK, libc::SCHED_RESET_ON_FORK);
    }

    #[test]
    fn an_unprivileged_thread_may_stay_sched_other() {
        std::thread::spawn(|| {
            set_scheduler(SCHED_OTHER | SCHED_RESET_ON_FORK, 0).unwrap();
            assert_eq!(get_scheduler().unwrap() & !SCHED_RESET_ON_FORK, SCHED_OTHER);
            assert_eq!(get_priority().unwrap(), 0);
        })
        .join()
        .unwrap();
    }
}
