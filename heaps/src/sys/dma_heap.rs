//! `include/uapi/linux/dma-heap.h`: DMA_HEAP_IOCTL_ALLOC.

use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// `struct dma_heap_allocation_data`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DmaHeapAllocationData {
    pub(crate) len: u64,
    pub(crate) fd: u32,
    pub(crate) fd_flags: u32,
    pub(crate) heap_flags: u64,
}
const _: () = assert!(size_of::<DmaHeapAllocationData>() == 24);

pub(crate) const DMA_HEAP_IOC_MAGIC: u8 = b'H';
pub(crate) const DMA_HEAP_IOCTL_ALLOC_NR: u8 = 0;

/// `O_RDWR | O_CLOEXEC` as the kernel's `fd_flags` (x86, arm, arm64, riscv); a test compares
/// it with libc.
pub(crate) const FD_RDWR_CLOEXEC: u32 = 0x0008_0002;

nix::ioctl_readwrite!(
    dma_heap_alloc_raw,
    DMA_HEAP_IOC_MAGIC,
    DMA_HEAP_IOCTL_ALLOC_NR,
    DmaHeapAllocationData
);

/// Allocates `len` bytes (the kernel page-aligns) from the heap behind `heap`; the new
/// dma-buf is `O_RDWR | O_CLOEXEC`.
pub(crate) fn alloc(heap: BorrowedFd<'_>, len: u64) -> nix::Result<OwnedFd> {
    let mut arg = DmaHeapAllocationData { len, fd_flags: FD_RDWR_CLOEXEC, ..Default::default() };
    // SAFETY: the opcode was generated for exactly this repr(C) type (size asserted above),
    // `arg` is a live exclusive borrow, and `heap` stays open for the duration of the call.
    unsafe { dma_heap_alloc_raw(heap.as_raw_fd(), &mut arg) }?;
    // SAFETY: on success the kernel installed `arg.fd` in our table just now; nobody owns it.
    unsafe { super::adopt_u32_fd(arg.fd) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_opcode_matches_uapi() {
        let code = nix::request_code_readwrite!(
            DMA_HEAP_IOC_MAGIC,
            DMA_HEAP_IOCTL_ALLOC_NR,
            size_of::<DmaHeapAllocationData>()
        );
        assert_eq!(u32::try_from(code).unwrap(), 0xC018_4800);
    }

    #[test]
    fn fd_flags_are_rdwr_cloexec() {
        assert_eq!(i64::from(FD_RDWR_CLOEXEC), i64::from(libc::O_RDWR | libc::O_CLOEXEC));
    }

    #[test]
    fn alloc_on_a_non_heap_fd_fails_without_an_fd() {
        let file = tempfile::tempfile().unwrap();
        use std::os::fd::AsFd;
        assert_eq!(alloc(file.as_fd(), 4096).unwrap_err(), nix::errno::Errno::ENOTTY);
    }
}
