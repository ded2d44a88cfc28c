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
    alloc_ioctl(heap, &mut arg)?;
    // SAFETY: on success the kernel installed `arg.fd` in our table just now; nobody owns it.
    unsafe { super::adopt_u32_fd(arg.fd) }
}

/// The bare ioctl; on success `arg.fd` is a new fd the caller must adopt.
fn alloc_ioctl(heap: BorrowedFd<'_>, arg: &mut DmaHeapAllocationData) -> nix::Result<()> {
    // SAFETY: the opcode was generated for exactly this repr(C) type (size asserted above),
    // `arg` is a live exclusive borrow, and `heap` stays open for the duration of the call.
    unsafe { dma_heap_alloc_raw(heap.as_raw_fd(), arg) }?;
    Ok(())
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

    /// Kernel argument checks on the real system heap (the VM harness runs it).
    #[test]
    #[ignore = "needs /dev/dma_heap/system"]
    fn real_system_heap_refuses_bad_arguments_with_einval() {
        const SYSTEM: &str = "/dev/dma_heap/system";
        if !crate::test_util::have_device("dma_heap", SYSTEM) {
            return;
        }
        let heap = std::fs::File::open(SYSTEM).unwrap();
        let heap = std::os::fd::AsFd::as_fd(&heap);
        let good =
            DmaHeapAllocationData { len: 4096, fd_flags: FD_RDWR_CLOEXEC, ..Default::default() };
        let bad = [
            DmaHeapAllocationData { len: 0, ..good },
            DmaHeapAllocationData { len: u64::MAX, ..good },
            DmaHeapAllocationData { heap_flags: 0x11_1111, ..good },
            DmaHeapAllocationData { fd_flags: !FD_RDWR_CLOEXEC, ..good },
            DmaHeapAllocationData { fd: 3, ..good },
        ];
        for mut arg in bad {
            assert_eq!(alloc_ioctl(heap, &mut arg), Err(nix::errno::Errno::EINVAL), "{arg:?}");
        }
        let fd = alloc(heap, 1).unwrap();
        assert_eq!(
            crate::dmabuf::size_of(std::os::fd::AsFd::as_fd(&fd)).unwrap(),
            crate::page_size()
        );
    }

    #[test]
    fn alloc_on_a_non_heap_fd_fails_without_an_fd() {
        let file = tempfile::tempfile().unwrap();
        use std::os::fd::AsFd;
        assert_eq!(alloc(file.as_fd(), 4096).unwrap_err(), nix::errno::Errno::ENOTTY);
    }
}
