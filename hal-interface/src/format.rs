//! Typed view over the `PixelFormat` wire value.
//!
//! Upstream: `android/hardware/graphics/common/PixelFormat.aidl` (graphics.common V5). Values
//! outside this table (newer formats, the vendor range 0x100-0x1FF, anything else) are not a
//! [`Format`]: the service treats them as unsupported rather than guessing a layout.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

macro_rules! formats {
    ($($variant:ident = $value:expr, $name:literal;)*) => {
        /// A pixel format defined by graphics.common V5, in AIDL declaration order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(missing_docs)]
        pub enum Format {
            $($variant,)*
        }

        impl Format {
            /// Every V5 format, in AIDL declaration order.
            pub const ALL: &'static [Format] = &[$(Format::$variant,)*];

            /// The wire value (`PixelFormat.0`).
            pub const fn raw(self) -> i32 {
                match self {
                    $(Format::$variant => $value,)*
                }
            }

            /// The AIDL name (`"RGBA_8888"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Format::$variant => $name,)*
                }
            }

            /// The format with this wire value, if V5 defines one.
            pub const fn from_raw(raw: i32) -> Option<Format> {
                match raw {
                    $($value => Some(Format::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

formats! {
    Unspecified = 0, "UNSPECIFIED";
    Rgba8888 = 0x1, "RGBA_8888";
    Rgbx8888 = 0x2, "RGBX_8888";
    Rgb888 = 0x3, "RGB_888";
    Rgb565 = 0x4, "RGB_565";
    Bgra8888 = 0x5, "BGRA_8888";
    Ycbcr422Sp = 0x10, "YCBCR_422_SP";
    Ycrcb420Sp = 0x11, "YCRCB_420_SP";
    Ycbcr422I = 0x14, "YCBCR_422_I";
    RgbaFp16 = 0x16, "RGBA_FP16";
    Raw16 = 0x20, "RAW16";
    Blob = 0x21, "BLOB";
    ImplementationDefined = 0x22, "IMPLEMENTATION_DEFINED";
    Ycbcr420_888 = 0x23, "YCBCR_420_888";
    RawOpaque = 0x24, "RAW_OPAQUE";
    Raw10 = 0x25, "RAW10";
    Raw12 = 0x26, "RAW12";
    Rgba1010102 = 0x2B, "RGBA_1010102";
    Y8 = 0x2020_3859, "Y8";
    Y16 = 0x2036_3159, "Y16";
    Yv12 = 0x3231_5659, "YV12";
    Depth16 = 0x30, "DEPTH_16";
    Depth24 = 0x31, "DEPTH_24";
    Depth24Stencil8 = 0x32, "DEPTH_24_STENCIL_8";
    Depth32f = 0x33, "DEPTH_32F";
    Depth32fStencil8 = 0x34, "DEPTH_32F_STENCIL_8";
    Stencil8 = 0x35, "STENCIL_8";
    YcbcrP010 = 0x36, "YCBCR_P010";
    Hsv888 = 0x37, "HSV_888";
    R8 = 0x38, "R_8";
    R16Uint = 0x39, "R_16_UINT";
    Rg1616Uint = 0x3A, "RG_1616_UINT";
    Rgba10101010 = 0x3B, "RGBA_10101010";
}

/// Errors of format-name parsing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormatError {
    /// Neither a V5 AIDL name, a known alias nor a number naming a V5 format.
    #[error("unknown pixel format {0:?}")]
    Unknown(String),
}

impl Format {
    /// Looks a format up by AIDL name (case-insensitive; `HAL_PIXEL_FORMAT_` and
    /// `PixelFormat::` prefixes ignored), by a common alias (`NV21`, `NV16`, `YUY2`, `P010`,
    /// `R8`) or by number (`0x1`, `842094169`).
    pub fn from_name(name: &str) -> Option<Format> {
        let trimmed = name.trim();
        if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
            let raw = match trimmed.strip_prefix("0x").or_else(|| trimmed.strip_prefix("0X")) {
                Some(hex) => i32::from_str_radix(hex, 16).ok()?,
                None => trimmed.parse().ok()?,
            };
            return Format::from_raw(raw);
        }
        let mut upper = trimmed.to_ascii_uppercase();
        for prefix in ["HAL_PIXEL_FORMAT_", "PIXELFORMAT::", "PIXELFORMAT."] {
            if let Some(rest) = upper.strip_prefix(prefix) {
                upper = rest.to_owned();
            }
        }
        if let Some(f) = Format::ALL.iter().copied().find(|f| f.name() == upper) {
            return Some(f);
        }
        let alias = match upper.as_str() {
            "NV21" | "YCRCB_420_SP" => Format::Ycrcb420Sp,
            "NV16" => Format::Ycbcr422Sp,
            "YUY2" | "YUYV" => Format::Ycbcr422I,
            "P010" => Format::YcbcrP010,
            "R8" => Format::R8,
            "RGBA_FP16" | "FP16" => Format::RgbaFp16,
            _ => return None,
        };
        Some(alias)
    }

    /// Whether the format is one of the YUV families (planar, semi-planar or interleaved).
    pub const fn is_yuv(self) -> bool {
        matches!(
            self,
            Format::Ycbcr422Sp
                | Format::Ycrcb420Sp
                | Format::Ycbcr422I
                | Format::Ycbcr420_888
                | Format::Yv12
                | Format::YcbcrP010
                | Format::Y8
                | Format::Y16
        )
    }
}

impl FromStr for Format {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, FormatError> {
        Format::from_name(s).ok_or_else(|| FormatError::Unknown(s.to_owned()))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Prints a raw wire value by name when it has one, else as hex (for logs of bad requests).
#[derive(Clone, Copy, Debug)]
pub struct RawFormat(pub i32);

impl fmt::Display for RawFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Format::from_raw(self.0) {
            Some(format) => f.write_str(format.name()),
            None => write!(f, "{:#x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_the_reference_table() {
        let expected: &[(&str, i32)] = &[
            ("UNSPECIFIED", 0),
            ("RGBA_8888", 1),
            ("RGBX_8888", 2),
            ("RGB_888", 3),
            ("RGB_565", 4),
            ("BGRA_8888", 5),
            ("YCBCR_422_SP", 0x10),
            ("YCRCB_420_SP", 0x11),
            ("YCBCR_422_I", 0x14),
            ("RGBA_FP16", 0x16),
            ("RAW16", 0x20),
            ("BLOB", 0x21),
            ("IMPLEMENTATION_DEFINED", 0x22),
            ("YCBCR_420_888", 0x23),
            ("RAW_OPAQUE", 0x24),
            ("RAW10", 0x25),
            ("RAW12", 0x26),
            ("RGBA_1010102", 0x2B),
            ("Y8", 0x20203859),
            ("Y16", 0x20363159),
            ("YV12", 0x32315659),
            ("DEPTH_16", 0x30),
            ("DEPTH_24", 0x31),
            ("DEPTH_24_STENCIL_8", 0x32),
            ("DEPTH_32F", 0x33),
            ("DEPTH_32F_STENCIL_8", 0x34),
            ("STENCIL_8", 0x35),
            ("YCBCR_P010", 0x36),
            ("HSV_888", 0x37),
            ("R_8", 0x38),
            ("R_16_UINT", 0x39),
            ("RG_1616_UINT", 0x3A),
            ("RGBA_10101010", 0x3B),
        ];
        let actual: Vec<_> = Format::ALL.iter().map(|f| (f.name(), f.raw())).collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn every_format_round_trips_by_name_and_value() {
        for &f in Format::ALL {
            assert_eq!(Format::from_raw(f.raw()), Some(f));
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
    }

    #[test]
    fn formats_newer_than_v5_and_vendor_values_are_unknown() {
        for raw in [0x3C, 0x44, 0x100, 0x1FF, i32::MAX, -1] {
            assert_eq!(Format::from_raw(raw), None, "{raw:#x}");
        }
        assert_eq!(RawFormat(0x3C).to_string(), "0x3c");
    }

    #[test]
    fn aliases_and_numbers_parse() {
        assert_eq!("HAL_PIXEL_FORMAT_RGBA_8888".parse(), Ok(Format::Rgba8888));
        assert_eq!("nv21".parse(), Ok(Format::Ycrcb420Sp));
        assert_eq!("0x32315659".parse(), Ok(Format::Yv12));
        assert!("RGBA_9999".parse::<Format>().is_err());
    }
}
