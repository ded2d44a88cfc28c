//! The [`Heap`] trait, capabilities and the crate's error type.

use std::fmt;
use std::num::NonZeroU64;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::errno::Errno;

/// A source of dma-buf fds. Opened once, shared by all binder threads.
///
/// Implementations keep no per-request state and open no device per call.
pub trait Heap: Send + Sync + fmt::Debug {
    /// Name used in the board file and in logs.
    fn name(&self) -> &str;

    /// What the heap can do (contiguous, cached, protected, zeroes memory).
    fn caps(&self) -> HeapCaps;

    /// One buffer of at least `len` bytes, rounded up to a page multiple. The fd is a
    /// dma-buf (a sealed memfd on the plain memfd fallback), `O_RDWR | O_CLOEXEC`, owned by
    /// the caller. Interrupted calls are retried [`crate::EINTR_RETRY_LIMIT`] times.
    ///
    /// # Errors
    ///
    /// [`HeapError::Alloc`] with the kernel's errno (see [`HeapError::is_exhausted`] and
    /// [`HeapError::is_transient`]), or [`HeapError::TooLarge`] when `len` cannot be
    /// represented by the back end.
    fn allocate(&self, len: NonZeroU64) -> Result<OwnedFd, HeapError>;
}

/// What a heap's buffers are like. Data, so a board file can be checked against it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapCaps {
    /// Physically contiguous (CMA, carveout): usable by devices without an IOMMU.
    pub contiguous: bool,
    /// CPU mappings are cached (CPU access must be bracketed with [`crate::dmabuf::sync`]).
    pub cached: bool,
    /// Protected (secure) memory: the CPU must not map it.
    pub protected: bool,
    /// Fresh buffers read as zero.
    pub zeroed: bool,
}

impl fmt::Display for HeapCaps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (self.contiguous, "contiguous"),
            (self.cached, "cached"),
            (self.protected, "protected"),
            (self.zeroed, "zeroed"),
        ];
        let mut first = true;
        for (_, name) in names.iter().filter(|(set, _)| *set) {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(name)?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Why a heap could not be opened or could not allocate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeapError {
    /// The device node does not exist (ENOENT): the board names a heap this kernel lacks.
    #[error("{} is not present", path.display())]
    NotPresent {
        /// Device node that was looked for.
        path: PathBuf,
    },
    /// The device node exists but could not be opened (EACCES, ENODEV, ...).
    #[error("cannot open {}", path.display())]
    Open {
        /// Device node.
        path: PathBuf,
        /// Error from `open(2)`.
        #[source]
        errno: Errno,
    },
    /// The kernel refused an allocation.
    #[error("heap {heap}: allocating {len} bytes failed")]
    Alloc {
        /// Heap name (as in [`Heap::name`]).
        heap: String,
        /// Requested length in bytes.
        len: u64,
        /// Error from the allocation path (ioctl, memfd_create, ftruncate, ...).
        #[source]
        errno: Errno,
    },
    /// The length cannot be represented by this back end (page rounding or `off_t` overflow).
    #[error("heap {heap}: {len} bytes is too large for this back end")]
    TooLarge {
        /// Heap name.
        heap: String,
        /// Requested length in bytes.
        len: u64,
    },
    /// The device cannot do what was asked (e.g. HEAP_QUERY on a pre-4.10 ION).
    #[error("{heap}: {reason}")]
    Unsupported {
        /// Heap name or device path.
        heap: String,
        /// What is missing.
        reason: NotSupported,
    },
    /// A heap name that cannot name a device node or memfd.
    #[error("heap name {name:?} is not valid: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: NameProblem,
    },
    /// A device query other than allocation failed.
    #[error("{}: {op} failed", path.display())]
    Ioctl {
        /// Device node.
        path: PathBuf,
        /// Operation name (`ION_IOC_HEAP_QUERY`, ...).
        op: &'static str,
        /// Error from the ioctl.
        #[source]
        errno: Errno,
    },
    /// ION has no heap of that name.
    #[error(
        "ion heap {name:?} not found on {} (available: {})",
        path.display(),
        available.join(", ")
    )]
    IonHeapNotFound {
        /// ION device node.
        path: PathBuf,
        /// Requested ION heap name.
        name: String,
        /// The names HEAP_QUERY reported, in its order.
        available: Vec<String>,
    },
}

/// Why a heap name cannot name a device node or memfd ([`HeapError::InvalidName`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    /// The name is empty.
    #[error("empty")]
    Empty,
    /// `.` or `..`: a directory, not a device.
    #[error("not a device name")]
    DotName,
    /// A `/` would leave the heap directory.
    #[error("contains '/'")]
    ContainsSlash,
    /// A NUL cannot be part of a path or a memfd name.
    #[error("contains NUL")]
    ContainsNul,
}

/// What a device or build cannot do ([`HeapError::Unsupported`]): one value per case, so
/// callers and tests match on it rather than on text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotSupported {
    /// ION_IOC_HEAP_QUERY answered ENOTTY: a kernel before 4.10, where heaps are named by mask.
    #[error("ION_IOC_HEAP_QUERY is not supported (kernel before 4.10); use a heap mask")]
    NoHeapQuery,
    /// An ION heap id of 32 or more cannot be named by the 32-bit heap mask.
    #[error("heap id {id} does not fit a 32-bit heap mask")]
    HeapIdBeyondMask {
        /// The heap id HEAP_QUERY reported.
        id: u32,
    },
    /// An ION heap id mask of 0 names no heap.
    #[error("empty heap id mask")]
    EmptyMask,
    /// The scripted fake heap exists only in test builds (feature `fake`).
    #[error("the fake heap is not built into this binary (test builds only)")]
    FakeNotBuilt,
}

impl HeapError {
    /// The kernel error behind this one, if any.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Self::Open { errno, .. } | Self::Alloc { errno, .. } | Self::Ioctl { errno, .. } => {
                Some(*errno)
            }
            Self::NotPresent { .. }
            | Self::TooLarge { .. }
            | Self::Unsupported { .. }
            | Self::InvalidName { .. }
            | Self::IonHeapNotFound { .. } => None,
        }
    }

    /// The heap itself ran out (allocation failed with ENOMEM or EBUSY): another heap may
    /// still succeed, so a rule that allows fallback may try the next one.
    pub fn is_exhausted(&self) -> bool {
        matches!(self, Self::Alloc { errno: Errno::ENOMEM | Errno::EBUSY, .. })
    }

    /// A temporary lack of resources: [`is_exhausted`](Self::is_exhausted), or the process
    /// or system ran out of fds (EMFILE, ENFILE), or the call stayed interrupted (EINTR,
    /// EAGAIN) after the retry budget. Maps to `NO_RESOURCES`; fd exhaustion is not a reason
    /// to try another heap.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Alloc {
                errno: Errno::ENOMEM
                    | Errno::EBUSY
                    | Errno::EMFILE
                    | Errno::ENFILE
                    | Errno::EINTR
                    | Errno::EAGAIN,
                ..
            }
        )
    }

    /// The heap (device node or ION heap name) does not exist on this system.
    pub fn is_not_present(&self) -> bool {
        matches!(self, Self::NotPresent { .. } | Self::IonHeapNotFound { .. })
    }

    /// Requested length in bytes, for allocation errors.
    pub fn requested_len(&self) -> Option<u64> {
        match self {
            Self::Alloc { len, .. } | Self::TooLarge { len, .. } => Some(*len),
            _ => None,
        }
    }

    /// Heap name, for allocation errors.
    pub fn heap_name(&self) -> Option<&str> {
        match self {
            Self::Alloc { heap, .. }
            | Self::TooLarge { heap, .. }
            | Self::Unsupported { heap, .. } => Some(heap),
            _ => None,
        }
    }

    pub(crate) fn alloc(heap: &str, len: u64, errno: Errno) -> Self {
        Self::Alloc { heap: heap.to_owned(), len, errno }
    }

    pub(crate) fn open(path: PathBuf, errno: Errno) -> Self {
        if errno == Errno::ENOENT {
            Self::NotPresent { path }
        } else {
            Self::Open { path, errno }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn alloc_err(errno: Errno) -> HeapError {
        HeapError::alloc("system", 4096, errno)
    }

    #[test]
    fn enomem_and_ebusy_are_exhaustion() {
        assert!(alloc_err(Errno::ENOMEM).is_exhausted());
        assert!(alloc_err(Errno::EBUSY).is_exhausted());
        assert!(!alloc_err(Errno::EINVAL).is_exhausted());
        assert!(!alloc_err(Errno::EMFILE).is_exhausted());
    }

    #[test]
    fn fd_exhaustion_is_transient_but_einval_is_not() {
        for errno in [Errno::ENOMEM, Errno::EBUSY, Errno::EMFILE, Errno::ENFILE, Errno::EINTR] {
            assert!(alloc_err(errno).is_transient(), "{errno}");
        }
        assert!(!alloc_err(Errno::EINVAL).is_transient());
        assert!(!HeapError::NotPresent { path: "/dev/x".into() }.is_transient());
    }

    #[test]
    fn alloc_error_keeps_heap_len_and_errno_as_source() {
        let err = alloc_err(Errno::ENOMEM);
        assert_eq!(err.to_string(), "heap system: allocating 4096 bytes failed");
        assert_eq!(err.errno(), Some(Errno::ENOMEM));
        assert_eq!((err.heap_name(), err.requested_len()), (Some("system"), Some(4096)));
        assert_eq!(err.source().unwrap().to_string(), Errno::ENOMEM.to_string());
    }

    #[test]
    fn enoent_on_open_is_not_present_and_other_errnos_are_open_errors() {
        let missing = HeapError::open("/dev/dma_heap/x".into(), Errno::ENOENT);
        assert!(missing.is_not_present());
        assert_eq!(missing.to_string(), "/dev/dma_heap/x is not present");
        let denied = HeapError::open("/dev/dma_heap/x".into(), Errno::EACCES);
        assert!(!denied.is_not_present());
        assert_eq!(denied.errno(), Some(Errno::EACCES));
    }

    #[test]
    fn caps_display_lists_set_flags() {
        assert_eq!(HeapCaps::default().to_string(), "none");
        let caps = HeapCaps { contiguous: true, zeroed: true, ..Default::default() };
        assert_eq!(caps.to_string(), "contiguous,zeroed");
    }
}
