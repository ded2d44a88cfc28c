//! `/dev/dma_heap/<name>` back end (Linux 5.6+).

use std::num::NonZeroU64;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use crate::heap::{Heap, HeapCaps, HeapError, NameProblem};
use crate::retry::retry_eintr;
use crate::sys;

/// One dma-buf heap device, opened once (`O_RDONLY | O_CLOEXEC`, as Android does).
#[derive(Debug)]
pub struct DmaHeap {
    name: String,
    path: PathBuf,
    dev: OwnedFd,
    caps: HeapCaps,
}

impl DmaHeap {
    /// Directory holding the heap nodes.
    pub const DEFAULT_DIR: &'static str = "/dev/dma_heap";

    /// Opens `/dev/dma_heap/<name>`. Capabilities default to `zeroed` only (every upstream
    /// heap zeroes); set the real ones from the board file with [`with_caps`](Self::with_caps).
    ///
    /// # Errors
    ///
    /// [`HeapError::NotPresent`] when the node does not exist, [`HeapError::Open`] with the
    /// errno when it exists but cannot be opened, [`HeapError::InvalidName`] for names that
    /// are empty, `.`/`..` or contain `/` or NUL.
    pub fn open(name: &str) -> Result<Self, HeapError> {
        Self::open_in(Path::new(Self::DEFAULT_DIR), name)
    }

    /// Opens `<dir>/<name>` (tests and unusual layouts).
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub fn open_in(dir: &Path, name: &str) -> Result<Self, HeapError> {
        validate_node_name(name)?;
        let path = dir.join(name);
        let dev = retry_eintr(|| open(&path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()))
            .map_err(|errno| HeapError::open(path.clone(), errno))?;
        log::info!("opened dma-heap {name} at {}", path.display());
        Ok(Self {
            name: name.to_owned(),
            path,
            dev,
            caps: HeapCaps { zeroed: true, ..HeapCaps::default() },
        })
    }

    /// Replaces the capabilities (normally from the board file).
    #[must_use]
    pub fn with_caps(mut self, caps: HeapCaps) -> Self {
        self.caps = caps;
        self
    }

    /// The device node this heap was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Heap for DmaHeap {
    fn name(&self) -> &str {
        &self.name
    }

    fn caps(&self) -> HeapCaps {
        self.caps
    }

    fn allocate(&self, len: NonZeroU64) -> Result<OwnedFd, HeapError> {
        let fd = retry_eintr(|| sys::dma_heap::alloc(self.dev.as_fd(), len.get()))
            .map_err(|errno| HeapError::alloc(&self.name, len.get(), errno))?;
        log::debug!("dma-heap {}: allocated {len} bytes", self.name);
        Ok(fd)
    }
}

/// Refuses names that would escape the heap directory or cannot be a path component.
pub(crate) fn validate_node_name(name: &str) -> Result<(), HeapError> {
    let reason = if name.is_empty() {
        Some(NameProblem::Empty)
    } else if name == "." || name == ".." {
        Some(NameProblem::DotName)
    } else if name.contains('/') {
        Some(NameProblem::ContainsSlash)
    } else if name.contains('\0') {
        Some(NameProblem::ContainsNul)
    } else {
        None
    };
    match reason {
        Some(reason) => Err(HeapError::InvalidName { name: name.to_owned(), reason }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use nix::errno::Errno;

    use super::*;

    #[test]
    fn missing_node_is_not_present() {
        let dir = tempfile::tempdir().unwrap();
        let err = DmaHeap::open_in(dir.path(), "system").unwrap_err();
        assert_eq!(err, HeapError::NotPresent { path: dir.path().join("system") });
    }

    #[test]
    fn names_that_escape_the_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("", NameProblem::Empty),
            (".", NameProblem::DotName),
            ("..", NameProblem::DotName),
            ("../system", NameProblem::ContainsSlash),
            ("a/b", NameProblem::ContainsSlash),
            ("a\0b", NameProblem::ContainsNul),
        ];
        for (name, problem) in cases {
            let err = DmaHeap::open_in(dir.path(), name).unwrap_err();
            assert_eq!(err, HeapError::InvalidName { name: name.into(), reason: problem });
        }
    }

    #[test]
    fn allocation_on_a_non_heap_node_reports_heap_len_and_errno() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("system"), b"").unwrap();
        let heap = DmaHeap::open_in(dir.path(), "system").unwrap();
        let err = heap.allocate(NonZeroU64::new(4096).unwrap()).unwrap_err();
        assert_eq!(err, HeapError::alloc("system", 4096, Errno::ENOTTY));
        assert_eq!(heap.caps(), HeapCaps { zeroed: true, ..HeapCaps::default() });
    }

    #[test]
    fn with_caps_replaces_caps() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("reserved"), b"").unwrap();
        let caps = HeapCaps { contiguous: true, cached: true, protected: false, zeroed: true };
        let heap = DmaHeap::open_in(dir.path(), "reserved").unwrap().with_caps(caps);
        assert_eq!(
            (heap.name(), heap.caps(), heap.path()),
            ("reserved", caps, dir.path().join("reserved").as_path())
        );
    }
}
