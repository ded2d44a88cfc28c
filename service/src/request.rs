//! Descriptor validation: a wire `BufferDescriptorInfo` becomes a typed [`Request`].
//!
//! Every check that needs no heap happens here, in a fixed order so the answer is
//! deterministic: malformed fields first (`BAD_DESCRIPTOR`: non-positive dimensions,
//! UNSPECIFIED format, negative `reservedSize`), then permanent refusals (`UNSUPPORTED`):
//! unknown format, undefined usage (undefined CPU field values, reserved bits, vendor bits the
//! board does not claim), options, format/usage combinations, and the board's limits on
//! width (not for BLOB and RAW_OPAQUE, whose width is a byte count), height and reserved
//! size. Size and count caps need the layout and are checked by the allocator, still before
//! any heap is touched.
//!
//! Additional options: only `android.hardware.graphics.common.Dataspace` is accepted (as
//! minigbm does), once, with a value that fits the AIDL `int` enum; its value is kept in the
//! request but does not change the layout. Any other name is `UNSUPPORTED`. More entries
//! than the board's `max_options` are refused before a single name is read.
//!
//! Format/usage combinations refused (mirroring libnativewindow's client-side checks):
//! PROTECTED with CPU access; SENSOR_DIRECT_DATA without BLOB; BLOB with a height or layer
//! count other than 1, or with GPU image or video-encoder usage; YUV formats with more than
//! one layer, a cube map or a mipmap chain; a cube map that is not square or whose layer
//! count is not a multiple of 6.

use std::borrow::Cow;

use hal_interface::aidl::BufferDescriptorInfo;
use hal_interface::usage::bits;
use hal_interface::wire::{descriptor_name, MAX_DESCRIPTOR_NAME_LEN};
use hal_interface::{Format, Usage};
use usage_map::{Limits, UsageMap};

use crate::error::{AllocError, Cap, DescriptorError, Unsupported};
use crate::layout::Image;

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
        if info.format.0 == Format::Unspecified.raw() {
            return Err(DescriptorError::UnspecifiedFormat.into());
        }
        let reserved_size = u64::try_from(info.reservedSize)
            .map_err(|_| DescriptorError::NegativeReservedSize(info.reservedSize))?;

        let format =
            Format::from_raw(info.format.0).ok_or(Unsupported::UnknownFormat(info.format.0))?;
        let usage = Usage::from_wire(info.usage.0);
        check_usage(usage, map.claimed_vendor_bits())?;
        let limits = map.limits();
        let dataspace = check_options(info, limits)?;
        let image = Image { format, usage, width, height, layers, reserved_size };
        check_combination(&image)?;
        check_limits(&image, limits)?;
        Ok(Request { image, name: DescriptorName::from_wire(&info.name), dataspace })
    }

    /// The image part (format, usage, dimensions, reserved size).
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// The requested format.
    pub fn format(&self) -> Format {
        self.image.format
    }

    /// The usage word (checked).
    pub fn usage(&self) -> Usage {
        self.image.usage
    }

    /// Width in pixels (bytes for BLOB), ≥ 1.
    pub fn width(&self) -> u32 {
        self.image.width
    }

    /// Height in rows, ≥ 1.
    pub fn height(&self) -> u32 {
        self.image.height
    }

    /// Layer count, ≥ 1.
    pub fn layers(&self) -> u32 {
        self.image.layers
    }

    /// Bytes of the reserved region.
    pub fn reserved_size(&self) -> u64 {
        self.image.reserved_size
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

/// Checks the `count` of an allocate call: negative is `BAD_DESCRIPTOR`, above the board's
/// cap is `UNSUPPORTED`.
///
/// # Errors
/// [`DescriptorError::NegativeCount`] or [`AllocError::OverCap`].
pub fn check_count(count: i32, limits: &Limits) -> Result<u32, AllocError> {
    let count = u32::try_from(count).map_err(|_| DescriptorError::NegativeCount(count))?;
    if count > limits.max_buffers_per_call {
        return Err(AllocError::OverCap {
            cap: Cap::BuffersPerCall,
            value: u64::from(count),
            limit: u64::from(limits.max_buffers_per_call),
        });
    }
    Ok(count)
}

fn positive(field: &'static str, value: i32) -> Result<u32, DescriptorError> {
    u32::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or(DescriptorError::NotPositive { field, value })
}

fn check_usage(usage: Usage, claimed_vendor_bits: u64) -> Result<(), Unsupported> {
    usage.check().map_err(|source| Unsupported::Usage { usage: usage.bits(), source })?;
    let unclaimed = usage.vendor_bits() & !claimed_vendor_bits;
    if unclaimed != 0 {
        return Err(Unsupported::VendorBits { bits: unclaimed });
    }
    Ok(())
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

fn check_combination(image: &Image) -> Result<(), Unsupported> {
    let Image { format, usage, width, height, layers, .. } = *image;
    let refuse = |rule: &'static str| Err(Unsupported::Combination { format, rule });
    if usage.has(hal_interface::UsageFlag::Protected) && usage.has_cpu_access() {
        return refuse("PROTECTED buffers must not have CPU usage");
    }
    if usage.intersects(bits::SENSOR_DIRECT_DATA) && format != Format::Blob {
        return refuse("SENSOR_DIRECT_DATA needs BLOB");
    }
    if format == Format::Blob {
        if height != 1 || layers != 1 {
            return refuse("BLOB needs height 1 and one layer");
        }
        if usage.intersects(BLOB_FORBIDDEN) {
            return refuse("BLOB cannot have GPU image or video-encoder usage");
        }
    }
    if format.is_yuv() {
        if layers != 1 {
            return refuse("YUV formats take one layer");
        }
        if usage.intersects(bits::GPU_CUBE_MAP | bits::GPU_MIPMAP_COMPLETE) {
            return refuse("YUV formats cannot be cube maps or mipmapped");
        }
    }
    if usage.intersects(bits::GPU_CUBE_MAP) {
        if width != height {
            return refuse("a cube map must be square");
        }
        if !layers.is_multiple_of(6) {
            return refuse("a cube map needs a multiple of 6 layers");
        }
    }
    Ok(())
}

fn check_limits(image: &Image, limits: &Limits) -> Result<(), AllocError> {
    let over = |cap, value: u64, limit: u64| Err(AllocError::OverCap { cap, value, limit });
    // BLOB and RAW_OPAQUE widths are byte counts (the camera framework allocates both as
    // `size x 1`), bounded by the per-buffer size cap only.
    let width_is_bytes = matches!(image.format, Format::Blob | Format::RawOpaque);
    if !width_is_bytes && image.width > limits.max_width {
        return over(Cap::Width, image.width.into(), limits.max_width.into());
    }
    if image.height > limits.max_height {
        return over(Cap::Height, image.height.into(), limits.max_height.into());
    }
    if image.reserved_size > limits.max_reserved_size {
        return over(Cap::ReservedSize, image.reserved_size, limits.max_reserved_size);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
