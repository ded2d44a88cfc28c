//! Exact bytes for a few types, exact sizes for every type.

use super::*;

/// The 69-byte header of type `t`, written out independently of the encoder.
fn header(t: i64) -> Vec<u8> {
    let mut h = vec![53, 0, 0, 0, 0, 0, 0, 0];
    h.extend_from_slice(b"android.hardware.graphics.common.StandardMetadataType");
    h.extend_from_slice(&t.to_le_bytes());
    assert_eq!(h.len(), 69);
    h
}

#[test]
fn header_is_69_bytes() {
    assert_eq!(HEADER_BYTES, 69);
    assert_eq!(STANDARD_METADATA_TYPE_NAME.len(), 53);
}

#[test]
fn every_type_has_its_reference_size() {
    let samples = samples();
    for t in StandardMetadataType::ALL {
        assert!(samples.iter().any(|(v, _)| v.metadata_type() == t), "no sample of {}", t.name());
    }
    for (value, size) in samples {
        let bytes = encode(&value);
        assert_eq!(bytes.len(), size, "{value:?}");
        if size > 0 {
            assert_eq!(bytes[..69], header(value.metadata_type().value()), "{value:?}");
        }
    }
}

#[test]
fn buffer_id_bytes() {
    let mut expected = header(1);
    expected.extend_from_slice(&[8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(encode(&MetadataValue::BufferId(0x0102_0304_0506_0708)), expected);
}

#[test]
fn name_bytes() {
    let mut expected = header(2);
    expected.extend_from_slice(&[13, 0, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(b"Hello, World!");
    assert_eq!(encode(&MetadataValue::Name("Hello, World!".to_owned())), expected);
}

#[test]
fn i32_and_u32_types_are_four_bytes() {
    let mut expected = header(17);
    expected.extend_from_slice(&[0x00, 0x00, 0x8a, 0x08]);
    assert_eq!(encode(&MetadataValue::Dataspace(0x088a_0000)), expected);
    let mut expected = header(7);
    expected.extend_from_slice(b"AB24");
    assert_eq!(encode(&MetadataValue::PixelFormatFourcc(0x3432_4241)), expected);
    let mut expected = header(6);
    expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(encode(&MetadataValue::PixelFormatRequested(-1)), expected);
    let mut expected = header(23);
    expected.extend_from_slice(&[64, 0, 0, 0]);
    assert_eq!(encode(&MetadataValue::Stride(64)), expected);
}

#[test]
fn compression_none_bytes() {
    let mut expected = header(12);
    expected.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(b"android.hardware.graphics.common.Compression");
    expected.extend_from_slice(&[0; 8]);
    assert_eq!(encode(&MetadataValue::Compression(ExtendableType::compression_none())), expected);
}

#[test]
fn crop_bytes_use_i32_fields() {
    let mut expected = header(16);
    expected.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
    for v in [1i32, -2, 64, 128] {
        expected.extend_from_slice(&v.to_le_bytes());
    }
    let crop = MetadataValue::Crop(vec![Rect { left: 1, top: -2, right: 64, bottom: 128 }]);
    assert_eq!(encode(&crop), expected);
}

#[test]
fn smpte2086_bytes_are_ten_floats_in_aidl_order() {
    let s = smpte2086();
    let mut expected = header(19);
    for f in [0.680f32, 0.320, 0.265, 0.690, 0.150, 0.060, 0.3127, 0.3290, 100.0, 0.1] {
        expected.extend_from_slice(&f.to_le_bytes());
    }
    assert_eq!(encode(&MetadataValue::Smpte2086(Some(s))), expected);
}

#[test]
fn cta861_3_bytes() {
    let mut expected = header(20);
    expected.extend_from_slice(&1000.0f32.to_le_bytes());
    expected.extend_from_slice(&400.0f32.to_le_bytes());
    let c = Cta861_3 { max_content_light_level: 1000.0, max_frame_average_light_level: 400.0 };
    assert_eq!(encode(&MetadataValue::Cta861_3(Some(c))), expected);
}

#[test]
fn smpte2094_bytes_are_a_length_prefixed_vector() {
    let mut expected = header(21);
    expected.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 0xaa, 0xbb, 0xcc]);
    assert_eq!(encode(&MetadataValue::Smpte2094_40(Some(vec![0xaa, 0xbb, 0xcc]))), expected);
}

#[test]
fn unset_optionals_are_zero_bytes() {
    assert!(encode(&MetadataValue::Smpte2086(None)).is_empty());
    assert!(encode(&MetadataValue::Cta861_3(None)).is_empty());
    assert!(encode(&MetadataValue::Smpte2094_40(None)).is_empty());
    assert!(encode(&MetadataValue::Smpte2094_10(None)).is_empty());
}

/// One standard component as the wire has it: 57-byte name string, value, offset, size.
fn component(value: i64, offset: i64, size: i64) -> Vec<u8> {
    let mut c = vec![57, 0, 0, 0, 0, 0, 0, 0];
    c.extend_from_slice(b"android.hardware.graphics.common.PlaneLayoutComponentType");
    for v in [value, offset, size] {
        c.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(c.len(), 89);
    c
}

#[test]
fn rgba_8888_plane_layouts_bytes() {
    let h = handle(1, 64, 128, vec![plane(0, 256, 256 * 128, 1, 1, PlaneComponent::Rgba)]);
    let mut expected = header(15);
    expected.extend_from_slice(&1i64.to_le_bytes());
    expected.extend_from_slice(&4i64.to_le_bytes());
    for (value, offset) in [(1024, 0), (2048, 8), (4096, 16), (1 << 30, 24)] {
        expected.extend(component(value, offset, 8));
    }
    // offsetInBytes, sampleIncrementInBits, strideInBytes, widthInSamples,
    // heightInSamples, totalSizeInBytes, horizontal and vertical subsampling.
    for v in [0i64, 32, 256, 64, 128, 256 * 128, 1, 1] {
        expected.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(expected.len(), 505);
    assert_eq!(encode(&MetadataValue::PlaneLayouts(plane_layouts(&h))), expected);
}

#[test]
fn yuv_plane_layouts_sizes() {
    // A plane is 8 (count) + 89 per component + 64 (eight i64 fields).
    let nv12 = handle(
        0x23,
        64,
        64,
        vec![
            plane(0, 64, 4096, 1, 1, PlaneComponent::Y),
            plane(4096, 64, 2048, 2, 2, PlaneComponent::CbCr),
        ],
    );
    assert_eq!(
        encode(&MetadataValue::PlaneLayouts(plane_layouts(&nv12))).len(),
        69 + 8 + 161 + 250
    );
    let yv12 = handle(
        0x3231_5659,
        64,
        64,
        vec![
            plane(0, 64, 4096, 1, 1, PlaneComponent::Y),
            plane(4096, 32, 1024, 2, 2, PlaneComponent::Cr),
            plane(5120, 32, 1024, 2, 2, PlaneComponent::Cb),
        ],
    );
    assert_eq!(encode(&MetadataValue::PlaneLayouts(plane_layouts(&yv12))).len(), 69 + 8 + 3 * 161);
}

#[test]
fn standard_type_values_and_names_match_the_aidl() {
    let expected = [
        "BUFFER_ID",
        "NAME",
        "WIDTH",
        "HEIGHT",
        "LAYER_COUNT",
        "PIXEL_FORMAT_REQUESTED",
        "PIXEL_FORMAT_FOURCC",
        "PIXEL_FORMAT_MODIFIER",
        "USAGE",
        "ALLOCATION_SIZE",
        "PROTECTED_CONTENT",
        "COMPRESSION",
        "INTERLACED",
        "CHROMA_SITING",
        "PLANE_LAYOUTS",
        "CROP",
        "DATASPACE",
        "BLEND_MODE",
        "SMPTE2086",
        "CTA861_3",
        "SMPTE2094_40",
        "SMPTE2094_10",
        "STRIDE",
    ];
    for (i, (t, name)) in StandardMetadataType::ALL.iter().zip(expected).enumerate() {
        let value = i64::try_from(i).unwrap() + 1;
        assert_eq!(t.value(), value);
        assert_eq!(t.name(), name);
        assert_eq!(StandardMetadataType::from_i64(value), Some(*t));
    }
    for v in [0, 24, -1, i64::MAX, i64::MIN] {
        assert_eq!(StandardMetadataType::from_i64(v), None, "{v}");
    }
}

#[test]
fn component_type_values_match_the_aidl() {
    use PlaneLayoutComponentType as C;
    let expected = [
        (C::Y, 1),
        (C::Cb, 2),
        (C::Cr, 4),
        (C::R, 1024),
        (C::G, 2048),
        (C::B, 4096),
        (C::Raw, 1 << 20),
        (C::A, 1 << 30),
    ];
    for (c, v) in expected {
        assert_eq!(c.value(), v);
        assert_eq!(C::from_i64(v), Some(c));
    }
    assert_eq!(C::ALL.map(C::value), expected.map(|(_, v)| v));
    assert_eq!(C::from_i64(8), None);
}

#[test]
fn fourcc_table_matches_drm_fourcc_h() {
    use crate::format::Format as F;
    let expected: &[(F, Option<u32>)] = &[
        (F::Rgba8888, Some(0x3432_4241)),
        (F::Rgbx8888, Some(0x3432_4258)),
        (F::Bgra8888, Some(0x3432_5241)),
        (F::Rgb888, Some(0x3432_4742)),
        (F::Rgb565, Some(0x3631_4752)),
        (F::RgbaFp16, Some(0x4834_4241)),
        (F::Rgba1010102, Some(0x3033_4241)),
        (F::Rgba10101010, Some(0x3031_4241)),
        (F::Yv12, Some(0x3231_5659)),
        (F::Ycbcr420_888, Some(0x3231_564e)),
        (F::Ycrcb420Sp, Some(0x3132_564e)),
        (F::Ycbcr422Sp, Some(0x3631_564e)),
        (F::Ycbcr422I, Some(0x5659_5559)),
        (F::YcbcrP010, Some(0x3031_3050)),
        (F::R8, Some(0x2020_3852)),
        (F::Y8, Some(0x2020_3852)),
        (F::Blob, Some(0x2020_3852)),
        (F::R16Uint, Some(0x2036_3152)),
        (F::Y16, Some(0x2036_3152)),
        (F::Raw16, Some(0x2036_3152)),
        (F::Rg1616Uint, Some(0x3233_5247)),
        (F::Unspecified, None),
        (F::ImplementationDefined, None),
        (F::RawOpaque, None),
        (F::Raw10, None),
        (F::Raw12, None),
        (F::Depth16, None),
        (F::Depth24, None),
        (F::Depth24Stencil8, None),
        (F::Depth32f, None),
        (F::Depth32fStencil8, None),
        (F::Stencil8, None),
        (F::Hsv888, None),
    ];
    assert_eq!(expected.len(), F::ALL.len());
    for &(f, code) in expected {
        assert_eq!(fourcc(f.raw()), code, "{f}");
    }
    assert_eq!(DRM_FORMAT_ABGR8888, 0x3432_4241);
    assert_eq!(DRM_FORMAT_YVU420, 0x3231_5659);
    for raw in [0x3c, 0x100, -1] {
        assert_eq!(fourcc(raw), None);
    }
}
