//! Tests of the metadata codec: golden bytes and sizes, round trips, strict-decoder
//! rejections, hostile input, plane layouts and handle getters.

mod decode;
mod golden;
mod planes;
mod props;

use crate::handle::{BufferHandle, PlaneComponent, PlaneLayout};
use crate::shared_metadata;

use super::*;

/// One value of every type (both states of the optional ones), with its exact encoded size.
fn samples() -> Vec<(MetadataValue, usize)> {
    let rgba = crate::format::Format::Rgba8888.raw();
    let rgba_layouts = plane_layouts(&handle(
        rgba,
        64,
        128,
        vec![plane(0, 256, 256 * 128, 1, 1, PlaneComponent::Rgba)],
    ));
    vec![
        (MetadataValue::BufferId(0x0102_0304_0506_0708), 77),
        (MetadataValue::Name("Hello, World!".to_owned()), 77 + 13),
        (MetadataValue::Name(String::new()), 77),
        (MetadataValue::Width(64), 77),
        (MetadataValue::Height(128), 77),
        (MetadataValue::LayerCount(1), 77),
        (MetadataValue::PixelFormatRequested(rgba), 73),
        (MetadataValue::PixelFormatFourcc(DRM_FORMAT_ABGR8888), 73),
        (MetadataValue::PixelFormatModifier(DRM_FORMAT_MOD_LINEAR), 77),
        (MetadataValue::Usage(1 << 32 | 0x33), 77),
        (MetadataValue::AllocationSize(32768), 77),
        (MetadataValue::ProtectedContent(1), 77),
        (MetadataValue::Compression(ExtendableType::compression_none()), 129),
        (MetadataValue::Interlaced(ExtendableType::interlaced_none()), 128),
        (MetadataValue::ChromaSiting(ExtendableType::chroma_siting_none()), 130),
        (MetadataValue::PlaneLayouts(rgba_layouts), 505),
        (MetadataValue::PlaneLayouts(Vec::new()), 77),
        (MetadataValue::Crop(vec![Rect { left: 0, top: 0, right: 64, bottom: 128 }]), 93),
        (MetadataValue::Crop(Vec::new()), 77),
        (MetadataValue::Dataspace(143_261_696), 73),
        (MetadataValue::BlendMode(3), 73),
        (MetadataValue::Smpte2086(Some(smpte2086())), 109),
        (MetadataValue::Smpte2086(None), 0),
        (
            MetadataValue::Cta861_3(Some(Cta861_3 {
                max_content_light_level: 78.0,
                max_frame_average_light_level: 62.0,
            })),
            77,
        ),
        (MetadataValue::Cta861_3(None), 0),
        (MetadataValue::Smpte2094_40(Some(vec![1, 2, 3, 4, 5])), 82),
        (MetadataValue::Smpte2094_40(Some(Vec::new())), 77),
        (MetadataValue::Smpte2094_40(None), 0),
        (MetadataValue::Smpte2094_10(Some(vec![9; 32])), 109),
        (MetadataValue::Smpte2094_10(None), 0),
        (MetadataValue::Stride(64), 73),
    ]
}

fn smpte2086() -> Smpte2086 {
    Smpte2086 {
        primary_red: XyColor { x: 0.680, y: 0.320 },
        primary_green: XyColor { x: 0.265, y: 0.690 },
        primary_blue: XyColor { x: 0.150, y: 0.060 },
        white_point: XyColor { x: 0.3127, y: 0.3290 },
        max_luminance: 100.0,
        min_luminance: 0.1,
    }
}

fn plane(
    offset: u64,
    stride_bytes: u32,
    size: u64,
    h_subsampling: u32,
    v_subsampling: u32,
    component: PlaneComponent,
) -> PlaneLayout {
    PlaneLayout { offset, stride_bytes, size, h_subsampling, v_subsampling, component }
}

fn handle(format: i32, width: u32, height: u32, planes: Vec<PlaneLayout>) -> BufferHandle {
    let first = planes.first().copied();
    let end = planes.iter().map(|p| p.offset.saturating_add(p.size)).max().unwrap_or(4096);
    BufferHandle {
        width,
        height,
        layers: 1,
        format,
        usage: 0x33,
        stride_pixels: width,
        stride_bytes: first.map_or(0, |p| p.stride_bytes),
        alloc_size: end.div_ceil(4096).saturating_mul(4096),
        planes,
        buffer_id: 0x0000_0007_0000_002a,
        heap: "system".to_owned(),
        reserved_offset: 0,
        reserved_size: 0,
        metadata_size: shared_metadata::REGION_SIZE,
    }
}
