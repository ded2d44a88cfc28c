//! Cost of the allocator core over its heap: `allocate2` calls per second with a plain memfd
//! heap against raw `MemfdHeap::allocate` of the same length, and the ratio.
//!
//! A measurement, not a check, so it is ignored by default. Run it optimised:
//! `cargo test --release -p allocator_service --test core_bench -- --ignored --nocapture`.

mod core_support;

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use core_support::*;
use hal_interface::Format;
use heaps::{Heap, MemfdHeap};

const ITERATIONS: u32 = 5000;

/// Calls per second of `call`, best of three rounds (the machine is shared).
fn rate(mut call: impl FnMut()) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        for _ in 0..ITERATIONS {
            call();
        }
        best = best.min(start.elapsed());
    }
    f64::from(ITERATIONS) / best.as_secs_f64()
}

#[test]
#[ignore = "measurement: run with --release --ignored --nocapture"]
fn allocate2_overhead_over_the_raw_heap() {
    let board = r#"
schema = 1
[board]
name = "bench"
mapper_suffix = "bench"
[heaps.memfd]
kind = "memfd"
[[rules]]
name = "protected"
all = ["PROTECTED"]
reject = "none"
[[rules]]
name = "default"
heaps = ["memfd"]
"#;
    let alloc = memfd_allocator(board);
    let raw = MemfdHeap::plain("raw").unwrap();
    for (w, h) in [(64, 64), (256, 256), (1920, 1080)] {
        let info = desc(w, h, Format::Rgba8888, CPU_RW);
        let len = alloc.allocate2(&info, 1).unwrap().buffers[0].0.alloc_size;
        let len = NonZeroU64::new(len).unwrap();
        let service = rate(|| drop(alloc.allocate2(&info, 1).unwrap()));
        let heap = rate(|| drop(raw.allocate(len).unwrap()));
        println!(
            "{w}x{h} RGBA_8888 ({len} B): allocate2 {service:.0}/s, raw memfd {heap:.0}/s, \
             ratio {:.2}, core overhead {:.2} us/call",
            heap / service,
            (1e6 / service) - (1e6 / heap)
        );
    }
}
