//! Layout tables per format, board alignment, reserved region, and edge values.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

use std::num::NonZeroU32;

use allocator_service::error::{AllocError, Combination, DescriptorError, Unsupported};
use allocator_service::layout::{Layout, LayoutError, StrideUnit};
use allocator_service::request::Image;
use hal_interface::handle::{BufferHandle, PlaneComponent};
use hal_interface::usage::bits;
use hal_interface::{Format, Usage};
use usage_map::Alignment;

const PAGE: u64 = 4096;
const GPU: u64 = bits::GPU_TEXTURE | bits::GPU_RENDER_TARGET;

/// An image, or why `Image::new` refuses it (`None` for a zero dimension, which the type
/// cannot hold).
fn image_of(
    format: Format,
    usage: u64,
    (width, height, layers): (u32, u32, u32),
    reserved: u64,
) -> Option<Result<Image, AllocError>> {
    let (w, h, l) = (NonZeroU32::new(width)?, NonZeroU32::new(height)?, NonZeroU32::new(layers)?);
    Some(Image::new(format, Usage::from_bits(usage), w, h, l, reserved))
}

/// GPU usage the format allows (BLOB is a data buffer, not an image).
fn gpu_usage(format: Format) -> u64 {
    if format == Format::Blob {
        bits::GPU_DATA_BUFFER
    } else {
        GPU
    }
}

fn image_with(format: Format, (width, height, layers): (u32, u32, u32), reserved: u64) -> Image {
    image_of(format, gpu_usage(format), (width, height, layers), reserved).unwrap().unwrap()
}

fn image(format: Format, width: u32, height: u32) -> Image {
    image_with(format, (width, height, 1), 0)
}

fn combination(format: Format, rule: Combination) -> Option<Result<Image, AllocError>> {
    Some(Err(AllocError::Unsupported(Unsupported::Combination { format, rule })))
}

fn lay(format: Format, width: u32, height: u32) -> Layout {
    Layout::for_image(&image(format, width, height), &Alignment::NONE, PAGE)
        .unwrap_or_else(|err| panic!("{format} {width}x{height}: {err}"))
}

/// (stride px, stride bytes, [(offset, stride bytes, size, component)], total)
type Row = (u32, u32, Vec<(u64, u32, u64, PlaneComponent)>, u64);

fn summary(layout: &Layout) -> Row {
    let planes =
        layout.planes().iter().map(|p| (p.offset, p.stride_bytes, p.size, p.component)).collect();
    (layout.stride_pixels(), layout.stride_bytes(), planes, layout.total_size().get())
}

#[test]
fn packed_formats_have_their_bytes_per_pixel() {
    use PlaneComponent as C;
    let cases: &[(Format, u32, u32, u32, PlaneComponent)] = &[
        // format, width, expected stride px, expected stride bytes, component
        (Format::Rgba8888, 100, 100, 400, C::Rgba),
        (Format::Rgbx8888, 100, 100, 400, C::Rgba),
        (Format::Bgra8888, 100, 100, 400, C::Rgba),
        (Format::Rgba1010102, 100, 100, 400, C::Rgba),
        (Format::Rg1616Uint, 100, 100, 400, C::Red),
        (Format::Rgb888, 100, 100, 300, C::Rgb),
        (Format::Hsv888, 100, 100, 300, C::Rgb),
        (Format::Rgb565, 33, 33, 66, C::Rgb),
        (Format::R16Uint, 33, 33, 66, C::Red),
        (Format::Depth16, 33, 33, 66, C::Depth),
        (Format::Raw16, 100, 112, 224, C::Raw),
        (Format::Y16, 17, 32, 64, C::Y),
        (Format::Y8, 100, 112, 112, C::Y),
        (Format::R8, 33, 33, 33, C::Red),
        (Format::Stencil8, 33, 33, 33, C::Stencil),
        (Format::RgbaFp16, 3, 3, 24, C::Rgba),
        (Format::Rgba10101010, 3, 3, 24, C::Rgba),
        (Format::Depth24, 5, 5, 20, C::Depth),
        (Format::Depth24Stencil8, 5, 5, 20, C::Depth),
        (Format::Depth32f, 5, 5, 20, C::Depth),
        (Format::Depth32fStencil8, 5, 5, 40, C::Depth),
        (Format::Ycbcr422I, 64, 64, 128, C::YCbCrPacked),
        (Format::RawOpaque, 1000, 1000, 1000, C::Raw),
    ];
    for &(format, width, stride_px, stride_bytes, component) in cases {
        let l = lay(format, width, 10);
        let expected_size = u64::from(stride_bytes) * 10;
        let total = expected_size.div_ceil(PAGE) * PAGE;
        assert_eq!(
            summary(&l),
            (stride_px, stride_bytes, vec![(0, stride_bytes, expected_size, component)], total),
            "{format}"
        );
        assert_eq!(l.image_size(), expected_size, "{format}");
        assert_eq!(l.reported_stride(), i32::try_from(stride_px).unwrap(), "{format}");
    }
}

#[test]
fn yv12_follows_the_vts_formula() {
    use PlaneComponent as C;
    // 64x64: stride 64, c_stride align(32, 16) = 32, Cr at y_size, Cb one chroma plane later.
    let l = lay(Format::Yv12, 64, 64);
    assert_eq!(
        summary(&l),
        (64, 64, vec![(0, 64, 4096, C::Y), (4096, 32, 1024, C::Cr), (5120, 32, 1024, C::Cb)], 8192)
    );
    // 100x10: stride align(100, 16) = 112, c_stride align(56, 16) = 64.
    let l = lay(Format::Yv12, 100, 10);
    assert_eq!(
        summary(&l),
        (
            112,
            112,
            vec![(0, 112, 1120, C::Y), (1120, 64, 320, C::Cr), (1440, 64, 320, C::Cb)],
            PAGE
        )
    );
    // 48 wide: c_stride align(24, 16) = 32, not 24.
    assert_eq!(lay(Format::Yv12, 48, 2).planes()[1].stride_bytes, 32);
    let subsampling: Vec<_> =
        l.planes().iter().map(|p| (p.h_subsampling, p.v_subsampling)).collect();
    assert_eq!(subsampling, [(1, 1), (2, 2), (2, 2)]);
}

#[test]
fn semi_planar_formats_put_interleaved_chroma_after_luma() {
    use PlaneComponent as C;
    let cases: &[(Format, Row)] = &[
        (
            Format::Ycbcr420_888,
            (100, 100, vec![(0, 100, 1000, C::Y), (1000, 100, 500, C::CbCr)], PAGE),
        ),
        (
            Format::Ycrcb420Sp,
            (100, 100, vec![(0, 100, 1000, C::Y), (1000, 100, 500, C::CrCb)], PAGE),
        ),
        (
            Format::Ycbcr422Sp,
            (100, 100, vec![(0, 100, 1000, C::Y), (1000, 100, 1000, C::CbCr)], PAGE),
        ),
        (
            Format::YcbcrP010,
            (100, 200, vec![(0, 200, 2000, C::Y), (2000, 200, 1000, C::CbCr)], PAGE),
        ),
    ];
    for (format, expected) in cases {
        assert_eq!(&summary(&lay(*format, 100, 10)), expected, "{format}");
    }
    let nv16 = lay(Format::Ycbcr422Sp, 100, 10);
    assert_eq!((nv16.planes()[1].h_subsampling, nv16.planes()[1].v_subsampling), (2, 1));
    let nv21 = lay(Format::Ycrcb420Sp, 100, 10);
    assert_eq!((nv21.planes()[1].h_subsampling, nv21.planes()[1].v_subsampling), (2, 2));
}

#[test]
fn raw10_and_raw12_pack_bits_and_report_bytes() {
    let raw10 = lay(Format::Raw10, 100, 10);
    assert_eq!(
        (raw10.stride_bytes(), raw10.stride_pixels(), raw10.reported_stride()),
        (125, 100, 125)
    );
    assert_eq!((raw10.stride_unit(), raw10.image_size()), (StrideUnit::Bytes, 1250));
    let raw12 = lay(Format::Raw12, 100, 10);
    assert_eq!(
        (raw12.stride_bytes(), raw12.reported_stride(), raw12.image_size()),
        (150, 150, 1500)
    );
    let err = Layout::for_image(&image(Format::Raw10, 102, 10), &Alignment::NONE, PAGE);
    assert_eq!(err, Err(LayoutError::WidthNotMultipleOf4 { format: Format::Raw10, width: 102 }));
}

#[test]
fn blob_is_width_bytes_in_one_row() {
    let l = lay(Format::Blob, 1000, 1);
    assert_eq!(summary(&l), (1000, 1000, vec![(0, 1000, 1000, PlaneComponent::Blob)], PAGE));
    let aligned = Alignment { stride_bytes: 64, stride_pixels: 32, size_bytes: 1 };
    let l = Layout::for_image(&image(Format::Blob, 1000, 1), &aligned, PAGE).unwrap();
    assert_eq!(l.stride_bytes(), 1000, "row alignment does not apply to BLOB");
    assert_eq!(
        image_of(Format::Blob, bits::GPU_DATA_BUFFER, (1000, 2, 1), 0),
        combination(Format::Blob, Combination::BlobShape)
    );
}

/// Odd 4:2:0 sizes (641x481) round the chroma planes up: every plane holds ceil(w/2) x
/// ceil(h/2) chroma samples, the planes are disjoint and inside the buffer, and the mapper's
/// PLANE_LAYOUTS (derived from the handle) say exactly that.
#[test]
fn odd_420_sizes_round_chroma_up_and_the_mapper_describes_them_exactly() {
    // (format, bytes of one chroma row per chroma sample position)
    let formats = [
        (Format::Yv12, 1u64),
        (Format::Ycbcr420_888, 2),
        (Format::Ycrcb420Sp, 2),
        (Format::YcbcrP010, 4),
    ];
    for (format, chroma_bytes) in formats {
        for (w, h) in [(641u32, 481u32), (63, 64), (64, 63), (1, 1), (3, 5)] {
            let l = lay(format, w, h);
            let (cw, ch) = (u64::from(w.div_ceil(2)), u64::from(h.div_ceil(2)));
            let mut extents = Vec::new();
            for p in l.planes() {
                let (row, rows) = if p.v_subsampling == 2 {
                    (cw * chroma_bytes, ch)
                } else {
                    (u64::from(w) * chroma_bytes.div_ceil(2).max(1), u64::from(h))
                };
                assert!(u64::from(p.stride_bytes) >= row, "{format} {w}x{h} {p:?}: row {row}");
                assert!(p.size >= u64::from(p.stride_bytes) * rows, "{format} {w}x{h} {p:?}");
                extents.push((p.offset, p.offset + p.size));
            }
            extents.sort_unstable();
            for pair in extents.windows(2) {
                assert!(pair[0].1 <= pair[1].0, "{format} {w}x{h}: planes overlap {extents:?}");
            }
            let end = extents.last().unwrap().1;
            assert!(end <= l.image_size(), "{format} {w}x{h}: planes end past the image");
            let handle = BufferHandle {
                width: w,
                height: h,
                layers: 1,
                format: format.raw(),
                usage: bits::CPU_READ_OFTEN,
                stride_pixels: u32::try_from(l.reported_stride()).unwrap(),
                stride_bytes: l.stride_bytes(),
                alloc_size: l.total_size().get(),
                planes: l.planes().to_vec(),
                buffer_id: 1,
                heap: "odd".into(),
                reserved_offset: l.reserved_offset(),
                reserved_size: l.reserved_size(),
                metadata_size: hal_interface::shared_metadata::REGION_SIZE,
            };
            handle.validate().unwrap_or_else(|e| panic!("{format} {w}x{h}: {e}"));
            for pl in hal_interface::metadata::plane_layouts(&handle) {
                let (ws, hs) = if pl.horizontal_subsampling == 2 {
                    (cw, ch)
                } else {
                    (u64::from(w), u64::from(h))
                };
                let samples = (pl.width_in_samples, pl.height_in_samples);
                let (ws, hs) = (i64::try_from(ws).unwrap(), i64::try_from(hs).unwrap());
                assert_eq!(samples, (ws, hs), "{format} {w}x{h}");
                assert!(pl.stride_in_bytes * hs <= pl.total_size_in_bytes);
            }
        }
    }
}

#[test]
fn subsampled_formats_need_even_dimensions() {
    let odd = |format, w, h| Layout::for_image(&image(format, w, h), &Alignment::NONE, PAGE);
    for format in [Format::Ycbcr422Sp, Format::Ycbcr422I] {
        assert!(matches!(odd(format, 63, 64), Err(LayoutError::OddDimension { .. })), "{format}");
        assert!(odd(format, 64, 63).is_ok(), "{format}: 4:2:2 allows an odd height");
    }
    assert!(odd(Format::Y8, 63, 63).is_ok());
}

#[test]
fn yuv_layouts_take_one_layer() {
    assert_eq!(
        image_of(Format::Yv12, GPU, (64, 64, 2), 0),
        combination(Format::Yv12, Combination::YuvLayers)
    );
    // IMPLEMENTATION_DEFINED that resolves to YCBCR_420_888 too.
    assert_eq!(
        image_of(Format::ImplementationDefined, bits::CAMERA_OUTPUT, (64, 64, 2), 0),
        combination(Format::ImplementationDefined, Combination::YuvLayers)
    );
}

#[test]
fn implementation_defined_is_resolved_from_usage() {
    let resolve = |usage| {
        image_of(Format::ImplementationDefined, usage, (64, 64, 1), 0)
            .unwrap()
            .map(|image| image.layout_format())
    };
    assert_eq!(resolve(GPU | bits::COMPOSER_OVERLAY), Ok(Format::Rgba8888));
    assert_eq!(resolve(0), Ok(Format::Rgba8888));
    assert_eq!(resolve(bits::CAMERA_OUTPUT | bits::GPU_TEXTURE), Ok(Format::Ycbcr420_888));
    assert_eq!(resolve(bits::VIDEO_DECODER), Ok(Format::Ycbcr420_888));
    assert_eq!(resolve(bits::VIDEO_ENCODER), Ok(Format::Ycbcr420_888));
    // CPU bits never change the choice (Android 15 allows them).
    assert_eq!(resolve(bits::CPU_READ_RARELY), Ok(Format::Rgba8888));
    assert_eq!(resolve(GPU | bits::CPU_READ_OFTEN | bits::CPU_WRITE_OFTEN), Ok(Format::Rgba8888));
    assert_eq!(resolve(bits::CAMERA_OUTPUT | bits::CPU_WRITE_OFTEN), Ok(Format::Ycbcr420_888));
    assert_eq!(resolve(bits::VIDEO_DECODER | bits::CPU_READ_OFTEN), Ok(Format::Ycbcr420_888));
    for usage in [GPU, bits::CAMERA_OUTPUT, bits::VIDEO_ENCODER | bits::GPU_TEXTURE] {
        let layout = |usage| {
            let img = image_of(Format::ImplementationDefined, usage, (64, 64, 1), 0);
            Layout::for_image(&img.unwrap().unwrap(), &Alignment::NONE, PAGE).unwrap()
        };
        let (plain, cpu) =
            (layout(usage), layout(usage | bits::CPU_READ_OFTEN | bits::CPU_WRITE_RARELY));
        assert_eq!(plain.planes(), cpu.planes(), "{usage:#x}");
        assert_eq!(plain.total_size(), cpu.total_size(), "{usage:#x}");
    }
    let img = image_of(Format::ImplementationDefined, bits::CAMERA_OUTPUT, (64, 64, 1), 0);
    let l = Layout::for_image(&img.unwrap().unwrap(), &Alignment::NONE, PAGE).unwrap();
    assert_eq!((l.layout_format(), l.planes().len()), (Format::Ycbcr420_888, 2));
}

#[test]
fn board_row_alignment_is_a_least_common_multiple() {
    let align =
        |bytes, pixels| Alignment { stride_bytes: bytes, stride_pixels: pixels, size_bytes: 1 };
    let with = |format, width, a: Alignment| {
        Layout::for_image(&image(format, width, 2), &a, PAGE).unwrap()
    };
    // 4 B/px, 64-byte rows: a multiple of 16 pixels.
    assert_eq!(with(Format::Rgba8888, 100, align(64, 1)).stride_pixels(), 112);
    // 3 B/px, 64-byte rows: a multiple of 64 pixels (192 bytes).
    let rgb = with(Format::Rgb888, 100, align(64, 1));
    assert_eq!((rgb.stride_pixels(), rgb.stride_bytes()), (128, 384));
    assert_eq!(with(Format::Rgba8888, 100, align(1, 32)).stride_pixels(), 128);
    // YV12 keeps its 16-pixel rule under a 64-byte board rule; chroma follows the formula.
    let yv12 = with(Format::Yv12, 100, align(64, 1));
    assert_eq!((yv12.stride_pixels(), yv12.planes()[1].stride_bytes), (128, 64));
    // Y8's 16-pixel rule combines with a 24-pixel board rule into 48.
    assert_eq!(with(Format::Y8, 20, align(1, 24)).stride_pixels(), 48);
    // RAW10 pads the byte row; the pixel view rounds down.
    let raw10 = with(Format::Raw10, 100, align(64, 1));
    assert_eq!((raw10.stride_bytes(), raw10.stride_pixels()), (128, 102));
}

#[test]
fn size_alignment_and_pages_round_the_total() {
    let a = Alignment { stride_bytes: 1, stride_pixels: 1, size_bytes: 1 << 20 };
    let l = Layout::for_image(&image(Format::Rgba8888, 64, 64), &a, PAGE).unwrap();
    assert_eq!((l.image_size(), l.total_size().get()), (16384, 1 << 20));
    let l = Layout::for_image(&image(Format::Rgba8888, 64, 64), &Alignment::NONE, 16384).unwrap();
    assert_eq!(l.total_size().get(), 16384, "16 KiB pages");
    let l = Layout::for_image(&image(Format::Rgba8888, 65, 64), &Alignment::NONE, 16384).unwrap();
    assert_eq!(l.total_size().get(), 32768);
}

#[test]
fn layers_multiply_the_layer_size() {
    let img = image_with(Format::Rgba8888, (64, 64, 3), 0);
    let l = Layout::for_image(&img, &Alignment::NONE, PAGE).unwrap();
    assert_eq!((l.layer_size(), l.image_size(), l.total_size().get()), (16384, 49152, 49152));
}

#[test]
fn reserved_region_starts_on_the_page_after_the_image() {
    let with_reserved = |width, reserved| {
        let img = image_with(Format::Blob, (width, 1, 1), reserved);
        Layout::for_image(&img, &Alignment::NONE, PAGE).unwrap()
    };
    let l = with_reserved(100, 10);
    assert_eq!((l.reserved_offset(), l.reserved_size(), l.total_size().get()), (4096, 10, 8192));
    let l = with_reserved(4096, 4096);
    assert_eq!((l.reserved_offset(), l.total_size().get()), (4096, 8192));
    let l = with_reserved(100, 0);
    assert_eq!((l.reserved_offset(), l.total_size().get()), (0, 4096));
    let l = with_reserved(1, u64::MAX - 8191);
    assert_eq!((l.reserved_offset(), l.total_size().get()), (4096, u64::MAX - 4095));
    let huge = image_with(Format::Blob, (1, 1, 1), u64::MAX - 100);
    assert!(matches!(
        Layout::for_image(&huge, &Alignment::NONE, PAGE),
        Err(LayoutError::Overflow { .. })
    ));
}

#[test]
fn unspecified_is_not_an_image() {
    assert_eq!(
        image_of(Format::Unspecified, GPU, (1, 1, 1), 0),
        Some(Err(AllocError::Descriptor(DescriptorError::UnspecifiedFormat)))
    );
}

/// Bits per pixel of the smallest honest buffer, independent of the layout code.
fn minimum_bits(format: Format) -> u128 {
    match format {
        Format::Rgba8888
        | Format::Rgbx8888
        | Format::Bgra8888
        | Format::Rgba1010102
        | Format::Rg1616Uint
        | Format::Depth24
        | Format::Depth24Stencil8
        | Format::Depth32f
        | Format::ImplementationDefined => 32,
        Format::Rgb888 | Format::Hsv888 => 24,
        Format::Rgb565
        | Format::R16Uint
        | Format::Depth16
        | Format::Raw16
        | Format::Y16
        | Format::Ycbcr422I
        | Format::Ycbcr422Sp => 16,
        Format::RgbaFp16 | Format::Rgba10101010 | Format::Depth32fStencil8 => 64,
        Format::R8 | Format::Y8 | Format::Stencil8 | Format::Blob | Format::RawOpaque => 8,
        Format::Yv12 | Format::Ycbcr420_888 | Format::Ycrcb420Sp => 12,
        Format::YcbcrP010 => 24,
        Format::Raw10 => 10,
        Format::Raw12 => 12,
        Format::Unspecified => 0,
    }
}

const EDGES: [u32; 10] = [
    0,
    1,
    2,
    (1 << 16) - 1,
    1 << 16,
    (1 << 16) + 1,
    (1 << 31) - 1,
    1 << 31,
    (1 << 31) + 1,
    u32::MAX,
];

#[test]
fn edge_values_never_panic_and_never_undersize() {
    let alignments = [
        Alignment::NONE,
        Alignment { stride_bytes: 64, stride_pixels: 32, size_bytes: 1 << 20 },
        Alignment { stride_bytes: u32::MAX, stride_pixels: u32::MAX, size_bytes: u64::MAX },
    ];
    let mut ok = 0u32;
    for &format in Format::ALL {
        for width in EDGES {
            for height in EDGES {
                for layers in [1, 2, 6, u32::MAX] {
                    for align in &alignments {
                        let dims = (width, height, layers);
                        let usage = gpu_usage(format);
                        let Some(Ok(img)) = image_of(format, usage, dims, width.into()) else {
                            continue;
                        };
                        let Ok(l) = Layout::for_image(&img, align, PAGE) else { continue };
                        ok += 1;
                        let pixels = u128::from(width) * u128::from(height) * u128::from(layers);
                        let minimum = pixels * minimum_bits(format) / 8;
                        let total = u128::from(l.total_size().get());
                        assert!(
                            total >= minimum,
                            "{format} {width}x{height}x{layers}: {total} < {minimum}"
                        );
                        assert!(u128::from(l.image_size()) >= minimum, "{format}: image too small");
                        assert!(l.stride_pixels() >= width, "{format}: stride below width");
                        assert!(l.reported_stride() >= 0);
                        let handle = BufferHandle {
                            width,
                            height,
                            layers,
                            format: format.raw(),
                            usage,
                            stride_pixels: u32::try_from(l.reported_stride()).unwrap(),
                            stride_bytes: l.stride_bytes(),
                            alloc_size: l.total_size().get(),
                            planes: l.planes().to_vec(),
                            buffer_id: 1,
                            heap: "edge".into(),
                            reserved_offset: l.reserved_offset(),
                            reserved_size: l.reserved_size(),
                            metadata_size: hal_interface::shared_metadata::REGION_SIZE,
                        };
                        handle
                            .validate()
                            .unwrap_or_else(|e| panic!("{format} {width}x{height}: {e}"));
                    }
                }
            }
        }
    }
    assert!(ok > 500, "the sweep must exercise successful layouts too ({ok})");
}

#[test]
fn wrapping_products_are_refused_not_shrunk() {
    // 65536 x 65536 at 1 B/px wraps a 32-bit product to 0; 0x10001 x 0xFFFF wraps small.
    for (w, h) in [(65536u32, 65536u32), (0x10001, 0xFFFF)] {
        let l = lay(Format::R8, w, h);
        assert!(l.total_size().get() >= u64::from(w) * u64::from(h));
    }
    // A size beyond u64 is an overflow error, never a small buffer.
    let img = image_with(Format::RgbaFp16, (u32::MAX, u32::MAX, u32::MAX), 0);
    assert!(matches!(
        Layout::for_image(&img, &Alignment::NONE, PAGE),
        Err(LayoutError::Overflow { .. })
    ));
}
