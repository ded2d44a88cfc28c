//! ION back end (`/dev/ion`, Linux ≤ 5.10 and Android common kernels).
//!
//! The ABI is detected once per device the way AOSP libion does it: `ION_IOC_FREE` on
//! handle 0 answers ENOTTY on the modern (4.12+) ABI, where FREE no longer exists; any other
//! answer means legacy. Legacy allocation is ALLOC → handle, SHARE → fd, FREE(handle); the
//! handle lives in a guard that issues FREE on drop, so a failed SHARE cannot leak it.

use std::fmt;
use std::num::NonZeroU64;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use crate::heap::{Heap, HeapCaps, HeapError, NotSupported};
use crate::retry::retry_eintr;
pub use crate::sys::ion::ION_FLAG_CACHED;
use crate::sys::ion::{
    KernelIon, ION_HEAP_TYPE_CARVEOUT, ION_HEAP_TYPE_CHUNK, ION_HEAP_TYPE_DMA,
    ION_HEAP_TYPE_SYSTEM_CONTIG,
};

/// The ioctls the ION back end issues; the real kernel is `sys::ion::KernelIon`, tests
/// script one.
pub(crate) trait IonIoctl: Send + Sync + fmt::Debug {
    /// Legacy `ION_IOC_FREE`; also the ABI probe (with handle 0).
    fn free(&self, handle: i32) -> nix::Result<()>;
    /// Legacy `ION_IOC_ALLOC`, returning a handle.
    fn alloc_legacy(&self, len: u64, heap_id_mask: u32, flags: u32) -> nix::Result<i32>;
    /// Legacy `ION_IOC_SHARE`: handle → dma-buf fd.
    fn share(&self, handle: i32) -> nix::Result<OwnedFd>;
    /// Modern `ION_IOC_ALLOC`, returning the dma-buf fd.
    fn alloc_modern(&self, len: u64, heap_id_mask: u32, flags: u32) -> nix::Result<OwnedFd>;
    /// `ION_IOC_HEAP_QUERY` (count, then entries).
    fn heap_query(&self) -> nix::Result<Vec<IonHeapInfo>>;
}

/// Which ION ABI the kernel speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IonAbi {
    /// ≤ 4.11: ALLOC returns a handle, SHARE turns it into an fd, FREE releases it.
    Legacy,
    /// 4.12+: ALLOC returns a dma-buf fd.
    Modern,
}

impl fmt::Display for IonAbi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Legacy => "legacy",
            Self::Modern => "modern",
        })
    }
}

/// One entry of `ION_IOC_HEAP_QUERY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IonHeapInfo {
    /// Kernel heap name (`ion_system_heap`, ...).
    pub name: String,
    /// `ION_HEAP_TYPE_*` (0 system, 1 system-contig, 2 carveout, 3 chunk, 4 DMA/CMA, ...).
    pub heap_type: u32,
    /// Heap id; the allocation mask is `1 << heap_id`.
    pub heap_id: u32,
}

/// An open ION device with its ABI, shared by all [`IonHeap`]s on it.
#[derive(Debug)]
pub struct IonDevice {
    path: PathBuf,
    abi: IonAbi,
    ioctl: Box<dyn IonIoctl>,
}

impl IonDevice {
    /// The usual device node.
    pub const DEFAULT_PATH: &'static str = "/dev/ion";

    /// Opens `/dev/ion` and detects its ABI.
    ///
    /// # Errors
    ///
    /// [`HeapError::NotPresent`] when the node does not exist, [`HeapError::Open`] when it
    /// cannot be opened.
    pub fn open() -> Result<Arc<Self>, HeapError> {
        Self::open_path(Path::new(Self::DEFAULT_PATH))
    }

    /// Opens the ION device at `path` (`O_RDONLY | O_CLOEXEC`, as libion) and detects its ABI.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub fn open_path(path: &Path) -> Result<Arc<Self>, HeapError> {
        let fd = retry_eintr(|| open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()))
            .map_err(|errno| HeapError::open(path.to_owned(), errno))?;
        let device = Self::with_ioctl(path.to_owned(), Box::new(KernelIon::new(fd)));
        log::info!("opened ion device {} ({} abi)", path.display(), device.abi);
        Ok(Arc::new(device))
    }

    /// Wraps an ioctl layer and probes its ABI (FREE(0): ENOTTY → modern, else legacy).
    pub(crate) fn with_ioctl(path: PathBuf, ioctl: Box<dyn IonIoctl>) -> Self {
        let abi = match retry_eintr(|| ioctl.free(0)) {
            Err(Errno::ENOTTY) => IonAbi::Modern,
            _ => IonAbi::Legacy,
        };
        Self { path, abi, ioctl }
    }

    /// The ABI detected when the device was opened.
    pub fn abi(&self) -> IonAbi {
        self.abi
    }

    /// The device node.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The heaps the kernel reports (`ION_IOC_HEAP_QUERY`, 4.10+).
    ///
    /// # Errors
    ///
    /// [`HeapError::Unsupported`] when the kernel predates HEAP_QUERY (ENOTTY),
    /// [`HeapError::Ioctl`] for any other failure.
    pub fn heaps(&self) -> Result<Vec<IonHeapInfo>, HeapError> {
        retry_eintr(|| self.ioctl.heap_query()).map_err(|errno| match errno {
            Errno::ENOTTY => HeapError::Unsupported {
                heap: self.path.display().to_string(),
                reason: NotSupported::NoHeapQuery,
            },
            errno => HeapError::Ioctl { path: self.path.clone(), op: "ION_IOC_HEAP_QUERY", errno },
        })
    }
}

/// Frees a legacy ION handle on drop, on every path.
struct LegacyHandle<'a> {
    ioctl: &'a dyn IonIoctl,
    handle: i32,
}

impl Drop for LegacyHandle<'_> {
    fn drop(&mut self) {
        if let Err(errno) = retry_eintr(|| self.ioctl.free(self.handle)) {
            log::error!("ION_IOC_FREE of handle {} failed: {errno}", self.handle);
        }
    }
}

/// One ION heap (or set of heaps, by mask) on a shared [`IonDevice`].
#[derive(Debug)]
pub struct IonHeap {
    device: Arc<IonDevice>,
    name: String,
    heap_id_mask: u32,
    flags: u32,
    caps: HeapCaps,
}

impl IonHeap {
    /// Resolves the kernel heap called `ion_heap_name` through HEAP_QUERY. Capabilities
    /// follow the heap type (system-contig, carveout, chunk and DMA are contiguous), `flags`
    /// ([`ION_FLAG_CACHED`]) and zeroing; override with [`with_caps`](Self::with_caps).
    ///
    /// # Errors
    ///
    /// [`HeapError::IonHeapNotFound`] when no heap has that name, errors of
    /// [`IonDevice::heaps`], [`HeapError::Unsupported`] for a heap id of 32 or more.
    pub fn by_name(
        device: &Arc<IonDevice>,
        ion_heap_name: &str,
        flags: u32,
    ) -> Result<Self, HeapError> {
        let heaps = device.heaps()?;
        let Some(info) = heaps.iter().find(|h| h.name == ion_heap_name) else {
            let available = heaps.iter().map(|h| h.name.clone()).collect();
            return Err(HeapError::IonHeapNotFound {
                path: device.path.clone(),
                name: ion_heap_name.to_owned(),
                available,
            });
        };
        let heap_id_mask =
            1u32.checked_shl(info.heap_id).ok_or_else(|| HeapError::Unsupported {
                heap: ion_heap_name.to_owned(),
                reason: NotSupported::HeapIdBeyondMask { id: info.heap_id },
            })?;
        let contiguous = matches!(
            info.heap_type,
            ION_HEAP_TYPE_SYSTEM_CONTIG
                | ION_HEAP_TYPE_CARVEOUT
                | ION_HEAP_TYPE_CHUNK
                | ION_HEAP_TYPE_DMA
        );
        let caps = HeapCaps {
            contiguous,
            cached: flags & ION_FLAG_CACHED != 0,
            protected: false,
            zeroed: true,
        };
        Ok(Self {
            device: Arc::clone(device),
            name: ion_heap_name.to_owned(),
            heap_id_mask,
            flags,
            caps,
        })
    }

    /// Uses a heap id mask from the board file (legacy kernels without HEAP_QUERY,
    /// platform-defined ids). Named `ion-mask-0x<mask>` until [`with_name`](Self::with_name).
    ///
    /// # Errors
    ///
    /// [`HeapError::Unsupported`] for an empty mask.
    pub fn by_mask(
        device: &Arc<IonDevice>,
        heap_id_mask: u32,
        flags: u32,
    ) -> Result<Self, HeapError> {
        let name = format!("ion-mask-{heap_id_mask:#x}");
        if heap_id_mask == 0 {
            return Err(HeapError::Unsupported { heap: name, reason: NotSupported::EmptyMask });
        }
        let caps =
            HeapCaps { cached: flags & ION_FLAG_CACHED != 0, zeroed: true, ..HeapCaps::default() };
        Ok(Self { device: Arc::clone(device), name, heap_id_mask, flags, caps })
    }

    /// Renames the heap (the board's name, used in logs and errors).
    #[must_use]
    pub fn with_name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// Replaces the capabilities (normally from the board file).
    #[must_use]
    pub fn with_caps(mut self, caps: HeapCaps) -> Self {
        self.caps = caps;
        self
    }

    /// The heap id mask passed to ALLOC.
    pub fn heap_id_mask(&self) -> u32 {
        self.heap_id_mask
    }

    /// The ION flags passed to ALLOC.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// The device this heap allocates from.
    pub fn device(&self) -> &Arc<IonDevice> {
        &self.device
    }

    fn allocate_legacy(&self, len: u64) -> nix::Result<OwnedFd> {
        let ioctl = self.device.ioctl.as_ref();
        let handle = retry_eintr(|| ioctl.alloc_legacy(len, self.heap_id_mask, self.flags))?;
        let handle = LegacyHandle { ioctl, handle };
        // The fd keeps the buffer alive; the guard frees the handle whether SHARE worked or not.
        retry_eintr(|| ioctl.share(handle.handle))
    }
}

impl Heap for IonHeap {
    fn name(&self) -> &str {
        &self.name
    }

    fn caps(&self) -> HeapCaps {
        self.caps
    }

    fn allocate(&self, len: NonZeroU64) -> Result<OwnedFd, HeapError> {
        let result = match self.device.abi {
            IonAbi::Legacy => self.allocate_legacy(len.get()),
            IonAbi::Modern => retry_eintr(|| {
                self.device.ioctl.alloc_modern(len.get(), self.heap_id_mask, self.flags)
            }),
        };
        let fd = result.map_err(|errno| HeapError::alloc(&self.name, len.get(), errno))?;
        log::debug!("ion heap {}: allocated {len} bytes", self.name);
        Ok(fd)
    }
}

#[cfg(test)]
pub(crate) mod scripted {
    //! A scripted ION kernel: records every call and answers from a script.

    use std::collections::VecDeque;
    use std::sync::{Mutex, PoisonError};

    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) enum Call {
        Free(i32),
        AllocLegacy { len: u64, mask: u32, flags: u32 },
        Share(i32),
        AllocModern { len: u64, mask: u32, flags: u32 },
        HeapQuery,
    }

    #[derive(Debug, Default)]
    pub(crate) struct Script {
        /// Answer to FREE; the probe (handle 0) is the first FREE.
        pub(crate) free: VecDeque<nix::Result<()>>,
        pub(crate) alloc_legacy: VecDeque<nix::Result<i32>>,
        /// `Ok(())` means "return a fresh memfd".
        pub(crate) share: VecDeque<nix::Result<()>>,
        pub(crate) alloc_modern: VecDeque<nix::Result<()>>,
        pub(crate) heaps: Option<nix::Result<Vec<IonHeapInfo>>>,
    }

    #[derive(Debug, Default)]
    pub(crate) struct ScriptedIon {
        script: Mutex<Script>,
        calls: Arc<Mutex<Vec<Call>>>,
    }

    impl ScriptedIon {
        pub(crate) fn new(script: Script) -> (Self, Arc<Mutex<Vec<Call>>>) {
            let calls = Arc::new(Mutex::new(Vec::new()));
            (Self { script: Mutex::new(script), calls: Arc::clone(&calls) }, calls)
        }

        fn record(&self, call: Call) -> std::sync::MutexGuard<'_, Script> {
            self.calls.lock().unwrap_or_else(PoisonError::into_inner).push(call);
            self.script.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    fn fresh_fd() -> nix::Result<OwnedFd> {
        nix::sys::memfd::memfd_create(c"scripted-ion", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
    }

    impl IonIoctl for ScriptedIon {
        fn free(&self, handle: i32) -> nix::Result<()> {
            self.record(Call::Free(handle)).free.pop_front().unwrap_or(Ok(()))
        }
        fn alloc_legacy(&self, len: u64, mask: u32, flags: u32) -> nix::Result<i32> {
            self.record(Call::AllocLegacy { len, mask, flags })
                .alloc_legacy
                .pop_front()
                .unwrap_or(Ok(1))
        }
        fn share(&self, handle: i32) -> nix::Result<OwnedFd> {
            self.record(Call::Share(handle))
                .share
                .pop_front()
                .unwrap_or(Ok(()))
                .and_then(|()| fresh_fd())
        }
        fn alloc_modern(&self, len: u64, mask: u32, flags: u32) -> nix::Result<OwnedFd> {
            let answer =
                self.record(Call::AllocModern { len, mask, flags }).alloc_modern.pop_front();
            answer.unwrap_or(Ok(())).and_then(|()| fresh_fd())
        }
        fn heap_query(&self) -> nix::Result<Vec<IonHeapInfo>> {
            self.record(Call::HeapQuery).heaps.clone().unwrap_or(Err(Errno::ENOTTY))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::scripted::{Call, Script, ScriptedIon};
    use super::*;

    const LEN: NonZeroU64 = match NonZeroU64::new(1 << 20) {
        Some(len) => len,
        None => unreachable!(),
    };

    fn device(script: Script) -> (Arc<IonDevice>, Arc<Mutex<Vec<Call>>>) {
        let (ion, calls) = ScriptedIon::new(script);
        (Arc::new(IonDevice::with_ioctl("/dev/ion".into(), Box::new(ion))), calls)
    }

    fn legacy_script() -> Script {
        Script { free: [Err(Errno::EINVAL)].into(), ..Script::default() }
    }

    fn modern_script() -> Script {
        Script { free: [Err(Errno::ENOTTY)].into(), ..Script::default() }
    }

    fn calls(log: &Mutex<Vec<Call>>) -> Vec<Call> {
        log.lock().unwrap().clone()
    }

    fn ion_5_10_heaps() -> Vec<IonHeapInfo> {
        vec![
            IonHeapInfo { name: "ion_system_heap".into(), heap_type: 0, heap_id: 0 },
            IonHeapInfo { name: "ion_system_contig_heap".into(), heap_type: 1, heap_id: 1 },
            IonHeapInfo { name: "reserved".into(), heap_type: 4, heap_id: 2 },
        ]
    }

    #[test]
    fn free_probe_enotty_means_modern() {
        let (dev, log) = device(modern_script());
        assert_eq!(dev.abi(), IonAbi::Modern);
        assert_eq!(calls(&log), [Call::Free(0)]);
    }

    #[test]
    fn free_probe_einval_means_legacy() {
        let (dev, _) = device(legacy_script());
        assert_eq!(dev.abi(), IonAbi::Legacy);
    }

    #[test]
    fn free_probe_success_means_legacy() {
        let (dev, _) = device(Script { free: [Ok(())].into(), ..Script::default() });
        assert_eq!(dev.abi(), IonAbi::Legacy);
    }

    #[test]
    fn free_probe_retries_eintr_before_deciding() {
        let (dev, log) = device(Script {
            free: [Err(Errno::EINTR), Err(Errno::ENOTTY)].into(),
            ..Script::default()
        });
        assert_eq!(dev.abi(), IonAbi::Modern);
        assert_eq!(calls(&log), [Call::Free(0), Call::Free(0)]);
    }

    #[test]
    fn abi_is_probed_once_per_device_not_per_allocation() {
        let (dev, log) = device(Script { heaps: Some(Ok(ion_5_10_heaps())), ..modern_script() });
        let heap = IonHeap::by_name(&dev, "ion_system_heap", ION_FLAG_CACHED).unwrap();
        heap.allocate(LEN).unwrap();
        heap.allocate(LEN).unwrap();
        let frees = calls(&log).iter().filter(|c| matches!(c, Call::Free(_))).count();
        assert_eq!(frees, 1);
    }

    #[test]
    fn modern_alloc_passes_mask_and_flags_and_returns_the_fd() {
        let (dev, log) = device(Script { heaps: Some(Ok(ion_5_10_heaps())), ..modern_script() });
        let heap = IonHeap::by_name(&dev, "reserved", 0).unwrap();
        let fd = heap.allocate(LEN).unwrap();
        assert!(crate::dmabuf::FdInfo::read(std::os::fd::AsFd::as_fd(&fd)).unwrap().is_cloexec());
        assert_eq!(
            calls(&log).last(),
            Some(&Call::AllocModern { len: 1 << 20, mask: 1 << 2, flags: 0 })
        );
        assert_eq!(
            heap.caps(),
            HeapCaps { contiguous: true, cached: false, protected: false, zeroed: true }
        );
    }

    #[test]
    fn modern_enomem_is_exhaustion_with_heap_name_and_len() {
        let script = Script { alloc_modern: [Err(Errno::ENOMEM)].into(), ..modern_script() };
        let (dev, _) = device(script);
        let heap = IonHeap::by_mask(&dev, 1, 0).unwrap().with_name("ion-camera");
        let err = heap.allocate(LEN).unwrap_err();
        assert!(err.is_exhausted());
        assert_eq!(err, HeapError::alloc("ion-camera", 1 << 20, Errno::ENOMEM));
    }

    #[test]
    fn modern_alloc_retries_eintr() {
        let script = Script {
            alloc_modern: [Err(Errno::EINTR), Err(Errno::EINTR)].into(),
            ..modern_script()
        };
        let (dev, log) = device(script);
        IonHeap::by_mask(&dev, 1, 0).unwrap().allocate(LEN).unwrap();
        assert_eq!(calls(&log).len(), 4); // probe + 3 attempts
    }

    #[test]
    fn legacy_alloc_shares_then_frees_the_handle() {
        let script = Script { alloc_legacy: [Ok(7)].into(), ..legacy_script() };
        let (dev, log) = device(script);
        let heap = IonHeap::by_mask(&dev, 1 << 25, ION_FLAG_CACHED).unwrap();
        let fd = heap.allocate(LEN);
        assert!(fd.is_ok());
        assert_eq!(
            calls(&log),
            [
                Call::Free(0),
                Call::AllocLegacy { len: 1 << 20, mask: 1 << 25, flags: ION_FLAG_CACHED },
                Call::Share(7),
                Call::Free(7),
            ]
        );
    }

    #[test]
    fn legacy_share_failure_after_alloc_still_frees_the_handle() {
        let script = Script {
            alloc_legacy: [Ok(9)].into(),
            share: [Err(Errno::EMFILE)].into(),
            ..legacy_script()
        };
        let (dev, log) = device(script);
        let heap = IonHeap::by_mask(&dev, 1, 0).unwrap();
        let err = heap.allocate(LEN).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EMFILE));
        assert!(err.is_transient());
        assert_eq!(
            calls(&log)[1..],
            [Call::AllocLegacy { len: 1 << 20, mask: 1, flags: 0 }, Call::Share(9), Call::Free(9)]
        );
    }

    #[test]
    fn legacy_alloc_failure_issues_no_share_and_no_free() {
        let script = Script { alloc_legacy: [Err(Errno::ENOMEM)].into(), ..legacy_script() };
        let (dev, log) = device(script);
        let err = IonHeap::by_mask(&dev, 1, 0).unwrap().allocate(LEN).unwrap_err();
        assert!(err.is_exhausted());
        assert_eq!(calls(&log)[1..], [Call::AllocLegacy { len: 1 << 20, mask: 1, flags: 0 }]);
    }

    #[test]
    fn heap_query_resolves_names_and_reports_unknown_ones() {
        let (dev, _) = device(Script { heaps: Some(Ok(ion_5_10_heaps())), ..modern_script() });
        assert_eq!(dev.heaps().unwrap(), ion_5_10_heaps());
        let system = IonHeap::by_name(&dev, "ion_system_heap", ION_FLAG_CACHED).unwrap();
        assert_eq!((system.heap_id_mask(), system.flags()), (1, ION_FLAG_CACHED));
        assert!(system.caps().cached && !system.caps().contiguous);
        let err = IonHeap::by_name(&dev, "camera", 0).unwrap_err();
        assert!(err.is_not_present());
        assert_eq!(
            err.to_string(),
            "ion heap \"camera\" not found on /dev/ion (available: ion_system_heap, ion_system_contig_heap, reserved)"
        );
    }

    #[test]
    fn heap_query_enotty_is_unsupported_and_other_errors_keep_errno() {
        let (old, _) = device(legacy_script());
        assert!(matches!(
            old.heaps().unwrap_err(),
            HeapError::Unsupported { reason: NotSupported::NoHeapQuery, .. }
        ));
        let (broken, _) = device(Script { heaps: Some(Err(Errno::EINVAL)), ..modern_script() });
        let err = broken.heaps().unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EINVAL));
    }

    #[test]
    fn heap_id_beyond_mask_width_is_unsupported() {
        let heaps = vec![IonHeapInfo { name: "far".into(), heap_type: 0, heap_id: 32 }];
        let (dev, _) = device(Script { heaps: Some(Ok(heaps)), ..modern_script() });
        assert!(matches!(
            IonHeap::by_name(&dev, "far", 0).unwrap_err(),
            HeapError::Unsupported { reason: NotSupported::HeapIdBeyondMask { id: 32 }, .. }
        ));
    }

    #[test]
    fn empty_mask_is_refused() {
        let (dev, _) = device(modern_script());
        assert!(matches!(
            IonHeap::by_mask(&dev, 0, 0).unwrap_err(),
            HeapError::Unsupported { reason: NotSupported::EmptyMask, .. }
        ));
    }

    #[test]
    fn missing_device_is_not_present() {
        let dir = tempfile::tempdir().unwrap();
        let err = IonDevice::open_path(&dir.path().join("ion")).unwrap_err();
        assert!(err.is_not_present());
    }

    #[test]
    fn regular_file_as_device_probes_modern_and_fails_heap_query() {
        // A regular file answers every ioctl with ENOTTY, like a modern ION answers FREE.
        let file = tempfile::NamedTempFile::new().unwrap();
        let dev = IonDevice::open_path(file.path()).unwrap();
        assert_eq!(dev.abi(), IonAbi::Modern);
        assert!(matches!(dev.heaps().unwrap_err(), HeapError::Unsupported { .. }));
    }
}
