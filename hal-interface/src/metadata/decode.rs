//! Strict decoder of standard metadata values, the inverse of [`super::encode`].
//!
//! Accepts exactly what the encoder produces: the header must name the standard namespace
//! and the expected type, lengths and counts must be non-negative and fit in the bytes that
//! are left (checked before anything is allocated), strings must be UTF-8, and nothing may
//! follow the payload. Zero bytes are an unset value for the optional types and an error for
//! the others. Any input gives a value or an error, never a panic.

use thiserror::Error;

use super::types::{
    Cta861_3, ExtendableType, GrallocPlaneLayout, GrallocPlaneLayoutComponent, MetadataValue, Rect,
    Smpte2086, StandardMetadataType, XyColor, STANDARD_METADATA_TYPE_NAME,
};

/// Why encoded metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    /// The bytes end inside a field.
    #[error(
        "metadata truncated: {field} needs {needed} bytes at offset {offset}, {available} left"
    )]
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
    /// A length or count is negative.
    #[error("metadata {field} {value} is negative")]
    NegativeLength {
        /// Field being read.
        field: &'static str,
        /// The value found.
        value: i64,
    },
    /// A length or count needs more bytes than are left.
    #[error("metadata {field} {value} needs at least {needed} bytes, {available} left")]
    LengthPastEnd {
        /// Field being read.
        field: &'static str,
        /// The value found.
        value: i64,
        /// Smallest number of bytes `value` elements take (saturated).
        needed: u64,
        /// Bytes left after the field.
        available: usize,
    },
    /// The header's namespace is not `android.hardware.graphics.common.StandardMetadataType`.
    #[error("metadata header does not name the standard metadata types")]
    WrongHeaderName,
    /// The header's type is not the one asked for.
    #[error("metadata header has type {found}, expected {expected}")]
    WrongType {
        /// Value of the type asked for.
        expected: i64,
        /// Value in the header.
        found: i64,
    },
    /// A string is not UTF-8.
    #[error("metadata {field} is not UTF-8")]
    NotUtf8 {
        /// Field being read.
        field: &'static str,
    },
    /// Bytes after the value.
    #[error("metadata has {extra} trailing bytes")]
    TrailingBytes {
        /// Bytes left over.
        extra: usize,
    },
}

/// Fewest bytes one encoded `ExtendableType` takes (empty name).
const MIN_EXTENDABLE_BYTES: u64 = 16;
/// Fewest bytes one encoded plane component takes.
const MIN_COMPONENT_BYTES: u64 = MIN_EXTENDABLE_BYTES + 16;
/// Fewest bytes one encoded plane takes (no components).
const MIN_PLANE_BYTES: u64 = 8 + 8 * 8;
/// Bytes of one encoded `Rect`.
const RECT_BYTES: u64 = 16;

/// Decodes `bytes` as a value of type `t`.
///
/// # Errors
/// A [`MetadataError`] for anything [`super::encode`] would not have produced for `t`.
pub fn decode(t: StandardMetadataType, bytes: &[u8]) -> Result<MetadataValue, MetadataError> {
    use StandardMetadataType as T;
    if bytes.is_empty() {
        match t {
            T::Smpte2086 => return Ok(MetadataValue::Smpte2086(None)),
            T::Cta861_3 => return Ok(MetadataValue::Cta861_3(None)),
            T::Smpte2094_40 => return Ok(MetadataValue::Smpte2094_40(None)),
            T::Smpte2094_10 => return Ok(MetadataValue::Smpte2094_10(None)),
            _ => {}
        }
    }
    let mut r = Reader { bytes, pos: 0 };
    r.header(t)?;
    let value = match t {
        T::BufferId => MetadataValue::BufferId(r.u64("buffer id")?),
        T::Name => MetadataValue::Name(r.string("name")?),
        T::Width => MetadataValue::Width(r.u64("width")?),
        T::Height => MetadataValue::Height(r.u64("height")?),
        T::LayerCount => MetadataValue::LayerCount(r.u64("layer count")?),
        T::PixelFormatRequested => MetadataValue::PixelFormatRequested(r.i32("pixel format")?),
        T::PixelFormatFourcc => MetadataValue::PixelFormatFourcc(r.u32("fourcc")?),
        T::PixelFormatModifier => MetadataValue::PixelFormatModifier(r.u64("modifier")?),
        T::Usage => MetadataValue::Usage(r.u64("usage")?),
        T::AllocationSize => MetadataValue::AllocationSize(r.u64("allocation size")?),
        T::ProtectedContent => MetadataValue::ProtectedContent(r.u64("protected content")?),
        T::Compression => MetadataValue::Compression(r.extendable("compression")?),
        T::Interlaced => MetadataValue::Interlaced(r.extendable("interlaced")?),
        T::ChromaSiting => MetadataValue::ChromaSiting(r.extendable("chroma siting")?),
        T::PlaneLayouts => MetadataValue::PlaneLayouts(r.plane_layouts()?),
        T::Crop => MetadataValue::Crop(r.rects()?),
        T::Dataspace => MetadataValue::Dataspace(r.i32("dataspace")?),
        T::BlendMode => MetadataValue::BlendMode(r.i32("blend mode")?),
        T::Smpte2086 => MetadataValue::Smpte2086(Some(r.smpte2086()?)),
        T::Cta861_3 => MetadataValue::Cta861_3(Some(r.cta861_3()?)),
        T::Smpte2094_40 => MetadataValue::Smpte2094_40(Some(r.byte_vec("SMPTE2094-40")?)),
        T::Smpte2094_10 => MetadataValue::Smpte2094_10(Some(r.byte_vec("SMPTE2094-10")?)),
        T::Stride => MetadataValue::Stride(r.u32("stride")?),
    };
    let extra = r.remaining();
    if extra != 0 {
        return Err(MetadataError::TrailingBytes { extra });
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], MetadataError> {
        let slice = self.pos.checked_add(n).and_then(|end| self.bytes.get(self.pos..end));
        let Some(slice) = slice else {
            return Err(MetadataError::Truncated {
                field,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        };
        self.pos = self.pos.saturating_add(n);
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], MetadataError> {
        let slice = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, MetadataError> {
        self.array(field).map(i64::from_le_bytes)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, MetadataError> {
        self.array(field).map(u64::from_le_bytes)
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, MetadataError> {
        self.array(field).map(i32::from_le_bytes)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, MetadataError> {
        self.array(field).map(u32::from_le_bytes)
    }

    fn f32(&mut self, field: &'static str) -> Result<f32, MetadataError> {
        self.array(field).map(f32::from_le_bytes)
    }

    /// An `i64` count of elements of at least `min_each` bytes, checked against what is left.
    fn count(&mut self, field: &'static str, min_each: u64) -> Result<usize, MetadataError> {
        let value = self.i64(field)?;
        let count =
            u64::try_from(value).map_err(|_| MetadataError::NegativeLength { field, value })?;
        let needed = count.saturating_mul(min_each);
        let available = self.remaining();
        let fits = u64::try_from(available).is_ok_and(|a| needed <= a);
        if !fits {
            return Err(MetadataError::LengthPastEnd { field, value, needed, available });
        }
        usize::try_from(count).map_err(|_| MetadataError::LengthPastEnd {
            field,
            value,
            needed,
            available,
        })
    }

    fn byte_slice(&mut self, field: &'static str) -> Result<&'a [u8], MetadataError> {
        let len = self.count(field, 1)?;
        self.take(len, field)
    }

    fn byte_vec(&mut self, field: &'static str) -> Result<Vec<u8>, MetadataError> {
        self.byte_slice(field).map(<[u8]>::to_vec)
    }

    fn string(&mut self, field: &'static str) -> Result<String, MetadataError> {
        let bytes = self.byte_slice(field)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| MetadataError::NotUtf8 { field })
    }

    fn header(&mut self, t: StandardMetadataType) -> Result<(), MetadataError> {
        let name = self.byte_slice("header name")?;
        if name != STANDARD_METADATA_TYPE_NAME.as_bytes() {
            return Err(MetadataError::WrongHeaderName);
        }
        let found = self.i64("header type")?;
        if found != t.value() {
            return Err(MetadataError::WrongType { expected: t.value(), found });
        }
        Ok(())
    }

    fn extendable(&mut self, field: &'static str) -> Result<ExtendableType, MetadataError> {
        let name = self.string(field)?;
        let value = self.i64(field)?;
        Ok(ExtendableType { name, value })
    }

    fn plane_layouts(&mut self) -> Result<Vec<GrallocPlaneLayout>, MetadataError> {
        let planes = self.count("plane count", MIN_PLANE_BYTES)?;
        let mut out = Vec::with_capacity(planes);
        for _ in 0..planes {
            let n = self.count("component count", MIN_COMPONENT_BYTES)?;
            let mut components = Vec::with_capacity(n);
            for _ in 0..n {
                components.push(GrallocPlaneLayoutComponent {
                    component_type: self.extendable("component type")?,
                    offset_in_bits: self.i64("component offset")?,
                    size_in_bits: self.i64("component size")?,
                });
            }
            out.push(GrallocPlaneLayout {
                components,
                offset_in_bytes: self.i64("plane offset")?,
                sample_increment_in_bits: self.i64("sample increment")?,
                stride_in_bytes: self.i64("plane stride")?,
                width_in_samples: self.i64("width in samples")?,
                height_in_samples: self.i64("height in samples")?,
                total_size_in_bytes: self.i64("plane size")?,
                horizontal_subsampling: self.i64("horizontal subsampling")?,
                vertical_subsampling: self.i64("vertical subsampling")?,
            });
        }
        Ok(out)
    }

    fn rects(&mut self) -> Result<Vec<Rect>, MetadataError> {
        let n = self.count("rect count", RECT_BYTES)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(Rect {
                left: self.i32("rect left")?,
                top: self.i32("rect top")?,
                right: self.i32("rect right")?,
                bottom: self.i32("rect bottom")?,
            });
        }
        Ok(out)
    }

    fn xy(&mut self, field: &'static str) -> Result<XyColor, MetadataError> {
        Ok(XyColor { x: self.f32(field)?, y: self.f32(field)? })
    }

    fn smpte2086(&mut self) -> Result<Smpte2086, MetadataError> {
        Ok(Smpte2086 {
            primary_red: self.xy("SMPTE2086 red primary")?,
            primary_green: self.xy("SMPTE2086 green primary")?,
            primary_blue: self.xy("SMPTE2086 blue primary")?,
            white_point: self.xy("SMPTE2086 white point")?,
            max_luminance: self.f32("SMPTE2086 max luminance")?,
            min_luminance: self.f32("SMPTE2086 min luminance")?,
        })
    }

    fn cta861_3(&mut self) -> Result<Cta861_3, MetadataError> {
        Ok(Cta861_3 {
            max_content_light_level: self.f32("CTA861.3 max content light level")?,
            max_frame_average_light_level: self.f32("CTA861.3 max frame-average light level")?,
        })
    }
}
