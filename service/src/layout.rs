//! Buffer layout: format geometry plus board alignment → stride, planes and sizes.
//!
//! Pure arithmetic, no I/O. Every operation on request-derived numbers is checked (`u64`,
//! `checked_*`); an overflow is [`LayoutError::Overflow`] (UNSUPPORTED on the wire), so a huge
//! request can never turn into a small buffer described as a large one.
//!
//! # Format decisions
//!
//! Upstream: `android/hardware/graphics/common/PixelFormat.aidl` (V5) and the format notes of
//! `system/graphics.h`. Where the standard leaves the layout to the allocator, this module
//! decides as follows:
//!
//! | Format | Layout |
//! |---|---|
//! | RGBA_8888, RGBX_8888, BGRA_8888, RGBA_1010102, RG_1616_UINT | 4 B/px |
//! | RGB_888, HSV_888 | 3 B/px |
//! | RGB_565, R_16_UINT, DEPTH_16 | 2 B/px |
//! | RAW16, Y16 | 2 B/px, stride a multiple of 16 px |
//! | Y8 | 1 B/px, stride a multiple of 16 px |
//! | R_8, STENCIL_8 | 1 B/px |
//! | RGBA_FP16 | 8 B/px |
//! | RGBA_10101010 | 8 B/px: four 16-bit words, each component in the upper 10 bits |
//! | DEPTH_24 | 4 B/px: 24-bit depth packed in a 32-bit word (8 bits unused) |
//! | DEPTH_24_STENCIL_8, DEPTH_32F | 4 B/px |
//! | DEPTH_32F_STENCIL_8 | 8 B/px: 32-bit depth, 8-bit stencil, 24 bits unused |
//! | YCBCR_422_I (YUY2) | 2 B/px interleaved Y0 Cb Y1 Cr; width even |
//! | YV12 | Y, Cr, Cb planes; stride a multiple of 16 px; `c_stride = align(stride / 2, 16)`; width and height even |
//! | YCBCR_420_888 | NV12: Y plane, then one interleaved CbCr plane with the luma stride in bytes; width and height even |
//! | YCRCB_420_SP (NV21) | Y plane, then interleaved CrCb (`cb == cr + 1`); width and height even |
//! | YCBCR_422_SP (NV16) | Y plane, then interleaved CbCr with `height` rows; width even |
//! | YCBCR_P010 | as NV12 with 16-bit samples (10 significant bits at the top); width and height even |
//! | RAW10, RAW12 | 10 or 12 bits/px packed; width a multiple of 4; stride reported **in bytes** |
//! | RAW_OPAQUE | 2 B/px, stride reported **in bytes** (its layout is the allocator's choice) |
//! | BLOB | `width` bytes; height 1 and one layer; the board's stride alignment does not apply |
//! | IMPLEMENTATION_DEFINED | without CPU usage: the YCBCR_420_888 layout when a video, camera or image-encoder bit is set, else RGBA_8888; with CPU usage: unsupported (the board schema has no mapping for it) |
//! | UNSPECIFIED | no layout (a malformed descriptor, rejected before this module) |
//!
//! YUV layouts (including Y8 and Y16) take exactly one layer. The board's row alignment
//! (bytes and pixels) applies to the first plane on top of the format's own stride rule, as a
//! least common multiple; later planes derive their stride from it (YV12 keeps the exact VTS
//! chroma formula). The board's size alignment applies to each layer; layers are laid out back
//! to back. A reserved region follows the image at the next page boundary and the total is a
//! whole number of pages.

#![deny(clippy::arithmetic_side_effects)]

use std::num::NonZeroU64;
use std::sync::OnceLock;

use hal_interface::usage::bits;
use hal_interface::{Format, Usage};

pub use crate::error::LayoutError;

/// Board row and size alignment applied on top of the format's own rules. A value of 0 or 1
/// means "no constraint".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Align {
    /// Row pitch of the first plane must be a multiple of this many bytes.
    pub stride_bytes: u64,
    /// Row pitch of the first plane must be a multiple of this many pixels.
    pub stride_pixels: u64,
    /// Each layer's size is rounded up to a multiple of this many bytes.
    pub size_bytes: u64,
}

impl Align {
    /// No board constraint.
    pub const NONE: Align = Align { stride_bytes: 1, stride_pixels: 1, size_bytes: 1 };
}

/// The image part of a validated request: what the layout depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image {
    /// The requested format.
    pub format: Format,
    /// The usage word (only IMPLEMENTATION_DEFINED looks at it).
    pub usage: Usage,
    /// Pixels per row (bytes for BLOB).
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Image layers.
    pub layers: u32,
    /// Bytes of the reserved region (mapper `getReservedRegion`).
    pub reserved_size: u64,
}

/// What a component of a plane holds (mapper `PlaneLayoutComponentType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    /// Luma.
    Y,
    /// Blue-difference chroma.
    Cb,
    /// Red-difference chroma.
    Cr,
    /// Red.
    R,
    /// Green.
    G,
    /// Blue.
    B,
    /// Alpha.
    A,
    /// Raw sensor data.
    Raw,
}

/// One component inside a plane's sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Component {
    /// What the bits hold.
    pub kind: ComponentKind,
    /// Offset of the component in bits from the start of the sample.
    pub offset_bits: u16,
    /// Width of the component in bits.
    pub size_bits: u16,
}

const fn comp(kind: ComponentKind, offset_bits: u16, size_bits: u16) -> Component {
    Component { kind, offset_bits, size_bits }
}

use ComponentKind::{Cb, Cr, Raw, A, B, G, R, Y};

const RGBA_8: &[Component] = &[comp(R, 0, 8), comp(G, 8, 8), comp(B, 16, 8), comp(A, 24, 8)];
const RGBX_8: &[Component] = &[comp(R, 0, 8), comp(G, 8, 8), comp(B, 16, 8)];
const BGRA_8: &[Component] = &[comp(B, 0, 8), comp(G, 8, 8), comp(R, 16, 8), comp(A, 24, 8)];
const RGB_8: &[Component] = &[comp(R, 0, 8), comp(G, 8, 8), comp(B, 16, 8)];
const RGB_565: &[Component] = &[comp(B, 0, 5), comp(G, 5, 6), comp(R, 11, 5)];
const RGBA_FP16: &[Component] =
    &[comp(R, 0, 16), comp(G, 16, 16), comp(B, 32, 16), comp(A, 48, 16)];
const RGBA_1010102: &[Component] =
    &[comp(R, 0, 10), comp(G, 10, 10), comp(B, 20, 10), comp(A, 30, 2)];
const RGBA_10101010: &[Component] =
    &[comp(R, 6, 10), comp(G, 22, 10), comp(B, 38, 10), comp(A, 54, 10)];
const R_8: &[Component] = &[comp(R, 0, 8)];
const R_16: &[Component] = &[comp(R, 0, 16)];
const RG_1616: &[Component] = &[comp(R, 0, 16), comp(G, 16, 16)];
const Y_8: &[Component] = &[comp(Y, 0, 8)];
const Y_16: &[Component] = &[comp(Y, 0, 16)];
const Y_10_IN_16: &[Component] = &[comp(Y, 6, 10)];
const CB_8: &[Component] = &[comp(Cb, 0, 8)];
const CR_8: &[Component] = &[comp(Cr, 0, 8)];
const CBCR_8: &[Component] = &[comp(Cb, 0, 8), comp(Cr, 8, 8)];
const CRCB_8: &[Component] = &[comp(Cr, 0, 8), comp(Cb, 8, 8)];
const CBCR_10_IN_16: &[Component] = &[comp(Cb, 6, 10), comp(Cr, 22, 10)];
const YUYV_8: &[Component] = &[comp(Y, 0, 8), comp(Cb, 8, 8), comp(Cr, 24, 8)];
const RAW_16: &[Component] = &[comp(Raw, 0, 16)];
const RAW_10: &[Component] = &[comp(Raw, 0, 10)];
const RAW_12: &[Component] = &[comp(Raw, 0, 12)];
const RAW_8: &[Component] = &[comp(Raw, 0, 8)];
const NONE: &[Component] = &[];

/// How a concrete format's pixels are arranged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Geometry {
    /// One plane of whole-byte pixels.
    Packed {
        bytes_per_pixel: u8,
        /// The format's own stride rule, in pixels.
        stride_multiple: u8,
        /// Pixels per horizontal sample pair must be even (YUY2).
        even_width: bool,
        stride_unit: StrideUnit,
        components: &'static [Component],
    },
    /// One plane of bit-packed pixels (RAW10, RAW12): width a multiple of 4, stride in bytes.
    BitPacked { bits_per_pixel: u8, components: &'static [Component] },
    /// A byte array: width bytes, one row, one layer.
    Blob,
    /// Y, Cr, Cb planes with the VTS chroma stride formula.
    Yv12,
    /// A luma plane then one interleaved chroma plane.
    SemiPlanar {
        bytes_per_sample: u8,
        vertical_subsampling: u8,
        luma: &'static [Component],
        chroma: &'static [Component],
    },
}

/// The unit of the stride reported in `AllocationResult.stride`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrideUnit {
    /// Pixels (every format except those below).
    Pixels,
    /// Bytes (RAW10, RAW12 and RAW_OPAQUE, as `graphics.h` specifies for them).
    Bytes,
}

const fn packed(bytes_per_pixel: u8, components: &'static [Component]) -> Geometry {
    Geometry::Packed {
        bytes_per_pixel,
        stride_multiple: 1,
        even_width: false,
        stride_unit: StrideUnit::Pixels,
        components,
    }
}

const fn packed_16px(bytes_per_pixel: u8, components: &'static [Component]) -> Geometry {
    Geometry::Packed {
        bytes_per_pixel,
        stride_multiple: 16,
        even_width: false,
        stride_unit: StrideUnit::Pixels,
        components,
    }
}

/// The geometry of a concrete format; `None` for the two formats that name no layout.
fn geometry(format: Format) -> Option<Geometry> {
    let g = match format {
        Format::Unspecified | Format::ImplementationDefined => return None,
        Format::Rgba8888 => packed(4, RGBA_8),
        Format::Rgbx8888 => packed(4, RGBX_8),
        Format::Bgra8888 => packed(4, BGRA_8),
        Format::Rgba1010102 => packed(4, RGBA_1010102),
        Format::Rg1616Uint => packed(4, RG_1616),
        Format::Rgb888 => packed(3, RGB_8),
        Format::Hsv888 => packed(3, NONE),
        Format::Rgb565 => packed(2, RGB_565),
        Format::R16Uint => packed(2, R_16),
        Format::Depth16 => packed(2, NONE),
        Format::Raw16 => packed_16px(2, RAW_16),
        Format::Y16 => packed_16px(2, Y_16),
        Format::Y8 => packed_16px(1, Y_8),
        Format::R8 => packed(1, R_8),
        Format::Stencil8 => packed(1, NONE),
        Format::RgbaFp16 => packed(8, RGBA_FP16),
        Format::Rgba10101010 => packed(8, RGBA_10101010),
        Format::Depth24 | Format::Depth24Stencil8 | Format::Depth32f => packed(4, NONE),
        Format::Depth32fStencil8 => packed(8, NONE),
        Format::Ycbcr422I => Geometry::Packed {
            bytes_per_pixel: 2,
            stride_multiple: 1,
            even_width: true,
            stride_unit: StrideUnit::Pixels,
            components: YUYV_8,
        },
        Format::RawOpaque => Geometry::Packed {
            bytes_per_pixel: 2,
            stride_multiple: 1,
            even_width: false,
            stride_unit: StrideUnit::Bytes,
            components: RAW_8,
        },
        Format::Raw10 => Geometry::BitPacked { bits_per_pixel: 10, components: RAW_10 },
        Format::Raw12 => Geometry::BitPacked { bits_per_pixel: 12, components: RAW_12 },
        Format::Blob => Geometry::Blob,
        Format::Yv12 => Geometry::Yv12,
        Format::Ycbcr420_888 => Geometry::SemiPlanar {
            bytes_per_sample: 1,
            vertical_subsampling: 2,
            luma: Y_8,
            chroma: CBCR_8,
        },
        Format::Ycrcb420Sp => Geometry::SemiPlanar {
            bytes_per_sample: 1,
            vertical_subsampling: 2,
            luma: Y_8,
            chroma: CRCB_8,
        },
        Format::Ycbcr422Sp => Geometry::SemiPlanar {
            bytes_per_sample: 1,
            vertical_subsampling: 1,
            luma: Y_8,
            chroma: CBCR_8,
        },
        Format::YcbcrP010 => Geometry::SemiPlanar {
            bytes_per_sample: 2,
            vertical_subsampling: 2,
            luma: Y_10_IN_16,
            chroma: CBCR_10_IN_16,
        },
    };
    Some(g)
}

/// Usage bits that make IMPLEMENTATION_DEFINED a YUV (NV12) buffer.
const YUV_PRODUCERS: u64 = bits::VIDEO_ENCODER
    | bits::VIDEO_DECODER
    | bits::CAMERA_OUTPUT
    | bits::CAMERA_INPUT
    | bits::HW_IMAGE_ENCODER;

/// The format whose layout a request gets: IMPLEMENTATION_DEFINED is resolved from the usage.
///
/// # Errors
/// [`LayoutError::Unspecified`] for UNSPECIFIED, [`LayoutError::ImplementationDefinedWithCpu`]
/// for IMPLEMENTATION_DEFINED with CPU usage.
pub fn layout_format(format: Format, usage: Usage) -> Result<Format, LayoutError> {
    match format {
        Format::Unspecified => Err(LayoutError::Unspecified),
        Format::ImplementationDefined if usage.has_cpu_access() => {
            Err(LayoutError::ImplementationDefinedWithCpu)
        }
        Format::ImplementationDefined if usage.intersects(YUV_PRODUCERS) => {
            Ok(Format::Ycbcr420_888)
        }
        Format::ImplementationDefined => Ok(Format::Rgba8888),
        other => Ok(other),
    }
}

/// The DRM fourcc a mapper reports for a layout format (`PIXEL_FORMAT_FOURCC`), or 0
/// (`DRM_FORMAT_INVALID`) when DRM has none.
pub fn drm_fourcc(layout_format: Format) -> u32 {
    const fn fourcc(code: &[u8; 4]) -> u32 {
        u32::from_le_bytes(*code)
    }
    match layout_format {
        Format::Rgba8888 => fourcc(b"AB24"),
        Format::Rgbx8888 => fourcc(b"XB24"),
        Format::Bgra8888 => fourcc(b"AR24"),
        Format::Rgb888 => fourcc(b"BG24"),
        Format::Rgb565 => fourcc(b"RG16"),
        Format::RgbaFp16 => fourcc(b"AB4H"),
        Format::Rgba1010102 => fourcc(b"AB30"),
        Format::Yv12 => fourcc(b"YV12"),
        Format::Ycbcr420_888 => fourcc(b"NV12"),
        Format::Ycrcb420Sp => fourcc(b"NV21"),
        Format::Ycbcr422Sp => fourcc(b"NV16"),
        Format::Ycbcr422I => fourcc(b"YUYV"),
        Format::YcbcrP010 => fourcc(b"P010"),
        Format::R8 | Format::Y8 | Format::Blob => fourcc(b"R8  "),
        Format::R16Uint | Format::Y16 | Format::Raw16 => fourcc(b"R16 "),
        Format::Rg1616Uint => fourcc(b"GR32"),
        Format::Unspecified
        | Format::ImplementationDefined
        | Format::RawOpaque
        | Format::Raw10
        | Format::Raw12
        | Format::Depth16
        | Format::Depth24
        | Format::Depth24Stencil8
        | Format::Depth32f
        | Format::Depth32fStencil8
        | Format::Stencil8
        | Format::Hsv888
        | Format::Rgba10101010 => 0,
    }
}

/// One plane of a layout. Offsets are from the start of the buffer (layer 0); layer `n`
/// starts `n * layer_size` bytes later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plane {
    /// Bytes from the start of the buffer to the plane's first sample.
    pub offset: u64,
    /// Bytes from one row to the next.
    pub stride_bytes: u64,
    /// Bytes the plane occupies in one layer (`stride_bytes * rows`).
    pub size: u64,
    /// Samples per row (the image width divided by the horizontal subsampling).
    pub width_samples: u32,
    /// Rows.
    pub rows: u32,
    /// Horizontal subsampling of this plane (1 or 2).
    pub horizontal_subsampling: u8,
    /// Vertical subsampling of this plane (1 or 2).
    pub vertical_subsampling: u8,
    /// Bits from one sample to the next in a row.
    pub sample_increment_bits: u32,
    /// What each sample holds.
    pub components: &'static [Component],
}

const EMPTY_PLANE: Plane = Plane {
    offset: 0,
    stride_bytes: 0,
    size: 0,
    width_samples: 0,
    rows: 0,
    horizontal_subsampling: 1,
    vertical_subsampling: 1,
    sample_increment_bits: 0,
    components: NONE,
};

/// Most planes any format has (YV12).
pub const MAX_PLANES: usize = 3;

/// The computed layout of one buffer. Every buffer of an `allocate2` call shares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    image: Image,
    layout_format: Format,
    stride_pixels: u32,
    stride_bytes: u32,
    stride_unit: StrideUnit,
    planes: [Plane; MAX_PLANES],
    plane_count: u8,
    layer_size: u64,
    image_size: u64,
    reserved_offset: u64,
    total_size: NonZeroU64,
}

impl Layout {
    /// Lays out `image` with the board alignment `align` and pages of `page_size` bytes.
    ///
    /// # Errors
    /// A [`LayoutError`] when the format has no layout, a dimension breaks a format rule, or
    /// any size does not fit (all are UNSUPPORTED on the wire).
    pub fn for_image(image: &Image, align: &Align, page_size: u64) -> Result<Layout, LayoutError> {
        let layout_format = layout_format(image.format, image.usage)?;
        let geometry = geometry(layout_format).ok_or(LayoutError::Unspecified)?;
        if image.width == 0 || image.height == 0 || image.layers == 0 {
            return Err(LayoutError::ZeroDimension);
        }
        if layout_format.is_yuv() && image.layers != 1 {
            return Err(LayoutError::YuvLayers { format: layout_format, layers: image.layers });
        }
        let page = page_size.max(1);
        let align = Align {
            stride_bytes: align.stride_bytes.max(1),
            stride_pixels: align.stride_pixels.max(1),
            size_bytes: align.size_bytes.max(1),
        };
        let shape = plane_shape(layout_format, geometry, image, &align)?;

        let mut planes = [EMPTY_PLANE; MAX_PLANES];
        let mut offset = 0u64;
        for (slot, plane) in planes.iter_mut().zip(shape.planes.iter().flatten()) {
            *slot = Plane { offset, ..*plane };
            offset = add(offset, plane.size, "plane offset")?;
        }
        let layer_size = align_up(offset, align.size_bytes, "layer size")?;
        let image_size = mul(layer_size, u64::from(image.layers), "layers × layer size")?;
        let reserved_offset = align_up(image_size, page, "reserved region offset")?;
        let end = add(reserved_offset, image.reserved_size, "reserved region end")?;
        let total = align_up(end, page, "page-rounded size")?;
        let total_size = NonZeroU64::new(total).ok_or(LayoutError::ZeroDimension)?;

        let stride_pixels = to_u32(shape.stride_pixels, "stride in pixels")?;
        let stride_bytes = to_u32(shape.stride_bytes, "stride in bytes")?;
        let layout = Layout {
            image: *image,
            layout_format,
            stride_pixels,
            stride_bytes,
            stride_unit: shape.stride_unit,
            planes,
            plane_count: shape.plane_count(),
            layer_size,
            image_size,
            reserved_offset,
            total_size,
        };
        // The reported stride must fit the wire's i32.
        i32::try_from(layout.reported_stride_u32())
            .map_err(|_| LayoutError::Overflow { what: "reported stride" })?;
        Ok(layout)
    }

    /// The image this layout was computed for.
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// The format whose layout was used (IMPLEMENTATION_DEFINED resolved).
    pub fn layout_format(&self) -> Format {
        self.layout_format
    }

    /// The DRM fourcc of [`Self::layout_format`] (0 when DRM has none).
    pub fn drm_fourcc(&self) -> u32 {
        drm_fourcc(self.layout_format)
    }

    /// Row pitch of the first plane in whole pixels (≥ width).
    pub fn stride_pixels(&self) -> u32 {
        self.stride_pixels
    }

    /// Row pitch of the first plane in bytes.
    pub fn stride_bytes(&self) -> u32 {
        self.stride_bytes
    }

    /// The unit of [`Self::reported_stride`].
    pub fn stride_unit(&self) -> StrideUnit {
        self.stride_unit
    }

    fn reported_stride_u32(&self) -> u32 {
        match self.stride_unit {
            StrideUnit::Pixels => self.stride_pixels,
            StrideUnit::Bytes => self.stride_bytes,
        }
    }

    /// The `AllocationResult.stride` value: pixels, or bytes for RAW10, RAW12 and RAW_OPAQUE.
    pub fn reported_stride(&self) -> i32 {
        // Checked in `for_image`; the fallback is unreachable.
        i32::try_from(self.reported_stride_u32()).unwrap_or(i32::MAX)
    }

    /// The planes of layer 0.
    pub fn planes(&self) -> &[Plane] {
        self.planes.get(..usize::from(self.plane_count)).unwrap_or(&[])
    }

    /// Bytes of one layer (the sum of its planes, rounded to the board's size alignment).
    pub fn layer_size(&self) -> u64 {
        self.layer_size
    }

    /// Bytes of all layers.
    pub fn image_size(&self) -> u64 {
        self.image_size
    }

    /// Offset of the reserved region: the first page boundary at or after the image.
    pub fn reserved_offset(&self) -> u64 {
        self.reserved_offset
    }

    /// Bytes of the reserved region.
    pub fn reserved_size(&self) -> u64 {
        self.image.reserved_size
    }

    /// Bytes to allocate: image, reserved region, rounded up to whole pages.
    pub fn total_size(&self) -> NonZeroU64 {
        self.total_size
    }
}

/// Planes of one layer before offsets are assigned.
struct Shape {
    stride_pixels: u64,
    stride_bytes: u64,
    stride_unit: StrideUnit,
    planes: [Option<Plane>; MAX_PLANES],
}

impl Shape {
    fn plane_count(&self) -> u8 {
        let mut n = 0u8;
        for _ in self.planes.iter().flatten() {
            n = n.saturating_add(1);
        }
        n
    }
}

fn plane(
    stride_bytes: u64,
    rows: u64,
    width_samples: u64,
    subsampling: (u8, u8),
    sample_increment_bits: u32,
    components: &'static [Component],
) -> Result<Plane, LayoutError> {
    Ok(Plane {
        offset: 0,
        stride_bytes,
        size: mul(stride_bytes, rows, "plane size")?,
        width_samples: to_u32(width_samples, "plane width")?,
        rows: to_u32(rows, "plane rows")?,
        horizontal_subsampling: subsampling.0,
        vertical_subsampling: subsampling.1,
        sample_increment_bits,
        components,
    })
}

fn plane_shape(
    format: Format,
    geometry: Geometry,
    image: &Image,
    align: &Align,
) -> Result<Shape, LayoutError> {
    let width = u64::from(image.width);
    let height = u64::from(image.height);
    let even = |dimension: &'static str, value: u32| {
        if value.is_multiple_of(2) {
            Ok(())
        } else {
            Err(LayoutError::OddDimension { format, dimension, value })
        }
    };
    match geometry {
        Geometry::Packed {
            bytes_per_pixel,
            stride_multiple,
            even_width,
            stride_unit,
            components,
        } => {
            if even_width {
                even("width", image.width)?;
            }
            let bpp = u64::from(bytes_per_pixel);
            let stride_pixels = row_stride(width, bpp, u64::from(stride_multiple), align)?;
            let stride_bytes = mul(stride_pixels, bpp, "stride in bytes")?;
            let increment = u32::from(bytes_per_pixel).saturating_mul(8);
            let p = plane(stride_bytes, height, width, (1, 1), increment, components)?;
            Ok(Shape { stride_pixels, stride_bytes, stride_unit, planes: [Some(p), None, None] })
        }
        Geometry::BitPacked { bits_per_pixel, components } => {
            if !image.width.is_multiple_of(4) {
                return Err(LayoutError::WidthNotMultipleOf4 { format, width: image.width });
            }
            let bits = u64::from(bits_per_pixel);
            let padded = align_up(width, lcm(4, align.stride_pixels)?, "padded width")?;
            let row_bits = mul(padded, bits, "row bits")?;
            let row_bytes = div(row_bits, 8)?;
            let stride_bytes = align_up(row_bytes, align.stride_bytes, "stride in bytes")?;
            let stride_pixels = div(mul(stride_bytes, 8, "stride bits")?, bits)?;
            let p = plane(
                stride_bytes,
                height,
                width,
                (1, 1),
                u32::from(bits_per_pixel),
                components,
            )?;
            Ok(Shape {
                stride_pixels,
                stride_bytes,
                stride_unit: StrideUnit::Bytes,
                planes: [Some(p), None, None],
            })
        }
        Geometry::Blob => {
            if image.height != 1 || image.layers != 1 {
                return Err(LayoutError::BlobShape { height: image.height, layers: image.layers });
            }
            let p = plane(width, 1, width, (1, 1), 8, RAW_8)?;
            Ok(Shape {
                stride_pixels: width,
                stride_bytes: width,
                stride_unit: StrideUnit::Pixels,
                planes: [Some(p), None, None],
            })
        }
        Geometry::Yv12 => {
            even("width", image.width)?;
            even("height", image.height)?;
            let stride = row_stride(width, 1, 16, align)?;
            let c_stride = align_up(div(stride, 2)?, 16, "chroma stride")?;
            let c_rows = div(height, 2)?;
            let c_width = div(width, 2)?;
            let y = plane(stride, height, width, (1, 1), 8, Y_8)?;
            let cr = plane(c_stride, c_rows, c_width, (2, 2), 8, CR_8)?;
            let cb = plane(c_stride, c_rows, c_width, (2, 2), 8, CB_8)?;
            Ok(Shape {
                stride_pixels: stride,
                stride_bytes: stride,
                stride_unit: StrideUnit::Pixels,
                planes: [Some(y), Some(cr), Some(cb)],
            })
        }
        Geometry::SemiPlanar { bytes_per_sample, vertical_subsampling, luma, chroma } => {
            even("width", image.width)?;
            if vertical_subsampling == 2 {
                even("height", image.height)?;
            }
            let bps = u64::from(bytes_per_sample);
            let stride_pixels = row_stride(width, bps, 1, align)?;
            let stride_bytes = mul(stride_pixels, bps, "stride in bytes")?;
            let c_rows = div(height, u64::from(vertical_subsampling))?;
            let sample_bits = u32::from(bytes_per_sample).saturating_mul(8);
            let y = plane(stride_bytes, height, width, (1, 1), sample_bits, luma)?;
            let c = plane(
                stride_bytes,
                c_rows,
                div(width, 2)?,
                (2, vertical_subsampling),
                sample_bits.saturating_mul(2),
                chroma,
            )?;
            Ok(Shape {
                stride_pixels,
                stride_bytes,
                stride_unit: StrideUnit::Pixels,
                planes: [Some(y), Some(c), None],
            })
        }
    }
}

/// The smallest row pitch in pixels ≥ `width` that is a multiple of the format's rule, the
/// board's pixel alignment, and whose byte pitch is a multiple of the board's byte alignment.
fn row_stride(
    width: u64,
    bytes_per_pixel: u64,
    format_multiple: u64,
    align: &Align,
) -> Result<u64, LayoutError> {
    let from_bytes = div(align.stride_bytes, gcd(align.stride_bytes, bytes_per_pixel))?;
    let multiple = lcm(lcm(format_multiple.max(1), align.stride_pixels)?, from_bytes)?;
    align_up(width, multiple, "stride in pixels")
}

fn add(a: u64, b: u64, what: &'static str) -> Result<u64, LayoutError> {
    a.checked_add(b).ok_or(LayoutError::Overflow { what })
}

fn mul(a: u64, b: u64, what: &'static str) -> Result<u64, LayoutError> {
    a.checked_mul(b).ok_or(LayoutError::Overflow { what })
}

fn div(a: u64, b: u64) -> Result<u64, LayoutError> {
    a.checked_div(b).ok_or(LayoutError::Overflow { what: "division by zero" })
}

fn to_u32(v: u64, what: &'static str) -> Result<u32, LayoutError> {
    u32::try_from(v).map_err(|_| LayoutError::Overflow { what })
}

/// `v` rounded up to a multiple of `to` (`to` of 0 is treated as 1).
fn align_up(v: u64, to: u64, what: &'static str) -> Result<u64, LayoutError> {
    let to = to.max(1);
    match v.checked_rem(to) {
        Some(0) | None => Ok(v),
        Some(rem) => {
            let pad = to.checked_sub(rem).ok_or(LayoutError::Overflow { what })?;
            add(v, pad, what)
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while let Some(r) = a.checked_rem(b) {
        a = b;
        b = r;
    }
    a.max(1)
}

fn lcm(a: u64, b: u64) -> Result<u64, LayoutError> {
    let (a, b) = (a.max(1), b.max(1));
    mul(div(a, gcd(a, b))?, b, "alignment (least common multiple)")
}

/// The system page size in bytes, read once (4096 if the system will not say).
pub fn page_size() -> u64 {
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(system_page_size)
}

fn system_page_size() -> u64 {
    4096
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcd_and_lcm_handle_zero_and_coprime_values() {
        assert_eq!(gcd(12, 18), 6);
        assert_eq!(gcd(0, 5), 5);
        assert_eq!(gcd(5, 0), 5);
        assert_eq!(gcd(0, 0), 1);
        assert_eq!(lcm(4, 6).unwrap(), 12);
        assert_eq!(lcm(0, 16).unwrap(), 16);
        assert!(lcm(u64::MAX, u64::MAX - 1).is_err());
    }

    #[test]
    fn align_up_rounds_and_detects_overflow() {
        assert_eq!(align_up(0, 16, "t").unwrap(), 0);
        assert_eq!(align_up(17, 16, "t").unwrap(), 32);
        assert_eq!(align_up(32, 16, "t").unwrap(), 32);
        assert_eq!(align_up(5, 0, "t").unwrap(), 5);
        assert!(align_up(u64::MAX, 16, "t").is_err());
    }

    #[test]
    fn row_stride_meets_pixel_and_byte_alignment() {
        let align = Align { stride_bytes: 64, stride_pixels: 1, size_bytes: 1 };
        // 3 B/px with 64-byte rows: the pixel stride must be a multiple of 64.
        assert_eq!(row_stride(100, 3, 1, &align).unwrap(), 128);
        // 4 B/px with 64-byte rows: multiple of 16 pixels.
        assert_eq!(row_stride(100, 4, 1, &align).unwrap(), 112);
    }
}
