//! Allocation latency per back end, in the spirit of libdmabufheap's `dmabuf_heap_bench`:
//! for 4 KiB, 1 MiB and 8 MiB, N × (allocate + close), reporting ns per call.
//!
//! Usage: `heap_bench [ITERATIONS]` (default 200). Benchmarks the plain memfd heap, the
//! udmabuf memfd heap when `/dev/udmabuf` works, and every `/dev/dma_heap` entry.

use std::num::NonZeroU64;
use std::time::Instant;

use heaps::{DmaHeap, Heap, MemfdHeap};

const SIZES: [(u64, &str); 3] = [(4 << 10, "4 KiB"), (1 << 20, "1 MiB"), (8 << 20, "8 MiB")];

fn bench(heap: &dyn Heap, label: &str, iterations: u32) {
    for (size, size_name) in SIZES {
        let Some(len) = NonZeroU64::new(size) else { continue };
        let start = Instant::now();
        let mut failures = 0u32;
        for _ in 0..iterations {
            match heap.allocate(len) {
                Ok(fd) => drop(fd),
                Err(_) => failures = failures.saturating_add(1),
            }
        }
        let per_call = start.elapsed().as_nanos() / u128::from(iterations.max(1));
        let note = if failures > 0 { format!("  ({failures} failed)") } else { String::new() };
        println!("{label:<24} {size_name:>6}  {iterations:>6} x  {per_call:>10} ns/call{note}");
    }
}

fn main() {
    let iterations = match std::env::args().nth(1).map(|a| a.parse::<u32>()) {
        None => 200,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: heap_bench [ITERATIONS > 0]");
            std::process::exit(2);
        }
    };
    println!("{:<24} {:>6}  {:>8}  {:>18}", "heap", "size", "iters", "alloc+close");
    match MemfdHeap::plain("bench") {
        Ok(heap) => bench(&heap, "memfd", iterations),
        Err(err) => eprintln!("memfd heap: {err}"),
    }
    match MemfdHeap::new("bench") {
        Ok(heap) if heap.uses_udmabuf() => bench(&heap, "memfd+udmabuf", iterations),
        Ok(_) => println!("memfd+udmabuf: skipped, /dev/udmabuf not usable"),
        Err(err) => eprintln!("udmabuf heap: {err}"),
    }
    let report = heaps::probe();
    if report.dma_heaps.is_empty() {
        println!("dma-heap: skipped, no {} entries", DmaHeap::DEFAULT_DIR);
    }
    for name in report.available_dma_heaps() {
        match DmaHeap::open(name) {
            Ok(heap) => bench(&heap, &format!("dma-heap {name}"), iterations),
            Err(err) => eprintln!("dma-heap {name}: {err}"),
        }
    }
}
