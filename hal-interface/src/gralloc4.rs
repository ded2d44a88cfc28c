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
