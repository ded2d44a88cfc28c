//! Start-up discovery of the heap devices a kernel offers.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use crate::dma_heap::DmaHeap;
use crate::heap::HeapError;
use crate::ion::{IonAbi, IonDevice, IonHeapInfo};
use crate::retry::retry_eintr;

/// Whether a device could be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceStatus {
    /// The node (or directory) does not exist.
    NotPresent,
    /// The node exists and opened.
    Available,
    /// The node exists but failed (open error with errno and path).
    Failed(HeapError),
}

/// One device node and its status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceProbe {
    /// Node path.
    pub path: PathBuf,
    /// What happened when opening it.
    pub status: DeviceStatus,
}

impl DeviceProbe {
    /// Whether the device is usable.
    pub fn is_available(&self) -> bool {
        self.status == DeviceStatus::Available
    }
}

/// One `/dev/dma_heap` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmaHeapProbe {
    /// Heap name (the node's file name).
    pub name: String,
    /// The node and whether it opened.
    pub device: DeviceProbe,
}

/// What [`probe`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeReport {
    /// The `/dev/dma_heap` directory itself.
    pub dma_heap_dir: DeviceProbe,
    /// Its entries, sorted by name.
    pub dma_heaps: Vec<DmaHeapProbe>,
    /// `/dev/ion`.
    pub ion: DeviceProbe,
    /// Detected ION ABI, when `/dev/ion` opened.
    pub ion_abi: Option<IonAbi>,
    /// ION heaps from HEAP_QUERY (empty when ION is absent or the query failed).
    pub ion_heaps: Vec<IonHeapInfo>,
    /// Why HEAP_QUERY failed, when it did.
    pub ion_heaps_error: Option<HeapError>,
    /// `/dev/udmabuf` (opened read-write, as [`crate::MemfdHeap`] does).
    pub udmabuf: DeviceProbe,
}

impl ProbeReport {
    /// Names of the dma-heaps that opened.
    pub fn available_dma_heaps(&self) -> Vec<&str> {
        self.dma_heaps.iter().filter(|h| h.device.is_available()).map(|h| h.name.as_str()).collect()
    }
}

/// Probes the real `/dev`.
pub fn probe() -> ProbeReport {
    probe_at(Path::new("/"))
}

/// Probes `<root>/dev/{dma_heap/*,ion,udmabuf}` (tests use a temporary tree). Each present
/// node is opened once and closed again; ION also gets its ABI detected and heaps queried.
pub fn probe_at(root: &Path) -> ProbeReport {
    let dev = root.join("dev");
    let heap_dir = dev.join("dma_heap");
    let (dma_heap_dir, dma_heaps) = probe_dma_heaps(&heap_dir);
    let ion_path = dev.join("ion");
    let (ion, ion_abi, ion_heaps, ion_heaps_error) = match IonDevice::open_path(&ion_path) {
        Ok(device) => {
            let (heaps, error) = match device.heaps() {
                Ok(heaps) => (heaps, None),
                Err(err) => (Vec::new(), Some(err)),
            };
            (
                DeviceProbe { path: ion_path, status: DeviceStatus::Available },
                Some(device.abi()),
                heaps,
                error,
            )
        }
        Err(err) => {
            (DeviceProbe { path: ion_path, status: status_of(err) }, None, Vec::new(), None)
        }
    };
    let udmabuf_path = dev.join("udmabuf");
    let udmabuf = match retry_eintr(|| {
        open(&udmabuf_path, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
    }) {
        Ok(_fd) => DeviceProbe { path: udmabuf_path, status: DeviceStatus::Available },
        Err(errno) => {
            let status = status_of(HeapError::open(udmabuf_path.clone(), errno));
            DeviceProbe { path: udmabuf_path, status }
        }
    };
    let report =
        ProbeReport { dma_heap_dir, dma_heaps, ion, ion_abi, ion_heaps, ion_heaps_error, udmabuf };
    log::info!("heap probe:\n{report}");
    report
}

fn status_of(err: HeapError) -> DeviceStatus {
    if err.is_not_present() {
        DeviceStatus::NotPresent
    } else {
        DeviceStatus::Failed(err)
    }
}

fn probe_dma_heaps(dir: &Path) -> (DeviceProbe, Vec<DmaHeapProbe>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            let status = if err.kind() == io::ErrorKind::NotFound {
                DeviceStatus::NotPresent
            } else {
                DeviceStatus::Failed(HeapError::Open {
                    path: dir.to_owned(),
                    errno: io_errno(&err),
                })
            };
            return (DeviceProbe { path: dir.to_owned(), status }, Vec::new());
        }
    };
    let mut heaps = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let failed = DeviceStatus::Failed(HeapError::Open {
                    path: dir.to_owned(),
                    errno: io_errno(&err),
                });
                return (DeviceProbe { path: dir.to_owned(), status: failed }, heaps);
            }
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let status = match DmaHeap::open_in(dir, &name) {
            Ok(_heap) => DeviceStatus::Available,
            Err(err) => status_of(err),
        };
        heaps.push(DmaHeapProbe { name, device: DeviceProbe { path, status } });
    }
    heaps.sort_by(|a, b| a.name.cmp(&b.name));
    (DeviceProbe { path: dir.to_owned(), status: DeviceStatus::Available }, heaps)
}

fn io_errno(err: &io::Error) -> Errno {
    Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO))
}

struct StatusLine<'a>(&'a DeviceProbe);

impl fmt::Display for StatusLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.status {
            DeviceStatus::NotPresent => write!(f, "not present ({})", self.0.path.display()),
            DeviceStatus::Available => write!(f, "available ({})", self.0.path.display()),
            DeviceStatus::Failed(err) => write!(f, "error: {}", ErrorLine(err)),
        }
    }
}

struct ErrorLine<'a>(&'a HeapError);

impl fmt::Display for ErrorLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.errno() {
            Some(errno) => write!(f, "{}: {errno}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Display for ProbeReport {
    /// One line per heap device, for the daemon's start-up log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dma_heap_dir.status != DeviceStatus::Available || self.dma_heaps.is_empty() {
            writeln!(f, "dma-heap: {}", StatusLine(&self.dma_heap_dir))?;
        }
        for heap in &self.dma_heaps {
            writeln!(f, "dma-heap {}: {}", heap.name, StatusLine(&heap.device))?;
        }
        match self.ion_abi {
            Some(abi) => writeln!(f, "ion: {}, {abi} abi", StatusLine(&self.ion))?,
            None => writeln!(f, "ion: {}", StatusLine(&self.ion))?,
        }
        for heap in &self.ion_heaps {
            writeln!(f, "ion heap {}: type {}, id {}", heap.name, heap.heap_type, heap.heap_id)?;
        }
        if let Some(err) = &self.ion_heaps_error {
            writeln!(f, "ion heaps: {}", ErrorLine(err))?;
        }
        write!(f, "udmabuf: {}", StatusLine(&self.udmabuf))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn empty_root_reports_everything_not_present() {
        let root = tempfile::tempdir().unwrap();
        let report = probe_at(root.path());
        assert_eq!(report.dma_heap_dir.status, DeviceStatus::NotPresent);
        assert!(report.dma_heaps.is_empty());
        assert_eq!((report.ion.status.clone(), report.ion_abi), (DeviceStatus::NotPresent, None));
        assert_eq!(report.udmabuf.status, DeviceStatus::NotPresent);
        let text = report.to_string();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.starts_with("dma-heap: not present ("), "{text}");
    }

    #[test]
    fn heap_entries_are_listed_sorted_with_failures_carrying_errno() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("dev/dma_heap");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("system"), b"").unwrap();
        fs::write(dir.join("reserved"), b"").unwrap();
        symlink("loop", dir.join("loop")).unwrap(); // ELOOP: present but unopenable
        symlink("gone", dir.join("stale")).unwrap(); // dangling: ENOENT, not present
        let report = probe_at(root.path());
        let names: Vec<_> = report.dma_heaps.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["loop", "reserved", "stale", "system"]);
        assert_eq!(report.available_dma_heaps(), ["reserved", "system"]);
        let loop_status = &report.dma_heaps[0].device.status;
        assert!(
            matches!(loop_status, DeviceStatus::Failed(err) if err.errno() == Some(Errno::ELOOP)),
            "{loop_status:?}"
        );
        assert_eq!(report.dma_heaps[2].device.status, DeviceStatus::NotPresent);
        let text = report.to_string();
        assert!(text.contains("dma-heap system: available ("), "{text}");
        assert!(text.contains("dma-heap loop: error: cannot open "), "{text}");
    }

    #[test]
    fn ion_node_gets_abi_and_heap_query_result() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("dev")).unwrap();
        fs::write(root.path().join("dev/ion"), b"").unwrap();
        fs::write(root.path().join("dev/udmabuf"), b"").unwrap();
        let report = probe_at(root.path());
        assert!(report.ion.is_available());
        assert_eq!(report.ion_abi, Some(IonAbi::Modern)); // a regular file answers ENOTTY
        assert!(report.ion_heaps_error.is_some());
        assert!(report.udmabuf.is_available());
        assert!(report.to_string().contains(", modern abi"));
    }
}
