//! `resolve` and `resolve_available` must not allocate: they run on every allocate and
//! isSupported call. A counting global allocator (stats_alloc) measures it; this file holds a
//! single test so no other test thread allocates while it counts.

mod common;

use std::alloc::System;
use std::hint::black_box;

use hal_interface::format::Format;
use hal_interface::usage::Usage;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use usage_map::UsageMap;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn resolving_does_not_allocate() {
    let map = UsageMap::load(&common::crate_dir().join("boards/hikey960.toml")).unwrap();
    let availability = map.check_available(|heap| heap.name != "camera");
    let requests: Vec<(Usage, Format, u32, u32)> = [
        ("COMPOSER_CLIENT_TARGET|GPU_RENDER_TARGET", Format::Rgba8888, 1920, 1080),
        ("CAMERA_OUTPUT|CPU_READ_OFTEN", Format::Ycbcr420_888, 1280, 720),
        ("PROTECTED|COMPOSER_OVERLAY", Format::YcbcrP010, 3840, 2160),
        ("GPU_TEXTURE", Format::Rgba8888, 64, 64),
        ("CPU_READ_OFTEN|CPU_WRITE_OFTEN", Format::Blob, 4096, 1),
    ]
    .into_iter()
    .map(|(u, f, w, h)| (u.parse().unwrap(), f, w, h))
    .collect();

    let region = Region::new(GLOBAL);
    let mut heaps_seen = 0usize;
    for _ in 0..1000 {
        for &(usage, format, width, height) in &requests {
            if let Ok(plan) = black_box(&map).resolve(usage, format, width, height) {
                heaps_seen += plan.attempts().count();
            }
            if let Ok(plan) = map.resolve_available(&availability, usage, format, width, height) {
                heaps_seen += plan.heaps.iter().count();
            }
        }
    }
    let change = region.change();

    assert!(heaps_seen > 0, "the requests resolved to something");
    assert_eq!(
        (change.allocations, change.reallocations),
        (0, 0),
        "resolve allocated {} times ({} bytes)",
        change.allocations,
        change.bytes_allocated
    );
}
