//! The run functions of the targets whose world is small: the V1 descriptor decoder, the
//! board loader, the handle codec and the metadata codec and region. (`allocate` is in
//! [`crate::alloc`], `mapper_import` in [`crate::import`].)

use std::sync::{Arc, OnceLock};

use arbitrary::Unstructured;
use gralloc_mapper::buffer::Imported;
use gralloc_mapper::MapperError;
use hal_interface::handle::{BufferHandle, FD_COUNT};
use hal_interface::metadata::StandardMetadataType;
use hal_interface::metadata::{decode, encode, layout_format, plane_layouts, MetadataValue};
use hal_interface::{decode_descriptor, encode_descriptor, Format, Usage, UsageFlag};
use usage_map::UsageMap;

use crate::alloc::fixture;
use crate::input::{ints_of, Reader};
use crate::values;

/// `descriptor_v1`: arbitrary bytes as a V1 (`allocate(byte[])`) descriptor. The decoder
/// never panics; what it accepts is exactly what the encoder writes (so no byte is read
/// past what the fields say, and none is ignored), and the service's checks on it never
/// panic either.
///
/// # Panics
///
/// On a broken invariant.
pub fn descriptor_v1(data: &[u8]) {
    let Ok(descriptor) = decode_descriptor(data) else { return };
    assert_eq!(encode_descriptor(&descriptor), data, "decode accepted a non-canonical blob");
    let _ = fixture().allocator.check_supported(&descriptor.to_descriptor_info());
}

/// The origin `board_toml` gives the text, which every error must name.
const ORIGIN: &str = "fuzz.toml";

/// `board_toml`: arbitrary text as a board file. Loading never panics; an error names the
/// file and, when it has one, a line inside the text; a loaded board resolves, explains
/// and reports every probe request without panicking.
///
/// # Panics
///
/// On a broken invariant.
pub fn board_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match UsageMap::from_toml_str(&text, ORIGIN) {
        Err(err) => {
            let shown = err.to_string();
            assert!(shown.starts_with(ORIGIN), "error without its file: {shown}");
            assert_eq!(err.location().origin, ORIGIN);
            if let Some(line) = err.line() {
                let lines = text.lines().count().max(1);
                let line = usize::try_from(line).expect("a line number fits usize");
                assert!(
                    (1..=lines.saturating_add(1)).contains(&line),
                    "line {line} of {lines}: {shown}"
                );
            }
        }
        Ok(map) => {
            let available = map.check_available(|decl| decl.name.len() % 2 == 0);
            let _ = usage_map::check_report(&map);
            let usages = [0, UsageFlag::ALL.iter().map(|f| f.bit()).fold(0, |a, b| a | b)];
            let probes = UsageFlag::ALL.iter().map(|f| f.bit()).chain(usages).chain([0x33]);
            for bits in probes {
                let usage = Usage::from_bits(bits);
                let _ = map.resolve(usage, Format::Rgba8888, 1920, 1080);
                let _ = map.resolve_available(&available, usage, Format::Yv12, 64, 64);
                let _ = map.explain(usage, Format::Blob, 1, 1).to_string();
            }
        }
    }
}

/// `handle_decode`: arbitrary ints and fd count as a received handle. Decoding never
/// panics; an accepted handle re-encodes to the same ints, and everything the mapper
/// derives from a handle alone (plane layouts, the handle-fixed metadata) works on it.
///
/// Input: `fd_count u8`, then the ints, little-endian.
///
/// # Panics
///
/// On a broken invariant.
pub fn handle_decode(data: &[u8]) {
    let mut r = Reader::new(data);
    let fd_count = usize::from(r.u8());
    let ints = ints_of(r.rest());
    let Ok(handle) = BufferHandle::decode_parts(fd_count, &ints) else { return };
    assert_eq!(fd_count, FD_COUNT);
    assert_eq!(handle.encode_ints().expect("a decoded handle encodes"), ints);
    assert_eq!(ints.len(), BufferHandle::int_count(handle.planes.len()));
    let _ = layout_format(&handle);
    let _ = plane_layouts(&handle);
    for ty in StandardMetadataType::ALL {
        if let Some(value) = MetadataValue::from_handle(&handle, ty) {
            let bytes = encode(&value);
            assert!(decode(ty, &bytes).is_ok(), "{}: a handle value does not decode", ty.name());
        }
    }
}

/// `metadata_codec`: first byte even, the rest decoded as a value of the type the second
/// byte picks: decoding never panics, and what it accepts encodes back to the same bytes.
/// First byte odd: an arbitrary value is built from the rest; `decode(encode(x)) == x`
/// (equal encodings where a NaN makes `==` useless).
///
/// # Panics
///
/// On a broken invariant.
pub fn metadata_codec(data: &[u8]) {
    let mut r = Reader::new(data);
    let mode = r.u8();
    if mode.is_multiple_of(2) {
        let ty = pick_type(r.u8());
        let bytes = r.rest();
        if let Ok(value) = decode(ty, bytes) {
            assert_eq!(value.metadata_type(), ty);
            assert_eq!(encode(&value), bytes, "{}: decode accepted non-canonical bytes", ty.name());
        }
        return;
    }
    let mut u = Unstructured::new(r.rest());
    let Ok(ty) = values::metadata_type(&mut u) else { return };
    let Ok(value) = values::value_of(&mut u, ty) else { return };
    let bytes = encode(&value);
    let decoded = decode(ty, &bytes)
        .unwrap_or_else(|e| panic!("{}: encode wrote what decode refuses: {e}", ty.name()));
    if values::has_nan(&value) {
        assert_eq!(encode(&decoded), bytes);
    } else {
        assert_eq!(decoded, value);
    }
}

fn pick_type(byte: u8) -> StandardMetadataType {
    let all = StandardMetadataType::ALL;
    all[usize::from(byte) % all.len()]
}

/// One imported buffer whose metadata `metadata_set_get` writes (process-wide: values
/// persist between inputs, as they do between the processes sharing a buffer).
pub(crate) fn set_get_buffer() -> &'static Arc<Imported> {
    static BUFFER: OnceLock<Arc<Imported>> = OnceLock::new();
    BUFFER.get_or_init(|| {
        let template = &crate::import::templates()[0];
        let info = hal_interface::aidl::BufferDescriptorInfo {
            name: hal_interface::wire::descriptor_name_array(b"fuzz-set-get"),
            width: 64,
            height: 64,
            layerCount: 1,
            format: hal_interface::aidl::PixelFormat(template.format),
            usage: hal_interface::aidl::BufferUsage(i64::from_ne_bytes(
                template.usage.to_ne_bytes(),
            )),
            reservedSize: 0,
            additionalOptions: Vec::new(),
        };
        let allocation = fixture().allocator.allocate2(&info, 1).expect("a 64x64 buffer");
        let (handle, buffer, metadata) = allocation.buffers.into_iter().next().expect("one");
        let ints = handle.encode_ints().expect("encodes");
        Arc::new(Imported::new(vec![buffer, metadata], ints).expect("the mapper imports it"))
    })
}

/// `metadata_set_get`: `setStandardMetadata` then `getStandardMetadata` on one imported
/// buffer. Input: `type u8` (1..=23 and a few unknown values), `mode u8`, then for an even
/// mode the value bytes themselves, for an odd one an arbitrary value of the type, encoded.
/// A set that succeeds reads back as the same bytes; a refused set changes nothing and is
/// `BAD_VALUE` for the types fixed at allocation, `UNSUPPORTED` otherwise.
///
/// # Panics
///
/// On a broken invariant.
pub fn metadata_set_get(data: &[u8]) {
    let buffer = set_get_buffer();
    let mut r = Reader::new(data);
    let raw_type = i64::from(r.u8() % 26);
    let mode = r.u8();
    let bytes = if mode.is_multiple_of(2) {
        r.rest().to_vec()
    } else {
        let Some(ty) = StandardMetadataType::from_i64(raw_type) else { return };
        let mut u = Unstructured::new(r.rest());
        let Ok(value) = values::value_of(&mut u, ty) else { return };
        encode(&value)
    };
    let before = gralloc_mapper::metadata::get(buffer, raw_type);
    match gralloc_mapper::metadata::set(buffer, raw_type, &bytes) {
        Ok(()) => {
            let after = gralloc_mapper::metadata::get(buffer, raw_type).expect("a set type reads");
            assert_eq!(after, bytes, "type {raw_type}: read back differs from what was set");
        }
        Err(err) => {
            assert!(
                matches!(err, MapperError::BadValue | MapperError::Unsupported),
                "type {raw_type}: set failed with {err:?}"
            );
            let after = gralloc_mapper::metadata::get(buffer, raw_type);
            assert_eq!(after, before, "type {raw_type}: a refused set changed the value");
        }
    }
}
