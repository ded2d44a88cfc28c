//! Typed view over the 64-bit `BufferUsage` word.
//!
//! Upstream: `android/hardware/graphics/common/BufferUsage.aidl` (graphics.common V5) and the
//! gralloc0 `GRALLOC_USAGE_*` names of `hardware/gralloc.h`. The CPU read and write fields are
//! 4-bit enumerations (NEVER=0, RARELY=2, OFTEN=3), not flags: they are decoded as fields and
//! never tested bit by bit.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Raw bit values of the AIDL `BufferUsage` enum.
pub mod bits {
    /// Mask of the 4-bit CPU read field.
    pub const CPU_READ_MASK: u64 = 0xf;
    /// CPU read field: never.
    pub const CPU_READ_NEVER: u64 = 0;
    /// CPU read field: rarely.
    pub const CPU_READ_RARELY: u64 = 2;
    /// CPU read field: often.
    pub const CPU_READ_OFTEN: u64 = 3;
    /// Mask of the 4-bit CPU write field.
    pub const CPU_WRITE_MASK: u64 = 0xf << 4;
    /// CPU write field: never.
    pub const CPU_WRITE_NEVER: u64 = 0;
    /// CPU write field: rarely.
    pub const CPU_WRITE_RARELY: u64 = 2 << 4;
    /// CPU write field: often.
    pub const CPU_WRITE_OFTEN: u64 = 3 << 4;
    /// Sampled by the GPU.
    pub const GPU_TEXTURE: u64 = 1 << 8;
    /// Rendered to by the GPU.
    pub const GPU_RENDER_TARGET: u64 = 1 << 9;
    /// A hardware composer overlay layer.
    pub const COMPOSER_OVERLAY: u64 = 1 << 11;
    /// The composer's client target (gralloc0 `HW_FB`).
    pub const COMPOSER_CLIENT_TARGET: u64 = 1 << 12;
    /// Hardware-protected content; never CPU-accessible.
    pub const PROTECTED: u64 = 1 << 14;
    /// A composer cursor layer.
    pub const COMPOSER_CURSOR: u64 = 1 << 15;
    /// Video encoder input.
    pub const VIDEO_ENCODER: u64 = 1 << 16;
    /// Camera HAL output (gralloc0 `HW_CAMERA_WRITE`).
    pub const CAMERA_OUTPUT: u64 = 1 << 17;
    /// Camera HAL input (gralloc0 `HW_CAMERA_READ`).
    pub const CAMERA_INPUT: u64 = 1 << 18;
    /// RenderScript allocation.
    pub const RENDERSCRIPT: u64 = 1 << 20;
    /// Video decoder output.
    pub const VIDEO_DECODER: u64 = 1 << 22;
    /// Sensor direct report output.
    pub const SENSOR_DIRECT_DATA: u64 = 1 << 23;
    /// GL shader storage or uniform buffer.
    pub const GPU_DATA_BUFFER: u64 = 1 << 24;
    /// Cube map texture.
    pub const GPU_CUBE_MAP: u64 = 1 << 25;
    /// Complete mipmap hierarchy.
    pub const GPU_MIPMAP_COMPLETE: u64 = 1 << 26;
    /// HEIC encoder input.
    pub const HW_IMAGE_ENCODER: u64 = 1 << 27;
    /// Bits 28-31, reserved for vendors.
    pub const VENDOR_MASK: u64 = 0xf << 28;
    /// Front-buffer rendering.
    pub const FRONT_BUFFER: u64 = 1 << 32;
    /// Bits 48-63, reserved for vendors.
    pub const VENDOR_MASK_HI: u64 = 0xffff << 48;

    /// Retired gralloc0 `GRALLOC_USAGE_HW_2D`.
    pub const HW_2D: u64 = 1 << 10;
    /// Retired gralloc0 `GRALLOC_USAGE_EXTERNAL_DISP`.
    pub const EXTERNAL_DISP: u64 = 1 << 13;

    /// Every standard bit, including both CPU fields.
    pub const STANDARD: u64 = 0x0000_0001_0FD7_DBFF;
    /// Retired gralloc0 bits (10, 13) that libui still passes through (`kRemovedUsageBits`
    /// of `Gralloc4.cpp`/`Gralloc5.cpp`): accepted, kept in the word, and ignored by routing.
    pub const RETIRED: u64 = HW_2D | EXTERNAL_DISP;
    /// Bits that must be zero (19, 21, 33-47).
    pub const RESERVED: u64 = 0x0000_FFFE_0028_0000;
    /// Both vendor ranges.
    pub const VENDOR: u64 = VENDOR_MASK | VENDOR_MASK_HI;

    const _: () = assert!(STANDARD & RESERVED == 0 && STANDARD & VENDOR == 0);
    const _: () = assert!(RESERVED & VENDOR == 0 && RETIRED & (STANDARD | RESERVED | VENDOR) == 0);
    const _: () = assert!(STANDARD | RETIRED | RESERVED | VENDOR == u64::MAX);
}

/// How often the CPU reads or writes a buffer: one 4-bit field of the usage word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuAccess {
    /// Field value 0.
    Never,
    /// Field value 2.
    Rarely,
    /// Field value 3.
    Often,
}

impl CpuAccess {
    fn from_field(value: u64) -> Option<Self> {
        match value {
            0 => Some(Self::Never),
            2 => Some(Self::Rarely),
            3 => Some(Self::Often),
            _ => None,
        }
    }

    /// The field value (0, 2 or 3).
    pub fn field(self) -> u64 {
        match self {
            Self::Never => 0,
            Self::Rarely => 2,
            Self::Often => 3,
        }
    }

    /// Lower-case name as written in board files (`never`, `rarely`, `often`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Rarely => "rarely",
            Self::Often => "often",
        }
    }
}

impl FromStr for CpuAccess {
    type Err = UsageError;
    fn from_str(s: &str) -> Result<Self, UsageError> {
        match s.to_ascii_lowercase().as_str() {
            "never" => Ok(Self::Never),
            "rarely" => Ok(Self::Rarely),
            "often" => Ok(Self::Often),
            _ => Err(UsageError::UnknownName(s.to_owned())),
        }
    }
}

/// One single-bit usage flag (everything in `BufferUsage` except the CPU fields and masks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum UsageFlag {
    GpuTexture,
    GpuRenderTarget,
    ComposerOverlay,
    ComposerClientTarget,
    Protected,
    ComposerCursor,
    VideoEncoder,
    CameraOutput,
    CameraInput,
    Renderscript,
    VideoDecoder,
    SensorDirectData,
    GpuDataBuffer,
    GpuCubeMap,
    GpuMipmapComplete,
    HwImageEncoder,
    FrontBuffer,
}

impl UsageFlag {
    /// Every flag, in bit order.
    pub const ALL: [UsageFlag; 17] = [
        Self::GpuTexture,
        Self::GpuRenderTarget,
        Self::ComposerOverlay,
        Self::ComposerClientTarget,
        Self::Protected,
        Self::ComposerCursor,
        Self::VideoEncoder,
        Self::CameraOutput,
        Self::CameraInput,
        Self::Renderscript,
        Self::VideoDecoder,
        Self::SensorDirectData,
        Self::GpuDataBuffer,
        Self::GpuCubeMap,
        Self::GpuMipmapComplete,
        Self::HwImageEncoder,
        Self::FrontBuffer,
    ];

    /// The flag's bit in the usage word.
    pub fn bit(self) -> u64 {
        match self {
            Self::GpuTexture => bits::GPU_TEXTURE,
            Self::GpuRenderTarget => bits::GPU_RENDER_TARGET,
            Self::ComposerOverlay => bits::COMPOSER_OVERLAY,
            Self::ComposerClientTarget => bits::COMPOSER_CLIENT_TARGET,
            Self::Protected => bits::PROTECTED,
            Self::ComposerCursor => bits::COMPOSER_CURSOR,
            Self::VideoEncoder => bits::VIDEO_ENCODER,
            Self::CameraOutput => bits::CAMERA_OUTPUT,
            Self::CameraInput => bits::CAMERA_INPUT,
            Self::Renderscript => bits::RENDERSCRIPT,
            Self::VideoDecoder => bits::VIDEO_DECODER,
            Self::SensorDirectData => bits::SENSOR_DIRECT_DATA,
            Self::GpuDataBuffer => bits::GPU_DATA_BUFFER,
            Self::GpuCubeMap => bits::GPU_CUBE_MAP,
            Self::GpuMipmapComplete => bits::GPU_MIPMAP_COMPLETE,
            Self::HwImageEncoder => bits::HW_IMAGE_ENCODER,
            Self::FrontBuffer => bits::FRONT_BUFFER,
        }
    }

    /// The AIDL name (`"COMPOSER_CLIENT_TARGET"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::GpuTexture => "GPU_TEXTURE",
            Self::GpuRenderTarget => "GPU_RENDER_TARGET",
            Self::ComposerOverlay => "COMPOSER_OVERLAY",
            Self::ComposerClientTarget => "COMPOSER_CLIENT_TARGET",
            Self::Protected => "PROTECTED",
            Self::ComposerCursor => "COMPOSER_CURSOR",
            Self::VideoEncoder => "VIDEO_ENCODER",
            Self::CameraOutput => "CAMERA_OUTPUT",
            Self::CameraInput => "CAMERA_INPUT",
            Self::Renderscript => "RENDERSCRIPT",
            Self::VideoDecoder => "VIDEO_DECODER",
            Self::SensorDirectData => "SENSOR_DIRECT_DATA",
            Self::GpuDataBuffer => "GPU_DATA_BUFFER",
            Self::GpuCubeMap => "GPU_CUBE_MAP",
            Self::GpuMipmapComplete => "GPU_MIPMAP_COMPLETE",
            Self::HwImageEncoder => "HW_IMAGE_ENCODER",
            Self::FrontBuffer => "FRONT_BUFFER",
        }
    }

    /// Looks a flag up by its AIDL name or a gralloc0 alias (case-insensitive, an optional
    /// `GRALLOC_USAGE_` or `BufferUsage::` prefix is ignored).
    pub fn from_name(name: &str) -> Option<Self> {
        let upper = strip_prefixes(name).to_ascii_uppercase();
        if let Some(flag) = Self::ALL.into_iter().find(|f| f.name() == upper) {
            return Some(flag);
        }
        let flag = match upper.as_str() {
            "HW_TEXTURE" => Self::GpuTexture,
            "HW_RENDER" => Self::GpuRenderTarget,
            "HW_COMPOSER" => Self::ComposerOverlay,
            "HW_FB" => Self::ComposerClientTarget,
            "CURSOR" => Self::ComposerCursor,
            "HW_VIDEO_ENCODER" => Self::VideoEncoder,
            "HW_CAMERA_WRITE" => Self::CameraOutput,
            "HW_CAMERA_READ" => Self::CameraInput,
            _ => return None,
        };
        Some(flag)
    }
}

impl fmt::Display for UsageFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn strip_prefixes(name: &str) -> &str {
    let name = name.trim();
    for prefix in ["GRALLOC_USAGE_", "BufferUsage::", "BufferUsage.", "AHARDWAREBUFFER_USAGE_"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest;
        }
    }
    name
}

/// Errors of usage parsing and decoding.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsageError {
    /// A name that is neither an AIDL usage name nor a gralloc0 alias.
    #[error("unknown usage name {0:?}")]
    UnknownName(String),
    /// A CPU read or write field holds a value other than 0, 2 or 3.
    #[error("cpu {field} field holds undefined value {value}")]
    UndefinedCpuField {
        /// `read` or `write`.
        field: &'static str,
        /// The field value (1 or 4-15).
        value: u64,
    },
    /// Reserved bits are set.
    #[error("reserved usage bits {0:#x} are set")]
    ReservedBits(u64),
    /// A number that does not parse as a usage word.
    #[error("invalid usage number {0:?}")]
    BadNumber(String),
}

/// The 64-bit usage word of a buffer descriptor.
///
/// [`Usage::from_wire`] is how a request's word enters: it returns only words the standard
/// defines (defined CPU field values, no reserved bit). [`Usage::from_bits`] and
/// [`Usage::from_wire_raw`] keep any bit pattern, for describing what arrived (logs, board
/// tools, handles read back) and for tests.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Usage(u64);

impl Usage {
    /// No usage at all (`CPU_READ_NEVER`).
    pub const NONE: Usage = Usage(0);

    /// Wraps raw bits.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// Parses the AIDL wire value (`BufferUsage.0`, an `i64`): only a word with defined CPU
    /// field values and no reserved bit. Vendor bits are kept; whether they are allowed is the
    /// board's decision. The retired gralloc0 bits ([`bits::RETIRED`]) are accepted and kept,
    /// as minigbm keeps the caller's word in its handle; [`Usage::routing`] drops them.
    ///
    /// # Errors
    /// [`UsageError::UndefinedCpuField`] or [`UsageError::ReservedBits`].
    pub fn from_wire(raw: i64) -> Result<Self, UsageError> {
        let usage = Self::from_wire_raw(raw);
        usage.defined()?;
        Ok(usage)
    }

    /// Wraps the AIDL wire value keeping any bit pattern, to describe what arrived.
    pub const fn from_wire_raw(raw: i64) -> Self {
        Self(u64::from_ne_bytes(raw.to_ne_bytes()))
    }

    /// The AIDL wire value.
    pub const fn to_wire(self) -> i64 {
        i64::from_ne_bytes(self.0.to_ne_bytes())
    }

    /// The raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether every bit of `mask` is set.
    pub const fn contains(self, mask: u64) -> bool {
        self.0 & mask == mask
    }

    /// Whether any bit of `mask` is set.
    pub const fn intersects(self, mask: u64) -> bool {
        self.0 & mask != 0
    }

    /// Whether `flag` is set.
    pub fn has(self, flag: UsageFlag) -> bool {
        self.intersects(flag.bit())
    }

    /// Adds bits.
    #[must_use]
    pub const fn with(self, mask: u64) -> Self {
        Self(self.0 | mask)
    }

    /// The CPU read field, if it holds a defined value.
    pub fn cpu_read(self) -> Option<CpuAccess> {
        CpuAccess::from_field(self.0 & bits::CPU_READ_MASK)
    }

    /// The CPU write field, if it holds a defined value.
    pub fn cpu_write(self) -> Option<CpuAccess> {
        CpuAccess::from_field((self.0 & bits::CPU_WRITE_MASK) >> 4)
    }

    /// Whether the CPU reads or writes the buffer at all (any non-zero CPU field).
    pub const fn has_cpu_access(self) -> bool {
        self.0 & (bits::CPU_READ_MASK | bits::CPU_WRITE_MASK) != 0
    }

    /// The word routing and layout decisions see: the retired gralloc0 bits cleared, so a
    /// request with them is served exactly as one without.
    #[must_use]
    pub const fn routing(self) -> Self {
        Self(self.0 & !bits::RETIRED)
    }

    /// The vendor bits (28-31, 48-63) that are set.
    pub const fn vendor_bits(self) -> u64 {
        self.0 & bits::VENDOR
    }

    /// Whether the word uses only defined standard values: defined CPU field values and no
    /// reserved bit.
    fn defined(self) -> Result<(), UsageError> {
        if self.cpu_read().is_none() {
            return Err(UsageError::UndefinedCpuField {
                field: "read",
                value: self.0 & bits::CPU_READ_MASK,
            });
        }
        if self.cpu_write().is_none() {
            return Err(UsageError::UndefinedCpuField {
                field: "write",
                value: (self.0 & bits::CPU_WRITE_MASK) >> 4,
            });
        }
        let reserved = self.0 & bits::RESERVED;
        if reserved != 0 {
            return Err(UsageError::ReservedBits(reserved));
        }
        Ok(())
    }

    /// The single-bit flags that are set, in bit order.
    pub fn flags(self) -> impl Iterator<Item = UsageFlag> {
        UsageFlag::ALL.into_iter().filter(move |f| self.has(*f))
    }

    /// Parses one name: an AIDL name (`GPU_TEXTURE`, `CPU_READ_OFTEN`), a gralloc0 alias
    /// (`HW_FB`, `SW_WRITE_RARELY`), or a number (`0x933`, `2304`).
    ///
    /// # Errors
    /// [`UsageError::UnknownName`] or [`UsageError::BadNumber`].
    pub fn parse_one(token: &str) -> Result<Self, UsageError> {
        let token = token.trim();
        if token.starts_with(|c: char| c.is_ascii_digit()) {
            return parse_number(token).map(Self);
        }
        if let Some(flag) = UsageFlag::from_name(token) {
            return Ok(Self(flag.bit()));
        }
        let upper = strip_prefixes(token).to_ascii_uppercase();
        let cpu = upper.strip_prefix("CPU_").or_else(|| upper.strip_prefix("SW_"));
        if let Some(rest) = cpu {
            let (shift, access) = if let Some(a) = rest.strip_prefix("READ_") {
                (0, a)
            } else if let Some(a) = rest.strip_prefix("WRITE_") {
                (4, a)
            } else {
                return Err(UsageError::UnknownName(token.to_owned()));
            };
            let access: CpuAccess =
                access.parse().map_err(|_| UsageError::UnknownName(token.to_owned()))?;
            return Ok(Self(access.field() << shift));
        }
        Err(UsageError::UnknownName(token.to_owned()))
    }

    /// Iterates over the names that describe this word: CPU fields first (omitted when NEVER),
    /// then flags; bits without a name are reported as one hex remainder.
    pub fn names(self) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = self.0;
        match self.cpu_read() {
            Some(CpuAccess::Never) => {}
            Some(a) => out.push(format!("CPU_READ_{}", a.name().to_ascii_uppercase())),
            None => out.push(format!("CPU_READ_{:#x}", self.0 & bits::CPU_READ_MASK)),
        }
        match self.cpu_write() {
            Some(CpuAccess::Never) => {}
            Some(a) => out.push(format!("CPU_WRITE_{}", a.name().to_ascii_uppercase())),
            None => out.push(format!("CPU_WRITE_{:#x}", (self.0 & bits::CPU_WRITE_MASK) >> 4)),
        }
        rest &= !(bits::CPU_READ_MASK | bits::CPU_WRITE_MASK);
        for flag in self.flags() {
            out.push(flag.name().to_owned());
            rest &= !flag.bit();
        }
        if rest != 0 {
            out.push(format!("{rest:#x}"));
        }
        out
    }
}

fn parse_number(token: &str) -> Result<u64, UsageError> {
    let parsed = match token.strip_prefix("0x").or_else(|| token.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => token.replace('_', "").parse(),
    };
    parsed.map_err(|_| UsageError::BadNumber(token.to_owned()))
}

impl FromStr for Usage {
    type Err = UsageError;

    /// Parses a list of names or numbers separated by `,` or `|` (`"HW_FB,CPU_READ_OFTEN"`,
    /// `"0x933"`). The empty string is `CPU_READ_NEVER`.
    fn from_str(s: &str) -> Result<Self, UsageError> {
        let mut acc = 0u64;
        for token in s.split([',', '|']).map(str::trim).filter(|t| !t.is_empty()) {
            acc |= Self::parse_one(token)?.0;
        }
        Ok(Self(acc))
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            return f.write_str("CPU_READ_NEVER");
        }
        f.write_str(&names.join("|"))
    }
}

impl fmt::Debug for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Usage({:#x}: {self})", self.0)
    }
}

impl From<u64> for Usage {
    fn from(bits: u64) -> Self {
        Self(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_bits_match_the_reference_table() {
        let expected: [(&str, u64); 17] = [
            ("GPU_TEXTURE", 0x100),
            ("GPU_RENDER_TARGET", 0x200),
            ("COMPOSER_OVERLAY", 0x800),
            ("COMPOSER_CLIENT_TARGET", 0x1000),
            ("PROTECTED", 0x4000),
            ("COMPOSER_CURSOR", 0x8000),
            ("VIDEO_ENCODER", 0x1_0000),
            ("CAMERA_OUTPUT", 0x2_0000),
            ("CAMERA_INPUT", 0x4_0000),
            ("RENDERSCRIPT", 0x10_0000),
            ("VIDEO_DECODER", 0x40_0000),
            ("SENSOR_DIRECT_DATA", 0x80_0000),
            ("GPU_DATA_BUFFER", 0x100_0000),
            ("GPU_CUBE_MAP", 0x200_0000),
            ("GPU_MIPMAP_COMPLETE", 0x400_0000),
            ("HW_IMAGE_ENCODER", 0x800_0000),
            ("FRONT_BUFFER", 0x1_0000_0000),
        ];
        for (flag, (name, bit)) in UsageFlag::ALL.into_iter().zip(expected) {
            assert_eq!((flag.name(), flag.bit()), (name, bit));
        }
    }

    #[test]
    fn masks_partition_the_word() {
        assert_eq!(bits::STANDARD, 0x0000_0001_0FD7_DBFF);
        assert_eq!(bits::RESERVED, 0x0000_FFFE_0028_0000);
        assert_eq!(bits::RETIRED, 0x2400);
        assert_eq!(bits::VENDOR, 0xFFFF_0000_F000_0000);
        let all_flags = UsageFlag::ALL.into_iter().fold(0, |a, f| a | f.bit());
        assert_eq!(all_flags | bits::CPU_READ_MASK | bits::CPU_WRITE_MASK, bits::STANDARD);
    }

    #[test]
    fn cpu_fields_decode_as_enumerations() {
        let u: Usage = "CPU_READ_OFTEN,CPU_WRITE_RARELY".parse().unwrap();
        assert_eq!(u.bits(), 0x23);
        assert_eq!(u.cpu_read(), Some(CpuAccess::Often));
        assert_eq!(u.cpu_write(), Some(CpuAccess::Rarely));
    }

    #[test]
    fn undefined_cpu_field_values_are_rejected() {
        for v in [1u64, 4, 5, 15] {
            assert!(matches!(
                Usage::from_wire(Usage::from_bits(v).to_wire()),
                Err(UsageError::UndefinedCpuField { field: "read", .. })
            ));
            assert!(matches!(
                Usage::from_wire(Usage::from_bits(v << 4).to_wire()),
                Err(UsageError::UndefinedCpuField { field: "write", .. })
            ));
        }
    }

    #[test]
    fn reserved_bits_are_rejected() {
        for bit in [19u32, 21, 33, 40, 47] {
            assert_eq!(Usage::from_wire(1 << bit), Err(UsageError::ReservedBits(1 << bit)));
            let with_retired = Usage::from_bits(1 << bit | bits::RETIRED).to_wire();
            assert_eq!(Usage::from_wire(with_retired), Err(UsageError::ReservedBits(1 << bit)));
        }
    }

    #[test]
    fn retired_gralloc0_bits_are_accepted_kept_and_not_routed() {
        for bit in [bits::HW_2D, bits::EXTERNAL_DISP, bits::RETIRED] {
            let word = bits::GPU_TEXTURE | bit;
            let u = Usage::from_wire(Usage::from_bits(word).to_wire()).unwrap();
            assert_eq!(u.bits(), word, "the word is kept as the caller sent it");
            assert_eq!(u.routing().bits(), bits::GPU_TEXTURE);
        }
    }

    #[test]
    fn gralloc0_aliases_parse_to_aidl_bits() {
        let cases = [
            ("HW_FB", 0x1000),
            ("HW_COMPOSER", 0x800),
            ("HW_TEXTURE", 0x100),
            ("HW_RENDER", 0x200),
            ("HW_CAMERA_WRITE", 0x2_0000),
            ("HW_CAMERA_READ", 0x4_0000),
            ("HW_VIDEO_ENCODER", 0x1_0000),
            ("GRALLOC_USAGE_SW_READ_OFTEN", 0x3),
            ("SW_WRITE_RARELY", 0x20),
        ];
        for (name, bits) in cases {
            assert_eq!(Usage::parse_one(name).unwrap().bits(), bits, "{name}");
        }
    }

    #[test]
    fn numbers_and_lists_parse() {
        assert_eq!("0x933".parse::<Usage>().unwrap().bits(), 0x933);
        assert_eq!("2304".parse::<Usage>().unwrap().bits(), 2304);
        assert_eq!("HW_FB|GPU_RENDER_TARGET".parse::<Usage>().unwrap().bits(), 0x1200);
        assert!(matches!("HW_FOO".parse::<Usage>(), Err(UsageError::UnknownName(_))));
    }

    #[test]
    fn display_round_trips_through_parse() {
        let u = Usage::from_bits(0x1A33);
        assert_eq!(
            u.to_string(),
            "CPU_READ_OFTEN|CPU_WRITE_OFTEN|GPU_RENDER_TARGET|COMPOSER_OVERLAY|COMPOSER_CLIENT_TARGET"
        );
        assert_eq!(u.to_string().parse::<Usage>().unwrap(), u);
        assert_eq!(Usage::from_bits(1 << 33 | 0x100).to_string(), "GPU_TEXTURE|0x200000000");
    }

    #[test]
    fn raw_wire_value_keeps_the_bit_pattern() {
        let u = Usage::from_wire_raw(-1);
        assert_eq!(u.bits(), u64::MAX);
        assert_eq!(u.to_wire(), -1);
    }

    #[test]
    fn defined_words_and_vendor_bits_parse_from_the_wire() {
        let word = bits::CPU_READ_OFTEN | bits::GPU_TEXTURE | bits::FRONT_BUFFER | bits::VENDOR;
        let u = Usage::from_wire(Usage::from_bits(word).to_wire()).unwrap();
        assert_eq!(u.bits(), word);
        assert_eq!(Usage::from_wire(0), Ok(Usage::NONE));
    }
}
