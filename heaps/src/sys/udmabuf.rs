//! `include/uapi/linux/udmabuf.h`: UDMABUF_CREATE.

use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

/// `struct udmabuf_create`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct UdmabufCreate {
    pub(crate) memfd: u32,
    pub(crate) flags: u32,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}
const _: () = assert!(size_of::<UdmabufCreate>() == 24);

pub(crate) const UDMABUF_IOC_MAGIC: u8 = b'u';
pub(crate) const UDMABUF_CREATE_NR: u8 = 0x42;
pub(crate) const UDMABUF_FLAGS_CLOEXEC: u32 = 0x01;

nix::ioctl_write_ptr!(udmabuf_create_raw, UDMABUF_IOC_MAGIC, UDMABUF_CREATE_NR, UdmabufCreate);

/// Wraps `size` bytes of `memfd` (from offset 0) in a new close-on-exec dma-buf.
pub(crate) fn create(
    dev: BorrowedFd<'_>,
    memfd: BorrowedFd<'_>,
    size: u64,
) -> nix::Result<OwnedFd> {
    let memfd = u32::try_from(memfd.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    let arg = UdmabufCreate { memfd, flags: UDMABUF_FLAGS_CLOEXEC, offset: 0, size };
    // SAFETY: opcode generated for this repr(C) type (size asserted); `arg` outlives the
    // call; both fds are borrowed, hence open, for its duration.
    let raw = unsafe { udmabuf_create_raw(dev.as_raw_fd(), &arg) }?;
    // SAFETY: UDMABUF_CREATE returns the new dma-buf fd, installed in our table just now.
    unsafe { super::adopt_fd(raw) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_opcode_matches_uapi() {
        let code = nix::request_code_write!(
            UDMABUF_IOC_MAGIC,
            UDMABUF_CREATE_NR,
            size_of::<UdmabufCreate>()
        );
        assert_eq!(u32::try_from(code).unwrap(), 0x4018_7542);
        // UDMABUF_CREATE_LIST: the size counts only the 8-byte {flags, count} header.
        let list = nix::request_code_write!(UDMABUF_IOC_MAGIC, 0x43, 2 * size_of::<u32>());
        assert_eq!(u32::try_from(list).unwrap(), 0x4008_7543);
        assert_eq!(UDMABUF_FLAGS_CLOEXEC, 1);
    }
}
