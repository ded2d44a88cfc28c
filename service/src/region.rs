//! Each buffer's shared metadata region (fd 1 of the handle) and its buffer id.
//!
//! The region comes from one heap chosen at start-up ([`MetadataRegions::for_board`]): the
//! board's `[board] metadata_heap` when it names a heap that opened, else the heap named
//! `system` when it is a non-protected dma-heap or ION heap that opened (a dma-buf is what
//! sepolicy expects apps to map), else a plain sealed memfd. Either way nothing is opened per
//! buffer: one allocation (dma-heap ioctl or `memfd_create`), one `mmap` to write the header,
//! NAME and DATASPACE, one `munmap`. The layout is `hal_interface::shared_metadata`'s; the
//! rest of the region is left as the heap zeroed it (written out in full for a heap that does
//! not zero).
//!
//! Each dma-buf is also named for `/proc/<pid>/fdinfo` and `dmabuf_dump` ([`dmabuf_label`]).
//!
//! Buffer ids ([`BufferIds`]) are `start << 32 | counter`: the high 32 bits are the low 32
//! bits of the wall clock in milliseconds when the allocator started, plus a per-process
//! instance count (so two allocators in one process differ even within a millisecond); the
//! low 32 bits count buffers from 1. Ids therefore differ across allocator restarts (a
//! restarted daemon starts at another millisecond) and are unique among the 2³² buffers one
//! instance hands out; the value says nothing about the buffer's memory.

use std::fmt::Write as _;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hal_interface::shared_metadata::{self, RegionAccess, RegionError, REGION_SIZE};
use hal_interface::Format;
use heaps::{Errno, Heap, HeapError, MemfdHeap};
use usage_map::{HeapBackend, UsageMap};

use crate::heap_table::HeapTable;

/// Name of the board heap used for regions when the board does not say.
pub const DEFAULT_METADATA_HEAP: &str = "system";

/// The one mapping type of metadata regions, shared with the mapper that reads them.
pub use gralloc_mapper::shared::MappedRegion;

/// Why a buffer's metadata region could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegionCreateError {
    /// No heap for regions could be set up at start-up.
    #[error("no metadata region source")]
    NoSource,
    /// The region's heap refused the allocation.
    #[error("metadata region allocation failed")]
    Heap(#[source] HeapError),
    /// The new region could not be mapped.
    #[error("cannot map the metadata region")]
    Map(#[source] Errno),
    /// The initial contents could not be written.
    #[error("cannot initialise the metadata region")]
    Init(#[source] RegionError),
}

impl RegionCreateError {
    /// Whether the failure is a temporary lack of resources (memory, fds).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Heap(err) => err.is_transient(),
            Self::Map(errno) => matches!(errno, Errno::ENOMEM | Errno::EAGAIN),
            Self::NoSource | Self::Init(_) => false,
        }
    }
}

/// Where metadata regions come from: one heap, chosen at start-up.
#[derive(Debug, Clone)]
pub struct MetadataRegions {
    heap: Option<Arc<dyn Heap>>,
    source: String,
}

impl MetadataRegions {
    /// Regions from `heap`; `source` says which for logs and `dump`.
    pub fn new(heap: Arc<dyn Heap>, source: impl Into<String>) -> Self {
        Self { heap: Some(heap), source: source.into() }
    }

    /// Regions from plain sealed memfds (`/memfd:gralloc:metadata`).
    pub fn memfd() -> Self {
        match MemfdHeap::plain("metadata") {
            Ok(heap) => Self::new(Arc::new(heap), "memfd"),
            Err(err) => {
                log::error!("metadata regions: no memfd heap: {err}");
                Self { heap: None, source: "none".to_owned() }
            }
        }
    }

    /// The source for a board (see the module documentation for the order).
    pub fn for_board(map: &UsageMap, heaps: &HeapTable) -> Self {
        let named = map.metadata_heap();
        let Some(decl) = map.heap(named.unwrap_or(DEFAULT_METADATA_HEAP)) else {
            return Self::memfd();
        };
        let eligible = named.is_some()
            || (matches!(decl.backend, HeapBackend::DmaHeap { .. } | HeapBackend::Ion { .. })
                && !decl.props.protected);
        match heaps.get(decl.id) {
            Some(heap) if eligible && !heap.caps().protected => {
                Self::new(Arc::clone(heap), format!("heap {}", decl.name))
            }
            Some(_) if eligible => {
                log::warn!(
                    "metadata_heap {}: protected memory cannot be CPU-mapped; memfd",
                    decl.name
                );
                Self::memfd()
            }
            None if named.is_some() => {
                log::warn!("metadata_heap {}: absent on this device; memfd", decl.name);
                Self::memfd()
            }
            _ => Self::memfd(),
        }
    }

    /// What serves the regions (`memfd`, `heap system`, ...).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// A new region holding `name` (at most 127 bytes, longer is cut) and `dataspace`, every
    /// other field at its default. The fd is owned by the caller.
    ///
    /// # Errors
    /// Any [`RegionCreateError`]; nothing stays open on error.
    pub fn create(&self, name: &[u8], dataspace: i32) -> Result<OwnedFd, RegionCreateError> {
        let heap = self.heap.as_ref().ok_or(RegionCreateError::NoSource)?;
        let len =
            std::num::NonZeroU64::new(u64::from(REGION_SIZE)).ok_or(RegionCreateError::NoSource)?;
        let fd = heap.allocate(len).map_err(RegionCreateError::Heap)?;
        let region = MappedRegion::map(fd.as_fd(), true).map_err(RegionCreateError::Map)?;
        let name = name.get(..shared_metadata::MAX_NAME_LEN).unwrap_or(name);
        if heap.caps().zeroed {
            shared_metadata::initialise(&region, name, dataspace)
        } else {
            shared_metadata::encode_initial(name, dataspace)
                .and_then(|bytes| region.write_from(0, &bytes))
        }
        .map_err(RegionCreateError::Init)?;
        Ok(fd)
    }
}

/// Bytes of the requester name kept in a dma-buf name (the rest identifies the buffer).
const LABEL_NAME_LEN: usize = 7;

/// The dma-buf name (`DMA_BUF_SET_NAME`, at most 31 bytes, seen in `/proc/<pid>/fdinfo` and
/// `dmabuf_dump`): the start of the requester's name (or the heap name when it has none), a
/// usage class, `WxH` and the format, e.g. `Surface hwc 1920x1080 RGBA_8888`; the tail is
/// cut when it does not fit. The full name is in the metadata region.
pub fn dmabuf_label(name: &str, width: u32, height: u32, format: Format, usage: u64) -> String {
    let mut label = String::with_capacity(48);
    push_cut(&mut label, name.split('\0').next().unwrap_or_default(), LABEL_NAME_LEN);
    // Writing into a String cannot fail.
    let _ = write!(label, " {} {width}x{height} {format}", usage_class(usage));
    let kept = heaps::dmabuf::truncate_name(&label).len();
    label.truncate(kept);
    label
}

fn push_cut(out: &mut String, text: &str, max: usize) {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    out.push_str(text.get(..end).unwrap_or_default());
}

/// Who the buffer is for, in three letters.
fn usage_class(usage: u64) -> &'static str {
    use hal_interface::usage::bits;
    if usage & (bits::CAMERA_OUTPUT | bits::CAMERA_INPUT) != 0 {
        "cam"
    } else if usage & (bits::VIDEO_ENCODER | bits::VIDEO_DECODER) != 0 {
        "vid"
    } else if usage
        & (bits::COMPOSER_OVERLAY | bits::COMPOSER_CLIENT_TARGET | bits::COMPOSER_CURSOR)
        != 0
    {
        "hwc"
    } else if usage & (bits::GPU_TEXTURE | bits::GPU_RENDER_TARGET | bits::GPU_DATA_BUFFER) != 0 {
        "gpu"
    } else if usage & (bits::CPU_READ_MASK | bits::CPU_WRITE_MASK) != 0 {
        "cpu"
    } else {
        "buf"
    }
}

/// Instances of [`BufferIds`] made by this process (mixed into the start value).
static INSTANCES: AtomicU32 = AtomicU32::new(0);

/// Buffer ids of one allocator instance (see the module documentation).
#[derive(Debug)]
pub struct BufferIds {
    start: u32,
    next: AtomicU32,
}

impl BufferIds {
    /// Ids whose high half derives from the clock now.
    pub fn new() -> Self {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        // The low 32 bits of the milliseconds: wraps every 49.7 days.
        let low = u32::try_from(millis & u128::from(u32::MAX)).unwrap_or(0);
        Self::with_start(low.wrapping_add(INSTANCES.fetch_add(1, Ordering::Relaxed)))
    }

    /// Ids with high half `start` (tests).
    pub fn with_start(start: u32) -> Self {
        Self { start, next: AtomicU32::new(1) }
    }

    /// The high half of every id of this instance.
    pub fn start(&self) -> u32 {
        self.start
    }

    /// The next id.
    pub fn next_id(&self) -> u64 {
        let count = self.next.fetch_add(1, Ordering::Relaxed);
        (u64::from(self.start) << 32) | u64::from(count)
    }
}

impl Default for BufferIds {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmabuf_labels_name_the_requester_class_size_and_format_within_31_bytes() {
        use hal_interface::usage::bits;
        let label = dmabuf_label(
            "SurfaceFlinger client target",
            1920,
            1080,
            Format::Rgba8888,
            bits::COMPOSER_CLIENT_TARGET | bits::GPU_RENDER_TARGET,
        );
        assert_eq!(label, "Surface hwc 1920x1080 RGBA_8888");
        let camera = dmabuf_label("cam", 640, 480, Format::Ycbcr420_888, bits::CAMERA_OUTPUT);
        assert!(camera.starts_with("cam cam 640x480 "), "{camera}");
        assert!(camera.len() <= 31, "{camera}");
        let long = dmabuf_label("é", 65535, 65535, Format::ImplementationDefined, 0);
        assert!(long.len() <= 31 && long.starts_with("é buf 65535x65535 "), "{long}");
        assert_eq!(dmabuf_label("", 1, 1, Format::Blob, bits::CPU_READ_OFTEN), " cpu 1x1 BLOB");
    }

    #[test]
    fn ids_count_up_under_the_start_value() {
        let ids = BufferIds::with_start(0xABCD_0001);
        assert_eq!(ids.next_id(), 0xABCD_0001_0000_0001);
        assert_eq!(ids.next_id(), 0xABCD_0001_0000_0002);
    }

    #[test]
    fn two_instances_made_at_once_have_different_start_values() {
        let (a, b) = (BufferIds::new(), BufferIds::new());
        assert_ne!(a.start(), b.start());
        assert_ne!(a.next_id(), b.next_id());
    }

    #[test]
    fn memfd_region_is_initialised_and_reads_back() {
        let regions = MetadataRegions::memfd();
        let fd = regions.create(b"Hello, World!", 143_261_696).unwrap();
        assert_eq!(heaps::dmabuf::size_of(fd.as_fd()).unwrap(), u64::from(REGION_SIZE));
        let region = MappedRegion::map(fd.as_fd(), false).unwrap();
        let read = shared_metadata::read(&region).unwrap();
        assert_eq!(read.name, b"Hello, World!");
        assert_eq!(read.dataspace, 143_261_696);
        assert_eq!((read.blend_mode, read.smpte2086, read.smpte2094_40), (0, None, None));
    }

    #[test]
    fn long_names_are_cut_to_127_bytes() {
        let fd = MetadataRegions::memfd().create(&[b'x'; 200], 0).unwrap();
        let region = MappedRegion::map(fd.as_fd(), false).unwrap();
        assert_eq!(shared_metadata::read(&region).unwrap().name, vec![b'x'; 127]);
    }

    #[test]
    fn concurrent_writers_through_separate_mappings_never_show_a_torn_value() {
        use shared_metadata::FieldValue;
        let fd = MetadataRegions::memfd().create(b"torn", 0).unwrap();
        let patterns = [vec![0x11u8; 2048], vec![0x22u8; 1000]];
        std::thread::scope(|scope| {
            for (index, payload) in patterns.iter().enumerate() {
                let writer = MappedRegion::map(fd.as_fd(), true).unwrap();
                scope.spawn(move || {
                    for round in 0..2000 {
                        let value = FieldValue::Smpte2094_40(Some(payload));
                        shared_metadata::write(&writer, &value).unwrap();
                        let dataspace = i32::try_from(index * 10_000 + round).unwrap();
                        shared_metadata::write(&writer, &FieldValue::Dataspace(dataspace)).unwrap();
                    }
                });
            }
            let reader = MappedRegion::map(fd.as_fd(), false).unwrap();
            let patterns = &patterns;
            scope.spawn(move || {
                let mut seen = 0;
                for _ in 0..4000 {
                    let read = shared_metadata::read(&reader).unwrap();
                    if let Some(payload) = read.smpte2094_40 {
                        assert!(
                            patterns.contains(&payload),
                            "torn payload of {} bytes",
                            payload.len()
                        );
                        seen += 1;
                    }
                }
                assert!(seen > 0, "the reader never saw a write");
            });
        });
        let region = MappedRegion::map(fd.as_fd(), false).unwrap();
        let end = shared_metadata::read(&region).unwrap();
        assert_eq!(end.name, b"torn");
        // 8000 updates in all: each moved the sequence by two and released the lock.
        assert_eq!(region.load_u32(shared_metadata::OFF_SEQUENCE, Ordering::Acquire), Ok(16_000));
        assert_eq!(region.load_u32(shared_metadata::OFF_WRITER_LOCK, Ordering::Acquire), Ok(0));
    }

    #[test]
    fn a_write_through_one_mapping_is_read_through_another() {
        let fd = MetadataRegions::memfd().create(b"shared", 0).unwrap();
        let writer = MappedRegion::map(fd.as_fd(), true).unwrap();
        let reader = MappedRegion::map(fd.as_fd(), false).unwrap();
        shared_metadata::write(&writer, &shared_metadata::FieldValue::BlendMode(3)).unwrap();
        assert_eq!(shared_metadata::read(&reader).unwrap().blend_mode, 3);
        let refused = shared_metadata::write(&reader, &shared_metadata::FieldValue::BlendMode(1));
        assert!(matches!(refused, Err(RegionError::Access { .. })), "{refused:?}");
    }
}
