//! CPU-access brackets (DMA_BUF_IOCTL_SYNC) that keep caches coherent with devices.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use crate::sys;
use crate::sys::dma_buf::{
    DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_RW, DMA_BUF_SYNC_START, DMA_BUF_SYNC_WRITE,
};

/// Attempts of a SYNC interrupted by EINTR or EAGAIN (Arm's gralloc uses 5).
const SYNC_ATTEMPTS: u32 = 5;

/// Direction of a CPU access bracketed by [`sync`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncDirection {
    /// The CPU reads.
    Read,
    /// The CPU writes.
    Write,
    /// The CPU reads and writes.
    ReadWrite,
}

/// Which end of the CPU access [`sync`] marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPhase {
    /// Before the access.
    Start,
    /// After the access.
    End,
}

/// DMA_BUF_IOCTL_SYNC: bracket every CPU access with `Start` and `End` of the same direction.
/// Retries EINTR/EAGAIN (5 attempts in all).
///
/// # Errors
///
/// ENOTTY for a non-dma-buf (memfd); EINVAL for END before START on udmabuf; the last
/// EINTR/EAGAIN when retries run out.
pub fn sync(fd: BorrowedFd<'_>, direction: SyncDirection, phase: SyncPhase) -> Result<(), Errno> {
    let direction = match direction {
        SyncDirection::Read => DMA_BUF_SYNC_READ,
        SyncDirection::Write => DMA_BUF_SYNC_WRITE,
        SyncDirection::ReadWrite => DMA_BUF_SYNC_RW,
    };
    let phase = match phase {
        SyncPhase::Start => DMA_BUF_SYNC_START,
        SyncPhase::End => DMA_BUF_SYNC_END,
    };
    let mut attempt = 1;
    loop {
        match sys::dma_buf::sync(fd, direction | phase) {
            Err(Errno::EINTR | Errno::EAGAIN) if attempt < SYNC_ATTEMPTS => attempt += 1,
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;
    use crate::dmabuf::{set_name, set_name_best_effort};

    #[test]
    fn sync_and_set_name_on_a_memfd_report_enotty() {
        let heap = crate::MemfdHeap::plain("dmabuf-enotty").unwrap();
        let fd = crate::Heap::allocate(&heap, std::num::NonZeroU64::new(4096).unwrap()).unwrap();
        assert_eq!(
            sync(fd.as_fd(), SyncDirection::ReadWrite, SyncPhase::Start),
            Err(Errno::ENOTTY)
        );
        assert_eq!(set_name(fd.as_fd(), "x"), Err(Errno::ENOTTY));
        set_name_best_effort(fd.as_fd(), "x");
    }
}
