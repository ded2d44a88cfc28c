//! The strict decoder: round trips, then each rejection rule.

use super::*;

#[test]
fn every_sample_round_trips() {
    for (value, _) in samples() {
        let t = value.metadata_type();
        assert_eq!(decode(t, &encode(&value)), Ok(value));
    }
}

#[test]
fn zero_bytes_are_unset_for_optional_types_and_an_error_for_the_others() {
    for t in StandardMetadataType::ALL {
        let decoded = decode(t, &[]);
        if t.is_optional() {
            let value = decoded.unwrap();
            assert_eq!(value.metadata_type(), t);
            assert!(encode(&value).is_empty(), "{}", t.name());
        } else {
            assert!(
                matches!(decoded, Err(MetadataError::Truncated { offset: 0, .. })),
                "{}",
                t.name()
            );
        }
    }
}

#[test]
fn every_truncation_of_every_sample_is_refused() {
    for (value, _) in samples() {
        let t = value.metadata_type();
        let bytes = encode(&value);
        for len in 1..bytes.len() {
            let result = decode(t, &bytes[..len]);
            assert!(
                matches!(
                    result,
                    Err(MetadataError::Truncated { .. } | MetadataError::LengthPastEnd { .. })
                ),
                "{} cut to {len}: {result:?}",
                t.name()
            );
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    for (value, _) in samples() {
        let t = value.metadata_type();
        let mut bytes = encode(&value);
        if bytes.is_empty() {
            // An unset optional plus garbage is not a header either.
            bytes.push(0);
            assert!(decode(t, &bytes).is_err());
            continue;
        }
        bytes.push(0);
        assert_eq!(
            decode(t, &bytes),
            Err(MetadataError::TrailingBytes { extra: 1 }),
            "{}",
            t.name()
        );
    }
}

#[test]
fn another_types_value_is_refused() {
    let bytes = encode(&MetadataValue::Width(64));
    assert_eq!(
        decode(StandardMetadataType::Height, &bytes),
        Err(MetadataError::WrongType { expected: 4, found: 3 })
    );
    // Same payload size, so only the header can tell them apart.
    let bytes = encode(&MetadataValue::Dataspace(0));
    assert!(matches!(
        decode(StandardMetadataType::BlendMode, &bytes),
        Err(MetadataError::WrongType { expected: 18, found: 17 })
    ));
}

#[test]
fn a_header_naming_another_namespace_is_refused() {
    let good = encode(&MetadataValue::Width(64));
    let mut bad = good.clone();
    bad[8 + 52] = b'X';
    assert_eq!(decode(StandardMetadataType::Width, &bad), Err(MetadataError::WrongHeaderName));
    // A shorter name (52 bytes, a prefix of the real one) with the rest shifted.
    let mut short = vec![52, 0, 0, 0, 0, 0, 0, 0];
    short.extend_from_slice(&STANDARD_METADATA_TYPE_NAME.as_bytes()[..52]);
    short.extend_from_slice(&3i64.to_le_bytes());
    short.extend_from_slice(&64u64.to_le_bytes());
    assert_eq!(decode(StandardMetadataType::Width, &short), Err(MetadataError::WrongHeaderName));
}

fn with_length_at(value: &MetadataValue, at: usize, length: i64) -> Vec<u8> {
    let mut bytes = encode(value);
    bytes[at..at + 8].copy_from_slice(&length.to_le_bytes());
    bytes
}

#[test]
fn negative_lengths_are_refused() {
    let header = with_length_at(&MetadataValue::Width(1), 0, -53);
    assert!(matches!(
        decode(StandardMetadataType::Width, &header),
        Err(MetadataError::NegativeLength { value: -53, .. })
    ));
    let name = with_length_at(&MetadataValue::Name("abc".to_owned()), 69, -1);
    assert!(matches!(
        decode(StandardMetadataType::Name, &name),
        Err(MetadataError::NegativeLength { value: -1, .. })
    ));
    let crop = with_length_at(&MetadataValue::Crop(vec![Rect::default()]), 69, i64::MIN);
    assert!(matches!(
        decode(StandardMetadataType::Crop, &crop),
        Err(MetadataError::NegativeLength { .. })
    ));
}

#[test]
fn lengths_past_the_end_are_refused_before_allocating() {
    let value = MetadataValue::Smpte2094_10(Some(vec![1, 2, 3]));
    for length in [4, 1 << 40, i64::MAX] {
        let bytes = with_length_at(&value, 69, length);
        assert!(
            matches!(
                decode(StandardMetadataType::Smpte2094_10, &bytes),
                Err(MetadataError::LengthPastEnd { available: 3, .. })
            ),
            "{length}"
        );
    }
    let name = with_length_at(&MetadataValue::Name("abc".to_owned()), 69, 4);
    assert!(matches!(
        decode(StandardMetadataType::Name, &name),
        Err(MetadataError::LengthPastEnd { .. })
    ));
}

#[test]
fn absurd_counts_are_refused_before_allocating() {
    let crop = MetadataValue::Crop(vec![Rect::default(); 2]);
    // Two rects are 32 bytes; three would need 48.
    let bytes = with_length_at(&crop, 69, 3);
    assert!(matches!(
        decode(StandardMetadataType::Crop, &bytes),
        Err(MetadataError::LengthPastEnd { value: 3, needed: 48, available: 32, .. })
    ));
    let bytes = with_length_at(&crop, 69, i64::MAX);
    assert!(matches!(
        decode(StandardMetadataType::Crop, &bytes),
        Err(MetadataError::LengthPastEnd { .. })
    ));

    let (layouts, _) = samples()
        .into_iter()
        .find(|(v, s)| matches!(v, MetadataValue::PlaneLayouts(_)) && *s == 505)
        .unwrap();
    // Two planes fit the count check (72 bytes each at least) but not the bytes that follow.
    let planes = with_length_at(&layouts, 69, 2);
    assert!(matches!(
        decode(StandardMetadataType::PlaneLayouts, &planes),
        Err(MetadataError::Truncated { .. })
    ));
    for count in [7, 1 << 32, i64::MAX] {
        let planes = with_length_at(&layouts, 69, count);
        assert!(
            matches!(
                decode(StandardMetadataType::PlaneLayouts, &planes),
                Err(MetadataError::LengthPastEnd { .. })
            ),
            "plane count {count}"
        );
    }
    // A component is 32 bytes at least (empty name): fourteen need 448 > the 420 left.
    for count in [14, 1 << 32, i64::MAX] {
        let components = with_length_at(&layouts, 77, count);
        assert!(
            matches!(
                decode(StandardMetadataType::PlaneLayouts, &components),
                Err(MetadataError::LengthPastEnd { .. })
            ),
            "component count {count}"
        );
    }
}

#[test]
fn strings_that_are_not_utf8_are_refused() {
    let mut bytes = encode(&MetadataValue::Name("ab".to_owned()));
    bytes[77] = 0xff;
    assert_eq!(
        decode(StandardMetadataType::Name, &bytes),
        Err(MetadataError::NotUtf8 { field: "name" })
    );
    let mut bytes = encode(&MetadataValue::Compression(ExtendableType::compression_none()));
    bytes[77] = 0xc3;
    assert!(matches!(
        decode(StandardMetadataType::Compression, &bytes),
        Err(MetadataError::NotUtf8 { .. })
    ));
}

#[test]
fn vendor_extendable_types_are_kept() {
    let vendor = MetadataValue::Compression(ExtendableType::new("vendor.acme.Compression", 7));
    let bytes = encode(&vendor);
    assert_eq!(bytes.len(), 69 + 8 + 23 + 8);
    assert_eq!(decode(StandardMetadataType::Compression, &bytes), Ok(vendor));
}

#[test]
fn errors_print_what_went_wrong() {
    let err = decode(StandardMetadataType::Width, &encode(&MetadataValue::Height(1))).unwrap_err();
    assert_eq!(err.to_string(), "metadata header has type 4, expected 3");
}
