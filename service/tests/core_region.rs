//! Each buffer's shared metadata region (handle fd 1) and its buffer id: what the allocator
//! puts in them, where the region comes from, and all-or-nothing when making one fails.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

mod core_support;

use std::os::fd::AsFd;
use std::sync::Arc;

use allocator_service::allocator::Allocator;
use allocator_service::error::AllocError;
use allocator_service::heap_table::HeapTable;
use allocator_service::region::{MappedRegion, MetadataRegions, RegionCreateError};
use core_support::*;
use hal_interface::aidl::AllocationError;
use hal_interface::handle::{BufferHandle, FD_BUFFER, FD_METADATA};
use hal_interface::shared_metadata::{self, SharedMetadata, REGION_SIZE};
use hal_interface::wire::descriptor_name_array;
use heaps::{dmabuf, Errno, FakeHeap, FakeScript, Heap};
use serial_test::serial;
use usage_map::UsageMap;

const DATASPACE: &str = "android.hardware.graphics.common.Dataspace";
const DISPLAY_P3: i64 = 143_261_696;

fn region_of(fd: std::os::fd::BorrowedFd<'_>) -> SharedMetadata {
    let region = MappedRegion::map(fd, false).expect("region maps");
    shared_metadata::read(&region).expect("region decodes")
}

#[test]
#[serial]
fn each_buffer_has_its_own_region_with_the_full_name_and_the_dataspace_option() {
    let fx = fixture();
    let name = [b'n'; 127];
    let mut info = rgba64();
    info.name = descriptor_name_array(&name);
    info.additionalOptions.push(option(DATASPACE, DISPLAY_P3));
    let allocation = fx.alloc.allocate2(&info, 2).unwrap();
    assert_allocation_ok(&allocation, 2);
    let expected =
        SharedMetadata { name: name.to_vec(), dataspace: 143_261_696, ..SharedMetadata::default() };
    for (handle, _, metadata) in &allocation.buffers {
        assert_eq!(handle.metadata_size, REGION_SIZE);
        assert_eq!(region_of(metadata.as_fd()), expected);
    }
    // Two buffers, two regions: a set on one is not seen on the other.
    let first = MappedRegion::map(allocation.buffers[0].2.as_fd(), true).unwrap();
    shared_metadata::write(&first, &shared_metadata::FieldValue::BlendMode(3)).unwrap();
    assert_eq!(region_of(allocation.buffers[0].2.as_fd()).blend_mode, 3);
    assert_eq!(region_of(allocation.buffers[1].2.as_fd()).blend_mode, 0);
    let stats = fx.alloc.stats();
    assert_eq!((stats.regions, stats.region_bytes), (2, 2 * u64::from(REGION_SIZE)));
}

#[test]
#[serial]
fn without_the_option_the_dataspace_is_unknown_and_the_handle_carries_both_fds_in_order() {
    let fx = fixture();
    let mut allocation = fx.alloc.allocate2(&rgba64(), 1).unwrap();
    let (handle, fd, metadata) = allocation.buffers.remove(0);
    let region = region_of(metadata.as_fd());
    assert_eq!((region.name.as_slice(), region.dataspace), (&b"core-test"[..], 0));
    let (buffer_ino, region_ino) =
        (dmabuf::inode(fd.as_fd()).unwrap(), dmabuf::inode(metadata.as_fd()).unwrap());
    let native = handle.clone().into_native(fd, metadata).unwrap();
    assert_eq!(native.fds.len(), 2);
    assert_eq!(BufferHandle::decode(&native), Ok(handle));
    assert_eq!(dmabuf::inode(native.fds[FD_BUFFER].as_fd()).unwrap(), buffer_ino);
    assert_eq!(dmabuf::inode(native.fds[FD_METADATA].as_fd()).unwrap(), region_ino);
}

#[test]
#[serial]
fn a_failing_region_closes_every_fd_of_the_call() {
    for failing_call in [1, 2, 3] {
        let fx = fixture();
        let regions = Arc::new(FakeHeap::new("regions").unwrap());
        regions.set_script(FakeScript::new().fail_call(failing_call, Errno::ENOMEM));
        let alloc = fx_with_regions(&fx, Arc::clone(&regions));
        let err =
            assert_fails_clean(AllocationError::NO_RESOURCES, || alloc.allocate2(&rgba64(), 3));
        assert!(
            matches!(err, AllocError::MetadataRegion(RegionCreateError::Heap(_))),
            "{failing_call}: {err:?}"
        );
        assert_eq!(regions.calls(), failing_call, "stops at the failing region");
    }
}

/// A fresh allocator over the fixture's board and heaps, with regions from `heap`.
fn fx_with_regions(fx: &Fixture, heap: Arc<FakeHeap>) -> Allocator {
    let map = board();
    let mut table = HeapTable::empty(&map);
    table.insert(&map, "first", Arc::clone(&fx.first) as Arc<dyn Heap>).unwrap();
    table.insert(&map, "second", Arc::clone(&fx.second) as Arc<dyn Heap>).unwrap();
    Allocator::new(map, table).with_regions(MetadataRegions::new(heap, "fake regions"))
}

#[test]
#[serial]
fn buffer_ids_differ_across_two_allocator_instances() {
    let (a, b) = (fixture(), fixture());
    let ids = |fx: &Fixture| -> Vec<u64> {
        let allocation = fx.alloc.allocate2(&rgba64(), 4).unwrap();
        allocation.buffers.iter().map(|(h, _, _)| h.buffer_id).collect()
    };
    let (first, second) = (ids(&a), ids(&b));
    let high = |id: u64| id >> 32;
    assert!(first.iter().all(|&id| high(id) == high(first[0])), "one start value per instance");
    assert_ne!(high(first[0]), high(second[0]), "another instance, another start value");
    assert_eq!(first.iter().map(|id| id & 0xffff_ffff).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(first.iter().all(|id| !second.contains(id)));
}

const METADATA_BOARD: &str = r#"
schema = 1

[board]
name = "region-test"
mapper_suffix = "regiontest"
metadata_heap = "meta"

[heaps.images]
kind = "fake"
zeroed = true

[heaps.meta]
kind = "fake"

[[rules]]
name = "protected"
all = ["PROTECTED"]
reject = "no secure heap"

[[rules]]
name = "default"
heaps = ["images"]
"#;

#[test]
#[serial]
fn the_board_names_the_heap_that_serves_regions() {
    let map = UsageMap::from_toml_str(METADATA_BOARD, "region-test.toml").unwrap();
    assert_eq!(map.metadata_heap(), Some("meta"));
    let meta = Arc::new(FakeHeap::new("meta").unwrap());
    let mut table = HeapTable::empty(&map);
    table.insert(&map, "images", Arc::new(FakeHeap::new("images").unwrap())).unwrap();
    table.insert(&map, "meta", Arc::clone(&meta) as Arc<dyn Heap>).unwrap();
    let alloc = Allocator::new(map, table);
    assert_eq!(alloc.metadata_source(), "heap meta");
    let allocation = alloc.allocate2(&rgba64(), 2).unwrap();
    assert_eq!(meta.calls(), 2);
    assert_eq!(meta.requests(), [u64::from(REGION_SIZE); 2]);
    assert_eq!(region_of(allocation.buffers[1].2.as_fd()).name, b"core-test");
}

#[test]
fn without_the_key_or_a_system_heap_regions_are_memfds() {
    assert_eq!(fixture().alloc.metadata_source(), "memfd");
    let absent = METADATA_BOARD.replace("metadata_heap = \"meta\"\n", "");
    let map = UsageMap::from_toml_str(&absent, "region-test.toml").unwrap();
    assert_eq!(map.metadata_heap(), None);
    let alloc = Allocator::new(map.clone(), HeapTable::empty(&map));
    assert_eq!(alloc.metadata_source(), "memfd");
    // A fake heap called "system" is not a kernel system heap: still memfd.
    let fake_system = absent.replace("heaps.meta", "heaps.system");
    let map = UsageMap::from_toml_str(&fake_system, "region-test.toml").unwrap();
    let mut table = HeapTable::empty(&map);
    table.insert(&map, "system", Arc::new(FakeHeap::new("system").unwrap())).unwrap();
    assert_eq!(Allocator::new(map, table).metadata_source(), "memfd");
}

#[test]
fn a_named_heap_that_is_absent_falls_back_to_memfd_and_an_undeclared_one_is_refused() {
    let map = UsageMap::from_toml_str(METADATA_BOARD, "region-test.toml").unwrap();
    assert_eq!(Allocator::new(map.clone(), HeapTable::empty(&map)).metadata_source(), "memfd");
    let undeclared = METADATA_BOARD.replace("metadata_heap = \"meta\"", "metadata_heap = \"nope\"");
    let err = UsageMap::from_toml_str(&undeclared, "region-test.toml").unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
