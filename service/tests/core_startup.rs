//! Start-up: board heap declarations joined to opened heaps, and the fault-injection
//! board's documented behaviour through heaps opened from the board file itself.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

mod core_support;

use allocator_service::allocator::Allocator;
use allocator_service::error::{AllocError, BoardRefusal};
use allocator_service::startup::{open_heaps, Absence, HeapOutcome};
use core_support::*;
use hal_interface::aidl::AllocationError;
use hal_interface::usage::bits;
use hal_interface::Format;
use heaps::{probe_at, ProbeReport};
use serial_test::serial;
use usage_map::UsageMap;

const BOARDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../usage-map/boards");
const FAKE_EXHAUSTION: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../usage-map/tests/boards/fake-exhaustion.toml");

/// A probe of an empty root: no dma-heap, no ION, no udmabuf.
fn empty_probe() -> (tempfile::TempDir, ProbeReport) {
    let root = tempfile::tempdir().unwrap();
    let report = probe_at(root.path());
    (root, report)
}

fn load(path: &str) -> UsageMap {
    UsageMap::load(std::path::Path::new(path)).unwrap()
}

#[test]
#[serial]
fn host_board_opens_its_memfd_heap() {
    let map = load(&format!("{BOARDS}/host.toml"));
    let (_root, probe) = empty_probe();
    let (table, report) = open_heaps(&map, &probe).unwrap();
    assert_eq!(table.present(), 1);
    assert_eq!(report.opened().collect::<Vec<_>>(), ["memfd"]);
    let text = report.to_string();
    assert!(text.starts_with("heap memfd (memfd): opened "), "{text}");
    let alloc = Allocator::new(map, table);
    assert_eq!(alloc.mapper_suffix(), "host");
    let allocation = alloc.allocate2(&rgba64(), 2).unwrap();
    assert_allocation_ok(&allocation, 2);
    // 64-byte rows from the board: 64 px × 4 B is already aligned.
    assert_eq!(allocation.buffers[0].0.stride_bytes, 256);
}

#[test]
#[serial]
fn a_board_without_any_present_heap_refuses_to_start() {
    let map = UsageMap::from_toml_str(
        r#"
schema = 1
[board]
name = "dma-only"
mapper_suffix = "x"
[heaps.system]
kind = "dma-heap"
names = ["system"]
[[rules]]
name = "protected"
all = ["PROTECTED"]
reject = "no secure heap"
[[rules]]
name = "default"
heaps = ["system"]
"#,
        "dma-only.toml",
    )
    .unwrap();
    let (_root, probe) = empty_probe();
    let err = open_heaps(&map, &probe).unwrap_err();
    let report = err.report().unwrap_or_else(|| panic!("{err}"));
    assert!(matches!(
        &report.heaps[0].outcome,
        HeapOutcome::Absent { reason: Absence::NoDmaHeapNode { names } } if names == &["system"]
    ));
    let text = err.to_string();
    assert!(
        text.contains("heap system (dma-heap): absent (none of system in /dev/dma_heap)"),
        "{text}"
    );
    assert!(text.contains("UNUSABLE"), "{text}");
}

#[test]
#[serial]
fn rules_whose_heaps_are_absent_are_unsupported_and_reported() {
    let map = UsageMap::from_toml_str(
        r#"
schema = 1
[board]
name = "mixed"
mapper_suffix = "x"
[heaps.cma]
kind = "dma-heap"
names = ["linux,cma", "reserved"]
contiguous = true
[heaps.ion-system]
kind = "ion"
heap_name = "ion_system_heap"
[heaps.memfd]
kind = "memfd"
[[rules]]
name = "protected"
all = ["PROTECTED"]
reject = "no secure heap"
[[rules]]
name = "scanout"
all = ["COMPOSER_CLIENT_TARGET"]
heaps = ["cma"]
fallback = false
[[rules]]
name = "camera"
all = ["CAMERA_OUTPUT"]
heaps = ["ion-system", "memfd"]
fallback = true
[[rules]]
name = "default"
heaps = ["memfd"]
"#,
        "mixed.toml",
    )
    .unwrap();
    // The probe root lists a "reserved" node, but /dev/dma_heap/reserved does not exist on
    // this host: the open fails with ENOENT and the heap counts as absent.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("dev/dma_heap")).unwrap();
    std::fs::write(root.path().join("dev/dma_heap/reserved"), b"").unwrap();
    let probe = probe_at(root.path());
    if std::path::Path::new("/dev/dma_heap/reserved").exists() {
        // Straight to the stderr handle: libtest captures the print macros, not the handle.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"SKIP: this host has /dev/dma_heap/reserved; the absent-node case needs it missing\n",
        );
        return;
    }
    let (table, report) = open_heaps(&map, &probe).unwrap();
    assert_eq!(table.present(), 1);
    let text = report.to_string();
    assert!(text.contains("heap cma (dma-heap): absent"), "{text}");
    assert!(text.contains("heap ion-system (ion): absent (/dev/ion not present)"), "{text}");
    assert!(text.contains("rules[1] \"scanout\": UNUSABLE"), "{text}");

    let alloc = Allocator::new(map, table);
    let scanout = desc(64, 64, Format::Rgba8888, bits::COMPOSER_CLIENT_TARGET);
    assert!(alloc.check_supported(&scanout).is_err());
    let err = assert_fails_clean(AllocationError::UNSUPPORTED, || alloc.allocate2(&scanout, 1));
    assert!(matches!(err, AllocError::Refused(BoardRefusal::NoHeapPresent { .. })), "{err}");
    // The camera rule skips its absent ION heap and serves from memfd.
    let camera = desc(64, 64, Format::Rgba8888, bits::CAMERA_OUTPUT);
    let allocation = alloc.allocate2(&camera, 1).unwrap();
    assert_eq!(allocation.buffers[0].0.heap, "memfd");
}

#[test]
#[serial]
fn fake_exhaustion_board_behaves_as_documented() {
    let map = load(FAKE_EXHAUSTION);
    let (_root, probe) = empty_probe();
    let (table, report) = open_heaps(&map, &probe).unwrap();
    assert_eq!(report.opened().count(), 3);
    let alloc = Allocator::new(map, table);
    let usage = |u| desc(64, 64, Format::Rgba8888, u);

    // CAMERA_OUTPUT: fake-cma twice, then fake-system after ENOMEM.
    let camera = usage(bits::CAMERA_OUTPUT);
    let heaps: Vec<String> =
        (0..3).map(|_| alloc.allocate2(&camera, 1).unwrap().buffers[0].0.heap.clone()).collect();
    assert_eq!(heaps, ["fake-cma", "fake-cma", "fake-system"]);
    // COMPOSER_CLIENT_TARGET: fake-cma only, exhausted now.
    let display = usage(bits::COMPOSER_CLIENT_TARGET);
    assert!(alloc.check_supported(&display).is_ok());
    assert_fails_clean(AllocationError::NO_RESOURCES, || alloc.allocate2(&display, 1));
    // VIDEO_ENCODER: EINVAL from fake-einval; fake-system is not tried.
    let system_before = alloc.stats().heap("fake-system").unwrap().buffers;
    let err = assert_fails_clean(AllocationError::NO_RESOURCES, || {
        alloc.allocate2(&usage(bits::VIDEO_ENCODER), 1)
    });
    assert!(matches!(err, AllocError::HeapFailed(_)), "{err}");
    assert_eq!(alloc.stats().heap("fake-system").unwrap().buffers, system_before);
    // PROTECTED: rejected by the board.
    assert_fails_clean(AllocationError::UNSUPPORTED, || {
        alloc.allocate2(&usage(bits::PROTECTED), 1)
    });

    let stats = alloc.stats();
    let cma = stats.heap("fake-cma").unwrap();
    assert_eq!((cma.buffers, cma.failures), (2, 2));
    assert_eq!(stats.heap("fake-system").unwrap().fallbacks, 1);
    let text = stats.to_string();
    assert!(
        text.contains("heap fake-cma: 2 buffers, 32768 bytes, 2 failures, 0 fallbacks"),
        "{text}"
    );
}

#[test]
#[serial]
fn every_shipped_board_opens_on_this_host_or_reports_why_not() {
    let probe = heaps::probe();
    let mut checked = 0;
    for entry in std::fs::read_dir(BOARDS).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let map = UsageMap::load(&path).unwrap();
        match open_heaps(&map, &probe) {
            Ok((table, report)) => {
                assert!(table.present() > 0);
                assert!(!report.to_string().is_empty());
            }
            Err(err) => match err.report() {
                Some(report) => println!("{}: no heap on this host:\n{report}", path.display()),
                None => panic!("{}: {err}", path.display()),
            },
        }
        checked += 1;
    }
    assert!(checked >= 2, "found {checked} boards");
}
