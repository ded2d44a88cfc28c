//! Client-side helpers for dma-buf fds: naming, CPU-access sync, mapping, size, and the
//! `/proc` views (fdinfo, fd lists) used for leak checks.
//!
//! Recognising what an fd is: a dma-buf's `readlink(/proc/<pid>/fd/N)` starts with
//! `/dmabuf` (`anon_inode:dmabuf` before 5.3) and its fdinfo has `exp_name:`; a memfd (the
//! [`crate::MemfdHeap`] fallback without udmabuf) links to `/memfd:<name> (deleted)` and has
//! no `exp_name`. [`fd_kind`] and [`exporter`] do this classification.

mod fdinfo;
mod mapping;
mod name;
mod procfs;
mod sync;

use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::unistd::{lseek, Whence};

pub use fdinfo::FdInfo;
pub use mapping::{AccessError, Mapping, OutOfBounds};
pub use name::{set_name, set_name_best_effort, truncate_name, MAX_NAME_LEN};
pub use procfs::{count_open_fds, exporter, fd_kind, list_dmabuf_fds, DmaBufFd, FdKind};
pub use sync::{sync, SyncDirection, SyncPhase};

/// Size in bytes, from `lseek(fd, 0, SEEK_END)` (right on every kernel, unlike `fstat`
/// before 5.3). The file offset is restored (dma-bufs have none: they only accept offset 0).
///
/// # Errors
///
/// The errno of `lseek` (ESPIPE for pipes and sockets).
pub fn size_of(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    // dma-bufs refuse SEEK_CUR (EINVAL); their offset is always 0.
    let current = lseek(fd, 0, Whence::SeekCur).unwrap_or(0);
    let end = lseek(fd, 0, Whence::SeekEnd)?;
    lseek(fd, current, Whence::SeekSet)?;
    u64::try_from(end).map_err(|_| Errno::EOVERFLOW)
}

/// Inode number from `fstat`: unique per dma-buf, usable as a buffer id (fdinfo `ino:`
/// only appears from 5.14).
///
/// # Errors
///
/// The errno of `fstat`.
pub fn inode(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    Ok(nix::sys::stat::fstat(fd)?.st_ino)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn inode_tells_buffers_apart() {
        let (a, b) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
        assert_ne!(inode(a.as_fd()).unwrap(), inode(b.as_fd()).unwrap());
        assert_eq!(inode(a.as_fd()).unwrap(), inode(a.as_fd()).unwrap());
    }

    #[test]
    fn size_of_restores_the_file_offset() {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&[1; 100]).unwrap();
        file.seek(SeekFrom::Start(10)).unwrap();
        assert_eq!(size_of(file.as_fd()).unwrap(), 100);
        assert_eq!(file.stream_position().unwrap(), 10);
    }
}
