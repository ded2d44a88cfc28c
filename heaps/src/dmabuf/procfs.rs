//! Scans of `/proc/<pid>/fd`: open-fd counts, the dma-bufs a process holds, and what one fd
//! is (dma-buf, memfd or other).

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::PathBuf;

use super::FdInfo;

fn fd_dir(pid: Option<u32>) -> PathBuf {
    match pid {
        Some(pid) => PathBuf::from(format!("/proc/{pid}/fd")),
        None => PathBuf::from("/proc/self/fd"),
    }
}

fn fdinfo(pid: Option<u32>, fd: RawFd) -> io::Result<FdInfo> {
    match pid {
        Some(pid) => FdInfo::read_pid(pid, fd),
        None => Ok(FdInfo::parse(&fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))?)),
    }
}

/// Lists `(fd, readlink target)` of a process; fds that close meanwhile are skipped.
fn list_fds(pid: Option<u32>) -> io::Result<Vec<(RawFd, String)>> {
    let dir = fd_dir(pid);
    let mut fds = Vec::new();
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<RawFd>().ok()) else {
            continue;
        };
        match fs::read_link(entry.path()) {
            Ok(target) => fds.push((fd, target.to_string_lossy().into_owned())),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(fds)
}

/// Number of open fds of `pid` (this process for `None`, not counting the descriptor used
/// to list `/proc/self/fd` itself).
///
/// # Errors
///
/// I/O errors reading `/proc/<pid>/fd` (NotFound for a dead process, PermissionDenied).
pub fn count_open_fds(pid: Option<u32>) -> io::Result<usize> {
    let mut count = 0usize;
    for entry in fs::read_dir(fd_dir(pid))? {
        entry?;
        count = count.saturating_add(1);
    }
    Ok(if pid.is_none() { count.saturating_sub(1) } else { count })
}

/// A dma-buf held by a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmaBufFd {
    /// Fd number in that process.
    pub fd: RawFd,
    /// `readlink` target (`/dmabuf:<name>`).
    pub link: String,
    /// Its fdinfo, when readable.
    pub info: Option<FdInfo>,
}

/// The dma-bufs among the fds of `pid` (this process for `None`): link starting with
/// `/dmabuf` (or `anon_inode:dmabuf`), or fdinfo with `exp_name`.
///
/// # Errors
///
/// I/O errors listing `/proc/<pid>/fd`.
pub fn list_dmabuf_fds(pid: Option<u32>) -> io::Result<Vec<DmaBufFd>> {
    let mut bufs = Vec::new();
    for (fd, link) in list_fds(pid)? {
        let info = fdinfo(pid, fd).ok();
        if link_is_dmabuf(&link) || info.as_ref().is_some_and(FdInfo::is_dmabuf) {
            bufs.push(DmaBufFd { fd, link, info });
        }
    }
    Ok(bufs)
}

fn link_is_dmabuf(link: &str) -> bool {
    link.starts_with("/dmabuf") || link == "anon_inode:dmabuf"
}

/// What kind of buffer an fd is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// A dma-buf.
    DmaBuf {
        /// fdinfo `exp_name` (None on kernels before 5.3).
        exporter: Option<String>,
        /// fdinfo `name` when set.
        name: Option<String>,
    },
    /// A memfd: link `/memfd:<name> (deleted)`.
    Memfd {
        /// The memfd name.
        name: String,
    },
    /// Anything else, with its link target.
    Other {
        /// `readlink` target.
        link: String,
    },
}

/// Classifies one of this process's fds.
///
/// # Errors
///
/// I/O errors reading `/proc/self/fd/<fd>` or its fdinfo.
pub fn fd_kind(fd: BorrowedFd<'_>) -> io::Result<FdKind> {
    let raw = fd.as_raw_fd();
    let link = fs::read_link(format!("/proc/self/fd/{raw}"))?.to_string_lossy().into_owned();
    if let Some(rest) = link.strip_prefix("/memfd:") {
        let name = rest.strip_suffix(" (deleted)").unwrap_or(rest).to_owned();
        return Ok(FdKind::Memfd { name });
    }
    let info = FdInfo::read(fd)?;
    if link_is_dmabuf(&link) || info.is_dmabuf() {
        return Ok(FdKind::DmaBuf { exporter: info.exp_name, name: info.name });
    }
    Ok(FdKind::Other { link })
}

/// The exporter of a buffer fd: fdinfo `exp_name` for a dma-buf (`"dmabuf"` when the
/// kernel does not print one), `"memfd"` for a memfd.
///
/// # Errors
///
/// InvalidInput when the fd is neither; I/O errors reading `/proc`.
pub fn exporter(fd: BorrowedFd<'_>) -> io::Result<String> {
    match fd_kind(fd)? {
        FdKind::DmaBuf { exporter, .. } => Ok(exporter.unwrap_or_else(|| "dmabuf".to_owned())),
        FdKind::Memfd { .. } => Ok("memfd".to_owned()),
        FdKind::Other { link } => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd {raw} is not a buffer ({link})", raw = fd.as_raw_fd()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn fd_kind_tells_memfds_from_other_files() {
        let heap = crate::MemfdHeap::plain("dmabuf-kind").unwrap();
        let fd = crate::Heap::allocate(&heap, std::num::NonZeroU64::new(4096).unwrap()).unwrap();
        assert_eq!(
            fd_kind(fd.as_fd()).unwrap(),
            FdKind::Memfd { name: "gralloc:dmabuf-kind".into() }
        );
        let file = tempfile::tempfile().unwrap();
        assert!(matches!(fd_kind(file.as_fd()).unwrap(), FdKind::Other { .. }));
        assert_eq!(exporter(file.as_fd()).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn open_fd_count_sees_the_process_fds() {
        assert!(count_open_fds(None).unwrap() >= 3);
        let me = std::process::id();
        assert!(count_open_fds(Some(me)).unwrap() >= 3);
        assert!(list_dmabuf_fds(None).is_ok());
    }
}
