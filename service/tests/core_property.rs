//! Over random descriptors (and random heap failures), `is_supported` agrees with
//! `allocate2(d, 1)`, successes are large enough, and nothing is ever lost.

mod core_support;

use allocator_service::error::Chain;
use allocator_service::request::DATASPACE_OPTION;
use core_support::*;
use hal_interface::aidl::{AllocationError, BufferDescriptorInfo, BufferUsage, PixelFormat};
use hal_interface::wire::descriptor_name_array;
use hal_interface::Format;
use heaps::{Errno, FakeScript};
use proptest::prelude::*;

/// Dimensions: mostly small, sometimes odd or at the edges of every integer type.
fn dimension() -> impl Strategy<Value = i32> {
    prop_oneof![
        6 => 1i32..=300,
        2 => prop::sample::select(vec![0, -1, 2, 4, 16, 64, 4095, 4096, 16383, 16384, 16385]),
        1 => prop::sample::select(vec![i32::MIN, i32::MAX, 65535, 65536, 1 << 20]),
        1 => any::<i32>(),
    ]
}

fn format() -> impl Strategy<Value = i32> {
    let known: Vec<i32> = Format::ALL.iter().map(|f| f.raw()).collect();
    prop_oneof![
        8 => prop::sample::select(known),
        1 => prop::sample::select(vec![0x3C, 0x100, 0x1FF, -1, 0x7fff_ffff]),
        1 => any::<i32>(),
    ]
}

fn usage() -> impl Strategy<Value = u64> {
    let flags: Vec<u64> = hal_interface::UsageFlag::ALL.iter().map(|f| f.bit()).collect();
    let cpu = prop::sample::select(vec![0u64, 2, 3, 0x20, 0x30, 0x22, 0x33, 1, 0x10]);
    prop_oneof![
        8 => (cpu, prop::sample::subsequence(flags, 0..4))
            .prop_map(|(cpu, flags)| flags.into_iter().fold(cpu, |acc, f| acc | f)),
        1 => prop::sample::select(vec![1u64 << 28, 1 << 29, 1 << 33, 1 << 48, 1 << 10]),
        1 => any::<u64>(),
    ]
}

fn layers() -> impl Strategy<Value = i32> {
    prop_oneof![8 => Just(1), 2 => 2i32..=7, 1 => prop::sample::select(vec![0, -1, 1 << 20, i32::MAX])]
}

fn reserved() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => Just(0i64),
        2 => prop::sample::select(vec![1i64, 333, 4096, MAX_RESERVED, MAX_RESERVED + 1, -1, i64::MAX]),
    ]
}

fn options() -> impl Strategy<Value = Vec<(bool, i64)>> {
    prop_oneof![8 => Just(Vec::new()), 2 => prop::collection::vec((any::<bool>(), any::<i64>()), 0..6)]
}

/// A heap failure to inject into the next call of either fake heap.
fn failure() -> impl Strategy<Value = Option<(bool, Errno)>> {
    prop_oneof![
        6 => Just(None),
        1 => (any::<bool>(), prop::sample::select(vec![Errno::ENOMEM, Errno::EBUSY, Errno::EINVAL, Errno::EMFILE, Errno::EIO]))
            .prop_map(Some),
    ]
}

/// Bits per pixel of the smallest honest buffer (IMPLEMENTATION_DEFINED as its YUV layout).
fn minimum_bits(format: Format) -> u128 {
    match format {
        Format::Rgbx8888 | Format::Rgba8888 | Format::Bgra8888 | Format::Rgba1010102 => 32,
        Format::Rg1616Uint | Format::Depth24 | Format::Depth24Stencil8 | Format::Depth32f => 32,
        Format::Rgb888 | Format::Hsv888 | Format::YcbcrP010 => 24,
        Format::Rgb565 | Format::R16Uint | Format::Depth16 | Format::Raw16 | Format::Y16 => 16,
        Format::Ycbcr422I | Format::Ycbcr422Sp => 16,
        Format::RgbaFp16 | Format::Rgba10101010 | Format::Depth32fStencil8 => 64,
        Format::R8 | Format::Y8 | Format::Stencil8 | Format::Blob | Format::RawOpaque => 8,
        Format::Yv12 | Format::Ycbcr420_888 | Format::Ycrcb420Sp => 12,
        Format::ImplementationDefined | Format::Raw12 => 12,
        Format::Raw10 => 10,
        Format::Unspecified => 0,
    }
}

#[allow(clippy::too_many_arguments)]
fn descriptor(
    width: i32,
    height: i32,
    layers: i32,
    format: i32,
    usage: u64,
    reserved: i64,
    options: &[(bool, i64)],
) -> BufferDescriptorInfo {
    BufferDescriptorInfo {
        name: descriptor_name_array(b"proptest"),
        width,
        height,
        layerCount: layers,
        format: PixelFormat(format),
        usage: BufferUsage(i64::from_ne_bytes(usage.to_ne_bytes())),
        reservedSize: reserved,
        additionalOptions: options
            .iter()
            .map(|&(known, value)| {
                option(if known { DATASPACE_OPTION } else { "vendor.unknown" }, value)
            })
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn is_supported_agrees_with_allocate2(
        width in dimension(),
        height in dimension(),
        layers in layers(),
        format in format(),
        usage in usage(),
        reserved in reserved(),
        options in options(),
        failure in failure(),
    ) {
        let fx = fixture();
        let info = descriptor(width, height, layers, format, usage, reserved, &options);
        if let Some((first, errno)) = failure {
            let heap = if first { &fx.first } else { &fx.second };
            heap.set_script(FakeScript::new().fail_call(heap.calls() + 1, errno));
        }
        let supported = fx.alloc.check_supported(&info).is_ok();
        let reason = fx.alloc.check_supported(&info).err();
        prop_assert_eq!(supported, reason.is_none());
        let before = open_fds();
        let result = fx.alloc.allocate2(&info, 1);
        match (&result, supported) {
            (Ok(allocation), true) => {
                assert_allocation_ok(allocation, 1);
                let handle = &allocation.buffers[0].0;
                prop_assert!(allocation.stride >= width, "stride {} < width {width}", allocation.stride);
                let format = Format::from_raw(format).unwrap();
                let pixels = u128::from(handle.width) * u128::from(handle.height) * u128::from(handle.layers);
                let minimum = pixels * minimum_bits(format) / 8;
                prop_assert!(u128::from(handle.alloc_size) >= minimum, "{} < {minimum}", handle.alloc_size);
                prop_assert!(handle.alloc_size <= MAX_BYTES_PER_BUFFER);
            }
            (Err(err), true) => {
                prop_assert_eq!(err.code(), AllocationError::NO_RESOURCES, "{}", Chain(err));
                prop_assert!(failure.is_some(), "failed without an injected failure: {}", Chain(err));
            }
            (Err(err), false) => {
                let reason = reason.unwrap();
                prop_assert_eq!(err, &reason, "allocate2 and is_supported disagree on why");
                prop_assert_ne!(err.code(), AllocationError::NO_RESOURCES);
            }
            (Ok(_), false) => prop_assert!(false, "allocated although is_supported was false"),
        }
        drop(result);
        prop_assert_eq!(open_fds(), before, "fds leaked");
    }
}
