//! The kernel boundary: uapi structs, ioctl opcodes and safe wrappers.
//!
//! This is the only module of the workspace allowed to use `unsafe`. Each nix-generated
//! ioctl function (`unsafe fn(c_int, *mut T)`) is wrapped once in a safe `pub(crate) fn`
//! taking `BorrowedFd<'_>`; every uapi struct is `#[repr(C)]`, zeroed before use and has a
//! compile-time size assertion; a unit test per file pins each opcode to the value in the
//! kernel header (`include/uapi/linux/{dma-heap,dma-buf,udmabuf}.h`,
//! `drivers/staging/android/uapi/ion.h`).
#![allow(unsafe_code)]

pub(crate) mod dma_buf;
pub(crate) mod dma_heap;
pub(crate) mod ion;
pub(crate) mod mman;
pub(crate) mod sched;
pub(crate) mod udmabuf;

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// Takes ownership of a descriptor that the kernel has just installed in our table.
///
/// # Safety
///
/// `raw` must be a descriptor returned by the system call that created it, not yet owned by
/// any other object and not closed since.
unsafe fn adopt_fd(raw: RawFd) -> nix::Result<OwnedFd> {
    if raw < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: the caller guarantees `raw` is a fresh kernel-installed fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Like [`adopt_fd`] for the `u32` fd fields of uapi structs.
///
/// # Safety
///
/// Same contract as [`adopt_fd`].
unsafe fn adopt_u32_fd(raw: u32) -> nix::Result<OwnedFd> {
    let raw = RawFd::try_from(raw).map_err(|_| Errno::EBADF)?;
    // SAFETY: forwarded from the caller's contract.
    unsafe { adopt_fd(raw) }
}
