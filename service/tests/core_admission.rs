//! Latency isolation in the core: a contiguous heap's admission gate bounds the calls inside
//! it, compositor callers get the next free permit first, requests to other heaps never
//! wait for it, and contention refuses nothing and loses nothing. Fake heaps in slow mode
//! stand in for CMA.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

mod core_support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use allocator_service::admission::{Gate, Priority, CONTIGUOUS_PERMITS};
use allocator_service::allocator::Allocator;
use allocator_service::heap_table::HeapTable;
use core_support::*;
use hal_interface::aidl::BufferDescriptorInfo;
use hal_interface::usage::bits;
use hal_interface::Format;
use heaps::{FakeHeap, FakeScript, Heap, HeapCaps};
use serial_test::serial;

/// The test board's `first` heap as a contiguous fake following `script`, `second` a fast
/// plain fake.
struct Slow {
    alloc: Arc<Allocator>,
    first: Arc<FakeHeap>,
    second: Arc<FakeHeap>,
}

fn slow(script: FakeScript, gates: bool) -> Slow {
    let map = board();
    let contiguous = HeapCaps { contiguous: true, zeroed: true, ..HeapCaps::default() };
    let first = Arc::new(FakeHeap::new("first").unwrap().with_caps(contiguous).with_script(script));
    let second = Arc::new(FakeHeap::new("second").unwrap());
    let mut table = HeapTable::empty(&map);
    table.insert(&map, "first", Arc::clone(&first) as Arc<dyn Heap>).unwrap();
    table.insert(&map, "second", Arc::clone(&second) as Arc<dyn Heap>).unwrap();
    let table = if gates { table } else { table.without_gates() };
    Slow { alloc: Arc::new(Allocator::new(map, table)), first, second }
}

impl Slow {
    fn gate(&self) -> &Gate {
        let id = self.alloc.map().heap("first").unwrap().id;
        self.alloc.heap_table().gate(id).expect("a contiguous heap has a gate")
    }

    /// `callers` threads, each making `calls` calls of `describe()` at `priority`; joined by the
    /// caller. Each thread returns how many calls succeeded.
    fn spawn(
        &self,
        callers: usize,
        calls: usize,
        priority: Priority,
        describe: fn() -> BufferDescriptorInfo,
    ) -> Vec<thread::JoinHandle<usize>> {
        (0..callers)
            .map(|_| {
                let alloc = Arc::clone(&self.alloc);
                thread::spawn(move || {
                    let info = describe();
                    (0..calls).filter(|_| alloc.allocate2_as(priority, &info, 1).is_ok()).count()
                })
            })
            .collect()
    }
}

/// Routed to the contiguous heap `first` only (the test board's display rule), `width`
/// pixels wide.
fn display(width: i32) -> BufferDescriptorInfo {
    desc(width, 64, Format::Rgba8888, bits::COMPOSER_CLIENT_TARGET | bits::GPU_RENDER_TARGET)
}

fn display64() -> BufferDescriptorInfo {
    display(64)
}

/// Routed to the plain heap `second` (the default rule).
fn texture() -> BufferDescriptorInfo {
    desc(64, 64, Format::Rgba8888, bits::GPU_TEXTURE)
}

/// Waits up to 10 s for `condition`.
fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

fn join_all(threads: Vec<thread::JoinHandle<usize>>) -> usize {
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

#[test]
#[serial]
fn permits_bound_the_calls_inside_a_contiguous_heap() {
    let fx = slow(FakeScript::new().delay(Duration::from_millis(150)), true);

    let served = join_all(fx.spawn(6, 2, Priority::Normal, display64));

    assert_eq!(served, 12);
    assert_eq!(fx.first.max_in_flight(), CONTIGUOUS_PERMITS.get());
    assert!(fx.gate().waited() > 0);
    assert_eq!((fx.gate().in_use(), fx.gate().waiting()), (0, 0));
}

#[test]
#[serial]
fn without_a_gate_every_caller_is_inside_the_heap_at_once() {
    let fx = slow(FakeScript::new().delay(Duration::from_millis(300)), false);

    let served = join_all(fx.spawn(6, 1, Priority::Normal, display64));

    assert_eq!(served, 6);
    assert!(fx.first.max_in_flight() > CONTIGUOUS_PERMITS.get(), "{}", fx.first.max_in_flight());
}

#[test]
#[serial]
fn small_requests_to_other_heaps_never_wait_for_the_gate() {
    let fx = slow(FakeScript::new().delay(Duration::from_secs(2)), true);
    let slow_callers = fx.spawn(4, 1, Priority::Normal, display64);
    until("a full gate with two waiters", || {
        fx.gate().in_use() == CONTIGUOUS_PERMITS.get() && fx.gate().waiting() == 2
    });

    let start = Instant::now();
    let small = fx.alloc.allocate2_as(Priority::Normal, &texture(), 1).unwrap();
    let took = start.elapsed();

    assert_allocation_ok(&small, 1);
    assert_eq!(fx.gate().waiting(), 2, "the slow calls are still queued");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(fx.second.calls(), 1);
    assert_eq!(join_all(slow_callers), 4);
}

#[test]
#[serial]
fn a_compositor_caller_overtakes_waiting_normal_callers() {
    let fx = slow(FakeScript::new().delay(Duration::from_millis(400)), true);
    // Buffer widths tell the callers apart in the heap's request log.
    let holders = fx.spawn(2, 1, Priority::Normal, display64);
    until("both permits held", || fx.gate().in_use() == 2);
    let normal = fx.spawn(1, 1, Priority::Normal, || display(128));
    until("one waiter", || fx.gate().waiting() == 1);
    let compositor = fx.spawn(1, 1, Priority::Compositor, || display(256));
    until("two waiters", || fx.gate().waiting() == 2);

    let served = join_all(holders) + join_all(normal) + join_all(compositor);

    assert_eq!(served, 4);
    let row = |width: u64| width * 4 * 64;
    let log = fx.first.requests();
    assert_eq!(log.len(), 4);
    assert_eq!(log.get(2..), Some(&[row(256), row(128)][..]), "admission order {log:?}");
}

#[test]
#[serial]
fn contention_refuses_nothing_and_loses_nothing() {
    let fx = slow(FakeScript::new().hold(Duration::from_millis(5)), true);
    let before = open_fds();

    let served = join_all(fx.spawn(8, 5, Priority::Normal, display64))
        + join_all(fx.spawn(2, 5, Priority::Compositor, display64));

    assert_eq!(served, 50);
    assert_eq!(open_fds(), before, "every buffer was dropped by its caller");
    assert_eq!(fx.first.successes(), 50);
    assert!(fx.first.max_in_flight() <= CONTIGUOUS_PERMITS.get());
    assert_eq!((fx.gate().in_use(), fx.gate().waiting()), (0, 0));
}
