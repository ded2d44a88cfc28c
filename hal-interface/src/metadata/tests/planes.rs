//! PLANE_LAYOUTS per format against the reference, and the handle-only getters.

use super::super::planes::plane_specs;
use super::*;
use crate::format::Format;
use PlaneLayoutComponentType as C;

fn components(layout: &GrallocPlaneLayout) -> Vec<(PlaneLayoutComponentType, i64, i64)> {
    layout
        .components
        .iter()
        .map(|c| (c.component_type.standard_component().unwrap(), c.offset_in_bits, c.size_in_bits))
        .collect()
}

fn nv_handle(format: Format, chroma: PlaneComponent, bytes_per_sample: u32) -> BufferHandle {
    let stride = 64 * bytes_per_sample;
    handle(
        format.raw(),
        64,
        32,
        vec![
            plane(0, stride, u64::from(stride) * 32, 1, 1, PlaneComponent::Y),
            plane(u64::from(stride) * 32, stride, u64::from(stride) * 16, 2, 2, chroma),
        ],
    )
}

#[test]
fn rgba_8888_is_one_rgba_plane() {
    let h = handle(
        Format::Rgba8888.raw(),
        64,
        128,
        vec![plane(0, 256, 32768, 1, 1, PlaneComponent::Rgba)],
    );
    let layouts = plane_layouts(&h);
    assert_eq!(layouts.len(), 1);
    let p = &layouts[0];
    assert_eq!(components(p), [(C::R, 0, 8), (C::G, 8, 8), (C::B, 16, 8), (C::A, 24, 8)]);
    assert!(p.components.iter().all(|c| c.component_type.name == PLANE_LAYOUT_COMPONENT_TYPE_NAME));
    assert_eq!((p.offset_in_bytes, p.sample_increment_in_bits, p.stride_in_bytes), (0, 32, 256));
    assert_eq!((p.width_in_samples, p.height_in_samples, p.total_size_in_bytes), (64, 128, 32768));
    assert_eq!((p.horizontal_subsampling, p.vertical_subsampling), (1, 1));
}

#[test]
fn nv12_has_cb_then_cr_in_a_16_bit_sample() {
    let layouts = plane_layouts(&nv_handle(Format::Ycbcr420_888, PlaneComponent::CbCr, 1));
    assert_eq!(layouts.len(), 2);
    assert_eq!(components(&layouts[0]), [(C::Y, 0, 8)]);
    assert_eq!(layouts[0].sample_increment_in_bits, 8);
    assert_eq!((layouts[0].width_in_samples, layouts[0].height_in_samples), (64, 32));
    let c = &layouts[1];
    assert_eq!(components(c), [(C::Cb, 0, 8), (C::Cr, 8, 8)]);
    assert_eq!(c.sample_increment_in_bits, 16);
    assert_eq!((c.offset_in_bytes, c.stride_in_bytes, c.total_size_in_bytes), (2048, 64, 1024));
    assert_eq!((c.width_in_samples, c.height_in_samples), (32, 16));
    assert_eq!((c.horizontal_subsampling, c.vertical_subsampling), (2, 2));
}

#[test]
fn nv21_has_cr_then_cb() {
    let layouts = plane_layouts(&nv_handle(Format::Ycrcb420Sp, PlaneComponent::CrCb, 1));
    assert_eq!(components(&layouts[1]), [(C::Cr, 0, 8), (C::Cb, 8, 8)]);
    assert_eq!(layouts[1].sample_increment_in_bits, 16);
}

#[test]
fn p010_has_10_bit_samples_at_the_top_of_16() {
    let layouts = plane_layouts(&nv_handle(Format::YcbcrP010, PlaneComponent::CbCr, 2));
    assert_eq!(components(&layouts[0]), [(C::Y, 6, 10)]);
    assert_eq!(layouts[0].sample_increment_in_bits, 16);
    assert_eq!(components(&layouts[1]), [(C::Cb, 6, 10), (C::Cr, 22, 10)]);
    assert_eq!(layouts[1].sample_increment_in_bits, 32);
    assert_eq!(layouts[1].stride_in_bytes, 128);
}

#[test]
fn ycbcr_422_sp_is_nv16() {
    let h = handle(
        Format::Ycbcr422Sp.raw(),
        64,
        32,
        vec![
            plane(0, 64, 2048, 1, 1, PlaneComponent::Y),
            plane(2048, 64, 2048, 2, 1, PlaneComponent::CbCr),
        ],
    );
    let layouts = plane_layouts(&h);
    assert_eq!(components(&layouts[1]), [(C::Cb, 0, 8), (C::Cr, 8, 8)]);
    assert_eq!((layouts[1].width_in_samples, layouts[1].height_in_samples), (32, 32));
    assert_eq!((layouts[1].horizontal_subsampling, layouts[1].vertical_subsampling), (2, 1));
}

#[test]
fn yv12_is_y_then_cr_then_cb_subsampled_by_two() {
    let h = handle(
        Format::Yv12.raw(),
        64,
        64,
        vec![
            plane(0, 64, 4096, 1, 1, PlaneComponent::Y),
            plane(4096, 32, 1024, 2, 2, PlaneComponent::Cr),
            plane(5120, 32, 1024, 2, 2, PlaneComponent::Cb),
        ],
    );
    let layouts = plane_layouts(&h);
    let kinds: Vec<_> = layouts.iter().map(components).collect();
    assert_eq!(kinds, [vec![(C::Y, 0, 8)], vec![(C::Cr, 0, 8)], vec![(C::Cb, 0, 8)]]);
    for p in &layouts[1..] {
        assert_eq!((p.horizontal_subsampling, p.vertical_subsampling), (2, 2));
        assert_eq!((p.width_in_samples, p.height_in_samples), (32, 32));
        assert_eq!(p.sample_increment_in_bits, 8);
    }
    // Cb starts right after Cr.
    assert_eq!(
        layouts[2].offset_in_bytes,
        layouts[1].offset_in_bytes + layouts[1].total_size_in_bytes
    );
}

#[test]
fn raw10_and_raw12_are_one_raw_component_of_unknown_size() {
    for format in [Format::Raw10, Format::Raw12] {
        let h =
            handle(format.raw(), 64, 64, vec![plane(0, 80, 80 * 64, 1, 1, PlaneComponent::Raw)]);
        let layouts = plane_layouts(&h);
        assert_eq!(layouts.len(), 1);
        assert_eq!(components(&layouts[0]), [(C::Raw, 0, -1)], "{format}");
        assert_eq!(layouts[0].sample_increment_in_bits, 0);
        assert_eq!(layouts[0].stride_in_bytes, 80);
    }
}

/// The single-plane formats: the handle component the service writes, the components and
/// the sample increment the reference gives.
#[test]
fn single_plane_formats_match_the_reference() {
    type Row = (Format, PlaneComponent, &'static [(C, i64, i64)], i64);
    let rows: &[Row] = &[
        (Format::Rgbx8888, PlaneComponent::Rgba, &[(C::R, 0, 8), (C::G, 8, 8), (C::B, 16, 8)], 32),
        (
            Format::Bgra8888,
            PlaneComponent::Rgba,
            &[(C::B, 0, 8), (C::G, 8, 8), (C::R, 16, 8), (C::A, 24, 8)],
            32,
        ),
        (
            Format::Rgba1010102,
            PlaneComponent::Rgba,
            &[(C::R, 0, 10), (C::G, 10, 10), (C::B, 20, 10), (C::A, 30, 2)],
            32,
        ),
        (
            Format::RgbaFp16,
            PlaneComponent::Rgba,
            &[(C::R, 0, 16), (C::G, 16, 16), (C::B, 32, 16), (C::A, 48, 16)],
            64,
        ),
        (
            Format::Rgba10101010,
            PlaneComponent::Rgba,
            &[(C::R, 6, 10), (C::G, 22, 10), (C::B, 38, 10), (C::A, 54, 10)],
            64,
        ),
        (Format::Rgb888, PlaneComponent::Rgb, &[(C::R, 0, 8), (C::G, 8, 8), (C::B, 16, 8)], 24),
        (Format::Rgb565, PlaneComponent::Rgb, &[(C::B, 0, 5), (C::G, 5, 6), (C::R, 11, 5)], 16),
        (Format::Rg1616Uint, PlaneComponent::Red, &[(C::R, 0, 16), (C::G, 16, 16)], 32),
        (Format::R16Uint, PlaneComponent::Red, &[(C::R, 0, 16)], 16),
        (Format::R8, PlaneComponent::Red, &[(C::R, 0, 8)], 8),
        (Format::Y8, PlaneComponent::Y, &[(C::Y, 0, 8)], 8),
        (Format::Y16, PlaneComponent::Y, &[(C::Y, 0, 16)], 16),
        (Format::Raw16, PlaneComponent::Raw, &[(C::Raw, 0, 16)], 16),
        (Format::RawOpaque, PlaneComponent::Raw, &[(C::Raw, 0, -1)], 0),
        (Format::Blob, PlaneComponent::Blob, &[(C::Raw, 0, 8)], 8),
        (
            Format::Ycbcr422I,
            PlaneComponent::YCbCrPacked,
            &[(C::Y, 0, 8), (C::Cb, 8, 8), (C::Cr, 24, 8)],
            0,
        ),
        (Format::Hsv888, PlaneComponent::Rgb, &[], 24),
        (Format::Depth16, PlaneComponent::Depth, &[], 16),
        (Format::Depth24, PlaneComponent::Depth, &[], 32),
        (Format::Depth24Stencil8, PlaneComponent::Depth, &[], 32),
        (Format::Depth32f, PlaneComponent::Depth, &[], 32),
        (Format::Depth32fStencil8, PlaneComponent::Depth, &[], 64),
        (Format::Stencil8, PlaneComponent::Stencil, &[], 8),
    ];
    for &(format, component, expected, increment) in rows {
        let h = handle(format.raw(), 16, 4, vec![plane(0, 128, 512, 1, 1, component)]);
        let layouts = plane_layouts(&h);
        assert_eq!(layouts.len(), 1, "{format}");
        assert_eq!(components(&layouts[0]), expected, "{format}");
        assert_eq!(layouts[0].sample_increment_in_bits, increment, "{format}");
        assert_eq!((layouts[0].width_in_samples, layouts[0].height_in_samples), (16, 4));
        assert_eq!((layouts[0].stride_in_bytes, layouts[0].total_size_in_bytes), (128, 512));
    }
}

/// Every format the service lays out has a table entry with as many planes as the service
/// writes (service/src/layout.rs: YV12 three, the semi-planar formats two, the rest one), and
/// no two components of a plane overlap or leave the sample.
#[test]
fn every_layout_format_is_described() {
    for &format in Format::ALL {
        let specs = plane_specs(format);
        let expected_planes = match format {
            Format::Unspecified | Format::ImplementationDefined => 0,
            Format::Yv12 => 3,
            Format::Ycbcr420_888 | Format::Ycrcb420Sp | Format::Ycbcr422Sp | Format::YcbcrP010 => 2,
            _ => 1,
        };
        assert_eq!(specs.len(), expected_planes, "{format}");
        for spec in specs {
            let mut bits = 0u128;
            for &(_, offset, size) in spec.components {
                if size < 0 {
                    continue;
                }
                let mask = ((1u128 << size) - 1) << offset;
                assert_eq!(bits & mask, 0, "{format}: overlapping components");
                bits |= mask;
                if spec.sample_increment_in_bits > 0 {
                    assert!(offset + size <= spec.sample_increment_in_bits, "{format}");
                }
            }
        }
    }
}

#[test]
fn implementation_defined_is_described_as_what_the_service_chose() {
    let rgba = handle(
        Format::ImplementationDefined.raw(),
        64,
        64,
        vec![plane(0, 256, 16384, 1, 1, PlaneComponent::Rgba)],
    );
    assert_eq!(layout_format(&rgba), Some(Format::Rgba8888));
    assert_eq!(components(&plane_layouts(&rgba)[0]).len(), 4);
    assert_eq!(
        MetadataValue::from_handle(&rgba, StandardMetadataType::PixelFormatFourcc),
        Some(MetadataValue::PixelFormatFourcc(DRM_FORMAT_ABGR8888))
    );
    assert_eq!(
        MetadataValue::from_handle(&rgba, StandardMetadataType::PixelFormatRequested),
        Some(MetadataValue::PixelFormatRequested(0x22))
    );

    let mut yuv = nv_handle(Format::Ycbcr420_888, PlaneComponent::CbCr, 1);
    yuv.format = Format::ImplementationDefined.raw();
    assert_eq!(layout_format(&yuv), Some(Format::Ycbcr420_888));
    assert_eq!(components(&plane_layouts(&yuv)[1]), [(C::Cb, 0, 8), (C::Cr, 8, 8)]);
}

#[test]
fn unknown_formats_keep_their_planes_without_components() {
    let h = handle(0x100, 64, 64, vec![plane(0, 64, 4096, 1, 1, PlaneComponent::Opaque)]);
    assert_eq!(layout_format(&h), None);
    let layouts = plane_layouts(&h);
    assert_eq!(layouts.len(), 1);
    assert!(layouts[0].components.is_empty());
    assert_eq!((layouts[0].sample_increment_in_bits, layouts[0].total_size_in_bytes), (0, 4096));
    assert_eq!(
        MetadataValue::from_handle(&h, StandardMetadataType::PixelFormatFourcc),
        Some(MetadataValue::PixelFormatFourcc(DRM_FORMAT_INVALID))
    );
}

#[test]
fn hostile_plane_numbers_do_not_panic() {
    let mut h = handle(
        Format::Yv12.raw(),
        u32::MAX,
        u32::MAX,
        vec![plane(u64::MAX, u32::MAX, u64::MAX, 0, 0, PlaneComponent::Y)],
    );
    h.planes.push(plane(u64::MAX, 0, u64::MAX, u32::MAX, u32::MAX, PlaneComponent::Cr));
    let layouts = plane_layouts(&h);
    assert_eq!(layouts[0].offset_in_bytes, i64::MAX);
    assert_eq!(layouts[0].width_in_samples, i64::from(u32::MAX));
    assert_eq!(layouts[1].width_in_samples, 1);
    for t in StandardMetadataType::ALL {
        if let Some(v) = MetadataValue::from_handle(&h, t) {
            assert_eq!(decode(t, &encode(&v)), Ok(v));
        }
    }
}

#[test]
fn handle_getters_cover_exactly_the_handle_types() {
    let h = handle(
        Format::Rgba8888.raw(),
        64,
        128,
        vec![plane(0, 256, 32768, 1, 1, PlaneComponent::Rgba)],
    );
    use MetadataValue as V;
    use StandardMetadataType as T;
    let expected = [
        (T::BufferId, Some(V::BufferId(0x0000_0007_0000_002a))),
        (T::Name, None),
        (T::Width, Some(V::Width(64))),
        (T::Height, Some(V::Height(128))),
        (T::LayerCount, Some(V::LayerCount(1))),
        (T::PixelFormatRequested, Some(V::PixelFormatRequested(1))),
        (T::PixelFormatFourcc, Some(V::PixelFormatFourcc(0x3432_4241))),
        (T::PixelFormatModifier, Some(V::PixelFormatModifier(0))),
        (T::Usage, Some(V::Usage(0x33))),
        (T::AllocationSize, Some(V::AllocationSize(32768))),
        (T::ProtectedContent, Some(V::ProtectedContent(0))),
        (
            T::Compression,
            Some(V::Compression(ExtendableType::new(
                "android.hardware.graphics.common.Compression",
                0,
            ))),
        ),
        (
            T::Interlaced,
            Some(V::Interlaced(ExtendableType::new(
                "android.hardware.graphics.common.Interlaced",
                0,
            ))),
        ),
        (
            T::ChromaSiting,
            Some(V::ChromaSiting(ExtendableType::new(
                "android.hardware.graphics.common.ChromaSiting",
                0,
            ))),
        ),
        (T::PlaneLayouts, Some(V::PlaneLayouts(plane_layouts(&h)))),
        (T::Crop, Some(V::Crop(vec![Rect { left: 0, top: 0, right: 64, bottom: 128 }]))),
        (T::Dataspace, None),
        (T::BlendMode, None),
        (T::Smpte2086, None),
        (T::Cta861_3, None),
        (T::Smpte2094_40, None),
        (T::Smpte2094_10, None),
        (T::Stride, Some(V::Stride(64))),
    ];
    assert_eq!(expected.each_ref().map(|(t, _)| *t), StandardMetadataType::ALL);
    for (t, value) in expected {
        assert_eq!(MetadataValue::from_handle(&h, t), value, "{}", t.name());
    }
}

#[test]
fn protected_content_follows_the_usage_bit() {
    let mut h = handle(
        Format::Rgba8888.raw(),
        64,
        64,
        vec![plane(0, 256, 16384, 1, 1, PlaneComponent::Rgba)],
    );
    h.usage = crate::usage::bits::PROTECTED | crate::usage::bits::FRONT_BUFFER;
    assert_eq!(
        MetadataValue::from_handle(&h, StandardMetadataType::ProtectedContent),
        Some(MetadataValue::ProtectedContent(1))
    );
    assert_eq!(
        MetadataValue::from_handle(&h, StandardMetadataType::Usage),
        Some(MetadataValue::Usage(h.usage))
    );
}

#[test]
fn stride_is_the_handle_stride_and_yv12_fourcc_is_yvu420() {
    let mut h = handle(
        Format::Yv12.raw(),
        60,
        64,
        vec![
            plane(0, 64, 4096, 1, 1, PlaneComponent::Y),
            plane(4096, 32, 1024, 2, 2, PlaneComponent::Cr),
            plane(5120, 32, 1024, 2, 2, PlaneComponent::Cb),
        ],
    );
    h.stride_pixels = 64;
    assert_eq!(
        MetadataValue::from_handle(&h, StandardMetadataType::Stride),
        Some(MetadataValue::Stride(64))
    );
    assert_eq!(
        MetadataValue::from_handle(&h, StandardMetadataType::PixelFormatFourcc),
        Some(MetadataValue::PixelFormatFourcc(0x3231_5659))
    );
    assert_eq!(
        MetadataValue::from_handle(&h, StandardMetadataType::Crop),
        Some(MetadataValue::Crop(vec![Rect { left: 0, top: 0, right: 60, bottom: 64 }]))
    );
}
