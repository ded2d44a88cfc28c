//! PLANE_LAYOUTS and the other getters that need only the buffer handle.
//!
//! The handle carries each plane's offset, stride, size and subsampling; the components
//! inside a plane follow from the format, as this table (bits within one sample) says:
//!
//! | Format | Planes: components (offset/size in bits), sample increment in bits |
//! |---|---|
//! | RGBA_8888 | R 0/8, G 8/8, B 16/8, A 24/8; 32 |
//! | RGBX_8888 | R 0/8, G 8/8, B 16/8; 32 |
//! | BGRA_8888 | B 0/8, G 8/8, R 16/8, A 24/8; 32 |
//! | RGBA_1010102 | R 0/10, G 10/10, B 20/10, A 30/2; 32 |
//! | RGBA_FP16 | R 0/16, G 16/16, B 32/16, A 48/16; 64 |
//! | RGBA_10101010 | R 6/10, G 22/10, B 38/10, A 54/10; 64 |
//! | RGB_888 | R 0/8, G 8/8, B 16/8; 24 |
//! | RGB_565 | B 0/5, G 5/6, R 11/5; 16 |
//! | RG_1616_UINT | R 0/16, G 16/16; 32 |
//! | R_16_UINT | R 0/16; 16 |
//! | R_8 | R 0/8; 8 |
//! | Y8, Y16 | Y 0/8; 8 and Y 0/16; 16 |
//! | RAW16 | RAW 0/16; 16 |
//! | RAW10, RAW12, RAW_OPAQUE | RAW 0/-1; 0 (bit-packed or opaque: no fixed sample) |
//! | BLOB | RAW 0/8; 8 |
//! | YCBCR_422_I (YUY2) | Y 0/8, Cb 8/8, Cr 24/8; 0 (luma every 16 bits, chroma every 32) |
//! | YCBCR_420_888 (NV12), YCBCR_422_SP | Y 0/8; 8 · Cb 0/8, Cr 8/8; 16 |
//! | YCRCB_420_SP (NV21) | Y 0/8; 8 · Cr 0/8, Cb 8/8; 16 |
//! | YCBCR_P010 | Y 6/10; 16 · Cb 6/10, Cr 22/10; 32 |
//! | YV12 | Y 0/8; 8 · Cr 0/8; 8 · Cb 0/8; 8 |
//! | HSV_888 | none; 24 |
//! | DEPTH_16, DEPTH_24, DEPTH_24_STENCIL_8, DEPTH_32F, DEPTH_32F_STENCIL_8, STENCIL_8 | none; 16, 32, 32, 32, 64, 8 |
//!
//! `PlaneLayoutComponentType` has no depth, stencil or HSV values, so those planes list no
//! components rather than a wrong one. IMPLEMENTATION_DEFINED is described as the format the
//! service laid it out as, recognised from the handle's planes.

use crate::format::Format;
use crate::handle::{BufferHandle, PlaneComponent};
use crate::usage::bits;

use super::fourcc::{fourcc, DRM_FORMAT_INVALID, DRM_FORMAT_MOD_LINEAR};
use super::types::{
    ExtendableType, GrallocPlaneLayout, GrallocPlaneLayoutComponent, MetadataValue,
    PlaneLayoutComponentType, Rect, StandardMetadataType,
};

/// One plane of the table above.
pub(super) struct PlaneSpec {
    pub(super) components: &'static [(PlaneLayoutComponentType, i64, i64)],
    pub(super) sample_increment_in_bits: i64,
}

/// A [`PlaneSpec`] literal (a literal, so that `&[...]` of them is promoted to `'static`).
macro_rules! spec {
    ($components:expr, $increment:expr) => {
        PlaneSpec { components: &$components, sample_increment_in_bits: $increment }
    };
}

/// The component table of a layout format.
pub(super) fn plane_specs(format: Format) -> &'static [PlaneSpec] {
    use PlaneLayoutComponentType::{Cb, Cr, Raw, A, B, G, R, Y};
    const Y8: PlaneSpec = spec!([(Y, 0, 8)], 8);
    const CBCR8: PlaneSpec = spec!([(Cb, 0, 8), (Cr, 8, 8)], 16);
    match format {
        Format::Rgba8888 => &[spec!([(R, 0, 8), (G, 8, 8), (B, 16, 8), (A, 24, 8)], 32)],
        Format::Rgbx8888 => &[spec!([(R, 0, 8), (G, 8, 8), (B, 16, 8)], 32)],
        Format::Bgra8888 => &[spec!([(B, 0, 8), (G, 8, 8), (R, 16, 8), (A, 24, 8)], 32)],
        Format::Rgba1010102 => &[spec!([(R, 0, 10), (G, 10, 10), (B, 20, 10), (A, 30, 2)], 32)],
        Format::RgbaFp16 => &[spec!([(R, 0, 16), (G, 16, 16), (B, 32, 16), (A, 48, 16)], 64)],
        Format::Rgba10101010 => &[spec!([(R, 6, 10), (G, 22, 10), (B, 38, 10), (A, 54, 10)], 64)],
        Format::Rgb888 => &[spec!([(R, 0, 8), (G, 8, 8), (B, 16, 8)], 24)],
        Format::Rgb565 => &[spec!([(B, 0, 5), (G, 5, 6), (R, 11, 5)], 16)],
        Format::Rg1616Uint => &[spec!([(R, 0, 16), (G, 16, 16)], 32)],
        Format::R16Uint => &[spec!([(R, 0, 16)], 16)],
        Format::R8 => &[spec!([(R, 0, 8)], 8)],
        Format::Y8 => &[Y8],
        Format::Y16 => &[spec!([(Y, 0, 16)], 16)],
        Format::Raw16 => &[spec!([(Raw, 0, 16)], 16)],
        Format::Raw10 | Format::Raw12 | Format::RawOpaque => &[spec!([(Raw, 0, -1)], 0)],
        Format::Blob => &[spec!([(Raw, 0, 8)], 8)],
        Format::Ycbcr422I => &[spec!([(Y, 0, 8), (Cb, 8, 8), (Cr, 24, 8)], 0)],
        Format::Ycbcr420_888 | Format::Ycbcr422Sp => &[Y8, CBCR8],
        Format::Ycrcb420Sp => &[Y8, spec!([(Cr, 0, 8), (Cb, 8, 8)], 16)],
        Format::YcbcrP010 => &[spec!([(Y, 6, 10)], 16), spec!([(Cb, 6, 10), (Cr, 22, 10)], 32)],
        Format::Yv12 => &[Y8, spec!([(Cr, 0, 8)], 8), spec!([(Cb, 0, 8)], 8)],
        Format::Hsv888 => &[spec!([], 24)],
        Format::Depth16 => &[spec!([], 16)],
        Format::Depth24 | Format::Depth24Stencil8 | Format::Depth32f => &[spec!([], 32)],
        Format::Depth32fStencil8 => &[spec!([], 64)],
        Format::Stencil8 => &[spec!([], 8)],
        Format::Unspecified | Format::ImplementationDefined => &[],
    }
}

/// The format whose layout the buffer has: the requested one, or for IMPLEMENTATION_DEFINED
/// the one the service chose (RGBA_8888 or the NV12 YCBCR_420_888), told apart by the
/// handle's first plane. `None` for UNSPECIFIED, unknown values and unrecognised planes.
pub fn layout_format(handle: &BufferHandle) -> Option<Format> {
    match Format::from_raw(handle.format)? {
        Format::Unspecified => None,
        Format::ImplementationDefined => match handle.planes.first()?.component {
            PlaneComponent::Rgba => Some(Format::Rgba8888),
            PlaneComponent::Y => Some(Format::Ycbcr420_888),
            _ => None,
        },
        other => Some(other),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The PLANE_LAYOUTS of a buffer: one entry per handle plane (of layer 0), with the
/// components of its format. A plane the table does not describe (unknown format, or more
/// planes than the format has) is listed without components and with increment 0.
pub fn plane_layouts(handle: &BufferHandle) -> Vec<GrallocPlaneLayout> {
    let specs = layout_format(handle).map_or(&[][..], plane_specs);
    handle
        .planes
        .iter()
        .enumerate()
        .map(|(i, plane)| {
            let spec = specs.get(i);
            let components = spec
                .map(|s| {
                    s.components
                        .iter()
                        .map(|&(c, offset, size)| {
                            GrallocPlaneLayoutComponent::standard(c, offset, size)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let h_sub = plane.h_subsampling.max(1);
            let v_sub = plane.v_subsampling.max(1);
            GrallocPlaneLayout {
                components,
                offset_in_bytes: to_i64(plane.offset),
                sample_increment_in_bits: spec.map_or(0, |s| s.sample_increment_in_bits),
                stride_in_bytes: i64::from(plane.stride_bytes),
                // Odd sizes: a subsampled plane holds ceil(w / h_sub) x ceil(h / v_sub) samples.
                width_in_samples: i64::from(handle.width.div_ceil(h_sub)),
                height_in_samples: i64::from(handle.height.div_ceil(v_sub)),
                total_size_in_bytes: to_i64(plane.size),
                horizontal_subsampling: i64::from(plane.h_subsampling),
                vertical_subsampling: i64::from(plane.v_subsampling),
            }
        })
        .collect()
}

impl MetadataValue {
    /// The value of `t` for the buffer `handle` describes, for the types the handle alone
    /// determines; `None` for NAME, DATASPACE, BLEND_MODE and the HDR types, which live in
    /// the buffer's shared metadata region.
    pub fn from_handle(handle: &BufferHandle, t: StandardMetadataType) -> Option<MetadataValue> {
        use StandardMetadataType as T;
        let value = match t {
            T::BufferId => Self::BufferId(handle.buffer_id),
            T::Width => Self::Width(u64::from(handle.width)),
            T::Height => Self::Height(u64::from(handle.height)),
            T::LayerCount => Self::LayerCount(u64::from(handle.layers)),
            T::PixelFormatRequested => Self::PixelFormatRequested(handle.format),
            T::PixelFormatFourcc => Self::PixelFormatFourcc(
                layout_format(handle).and_then(|f| fourcc(f.raw())).unwrap_or(DRM_FORMAT_INVALID),
            ),
            T::PixelFormatModifier => Self::PixelFormatModifier(DRM_FORMAT_MOD_LINEAR),
            T::Usage => Self::Usage(handle.usage),
            T::AllocationSize => Self::AllocationSize(handle.alloc_size),
            T::ProtectedContent => {
                Self::ProtectedContent(u64::from(handle.usage & bits::PROTECTED != 0))
            }
            T::Compression => Self::Compression(ExtendableType::compression_none()),
            T::Interlaced => Self::Interlaced(ExtendableType::interlaced_none()),
            T::ChromaSiting => Self::ChromaSiting(ExtendableType::chroma_siting_none()),
            T::PlaneLayouts => Self::PlaneLayouts(plane_layouts(handle)),
            T::Crop => Self::Crop(vec![Rect {
                left: 0,
                top: 0,
                right: i32::try_from(handle.width).unwrap_or(i32::MAX),
                bottom: i32::try_from(handle.height).unwrap_or(i32::MAX),
            }]),
            T::Stride => Self::Stride(handle.stride_pixels),
            T::Name
            | T::Dataspace
            | T::BlendMode
            | T::Smpte2086
            | T::Cta861_3
            | T::Smpte2094_40
            | T::Smpte2094_10 => return None,
        };
        Some(value)
    }
}
