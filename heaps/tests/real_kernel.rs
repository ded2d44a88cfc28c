//! Real-kernel tests: `/dev/dma_heap/*`, `/dev/udmabuf`, `/dev/ion`.
//!
//! The tests that need a device are `#[ignore = "needs ..."]`: a host seldom has them. The
//! VM harness (`vm/`) runs this binary with `--include-ignored` and `HEAPS_REQUIRE_DEVICES`
//! (see `src/test_util/devices.rs`), so a missing device fails there instead of passing.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

#[path = "../src/test_util/devices.rs"]
mod devices;

use std::io::Write as _;
use std::num::NonZeroU64;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use devices::{have_device, skip};
use heaps::dmabuf::{self, FdInfo, Mapping, SyncDirection, SyncPhase};
use heaps::{
    DmaHeap, Errno, Heap, HeapError, IonAbi, IonDevice, IonHeap, MemfdHeap, ION_FLAG_CACHED,
};

const MIB: u64 = 1 << 20;

fn len(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap()
}

/// Checks one fresh buffer: size, flags, zeroed, writable shared mapping, SYNC, SET_NAME.
fn check_buffer(fd: &OwnedFd, expected_size: u64, exporters: &[&str], label: &str) {
    let fd = fd.as_fd();
    assert_eq!(dmabuf::size_of(fd).unwrap(), expected_size, "{label}: lseek size");
    let info = FdInfo::read(fd).unwrap();
    assert!(info.is_cloexec(), "{label}: not O_CLOEXEC: {info:?}");
    assert_eq!(info.size, Some(expected_size), "{label}: fdinfo size");
    let exp_name = info.exp_name.as_deref().unwrap_or_default();
    assert!(exporters.contains(&exp_name), "{label}: exp_name {exp_name:?} not in {exporters:?}");

    let map_len = usize::try_from(expected_size).unwrap();
    let map = Mapping::new(fd, map_len, true).unwrap();
    dmabuf::sync(fd, SyncDirection::ReadWrite, SyncPhase::Start).unwrap();
    assert!(map.all_equal(0, map_len, 0).unwrap(), "{label}: buffer not zeroed");
    map.fill(0, map_len, 0x5A).unwrap();
    dmabuf::sync(fd, SyncDirection::ReadWrite, SyncPhase::End).unwrap();
    let reader = Mapping::new(fd, map_len, false).unwrap();
    assert!(reader.all_equal(0, map_len, 0x5A).unwrap(), "{label}: second mapping does not share");

    let name = format!("heaps-test-{label}-with-a-long-suffix");
    dmabuf::set_name(fd, &name).unwrap();
    let shown = FdInfo::read(fd).unwrap().name;
    assert_eq!(shown.as_deref(), Some(dmabuf::truncate_name(&name)), "{label}: fdinfo name");
    assert!(dmabuf::list_dmabuf_fds(None).unwrap().iter().any(|b| b.link.contains("heaps-test-")));
}

fn dma_heap_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(DmaHeap::DEFAULT_DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
#[ignore = "needs /dev/dma_heap"]
fn every_dma_heap_allocates_a_zeroed_nameable_1mib_buffer() {
    if !have_device("dma_heap", DmaHeap::DEFAULT_DIR) {
        return;
    }
    let names = dma_heap_names();
    assert!(!names.is_empty(), "{} is empty", DmaHeap::DEFAULT_DIR);
    for name in names {
        let heap = DmaHeap::open(&name).unwrap();
        let fd = match heap.allocate(len(MIB)) {
            // Android's system-uncached answers EBUSY until it is initialised.
            Err(err) if err.errno() == Some(Errno::EBUSY) => {
                skip(&format!("dma-heap {name} busy"));
                continue;
            }
            result => result.unwrap(),
        };
        // 6.12+: the heap name; 5.10: the exporting module (heap_helpers).
        check_buffer(&fd, MIB, &[name.as_str(), "heap_helpers"], &name);
    }
}

#[test]
#[ignore = "needs /dev/dma_heap/system"]
fn dma_heap_lengths_are_page_rounded_and_buffers_distinct() {
    if !have_device("dma_heap", "/dev/dma_heap/system") {
        return;
    }
    let heap = DmaHeap::open("system").unwrap();
    let page = heaps::page_size();
    let small = heap.allocate(len(1)).unwrap();
    let odd = heap.allocate(len(page + 1)).unwrap();
    assert_eq!(dmabuf::size_of(small.as_fd()).unwrap(), page);
    assert_eq!(dmabuf::size_of(odd.as_fd()).unwrap(), 2 * page);
    assert_ne!(dmabuf::inode(small.as_fd()).unwrap(), dmabuf::inode(odd.as_fd()).unwrap());
}

#[test]
#[ignore = "needs /dev/dma_heap/system"]
fn dma_heap_buffers_are_zeroed_after_dirty_ones_are_freed() {
    if !have_device("dma_heap", "/dev/dma_heap/system") {
        return;
    }
    let heap = DmaHeap::open("system").unwrap();
    for round in 0..16 {
        let fd = heap.allocate(len(MIB)).unwrap();
        let map_len = usize::try_from(MIB).unwrap();
        let map = Mapping::new(fd.as_fd(), map_len, true).unwrap();
        assert!(map.all_equal(0, map_len, 0).unwrap(), "round {round}: stale data");
        map.fill(0, map_len, 0xAA).unwrap();
    }
}

#[test]
fn unknown_dma_heap_is_not_present() {
    let err = DmaHeap::open("heaps-test-no-such-heap").unwrap_err();
    assert!(err.is_not_present(), "{err:?}");
}

#[test]
#[ignore = "needs /dev/udmabuf"]
fn udmabuf_memfd_heap_returns_udmabuf_dmabufs() {
    if !have_device("udmabuf", "/dev/udmabuf") {
        return;
    }
    let heap = MemfdHeap::new("udmabuf-test").unwrap();
    assert!(heap.uses_udmabuf(), "/dev/udmabuf exists but the memfd heap did not take it");
    let fd = heap.allocate(len(MIB + 1)).unwrap();
    check_buffer(&fd, MIB + heaps::page_size(), &["udmabuf"], "udmabuf");
    assert_eq!(dmabuf::exporter(fd.as_fd()).unwrap(), "udmabuf");
}

#[test]
#[ignore = "needs /dev/ion"]
fn ion_modern_allocates_from_every_queried_heap() {
    if !have_device("ion", IonDevice::DEFAULT_PATH) {
        return;
    }
    let device = IonDevice::open().unwrap();
    assert_eq!(device.abi(), IonAbi::Modern, "ION on 4.12–5.10 kernels is modern");
    let infos = device.heaps().unwrap();
    assert!(!infos.is_empty(), "HEAP_QUERY listed no heaps");
    for info in infos {
        let heap = IonHeap::by_name(&device, &info.name, ION_FLAG_CACHED).unwrap();
        let fd = heap.allocate(len(MIB)).unwrap();
        check_buffer(&fd, MIB, &["ion"], &info.name);
    }
    let missing = IonHeap::by_name(&device, "heaps-test-no-such-heap", 0).unwrap_err();
    assert!(matches!(missing, HeapError::IonHeapNotFound { .. }));
}

#[test]
fn probe_lists_what_exists() {
    let report = heaps::probe();
    let _ = writeln!(std::io::stderr(), "probe:\n{report}");
    if Path::new(DmaHeap::DEFAULT_DIR).exists() {
        assert!(report.dma_heap_dir.is_available());
        assert_eq!(report.available_dma_heaps().len(), report.dma_heaps.len(), "{report}");
    }
    if Path::new(IonDevice::DEFAULT_PATH).exists() {
        assert!(report.ion.is_available() && report.ion_abi.is_some(), "{report}");
        assert!(report.ion_heaps_error.is_none(), "{report}");
    }
}
