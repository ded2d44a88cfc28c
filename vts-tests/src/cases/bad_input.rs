//! Hostile input from reliability-tests.md §5 (A descriptor validation, B size arithmetic,
//! C counts): every refusal is `EX_SERVICE_SPECIFIC` with the right `AllocationError`, comes
//! promptly, agrees with `isSupported`, and loses nothing (checked after each input).

use std::os::fd::AsFd;
use std::time::{SystemTime, UNIX_EPOCH};

use hal_interface::aidl::{AllocationError, BufferDescriptorInfo, ExtendableType};
use hal_interface::usage::bits;
use hal_interface::{Format, UsageFlag};

use crate::call::{self, code_name};
use crate::check::{self, allocate_checked, reply_matches, PROMPT};
use crate::ctx::Ctx;
use crate::desc::{self, describe, CPU_RW};
use crate::runner::{Case, Outcome, Stop};
use crate::v1::V1Fields;

const BAD_DESCRIPTOR: AllocationError = AllocationError::BAD_DESCRIPTOR;
const UNSUPPORTED: AllocationError = AllocationError::UNSUPPORTED;

/// The cases of this area.
pub const CASES: &[Case] = &[
    Case { name: "bad_input.zero_dimensions_are_bad_descriptor", run: zero_dimensions },
    Case { name: "bad_input.negative_dimensions_are_bad_descriptor", run: negative_dimensions },
    Case { name: "bad_input.unspecified_format_is_bad_descriptor", run: unspecified_format },
    Case { name: "bad_input.unknown_formats_are_unsupported", run: unknown_formats },
    Case { name: "bad_input.huge_and_overflowing_sizes_are_unsupported", run: huge_sizes },
    Case { name: "bad_input.bad_counts_are_rejected", run: bad_counts },
    Case { name: "bad_input.reserved_usage_bits_are_unsupported", run: reserved_bits },
    Case {
        name: "bad_input.retired_gralloc0_usage_bits_are_accepted_and_ignored",
        run: retired_bits,
    },
    Case { name: "bad_input.undefined_cpu_field_values_are_unsupported", run: cpu_fields },
    Case { name: "bad_input.unclaimed_vendor_bits_are_unsupported", run: vendor_bits },
    Case { name: "bad_input.huge_option_lists_are_rejected_promptly", run: huge_options },
    Case { name: "bad_input.unterminated_128_byte_names_allocate", run: odd_names },
    Case { name: "bad_input.bad_reserved_sizes_are_rejected", run: reserved_sizes },
    Case { name: "bad_input.malformed_v1_bytes_are_bad_descriptor", run: malformed_v1 },
    Case { name: "bad_input.v1_fields_are_validated_like_allocate2", run: v1_validated },
    Case { name: "bad_input.forbidden_combinations_are_unsupported", run: forbidden_combinations },
    Case { name: "bad_input.board_limits_hold_at_the_boundary", run: board_limits },
    Case { name: "bad_input.random_descriptors_keep_is_supported_honest", run: random },
];

/// One input that must be refused.
struct Bad {
    info: BufferDescriptorInfo,
    count: i32,
    expected: AllocationError,
    /// Whether `isSupported(info)` must be false (not for a bad `count` on a good descriptor).
    unsupported: bool,
}

impl Bad {
    fn new(info: BufferDescriptorInfo, expected: AllocationError) -> Self {
        Self { info, count: 1, expected, unsupported: true }
    }
}

/// Checks each input: isSupported false where the descriptor is at fault, allocate2 refused
/// with the expected code within [`PROMPT`], nothing lost.
fn expect_refusals(ctx: &Ctx, inputs: impl IntoIterator<Item = Bad>) -> Outcome {
    for bad in inputs {
        let what = format!("{} count {}", describe(&bad.info), bad.count);
        let before = ctx.ledger();
        if bad.unsupported {
            check::supported_is(ctx.allocator(), &bad.info, false)?;
        }
        let answer =
            call::allocate2(ctx.allocator(), &bad.info, bad.count).map_err(|s| s.context(&what))?;
        check::refused_with(ctx, &what, answer, bad.expected)?;
        ctx.check_nothing_lost(&before)
            .map_err(|lost| Stop::failed(format!("{what}: nothing-lost rule broken: {lost}")))?;
    }
    Ok(())
}

/// V1 inputs that must be refused, with the same promptness and nothing-lost checks.
fn expect_v1_refusals(ctx: &Ctx, inputs: Vec<(String, Vec<u8>, i32, AllocationError)>) -> Outcome {
    for (what, bytes, count, expected) in inputs {
        let what = format!("V1 {what} ({} bytes, count {count})", bytes.len());
        let before = ctx.ledger();
        let answer =
            call::allocate_v1(ctx.allocator(), &bytes, count).map_err(|s| s.context(&what))?;
        check::refused_with(ctx, &what, answer, expected)?;
        ctx.check_nothing_lost(&before)
            .map_err(|lost| Stop::failed(format!("{what}: nothing-lost rule broken: {lost}")))?;
    }
    Ok(())
}

fn rgba(width: i32, height: i32) -> BufferDescriptorInfo {
    desc::new(width, height, Format::Rgba8888, CPU_RW)
}

fn with_layers(mut info: BufferDescriptorInfo, layers: i32) -> BufferDescriptorInfo {
    info.layerCount = layers;
    info
}

/// Width, height or layerCount of 0.
fn zero_dimensions(ctx: &Ctx) -> Outcome {
    expect_refusals(
        ctx,
        [rgba(0, 64), rgba(64, 0), with_layers(rgba(64, 64), 0), rgba(0, 0)]
            .into_iter()
            .map(|info| Bad::new(info, BAD_DESCRIPTOR)),
    )
}

/// −1 and `i32::MIN` in each dimension (never cast to a huge unsigned).
fn negative_dimensions(ctx: &Ctx) -> Outcome {
    let mut inputs = Vec::new();
    for v in [-1, i32::MIN] {
        inputs.push(rgba(v, 64));
        inputs.push(rgba(64, v));
        inputs.push(with_layers(rgba(64, 64), v));
        inputs.push(rgba(v, v));
    }
    expect_refusals(ctx, inputs.into_iter().map(|info| Bad::new(info, BAD_DESCRIPTOR)))
}

/// Format UNSPECIFIED.
fn unspecified_format(ctx: &Ctx) -> Outcome {
    let info = desc::raw(desc::DEFAULT_NAME, 64, 64, 0, CPU_RW);
    expect_refusals(ctx, [Bad::new(info, BAD_DESCRIPTOR)])
}

/// Values V5 does not define: gaps in the table, formats newer than V5 (0x3C–0x44), the
/// vendor range, `i32::MAX`, negatives.
fn unknown_formats(ctx: &Ctx) -> Outcome {
    let mut raw: Vec<i32> =
        vec![0x6, 0x12, 0x27, 0x100, 0x1FF, 0x2020_3858, i32::MAX, -1, i32::MIN];
    raw.extend(0x3C..=0x44);
    expect_refusals(
        ctx,
        raw.into_iter()
            .map(|f| Bad::new(desc::raw(desc::DEFAULT_NAME, 64, 64, f, CPU_RW), UNSUPPORTED)),
    )
}

/// B1–B5: sizes past every possible cap (a board may raise the per-buffer cap to 16 GiB and
/// dimensions to 65536, no further), products that wrap 32 bits, widths whose alignment
/// overflows.
fn huge_sizes(ctx: &Ctx) -> Outcome {
    let inputs = [
        desc::new(65535, 65535, Format::RgbaFp16, CPU_RW),
        desc::new(i32::MAX, 1, Format::Blob, bits::GPU_DATA_BUFFER),
        desc::new(i32::MAX, 1, Format::Rgba8888, CPU_RW),
        desc::new(i32::MAX, i32::MAX, Format::Rgba8888, CPU_RW),
        desc::new(65536 * 2, 65536, Format::R8, CPU_RW),
        desc::new(0x10001, 0xFFFF, Format::R8, CPU_RW),
        desc::new(65537, 1, Format::Rgba8888, CPU_RW),
        desc::new(1, 65537, Format::Rgba8888, CPU_RW),
        desc::new(i32::MAX - 1, 2, Format::Yv12, CPU_RW),
        with_layers(rgba(64, 64), 1 << 20),
        with_layers(rgba(4096, 4096), i32::MAX),
    ];
    expect_refusals(ctx, inputs.into_iter().map(|info| Bad::new(info, UNSUPPORTED)))
}

/// C3/C4: negative counts are BAD_DESCRIPTOR, counts past the cap (63 at most on any board)
/// UNSUPPORTED, on allocate2 and V1 alike; `isSupported` of the descriptor stays true.
fn bad_counts(ctx: &Ctx) -> Outcome {
    let counts = [
        (-1, BAD_DESCRIPTOR),
        (i32::MIN, BAD_DESCRIPTOR),
        (64, UNSUPPORTED),
        (1000, UNSUPPORTED),
        (i32::MAX, UNSUPPORTED),
    ];
    check::supported_is(ctx.allocator(), &rgba(64, 64), true)?;
    expect_refusals(
        ctx,
        counts.iter().map(|&(count, expected)| Bad {
            info: rgba(64, 64),
            count,
            expected,
            unsupported: false,
        }),
    )?;
    let bytes = V1Fields::vts_default().encode();
    expect_v1_refusals(
        ctx,
        counts
            .iter()
            .map(|&(count, expected)| {
                ("default descriptor".to_owned(), bytes.clone(), count, expected)
            })
            .collect(),
    )
}

/// The retired gralloc0 bits 10 (HW_2D) and 13 (EXTERNAL_DISP), which libui passes through
/// (`kRemovedUsageBits`): supported, allocated from the heap the same request without them
/// gets, and kept in the handle's usage as sent (as minigbm keeps the caller's word).
fn retired_bits(ctx: &Ctx) -> Outcome {
    let allocator = ctx.allocator();
    let base = CPU_RW | bits::GPU_TEXTURE;
    let plain = desc::new(64, 64, Format::Rgba8888, base);
    let reference = allocate_checked(allocator, &plain, 1)?.single()?;
    for bit in [bits::HW_2D, bits::EXTERNAL_DISP, bits::RETIRED] {
        let info = desc::new(64, 64, Format::Rgba8888, base | bit);
        check::supported_is(allocator, &info, true)?;
        // reply_matches insists that the handle's usage is the requested word, bits included.
        let buffer = allocate_checked(allocator, &info, 1)?.single()?;
        if buffer.handle.heap != reference.handle.heap {
            return Err(Stop::failed(format!(
                "{}: heap {:?}, the same request without {bit:#x} gets {:?}",
                describe(&info),
                buffer.handle.heap,
                reference.handle.heap
            )));
        }
        ctx.note(format!("{}: served from {:?}", describe(&info), buffer.handle.heap));
    }
    Ok(())
}

/// Each reserved bit (19, 21, 33–47) on a valid descriptor; the retired bits 10 and 13
/// (accepted) do not make a reserved bit acceptable.
fn reserved_bits(ctx: &Ctx) -> Outcome {
    let reserved = (0..64).filter(|bit| bits::RESERVED & (1u64 << bit) != 0);
    expect_refusals(
        ctx,
        reserved.flat_map(|bit| {
            [0, bits::RETIRED].map(|retired| {
                let usage = CPU_RW | retired | 1 << bit;
                Bad::new(desc::new(64, 64, Format::Rgba8888, usage), UNSUPPORTED)
            })
        }),
    )
}

/// CPU read and write field values 1 and 4–15 (undefined; not flags).
fn cpu_fields(ctx: &Ctx) -> Outcome {
    let values = std::iter::once(1u64).chain(4..=15);
    let mut inputs = Vec::new();
    for value in values {
        inputs.push(desc::new(64, 64, Format::Rgba8888, value));
        inputs.push(desc::new(64, 64, Format::Rgba8888, value << 4));
    }
    expect_refusals(ctx, inputs.into_iter().map(|info| Bad::new(info, UNSUPPORTED)))
}

/// Vendor bits the board does not claim.
fn vendor_bits(ctx: &Ctx) -> Outcome {
    let board = ctx.require_board().map_err(|_| {
        Stop::skipped("which vendor bits are claimed is in the board file: needs --board FILE")
    })?;
    let claimed = board.map.claimed_vendor_bits();
    let unclaimed: Vec<u64> = (0..64)
        .map(|bit| 1u64 << bit)
        .filter(|b| bits::VENDOR & b != 0 && claimed & b == 0)
        .collect();
    if unclaimed.is_empty() {
        return Err(Stop::skipped("the board claims every vendor bit"));
    }
    ctx.note(format!("board claims vendor bits {claimed:#x}; {} unclaimed", unclaimed.len()));
    expect_refusals(
        ctx,
        unclaimed
            .into_iter()
            .map(|b| Bad::new(desc::new(64, 64, Format::Rgba8888, CPU_RW | b), UNSUPPORTED)),
    )
}

fn with_options(count: usize, name: &str) -> BufferDescriptorInfo {
    let mut info = rgba(64, 64);
    info.additionalOptions = (0..count)
        .map(|i| ExtendableType { name: name.to_owned(), value: i64::try_from(i).unwrap_or(0) })
        .collect();
    info
}

/// 10⁴ unknown options, thousands of copies of a real option name (over any cap), one
/// option with a 64 KiB name; all unsupported and answered promptly.
///
/// Each request stays well under 1 MB: kernel binder refuses a larger transaction itself
/// (the receiver's buffer is 1 MB minus 8 KiB), so it would never reach the service. 10⁴
/// copies of the 42-character Dataspace name would be 1.04 MB; 5 000 are 0.52 MB.
fn huge_options(ctx: &Ctx) -> Outcome {
    let inputs = [
        with_options(10_000, "vendor.unknown.Option"),
        with_options(5_000, "android.hardware.graphics.common.Dataspace"),
        with_options(1, &"n".repeat(64 * 1024)),
        with_options(1, "android.hardware.graphics.common.NotARealOption"),
    ];
    expect_refusals(ctx, inputs.into_iter().map(|info| Bad::new(info, UNSUPPORTED)))
}

/// A 128-byte name with no NUL, non-ASCII bytes, an embedded NUL: all allocate; a
/// dma-buf name (when the fd is a dma-buf) is at most 31 bytes.
fn odd_names(ctx: &Ctx) -> Outcome {
    let mut names: Vec<Vec<u8>> =
        vec![vec![b'A'; 128], vec![0xFF; 128], b"caf\xc3\xa9 \xe2\x9c\x93".to_vec()];
    let mut embedded = b"before".to_vec();
    embedded.push(0);
    embedded.extend_from_slice(b"after");
    names.push(embedded);
    for name in names {
        let mut info = rgba(64, 64);
        // `desc::raw` stops at 127 bytes; set all 128 here.
        for (dst, src) in info.name.iter_mut().zip(name.iter()) {
            *dst = *src;
        }
        let allocated = allocate_checked(ctx.allocator(), &info, 1)?;
        for buffer in &allocated.buffers {
            if let Ok(fdinfo) = heaps::dmabuf::FdInfo::read(buffer.fd.as_fd()) {
                if let Some(kernel_name) = fdinfo.name {
                    if kernel_name.len() > 31 {
                        return Err(Stop::failed(format!(
                            "dma-buf name {kernel_name:?} exceeds 31 bytes"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// ReservedSize −1 and `i64::MIN` (malformed), `i64::MAX`, 2⁴⁰ and the 256 MiB ceiling
/// + 1 (over any cap).
fn reserved_sizes(ctx: &Ctx) -> Outcome {
    let sized = |size: i64| {
        let mut info = rgba(64, 64);
        info.reservedSize = size;
        info
    };
    expect_refusals(
        ctx,
        [
            Bad::new(sized(-1), BAD_DESCRIPTOR),
            Bad::new(sized(i64::MIN), BAD_DESCRIPTOR),
            Bad::new(sized(i64::MAX), UNSUPPORTED),
            Bad::new(sized(1 << 40), UNSUPPORTED),
            Bad::new(sized((256 << 20) + 1), UNSUPPORTED),
        ],
    )
}

/// V1 bytes that are empty, one byte short, with trailing garbage, a negative name length,
/// a name length past the end, or only a length.
fn malformed_v1(ctx: &Ctx) -> Outcome {
    let fields = V1Fields::vts_default();
    let good = fields.encode();
    let mut short = good.clone();
    short.pop();
    let mut trailing = good.clone();
    trailing.push(0);
    let name_len = i64::try_from(fields.name.len()).unwrap_or(0);
    let inputs = vec![
        ("empty".to_owned(), Vec::new()),
        ("one byte short".to_owned(), short),
        ("one trailing byte".to_owned(), trailing),
        ("name length -1".to_owned(), fields.encode_with_name_length(-1)),
        ("name length i64::MIN".to_owned(), fields.encode_with_name_length(i64::MIN)),
        ("name length past the end".to_owned(), fields.encode_with_name_length(name_len + 33)),
        ("name length i64::MAX".to_owned(), fields.encode_with_name_length(i64::MAX)),
        ("length field only".to_owned(), 0i64.to_le_bytes().to_vec()),
        ("7 bytes".to_owned(), vec![0; 7]),
        ("39 bytes".to_owned(), vec![0; 39]),
    ];
    expect_v1_refusals(ctx, inputs.into_iter().map(|(w, b)| (w, b, 1, BAD_DESCRIPTOR)).collect())
}

/// V1 descriptors that decode are validated like allocate2 ones.
fn v1_validated(ctx: &Ctx) -> Outcome {
    let base = V1Fields::vts_default;
    let inputs = vec![
        ("width 0", V1Fields { width: 0, ..base() }, BAD_DESCRIPTOR),
        ("width 0xFFFFFFFF", V1Fields { width: u32::MAX, ..base() }, BAD_DESCRIPTOR),
        ("layers 0", V1Fields { layers: 0, ..base() }, BAD_DESCRIPTOR),
        ("format UNSPECIFIED", V1Fields { format: 0, ..base() }, BAD_DESCRIPTOR),
        ("format 0x3C", V1Fields { format: 0x3C, ..base() }, UNSUPPORTED),
        ("usage bit 33", V1Fields { usage: CPU_RW | 1 << 33, ..base() }, UNSUPPORTED),
        ("cpu read field 1", V1Fields { usage: 1, ..base() }, UNSUPPORTED),
        ("reserved u64::MAX", V1Fields { reserved_size: u64::MAX, ..base() }, BAD_DESCRIPTOR),
        ("65535x65535", V1Fields { width: 65535, height: 65535, ..base() }, UNSUPPORTED),
    ];
    expect_v1_refusals(
        ctx,
        inputs.into_iter().map(|(w, f, e)| (w.to_owned(), f.encode(), 1, e)).collect(),
    )
}

/// Combinations the format rules forbid (libnativewindow's client checks, mirrored).
fn forbidden_combinations(ctx: &Ctx) -> Outcome {
    let inputs = [
        desc::new(64, 2, Format::Blob, bits::GPU_DATA_BUFFER),
        with_layers(desc::new(64, 1, Format::Blob, bits::GPU_DATA_BUFFER), 2),
        with_layers(desc::new(64, 64, Format::Yv12, CPU_RW), 2),
        desc::new(64, 64, Format::Rgba8888, bits::PROTECTED | bits::CPU_READ_OFTEN),
        desc::new(64, 64, Format::Rgba8888, bits::PROTECTED | bits::CPU_WRITE_RARELY),
        desc::new(64, 32, Format::Rgba8888, bits::GPU_CUBE_MAP | bits::GPU_TEXTURE),
        desc::new(64, 64, Format::Rgba8888, bits::SENSOR_DIRECT_DATA | bits::CPU_READ_OFTEN),
    ];
    expect_refusals(ctx, inputs.into_iter().map(|info| Bad::new(info, UNSUPPORTED)))
}

/// B6/C4 with the board's `[limits]`: exactly the cap allocates, one past it is UNSUPPORTED.
fn board_limits(ctx: &Ctx) -> Outcome {
    let board = ctx.require_board()?;
    let limits = board.map.limits();
    let to_i32 = |v: u64| i32::try_from(v).ok();
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    if let (Some(w), Some(w1)) =
        (to_i32(u64::from(limits.max_width)), to_i32(u64::from(limits.max_width) + 1))
    {
        accepted.push((rgba(w, 1), 1));
        refused.push(Bad::new(rgba(w1, 1), UNSUPPORTED));
    }
    if let (Some(h), Some(h1)) =
        (to_i32(u64::from(limits.max_height)), to_i32(u64::from(limits.max_height) + 1))
    {
        accepted.push((rgba(1, h), 1));
        refused.push(Bad::new(rgba(1, h1), UNSUPPORTED));
    }
    if let (Some(n), Some(n1)) = (
        to_i32(u64::from(limits.max_buffers_per_call)),
        to_i32(u64::from(limits.max_buffers_per_call) + 1),
    ) {
        accepted.push((rgba(16, 16), n));
        refused.push(Bad {
            info: rgba(16, 16),
            count: n1,
            expected: UNSUPPORTED,
            unsupported: false,
        });
    }
    if let Ok(r) = i64::try_from(limits.max_reserved_size) {
        let mut at_cap = rgba(16, 16);
        at_cap.reservedSize = r;
        accepted.push((at_cap, 1));
        let mut over = rgba(16, 16);
        over.reservedSize = r.saturating_add(1);
        refused.push(Bad::new(over, UNSUPPORTED));
    }
    if let Some(bytes) = to_i32(limits.max_bytes_per_buffer + 1) {
        refused
            .push(Bad::new(desc::new(bytes, 1, Format::Blob, bits::GPU_DATA_BUFFER), UNSUPPORTED));
    } else {
        ctx.note("per-buffer byte cap is beyond a BLOB width: not probed");
    }
    // count × 1 MiB just over the per-call cap, when that count is within the count cap.
    let per_call = limits.max_bytes_per_call / (1 << 20) + 1;
    match to_i32(per_call) {
        Some(count) if per_call <= u64::from(limits.max_buffers_per_call) => refused.push(Bad {
            info: rgba(512, 512),
            count,
            expected: UNSUPPORTED,
            unsupported: false,
        }),
        _ => ctx.note("per-call byte cap needs more buffers than the count cap: not probed"),
    }
    for (info, count) in &accepted {
        let answer = call::allocate2(ctx.allocator(), info, *count)?;
        match answer.value {
            Ok(allocated) => reply_matches(info, *count, &allocated)?,
            Err(r) if r.code == AllocationError::NO_RESOURCES => {
                ctx.note(format!("{} count {count} at the cap: NO_RESOURCES ({r})", describe(info)))
            }
            Err(r) => {
                return Err(Stop::failed(format!(
                    "{} count {count} is at the cap, refused: {r}",
                    describe(info)
                )))
            }
        }
    }
    expect_refusals(ctx, refused)
}

/// A tiny xorshift generator: reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        let index = usize::try_from(self.below(items.len() as u64)).ok()?;
        items.get(index).copied()
    }
}

const EDGE_DIMS: &[i32] = &[0, 1, -1, 2, 63, 64, 65, 1920, 4096, 65535, 65536, i32::MAX, i32::MIN];

fn random_descriptor(rng: &mut Rng) -> BufferDescriptorInfo {
    let dim = |rng: &mut Rng| {
        if rng.below(4) == 0 {
            rng.pick(EDGE_DIMS).unwrap_or(1)
        } else {
            i32::try_from(rng.below(2048) + 1).unwrap_or(1)
        }
    };
    let (width, height) = (dim(rng), dim(rng));
    let format = if rng.below(8) == 0 {
        // Any 32-bit value, mostly unknown.
        i32::from_ne_bytes(u32::try_from(rng.next() >> 32).unwrap_or(0).to_ne_bytes())
    } else {
        rng.pick(Format::ALL).map_or(1, Format::raw)
    };
    let mut usage =
        rng.pick(&[0u64, 2, 3]).unwrap_or(0) | rng.pick(&[0u64, 2, 3]).unwrap_or(0) << 4;
    for flag in UsageFlag::ALL {
        if rng.below(6) == 0 {
            usage |= flag.bit();
        }
    }
    if rng.below(10) == 0 {
        usage = rng.next();
    }
    let mut info = desc::raw(b"random", width, height, format, usage);
    info.layerCount = match rng.below(10) {
        0 => rng.pick(&[0, -1, 2, 6, 1 << 20]).unwrap_or(1),
        _ => 1,
    };
    info.reservedSize = match rng.below(10) {
        0 => rng.pick(&[1, 4096, -1, i64::MAX]).unwrap_or(0),
        _ => 0,
    };
    if rng.below(20) == 0 {
        info.additionalOptions.push(ExtendableType { name: "vendor.random".into(), value: 1 });
    }
    info
}

/// Random descriptors (seed printed; `GRALLOC_VTS_SEED` replays one): `isSupported`
/// true ⇒ allocate2 Ok or NO_RESOURCES with a conforming reply; false ⇒ UNSUPPORTED or
/// BAD_DESCRIPTOR; always prompt, nothing lost.
fn random(ctx: &Ctx) -> Outcome {
    const ROUNDS: usize = 400;
    let seed = std::env::var("GRALLOC_VTS_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| u64::from(d.subsec_nanos()) | 1)
        });
    ctx.note(format!("seed {seed} (replay with GRALLOC_VTS_SEED={seed})"));
    let mut rng = Rng(seed.max(1));
    let (mut ok, mut refused) = (0usize, 0usize);
    for round in 0..ROUNDS {
        let info = random_descriptor(&mut rng);
        let what = format!("round {round}: {}", describe(&info));
        let before = ctx.ledger();
        let supported = call::is_supported(ctx.allocator(), &info).map_err(|s| s.context(&what))?;
        let answer = call::allocate2(ctx.allocator(), &info, 1).map_err(|s| s.context(&what))?;
        if answer.elapsed > PROMPT || supported.elapsed > PROMPT {
            return Err(Stop::failed(format!("{what}: answered in {:?}", answer.elapsed)));
        }
        match (supported.value, answer.value) {
            (true, Ok(allocated)) => {
                reply_matches(&info, 1, &allocated)
                    .map_err(|s| s.context(format!("round {round}")))?;
                ok += 1;
            }
            (true, Err(r)) if r.code == AllocationError::NO_RESOURCES => refused += 1,
            (false, Err(r)) if r.code == UNSUPPORTED || r.code == BAD_DESCRIPTOR => refused += 1,
            (supported, Ok(_)) => {
                return Err(Stop::failed(format!("{what}: isSupported {supported} but allocated")))
            }
            (supported, Err(r)) => {
                return Err(Stop::failed(format!(
                    "{what}: isSupported {supported} but refused as {} ({r})",
                    code_name(r.code)
                )))
            }
        }
        ctx.check_nothing_lost(&before)
            .map_err(|lost| Stop::failed(format!("{what}: nothing-lost rule broken: {lost}")))?;
    }
    ctx.note(format!("{ok} allocated, {refused} refused consistently"));
    Ok(())
}
