//! Heap declarations of a board (`[heaps.<name>]`): which kernel back end, and what the heap
//! guarantees. The service opens them; this crate only describes them.

pub(crate) mod convert;

use std::fmt;

/// Index of a heap in [`crate::UsageMap::heaps`]; stable for the life of the map, so the
/// service can keep opened heaps in a vector indexed by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeapId(pub(crate) u8);

impl HeapId {
    /// Position in [`crate::UsageMap::heaps`].
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    pub(crate) fn bit(self) -> u64 {
        1u64 << (self.0 & 63)
    }
}

/// One declared heap: its board name, back end and properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapDecl {
    /// Position in [`crate::UsageMap::heaps`].
    pub id: HeapId,
    /// The name rules use (the table key of `[heaps.<name>]`).
    pub name: String,
    /// Which kernel interface serves it.
    pub backend: HeapBackend,
    /// What the heap guarantees.
    pub props: HeapProps,
}

/// The kernel interface behind a heap (`kind = ...` in the board file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeapBackend {
    /// `kind = "dma-heap"`: `/dev/dma_heap/<name>`; the first of `names` present at start-up
    /// is used (kernels and device trees name the same CMA area differently).
    DmaHeap {
        /// Candidate device names, in preference order; never empty.
        names: Vec<String>,
    },
    /// `kind = "ion"`: `/dev/ion`. ION 4.12+ resolves `heap_name` with ION_IOC_HEAP_QUERY;
    /// legacy ION (before 4.12) uses `mask`. At least one of the two is set.
    Ion {
        /// Heap name reported by HEAP_QUERY (`ion_system_heap`, `linux,cma`, ...).
        heap_name: Option<String>,
        /// Legacy `heap_id_mask` (e.g. `1 << 0` system, `1 << 4` DMA/CMA); non-zero.
        mask: Option<u32>,
        /// ION allocation flags (`ION_FLAG_CACHED = 1`); consistent with `props.cached`.
        flags: u32,
    },
    /// `kind = "memfd"`: sealed memfd, exported through udmabuf when the host has it. For
    /// hosts without kernel heaps.
    Memfd,
    /// `kind = "fake"`: a scripted heap for fault-injection tests.
    Fake(FakeBehaviour),
}

impl HeapBackend {
    /// The `kind` string of the board file.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DmaHeap { .. } => "dma-heap",
            Self::Ion { .. } => "ion",
            Self::Memfd => "memfd",
            Self::Fake(_) => "fake",
        }
    }
}

/// Script of a fake heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FakeBehaviour {
    /// Succeed this many times, then fail every call with `errno`; `None` never fails.
    pub fail_after: Option<u32>,
    /// The failure (default ENOMEM).
    pub errno: FakeErrno,
    /// Sleep before answering, in milliseconds (0 = none).
    pub delay_ms: u32,
    /// Slow mode: hold the heap this long per call, one call at a time, in milliseconds
    /// (0 = none); a stand-in for a CMA heap under load.
    pub hold_ms: u32,
}

/// Errnos a fake heap can be scripted to return (Linux numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum FakeErrno {
    Eperm,
    Eintr,
    Eio,
    Enomem,
    Eacces,
    Ebusy,
    Enodev,
    Einval,
    Enfile,
    Emfile,
    Enospc,
}

impl FakeErrno {
    /// The Linux errno value.
    pub fn raw(self) -> i32 {
        match self {
            Self::Eperm => 1,
            Self::Eintr => 4,
            Self::Eio => 5,
            Self::Enomem => 12,
            Self::Eacces => 13,
            Self::Ebusy => 16,
            Self::Enodev => 19,
            Self::Einval => 22,
            Self::Enfile => 23,
            Self::Emfile => 24,
            Self::Enospc => 28,
        }
    }

    /// The symbolic name (`"ENOMEM"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Eperm => "EPERM",
            Self::Eintr => "EINTR",
            Self::Eio => "EIO",
            Self::Enomem => "ENOMEM",
            Self::Eacces => "EACCES",
            Self::Ebusy => "EBUSY",
            Self::Enodev => "ENODEV",
            Self::Einval => "EINVAL",
            Self::Enfile => "ENFILE",
            Self::Emfile => "EMFILE",
            Self::Enospc => "ENOSPC",
        }
    }
}

impl fmt::Display for FakeErrno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a heap guarantees. Defaults (when a key is absent): not contiguous, cached, not
/// protected, zeroed — the properties of the dma-buf `system` heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeapProps {
    /// Physically contiguous buffers (CMA, carveouts): usable by devices without an IOMMU.
    pub contiguous: bool,
    /// CPU mappings are cached (needs DMA_BUF_IOCTL_SYNC around CPU access).
    pub cached: bool,
    /// Secure memory: the CPU cannot map it; only PROTECTED usage may go there.
    pub protected: bool,
    /// Every buffer is zero-filled before it is handed out. Required for any rule that CPU
    /// usage can reach.
    pub zeroed: bool,
}

impl Default for HeapProps {
    fn default() -> Self {
        Self { contiguous: false, cached: true, protected: false, zeroed: true }
    }
}

impl fmt::Display for HeapProps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { contiguous, cached, protected, zeroed } = *self;
        f.write_str(if contiguous { "contiguous" } else { "scattered" })?;
        f.write_str(if cached { ", cached" } else { ", uncached" })?;
        if protected {
            f.write_str(", protected")?;
        }
        f.write_str(if zeroed { ", zeroed" } else { ", NOT zeroed" })
    }
}

impl fmt::Display for HeapDecl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.name, self.backend.kind())?;
        match &self.backend {
            HeapBackend::DmaHeap { names } => write!(f, " {}", names.join(" | "))?,
            HeapBackend::Ion { heap_name, mask, flags } => {
                if let Some(name) = heap_name {
                    write!(f, " heap_name={name}")?;
                }
                if let Some(mask) = mask {
                    write!(f, " mask={mask:#x}")?;
                }
                write!(f, " flags={flags:#x}")?;
            }
            HeapBackend::Memfd => {}
            HeapBackend::Fake(fake) => {
                match fake.fail_after {
                    Some(n) => write!(f, " fails with {} after {n} buffers", fake.errno)?,
                    None => f.write_str(" never fails")?,
                }
                if fake.delay_ms > 0 {
                    write!(f, ", delay {} ms", fake.delay_ms)?;
                }
                if fake.hold_ms > 0 {
                    write!(f, ", holds {} ms per call", fake.hold_ms)?;
                }
            }
        }
        write!(f, "; {})", self.props)
    }
}
