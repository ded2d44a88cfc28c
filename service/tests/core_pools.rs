//! Reserve pools over fake heaps: filled from their own heap at start-up, each buffer handed
//! out once and zeroed before it was pooled, refilled in the background with backoff after
//! failures, exhaustion falling through to the normal path, nothing lost, never more than
//! `count` buffers held.

#![allow(clippy::unwrap_used)] // test fixtures outside #[test] fns

mod core_support;

use std::collections::HashSet;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use allocator_service::allocator::Allocator;
use allocator_service::heap_table::HeapTable;
use allocator_service::pool::{PoolSetupError, PoolStats, Pools};
use core_support::{desc, open_fds};
use hal_interface::usage::bits;
use hal_interface::Format;
use heaps::{dmabuf, Errno, FakeHeap, FakeScript, Heap};
use serial_test::serial;
use usage_map::UsageMap;

/// Camera buffers prefer the `camera` heap and fall back to `system`; the pool keeps two
/// 64x64 NV21 camera buffers ready on `camera`.
const BOARD: &str = r#"
schema = 1

[board]
name = "pool-test"
mapper_suffix = "pooltest"

[heaps.camera]
kind = "fake"
contiguous = true

[heaps.system]
kind = "fake"

[heaps.absent]
kind = "fake"

[[rules]]
name = "protected"
all = ["PROTECTED"]
reject = "no secure heap"

[[rules]]
name = "camera"
all = ["CAMERA_OUTPUT"]
heaps = ["camera", "system"]
fallback = true

[[rules]]
name = "decoder"
all = ["VIDEO_DECODER"]
heaps = ["absent", "system"]
fallback = true

[[rules]]
name = "default"
heaps = ["system"]

[[pools]]
name = "cam"
heap = "camera"
format = "NV21"
width = 64
height = 64
usage = ["CAMERA_OUTPUT"]
count = 2

[limits]
max_buffers_per_call = 8
"#;

/// 64x64 NV21 rounds up to two pages.
const POOL_BUFFER: u64 = 8192;
const COUNT: usize = 2;

struct Rig {
    alloc: Allocator,
    camera: Arc<FakeHeap>,
    system: Arc<FakeHeap>,
    problems: Vec<PoolSetupError>,
}

fn rig_with(board: &str, camera: FakeHeap) -> Rig {
    let map = UsageMap::from_toml_str(board, "pool-test.toml").unwrap();
    let camera = Arc::new(camera);
    let system = Arc::new(FakeHeap::new("system").unwrap());
    let mut table = HeapTable::empty(&map);
    table.insert(&map, "camera", Arc::clone(&camera) as Arc<dyn Heap>).unwrap();
    table.insert(&map, "system", Arc::clone(&system) as Arc<dyn Heap>).unwrap();
    let (pools, problems) = Pools::start(&map, &table);
    Rig { alloc: Allocator::new(map, table).with_pools(pools), camera, system, problems }
}

fn rig(camera: FakeHeap) -> Rig {
    rig_with(BOARD, camera)
}

fn camera_heap() -> FakeHeap {
    FakeHeap::new("camera").unwrap()
}

fn pool(rig: &Rig) -> PoolStats {
    rig.alloc.stats().pools.into_iter().next().expect("one pool")
}

fn camera_request() -> hal_interface::aidl::BufferDescriptorInfo {
    desc(64, 64, Format::Ycrcb420Sp, bits::CAMERA_OUTPUT | bits::CPU_READ_OFTEN)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_full(rig: &Rig) {
    wait_until("the pool is full", || {
        let p = pool(rig);
        p.ready == 2 && p.in_refill == 0
    });
}

#[test]
#[serial]
fn pools_fill_at_start_up_from_their_own_heap_only() {
    let rig = rig(camera_heap());
    assert!(rig.problems.is_empty(), "{:?}", rig.problems);
    let p = pool(&rig);
    assert_eq!((p.ready, p.count, p.size, p.heap.as_str()), (2, 2, POOL_BUFFER, "camera"));
    assert_eq!(rig.camera.requests(), [POOL_BUFFER, POOL_BUFFER]);
    assert_eq!(rig.system.calls(), 0);
}

#[test]
#[serial]
fn a_matching_request_is_served_from_the_pool_without_a_heap_call() {
    let rig = rig(camera_heap());
    let calls = rig.camera.calls();
    let allocation = rig.alloc.allocate2(&camera_request(), 1).unwrap();
    core_support::assert_allocation_ok(&allocation, 1);
    let (handle, fd, _) = &allocation.buffers[0];
    assert_eq!(handle.heap, "camera");
    assert_eq!(dmabuf::size_of(fd.as_fd()).unwrap(), POOL_BUFFER);
    let p = pool(&rig);
    assert_eq!((p.handouts, p.misses), (1, 0));
    // Only the background refill may have called the heap since.
    wait_full(&rig);
    assert_eq!(rig.camera.calls(), calls + 1);
    assert_eq!(rig.alloc.stats().heap("camera").unwrap().buffers, 1);
}

#[test]
#[serial]
fn every_pooled_buffer_is_handed_out_once() {
    let rig = rig(camera_heap());
    let mut seen = HashSet::new();
    for _ in 0..6 {
        let allocation = rig.alloc.allocate2(&camera_request(), 2).unwrap();
        for (_, fd, _) in &allocation.buffers {
            assert!(seen.insert(dmabuf::inode(fd.as_fd()).unwrap()), "a buffer came out twice");
        }
        wait_full(&rig);
    }
    assert_eq!(seen.len(), 12);
    assert!(pool(&rig).handouts >= 6);
}

#[test]
#[serial]
fn pooled_buffers_are_zeroed_before_they_are_pooled_even_from_a_dirty_heap() {
    let rig = rig(camera_heap().with_garbage(0xAA));
    for round in 0..4 {
        let allocation = rig.alloc.allocate2(&camera_request(), 1).unwrap();
        let fd = &allocation.buffers[0].1;
        let len = usize::try_from(POOL_BUFFER).unwrap();
        let map = dmabuf::Mapping::new(fd.as_fd(), len, true).unwrap();
        assert!(map.all_equal(0, len, 0).unwrap(), "round {round}: stale bytes in a pooled buffer");
        // The client dirties its buffer; the next one must not show it.
        map.fill(0, len, 0x55).unwrap();
        wait_full(&rig);
    }
    assert_eq!(pool(&rig).handouts, 4);
}

#[test]
#[serial]
fn the_refill_thread_tops_the_pool_up_after_a_hand_out() {
    let rig = rig(camera_heap());
    let taken = rig.alloc.allocate2(&camera_request(), 2).unwrap();
    assert_eq!(pool(&rig).handouts, 2);
    wait_full(&rig);
    assert_eq!(rig.camera.calls(), 4, "two at start-up, two refills");
    drop(taken);
}

#[test]
#[serial]
fn an_empty_pool_falls_through_to_the_heap_and_the_rule_fallback() {
    let rig = rig(camera_heap());
    // Pool buffers first, then the normal path on the same heap.
    let allocation = rig.alloc.allocate2(&camera_request(), 4).unwrap();
    assert!(allocation.buffers.iter().all(|(h, _, _)| h.heap == "camera"));
    let p = pool(&rig);
    assert_eq!(p.handouts, 2);
    assert!(p.misses >= 1, "{p}");
    wait_full(&rig);
    // The camera heap runs dry: pool buffers still come first, then the system fallback.
    rig.camera.set_script(FakeScript::new().fail_always(Errno::ENOMEM));
    let allocation = rig.alloc.allocate2(&camera_request(), 3).unwrap();
    let heaps: Vec<&str> = allocation.buffers.iter().map(|(h, _, _)| h.heap.as_str()).collect();
    assert_eq!(heaps, ["camera", "camera", "system"]);
}

#[test]
#[serial]
fn other_sizes_and_heaps_never_touch_the_pool() {
    let rig = rig(camera_heap());
    let bigger = desc(128, 128, Format::Ycrcb420Sp, bits::CAMERA_OUTPUT);
    let gpu = desc(64, 64, Format::Ycrcb420Sp, bits::GPU_TEXTURE);
    rig.alloc.allocate2(&bigger, 1).unwrap();
    let allocation = rig.alloc.allocate2(&gpu, 1).unwrap();
    assert_eq!(allocation.buffers[0].0.heap, "system");
    let p = pool(&rig);
    assert_eq!((p.ready, p.handouts, p.misses), (2, 0, 0));
}

#[test]
#[serial]
fn a_failing_refill_is_retried_with_backoff_and_recovers() {
    let rig = rig(camera_heap());
    rig.camera.set_script(FakeScript::new().fail_always(Errno::ENOMEM));
    let calls = rig.camera.calls();
    let _taken = rig.alloc.allocate2(&camera_request(), 1).unwrap();
    // 1.2 s of failures with a 100 ms first delay doubling: the first try and retries after
    // 100, 200 and 400 ms (700 ms in all), the next at 1.5 s; no tight loop.
    std::thread::sleep(Duration::from_millis(1200));
    let tries = rig.camera.calls() - calls;
    assert!((2..=5).contains(&tries), "{tries} refill attempts in 1.2 s");
    let p = pool(&rig);
    assert_eq!(p.ready, 1);
    assert_eq!(p.refill_failures, tries);
    rig.camera.set_script(FakeScript::new());
    wait_full(&rig);
}

#[test]
#[serial]
fn a_pool_that_cannot_fill_at_start_up_is_filled_in_the_background() {
    let camera = camera_heap().with_script(FakeScript::new().fail_call(2, Errno::ENOMEM));
    let rig = rig(camera);
    assert!(pool(&rig).ready <= 1);
    wait_full(&rig);
    assert_eq!(pool(&rig).refill_failures, 1);
}

#[test]
#[serial]
fn nothing_is_lost_and_the_pool_never_holds_more_than_its_count() {
    let before = open_fds();
    let rig = rig(camera_heap());
    assert_eq!(open_fds(), before + COUNT, "the pool's buffers are the service's baseline");
    for _ in 0..10 {
        let allocation = rig.alloc.allocate2(&camera_request(), 3).unwrap();
        assert!(pool(&rig).ready <= 2);
        drop(allocation);
        wait_full(&rig);
        assert_eq!(open_fds(), before + COUNT);
    }
    // Every buffer the heap made was handed out (30) or waits in the pool.
    assert_eq!(rig.camera.successes(), 30 + u64::from(pool(&rig).ready));
    drop(rig);
    assert_eq!(open_fds(), before, "stopping closes the pooled buffers and the refill thread");
}

#[test]
#[serial]
fn a_failed_call_leaves_the_pool_buffer_it_took_closed() {
    // Two pooled buffers, then the metadata region fails: the whole call fails clean.
    let rig = rig(camera_heap());
    let before = open_fds();
    let too_many = desc(64, 64, Format::Ycrcb420Sp, bits::CAMERA_OUTPUT);
    rig.camera.set_script(FakeScript::new().fail_always(Errno::EINVAL));
    let err = rig.alloc.allocate2(&too_many, 3).unwrap_err();
    assert_eq!(err.code(), hal_interface::aidl::AllocationError::NO_RESOURCES, "{err}");
    // The two pooled buffers the call took were closed with it; the pool refills later.
    assert!(open_fds() <= before);
}

#[test]
#[serial]
fn a_pool_on_an_absent_heap_is_left_out_and_named() {
    let board = BOARD
        .replace("heap = \"camera\"", "heap = \"absent\"")
        .replace("usage = [\"CAMERA_OUTPUT\"]", "usage = [\"VIDEO_DECODER\"]");
    let rig = rig_with(&board, camera_heap());
    assert_eq!(
        rig.problems,
        [PoolSetupError::HeapAbsent { pool: "cam".into(), heap: "absent".into() }]
    );
    assert!(rig.alloc.stats().pools.is_empty());
}

#[test]
#[serial]
fn dump_shows_each_pool() {
    let rig = rig(camera_heap());
    rig.alloc.allocate2(&camera_request(), 1).unwrap();
    wait_full(&rig);
    let text = rig.alloc.stats().to_string();
    assert!(
        text.contains(
            "pool cam: heap camera, 2 x 8192 bytes, 2 ready, 0 in refill, 1 hand-outs, 0 misses"
        ),
        "{text}"
    );
}
