//! The `allocate` target: descriptor → request → plan → layout → heap → handle encode,
//! through the service core ([`Allocator`]) over the embedded board `board.toml`, whose
//! heaps are sparse memfds behind [`CheckedHeap`].
//!
//! Per input ([`run`]), the reliability A12 invariants: `isSupported` Ok ⇒ `allocate2(d, 1)`
//! is Ok or `NO_RESOURCES`, and refused ⇒ the same error; a success has `count` buffers,
//! `stride >= width`, an allocation no smaller than its pixels and within the cap, planes
//! and reserved region inside it, fds really that large, a handle whose fd and int counts
//! are the codec's and that decodes to itself and imports into the mapper; and nothing
//! lost: after the call (and after the buffers are dropped) the process has the fds it had.

use std::num::NonZeroU64;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use allocator_service::allocator::{Allocation, Allocator};
use allocator_service::error::{AllocError, Chain};
use allocator_service::heap_table::HeapTable;
use allocator_service::region::MetadataRegions;
use allocator_service::request::DATASPACE_OPTION;
use arbitrary::{Result, Unstructured};
use gralloc_mapper::buffer::Imported;
use hal_interface::aidl::{
    AllocationError, BufferDescriptorInfo, BufferUsage, ExtendableType, PixelFormat,
};
use hal_interface::handle::{BufferHandle, FD_COUNT};
use hal_interface::metadata::{decode, StandardMetadataType};
use hal_interface::wire::descriptor_name_array;
use hal_interface::{encode_descriptor, shared_metadata, Format, UsageFlag, V1Descriptor};
use heaps::{dmabuf, Errno, Heap, HeapCaps, HeapError, MemfdHeap};
use usage_map::UsageMap;

use crate::input;

/// The board the allocator serves (small limits: buffers stay a few MiB of sparse memfd).
pub const BOARD: &str = include_str!("board.toml");
/// The name errors give the board.
pub const BOARD_ORIGIN: &str = "fuzz/src/board.toml";
/// `limits.max_bytes_per_buffer` of [`BOARD`].
pub const MAX_BYTES_PER_BUFFER: u64 = 16 << 20;
/// `limits.max_buffers_per_call` of [`BOARD`].
pub const MAX_BUFFERS_PER_CALL: i32 = 4;
/// The board's heaps that exist here (`absent` is declared and left out).
const PRESENT_HEAPS: [&str; 2] = ["system", "cma"];

/// A memfd heap that asserts the heap contract on every call (a length that is a non-zero
/// page multiple within the board's cap) and fails the next call on request.
#[derive(Debug)]
pub struct CheckedHeap {
    inner: MemfdHeap,
    caps: HeapCaps,
    fail_next: Mutex<Option<Errno>>,
}

impl CheckedHeap {
    fn new(name: &str, contiguous: bool) -> CheckedHeap {
        let inner = MemfdHeap::plain(name).expect("memfd heap");
        let caps = HeapCaps { contiguous, ..inner.caps() };
        CheckedHeap { inner, caps, fail_next: Mutex::new(None) }
    }

    /// The next allocation fails with `errno` (or, with `None`, does not).
    pub fn fail_next(&self, errno: Option<Errno>) {
        *self.fail_next.lock().unwrap_or_else(PoisonError::into_inner) = errno;
    }
}

impl Heap for CheckedHeap {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn caps(&self) -> HeapCaps {
        self.caps
    }

    fn allocate(&self, len: NonZeroU64) -> std::result::Result<OwnedFd, HeapError> {
        let bytes = len.get();
        assert!(
            bytes.is_multiple_of(heaps::page_size()),
            "heap {}: {bytes} bytes is not a page multiple",
            self.name()
        );
        assert!(
            bytes <= MAX_BYTES_PER_BUFFER,
            "heap {}: {bytes} bytes is over the cap",
            self.name()
        );
        let failure = self.fail_next.lock().unwrap_or_else(PoisonError::into_inner).take();
        match failure {
            Some(errno) => {
                Err(HeapError::Alloc { heap: self.name().to_owned(), len: bytes, errno })
            }
            None => self.inner.allocate(len),
        }
    }
}

/// The allocator over [`BOARD`] and its two present heaps.
#[derive(Debug)]
pub struct Fixture {
    /// The service core.
    pub allocator: Allocator,
    /// The heaps, by board name, to script failures.
    pub heaps: Vec<(&'static str, Arc<CheckedHeap>)>,
}

/// The process-wide fixture (built on first use: one per fuzzing process).
///
/// # Panics
///
/// When the embedded board does not load.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let map = UsageMap::from_toml_str(BOARD, BOARD_ORIGIN).expect("the fuzz board loads");
        let mut table = HeapTable::empty(&map);
        let mut heaps = Vec::new();
        for name in PRESENT_HEAPS {
            let heap = Arc::new(CheckedHeap::new(name, name == "cma"));
            table.insert(&map, name, Arc::clone(&heap) as Arc<dyn Heap>).expect("declared heap");
            heaps.push((name, heap));
        }
        let allocator = Allocator::new(map, table).with_regions(MetadataRegions::memfd());
        Fixture { allocator, heaps }
    })
}

/// One `allocate` input.
#[derive(Debug)]
pub struct AllocInput {
    /// The descriptor (for the V1 path, the one the V1 bytes decode to).
    pub info: BufferDescriptorInfo,
    /// `count`.
    pub count: i32,
    /// Sent as V1 `allocate(byte[])` bytes rather than `allocate2`.
    pub v1: Option<V1Descriptor>,
    /// A heap (index into [`Fixture::heaps`]) whose next allocation fails, and how.
    pub failure: Option<(usize, Errno)>,
}

const FAILURES: [Errno; 6] =
    [Errno::ENOMEM, Errno::EBUSY, Errno::EINVAL, Errno::EMFILE, Errno::EIO, Errno::EINTR];

impl AllocInput {
    /// Reads an input: descriptor fields biased to edge values, known formats and usage
    /// flags, options, a name, a count, the path and a heap failure.
    ///
    /// # Errors
    ///
    /// When the bytes run out in a way `arbitrary` reports (the target then ignores the
    /// input).
    pub fn read(u: &mut Unstructured<'_>) -> Result<AllocInput> {
        let width = input::dimension(u)?;
        let height = if u.ratio(1u8, 4u8)? { 1 } else { input::dimension(u)? };
        let layers = if u.ratio(3u8, 4u8)? { 1 } else { input::dimension(u)? };
        let format = if u.ratio(7u8, 8u8)? { u.choose(Format::ALL)?.raw() } else { u.arbitrary()? };
        let mut known: Vec<u64> = UsageFlag::ALL.iter().map(|f| f.bit()).collect();
        // CPU read/write fields (RARELY 2, OFTEN 3 and their write twins), retired bits 10
        // and 13, the board's vendor bit, reserved bits 19 and 33.
        known.extend([1 << 1, 1 << 0, 1 << 5, 1 << 4, 1 << 10, 1 << 13, 1 << 28, 1 << 19, 1 << 33]);
        let usage = input::bit_set(u, &known)?;
        let reserved = match u.int_in_range(0u8..=7)? {
            0..=4 => 0,
            5 => i64::from(u.int_in_range(1u32..=70_000)?),
            6 => *u.choose(&[-1, 65536, 65537, i64::MAX, i64::MIN])?,
            _ => u.arbitrary()?,
        };
        let mut options = Vec::new();
        for _ in 0..u.int_in_range(0u8..=5)? {
            let name = match u.int_in_range(0u8..=3)? {
                0 | 1 => DATASPACE_OPTION.to_owned(),
                2 => "vendor.unknown".to_owned(),
                _ => String::from_utf8_lossy(&input::bytes(u, 200)?).into_owned(),
            };
            options.push(ExtendableType { name, value: u.arbitrary()? });
        }
        let name = input::bytes(u, 140)?;
        let count = match u.int_in_range(0u8..=7)? {
            0..=4 => 1,
            5 => i32::from(u.int_in_range(0u8..=6)?),
            _ => input::dimension(u)?,
        };
        let info = BufferDescriptorInfo {
            name: descriptor_name_array(&name),
            width,
            height,
            layerCount: layers,
            format: PixelFormat(format),
            usage: BufferUsage(i64::from_ne_bytes(usage.to_ne_bytes())),
            reservedSize: reserved,
            additionalOptions: options,
        };
        let v1 = u.ratio(1u8, 5u8)?.then(|| V1Descriptor {
            name,
            width: u32::from_ne_bytes(width.to_ne_bytes()),
            height: u32::from_ne_bytes(height.to_ne_bytes()),
            layer_count: u32::from_ne_bytes(layers.to_ne_bytes()),
            format,
            usage,
            reserved_size: u64::from_ne_bytes(reserved.to_ne_bytes()),
        });
        let info = v1.as_ref().map_or(info, V1Descriptor::to_descriptor_info);
        let failure = if u.ratio(1u8, 6u8)? {
            Some((u.int_in_range(0..=PRESENT_HEAPS.len() - 1)?, *u.choose(&FAILURES)?))
        } else {
            None
        };
        Ok(AllocInput { info, count, v1, failure })
    }
}

/// Runs one input and asserts every invariant (see the module documentation).
///
/// # Panics
///
/// On any broken invariant: that is a finding.
pub fn run(input: &AllocInput) {
    let fx = fixture();
    let supported = fx.allocator.check_supported(&input.info);
    let before = crate::open_fds();
    if let Some((heap, errno)) = input.failure {
        fx.heaps[heap].1.fail_next(Some(errno));
    }
    let result = match &input.v1 {
        Some(v1) => fx.allocator.allocate_v1(&encode_descriptor(v1), input.count),
        None => fx.allocator.allocate2(&input.info, input.count),
    };
    for (_, heap) in &fx.heaps {
        heap.fail_next(None);
    }
    match result {
        Ok(allocation) => {
            if let Err(err) = &supported {
                panic!("allocated although isSupported refused: {}", Chain(err));
            }
            check_allocation(input, allocation);
        }
        Err(err) => check_refusal(input, &supported, &err),
    }
    assert_eq!(crate::open_fds(), before, "fds leaked by {input:?}");
}

fn check_refusal(
    input: &AllocInput,
    supported: &std::result::Result<(), AllocError>,
    err: &AllocError,
) {
    if input.count != 1 {
        return;
    }
    match supported {
        Ok(()) => {
            assert_eq!(
                err.code(),
                AllocationError::NO_RESOURCES,
                "isSupported was true, allocate failed otherwise: {}",
                Chain(err)
            );
            assert!(input.failure.is_some(), "failed without an injected failure: {}", Chain(err));
        }
        Err(reason) => {
            assert_eq!(err, reason, "allocate and isSupported disagree on why");
            assert_ne!(err.code(), AllocationError::NO_RESOURCES, "refusal without a heap call");
        }
    }
}

/// Bits per pixel of the smallest honest buffer (IMPLEMENTATION_DEFINED as a 4:2:0 layout).
fn minimum_bits(format: Format) -> u128 {
    match format {
        Format::Rgbx8888 | Format::Rgba8888 | Format::Bgra8888 | Format::Rgba1010102 => 32,
        Format::Rg1616Uint | Format::Depth24 | Format::Depth24Stencil8 | Format::Depth32f => 32,
        Format::Rgb888 | Format::Hsv888 | Format::YcbcrP010 => 24,
        Format::Rgb565 | Format::R16Uint | Format::Depth16 | Format::Raw16 | Format::Y16 => 16,
        Format::Ycbcr422I | Format::Ycbcr422Sp => 16,
        Format::RgbaFp16 | Format::Rgba10101010 | Format::Depth32fStencil8 => 64,
        Format::R8 | Format::Y8 | Format::Stencil8 | Format::Blob | Format::RawOpaque => 8,
        Format::Yv12 | Format::Ycbcr420_888 | Format::Ycrcb420Sp => 12,
        Format::ImplementationDefined | Format::Raw12 => 12,
        Format::Raw10 => 10,
        Format::Unspecified => 0,
    }
}

fn check_allocation(input: &AllocInput, allocation: Allocation) {
    let count = usize::try_from(input.count).expect("a successful count is not negative");
    assert_eq!(allocation.buffers.len(), count, "buffers.len() != count");
    let info = &input.info;
    let format = Format::from_raw(info.format.0).expect("an allocated format is known");
    for (handle, buffer, metadata) in allocation.buffers {
        assert!(
            i64::from(allocation.stride) >= i64::from(info.width),
            "stride {} < width {}",
            allocation.stride,
            info.width
        );
        assert_eq!(i64::from(handle.width), i64::from(info.width));
        assert_eq!(i64::from(handle.height), i64::from(info.height));
        assert_eq!(i64::from(handle.layers), i64::from(info.layerCount));
        assert_eq!(handle.format, info.format.0);
        assert_eq!(handle.usage.to_ne_bytes(), info.usage.0.to_ne_bytes());
        assert!(handle.stride_pixels >= handle.width, "stride_pixels < width");
        let pixels =
            u128::from(handle.width) * u128::from(handle.height) * u128::from(handle.layers);
        let minimum = pixels * minimum_bits(format) / 8;
        assert!(
            u128::from(handle.alloc_size) >= minimum,
            "{} < {minimum} bytes",
            handle.alloc_size
        );
        assert!(handle.alloc_size <= MAX_BYTES_PER_BUFFER, "over the per-buffer cap");
        assert!(!handle.planes.is_empty(), "no planes");
        for plane in &handle.planes {
            let end = plane.offset.checked_add(plane.size).expect("plane end overflows");
            assert!(end <= handle.alloc_size, "plane past the allocation: {handle:?}");
        }
        let reserved_end = handle.reserved_offset.checked_add(handle.reserved_size);
        assert!(reserved_end.is_some_and(|end| end <= handle.alloc_size), "reserved past the end");
        assert!(u64::try_from(info.reservedSize).is_ok_and(|r| r <= handle.reserved_size));
        let size = dmabuf::size_of(buffer.as_fd()).expect("buffer fd has a size");
        assert!(size >= handle.alloc_size, "buffer fd {size} < alloc_size {}", handle.alloc_size);
        let region_size = dmabuf::size_of(metadata.as_fd()).expect("metadata fd has a size");
        assert!(region_size >= u64::from(shared_metadata::REGION_SIZE));
        check_handle_round_trip(&handle, buffer, metadata);
    }
}

/// The handle encodes with the codec's fd and int counts, decodes to itself, and the
/// mapper imports it and answers every required metadata type.
fn check_handle_round_trip(handle: &BufferHandle, buffer: OwnedFd, metadata: OwnedFd) {
    let native = handle.clone().into_native(buffer, metadata).expect("an allocated handle encodes");
    assert_eq!(native.fds.len(), FD_COUNT);
    assert_eq!(native.ints.len(), BufferHandle::int_count(handle.planes.len()));
    assert!(native.ints.len() <= 1024, "NATIVE_HANDLE_MAX_INTS");
    assert_eq!(&BufferHandle::decode(&native).expect("decodes"), handle);
    let fds: Vec<OwnedFd> =
        native.fds.iter().map(|fd| fd.as_fd().try_clone_to_owned().expect("dup")).collect();
    let imported = Imported::new(fds, native.ints.clone()).expect("the mapper imports it");
    for ty in StandardMetadataType::ALL {
        match gralloc_mapper::metadata::get(&imported, ty.value()) {
            Ok(bytes) => {
                decode(ty, &bytes).unwrap_or_else(|e| panic!("{}: undecodable: {e}", ty.name()));
            }
            Err(err) if ty.is_optional() => {
                panic!("{}: {err:?} (unset optionals are 0 bytes)", ty.name())
            }
            Err(err) => panic!("{}: required type not gettable: {err:?}", ty.name()),
        }
    }
}
