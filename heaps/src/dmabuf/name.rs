//! Buffer names (DMA_BUF_SET_NAME): what fdinfo, `/proc/<pid>/fd` links and `maps` show.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

use crate::sys;
use crate::sys::dma_buf::DMA_BUF_NAME_LEN;

/// Longest name the kernel stores, in bytes (`DMA_BUF_NAME_LEN` less the NUL).
pub const MAX_NAME_LEN: usize = DMA_BUF_NAME_LEN - 1;

/// `name` as the kernel will store it: cut at the first NUL, then to at most 31 bytes at a
/// char boundary (`DMA_BUF_NAME_LEN` counts the NUL).
pub fn truncate_name(name: &str) -> &str {
    let name = name.split('\0').next().unwrap_or_default();
    let max = MAX_NAME_LEN;
    if name.len() <= max {
        return name;
    }
    let mut end = max;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.get(..end).unwrap_or_default()
}

/// Names the buffer (DMA_BUF_SET_NAME, 5.3+): shows in fdinfo `name:`, in
/// `readlink(/proc/<pid>/fd/N)` and in `/proc/<pid>/maps` as `/dmabuf:<name>`. The name is
/// cut with [`truncate_name`] first.
///
/// # Errors
///
/// ENOTTY when `fd` is not a dma-buf (a memfd) or the kernel predates 5.3; EBUSY on 5.3–5.16
/// once the buffer is attached to a device; EINVAL/EFAULT should not happen.
pub fn set_name(fd: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
    let name = CString::new(truncate_name(name)).map_err(|_| Errno::EINVAL)?;
    sys::dma_buf::set_name(fd, &name)
}

/// [`set_name`] that never fails: naming is diagnostics only, so errors are logged at
/// `debug` and dropped.
pub fn set_name_best_effort(fd: BorrowedFd<'_>, name: &str) {
    if let Err(errno) = set_name(fd, name) {
        log::debug!("naming dma-buf fd {} {name:?} failed: {errno}", fd.as_raw_fd());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_name_len_is_the_kernel_limit_without_the_nul() {
        assert_eq!(MAX_NAME_LEN, 31);
    }

    #[test]
    fn truncate_name_keeps_short_names() {
        assert_eq!(truncate_name("SurfaceView"), "SurfaceView");
        assert_eq!(truncate_name(&"a".repeat(31)), "a".repeat(31));
    }

    #[test]
    fn truncate_name_cuts_to_31_bytes_at_a_char_boundary() {
        assert_eq!(truncate_name(&"a".repeat(40)).len(), 31);
        let name = "é".repeat(20); // 2 bytes each
        assert_eq!(truncate_name(&name), "é".repeat(15));
    }

    #[test]
    fn truncate_name_stops_at_embedded_nul() {
        assert_eq!(truncate_name("abc\0def"), "abc");
        assert_eq!(truncate_name("\0"), "");
    }
}
