//! The gralloc4 buffer descriptor carried by V1 `IAllocator::allocate(byte[], int)`.
//!
//! Upstream: `frameworks/native/libs/gralloc/types/Gralloc4.cpp`
//! (`encodeBufferDescriptorInfo` / `decodeBufferDescriptorInfo`), the encoding produced by
//! IMapper 4.0 `createDescriptor` in mappers built on libgralloctypes. Little-endian, no
//! padding, no magic, no version:
//!
//! | Offset | Field | Type |
//! |---|---|---|
//! | 0 | name length `n` | i64, `0 <= n <= remaining` |
//! | 8 | name | `n` bytes, no NUL |
//! | 8+n | width, height, layerCount | u32 each |
//! | 20+n | format | i32 |
//! | 24+n | usage | u64 |
//! | 32+n | reservedSize | u64 |
//!
//! The total is exactly `40 + n` bytes; anything else is refused, as in AOSP.

use thiserror::Error;

use crate::aidl::{BufferDescriptorInfo, BufferUsage, PixelFormat};
use crate::wire::descriptor_name_array;

/// Bytes of a descriptor besides the name.
pub const FIXED_BYTES: usize = 40;

/// A decoded V1 (gralloc4) descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct V1Descriptor {
    /// Debug name bytes (no terminating NUL).
    pub name: Vec<u8>,
    /// Width in pixels (bytes for BLOB).
    pub width: u32,
    /// Height in rows.
    pub height: u32,
    /// Number of layers.
    pub layer_count: u32,
    /// `PixelFormat` wire value.
    pub format: i32,
    /// `BufferUsage` word.
    pub usage: u64,
    /// Bytes of the reserved region.
    pub reserved_size: u64,
}

/// Why a descriptor blob was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Gralloc4Error {
    /// No bytes at all.
    #[error("empty gralloc4 descriptor")]
    Empty,
    /// The blob ends inside a field.
    #[error("gralloc4 descriptor truncated: {field} needs {needed} bytes at offset {offset}, {available} left")]
    Truncated {
        /// Field being read.
        field: &'static str,
        /// Offset of the field in bytes.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left at that offset.
        available: usize,
    },
    /// The name length is negative.
    #[error("gralloc4 descriptor name length {0} is negative")]
    NegativeNameLength(i64),
    /// The name length runs past the end of the blob.
    #[error("gralloc4 descriptor name length {length} exceeds the {available} bytes left")]
    NameLengthPastEnd {
        /// Declared length.
        length: i64,
        /// Bytes after the length field.
        available: usize,
    },
    /// Bytes after the last field.
    #[error("gralloc4 descriptor has {extra} trailing bytes")]
    TrailingBytes {
        /// Bytes left over.
        extra: usize,
    },
}

/// Bounds-checked little-endian reader over the blob.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.offset)
    }

    fn take(&mut self, field: &'static str, needed: usize) -> Result<&'a [u8], Gralloc4Error> {
        let truncated = Gralloc4Error::Truncated {
            field,
            offset: self.offset,
            needed,
            available: self.remaining(),
        };
        let end = self.offset.checked_add(needed).ok_or(truncated.clone())?;
        let slice = self.bytes.get(self.offset..end).ok_or(truncated)?;
        self.offset = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Gralloc4Error> {
        let slice = self.take(field, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, Gralloc4Error> {
        self.array(field).map(u32::from_le_bytes)
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, Gralloc4Error> {
        self.array(field).map(i32::from_le_bytes)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, Gralloc4Error> {
        self.array(field).map(u64::from_le_bytes)
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, Gralloc4Error> {
        self.array(field).map(i64::from_le_bytes)
    }
}

/// Decodes a libgralloctypes descriptor blob.
///
/// # Errors
///
/// [`Gralloc4Error`] for an empty or truncated blob, a negative or oversized name length, or
/// any trailing byte.
pub fn decode_descriptor(bytes: &[u8]) -> Result<V1Descriptor, Gralloc4Error> {
    if bytes.is_empty() {
        return Err(Gralloc4Error::Empty);
    }
    let mut reader = Reader { bytes, offset: 0 };
    let length = reader.i64("name length")?;
    if length < 0 {
        return Err(Gralloc4Error::NegativeNameLength(length));
    }
    let available = reader.remaining();
    let name_len = usize::try_from(length)
        .ok()
        .filter(|&n| n <= available)
        .ok_or(Gralloc4Error::NameLengthPastEnd { length, available })?;
    let name = reader.take("name", name_len)?.to_vec();
    let descriptor = V1Descriptor {
        name,
        width: reader.u32("width")?,
        height: reader.u32("height")?,
        layer_count: reader.u32("layerCount")?,
        format: reader.i32("format")?,
        usage: reader.u64("usage")?,
        reserved_size: reader.u64("reservedSize")?,
    };
    match reader.remaining() {
        0 => Ok(descriptor),
        extra => Err(Gralloc4Error::TrailingBytes { extra }),
    }
}

/// Encodes a descriptor as IMapper 4.0 `createDescriptor` would.
pub fn encode_descriptor(descriptor: &V1Descriptor) -> Vec<u8> {
    let mut out = Vec::with_capacity(FIXED_BYTES.saturating_add(descriptor.name.len()));
    // A Vec never holds more than isize::MAX bytes, so the length fits an i64.
    let length = i64::try_from(descriptor.name.len()).unwrap_or(i64::MAX);
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&descriptor.name);
    out.extend_from_slice(&descriptor.width.to_le_bytes());
    out.extend_from_slice(&descriptor.height.to_le_bytes());
    out.extend_from_slice(&descriptor.layer_count.to_le_bytes());
    out.extend_from_slice(&descriptor.format.to_le_bytes());
    out.extend_from_slice(&descriptor.usage.to_le_bytes());
    out.extend_from_slice(&descriptor.reserved_size.to_le_bytes());
    out
}

impl V1Descriptor {
    /// The equivalent `allocate2` descriptor. The name is cut to 127 bytes and NUL-terminated;
    /// unsigned fields keep their bits, so values above `i32::MAX`/`i64::MAX` arrive negative
    /// and are refused by request validation like any negative `allocate2` field.
    pub fn to_descriptor_info(&self) -> BufferDescriptorInfo {
        BufferDescriptorInfo {
            name: descriptor_name_array(&self.name),
            width: i32::from_ne_bytes(self.width.to_ne_bytes()),
            height: i32::from_ne_bytes(self.height.to_ne_bytes()),
            layerCount: i32::from_ne_bytes(self.layer_count.to_ne_bytes()),
            format: PixelFormat(self.format),
            usage: BufferUsage(i64::from_ne_bytes(self.usage.to_ne_bytes())),
            reservedSize: i64::from_ne_bytes(self.reserved_size.to_ne_bytes()),
            additionalOptions: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> V1Descriptor {
        V1Descriptor {
            name: b"SurfaceView[test]".to_vec(),
            width: 1920,
            height: 1080,
            layer_count: 1,
            format: 0x1,
            usage: 0x1A00 | (1 << 32),
            reserved_size: 256,
        }
    }

    #[test]
    fn encoding_has_the_libgralloctypes_layout() {
        let bytes = encode_descriptor(&sample());
        assert_eq!(bytes.len(), FIXED_BYTES + 17);
        assert_eq!(&bytes[..8], &17i64.to_le_bytes());
        assert_eq!(&bytes[8..25], b"SurfaceView[test]");
        assert_eq!(&bytes[25..29], &1920u32.to_le_bytes());
        assert_eq!(&bytes[37..41], &1i32.to_le_bytes());
        assert_eq!(&bytes[41..49], &(0x1A00u64 | (1 << 32)).to_le_bytes());
        assert_eq!(&bytes[49..57], &256u64.to_le_bytes());
    }

    #[test]
    fn descriptor_round_trips() {
        let descriptor = sample();
        assert_eq!(decode_descriptor(&encode_descriptor(&descriptor)), Ok(descriptor));
    }

    #[test]
    fn empty_name_round_trips() {
        let descriptor = V1Descriptor { name: Vec::new(), ..sample() };
        let bytes = encode_descriptor(&descriptor);
        assert_eq!(bytes.len(), FIXED_BYTES);
        assert_eq!(decode_descriptor(&bytes), Ok(descriptor));
    }

    #[test]
    fn empty_blob_is_rejected() {
        assert_eq!(decode_descriptor(&[]), Err(Gralloc4Error::Empty));
    }

    #[test]
    fn blob_one_byte_short_is_truncated() {
        let bytes = encode_descriptor(&sample());
        let cut = &bytes[..bytes.len() - 1];
        assert_eq!(
            decode_descriptor(cut),
            Err(Gralloc4Error::Truncated {
                field: "reservedSize",
                offset: 49,
                needed: 8,
                available: 7
            })
        );
    }

    #[test]
    fn every_shorter_prefix_is_rejected() {
        let bytes = encode_descriptor(&sample());
        for len in 1..bytes.len() {
            assert!(decode_descriptor(&bytes[..len]).is_err(), "prefix of {len} bytes");
        }
    }

    #[test]
    fn trailing_byte_is_rejected() {
        let mut bytes = encode_descriptor(&sample());
        bytes.push(0);
        assert_eq!(decode_descriptor(&bytes), Err(Gralloc4Error::TrailingBytes { extra: 1 }));
    }

    #[test]
    fn negative_name_length_is_rejected() {
        let mut bytes = encode_descriptor(&sample());
        bytes[..8].copy_from_slice(&(-1i64).to_le_bytes());
        assert_eq!(decode_descriptor(&bytes), Err(Gralloc4Error::NegativeNameLength(-1)));
    }

    #[test]
    fn name_length_past_end_is_rejected() {
        let mut bytes = encode_descriptor(&sample());
        let available = bytes.len() - 8;
        let length = i64::try_from(available + 1).unwrap();
        bytes[..8].copy_from_slice(&length.to_le_bytes());
        assert_eq!(
            decode_descriptor(&bytes),
            Err(Gralloc4Error::NameLengthPastEnd { length, available })
        );
        bytes[..8].copy_from_slice(&i64::MAX.to_le_bytes());
        assert_eq!(
            decode_descriptor(&bytes),
            Err(Gralloc4Error::NameLengthPastEnd { length: i64::MAX, available })
        );
    }

    #[test]
    fn short_length_field_is_truncated() {
        assert_eq!(
            decode_descriptor(&[1, 2, 3]),
            Err(Gralloc4Error::Truncated {
                field: "name length",
                offset: 0,
                needed: 8,
                available: 3
            })
        );
    }

    #[test]
    fn to_descriptor_info_copies_fields_and_keeps_bits() {
        let info = V1Descriptor { width: u32::MAX, ..sample() }.to_descriptor_info();
        assert_eq!(&info.name[..17], b"SurfaceView[test]");
        assert!(info.name[17..].iter().all(|&b| b == 0));
        assert_eq!(info.width, -1);
        assert_eq!(info.height, 1080);
        assert_eq!(info.layerCount, 1);
        assert_eq!(info.format, PixelFormat::RGBA_8888);
        assert_eq!(info.usage.0, 0x1_0000_1A00);
        assert_eq!(info.reservedSize, 256);
        assert!(info.additionalOptions.is_empty());
    }

    #[test]
    fn long_names_are_cut_to_127_bytes_with_a_nul() {
        let info = V1Descriptor { name: vec![b'x'; 300], ..sample() }.to_descriptor_info();
        assert!(info.name[..127].iter().all(|&b| b == b'x'));
        assert_eq!(info.name[127], 0);
    }
}
