//! Descriptor validation: a wire `BufferDescriptorInfo` becomes a typed [`Request`].
//!
//! Every check that needs no heap happens here, in a fixed order so the answer is
//! deterministic: malformed fields first (`BAD_DESCRIPTOR`: non-positive dimensions,
//! UNSPECIFIED format, negative `reservedSize`), then permanent refusals (`UNSUPPORTED`):
//! unknown format, undefined usage (undefined CPU field values, reserved bits, vendor bits the
//! board does not claim; the retired gralloc0 bits 10 and 13 are accepted, kept in the handle
//! and ignored by routing), options, format/usage combinations, and the board's limits on
//! width (not for BLOB and RAW_OPAQUE, whose width is a byte count), height and reserved
//! size. Size and count caps need the layout and are checked by the allocator, still before
//! any heap is touched.
//!
//! Additional options: only `android.hardware.graphics.common.Dataspace` is accepted (as
//! minigbm does), once, with a value that fits the AIDL `int` enum; its value is kept in the
//! request but does not change the layout. Any other name is `UNSUPPORTED`. More entries
//! than the board's `max_options` are refused before a single name is read.
//!
//! Format/usage combinations refused (mirroring libnativewindow's client-side checks), each
//! one [`Combination`] value: PROTECTED with CPU access; SENSOR_DIRECT_DATA without BLOB; BLOB
//! with a height or layer count other than 1, or with GPU image or video-encoder usage; YUV
//! formats (and IMPLEMENTATION_DEFINED resolved to YCBCR_420_888) with more than one layer;
//! YUV formats with a cube map or a mipmap chain; a cube map that is not square or whose
//! layer count is not a multiple of 6. The resulting [`Image`] is valid by construction, so
//! the layout does not check any of this again.
//!
//! IMPLEMENTATION_DEFINED is served with or without CPU usage (Android 15 dropped the rule
//! forbidding CPU access): [`implementation_defined_layout`] picks the concrete layout from
//! the usage alone, so CPU bits never change it. The handle keeps the requested format and
//! says which layout it got in its planes (the first plane's component: Y or RGBA).

use std::borrow::Cow;
use std::num::NonZeroU32;

use hal_interface::aidl::BufferDescriptorInfo;
use hal_interface::usage::bits;
use hal_interface::wire::{descriptor_name, MAX_DESCRIPTOR_NAME_LEN};
use hal_interface::{Format, Usage};
use usage_map::{Limits, UsageMap};

use crate::error::{AllocError, Cap, Combination, DescriptorError, Unsupported};

/// The only additional option accepted.
pub const DATASPACE_OPTION: &str = "android.hardware.graphics.common.Dataspace";

/// Longest option name quoted in an error message, in bytes.
const QUOTED_OPTION_NAME_LEN: usize = 64;

/// Usage a BLOB buffer may not have: it is a byte array, not an image.
const BLOB_FORBIDDEN: u64 = bits::GPU_TEXTURE
    | bits::GPU_RENDER_TARGET
    | bits::GPU_MIPMAP_COMPLETE
    | bits::GPU_CUBE_MAP
    | bits::VIDEO_ENCODER;

/// The descriptor name: at most 127 bytes, up to the first NUL (byte 127 is never read).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DescriptorName {
    bytes: [u8; MAX_DESCRIPTOR_NAME_LEN],
    len: u8,
}

impl DescriptorName {
    fn from_wire(name: &[u8; 128]) -> Self {
        let used = descriptor_name(name);
        let mut bytes = [0u8; MAX_DESCRIPTOR_NAME_LEN];
        let len = used.len().min(MAX_DESCRIPTOR_NAME_LEN);
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), used.get(..len)) {
            dst.copy_from_slice(src);
        }
        // len ≤ 127 fits a u8.
        Self { bytes, len: u8::try_from(len).unwrap_or(u8::MAX) }
    }

    /// The name bytes (no NUL, any encoding).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The name as text; invalid UTF-8 is replaced (no copy when the name is valid).
    pub fn to_str_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }

    /// Whether the name is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for DescriptorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_str_lossy())
    }
}

/// Usage bits that make IMPLEMENTATION_DEFINED a YUV (NV12) buffer.
const YUV_PRODUCERS: u64 = bits::VIDEO_ENCODER
    | bits::VIDEO_DECODER
    | bits::CAMERA_OUTPUT
    | bits::CAMERA_INPUT
    | bits::HW_IMAGE_ENCODER;

/// The concrete layout IMPLEMENTATION_DEFINED gets for `usage`: YCBCR_420_888 (NV12) when a
/// video, camera or image-encoder bit is set, else RGBA_8888. CPU bits play no part, so a
/// producer that adds CPU access sees the same layout.
pub fn implementation_defined_layout(usage: Usage) -> Format {
    if usage.intersects(YUV_PRODUCERS) {
        Format::Ycbcr420_888
    } else {
        Format::Rgba8888
    }
}

/// The image part of a validated request: what the layout depends on.
///
/// Constructed only valid ([`Image::new`]): dimensions ≥ 1, a format other than UNSPECIFIED,
/// IMPLEMENTATION_DEFINED resolved to the format whose layout it gets, and every
/// format/usage combination rule of the standard kept. The layout relies on this and does
/// not check these again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image {
    format: Format,
    layout_format: Format,
    usage: Usage,
    width: NonZeroU32,
    height: NonZeroU32,
    layers: NonZeroU32,
    reserved_size: u64,
}

impl Image {
    /// An image of `format` with `usage`, `width × height` pixels (bytes × 1 for BLOB),
    /// `layers` layers and a reserved region of `reserved_size` bytes.
    ///
    /// # Errors
    /// [`DescriptorError::UnspecifiedFormat`] for UNSPECIFIED, [`Unsupported::Combination`]
    /// for a format/usage or dimension combination the standard forbids.
    pub fn new(
        format: Format,
        usage: Usage,
        width: NonZeroU32,
        height: NonZeroU32,
        layers: NonZeroU32,
        reserved_size: u64,
    ) -> Result<Image, AllocError> {
        let refuse = |rule| Err(AllocError::from(Unsupported::Combination { format, rule }));
        let layout_format = match format {
            Format::Unspecified => return Err(DescriptorError::UnspecifiedFormat.into()),
            Format::ImplementationDefined => implementation_defined_layout(usage),
            other => other,
        };
        let image = Image { format, layout_format, usage, width, height, layers, reserved_size };
        match image.broken_combination() {
            Some(rule) => refuse(rule),
            None => Ok(image),
        }
    }

    /// The first combination rule the image breaks, in the order the module documents.
    fn broken_combination(&self) -> Option<Combination> {
        let Image { format, layout_format, usage, .. } = *self;
        let (width, height, layers) = (self.width(), self.height(), self.layers());
        let rules = [
            (
                usage.has(hal_interface::UsageFlag::Protected) && usage.has_cpu_access(),
                Combination::ProtectedWithCpu,
            ),
            (
                usage.intersects(bits::SENSOR_DIRECT_DATA) && format != Format::Blob,
                Combination::SensorDirectWithoutBlob,
            ),
            (format == Format::Blob && (height != 1 || layers != 1), Combination::BlobShape),
            (
                format == Format::Blob && usage.intersects(BLOB_FORBIDDEN),
                Combination::BlobImageUsage,
            ),
            // On the resolved format: IMPLEMENTATION_DEFINED that becomes NV12 takes one layer.
            (layout_format.is_yuv() && layers != 1, Combination::YuvLayers),
            (
                format.is_yuv() && usage.intersects(bits::GPU_CUBE_MAP | bits::GPU_MIPMAP_COMPLETE),
                Combination::YuvCubeOrMipmap,
            ),
            (usage.intersects(bits::GPU_CUBE_MAP) && width != height, Combination::CubeNotSquare),
            (
                usage.intersects(bits::GPU_CUBE_MAP) && !layers.is_multiple_of(6),
                Combination::CubeLayers,
            ),
        ];
        rules.into_iter().find_map(|(broken, rule)| broken.then_some(rule))
    }

    /// The requested format (never UNSPECIFIED).
    pub fn format(&self) -> Format {
        self.format
    }

    /// The format whose layout the image gets: the requested one, or for
    /// IMPLEMENTATION_DEFINED YCBCR_420_888 when a video, camera or image-encoder bit is set
    /// and RGBA_8888 otherwise. Never UNSPECIFIED or IMPLEMENTATION_DEFINED.
    pub fn layout_format(&self) -> Format {
        self.layout_format
    }

    /// The usage word (checked).
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Pixels per row (bytes for BLOB and RAW_OPAQUE), ≥ 1.
    pub fn width(&self) -> u32 {
        self.width.get()
    }

    /// Rows, ≥ 1.
    pub fn height(&self) -> u32 {
        self.height.get()
    }

    /// Image layers, ≥ 1.
    pub fn layers(&self) -> u32 {
        self.layers.get()
    }

    /// Bytes of the reserved region (mapper `getReservedRegion`).
    pub fn reserved_size(&self) -> u64 {
        self.reserved_size
    }
}

/// A validated descriptor: every field is in range for this board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    image: Image,
    name: DescriptorName,
    dataspace: Option<i32>,
}

impl Request {
    /// Validates `info` against the standard and the board's usage map.
    ///
    /// # Errors
    /// [`AllocError::Descriptor`] for malformed fields, [`AllocError::Unsupported`] for
    /// well-formed requests no heap could ever serve, [`AllocError::OverCap`] for values
    /// above the board's limits.
    pub fn from_descriptor(
        info: &BufferDescriptorInfo,
        map: &UsageMap,
    ) -> Result<Request, AllocError> {
        let width = positive("width", info.width)?;
        let height = positive("height", info.height)?;
        let layers = positive("layerCount", info.layerCount)?;
        // UNSPECIFIED is malformed (BAD_DESCRIPTOR) whatever else is wrong, so it is told
        // apart here, before the permanent refusals; `Image::new` refuses it the same way.
        if info.format.0 == Format::Unspecified.raw() {
            return Err(DescriptorError::UnspecifiedFormat.into());
        }
        let reserved_size = u64::try_from(info.reservedSize)
            .map_err(|_| DescriptorError::NegativeReservedSize(info.reservedSize))?;

        let format =
            Format::from_raw(info.format.0).ok_or(Unsupported::UnknownFormat(info.format.0))?;
        let usage = parse_usage(info.usage.0, map.claimed_vendor_bits())?;
        let limits = map.limits();
        let dataspace = check_options(info, limits)?;
        let image = Image::new(format, usage, width, height, layers, reserved_size)?;
        check_limits(&image, limits)?;
        Ok(Request { image, name: DescriptorName::from_wire(&info.name), dataspace })
    }

    /// The image part (format, usage, dimensions, reserved size).
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// The requested format.
    pub fn format(&self) -> Format {
        self.image.format()
    }

    /// The usage word (checked).
    pub fn usage(&self) -> Usage {
        self.image.usage()
    }

    /// Width in pixels (bytes for BLOB), ≥ 1.
    pub fn width(&self) -> u32 {
        self.image.width()
    }

    /// Height in rows, ≥ 1.
    pub fn height(&self) -> u32 {
        self.image.height()
    }

    /// Layer count, ≥ 1.
    pub fn layers(&self) -> u32 {
        self.image.layers()
    }

    /// Bytes of the reserved region.
    pub fn reserved_size(&self) -> u64 {
        self.image.reserved_size()
    }

    /// The debug name.
    pub fn name(&self) -> &DescriptorName {
        &self.name
    }

    /// The value of the Dataspace option, when given.
    pub fn dataspace(&self) -> Option<i32> {
        self.dataspace
    }
}

/// The `count` of an allocate call, read once, before the descriptor: negative is
/// `BAD_DESCRIPTOR` whatever the descriptor says. The board's cap on it is checked with the
/// per-call byte cap, after the layout.
///
/// # Errors
/// [`DescriptorError::NegativeCount`].
pub fn parse_count(count: i32) -> Result<u32, DescriptorError> {
    u32::try_from(count).map_err(|_| DescriptorError::NegativeCount(count))
}

fn positive(field: &'static str, value: i32) -> Result<NonZeroU32, DescriptorError> {
    u32::try_from(value)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or(DescriptorError::NotPositive { field, value })
}

/// The wire usage word, defined by the standard and with only the vendor bits the board
/// claims.
fn parse_usage(raw: i64, claimed_vendor_bits: u64) -> Result<Usage, Unsupported> {
    let usage = Usage::from_wire(raw)
        .map_err(|source| Unsupported::Usage { usage: Usage::from_wire_raw(raw).bits(), source })?;
    let unclaimed = usage.vendor_bits() & !claimed_vendor_bits;
    if unclaimed != 0 {
        return Err(Unsupported::VendorBits { bits: unclaimed });
    }
    Ok(usage)
}

fn check_options(info: &BufferDescriptorInfo, limits: &Limits) -> Result<Option<i32>, AllocError> {
    let options = &info.additionalOptions;
    let max = usize::try_from(limits.max_options).unwrap_or(usize::MAX);
    if options.len() > max {
        return Err(AllocError::OverCap {
            cap: Cap::Options,
            value: u64::try_from(options.len()).unwrap_or(u64::MAX),
            limit: u64::from(limits.max_options),
        });
    }
    let mut dataspace = None;
    for option in options {
        if option.name != DATASPACE_OPTION {
            return Err(Unsupported::UnknownOption(quote_option(&option.name)).into());
        }
        if dataspace.is_some() {
            return Err(Unsupported::DuplicateOption(DATASPACE_OPTION).into());
        }
        let value = i32::try_from(option.value).map_err(|_| Unsupported::OptionValue {
            name: DATASPACE_OPTION,
            value: option.value,
        })?;
        dataspace = Some(value);
    }
    Ok(dataspace)
}

/// The start of an option name, for an error message (names may be 64 KiB long).
fn quote_option(name: &str) -> String {
    let mut end = name.len().min(QUOTED_OPTION_NAME_LEN);
    while !name.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    name.get(..end).unwrap_or_default().to_owned()
}

fn check_limits(image: &Image, limits: &Limits) -> Result<(), AllocError> {
    let over = |cap, value: u64, limit: u64| Err(AllocError::OverCap { cap, value, limit });
    // BLOB and RAW_OPAQUE widths are byte counts (the camera framework allocates both as
    // `size x 1`), bounded by the per-buffer size cap only.
    let width_is_bytes = matches!(image.format(), Format::Blob | Format::RawOpaque);
    if !width_is_bytes && image.width() > limits.max_width {
        return over(Cap::Width, image.width().into(), limits.max_width.into());
    }
    if image.height() > limits.max_height {
        return over(Cap::Height, image.height().into(), limits.max_height.into());
    }
    if image.reserved_size() > limits.max_reserved_size {
        return over(Cap::ReservedSize, image.reserved_size(), limits.max_reserved_size);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use hal_interface::aidl::{BufferUsage, ExtendableType, PixelFormat};
    use hal_interface::usage::UsageError;

    const GPU: u64 = bits::GPU_TEXTURE;

    fn host_board() -> UsageMap {
        let board = concat!(env!("CARGO_MANIFEST_DIR"), "/../usage-map/boards/host.toml");
        UsageMap::load(std::path::Path::new(board)).unwrap()
    }

    fn info(width: i32, height: i32, layers: i32, format: i32, usage: u64) -> BufferDescriptorInfo {
        BufferDescriptorInfo {
            width,
            height,
            layerCount: layers,
            format: PixelFormat(format),
            usage: BufferUsage(Usage::from_bits(usage).to_wire()),
            ..Default::default()
        }
    }

    fn rgba(usage: u64) -> BufferDescriptorInfo {
        info(64, 64, 1, Format::Rgba8888.raw(), usage)
    }

    fn option(name: &str, value: i64) -> ExtendableType {
        ExtendableType { name: name.to_owned(), value }
    }

    fn nz(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    /// Every descriptor rule has its own error value, and each one is reachable.
    #[test]
    fn each_descriptor_rule_is_one_reachable_error() {
        let map = host_board();
        let mut negative_reserved = rgba(GPU);
        negative_reserved.reservedSize = -1;
        let mut unknown_option = rgba(GPU);
        unknown_option.additionalOptions = vec![option("vendor.foo", 1)];
        let mut twice = rgba(GPU);
        twice.additionalOptions = vec![option(DATASPACE_OPTION, 0), option(DATASPACE_OPTION, 0)];
        let mut out_of_range = rgba(GPU);
        out_of_range.additionalOptions = vec![option(DATASPACE_OPTION, i64::MAX)];
        let cases: Vec<(BufferDescriptorInfo, AllocError)> = vec![
            (
                info(0, 64, 1, Format::Rgba8888.raw(), GPU),
                DescriptorError::NotPositive { field: "width", value: 0 }.into(),
            ),
            (
                info(64, 64, -1, Format::Rgba8888.raw(), GPU),
                DescriptorError::NotPositive { field: "layerCount", value: -1 }.into(),
            ),
            (info(64, 64, 1, 0, GPU), DescriptorError::UnspecifiedFormat.into()),
            (negative_reserved, DescriptorError::NegativeReservedSize(-1).into()),
            (info(64, 64, 1, 0x7fff_0000, GPU), Unsupported::UnknownFormat(0x7fff_0000).into()),
            (
                rgba(1 << 19),
                Unsupported::Usage { usage: 1 << 19, source: UsageError::ReservedBits(1 << 19) }
                    .into(),
            ),
            (rgba(GPU | 1 << 28), Unsupported::VendorBits { bits: 1 << 28 }.into()),
            (unknown_option, Unsupported::UnknownOption("vendor.foo".into()).into()),
            (twice, Unsupported::DuplicateOption(DATASPACE_OPTION).into()),
            (
                out_of_range,
                Unsupported::OptionValue { name: DATASPACE_OPTION, value: i64::MAX }.into(),
            ),
            (
                rgba(bits::PROTECTED | bits::CPU_READ_OFTEN),
                Unsupported::Combination {
                    format: Format::Rgba8888,
                    rule: Combination::ProtectedWithCpu,
                }
                .into(),
            ),
            (
                info(64, 1 << 20, 1, Format::Rgba8888.raw(), GPU),
                AllocError::OverCap {
                    cap: Cap::Height,
                    value: 1 << 20,
                    limit: map.limits().max_height.into(),
                },
            ),
        ];
        for (info, expected) in cases {
            assert_eq!(Request::from_descriptor(&info, &map), Err(expected), "{info:?}");
        }
        assert_eq!(parse_count(-1), Err(DescriptorError::NegativeCount(-1)));
        assert_eq!(parse_count(0), Ok(0));
    }

    /// Every format/usage combination rule is one `Combination` value, and each is reachable.
    #[test]
    fn each_combination_rule_is_one_reachable_value() {
        let cases = [
            (
                Format::Rgba8888,
                bits::PROTECTED | bits::CPU_WRITE_OFTEN,
                (64, 64, 1),
                Combination::ProtectedWithCpu,
            ),
            (
                Format::Rgba8888,
                bits::SENSOR_DIRECT_DATA,
                (64, 64, 1),
                Combination::SensorDirectWithoutBlob,
            ),
            (Format::Blob, bits::CPU_READ_OFTEN, (64, 2, 1), Combination::BlobShape),
            (Format::Blob, bits::CPU_READ_OFTEN, (64, 1, 2), Combination::BlobShape),
            (Format::Blob, bits::GPU_TEXTURE, (64, 1, 1), Combination::BlobImageUsage),
            (Format::Yv12, GPU, (64, 64, 2), Combination::YuvLayers),
            (
                Format::ImplementationDefined,
                bits::VIDEO_DECODER,
                (64, 64, 2),
                Combination::YuvLayers,
            ),
            (
                Format::Ycbcr420_888,
                bits::GPU_MIPMAP_COMPLETE,
                (64, 64, 1),
                Combination::YuvCubeOrMipmap,
            ),
            (Format::Rgba8888, bits::GPU_CUBE_MAP, (64, 32, 6), Combination::CubeNotSquare),
            (Format::Rgba8888, bits::GPU_CUBE_MAP, (64, 64, 4), Combination::CubeLayers),
        ];
        for (format, usage, (w, h, l), rule) in cases {
            let image = Image::new(format, Usage::from_bits(usage), nz(w), nz(h), nz(l), 0);
            assert_eq!(
                image,
                Err(Unsupported::Combination { format, rule }.into()),
                "{format} {usage:#x} {w}x{h}x{l}"
            );
        }
        let unspecified = Image::new(Format::Unspecified, Usage::NONE, nz(1), nz(1), nz(1), 0);
        assert_eq!(unspecified, Err(DescriptorError::UnspecifiedFormat.into()));
        let cube = Image::new(
            Format::Rgba8888,
            Usage::from_bits(bits::GPU_CUBE_MAP),
            nz(8),
            nz(8),
            nz(12),
            0,
        );
        assert!(cube.is_ok(), "{cube:?}");
    }

    /// libui's retired gralloc0 bits are accepted and kept in the request's word (the handle
    /// carries what the caller sent); any reserved bit beside them is still refused.
    #[test]
    fn retired_gralloc0_bits_are_accepted_and_kept() {
        let map = host_board();
        for retired in [bits::HW_2D, bits::EXTERNAL_DISP, bits::RETIRED] {
            let request = Request::from_descriptor(&rgba(GPU | retired), &map).unwrap();
            assert_eq!(request.usage().bits(), GPU | retired);
            assert_eq!(request.usage().routing().bits(), GPU);
            let reserved = Request::from_descriptor(&rgba(GPU | retired | 1 << 33), &map);
            assert_eq!(
                reserved,
                Err(Unsupported::Usage {
                    usage: GPU | retired | 1 << 33,
                    source: UsageError::ReservedBits(1 << 33)
                }
                .into())
            );
        }
    }

    #[test]
    fn descriptor_name_stops_at_nul_and_never_reads_byte_127() {
        let mut wire = [b'a'; 128];
        assert_eq!(DescriptorName::from_wire(&wire).as_bytes().len(), 127);
        wire[3] = 0;
        assert_eq!(DescriptorName::from_wire(&wire).as_bytes(), b"aaa");
        assert!(DescriptorName::from_wire(&[0; 128]).is_empty());
    }

    #[test]
    fn non_utf8_names_are_shown_lossily() {
        let mut wire = [0u8; 128];
        wire[..3].copy_from_slice(&[0xff, b'x', 0xfe]);
        assert_eq!(DescriptorName::from_wire(&wire).to_str_lossy(), "\u{fffd}x\u{fffd}");
    }

    #[test]
    fn long_option_names_are_cut_at_a_char_boundary() {
        let name = "é".repeat(100);
        let quoted = quote_option(&name);
        assert!(quoted.len() <= QUOTED_OPTION_NAME_LEN);
        assert_eq!(quoted, "é".repeat(32));
    }
}
