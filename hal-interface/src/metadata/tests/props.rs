//! Property tests: round trips of arbitrary values, and arbitrary or mutated bytes never
//! panic and are accepted only in their one canonical encoding.

use proptest::prelude::*;

use super::*;

fn f32_bits() -> impl Strategy<Value = f32> {
    any::<u32>().prop_map(f32::from_bits)
}

fn xy() -> impl Strategy<Value = XyColor> {
    (f32_bits(), f32_bits()).prop_map(|(x, y)| XyColor { x, y })
}

fn extendable() -> impl Strategy<Value = ExtendableType> {
    (".{0,40}", any::<i64>()).prop_map(|(name, value)| ExtendableType { name, value })
}

fn plane_layout() -> impl Strategy<Value = GrallocPlaneLayout> {
    (
        prop::collection::vec(
            (extendable(), any::<i64>(), any::<i64>()).prop_map(|(component_type, o, s)| {
                GrallocPlaneLayoutComponent { component_type, offset_in_bits: o, size_in_bits: s }
            }),
            0..5,
        ),
        prop::array::uniform8(any::<i64>()),
    )
        .prop_map(|(components, f)| GrallocPlaneLayout {
            components,
            offset_in_bytes: f[0],
            sample_increment_in_bits: f[1],
            stride_in_bytes: f[2],
            width_in_samples: f[3],
            height_in_samples: f[4],
            total_size_in_bytes: f[5],
            horizontal_subsampling: f[6],
            vertical_subsampling: f[7],
        })
}

fn value() -> impl Strategy<Value = MetadataValue> {
    use MetadataValue as V;
    let smpte =
        (xy(), xy(), xy(), xy(), f32_bits(), f32_bits()).prop_map(|(r, g, b, w, max, min)| {
            Smpte2086 {
                primary_red: r,
                primary_green: g,
                primary_blue: b,
                white_point: w,
                max_luminance: max,
                min_luminance: min,
            }
        });
    let cta = (f32_bits(), f32_bits()).prop_map(|(a, b)| Cta861_3 {
        max_content_light_level: a,
        max_frame_average_light_level: b,
    });
    let rect = prop::array::uniform4(any::<i32>()).prop_map(|[left, top, right, bottom]| Rect {
        left,
        top,
        right,
        bottom,
    });
    let blob = prop::option::of(prop::collection::vec(any::<u8>(), 0..64));
    prop_oneof![
        any::<u64>().prop_map(V::BufferId),
        ".{0,64}".prop_map(V::Name),
        any::<u64>().prop_map(V::Width),
        any::<u64>().prop_map(V::Height),
        any::<u64>().prop_map(V::LayerCount),
        any::<i32>().prop_map(V::PixelFormatRequested),
        any::<u32>().prop_map(V::PixelFormatFourcc),
        any::<u64>().prop_map(V::PixelFormatModifier),
        any::<u64>().prop_map(V::Usage),
        any::<u64>().prop_map(V::AllocationSize),
        any::<u64>().prop_map(V::ProtectedContent),
        extendable().prop_map(V::Compression),
        extendable().prop_map(V::Interlaced),
        extendable().prop_map(V::ChromaSiting),
        prop::collection::vec(plane_layout(), 0..4).prop_map(V::PlaneLayouts),
        prop::collection::vec(rect, 0..4).prop_map(V::Crop),
        any::<i32>().prop_map(V::Dataspace),
        any::<i32>().prop_map(V::BlendMode),
        prop::option::of(smpte).prop_map(V::Smpte2086),
        prop::option::of(cta).prop_map(V::Cta861_3),
        blob.clone().prop_map(V::Smpte2094_40),
        blob.prop_map(V::Smpte2094_10),
        any::<u32>().prop_map(V::Stride),
    ]
}

fn metadata_type() -> impl Strategy<Value = StandardMetadataType> {
    prop::sample::select(StandardMetadataType::ALL.to_vec())
}

/// `v` has no NaN, so `==` is meaningful on it.
fn nan_free(v: &MetadataValue) -> bool {
    let xy_ok = |c: &XyColor| !c.x.is_nan() && !c.y.is_nan();
    match v {
        MetadataValue::Smpte2086(Some(s)) => {
            [&s.primary_red, &s.primary_green, &s.primary_blue, &s.white_point]
                .into_iter()
                .all(xy_ok)
                && !s.max_luminance.is_nan()
                && !s.min_luminance.is_nan()
        }
        MetadataValue::Cta861_3(Some(c)) => {
            !c.max_content_light_level.is_nan() && !c.max_frame_average_light_level.is_nan()
        }
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_inverts_encode(v in value()) {
        let bytes = encode(&v);
        let decoded = decode(v.metadata_type(), &bytes).unwrap();
        // Floats compare by bits through the encoding, NaN payloads included.
        prop_assert_eq!(encode(&decoded), bytes);
        if nan_free(&v) {
            prop_assert_eq!(decoded, v);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(t in metadata_type(), bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(v) = decode(t, &bytes) {
            prop_assert_eq!(encode(&v), bytes);
        }
    }

    #[test]
    fn arbitrary_payloads_after_a_valid_header_never_panic(
        t in metadata_type(),
        tail in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = encode(&MetadataValue::Stride(0))[..HEADER_BYTES - 8].to_vec();
        bytes.extend_from_slice(&t.value().to_le_bytes());
        bytes.extend_from_slice(&tail);
        if let Ok(v) = decode(t, &bytes) {
            prop_assert_eq!(encode(&v), bytes);
        }
    }

    #[test]
    fn mutated_encodings_never_panic_and_only_canonical_bytes_decode(
        v in value(),
        t in metadata_type(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&v);
        if !bytes.is_empty() {
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        match decode(t, &bytes) {
            Ok(d) => prop_assert_eq!(encode(&d), bytes),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
