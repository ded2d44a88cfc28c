//! Client-side helpers for dma-buf fds: naming, CPU-access sync, mapping, size, and the
//! `/proc` views (fdinfo, fd lists) used for leak checks.
//!
//! Recognising what an fd is: a dma-buf's `readlink(/proc/<pid>/fd/N)` starts with
//! `/dmabuf` (`anon_inode:dmabuf` before 5.3) and its fdinfo has `exp_name:`; a memfd (the
//! [`crate::MemfdHeap`] fallback without udmabuf) links to `/memfd:<name> (deleted)` and has
//! no `exp_name`. [`fd_kind`] and [`exporter`] do this classification.

use std::ffi::CString;
use std::fs;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::unistd::{lseek, Whence};

use crate::sys;
use crate::sys::dma_buf::{
    DMA_BUF_NAME_LEN, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_RW, DMA_BUF_SYNC_START,
    DMA_BUF_SYNC_WRITE,
};
use crate::sys::mman::MappedRegion;

/// Attempts of a SYNC interrupted by EINTR or EAGAIN (Arm's gralloc uses 5).
const SYNC_ATTEMPTS: u32 = 5;

/// `name` as the kernel will store it: cut at the first NUL, then to at most 31 bytes at a
/// char boundary (`DMA_BUF_NAME_LEN` counts the NUL).
pub fn truncate_name(name: &str) -> &str {
    let name = name.split('\0').next().unwrap_or_default();
    let max = DMA_BUF_NAME_LEN - 1;
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

/// A `MAP_SHARED` mapping of a buffer from offset 0, unmapped on drop.
///
/// The bytes are shared with every other holder of the buffer (and with devices): contents
/// can change underneath a slice; use [`sync`] around CPU access.
#[derive(Debug)]
pub struct Mapping {
    region: MappedRegion,
}

impl Mapping {
    /// Maps `len` bytes of `fd`, read-only or read-write.
    ///
    /// # Errors
    ///
    /// EINVAL for `len == 0` or past the end (CMA heap), EACCES for a writable mapping of an
    /// fd opened read-only, ENODEV for fds that cannot be mapped.
    pub fn new(fd: BorrowedFd<'_>, len: usize, writable: bool) -> Result<Self, Errno> {
        let len = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
        Ok(Self { region: MappedRegion::map_shared(fd, len, writable)? })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Always false (mappings are never empty); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether the mapping was made writable.
    pub fn is_writable(&self) -> bool {
        self.region.is_writable()
    }

    /// The mapped bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.region.as_slice()
    }

    /// The mapped bytes, writable; `None` for a read-only mapping.
    pub fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        self.region.as_mut_slice()
    }
}

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

/// Parsed `/proc/<pid>/fdinfo/<fd>`. Absent or malformed lines are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdInfo {
    /// `pos:` file offset.
    pub pos: Option<u64>,
    /// `flags:` (printed in octal) open flags, with `O_CLOEXEC` when close-on-exec is set.
    pub flags: Option<u32>,
    /// `mnt_id:`.
    pub mnt_id: Option<u64>,
    /// `ino:` inode number (5.14+; [`inode`] works on every kernel).
    pub ino: Option<u64>,
    /// dma-buf `size:` in bytes.
    pub size: Option<u64>,
    /// dma-buf `count:` (file references − 1).
    pub count: Option<u64>,
    /// dma-buf `exp_name:` exporter (heap name since ≈5.13; `heap_helpers` on 5.10;
    /// `udmabuf`; `ion`).
    pub exp_name: Option<String>,
    /// dma-buf `name:` set by [`set_name`].
    pub name: Option<String>,
}

impl FdInfo {
    /// Reads this process's fdinfo for `fd`.
    ///
    /// # Errors
    ///
    /// I/O errors reading `/proc/self/fdinfo/<fd>`.
    pub fn read(fd: BorrowedFd<'_>) -> io::Result<Self> {
        Ok(Self::parse(&fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))?))
    }

    /// Reads `/proc/<pid>/fdinfo/<fd_num>` (needs ptrace-read access to `pid` on 5.14+).
    ///
    /// # Errors
    ///
    /// I/O errors (NotFound when the fd or process is gone).
    pub fn read_pid(pid: u32, fd_num: RawFd) -> io::Result<Self> {
        Ok(Self::parse(&fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd_num}"))?))
    }

    /// Parses fdinfo text; unknown keys are ignored.
    pub fn parse(text: &str) -> Self {
        let mut info = Self::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match key.trim() {
                "pos" => info.pos = value.parse().ok(),
                "flags" => info.flags = u32::from_str_radix(value, 8).ok(),
                "mnt_id" => info.mnt_id = value.parse().ok(),
                "ino" => info.ino = value.parse().ok(),
                "size" => info.size = value.parse().ok(),
                "count" => info.count = value.parse().ok(),
                "exp_name" => info.exp_name = Some(value.to_owned()),
                "name" => info.name = Some(value.to_owned()),
                _ => {}
            }
        }
        info
    }

    /// Whether the fd is close-on-exec (`O_CLOEXEC` in `flags`).
    pub fn is_cloexec(&self) -> bool {
        let cloexec = u32::try_from(libc::O_CLOEXEC).unwrap_or(0);
        self.flags.is_some_and(|flags| flags & cloexec != 0)
    }

    /// Whether the fd is a dma-buf (fdinfo has `exp_name`).
    pub fn is_dmabuf(&self) -> bool {
        self.exp_name.is_some()
    }
}

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

    #[test]
    fn fdinfo_of_a_dmabuf_parses_every_field() {
        let text =
            "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1234\nsize:\t1048576\ncount:\t1\n\
                    exp_name:\tsystem\nname:\tgralloc-buf\n";
        let info = FdInfo::parse(text);
        assert_eq!(
            info,
            FdInfo {
                pos: Some(0),
                flags: Some(0o2000002),
                mnt_id: Some(15),
                ino: Some(1234),
                size: Some(1 << 20),
                count: Some(1),
                exp_name: Some("system".into()),
                name: Some("gralloc-buf".into()),
            }
        );
        assert!(info.is_cloexec() && info.is_dmabuf());
    }

    #[test]
    fn fdinfo_without_cloexec_or_exporter() {
        let info =
            FdInfo::parse("pos:\t0\nflags:\t0100002\nmnt_id:\t1\nino:\t9\ngarbage line\nsize: x\n");
        assert!(!info.is_cloexec());
        assert!(!info.is_dmabuf());
        assert_eq!(info.size, None);
    }

    #[test]
    fn fdinfo_of_own_fd_reads_flags() {
        let file = tempfile::tempfile().unwrap();
        let info = FdInfo::read(file.as_fd()).unwrap();
        assert!(info.is_cloexec(), "std opens files O_CLOEXEC");
        assert_eq!(info.pos, Some(0));
    }

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

    #[test]
    fn zero_length_mapping_is_einval() {
        let file = tempfile::tempfile().unwrap();
        assert_eq!(Mapping::new(file.as_fd(), 0, false).unwrap_err(), Errno::EINVAL);
    }

    #[test]
    fn read_only_mapping_has_no_mutable_slice() {
        let file = tempfile::tempfile().unwrap();
        file.set_len(4096).unwrap();
        let mut map = Mapping::new(file.as_fd(), 4096, false).unwrap();
        assert!(map.as_mut_slice().is_none());
        assert_eq!((map.len(), map.is_writable()), (4096, false));
    }

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
