//! Encoder of standard metadata values (`frameworks/native/libs/gralloc/types/Gralloc4.cpp`
//! `encode*`): little-endian, no padding, a 69-byte header before every payload, and 0 bytes
//! for an unset optional value.

use super::types::{
    Cta861_3, ExtendableType, GrallocPlaneLayout, MetadataValue, Rect, Smpte2086,
    StandardMetadataType, XyColor, STANDARD_METADATA_TYPE_NAME,
};

/// Bytes of the header: the namespace string (8 + 53) and the `i64` type.
pub const HEADER_BYTES: usize = 8 + STANDARD_METADATA_TYPE_NAME.len() + 8;

/// Encodes `value` as a mapper getter returns it and a setter accepts it.
pub fn encode(value: &MetadataValue) -> Vec<u8> {
    let mut out = Writer(Vec::with_capacity(HEADER_BYTES.saturating_add(16)));
    match value {
        MetadataValue::Smpte2086(None)
        | MetadataValue::Cta861_3(None)
        | MetadataValue::Smpte2094_40(None)
        | MetadataValue::Smpte2094_10(None) => return Vec::new(),
        _ => {}
    }
    out.header(value.metadata_type());
    match value {
        MetadataValue::BufferId(v)
        | MetadataValue::Width(v)
        | MetadataValue::Height(v)
        | MetadataValue::LayerCount(v)
        | MetadataValue::PixelFormatModifier(v)
        | MetadataValue::Usage(v)
        | MetadataValue::AllocationSize(v)
        | MetadataValue::ProtectedContent(v) => out.u64(*v),
        MetadataValue::Name(name) => out.bytes(name.as_bytes()),
        MetadataValue::PixelFormatRequested(v)
        | MetadataValue::Dataspace(v)
        | MetadataValue::BlendMode(v) => out.i32(*v),
        MetadataValue::PixelFormatFourcc(v) | MetadataValue::Stride(v) => out.u32(*v),
        MetadataValue::Compression(e)
        | MetadataValue::Interlaced(e)
        | MetadataValue::ChromaSiting(e) => out.extendable(e),
        MetadataValue::PlaneLayouts(planes) => out.plane_layouts(planes),
        MetadataValue::Crop(rects) => out.rects(rects),
        MetadataValue::Smpte2086(Some(s)) => out.smpte2086(s),
        MetadataValue::Cta861_3(Some(c)) => out.cta861_3(c),
        MetadataValue::Smpte2094_40(Some(b)) | MetadataValue::Smpte2094_10(Some(b)) => out.bytes(b),
        MetadataValue::Smpte2086(None)
        | MetadataValue::Cta861_3(None)
        | MetadataValue::Smpte2094_40(None)
        | MetadataValue::Smpte2094_10(None) => {}
    }
    out.0
}

struct Writer(Vec<u8>);

/// A length as the `i64` the format carries; a Rust allocation never exceeds `isize::MAX`.
fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

impl Writer {
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.i64(len_i64(b.len()));
        self.0.extend_from_slice(b);
    }

    fn header(&mut self, t: StandardMetadataType) {
        self.bytes(STANDARD_METADATA_TYPE_NAME.as_bytes());
        self.i64(t.value());
    }

    fn extendable(&mut self, e: &ExtendableType) {
        self.bytes(e.name.as_bytes());
        self.i64(e.value);
    }

    fn plane_layouts(&mut self, planes: &[GrallocPlaneLayout]) {
        self.i64(len_i64(planes.len()));
        for p in planes {
            self.i64(len_i64(p.components.len()));
            for c in &p.components {
                self.extendable(&c.component_type);
                self.i64(c.offset_in_bits);
                self.i64(c.size_in_bits);
            }
            for v in [
                p.offset_in_bytes,
                p.sample_increment_in_bits,
                p.stride_in_bytes,
                p.width_in_samples,
                p.height_in_samples,
                p.total_size_in_bytes,
                p.horizontal_subsampling,
                p.vertical_subsampling,
            ] {
                self.i64(v);
            }
        }
    }

    fn rects(&mut self, rects: &[Rect]) {
        self.i64(len_i64(rects.len()));
        for r in rects {
            for v in [r.left, r.top, r.right, r.bottom] {
                self.i32(v);
            }
        }
    }

    fn xy(&mut self, c: XyColor) {
        self.f32(c.x);
        self.f32(c.y);
    }

    fn smpte2086(&mut self, s: &Smpte2086) {
        self.xy(s.primary_red);
        self.xy(s.primary_green);
        self.xy(s.primary_blue);
        self.xy(s.white_point);
        self.f32(s.max_luminance);
        self.f32(s.min_luminance);
    }

    fn cta861_3(&mut self, c: &Cta861_3) {
        self.f32(c.max_content_light_level);
        self.f32(c.max_frame_average_light_level);
    }
}
