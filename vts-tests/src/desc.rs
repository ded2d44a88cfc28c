//! Building `BufferDescriptorInfo` values and printing them in failure messages.

use hal_interface::aidl::{BufferDescriptorInfo, BufferUsage, ExtendableType, PixelFormat};
use hal_interface::format::RawFormat;
use hal_interface::usage::{bits, Usage};
use hal_interface::Format;

/// `CPU_READ_OFTEN | CPU_WRITE_OFTEN`, the usage of the VTS default descriptor.
pub const CPU_RW: u64 = bits::CPU_READ_OFTEN | bits::CPU_WRITE_OFTEN;

/// The name every suite descriptor carries unless a case sets another.
pub const DEFAULT_NAME: &[u8] = b"gralloc-vts";

/// A descriptor with `name`, dimensions, one layer, a raw format and a raw usage word.
pub fn raw(name: &[u8], width: i32, height: i32, format: i32, usage: u64) -> BufferDescriptorInfo {
    let mut info = BufferDescriptorInfo {
        width,
        height,
        layerCount: 1,
        format: PixelFormat(format),
        usage: BufferUsage(Usage::from_bits(usage).to_wire()),
        ..BufferDescriptorInfo::default()
    };
    for (dst, src) in info.name.iter_mut().zip(name.iter().take(127)) {
        *dst = *src;
    }
    info
}

/// A descriptor for `format` with the default name and one layer.
pub fn new(width: i32, height: i32, format: Format, usage: u64) -> BufferDescriptorInfo {
    raw(DEFAULT_NAME, width, height, format.raw(), usage)
}

/// The VTS default: 64×64 RGBA_8888, CPU read and write often.
pub fn default_rgba() -> BufferDescriptorInfo {
    new(64, 64, Format::Rgba8888, CPU_RW)
}

/// A field-by-field copy (the generated type has no `Clone`).
pub fn copy(info: &BufferDescriptorInfo) -> BufferDescriptorInfo {
    BufferDescriptorInfo {
        name: info.name,
        width: info.width,
        height: info.height,
        layerCount: info.layerCount,
        format: PixelFormat(info.format.0),
        usage: BufferUsage(info.usage.0),
        reservedSize: info.reservedSize,
        additionalOptions: info
            .additionalOptions
            .iter()
            .map(|o| ExtendableType { name: o.name.clone(), value: o.value })
            .collect(),
    }
}

/// The usage word as unsigned bits.
pub fn usage_of(info: &BufferDescriptorInfo) -> u64 {
    Usage::from_wire_raw(info.usage.0).bits()
}

/// A short description for messages: `YV12 64x64x1 usage=CPU_READ_OFTEN|GPU_TEXTURE`, plus
/// the reserved size and option count when set.
pub fn describe(info: &BufferDescriptorInfo) -> String {
    let mut text = format!(
        "{} {}x{}x{} usage={}",
        RawFormat(info.format.0),
        info.width,
        info.height,
        info.layerCount,
        Usage::from_wire_raw(info.usage.0)
    );
    if info.reservedSize != 0 {
        text.push_str(&format!(" reserved={}", info.reservedSize));
    }
    if !info.additionalOptions.is_empty() {
        text.push_str(&format!(" options={}", info.additionalOptions.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_descriptor_is_the_vts_one() {
        let info = default_rgba();
        assert_eq!((info.width, info.height, info.layerCount), (64, 64, 1));
        assert_eq!(info.format.0, 1);
        assert_eq!(info.usage.0, 0x33);
        assert_eq!(&info.name[..DEFAULT_NAME.len()], DEFAULT_NAME);
        assert_eq!(info.name[DEFAULT_NAME.len()], 0);
    }

    #[test]
    fn describe_names_format_and_usage() {
        let info = new(64, 32, Format::Yv12, CPU_RW | bits::GPU_TEXTURE);
        assert_eq!(
            describe(&info),
            "YV12 64x32x1 usage=CPU_READ_OFTEN|CPU_WRITE_OFTEN|GPU_TEXTURE"
        );
        assert_eq!(describe(&raw(b"", 1, 1, 0x3C, 0)), "0x3c 1x1x1 usage=CPU_READ_NEVER");
    }

    #[test]
    fn copy_keeps_every_field() {
        let mut info = default_rgba();
        info.reservedSize = 7;
        info.additionalOptions.push(ExtendableType { name: "x".into(), value: 3 });
        let copied = copy(&info);
        assert_eq!(describe(&copied), describe(&info));
        assert_eq!(copied.name, info.name);
        assert_eq!(copied.additionalOptions[0].value, 3);
    }
}
