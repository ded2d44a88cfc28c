//! The gralloc4 standard metadata codec, shared by the mapper and `gralloc-vts`.
//!
//! Upstream: `frameworks/native/libs/gralloc/types/Gralloc4.cpp` (the encoding every IMapper
//! 4 and 5 client decodes) and `android/hardware/graphics/common/StandardMetadataType.aidl`.
//! Every encoded value is little-endian: a header (the string
//! `android.hardware.graphics.common.StandardMetadataType` as `i64` length plus bytes, then
//! the `i64` type, 69 bytes) and the payload. An unset optional value (SMPTE2086, CTA861_3,
//! SMPTE2094_40, SMPTE2094_10) is 0 bytes with no header. Strings are `i64` length plus
//! bytes, no NUL; `ExtendableType` is a string and an `i64`.
//!
//! | Type | Payload | Bytes |
//! |---|---|---|
//! | BUFFER_ID, WIDTH, HEIGHT, LAYER_COUNT, PIXEL_FORMAT_MODIFIER, USAGE, ALLOCATION_SIZE, PROTECTED_CONTENT | u64 | 77 |
//! | NAME | string | 77 + length |
//! | PIXEL_FORMAT_REQUESTED, DATASPACE, BLEND_MODE | i32 | 73 |
//! | PIXEL_FORMAT_FOURCC, STRIDE | u32 | 73 |
//! | COMPRESSION, INTERLACED, CHROMA_SITING | ExtendableType | 129, 128, 130 for the standard names |
//! | PLANE_LAYOUTS | `i64` planes; each: `i64` components, each {ExtendableType, `i64` offsetInBits, `i64` sizeInBits}; then `i64` offsetInBytes, sampleIncrementInBits, strideInBytes, widthInSamples, heightInSamples, totalSizeInBytes, horizontalSubsampling, verticalSubsampling | 505 for RGBA_8888 |
//! | CROP | `i64` count, each rect 4 × i32 (left, top, right, bottom) | 93 for one |
//! | SMPTE2086 | 10 × f32 (r, g, b primaries and white point as x, y; max, min luminance) | 109 or 0 |
//! | CTA861_3 | 2 × f32 | 77 or 0 |
//! | SMPTE2094_40, SMPTE2094_10 | `i64` length + bytes | 77 + length, or 0 |

mod decode;
mod encode;
mod fourcc;
mod planes;
mod types;

pub use decode::{decode, MetadataError};
pub use encode::{encode, HEADER_BYTES};
pub use fourcc::{
    fourcc, fourcc_code, DRM_FORMAT_ABGR8888, DRM_FORMAT_INVALID, DRM_FORMAT_MOD_LINEAR,
    DRM_FORMAT_YVU420,
};
pub use planes::{layout_format, plane_layouts};
pub use types::{
    Cta861_3, ExtendableType, GrallocPlaneLayout, GrallocPlaneLayoutComponent, MetadataValue,
    PlaneLayoutComponentType, Rect, Smpte2086, StandardMetadataType, XyColor, CHROMA_SITING_NAME,
    COMPRESSION_NAME, INTERLACED_NAME, PLANE_LAYOUT_COMPONENT_TYPE_NAME,
    STANDARD_METADATA_TYPE_NAME,
};

#[cfg(test)]
mod tests;
