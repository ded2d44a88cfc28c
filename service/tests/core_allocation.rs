//! Size arithmetic, partial failure of a multi-buffer call, exhaustion and fault injection,
//! concurrency, zeroing and the output contract, with fake and memfd heaps. Every failure is checked for "nothing lost".

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

mod core_support;

use std::os::fd::AsFd;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use allocator_service::error::{AllocError, Cap};
use core_support::*;
use hal_interface::aidl::{AllocationError, BufferDescriptorInfo};
use hal_interface::usage::bits;
use hal_interface::Format;
use heaps::dmabuf::{self, Mapping};
use heaps::{Errno, FakeScript, EINTR_RETRY_LIMIT};
use serial_test::serial;

const UNSUPPORTED: AllocationError = AllocationError::UNSUPPORTED;
const NO_RESOURCES: AllocationError = AllocationError::NO_RESOURCES;

/// Routed by the test board to [first, second] with fallback.
fn camera() -> BufferDescriptorInfo {
    desc(64, 64, Format::Rgba8888, bits::CAMERA_OUTPUT | bits::GPU_TEXTURE)
}

/// Routed by the test board to [first, second] without fallback.
fn display() -> BufferDescriptorInfo {
    desc(64, 64, Format::Rgba8888, bits::COMPOSER_CLIENT_TARGET | bits::GPU_RENDER_TARGET)
}

fn over_cap(err: &AllocError, expected: Cap) {
    assert!(matches!(err, AllocError::OverCap { cap, .. } if *cap == expected), "{err}");
}

#[test]
#[serial]
fn b1_b2_b4_huge_requests_are_refused_fast_without_heap_calls() {
    let fx = fixture();
    let start = Instant::now();
    let err = assert_fails_clean(UNSUPPORTED, || {
        fx.alloc.allocate2(&desc(65535, 65535, Format::RgbaFp16, 0), 1)
    });
    over_cap(&err, Cap::Width);
    let err = assert_fails_clean(UNSUPPORTED, || {
        fx.alloc.allocate2(&desc(16384, 16384, Format::RgbaFp16, 0), 1)
    });
    over_cap(&err, Cap::BytesPerBuffer);
    assert!(start.elapsed() < Duration::from_millis(50), "{:?}", start.elapsed());
    let err = assert_fails_clean(UNSUPPORTED, || {
        fx.alloc.allocate2(&desc(i32::MAX, 1, Format::Blob, 0), 1)
    });
    over_cap(&err, Cap::BytesPerBuffer);
    let err = assert_fails_clean(UNSUPPORTED, || {
        fx.alloc.allocate2(&desc(i32::MAX, 1, Format::Rgba8888, 0), 1)
    });
    over_cap(&err, Cap::Width);
    let many_layers = BufferDescriptorInfo { layerCount: 1 << 20, ..rgba64() };
    let err = assert_fails_clean(UNSUPPORTED, || fx.alloc.allocate2(&many_layers, 1));
    over_cap(&err, Cap::BytesPerBuffer);
    let max_layers = BufferDescriptorInfo { layerCount: i32::MAX, ..rgba64() };
    assert_fails_clean(UNSUPPORTED, || fx.alloc.allocate2(&max_layers, 1));
    assert_eq!(fx.heap_calls(), 0);
}

#[test]
#[serial]
fn b6_exactly_the_cap_allocates_and_one_byte_more_does_not() {
    let fx = fixture();
    let cap = i32::try_from(MAX_BYTES_PER_BUFFER).unwrap();
    let at_cap = desc(cap, 1, Format::Blob, bits::CPU_READ_OFTEN);
    let allocation = fx.alloc.allocate2(&at_cap, 1).unwrap();
    assert_allocation_ok(&allocation, 1);
    assert_eq!(allocation.buffers[0].0.alloc_size, MAX_BYTES_PER_BUFFER);
    let over = desc(cap + 1, 1, Format::Blob, bits::CPU_READ_OFTEN);
    assert!(fx.alloc.check_supported(&over).is_err());
    let err = assert_fails_clean(UNSUPPORTED, || fx.alloc.allocate2(&over, 1));
    over_cap(&err, Cap::BytesPerBuffer);
}

#[test]
#[serial]
fn b8_heaps_only_see_page_multiples_within_the_cap() {
    let fx = fixture();
    for (w, h, format) in [(1, 1, Format::R8), (33, 7, Format::Rgb888), (100, 10, Format::Yv12)] {
        let info = desc(w, h, format, CPU_RW);
        assert_allocation_ok(&fx.alloc.allocate2(&info, 2).unwrap(), 2);
    }
    let page = heaps::page_size();
    let requests = fx.second.requests();
    assert_eq!(requests.len(), 6);
    assert!(requests.iter().all(|len| len % page == 0 && *len > 0), "{requests:?}");
    // The fixture's Drop asserts no contract violation was recorded.
}

#[test]
#[serial]
fn c6_failure_of_the_kth_buffer_closes_the_earlier_ones() {
    let fx = fixture();
    for k in 1..=4u64 {
        let base = fx.second.calls();
        fx.second.set_script(FakeScript::new().fail_call(base + k, Errno::ENOMEM));
        let err = assert_fails_clean(NO_RESOURCES, || fx.alloc.allocate2(&rgba64(), 4));
        assert!(matches!(err, AllocError::Exhausted { .. }), "{err}");
        assert_eq!(fx.second.calls(), base + k, "allocation must stop at the failing buffer");
    }
    fx.second.set_script(FakeScript::new());
    assert_allocation_ok(&fx.alloc.allocate2(&rgba64(), 4).unwrap(), 4);
}

#[test]
#[serial]
fn d1_enomem_is_no_resources_and_the_next_request_succeeds() {
    let fx = fixture();
    fx.second.set_script(FakeScript::new().fail_call(fx.second.calls() + 1, Errno::ENOMEM));
    assert!(fx.alloc.check_supported(&rgba64()).is_ok(), "exhaustion does not change isSupported");
    assert_fails_clean(NO_RESOURCES, || fx.alloc.allocate2(&rgba64(), 1));
    assert_allocation_ok(&fx.alloc.allocate2(&rgba64(), 1).unwrap(), 1);
}

#[test]
#[serial]
fn d2_eintr_is_retried_within_a_bound() {
    let fx = fixture();
    fx.second.set_script(FakeScript::new().eintr(EINTR_RETRY_LIMIT));
    assert_allocation_ok(&fx.alloc.allocate2(&rgba64(), 1).unwrap(), 1);
    fx.second.set_script(FakeScript::new().eintr(EINTR_RETRY_LIMIT + 1));
    let err = assert_fails_clean(NO_RESOURCES, || fx.alloc.allocate2(&rgba64(), 1));
    assert!(matches!(err, AllocError::Exhausted { .. }), "{err}");
    assert_allocation_ok(&fx.alloc.allocate2(&rgba64(), 1).unwrap(), 1);
}

#[test]
#[serial]
fn d3a_enomem_on_first_heap_falls_back_to_second_when_the_rule_allows() {
    let fx = fixture();
    for errno in [Errno::ENOMEM, Errno::EBUSY] {
        fx.first.set_script(FakeScript::new().fail_call(fx.first.calls() + 1, errno));
        let before = fx.second.successes();
        let allocation = fx.alloc.allocate2(&camera(), 1).unwrap();
        assert_allocation_ok(&allocation, 1);
        assert_eq!(allocation.buffers[0].0.heap, "second");
        assert_eq!(fx.second.successes(), before + 1);
    }
    let stats = fx.alloc.stats();
    let second = stats.heap("second").unwrap();
    assert_eq!((second.buffers, second.fallbacks), (2, 2));
    assert_eq!(stats.heap("first").unwrap().failures, 2);
    // Without a failure the first heap serves.
    let allocation = fx.alloc.allocate2(&camera(), 1).unwrap();
    assert_eq!(allocation.buffers[0].0.heap, "first");
}

#[test]
#[serial]
fn d3b_enomem_without_fallback_is_no_resources_and_the_second_heap_is_not_tried() {
    let fx = fixture();
    fx.first.set_script(FakeScript::new().fail_always(Errno::ENOMEM));
    let err = assert_fails_clean(NO_RESOURCES, || fx.alloc.allocate2(&display(), 1));
    assert!(matches!(err, AllocError::Exhausted { attempts: 1, .. }), "{err}");
    assert_eq!(fx.second.calls(), 0);
    assert!(fx.alloc.check_supported(&display()).is_ok());
}

#[test]
#[serial]
fn exhaustion_of_every_fallback_heap_is_no_resources() {
    let fx = fixture();
    fx.first.set_script(FakeScript::new().fail_always(Errno::ENOMEM));
    fx.second.set_script(FakeScript::new().fail_always(Errno::EBUSY));
    let err = assert_fails_clean(NO_RESOURCES, || fx.alloc.allocate2(&camera(), 2));
    assert!(matches!(err, AllocError::Exhausted { attempts: 2, .. }), "{err}");
}

#[test]
#[serial]
fn einval_stops_at_once_without_fallback() {
    let fx = fixture();
    fx.first.set_script(FakeScript::new().fail_always(Errno::EINVAL));
    let err = assert_fails_clean(NO_RESOURCES, || fx.alloc.allocate2(&camera(), 1));
    assert!(matches!(err, AllocError::HeapFailed(_)), "{err}");
    assert!(err.is_unexpected());
    assert_eq!(fx.second.calls(), 0, "EINVAL must not fall back");
}

#[test]
#[serial]
fn fd_exhaustion_is_no_resources_without_fallback() {
    let fx = fixture();
    fx.first.set_script(FakeScript::new().fail_always(Errno::EMFILE));
    let err = assert_fails_clean(NO_RESOURCES, || fx.alloc.allocate2(&camera(), 1));
    assert!(matches!(err, AllocError::Exhausted { attempts: 1, .. }), "{err}");
    assert!(!err.is_unexpected());
    assert_eq!(fx.second.calls(), 0, "EMFILE is not a reason to try another heap");
}

/// Restores RLIMIT_NOFILE on drop, even when the test fails.
struct NofileGuard(u64, u64);

impl Drop for NofileGuard {
    fn drop(&mut self) {
        let _ = nix::sys::resource::setrlimit(
            nix::sys::resource::Resource::RLIMIT_NOFILE,
            self.0,
            self.1,
        );
    }
}

/// The lowest fd number not in use (the next one `open` would return).
fn lowest_free_fd() -> u64 {
    (0u64..)
        .find(|n| std::path::Path::new(&format!("/proc/self/fd/{n}")).symlink_metadata().is_err())
        .unwrap()
}

#[test]
#[serial]
fn d4_fd_limit_gives_no_resources_and_recovers() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let fx = fixture();
    let baseline = open_fds();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let result = {
        let _guard = NofileGuard(soft, hard);
        // Room for at most two more fds: numbers at or above the limit cannot be created.
        setrlimit(Resource::RLIMIT_NOFILE, lowest_free_fd() + 2, hard).unwrap();
        fx.alloc.allocate2(&rgba64(), 8)
    };
    let err = result.expect_err("eight buffers cannot fit under the limit");
    assert_eq!(err.code(), NO_RESOURCES, "{err}");
    assert_eq!(open_fds(), baseline, "the buffers made before EMFILE were closed");
    assert_allocation_ok(&fx.alloc.allocate2(&rgba64(), 8).unwrap(), 8);
}

#[test]
#[serial]
fn e1_concurrent_callers_all_succeed_and_leak_nothing() {
    let fx = Arc::new(fixture());
    let baseline = open_fds();
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let fx = Arc::clone(&fx);
            thread::spawn(move || {
                for i in 0..100 {
                    let info = if (worker + i) % 3 == 0 { camera() } else { rgba64() };
                    let count = 1 + (i % 4);
                    let allocation = fx.alloc.allocate2(&info, count).unwrap();
                    assert_eq!(allocation.buffers.len(), usize::try_from(count).unwrap());
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(open_fds(), baseline);
    assert_eq!(fx.alloc.stats().calls.ok, 800);
}

#[test]
#[serial]
fn d9_a_slow_heap_does_not_block_other_callers() {
    let fx = Arc::new(fixture());
    fx.first.set_script(FakeScript::new().delay(Duration::from_millis(500)));
    let slow = {
        let fx = Arc::clone(&fx);
        thread::spawn(move || fx.alloc.allocate2(&display(), 1).map(|a| a.buffers.len()))
    };
    while fx.first.calls() == 0 {
        thread::sleep(Duration::from_millis(1));
    }
    let start = Instant::now();
    assert_allocation_ok(&fx.alloc.allocate2(&rgba64(), 1).unwrap(), 1);
    let fast = start.elapsed();
    assert_eq!(slow.join().unwrap().unwrap(), 1);
    assert!(fast < Duration::from_millis(250), "blocked behind the slow heap: {fast:?}");
}

/// HiKey960's FRONT_BUFFER policy end to end: a CPU-written front buffer comes only from
/// the uncached heap and, on a kernel without it, is unsupported by both calls with nothing
/// lost; a GPU-only one is served from the system heap. Served ones keep bit 32.
#[test]
#[serial]
fn front_buffers_follow_the_board_policy_and_keep_bit_32() {
    let board = include_str!("../../usage-map/boards/hikey960.toml");
    let cpu_front = desc(256, 64, Format::Rgba8888, bits::FRONT_BUFFER | CPU_RW);
    let gpu_front = desc(256, 64, Format::Rgba8888, bits::FRONT_BUFFER | bits::GPU_RENDER_TARGET);
    let served_from = |alloc: &allocator_service::allocator::Allocator, info| {
        let allocation = alloc.allocate2(info, 1).unwrap();
        assert_allocation_ok(&allocation, 1);
        let handle = &allocation.buffers[0].0;
        assert_ne!(handle.usage & bits::FRONT_BUFFER, 0, "bit 32 kept in the handle");
        handle.heap.clone()
    };

    let android = memfd_allocator(board);
    assert_eq!(served_from(&android, &cpu_front), "system-uncached");

    let mainline = memfd_allocator_without(board, &["system-uncached"]);
    let refused = mainline.check_supported(&cpu_front).unwrap_err();
    assert_eq!(refused.code(), UNSUPPORTED);
    let why = allocator_service::error::Chain(&refused).to_string();
    assert!(why.contains("cpu-front-buffer"), "{why}");
    assert_fails_clean(UNSUPPORTED, || mainline.allocate2(&cpu_front, 2));
    mainline.check_supported(&gpu_front).unwrap();
    assert_eq!(served_from(&mainline, &gpu_front), "system");
}

#[test]
#[serial]
fn g1_g4_whole_buffers_read_zero_after_dirty_reuse() {
    let alloc = memfd_allocator(include_str!("../../usage-map/boards/host.toml"));
    let info = BufferDescriptorInfo { reservedSize: 333, ..desc(256, 256, Format::Rgb888, CPU_RW) };
    for _ in 0..16 {
        let allocation = alloc.allocate2(&info, 1).unwrap();
        let fd = &allocation.buffers[0].1;
        let len = usize::try_from(dmabuf::size_of(fd.as_fd()).unwrap()).unwrap();
        let map = Mapping::new(fd.as_fd(), len, true).unwrap();
        map.fill(0, len, 0xAA).unwrap();
    }
    let allocation = alloc.allocate2(&info, 1).unwrap();
    let (handle, fd, _) = &allocation.buffers[0];
    let len = dmabuf::size_of(fd.as_fd()).unwrap();
    assert!(len >= handle.alloc_size);
    let len = usize::try_from(len).unwrap();
    let map = Mapping::new(fd.as_fd(), len, false).unwrap();
    assert!(map.all_equal(0, len, 0).unwrap(), "stride slack, padding and reserved region");
}

#[test]
#[serial]
fn h_every_format_allocates_with_a_consistent_handle() {
    let fx = fixture();
    let mut allocated = 0;
    for &format in Format::ALL {
        let (w, h, usage) = match format {
            Format::Unspecified => continue,
            Format::Blob => (4096, 1, CPU_RW),
            Format::ImplementationDefined => (64, 64, bits::GPU_TEXTURE),
            _ => (64, 64, CPU_RW),
        };
        let info = desc(w, h, format, usage);
        assert!(
            fx.alloc.check_supported(&info).is_ok(),
            "{format}: {:?}",
            fx.alloc.check_supported(&info).err()
        );
        let allocation = fx.alloc.allocate2(&info, 2).unwrap();
        assert_allocation_ok(&allocation, 2);
        let handle = &allocation.buffers[0].0;
        assert_eq!(handle.format, format.raw());
        assert!(allocation.stride >= w, "{format}");
        allocated += 1;
    }
    assert_eq!(allocated, Format::ALL.len() - 1);
}

#[test]
#[serial]
fn h_rgba8888_size_is_within_one_and_two_times_stride_h_4() {
    let fx = fixture();
    for (w, h) in [(64, 64), (64, 128), (1920, 1080), (1, 1)] {
        let allocation = fx.alloc.allocate2(&desc(w, h, Format::Rgba8888, CPU_RW), 1).unwrap();
        let handle = &allocation.buffers[0].0;
        let image = u64::from(handle.stride_pixels) * u64::from(handle.height) * 4;
        assert!(image <= handle.alloc_size, "{w}x{h}");
        assert!(handle.alloc_size < 2 * image.max(heaps::page_size()), "{w}x{h}");
    }
}

#[test]
#[serial]
fn board_alignment_reaches_the_handle() {
    let fx = fixture();
    let info = desc(100, 10, Format::Rgba8888, bits::RENDERSCRIPT);
    let allocation = fx.alloc.allocate2(&info, 1).unwrap();
    let handle = &allocation.buffers[0].0;
    assert_eq!((handle.stride_bytes, handle.stride_pixels, allocation.stride), (4096, 1024, 1024));
    assert_eq!((handle.alloc_size, handle.heap.as_str()), (1 << 20, "first"));
}

#[test]
#[serial]
fn stats_count_calls_by_outcome() {
    let fx = fixture();
    fx.alloc.allocate2(&rgba64(), 2).unwrap();
    let _ = fx.alloc.allocate2(&desc(0, 1, Format::Rgba8888, 0), 1);
    let _ = fx.alloc.allocate2(&desc(1, 1, Format::Blob, bits::GPU_TEXTURE), 1);
    fx.second.set_script(FakeScript::new().fail_always(Errno::ENOMEM));
    let _ = fx.alloc.allocate2(&rgba64(), 1);
    let stats = fx.alloc.stats();
    assert_eq!(
        (
            stats.calls.ok,
            stats.calls.bad_descriptor,
            stats.calls.unsupported,
            stats.calls.no_resources
        ),
        (1, 1, 1, 1)
    );
    let second = stats.heap("second").unwrap();
    assert_eq!((second.buffers, second.bytes, second.failures), (2, 32768, 1));
    let text = stats.to_string();
    assert!(
        text.contains("calls: 1 ok, 1 BAD_DESCRIPTOR, 1 UNSUPPORTED, 1 NO_RESOURCES"),
        "{text}"
    );
}
