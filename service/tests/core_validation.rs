//! Descriptor validation and the buffer count, with "nothing lost": every
//! refusal leaves the fd count unchanged, hands out no fd, never calls a heap, and agrees with
//! `is_supported`.

mod core_support;

use std::time::{Duration, Instant};

use allocator_service::error::{AllocError, BoardRefusal, Cap, DescriptorError, Unsupported};
use allocator_service::request::{Request, DATASPACE_OPTION};
use core_support::*;
use hal_interface::aidl::{AllocationError, BufferDescriptorInfo, BufferUsage, PixelFormat};
use hal_interface::usage::bits;
use hal_interface::{encode_descriptor, Format, V1Descriptor};
use serial_test::serial;

const BAD: AllocationError = AllocationError::BAD_DESCRIPTOR;
const UNSUPPORTED: AllocationError = AllocationError::UNSUPPORTED;

/// `info` is refused with `code` by `allocate2` (count 1 and 3), `is_supported` says false,
/// and no heap was called.
fn refused(fx: &Fixture, info: &BufferDescriptorInfo, code: AllocationError) -> AllocError {
    let calls = fx.heap_calls();
    assert!(fx.alloc.check_supported(info).is_err(), "is_supported must be false for {info:?}");
    assert_fails_clean(code, || fx.alloc.allocate2(info, 3));
    let err = assert_fails_clean(code, || fx.alloc.allocate2(info, 1));
    assert_eq!(fx.heap_calls(), calls, "a refused request reached a heap");
    err
}

fn accepted(fx: &Fixture, info: &BufferDescriptorInfo) {
    assert!(fx.alloc.check_supported(info).is_ok(), "{:?}", fx.alloc.check_supported(info).err());
    let allocation = fx.alloc.allocate2(info, 1).expect("allocates");
    assert_allocation_ok(&allocation, 1);
}

fn with_usage(usage: u64) -> BufferDescriptorInfo {
    BufferDescriptorInfo { usage: BufferUsage(i64::from_ne_bytes(usage.to_ne_bytes())), ..rgba64() }
}

#[test]
#[serial]
fn a1_a2_a3_non_positive_dimensions_are_bad_descriptors() {
    let fx = fixture();
    for value in [0, -1, i32::MIN] {
        refused(&fx, &BufferDescriptorInfo { width: value, ..rgba64() }, BAD);
        refused(&fx, &BufferDescriptorInfo { height: value, ..rgba64() }, BAD);
        let err = refused(&fx, &BufferDescriptorInfo { layerCount: value, ..rgba64() }, BAD);
        assert_eq!(
            err,
            AllocError::Descriptor(DescriptorError::NotPositive { field: "layerCount", value })
        );
    }
}

#[test]
#[serial]
fn a4_unspecified_format_is_a_bad_descriptor() {
    let fx = fixture();
    let info = desc(64, 64, Format::Unspecified, CPU_RW);
    assert_eq!(
        refused(&fx, &info, BAD),
        AllocError::Descriptor(DescriptorError::UnspecifiedFormat)
    );
}

#[test]
#[serial]
fn a5_unknown_formats_are_unsupported() {
    let fx = fixture();
    for raw in [0x7fff_ffff, -1, i32::MIN, 0x3C, 0x44, 0x100, 0x1FF, 0x6] {
        let info = BufferDescriptorInfo { format: PixelFormat(raw), ..rgba64() };
        assert_eq!(
            refused(&fx, &info, UNSUPPORTED),
            AllocError::Unsupported(Unsupported::UnknownFormat(raw))
        );
    }
}

#[test]
#[serial]
fn a6_unknown_usage_is_unsupported() {
    let fx = fixture();
    let mut bad_bits: Vec<u64> = [19u32, 21].iter().map(|b| 1u64 << b).collect();
    bad_bits.extend((33..=47).map(|b| 1u64 << b));
    for bit in bad_bits {
        refused(&fx, &with_usage(CPU_RW | bit), UNSUPPORTED);
        refused(&fx, &with_usage(CPU_RW | bits::RETIRED | bit), UNSUPPORTED);
    }
    // The retired gralloc0 bits libui passes through are served.
    for retired in [bits::HW_2D, bits::EXTERNAL_DISP, bits::RETIRED] {
        accepted(&fx, &with_usage(CPU_RW | retired));
    }
    for field in [1u64, 4, 5, 8, 15] {
        refused(&fx, &with_usage(field), UNSUPPORTED);
        refused(&fx, &with_usage(field << 4), UNSUPPORTED);
    }
    // Vendor bits: 1 << 28 is claimed by the board, the others are not.
    for unclaimed in [1u64 << 29, 1 << 31, 1 << 48, 1 << 63] {
        let err = refused(&fx, &with_usage(CPU_RW | unclaimed), UNSUPPORTED);
        assert_eq!(err, AllocError::Unsupported(Unsupported::VendorBits { bits: unclaimed }));
    }
    accepted(&fx, &with_usage(CPU_RW | 1 << 28));
}

#[test]
#[serial]
fn a7_unknown_options_are_unsupported() {
    let fx = fixture();
    let with = |options| BufferDescriptorInfo { additionalOptions: options, ..rgba64() };
    refused(&fx, &with(vec![option("vendor.compression", 1)]), UNSUPPORTED);
    refused(&fx, &with(vec![option(&"x".repeat(64 * 1024), 0)]), UNSUPPORTED);
    refused(
        &fx,
        &with(vec![option(DATASPACE_OPTION, 1), option(DATASPACE_OPTION, 2)]),
        UNSUPPORTED,
    );
    refused(&fx, &with(vec![option(DATASPACE_OPTION, i64::MAX)]), UNSUPPORTED);
    let too_many = with((0..=MAX_OPTIONS).map(|_| option(DATASPACE_OPTION, 0)).collect());
    let err = refused(&fx, &too_many, UNSUPPORTED);
    assert!(matches!(err, AllocError::OverCap { cap: Cap::Options, .. }), "{err}");
    accepted(&fx, &with(vec![option(DATASPACE_OPTION, 0x10c1_0000)]));
}

#[test]
#[serial]
fn a7_ten_thousand_options_are_rejected_without_scanning() {
    let fx = fixture();
    // Names of 1 KiB keep the descriptor at 10 MiB; the 64 KiB name case is above.
    let name = "y".repeat(1024);
    let info = BufferDescriptorInfo {
        additionalOptions: (0..10_000).map(|_| option(&name, 0)).collect(),
        ..rgba64()
    };
    let fastest = (0..3)
        .map(|_| {
            let start = Instant::now();
            assert!(fx.alloc.check_supported(&info).is_err());
            start.elapsed()
        })
        .min()
        .unwrap();
    assert!(fastest < Duration::from_millis(10), "took {fastest:?}");
    refused(&fx, &info, UNSUPPORTED);
}

#[test]
#[serial]
fn a8_names_are_cut_at_127_bytes_or_the_first_nul() {
    let fx = fixture();
    let map = board();
    let mut info = rgba64();
    info.name = [b'n'; 128];
    let request = Request::from_descriptor(&info, &map).unwrap();
    assert_eq!(request.name().as_bytes(), &[b'n'; 127][..]);
    accepted(&fx, &info);

    info.name = [0; 128];
    info.name[..6].copy_from_slice("héé!".as_bytes());
    info.name[7] = b'z'; // after the NUL at 6: ignored
    let request = Request::from_descriptor(&info, &map).unwrap();
    assert_eq!(request.name().as_bytes(), "héé!".as_bytes());
    accepted(&fx, &info);

    info.name = [0xff; 128]; // not UTF-8 at all
    accepted(&fx, &info);
}

#[test]
#[serial]
fn a9_reserved_size_is_bounded() {
    let fx = fixture();
    let with = |reserved| BufferDescriptorInfo { reservedSize: reserved, ..rgba64() };
    for negative in [-1, i64::MIN] {
        let err = refused(&fx, &with(negative), BAD);
        assert_eq!(err, AllocError::Descriptor(DescriptorError::NegativeReservedSize(negative)));
    }
    for over in [MAX_RESERVED + 1, i64::MAX] {
        let err = refused(&fx, &with(over), UNSUPPORTED);
        assert!(matches!(err, AllocError::OverCap { cap: Cap::ReservedSize, .. }), "{err}");
    }
    accepted(&fx, &with(MAX_RESERVED));
    let allocation = fx.alloc.allocate2(&with(333), 1).unwrap();
    let handle = &allocation.buffers[0].0;
    assert_eq!((handle.reserved_offset, handle.reserved_size), (16384, 333));
    assert_eq!(handle.alloc_size, 20480);
}

#[test]
#[serial]
fn a10_undecodable_v1_descriptors_are_bad() {
    let fx = fixture();
    let valid = encode_descriptor(&V1Descriptor {
        name: b"v1".to_vec(),
        width: 64,
        height: 64,
        layer_count: 1,
        format: Format::Rgba8888.raw(),
        usage: CPU_RW,
        reserved_size: 0,
    });
    let mut trailing = valid.clone();
    trailing.push(0);
    let mut negative = valid.clone();
    negative[..8].copy_from_slice(&(-1i64).to_le_bytes());
    let mut past_end = valid.clone();
    past_end[..8].copy_from_slice(&1000i64.to_le_bytes());
    let cases: [&[u8]; 5] = [&[], &valid[..valid.len() - 1], &trailing, &negative, &past_end];
    let calls = fx.heap_calls();
    for bytes in cases {
        let err = assert_fails_clean(BAD, || fx.alloc.allocate_v1(bytes, 1));
        assert!(matches!(err, AllocError::Descriptor(DescriptorError::Undecodable(_))), "{err}");
    }
    assert_eq!(fx.heap_calls(), calls);
    let allocation = fx.alloc.allocate_v1(&valid, 2).expect("a valid V1 descriptor allocates");
    assert_allocation_ok(&allocation, 2);
}

#[test]
#[serial]
fn a10_v1_fields_above_i32_max_are_refused_like_negative_ones() {
    let fx = fixture();
    let bytes = encode_descriptor(&V1Descriptor {
        name: Vec::new(),
        width: u32::MAX,
        height: 1,
        layer_count: 1,
        format: Format::Rgba8888.raw(),
        usage: 0,
        reserved_size: 0,
    });
    assert_fails_clean(BAD, || fx.alloc.allocate_v1(&bytes, 1));
}

#[test]
#[serial]
fn a11_forbidden_combinations_are_unsupported() {
    let fx = fixture();
    let combination = |err: AllocError| {
        assert!(matches!(err, AllocError::Unsupported(Unsupported::Combination { .. })), "{err}")
    };
    let blob = || desc(4096, 1, Format::Blob, CPU_RW);
    combination(refused(&fx, &BufferDescriptorInfo { height: 2, ..blob() }, UNSUPPORTED));
    combination(refused(&fx, &BufferDescriptorInfo { layerCount: 2, ..blob() }, UNSUPPORTED));
    let blob_texture = desc(4096, 1, Format::Blob, bits::GPU_TEXTURE);
    combination(refused(&fx, &blob_texture, UNSUPPORTED));
    let yuv = desc(64, 64, Format::Yv12, CPU_RW);
    combination(refused(&fx, &BufferDescriptorInfo { layerCount: 2, ..yuv }, UNSUPPORTED));
    combination(refused(&fx, &with_usage(bits::PROTECTED | bits::CPU_READ_RARELY), UNSUPPORTED));
    let cube = |w, h, layers| BufferDescriptorInfo {
        layerCount: layers,
        ..desc(w, h, Format::Rgba8888, bits::GPU_CUBE_MAP | bits::GPU_TEXTURE)
    };
    combination(refused(&fx, &cube(64, 32, 6), UNSUPPORTED));
    combination(refused(&fx, &cube(64, 64, 5), UNSUPPORTED));
    combination(refused(
        &fx,
        &desc(64, 64, Format::Rgba8888, bits::SENSOR_DIRECT_DATA),
        UNSUPPORTED,
    ));

    accepted(&fx, &cube(64, 64, 6));
    accepted(&fx, &desc(4096, 1, Format::Blob, bits::SENSOR_DIRECT_DATA | bits::CPU_READ_OFTEN));
    accepted(&fx, &desc(4096, 1, Format::Blob, bits::GPU_DATA_BUFFER));
}

#[test]
#[serial]
fn layouts_that_cannot_exist_are_unsupported() {
    let fx = fixture();
    let layout = |err: AllocError| assert!(matches!(err, AllocError::Layout(_)), "{err}");
    layout(refused(&fx, &desc(63, 64, Format::Ycbcr422Sp, CPU_RW), UNSUPPORTED));
    // Odd 4:2:0 sizes are served (chroma rounded up).
    for format in [Format::Yv12, Format::Ycbcr420_888, Format::Ycrcb420Sp, Format::YcbcrP010] {
        accepted(&fx, &desc(641, 481, format, CPU_RW));
    }
    layout(refused(&fx, &desc(102, 4, Format::Raw10, CPU_RW), UNSUPPORTED));
    // Android 15 serves IMPLEMENTATION_DEFINED with CPU usage.
    accepted(&fx, &desc(64, 64, Format::ImplementationDefined, CPU_RW));
    accepted(&fx, &desc(64, 64, Format::ImplementationDefined, CPU_RW | bits::CAMERA_OUTPUT));
    accepted(&fx, &desc(64, 64, Format::ImplementationDefined, bits::GPU_TEXTURE));
    accepted(&fx, &desc(64, 64, Format::Yv12, CPU_RW));
    accepted(&fx, &desc(64, 64, Format::Ycbcr420_888, CPU_RW));
}

#[test]
#[serial]
fn board_refusals_are_unsupported() {
    let fx = fixture();
    let err = refused(&fx, &with_usage(bits::PROTECTED | bits::COMPOSER_OVERLAY), UNSUPPORTED);
    assert!(matches!(err, AllocError::Refused(BoardRefusal::Rejected { .. })), "{err}");
    // The decoder rule's only heap is declared but absent.
    let err = refused(&fx, &with_usage(bits::VIDEO_DECODER), UNSUPPORTED);
    assert!(
        matches!(err, AllocError::Refused(BoardRefusal::NoHeapPresent { ref rule }) if rule.name == "decoder"),
        "{err}"
    );
}

#[test]
#[serial]
fn dimensions_above_the_board_limits_are_unsupported() {
    let fx = fixture();
    let err = refused(&fx, &desc(16385, 1, Format::R8, CPU_RW), UNSUPPORTED);
    assert!(matches!(err, AllocError::OverCap { cap: Cap::Width, .. }), "{err}");
    let err = refused(&fx, &desc(1, 16385, Format::R8, CPU_RW), UNSUPPORTED);
    assert!(matches!(err, AllocError::OverCap { cap: Cap::Height, .. }), "{err}");
    // BLOB and RAW_OPAQUE widths are byte counts: only the size caps apply.
    accepted(&fx, &desc(1 << 20, 1, Format::Blob, CPU_RW));
    accepted(&fx, &desc(1 << 20, 1, Format::RawOpaque, CPU_RW));
}

#[test]
#[serial]
fn c1_count_zero_succeeds_with_no_buffers() {
    let fx = fixture();
    let before = open_fds();
    let allocation = fx.alloc.allocate2(&rgba64(), 0).unwrap();
    assert!(allocation.buffers.is_empty());
    assert_eq!(allocation.stride, 64);
    assert_eq!((open_fds(), fx.heap_calls()), (before, 0));
    // The descriptor is still validated.
    assert_fails_clean(BAD, || fx.alloc.allocate2(&desc(0, 64, Format::Rgba8888, 0), 0));
}

#[test]
#[serial]
fn c2_counts_one_to_four_return_that_many_distinct_buffers() {
    let fx = fixture();
    for count in 1..=4 {
        let allocation = fx.alloc.allocate2(&rgba64(), count).unwrap();
        assert_allocation_ok(&allocation, usize::try_from(count).unwrap());
    }
}

#[test]
#[serial]
fn c3_c4_bad_counts_are_refused_at_once() {
    let fx = fixture();
    for count in [-1, i32::MIN] {
        let err = assert_fails_clean(BAD, || fx.alloc.allocate2(&rgba64(), count));
        assert_eq!(err, AllocError::Descriptor(DescriptorError::NegativeCount(count)));
    }
    // A negative count is BAD_DESCRIPTOR even when the descriptor is unsupported too.
    let unknown = BufferDescriptorInfo { format: PixelFormat(0x3C), ..rgba64() };
    assert_fails_clean(BAD, || fx.alloc.allocate2(&unknown, -1));
    for count in [MAX_BUFFERS_PER_CALL + 1, i32::MAX] {
        let err = assert_fails_clean(UNSUPPORTED, || fx.alloc.allocate2(&rgba64(), count));
        assert!(matches!(err, AllocError::OverCap { cap: Cap::BuffersPerCall, .. }), "{err}");
    }
    assert_eq!(fx.heap_calls(), 0);
    let allocation = fx.alloc.allocate2(&rgba64(), MAX_BUFFERS_PER_CALL).unwrap();
    assert_allocation_ok(&allocation, 8);
}

#[test]
#[serial]
fn c5_count_times_size_over_the_call_cap_is_refused_before_any_heap_call() {
    let fx = fixture();
    // 4096 x 2048 RGBA = 32 MiB per buffer; 5 of them exceed the 128 MiB per-call cap.
    let info = desc(4096, 2048, Format::Rgba8888, 0);
    let err = assert_fails_clean(UNSUPPORTED, || fx.alloc.allocate2(&info, 5));
    assert!(matches!(err, AllocError::OverCap { cap: Cap::BytesPerCall, .. }), "{err}");
    assert_eq!(fx.heap_calls(), 0);
    assert!(fx.alloc.check_supported(&info).is_ok());
    let allocation = fx.alloc.allocate2(&info, 4).unwrap();
    assert_allocation_ok(&allocation, 4);
}
