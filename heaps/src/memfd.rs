//! memfd back end: sealed shmem files, turned into dma-bufs through `/dev/udmabuf` (4.20+)
//! when the device exists and works, otherwise handed out as plain memfds.
//!
//! A plain memfd is not a dma-buf: no SYNC, no SET_NAME, fdinfo without `exp_name`, and
//! `readlink(/proc/self/fd/N)` starts with `/memfd:` (see [`crate::dmabuf::fd_kind`]).

use std::ffi::CString;
use std::num::NonZeroU64;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, OFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::stat::Mode;
use nix::unistd::ftruncate;

use crate::heap::{Heap, HeapCaps, HeapError, NameProblem};
use crate::retry::{page_round, page_size, retry_eintr};
use crate::sys;

/// The udmabuf device node.
pub(crate) const UDMABUF_PATH: &str = "/dev/udmabuf";

/// Seals on every memfd we create: the size is fixed, and nobody can add `F_SEAL_WRITE`
/// later (udmabuf refuses write-sealed memfds; a shared buffer must stay writable).
pub(crate) const MEMFD_SEALS: SealFlag =
    SealFlag::F_SEAL_SHRINK.union(SealFlag::F_SEAL_GROW).union(SealFlag::F_SEAL_SEAL);

/// Creates a close-on-exec memfd of `len` bytes (a page multiple) sealed with [`MEMFD_SEALS`].
pub(crate) fn sealed_memfd(name: &CString, len: u64) -> nix::Result<OwnedFd> {
    let size = libc::off_t::try_from(len).map_err(|_| Errno::EFBIG)?;
    let fd = memfd_create(name.as_c_str(), MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)?;
    retry_eintr(|| ftruncate(&fd, size))?;
    fcntl(fd.as_fd(), FcntlArg::F_ADD_SEALS(MEMFD_SEALS))?;
    Ok(fd)
}

/// Builds the memfd name (`<prefix><heap name>`, visible as `/memfd:<name>`).
pub(crate) fn memfd_name(prefix: &str, heap: &str) -> Result<CString, HeapError> {
    if heap.is_empty() {
        return Err(HeapError::InvalidName { name: heap.to_owned(), reason: NameProblem::Empty });
    }
    // memfd_create refuses names over 249 bytes; heap names are short, so cut at a char
    // boundary rather than fail.
    let mut name = format!("{prefix}{heap}");
    while name.len() > 200 {
        name.pop();
    }
    CString::new(name).map_err(|_| HeapError::InvalidName {
        name: heap.to_owned(),
        reason: NameProblem::ContainsNul,
    })
}

/// memfd heap: always available, zeroed, not contiguous. With `/dev/udmabuf` the buffers
/// are real dma-bufs (exporter `udmabuf`, at most `udmabuf.size_limit_mb`, 64 MiB by
/// default; larger requests fail with EINVAL).
#[derive(Debug)]
pub struct MemfdHeap {
    name: String,
    memfd_name: CString,
    udmabuf: Option<OwnedFd>,
    caps: HeapCaps,
}

impl MemfdHeap {
    /// A memfd heap that converts to dma-bufs through `/dev/udmabuf` when the device opens
    /// and a one-page trial conversion succeeds; otherwise (logged at `info`) plain memfds.
    ///
    /// # Errors
    ///
    /// [`HeapError::InvalidName`] for an empty name or one containing NUL.
    pub fn new(name: &str) -> Result<Self, HeapError> {
        Self::with_udmabuf_path(name, Path::new(UDMABUF_PATH))
    }

    /// As [`new`](Self::new) with another udmabuf node (tests).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_udmabuf_path(name: &str, udmabuf: &Path) -> Result<Self, HeapError> {
        let mut heap = Self::plain(name)?;
        match open_working_udmabuf(udmabuf, &heap.memfd_name) {
            Ok(dev) => {
                log::info!("memfd heap {name}: using {} for dma-bufs", udmabuf.display());
                heap.udmabuf = Some(dev);
            }
            Err(err) => log::info!("memfd heap {name}: plain memfds ({err}: {})", errno_text(&err)),
        }
        Ok(heap)
    }

    /// A memfd heap that never uses udmabuf.
    ///
    /// # Errors
    ///
    /// [`HeapError::InvalidName`] for an empty name or one containing NUL.
    pub fn plain(name: &str) -> Result<Self, HeapError> {
        let memfd_name = memfd_name("gralloc:", name)?;
        let caps = HeapCaps { cached: true, zeroed: true, ..HeapCaps::default() };
        Ok(Self { name: name.to_owned(), memfd_name, udmabuf: None, caps })
    }

    /// Uses an already open udmabuf device without the trial conversion (tests of the
    /// conversion's error paths).
    #[cfg(test)]
    pub(crate) fn with_udmabuf_fd(name: &str, dev: OwnedFd) -> Result<Self, HeapError> {
        Ok(Self { udmabuf: Some(dev), ..Self::plain(name)? })
    }

    /// Replaces the capabilities.
    #[must_use]
    pub fn with_caps(mut self, caps: HeapCaps) -> Self {
        self.caps = caps;
        self
    }

    /// Whether buffers are dma-bufs made by `/dev/udmabuf` (else plain memfds).
    pub fn uses_udmabuf(&self) -> bool {
        self.udmabuf.is_some()
    }
}

fn errno_text(err: &HeapError) -> String {
    err.errno().map_or_else(String::new, |e| e.desc().to_owned())
}

/// Opens the udmabuf node and proves it converts a one-page memfd.
fn open_working_udmabuf(path: &Path, memfd_name: &CString) -> Result<OwnedFd, HeapError> {
    let dev = retry_eintr(|| open(path, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty()))
        .map_err(|errno| HeapError::open(path.to_owned(), errno))?;
    let trial = |errno| HeapError::alloc("udmabuf trial", page_size(), errno);
    let memfd = sealed_memfd(memfd_name, page_size()).map_err(trial)?;
    retry_eintr(|| sys::udmabuf::create(dev.as_fd(), memfd.as_fd(), page_size())).map_err(trial)?;
    Ok(dev)
}

impl Heap for MemfdHeap {
    fn name(&self) -> &str {
        &self.name
    }

    fn caps(&self) -> HeapCaps {
        self.caps
    }

    fn allocate(&self, len: NonZeroU64) -> Result<OwnedFd, HeapError> {
        let too_large = || HeapError::TooLarge { heap: self.name.clone(), len: len.get() };
        let size = page_round(len.get()).ok_or_else(too_large)?;
        let memfd = sealed_memfd(&self.memfd_name, size).map_err(|errno| match errno {
            Errno::EFBIG => too_large(),
            errno => HeapError::alloc(&self.name, len.get(), errno),
        })?;
        let Some(dev) = &self.udmabuf else {
            log::debug!("memfd heap {}: allocated {size} bytes (memfd)", self.name);
            return Ok(memfd);
        };
        // The dma-buf pins the memfd's pages; the memfd itself is closed on return.
        let buf = retry_eintr(|| sys::udmabuf::create(dev.as_fd(), memfd.as_fd(), size))
            .map_err(|errno| HeapError::alloc(&self.name, len.get(), errno))?;
        log::debug!("memfd heap {}: allocated {size} bytes (udmabuf)", self.name);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;
    use crate::dmabuf::{self, FdInfo, Mapping};
    use crate::test_util::fds_named;

    fn len(n: u64) -> NonZeroU64 {
        NonZeroU64::new(n).unwrap()
    }

    #[test]
    fn plain_memfd_is_page_rounded_sealed_cloexec_and_zeroed() {
        let heap = MemfdHeap::plain("memfd-basic").unwrap();
        let fd = heap.allocate(len(5000)).unwrap();
        let page = page_size();
        assert_eq!(dmabuf::size_of(fd.as_fd()).unwrap(), 2 * page);
        let seals = fcntl(fd.as_fd(), FcntlArg::F_GET_SEALS).unwrap();
        assert_eq!(SealFlag::from_bits_truncate(seals), MEMFD_SEALS);
        assert!(FdInfo::read(fd.as_fd()).unwrap().is_cloexec());
        let map_len = usize::try_from(2 * page).unwrap();
        let map = Mapping::new(fd.as_fd(), map_len, false).unwrap();
        assert!(map.all_equal(0, map_len, 0).unwrap());
        assert_eq!(dmabuf::exporter(fd.as_fd()).unwrap(), "memfd");
    }

    #[test]
    fn sealed_memfd_refuses_resizing() {
        let heap = MemfdHeap::plain("memfd-seal").unwrap();
        let fd = heap.allocate(len(4096)).unwrap();
        assert_eq!(ftruncate(&fd, 0).unwrap_err(), Errno::EPERM);
        assert_eq!(ftruncate(&fd, 1 << 20).unwrap_err(), Errno::EPERM);
    }

    #[test]
    fn writes_through_one_mapping_are_seen_by_another() {
        let heap = MemfdHeap::plain("memfd-share").unwrap();
        let fd = heap.allocate(len(4096)).unwrap();
        let writer = Mapping::new(fd.as_fd(), 4096, true).unwrap();
        writer.fill(0, 4096, 0xAA).unwrap();
        let reader = Mapping::new(fd.as_fd(), 4096, false).unwrap();
        assert!(reader.all_equal(0, 4096, 0xAA).unwrap());
    }

    #[test]
    fn missing_udmabuf_falls_back_to_plain_memfd() {
        let dir = tempfile::tempdir().unwrap();
        let heap =
            MemfdHeap::with_udmabuf_path("memfd-fallback", &dir.path().join("udmabuf")).unwrap();
        assert!(!heap.uses_udmabuf());
    }

    #[test]
    fn broken_udmabuf_node_falls_back_without_leaking_the_trial_memfd() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let heap = MemfdHeap::with_udmabuf_path("memfd-broken-node", file.path()).unwrap();
        assert!(!heap.uses_udmabuf());
        assert!(fds_named("gralloc:memfd-broken-node").is_empty());
    }

    #[test]
    fn failed_udmabuf_conversion_closes_the_memfd_and_keeps_errno() {
        let dev = OwnedFd::from(tempfile::tempfile().unwrap());
        let heap = MemfdHeap::with_udmabuf_fd("memfd-failed-conversion", dev).unwrap();
        let err = heap.allocate(len(4096)).unwrap_err();
        assert_eq!(err, HeapError::alloc("memfd-failed-conversion", 4096, Errno::ENOTTY));
        assert!(fds_named("gralloc:memfd-failed-conversion").is_empty());
    }

    #[test]
    fn lengths_that_overflow_are_too_large() {
        let heap = MemfdHeap::plain("memfd-huge").unwrap();
        let err = heap.allocate(len(u64::MAX)).unwrap_err();
        assert_eq!(err, HeapError::TooLarge { heap: "memfd-huge".into(), len: u64::MAX });
        let err = heap.allocate(len(u64::MAX / 2 + 1)).unwrap_err();
        assert!(matches!(err, HeapError::TooLarge { .. }), "{err:?}");
        assert!(fds_named("gralloc:memfd-huge").is_empty());
    }

    #[test]
    fn names_with_nul_or_empty_are_refused() {
        assert!(matches!(
            MemfdHeap::plain("a\0b").unwrap_err(),
            HeapError::InvalidName { reason: NameProblem::ContainsNul, .. }
        ));
        assert!(matches!(
            MemfdHeap::plain("").unwrap_err(),
            HeapError::InvalidName { reason: NameProblem::Empty, .. }
        ));
    }

    #[test]
    fn long_names_are_cut_for_memfd_create() {
        let name = "é".repeat(300);
        let heap = MemfdHeap::plain(&name).unwrap();
        assert_eq!(heap.name(), name);
        assert!(heap.allocate(len(4096)).is_ok());
    }
}
