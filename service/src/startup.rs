//! Opening the board's heaps at start-up: board heap declarations joined to `heaps` back ends.
//!
//! Each declared heap is opened once, here, and shared by every binder thread; requests never
//! open files. Per back end:
//!
//! - `dma-heap`: the first of `names` that the probe found in `/dev/dma_heap` and that opens
//!   (a listed node that exists but fails to open is reported and the next name is tried);
//! - `ion`: `/dev/ion` is opened once and shared by every ION heap; `heap_name` is resolved
//!   with HEAP_QUERY, and `mask` is used when there is no name or the lookup fails (legacy
//!   kernels);
//! - `memfd`: always available (udmabuf when the host has it);
//! - `fake`: a scripted `heaps::FakeHeap` built from the board's `fail_after`, `errno`,
//!   `delay_ms`, `hold_ms`, in test builds only (the `fake-heap` feature): a production daemon has no
//!   fake heap, and [`refuse_unbuilt_backends`] refuses such a board when it is loaded.
//!
//! Capabilities come from the board's heap properties. A heap that is absent, or present but
//! failing to open, is **not** an error: it is reported (absent at `info`, failures at
//! `warn`) and treated as absent, so rules fall back to their other heaps and rules left with
//! none refuse their requests (`UNSUPPORTED`, `isSupported` false). Only a board of which not
//! one heap opens is a [`StartupError`]: such a service could allocate nothing, and exiting
//! with the report is more useful than serving refusals.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use heaps::{
    DeviceStatus, DmaHeap, Heap, HeapCaps, HeapError, IonDevice, IonHeap, MemfdHeap, ProbeReport,
};
use usage_map::{Availability, FakeBehaviour, HeapBackend, HeapDecl, HeapProps, UsageMap};

use crate::heap_table::HeapTable;

/// What an opened heap allocates from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeapSource {
    /// The dma-heap node `/dev/dma_heap/<name>`.
    DmaHeap {
        /// The kernel heap name.
        name: String,
    },
    /// The ION heap found by name with HEAP_QUERY.
    IonName {
        /// The ION heap name.
        name: String,
    },
    /// The ION heap id mask (legacy kernels, or the name was not found).
    IonMask {
        /// The heap id mask.
        mask: u32,
    },
    /// memfd pages, exported through udmabuf when `udmabuf` is true.
    Memfd {
        /// Whether `/dev/udmabuf` turns them into dma-bufs.
        udmabuf: bool,
    },
    /// The scripted fake heap of test builds.
    Fake,
}

impl fmt::Display for HeapSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DmaHeap { name } => write!(f, "dma-heap {name}"),
            Self::IonName { name } => write!(f, "ion heap {name}"),
            Self::IonMask { mask } => write!(f, "ion mask {mask:#x}"),
            Self::Memfd { udmabuf: true } => f.write_str("memfd via udmabuf"),
            Self::Memfd { udmabuf: false } => f.write_str("plain memfd"),
            Self::Fake => f.write_str("fake heap"),
        }
    }
}

/// Why a declared heap counts as absent on this device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Absence {
    /// `/dev/ion` does not exist.
    NoIonDevice,
    /// `/dev/ion` exists but failed to open when the devices were probed.
    IonDeviceFailed,
    /// None of the declared dma-heap names is in `/dev/dma_heap`.
    NoDmaHeapNode {
        /// The names looked for, in board order.
        names: Vec<String>,
    },
    /// ION has no heap of the declared name and the board gives no mask to fall back to.
    IonHeapNotFound(HeapError),
    /// Neither `heap_name` nor `mask` (board loading refuses this; kept so the
    /// choice between them is total).
    IonUnaddressed,
}

impl fmt::Display for Absence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoIonDevice => f.write_str("/dev/ion not present"),
            Self::IonDeviceFailed => f.write_str("/dev/ion failed to open at probe"),
            Self::NoDmaHeapNode { names } => {
                write!(f, "none of {} in /dev/dma_heap", names.join(", "))
            }
            Self::IonHeapNotFound(err) => write!(f, "{err}"),
            Self::IonUnaddressed => f.write_str("ion heap with neither name nor mask"),
        }
    }
}

/// What happened to one declared heap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeapOutcome {
    /// Opened from `source`.
    Opened {
        /// What was opened.
        source: HeapSource,
    },
    /// Not on this device.
    Absent {
        /// Why it counts as absent.
        reason: Absence,
    },
    /// Present but failed to open (treated as absent).
    Failed {
        /// The error.
        error: HeapError,
    },
}

/// One declared heap and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapReport {
    /// Board heap name.
    pub name: String,
    /// Board back end kind (`dma-heap`, `ion`, `memfd`, `fake`).
    pub kind: &'static str,
    /// What happened.
    pub outcome: HeapOutcome,
}

/// What start-up found: per heap, and the rules left without any heap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartupReport {
    /// Per declared heap, in board order.
    pub heaps: Vec<HeapReport>,
    /// Per rule: which of its heaps are present.
    pub availability: Availability,
}

impl StartupReport {
    /// Names of the heaps that opened.
    pub fn opened(&self) -> impl Iterator<Item = &str> {
        self.heaps
            .iter()
            .filter(|h| matches!(h.outcome, HeapOutcome::Opened { .. }))
            .map(|h| h.name.as_str())
    }
}

impl fmt::Display for StartupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for heap in &self.heaps {
            write!(f, "heap {} ({}): ", heap.name, heap.kind)?;
            match &heap.outcome {
                HeapOutcome::Opened { source } => writeln!(f, "opened {source}")?,
                HeapOutcome::Absent { reason } => writeln!(f, "absent ({reason})")?,
                HeapOutcome::Failed { error } => {
                    writeln!(f, "FAILED, treated as absent: {}", crate::error::Chain(error))?;
                }
            }
        }
        for rule in self.availability.unusable_rules() {
            writeln!(
                f,
                "rules[{}] {:?}: UNUSABLE, none of [{}] is present; its requests are UNSUPPORTED",
                rule.index,
                rule.name,
                rule.absent.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Why the service cannot start with this board.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Not one declared heap opened.
    #[error("no heap of the board could be opened:\n{0}")]
    NoHeapOpened(Box<StartupReport>),
    /// The board declares a `kind = "fake"` heap and this daemon was built without the
    /// scripted fake heap (the `fake-heap` feature of test builds).
    #[error(
        "{board}: heap {heap:?} has kind = \"fake\"; this daemon is built without the \
         scripted fake heap, which exists only in test builds (feature fake-heap)"
    )]
    FakeHeapNotBuilt {
        /// The board file.
        board: PathBuf,
        /// The first fake heap it declares.
        heap: String,
    },
}

impl StartupError {
    /// What start-up found, when it got as far as opening heaps.
    pub fn report(&self) -> Option<&StartupReport> {
        match self {
            Self::NoHeapOpened(report) => Some(report),
            Self::FakeHeapNotBuilt { .. } => None,
        }
    }
}

/// Whether this build serves `kind = "fake"` heaps (the `fake-heap` feature).
pub const FAKE_HEAP_BUILT: bool = cfg!(feature = "fake-heap");

/// Refuses, when the board is loaded, a board that needs a back end this build lacks: a
/// `kind = "fake"` heap without the `fake-heap` feature. `board` is the file `map` came from.
///
/// # Errors
/// [`StartupError::FakeHeapNotBuilt`] naming the board file and the first fake heap.
pub fn refuse_unbuilt_backends(map: &UsageMap, board: &Path) -> Result<(), StartupError> {
    refuse_fake_heaps_unless(FAKE_HEAP_BUILT, map, board)
}

fn refuse_fake_heaps_unless(
    fake_heap_built: bool,
    map: &UsageMap,
    board: &Path,
) -> Result<(), StartupError> {
    if fake_heap_built {
        return Ok(());
    }
    match map.heaps().iter().find(|decl| matches!(decl.backend, HeapBackend::Fake(_))) {
        Some(decl) => {
            Err(StartupError::FakeHeapNotBuilt { board: board.to_owned(), heap: decl.name.clone() })
        }
        None => Ok(()),
    }
}

/// Opens every heap `map` declares, choosing devices from `probe`.
///
/// # Errors
/// [`StartupError::NoHeapOpened`] when not a single heap opened (the report says why).
pub fn open_heaps(
    map: &UsageMap,
    probe: &ProbeReport,
) -> Result<(HeapTable, StartupReport), StartupError> {
    let mut table = HeapTable::empty(map);
    let mut ion = IonOnce::default();
    let mut reports = Vec::with_capacity(map.heaps().len());
    for decl in map.heaps() {
        let outcome = match open_one(decl, probe, &mut ion) {
            Opened::Heap(heap, source) => {
                log::info!("heap {}: opened {source}", decl.name);
                // The table was made for this map, so every declared id has a slot.
                table.set(decl.id, heap);
                HeapOutcome::Opened { source }
            }
            Opened::Absent(reason) => {
                log::info!("heap {}: absent ({reason})", decl.name);
                HeapOutcome::Absent { reason }
            }
            Opened::Failed(error) => {
                log::warn!(
                    "heap {}: failed to open, treated as absent: {}",
                    decl.name,
                    crate::error::Chain(&error)
                );
                HeapOutcome::Failed { error }
            }
        };
        reports.push(HeapReport { name: decl.name.clone(), kind: decl.backend.kind(), outcome });
    }
    let availability = map.check_available(|decl| table.get(decl.id).is_some());
    for rule in availability.unusable_rules() {
        log::warn!(
            "rules[{}] {:?}: no heap present, its requests are refused",
            rule.index,
            rule.name
        );
    }
    let report = StartupReport { heaps: reports, availability };
    if table.present() == 0 {
        return Err(StartupError::NoHeapOpened(Box::new(report)));
    }
    Ok((table, report))
}

enum Opened {
    Heap(Arc<dyn Heap>, HeapSource),
    Absent(Absence),
    Failed(HeapError),
}

/// `/dev/ion`, opened at most once and shared by every ION heap.
#[derive(Default)]
struct IonOnce {
    device: Option<Result<Arc<IonDevice>, HeapError>>,
}

impl IonOnce {
    fn get(&mut self) -> &Result<Arc<IonDevice>, HeapError> {
        self.device.get_or_insert_with(IonDevice::open)
    }
}

fn caps_of(props: &HeapProps) -> HeapCaps {
    HeapCaps {
        contiguous: props.contiguous,
        cached: props.cached,
        protected: props.protected,
        zeroed: props.zeroed,
    }
}

fn open_one(decl: &HeapDecl, probe: &ProbeReport, ion: &mut IonOnce) -> Opened {
    let caps = caps_of(&decl.props);
    match &decl.backend {
        HeapBackend::DmaHeap { names } => open_dma_heap(names, probe, caps),
        HeapBackend::Ion { heap_name, mask, flags } => {
            match probe.ion.status {
                DeviceStatus::Available => {}
                DeviceStatus::NotPresent => return Opened::Absent(Absence::NoIonDevice),
                DeviceStatus::Failed(_) => return Opened::Absent(Absence::IonDeviceFailed),
            }
            let device = match ion.get() {
                Ok(device) => Arc::clone(device),
                Err(err) => return Opened::Failed(err.clone()),
            };
            open_ion_heap(&decl.name, &device, heap_name.as_deref(), *mask, *flags, caps)
        }
        HeapBackend::Memfd => match MemfdHeap::new(&decl.name) {
            Ok(heap) => {
                let source = HeapSource::Memfd { udmabuf: heap.uses_udmabuf() };
                Opened::Heap(Arc::new(heap.with_caps(caps)), source)
            }
            Err(err) => Opened::Failed(err),
        },
        HeapBackend::Fake(behaviour) => open_fake(decl, caps, behaviour),
    }
}

fn open_dma_heap(names: &[String], probe: &ProbeReport, caps: HeapCaps) -> Opened {
    let mut failure = None;
    for name in names {
        let Some(found) = probe.dma_heaps.iter().find(|p| &p.name == name) else { continue };
        if found.device.status == DeviceStatus::NotPresent {
            continue;
        }
        match DmaHeap::open(name) {
            Ok(heap) => {
                let source = HeapSource::DmaHeap { name: name.clone() };
                return Opened::Heap(Arc::new(heap.with_caps(caps)), source);
            }
            Err(err) if err.is_not_present() => {}
            Err(err) => {
                log::warn!("dma-heap {name}: {}", crate::error::Chain(&err));
                failure.get_or_insert(err);
            }
        }
    }
    match failure {
        Some(err) => Opened::Failed(err),
        None => Opened::Absent(Absence::NoDmaHeapNode { names: names.to_vec() }),
    }
}

fn open_ion_heap(
    board_name: &str,
    device: &Arc<IonDevice>,
    heap_name: Option<&str>,
    mask: Option<u32>,
    flags: u32,
    caps: HeapCaps,
) -> Opened {
    let by_name = heap_name.map(|name| (name, IonHeap::by_name(device, name, flags)));
    let by_mask = |mask: u32| IonHeap::by_mask(device, mask, flags);
    let (heap, source) = match (by_name, mask) {
        (Some((name, Ok(heap))), _) => (heap, HeapSource::IonName { name: name.to_owned() }),
        (Some((name, Err(err))), Some(mask)) => {
            log::info!("ion heap {name}: {}; using mask {mask:#x}", crate::error::Chain(&err));
            match by_mask(mask) {
                Ok(heap) => (heap, HeapSource::IonMask { mask }),
                Err(err) => return Opened::Failed(err),
            }
        }
        (Some((_, Err(err))), None) if err.is_not_present() => {
            return Opened::Absent(Absence::IonHeapNotFound(err))
        }
        (Some((_, Err(err))), None) => return Opened::Failed(err),
        (None, Some(mask)) => match by_mask(mask) {
            Ok(heap) => (heap, HeapSource::IonMask { mask }),
            Err(err) => return Opened::Failed(err),
        },
        (None, None) => return Opened::Absent(Absence::IonUnaddressed),
    };
    Opened::Heap(Arc::new(heap.with_name(board_name).with_caps(caps)), source)
}

/// A scripted fake heap from the board's `fail_after`, `errno` and `delay_ms`.
#[cfg(feature = "fake-heap")]
fn open_fake(decl: &HeapDecl, caps: HeapCaps, behaviour: &FakeBehaviour) -> Opened {
    use heaps::{Errno, FakeHeap, FakeScript};
    let mut script = FakeScript::new();
    if let Some(successes) = behaviour.fail_after {
        script = script.fail_after(u64::from(successes), Errno::from_raw(behaviour.errno.raw()));
    }
    if behaviour.delay_ms > 0 {
        script = script.delay(std::time::Duration::from_millis(u64::from(behaviour.delay_ms)));
    }
    if behaviour.hold_ms > 0 {
        script = script.hold(std::time::Duration::from_millis(u64::from(behaviour.hold_ms)));
    }
    match FakeHeap::new(&decl.name) {
        Ok(heap) => {
            Opened::Heap(Arc::new(heap.with_caps(caps).with_script(script)), HeapSource::Fake)
        }
        Err(err) => Opened::Failed(err),
    }
}

/// Without the `fake-heap` feature there is no fake heap. The daemon refuses such a board
/// first ([`refuse_unbuilt_backends`]); a caller that skips that check gets a failed heap.
#[cfg(not(feature = "fake-heap"))]
fn open_fake(decl: &HeapDecl, _caps: HeapCaps, _behaviour: &FakeBehaviour) -> Opened {
    Opened::Failed(HeapError::Unsupported {
        heap: decl.name.clone(),
        reason: heaps::NotSupported::FakeNotBuilt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE_BOARD: &str = r#"
schema = 1
[board]
name = "fake-refusal"
mapper_suffix = "fake"
[heaps.real]
kind = "memfd"
[heaps.scripted]
kind = "fake"
fail_after = 1
[[rules]]
name = "protected"
all = ["PROTECTED"]
reject = "no secure heap"
[[rules]]
name = "default"
heaps = ["real", "scripted"]
"#;

    #[test]
    fn a_build_without_the_fake_heap_refuses_a_fake_board_naming_file_and_heap() {
        let map = UsageMap::from_toml_str(FAKE_BOARD, "fake-refusal.toml").unwrap();
        let board = Path::new("boards/fake-refusal.toml");
        let err = refuse_fake_heaps_unless(false, &map, board).unwrap_err();
        assert!(
            matches!(&err, StartupError::FakeHeapNotBuilt { board: b, heap } if b == board && heap == "scripted"),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.starts_with("boards/fake-refusal.toml: heap \"scripted\""), "{text}");
        assert!(text.contains("fake-heap"), "{text}");
    }

    #[test]
    fn a_build_with_the_fake_heap_or_a_board_without_one_loads() {
        let map = UsageMap::from_toml_str(FAKE_BOARD, "fake-refusal.toml").unwrap();
        assert!(refuse_fake_heaps_unless(true, &map, Path::new("b.toml")).is_ok());
        let real_only = FAKE_BOARD.replace("kind = \"fake\"\nfail_after = 1", "kind = \"memfd\"");
        let map = UsageMap::from_toml_str(&real_only, "real.toml").unwrap();
        assert!(refuse_fake_heaps_unless(false, &map, Path::new("real.toml")).is_ok());
    }

    #[test]
    fn this_build_reports_whether_it_has_the_fake_heap() {
        let map = UsageMap::from_toml_str(FAKE_BOARD, "fake-refusal.toml").unwrap();
        let result = refuse_unbuilt_backends(&map, Path::new("fake-refusal.toml"));
        assert_eq!(result.is_ok(), cfg!(feature = "fake-heap"), "{result:?}");
    }
}
