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
//! | YV12 | Y, Cr, Cb planes; stride a multiple of 16 px; `c_stride = align(stride / 2, 16)`; chroma planes of `ceil(h / 2)` rows |
//! | YCBCR_420_888 | NV12: Y plane, then one interleaved CbCr plane with the luma stride in bytes; stride at least the width rounded up to even; chroma `ceil(h / 2)` rows |
//! | YCRCB_420_SP (NV21) | Y plane, then interleaved CrCb (`cb == cr + 1`); as NV12 for odd sizes |
//! | YCBCR_422_SP (NV16) | Y plane, then interleaved CbCr with `height` rows; width even |
//! | YCBCR_P010 | as NV12 with 16-bit samples (10 significant bits at the top) |
//! | RAW10, RAW12 | 10 or 12 bits/px packed; width a multiple of 4; stride reported **in bytes** |
//! | RAW_OPAQUE | 1 B per unit: the camera framework allocates it like BLOB (`width` = bytes, height 1), so `width × height` bytes |
//! | BLOB | `width` bytes; height 1 and one layer; the board's stride alignment does not apply |
//! | IMPLEMENTATION_DEFINED | the YCBCR_420_888 (NV12) layout when a video, camera or image-encoder bit is set, else RGBA_8888, with or without CPU usage (resolved by `Image::new`); the handle keeps the format and its planes name the layout |
//! | UNSPECIFIED | no layout (a malformed descriptor, rejected before this module) |
//!
//! YUV layouts (including Y8 and Y16) take exactly one layer; the request refuses more, as it
//! refuses zero dimensions and other BLOB shapes, so this module relies on its `Image`. The
//! board's row alignment (bytes and pixels) applies to the first plane on top of the format's
//! own stride rule, as a least common multiple; later planes derive their stride from it
//! (YV12 keeps the exact VTS chroma formula). Planes follow each other without padding, layers are laid out back to
//! back, a reserved region (if any) starts at the next page boundary after the image, and the
//! total is a multiple of both the page size and the board's size alignment.

#![deny(clippy::arithmetic_side_effects)]

use std::num::NonZeroU64;

use hal_interface::handle::{PlaneComponent, PlaneLayout};
use hal_interface::Format;
use usage_map::Alignment;

pub use crate::error::LayoutError;
use crate::request::Image;

/// How a concrete format's pixels are arranged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Geometry {
    /// One plane of whole-byte pixels, stride reported in pixels.
    Packed {
        bytes_per_pixel: u8,
        /// The format's own stride rule, in pixels.
        stride_multiple: u8,
        /// Pixels come in horizontal pairs (YUY2).
        even_width: bool,
        component: PlaneComponent,
    },
    /// One plane of bit-packed pixels (RAW10, RAW12): width a multiple of 4, stride in bytes.
    BitPacked { bits_per_pixel: u8 },
    /// A byte array: width bytes, one row, one layer.
    Blob,
    /// Y, Cr, Cb planes with the VTS chroma stride formula.
    Yv12,
    /// A luma plane then one interleaved chroma plane.
    SemiPlanar { bytes_per_sample: u8, vertical_subsampling: u8, chroma: PlaneComponent },
}

/// The unit of the stride reported in `AllocationResult.stride`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrideUnit {
    /// Pixels (every format except RAW10 and RAW12).
    Pixels,
    /// Bytes (RAW10 and RAW12, as `graphics.h` specifies and the camera framework reads).
    Bytes,
}

const fn packed(bytes_per_pixel: u8, component: PlaneComponent) -> Geometry {
    Geometry::Packed { bytes_per_pixel, stride_multiple: 1, even_width: false, component }
}

const fn packed_16px(bytes_per_pixel: u8, component: PlaneComponent) -> Geometry {
    Geometry::Packed { bytes_per_pixel, stride_multiple: 16, even_width: false, component }
}

/// The geometry of a layout format.
fn geometry(format: Format) -> Geometry {
    use PlaneComponent as C;
    match format {
        // An `Image`'s layout format is never UNSPECIFIED (refused) nor IMPLEMENTATION_DEFINED
        // (resolved, to RGBA_8888 unless YUV); grouping them with RGBA_8888 keeps the match
        // total without an error variant nothing could reach.
        Format::Rgba8888
        | Format::Rgbx8888
        | Format::Bgra8888
        | Format::Rgba1010102
        | Format::Unspecified
        | Format::ImplementationDefined => packed(4, C::Rgba),
        Format::Rg1616Uint => packed(4, C::Red),
        Format::Rgb888 | Format::Hsv888 => packed(3, C::Rgb),
        Format::Rgb565 => packed(2, C::Rgb),
        Format::R16Uint => packed(2, C::Red),
        Format::Depth16 => packed(2, C::Depth),
        Format::Raw16 => packed_16px(2, C::Raw),
        Format::Y16 => packed_16px(2, C::Y),
        Format::Y8 => packed_16px(1, C::Y),
        Format::R8 => packed(1, C::Red),
        Format::Stencil8 => packed(1, C::Stencil),
        Format::RawOpaque => packed(1, C::Raw),
        Format::RgbaFp16 | Format::Rgba10101010 => packed(8, C::Rgba),
        Format::Depth24 | Format::Depth24Stencil8 | Format::Depth32f => packed(4, C::Depth),
        Format::Depth32fStencil8 => packed(8, C::Depth),
        Format::Ycbcr422I => Geometry::Packed {
            bytes_per_pixel: 2,
            stride_multiple: 1,
            even_width: true,
            component: C::YCbCrPacked,
        },
        Format::Raw10 => Geometry::BitPacked { bits_per_pixel: 10 },
        Format::Raw12 => Geometry::BitPacked { bits_per_pixel: 12 },
        Format::Blob => Geometry::Blob,
        Format::Yv12 => Geometry::Yv12,
        Format::Ycbcr420_888 => {
            Geometry::SemiPlanar { bytes_per_sample: 1, vertical_subsampling: 2, chroma: C::CbCr }
        }
        Format::Ycrcb420Sp => {
            Geometry::SemiPlanar { bytes_per_sample: 1, vertical_subsampling: 2, chroma: C::CrCb }
        }
        Format::Ycbcr422Sp => {
            Geometry::SemiPlanar { bytes_per_sample: 1, vertical_subsampling: 1, chroma: C::CbCr }
        }
        Format::YcbcrP010 => {
            Geometry::SemiPlanar { bytes_per_sample: 2, vertical_subsampling: 2, chroma: C::CbCr }
        }
    }
}

const EMPTY_PLANE: PlaneLayout = PlaneLayout {
    offset: 0,
    stride_bytes: 0,
    size: 0,
    h_subsampling: 1,
    v_subsampling: 1,
    component: PlaneComponent::Opaque,
};

/// Most planes any format has (YV12).
pub const MAX_PLANES: usize = 3;

/// The computed layout of one buffer; every buffer of an `allocate2` call shares it.
///
/// Plane offsets are those of layer 0; layer `n` starts `n * layer_size()` bytes later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    image: Image,
    layout_format: Format,
    stride_pixels: u32,
    stride_bytes: u32,
    stride_unit: StrideUnit,
    planes: [PlaneLayout; MAX_PLANES],
    plane_count: u8,
    layer_size: u64,
    image_size: u64,
    reserved_offset: u64,
    total_size: NonZeroU64,
}

impl Layout {
    /// Lays out a valid image with the plan's alignment and the system page size.
    ///
    /// # Errors
    /// As [`Layout::for_image`].
    pub fn compute(image: &Image, align: &Alignment) -> Result<Layout, LayoutError> {
        Self::for_image(image, align, page_size())
    }

    /// Lays out `image` with the board alignment `align` and pages of `page_size` bytes.
    ///
    /// # Errors
    /// A [`LayoutError`] when a dimension breaks the format's packing (odd width of a
    /// subsampled format, RAW10/RAW12 width) or any size does not fit (UNSUPPORTED on the
    /// wire).
    pub fn for_image(
        image: &Image,
        align: &Alignment,
        page_size: u64,
    ) -> Result<Layout, LayoutError> {
        let layout_format = image.layout_format();
        let geometry = geometry(layout_format);
        let board = BoardAlign {
            stride_bytes: u64::from(align.stride_bytes).max(1),
            stride_pixels: u64::from(align.stride_pixels).max(1),
        };
        let shape = plane_shape(layout_format, geometry, image, &board)?;

        let mut planes = [EMPTY_PLANE; MAX_PLANES];
        let mut layer_size = 0u64;
        let mut plane_count = 0u8;
        for (slot, plane) in planes.iter_mut().zip(shape.planes.iter().flatten()) {
            *slot = PlaneLayout { offset: layer_size, ..*plane };
            layer_size = add(layer_size, plane.size, "plane offset")?;
            plane_count = plane_count.saturating_add(1);
        }
        let image_size = mul(layer_size, u64::from(image.layers()), "layers × layer size")?;
        let page = page_size.max(1);
        let unit = lcm(page, align.size_bytes)?;
        let (reserved_offset, end) = if image.reserved_size() == 0 {
            (0, image_size)
        } else {
            let offset = align_up(image_size, page, "reserved region offset")?;
            (offset, add(offset, image.reserved_size(), "reserved region end")?)
        };
        let total = align_up(end, unit, "rounded size")?;
        // Never zero: an image has at least one plane of at least one row of one byte.
        let total_size =
            NonZeroU64::new(total).ok_or(LayoutError::Overflow { what: "rounded size" })?;

        let stride_pixels = to_u32(shape.stride_pixels, "stride in pixels")?;
        let stride_bytes = to_u32(shape.stride_bytes, "stride in bytes")?;
        let reported = match shape.stride_unit {
            StrideUnit::Pixels => stride_pixels,
            StrideUnit::Bytes => stride_bytes,
        };
        // The wire's stride is an i32.
        i32::try_from(reported).map_err(|_| LayoutError::Overflow { what: "reported stride" })?;
        Ok(Layout {
            image: *image,
            layout_format,
            stride_pixels,
            stride_bytes,
            stride_unit: shape.stride_unit,
            planes,
            plane_count,
            layer_size,
            image_size,
            reserved_offset,
            total_size,
        })
    }

    /// The image this layout was computed for.
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// The format whose layout was used (IMPLEMENTATION_DEFINED resolved).
    pub fn layout_format(&self) -> Format {
        self.layout_format
    }

    /// The DRM fourcc of [`Self::layout_format`] (0 when DRM has none), from the mapper's
    /// table.
    pub fn drm_fourcc(&self) -> u32 {
        hal_interface::metadata::fourcc(self.layout_format.raw())
            .unwrap_or(hal_interface::metadata::DRM_FORMAT_INVALID)
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

    /// The `AllocationResult.stride` value: pixels, or bytes for RAW10 and RAW12. Always
    /// ≥ width.
    pub fn reported_stride(&self) -> i32 {
        let stride = match self.stride_unit {
            StrideUnit::Pixels => self.stride_pixels,
            StrideUnit::Bytes => self.stride_bytes,
        };
        // Checked in `for_image`; the fallback is unreachable.
        i32::try_from(stride).unwrap_or(i32::MAX)
    }

    /// The planes of layer 0.
    pub fn planes(&self) -> &[PlaneLayout] {
        self.planes.get(..usize::from(self.plane_count)).unwrap_or(&[])
    }

    /// Bytes of one layer (the sum of its planes).
    pub fn layer_size(&self) -> u64 {
        self.layer_size
    }

    /// Bytes of all layers.
    pub fn image_size(&self) -> u64 {
        self.image_size
    }

    /// Offset of the reserved region: the first page boundary at or after the image; 0 when
    /// there is no reserved region (as the handle encodes it).
    pub fn reserved_offset(&self) -> u64 {
        self.reserved_offset
    }

    /// Bytes of the reserved region.
    pub fn reserved_size(&self) -> u64 {
        self.image.reserved_size()
    }

    /// Bytes to allocate: image and reserved region, rounded up to whole pages and to the
    /// board's size alignment.
    pub fn total_size(&self) -> NonZeroU64 {
        self.total_size
    }
}

/// Board row alignment, each at least 1.
struct BoardAlign {
    stride_bytes: u64,
    stride_pixels: u64,
}

/// Planes of one layer before offsets are assigned.
struct Shape {
    stride_pixels: u64,
    stride_bytes: u64,
    stride_unit: StrideUnit,
    planes: [Option<PlaneLayout>; MAX_PLANES],
}

impl Shape {
    fn single(stride_pixels: u64, stride_bytes: u64, unit: StrideUnit, p: PlaneLayout) -> Self {
        Shape { stride_pixels, stride_bytes, stride_unit: unit, planes: [Some(p), None, None] }
    }
}

fn plane(
    stride_bytes: u64,
    rows: u64,
    subsampling: (u32, u32),
    component: PlaneComponent,
) -> Result<PlaneLayout, LayoutError> {
    Ok(PlaneLayout {
        offset: 0,
        stride_bytes: to_u32(stride_bytes, "plane stride")?,
        size: mul(stride_bytes, rows, "plane size")?,
        h_subsampling: subsampling.0,
        v_subsampling: subsampling.1,
        component,
    })
}

fn plane_shape(
    format: Format,
    geometry: Geometry,
    image: &Image,
    board: &BoardAlign,
) -> Result<Shape, LayoutError> {
    let width = u64::from(image.width());
    let height = u64::from(image.height());
    let even = |dimension: &'static str, value: u32| {
        if value.is_multiple_of(2) {
            Ok(())
        } else {
            Err(LayoutError::OddDimension { format, dimension, value })
        }
    };
    match geometry {
        Geometry::Packed { bytes_per_pixel, stride_multiple, even_width, component } => {
            if even_width {
                even("width", image.width())?;
            }
            let bpp = u64::from(bytes_per_pixel);
            let stride_pixels = row_stride(width, bpp, u64::from(stride_multiple), board)?;
            let stride_bytes = mul(stride_pixels, bpp, "stride in bytes")?;
            let p = plane(stride_bytes, height, (1, 1), component)?;
            Ok(Shape::single(stride_pixels, stride_bytes, StrideUnit::Pixels, p))
        }
        Geometry::BitPacked { bits_per_pixel } => {
            if !image.width().is_multiple_of(4) {
                return Err(LayoutError::WidthNotMultipleOf4 { format, width: image.width() });
            }
            let bits = u64::from(bits_per_pixel);
            let padded = align_up(width, lcm(4, board.stride_pixels)?, "padded width")?;
            let row_bytes = div(mul(padded, bits, "row bits")?, 8)?;
            let stride_bytes = align_up(row_bytes, board.stride_bytes, "stride in bytes")?;
            let stride_pixels = div(mul(stride_bytes, 8, "stride bits")?, bits)?;
            let p = plane(stride_bytes, height, (1, 1), PlaneComponent::Raw)?;
            Ok(Shape::single(stride_pixels, stride_bytes, StrideUnit::Bytes, p))
        }
        // One row, one layer: `Image` refuses any other BLOB shape.
        Geometry::Blob => {
            let p = plane(width, 1, (1, 1), PlaneComponent::Blob)?;
            Ok(Shape::single(width, width, StrideUnit::Pixels, p))
        }
        // Odd 4:2:0 sizes round the chroma planes up to ceil(w/2) x ceil(h/2) samples, as
        // minigbm and Arm's gralloc do: the buffer always holds every plane it describes.
        Geometry::Yv12 => {
            // stride is even (a multiple of 16) and >= width, so stride / 2 >= ceil(w / 2).
            let stride = row_stride(width, 1, 16, board)?;
            let c_stride = align_up(div(stride, 2)?, 16, "chroma stride")?;
            let c_rows = height.div_ceil(2);
            let y = plane(stride, height, (1, 1), PlaneComponent::Y)?;
            let cr = plane(c_stride, c_rows, (2, 2), PlaneComponent::Cr)?;
            let cb = plane(c_stride, c_rows, (2, 2), PlaneComponent::Cb)?;
            Ok(Shape {
                stride_pixels: stride,
                stride_bytes: stride,
                stride_unit: StrideUnit::Pixels,
                planes: [Some(y), Some(cr), Some(cb)],
            })
        }
        Geometry::SemiPlanar { bytes_per_sample, vertical_subsampling, chroma } => {
            // 4:2:2 keeps its even width; 4:2:0 rounds the luma stride up to an even width so
            // that a chroma row of ceil(w/2) pairs fits the shared stride.
            let luma_width = if vertical_subsampling == 2 {
                align_up(width, 2, "even width")?
            } else {
                even("width", image.width())?;
                width
            };
            let bps = u64::from(bytes_per_sample);
            let stride_pixels = row_stride(luma_width, bps, 1, board)?;
            let stride_bytes = mul(stride_pixels, bps, "stride in bytes")?;
            let c_rows = height.div_ceil(u64::from(vertical_subsampling.max(1)));
            let v_sub = u32::from(vertical_subsampling);
            let y = plane(stride_bytes, height, (1, 1), PlaneComponent::Y)?;
            let c = plane(stride_bytes, c_rows, (2, v_sub), chroma)?;
            Ok(Shape {
                stride_pixels,
                stride_bytes,
                stride_unit: StrideUnit::Pixels,
                planes: [Some(y), Some(c), None],
            })
        }
    }
}

/// The smallest row pitch in pixels ≥ `width` that is a multiple of the format's rule and the
/// board's pixel alignment, and whose byte pitch is a multiple of the board's byte alignment.
fn row_stride(
    width: u64,
    bytes_per_pixel: u64,
    format_multiple: u64,
    board: &BoardAlign,
) -> Result<u64, LayoutError> {
    let from_bytes = div(board.stride_bytes, gcd(board.stride_bytes, bytes_per_pixel))?;
    let multiple = lcm(lcm(format_multiple, board.stride_pixels)?, from_bytes)?;
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

/// Greatest common divisor; 1 when both are 0.
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while let Some(r) = a.checked_rem(b) {
        a = b;
        b = r;
    }
    a.max(1)
}

/// Least common multiple; 0 counts as 1.
fn lcm(a: u64, b: u64) -> Result<u64, LayoutError> {
    let (a, b) = (a.max(1), b.max(1));
    mul(div(a, gcd(a, b))?, b, "alignment (least common multiple)")
}

/// The system page size in bytes (as the heaps round lengths).
pub fn page_size() -> u64 {
    heaps::page_size()
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
        let align = BoardAlign { stride_bytes: 64, stride_pixels: 1 };
        // 3 B/px with 64-byte rows: the pixel stride must be a multiple of 64.
        assert_eq!(row_stride(100, 3, 1, &align).unwrap(), 128);
        // 4 B/px with 64-byte rows: multiple of 16 pixels.
        assert_eq!(row_stride(100, 4, 1, &align).unwrap(), 112);
    }
}
