//! `include/uapi/linux/dma-buf.h`: DMA_BUF_IOCTL_SYNC and DMA_BUF_SET_NAME.

use std::ffi::{c_char, CStr};
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `struct dma_buf_sync`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DmaBufSync {
    pub(crate) flags: u64,
}
const _: () = assert!(size_of::<DmaBufSync>() == 8);

pub(crate) const DMA_BUF_BASE: u8 = b'b';
pub(crate) const DMA_BUF_SYNC_READ: u64 = 1;
pub(crate) const DMA_BUF_SYNC_WRITE: u64 = 2;
pub(crate) const DMA_BUF_SYNC_RW: u64 = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
pub(crate) const DMA_BUF_SYNC_START: u64 = 0;
pub(crate) const DMA_BUF_SYNC_END: u64 = 4;
/// Including the terminating NUL.
pub(crate) const DMA_BUF_NAME_LEN: usize = 32;

nix::ioctl_write_ptr!(dma_buf_sync_raw, DMA_BUF_BASE, 0, DmaBufSync);

/// `DMA_BUF_SET_NAME`: the `_B` number (size 8) on 64-bit, `_A` (size 4) on 32-bit. The size
/// field only encodes the pointer width; the argument is a pointer to a NUL-terminated string.
pub(crate) const DMA_BUF_SET_NAME: nix::sys::ioctl::ioctl_num_type =
    nix::request_code_write!(DMA_BUF_BASE, 1, size_of::<usize>());

nix::ioctl_write_ptr_bad!(dma_buf_set_name_raw, DMA_BUF_SET_NAME, c_char);

/// Issues DMA_BUF_IOCTL_SYNC with `flags` (direction | phase).
pub(crate) fn sync(buf: BorrowedFd<'_>, flags: u64) -> nix::Result<()> {
    let arg = DmaBufSync { flags };
    // SAFETY: the opcode was generated for exactly this repr(C) type (size asserted above);
    // `arg` outlives the call; `buf` stays open for its duration.
    unsafe { dma_buf_sync_raw(buf.as_raw_fd(), &arg) }?;
    Ok(())
}

/// Issues DMA_BUF_SET_NAME; `name` must be shorter than [`DMA_BUF_NAME_LEN`] bytes.
pub(crate) fn set_name(buf: BorrowedFd<'_>, name: &CStr) -> nix::Result<()> {
    // SAFETY: the kernel reads a NUL-terminated string (at most 32 bytes) through the pointer;
    // `name` is a valid C string that outlives the call; `buf` stays open for its duration.
    unsafe { dma_buf_set_name_raw(buf.as_raw_fd(), name.as_ptr()) }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_opcode_matches_uapi() {
        let code = nix::request_code_write!(DMA_BUF_BASE, 0, size_of::<DmaBufSync>());
        assert_eq!(u32::try_from(code).unwrap(), 0x4008_6200);
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn set_name_uses_the_b_number_on_64_bit() {
        assert_eq!(u32::try_from(DMA_BUF_SET_NAME).unwrap(), 0x4008_6201);
    }

    #[cfg(target_pointer_width = "32")]
    #[test]
    fn set_name_uses_the_a_number_on_32_bit() {
        assert_eq!(u32::try_from(DMA_BUF_SET_NAME).unwrap(), 0x4004_6201);
    }

    #[test]
    fn sync_flag_values_match_uapi() {
        assert_eq!(
            [
                DMA_BUF_SYNC_READ,
                DMA_BUF_SYNC_WRITE,
                DMA_BUF_SYNC_RW,
                DMA_BUF_SYNC_START,
                DMA_BUF_SYNC_END
            ],
            [1, 2, 3, 0, 4]
        );
        assert_eq!(DMA_BUF_NAME_LEN, 32);
    }
}
