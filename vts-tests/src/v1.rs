//! The V1 descriptor bytes that `allocate(byte[], count)` receives, written here from the
//! AOSP libgralloctypes layout (`encodeBufferDescriptorInfo`) rather than taken from the
//! service's own codec, so a bug shared by encoder and decoder cannot hide.
//!
//! Layout, little-endian, no padding: name length `i64`, name bytes (no NUL), width `u32`,
//! height `u32`, layerCount `u32`, format `i32`, usage `u64`, reservedSize `u64`.

/// Bytes besides the name.
pub const FIXED_BYTES: usize = 40;

/// The fields of a V1 descriptor, raw as the wire carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Fields {
    /// Name bytes.
    pub name: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in rows.
    pub height: u32,
    /// Layer count.
    pub layers: u32,
    /// `PixelFormat` wire value.
    pub format: i32,
    /// Usage word.
    pub usage: u64,
    /// Reserved region bytes.
    pub reserved_size: u64,
}

impl V1Fields {
    /// The mapper 4.0 VTS default: "dummy", 64×64, 1 layer, RGBA_8888, CPU read/write often.
    pub fn vts_default() -> Self {
        Self {
            name: b"dummy".to_vec(),
            width: 64,
            height: 64,
            layers: 1,
            format: 1,
            usage: crate::desc::CPU_RW,
            reserved_size: 0,
        }
    }

    /// The encoded bytes, with the name length field as given by the name.
    pub fn encode(&self) -> Vec<u8> {
        let length = i64::try_from(self.name.len()).unwrap_or(i64::MAX);
        self.encode_with_name_length(length)
    }

    /// The encoded bytes with an arbitrary (possibly lying) name length field.
    pub fn encode_with_name_length(&self, length: i64) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_BYTES.saturating_add(self.name.len()));
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&self.name);
        out.extend_from_slice(&self.width.to_le_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.layers.to_le_bytes());
        out.extend_from_slice(&self.format.to_le_bytes());
        out.extend_from_slice(&self.usage.to_le_bytes());
        out.extend_from_slice(&self.reserved_size.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use hal_interface::gralloc4::{decode_descriptor, encode_descriptor, V1Descriptor};

    use super::*;

    #[test]
    fn encoding_matches_the_reference_layout_byte_for_byte() {
        let fields = V1Fields { name: b"ab".to_vec(), ..V1Fields::vts_default() };
        let bytes = fields.encode();
        assert_eq!(bytes.len(), FIXED_BYTES + 2);
        assert_eq!(&bytes[..8], &2i64.to_le_bytes());
        assert_eq!(&bytes[8..10], b"ab");
        assert_eq!(&bytes[10..14], &64u32.to_le_bytes());
        assert_eq!(&bytes[22..26], &1i32.to_le_bytes());
        assert_eq!(&bytes[26..34], &0x33u64.to_le_bytes());
    }

    #[test]
    fn agrees_with_the_hal_interface_codec() {
        let fields = V1Fields::vts_default();
        let theirs = V1Descriptor {
            name: fields.name.clone(),
            width: fields.width,
            height: fields.height,
            layer_count: fields.layers,
            format: fields.format,
            usage: fields.usage,
            reserved_size: fields.reserved_size,
        };
        assert_eq!(fields.encode(), encode_descriptor(&theirs));
        assert_eq!(decode_descriptor(&fields.encode()), Ok(theirs));
    }
}
