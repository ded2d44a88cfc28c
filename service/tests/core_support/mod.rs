//! Shared fixtures of the core tests: a board with scripted fake heaps, descriptors, and the
//! "nothing lost" check (process fd count unchanged, no fd handed out on error).

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;

use allocator_service::allocator::{Allocation, Allocator};
use allocator_service::error::AllocError;
use allocator_service::heap_table::HeapTable;
use hal_interface::aidl::{
    AllocationError, BufferDescriptorInfo, BufferUsage, ExtendableType, PixelFormat,
};
use hal_interface::usage::bits;
use hal_interface::wire::descriptor_name_array;
use hal_interface::Format;
use heaps::{dmabuf, FakeHeap, Heap, MemfdHeap};
use usage_map::UsageMap;

pub const MIB: u64 = 1 << 20;

/// CPU read and write often.
pub const CPU_RW: u64 = bits::CPU_READ_OFTEN | bits::CPU_WRITE_OFTEN;

/// Test board. Heaps: `first` (contiguous) and `second` are fakes the tests script, `absent`
/// is declared but never installed. Rules, first match wins:
/// PROTECTED → rejected; COMPOSER_CLIENT_TARGET → [first, second] without fallback;
/// CAMERA_OUTPUT → [first, second] with fallback; VIDEO_DECODER → [absent];
/// RENDERSCRIPT → [first] with 4096-byte stride and 1 MiB size alignment; else → [second].
pub const BOARD: &str = r#"
schema = 1

[board]
name = "core-test"
mapper_suffix = "coretest"

[heaps.first]
kind = "fake"
contiguous = true

[heaps.second]
kind = "fake"

[heaps.absent]
kind = "fake"

[usage]
vendor_bits = ["0x10000000"]

[[rules]]
name = "protected"
all = ["PROTECTED"]
reject = "no secure heap"

[[rules]]
name = "display"
all = ["COMPOSER_CLIENT_TARGET"]
heaps = ["first", "second"]
fallback = false

[[rules]]
name = "camera"
all = ["CAMERA_OUTPUT"]
heaps = ["first", "second"]
fallback = true

[[rules]]
name = "decoder"
all = ["VIDEO_DECODER"]
heaps = ["absent"]

[[rules]]
name = "aligned"
all = ["RENDERSCRIPT"]
heaps = ["first"]
stride_align_bytes = 4096
size_align_bytes = 1048576

[[rules]]
name = "default"
heaps = ["second"]

[limits]
max_width = 16384
max_height = 16384
max_bytes_per_buffer = 67108864
max_buffers_per_call = 8
max_bytes_per_call = 134217728
max_reserved_size = 1048576
max_options = 4
"#;

/// The test board's limits, as numbers.
pub const MAX_BYTES_PER_BUFFER: u64 = 64 * MIB;
pub const MAX_BUFFERS_PER_CALL: i32 = 8;
pub const MAX_BYTES_PER_CALL: u64 = 128 * MIB;
pub const MAX_RESERVED: i64 = 1 << 20;
pub const MAX_OPTIONS: usize = 4;

pub fn board() -> UsageMap {
    UsageMap::from_toml_str(BOARD, "core-test.toml").expect("test board loads")
}

/// An allocator over [`BOARD`] and the fake heaps it allocates from.
pub struct Fixture {
    pub alloc: Allocator,
    pub first: Arc<FakeHeap>,
    pub second: Arc<FakeHeap>,
}

impl Fixture {
    /// Total heap calls so far (both heaps).
    pub fn heap_calls(&self) -> u64 {
        self.first.calls() + self.second.calls()
    }
}

impl Drop for Fixture {
    /// No request ever broke the heap contract (len a page multiple, within the cap).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.first.assert_no_violations();
            self.second.assert_no_violations();
        }
    }
}

pub fn fixture() -> Fixture {
    let map = board();
    // The fakes record any request that is not a page multiple or is above the cap.
    let first = Arc::new(FakeHeap::new("first").unwrap().with_max_len(MAX_BYTES_PER_BUFFER));
    let second = Arc::new(FakeHeap::new("second").unwrap().with_max_len(MAX_BYTES_PER_BUFFER));
    let mut table = HeapTable::empty(&map);
    table.insert(&map, "first", Arc::clone(&first) as Arc<dyn Heap>).unwrap();
    table.insert(&map, "second", Arc::clone(&second) as Arc<dyn Heap>).unwrap();
    Fixture { alloc: Allocator::new(map, table), first, second }
}

/// An allocator over `board_text` whose every heap is a plain memfd heap.
pub fn memfd_allocator(board_text: &str) -> Allocator {
    memfd_allocator_without(board_text, &[])
}

/// As [`memfd_allocator`], with the heaps named in `absent` left out (not on this device).
pub fn memfd_allocator_without(board_text: &str, absent: &[&str]) -> Allocator {
    let map = UsageMap::from_toml_str(board_text, "memfd-test.toml").unwrap();
    let mut table = HeapTable::empty(&map);
    let names: Vec<String> = map.heaps().iter().map(|h| h.name.clone()).collect();
    for name in names.into_iter().filter(|n| !absent.contains(&n.as_str())) {
        let heap = MemfdHeap::plain(&name).unwrap();
        table.insert(&map, &name, Arc::new(heap)).unwrap();
    }
    Allocator::new(map, table)
}

/// A descriptor with a name, one layer and no reserved region.
pub fn desc(width: i32, height: i32, format: Format, usage: u64) -> BufferDescriptorInfo {
    BufferDescriptorInfo {
        name: descriptor_name_array(b"core-test"),
        width,
        height,
        layerCount: 1,
        format: PixelFormat(format.raw()),
        usage: BufferUsage(i64::from_ne_bytes(usage.to_ne_bytes())),
        reservedSize: 0,
        additionalOptions: Vec::new(),
    }
}

/// 64×64 RGBA_8888 with CPU read/write: the VTS generic buffer.
pub fn rgba64() -> BufferDescriptorInfo {
    desc(64, 64, Format::Rgba8888, CPU_RW)
}

pub fn option(name: &str, value: i64) -> ExtendableType {
    ExtendableType { name: name.to_owned(), value }
}

pub fn open_fds() -> usize {
    dmabuf::count_open_fds(None).expect("count /proc/self/fd")
}

/// Runs a call that must fail with `code`, and checks "nothing lost": the process has the
/// same number of open fds afterwards (the failed call left nothing open).
pub fn assert_fails_clean(
    code: AllocationError,
    call: impl FnOnce() -> Result<Allocation, AllocError>,
) -> AllocError {
    let before = open_fds();
    let result = call();
    let after = open_fds();
    let err = match result {
        Ok(allocation) => panic!(
            "expected {code:?}, got {} buffers with stride {}",
            allocation.buffers.len(),
            allocation.stride
        ),
        Err(err) => err,
    };
    assert_eq!(err.code(), code, "{}", allocator_service::error::Chain(&err));
    assert_eq!(after, before, "fds leaked by a failed call: {err}");
    err
}

/// Checks the contract of a successful call: `count` buffers, each a distinct open file of at
/// least the handle's allocation size, close-on-exec, with a metadata region that decodes
/// and a handle that encodes and decodes.
pub fn assert_allocation_ok(allocation: &Allocation, count: usize) {
    use hal_interface::shared_metadata;
    assert_eq!(allocation.buffers.len(), count);
    let mut ids = std::collections::HashSet::new();
    for (handle, fd, metadata) in &allocation.buffers {
        use std::os::fd::AsFd;
        assert!(ids.insert(handle.buffer_id), "buffer ids must be distinct");
        assert_ne!(dmabuf::inode(fd.as_fd()).unwrap(), dmabuf::inode(metadata.as_fd()).unwrap());
        assert!(dmabuf::size_of(metadata.as_fd()).unwrap() >= u64::from(handle.metadata_size));
        assert!(dmabuf::FdInfo::read(metadata.as_fd()).unwrap().is_cloexec());
        let region = allocator_service::region::MappedRegion::map(metadata.as_fd(), false)
            .expect("metadata region maps");
        shared_metadata::read(&region).expect("metadata region decodes");
        assert!(dmabuf::size_of(fd.as_fd()).unwrap() >= handle.alloc_size);
        assert!(dmabuf::FdInfo::read(fd.as_fd()).unwrap().is_cloexec());
        assert_eq!(u32::try_from(allocation.stride).unwrap(), handle.stride_pixels);
        let ints = handle.encode_ints().expect("handle encodes");
        assert!(ints.len() <= 1024, "NATIVE_HANDLE_MAX_INTS");
        let decoded = hal_interface::BufferHandle::decode_parts(2, &ints).expect("decodes");
        assert_eq!(&decoded, handle);
    }
}
