//! The seed corpora (`fuzz/corpus/<target>/`), written by `examples/make_seeds.rs`: a few
//! inputs per target that already reach its deep paths (valid handles and descriptors,
//! every metadata type, every format allocated), so the fuzzer starts from there.

use arbitrary::Unstructured;
use hal_interface::metadata::{
    encode, Cta861_3, MetadataValue, Smpte2086, StandardMetadataType, XyColor,
};
use hal_interface::{encode_descriptor, Format, V1Descriptor};

use crate::alloc::{fixture, AllocInput};
use crate::import::templates;

/// Every target name, as in `Cargo.toml`.
pub const TARGETS: [&str; 7] = [
    "allocate",
    "board_toml",
    "descriptor_v1",
    "handle_decode",
    "mapper_import",
    "metadata_codec",
    "metadata_set_get",
];

/// A small deterministic generator (xorshift64*), so the seeds are the same every run.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

/// The seeds of `target`; `boards` are board files to seed `board_toml` with.
///
/// # Panics
///
/// For a name not in [`TARGETS`].
pub fn seeds(target: &str, boards: &[String]) -> Vec<Vec<u8>> {
    match target {
        "allocate" => allocate(),
        "board_toml" => {
            let mut out = vec![crate::alloc::BOARD.as_bytes().to_vec()];
            out.extend(boards.iter().map(|b| b.as_bytes().to_vec()));
            out
        }
        "descriptor_v1" => descriptor_v1(),
        "handle_decode" => handle_decode(),
        "mapper_import" => mapper_import(),
        "metadata_codec" => metadata_codec(),
        "metadata_set_get" => metadata_set_get(),
        other => panic!("no target {other}"),
    }
}

/// Random inputs kept when they are the first for their format to pass `isSupported`
/// (then a few refused ones), so every format's layout is in the corpus.
fn allocate() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x5eed_a110c);
    let mut seen = Vec::new();
    let mut out = Vec::new();
    let mut refused = 0;
    for _ in 0..200_000 {
        let bytes = rng.bytes(96);
        let Ok(input) = AllocInput::read(&mut Unstructured::new(&bytes)) else { continue };
        let supported = fixture().allocator.check_supported(&input.info).is_ok();
        let key = (input.info.format.0, input.v1.is_some());
        if supported && input.count == 1 && !seen.contains(&key) {
            seen.push(key);
            out.push(bytes);
        } else if !supported && refused < 4 {
            refused += 1;
            out.push(bytes);
        }
    }
    out
}

fn descriptor_v1() -> Vec<Vec<u8>> {
    let base = V1Descriptor {
        name: b"SurfaceView[fuzz]".to_vec(),
        width: 64,
        height: 64,
        layer_count: 1,
        format: Format::Rgba8888.raw(),
        usage: 0x33,
        reserved_size: 0,
    };
    let mut out = vec![
        encode_descriptor(&base),
        encode_descriptor(&V1Descriptor { name: Vec::new(), ..base.clone() }),
        encode_descriptor(&V1Descriptor {
            format: Format::Blob.raw(),
            width: 4096,
            height: 1,
            ..base.clone()
        }),
        encode_descriptor(&V1Descriptor {
            format: Format::Yv12.raw(),
            reserved_size: 4096,
            ..base.clone()
        }),
    ];
    let mut short = encode_descriptor(&base);
    short.pop();
    out.push(short);
    out
}

fn handle_decode() -> Vec<Vec<u8>> {
    templates()
        .iter()
        .map(|handle| {
            let mut bytes = vec![2u8];
            for int in handle.encode_ints().expect("a template encodes") {
                bytes.extend_from_slice(&int.to_le_bytes());
            }
            bytes
        })
        .collect()
}

/// `(kind, param)` fd pairs: buffer + valid region, buffer + corrupted region, short
/// buffer + region, region + buffer, a lone buffer.
const FD_SETS: [&[(u8, u32)]; 5] = [
    &[(0, 0), (3, 0)],
    &[(0, 0), (4, 0x0003_ffff)],
    &[(1, 0), (3, 0)],
    &[(3, 0), (0, 0)],
    &[(0, 0)],
];

fn mapper_import() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for template in 0..templates().len() {
        for fds in FD_SETS {
            let mut bytes = vec![u8::try_from(template).expect("few templates")];
            bytes.push(u8::try_from(fds.len()).expect("few fds"));
            for &(kind, param) in fds {
                bytes.push(kind);
                bytes.extend_from_slice(&param.to_le_bytes());
            }
            // Mode 0 (patch the template), CPU read+write often, whole-buffer region.
            bytes.extend_from_slice(&[0, 0x33]);
            bytes.extend_from_slice(&[0; 16]);
            out.push(bytes);
        }
    }
    out
}

/// Values of the settable types that are set (the defaults of the optional ones are unset).
fn settable_samples() -> Vec<MetadataValue> {
    let xy = |x: f32, y: f32| XyColor { x, y };
    vec![
        MetadataValue::Dataspace(143_261_696),
        MetadataValue::BlendMode(3),
        MetadataValue::Smpte2086(Some(Smpte2086 {
            primary_red: xy(0.680, 0.320),
            primary_green: xy(0.265, 0.690),
            primary_blue: xy(0.150, 0.060),
            white_point: xy(0.3127, 0.3290),
            max_luminance: 1000.0,
            min_luminance: 0.005,
        })),
        MetadataValue::Cta861_3(Some(Cta861_3 {
            max_content_light_level: 1000.0,
            max_frame_average_light_level: 400.0,
        })),
        MetadataValue::Smpte2094_40(Some(vec![1, 2, 3, 4])),
        MetadataValue::Smpte2094_10(Some(vec![5, 6, 7])),
    ]
}

fn type_index(ty: StandardMetadataType) -> u8 {
    let index = StandardMetadataType::ALL.iter().position(|&t| t == ty).expect("listed");
    u8::try_from(index).expect("23 types")
}

fn metadata_codec() -> Vec<Vec<u8>> {
    let buffer = crate::targets::set_get_buffer();
    let mut out = Vec::new();
    for ty in StandardMetadataType::ALL {
        if let Ok(bytes) = gralloc_mapper::metadata::get(buffer, ty.value()) {
            out.push([vec![0, type_index(ty)], bytes].concat());
        }
    }
    for value in settable_samples() {
        out.push([vec![0, type_index(value.metadata_type())], encode(&value)].concat());
    }
    let mut rng = Rng(0x000c_0dec);
    out.extend((0..4).map(|_| [vec![1], rng.bytes(64)].concat()));
    out
}

fn metadata_set_get() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = settable_samples()
        .into_iter()
        .map(|v| {
            let raw_type = u8::try_from(v.metadata_type().value()).expect("small type values");
            [vec![raw_type, 0], encode(&v)].concat()
        })
        .collect();
    let mut rng = Rng(0x5e7_9e7);
    for raw_type in 1..=23u8 {
        out.push([vec![raw_type, 1], rng.bytes(48)].concat());
    }
    out
}
