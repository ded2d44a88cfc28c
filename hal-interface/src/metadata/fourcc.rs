//! The DRM fourcc a mapper reports as PIXEL_FORMAT_FOURCC: the one table of the project
//! (the service's layout code calls [`fourcc`] too).
//!
//! Upstream: `include/uapi/drm/drm_fourcc.h`. Android names components in memory byte order,
//! DRM in the bit order of a little-endian word, so RGBA_8888 is ABGR8888.

use crate::format::Format;

/// `fourcc_code(a, b, c, d)` of `drm_fourcc.h`.
pub const fn fourcc_code(code: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*code)
}

/// `DRM_FORMAT_INVALID`: what the getter reports for a format DRM has no code for.
pub const DRM_FORMAT_INVALID: u32 = 0;
/// `DRM_FORMAT_MOD_LINEAR`: every buffer of this allocator is linear.
pub const DRM_FORMAT_MOD_LINEAR: u64 = 0;
/// `DRM_FORMAT_ABGR8888` (RGBA_8888).
pub const DRM_FORMAT_ABGR8888: u32 = fourcc_code(b"AB24");
/// `DRM_FORMAT_YVU420` (YV12).
pub const DRM_FORMAT_YVU420: u32 = fourcc_code(b"YV12");

/// The DRM fourcc of a layout format (IMPLEMENTATION_DEFINED already resolved), or `None`
/// when DRM defines none for it (RAW10/12/OPAQUE, depth and stencil, HSV_888) or the value is
/// not a format this crate knows; the getter reports [`DRM_FORMAT_INVALID`] then.
pub fn fourcc(format: i32) -> Option<u32> {
    let code = match Format::from_raw(format)? {
        Format::Rgba8888 => b"AB24",
        Format::Rgbx8888 => b"XB24",
        Format::Bgra8888 => b"AR24",
        // Bytes R, G, B in memory: B in the low bits of DRM's 24-bit word.
        Format::Rgb888 => b"BG24",
        // R in the top 5 bits of the 16-bit word, as DRM's RGB565.
        Format::Rgb565 => b"RG16",
        Format::RgbaFp16 => b"AB4H",
        Format::Rgba1010102 => b"AB30",
        // DRM_FORMAT_AXBXGXRX106106106106: each component in the top 10 bits of 16.
        Format::Rgba10101010 => b"AB10",
        Format::Yv12 => b"YV12",
        // The service lays YCBCR_420_888 out as NV12.
        Format::Ycbcr420_888 => b"NV12",
        Format::Ycrcb420Sp => b"NV21",
        Format::Ycbcr422Sp => b"NV16",
        Format::Ycbcr422I => b"YUYV",
        Format::YcbcrP010 => b"P010",
        // BLOB is a byte array (width bytes, height 1), as minigbm reports it.
        Format::R8 | Format::Y8 | Format::Blob => b"R8  ",
        Format::R16Uint | Format::Y16 | Format::Raw16 => b"R16 ",
        Format::Rg1616Uint => b"GR32",
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
        | Format::Hsv888 => return None,
    };
    Some(fourcc_code(code))
}
