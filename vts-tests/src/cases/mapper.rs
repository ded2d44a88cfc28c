//! The allocator-facing cases of the mapper 4.0 VTS, which reach an AIDL allocator through
//! the V1 `allocate(byte[], count)` entry point with a gralloc4-encoded descriptor.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use hal_interface::aidl::{AllocationError, BufferDescriptorInfo, IAllocator};

use crate::call::{self, Answer};
use crate::check::{self, reply_matches};
use crate::ctx::Ctx;
use crate::desc;
use crate::runner::{Case, Outcome, Stop};
use crate::v1::V1Fields;

/// The cases of this area.
pub const CASES: &[Case] = &[
    Case { name: "mapper.allocate_count_0_to_4_returns_exactly_count_buffers", run: count_0_to_4 },
    Case { name: "mapper.v1_empty_descriptor_is_bad_descriptor", run: empty_descriptor },
    Case { name: "mapper.v1_descriptor_fields_reach_the_handle", run: v1_fields_reach_handle },
    Case { name: "mapper.allocate_free_2048_times_1mp_keeps_fd_count_flat", run: no_leak_2048 },
    Case { name: "mapper.eight_threads_for_three_seconds_all_succeed", run: eight_threads },
];

/// The `allocate2` equivalent of a V1 descriptor, to check replies against.
fn info_of(fields: &V1Fields) -> BufferDescriptorInfo {
    let mut info = desc::raw(
        &fields.name,
        i32::try_from(fields.width).unwrap_or(i32::MAX),
        i32::try_from(fields.height).unwrap_or(i32::MAX),
        fields.format,
        fields.usage,
    );
    info.layerCount = i32::try_from(fields.layers).unwrap_or(i32::MAX);
    info.reservedSize = i64::try_from(fields.reserved_size).unwrap_or(i64::MAX);
    info
}

fn allocate_v1_ok(allocator: &dyn IAllocator, fields: &V1Fields, count: i32) -> Outcome {
    let info = info_of(fields);
    let what = format!("V1 allocate({}, count {count})", desc::describe(&info));
    match call::allocate_v1(allocator, &fields.encode(), count).map_err(|s| s.context(&what))?.value
    {
        Ok(allocated) => reply_matches(&info, count, &allocated).map_err(|s| s.context("V1")),
        Err(refused) => Err(Stop::failed(format!("{what} refused: {refused}"))),
    }
}

/// AllocatorAllocate: counts 0 to 4 all succeed with exactly `count` buffers (0 included).
fn count_0_to_4(ctx: &Ctx) -> Outcome {
    let fields = V1Fields::vts_default();
    for count in 0..=4 {
        allocate_v1_ok(ctx.allocator(), &fields, count)?;
    }
    Ok(())
}

/// AllocatorAllocateNegative: empty descriptor bytes are BAD_DESCRIPTOR.
fn empty_descriptor(ctx: &Ctx) -> Outcome {
    let answer = call::allocate_v1(ctx.allocator(), &[], 1)?;
    check::refused_with(ctx, "V1 allocate(empty bytes, 1)", answer, AllocationError::BAD_DESCRIPTOR)
}

/// The V1 bytes are really decoded: dimensions, format and usage other than the defaults
/// show up in the handle.
fn v1_fields_reach_handle(ctx: &Ctx) -> Outcome {
    let fields = V1Fields {
        name: b"v1-fields".to_vec(),
        width: 96,
        height: 40,
        layers: 1,
        format: hal_interface::Format::Rgb565.raw(),
        usage: hal_interface::usage::bits::CPU_READ_RARELY
            | hal_interface::usage::bits::GPU_TEXTURE,
        reserved_size: 0,
    };
    allocate_v1_ok(ctx.allocator(), &fields, 1)
}

/// AllocatorAllocateNoLeak: 2048 × allocate and free of 1024×1024 RGBA_8888; the client's and
/// the service's fd counts are the same afterwards.
fn no_leak_2048(ctx: &Ctx) -> Outcome {
    let fields = V1Fields { width: 1024, height: 1024, ..V1Fields::vts_default() };
    let bytes = fields.encode();
    let before = ctx.ledger();
    let start = Instant::now();
    for round in 0..2048 {
        match call::allocate_v1(ctx.allocator(), &bytes, 1)?.value {
            Ok(allocated) if allocated.buffers.len() == 1 => {}
            Ok(allocated) => {
                return Err(Stop::failed(format!(
                    "round {round}: {} buffers for count 1",
                    allocated.buffers.len()
                )))
            }
            Err(refused) => {
                return Err(Stop::failed(format!("round {round}: refused: {refused}")));
            }
        }
    }
    let elapsed = start.elapsed();
    ctx.note(format!(
        "2048 rounds in {:.0} ms ({:.3} ms each)",
        check::millis(elapsed),
        check::millis(elapsed) / 2048.0
    ));
    ctx.check_nothing_lost(&before)
        .map_err(|lost| Stop::failed(format!("fds leaked over 2048 rounds: {lost}")))
}

/// AllocatorAllocateThreaded: 8 threads allocate for 3 s on the shared connection; every call
/// succeeds and no thread hangs.
fn eight_threads(ctx: &Ctx) -> Outcome {
    const THREADS: usize = 8;
    const RUN: Duration = Duration::from_secs(3);
    const GRACE: Duration = Duration::from_secs(20);
    let fields = V1Fields::vts_default();
    let info = info_of(&fields);
    let bytes = fields.encode();
    let (tx, rx) = mpsc::channel::<(usize, Result<u64, Stop>)>();
    for thread in 0..THREADS {
        let allocator = ctx.shared_allocator();
        let (tx, bytes, info) = (tx.clone(), bytes.clone(), desc::copy(&info));
        std::thread::spawn(move || {
            let deadline = Instant::now() + RUN;
            let mut calls = 0u64;
            let result = loop {
                if Instant::now() >= deadline {
                    break Ok(calls);
                }
                let answer: Result<Answer, Stop> =
                    call::allocate_v1(&*allocator, &bytes, 1).map(|t| t.value);
                match answer {
                    Ok(Ok(allocated)) => {
                        if let Err(stop) = reply_matches(&info, 1, &allocated) {
                            break Err(stop);
                        }
                    }
                    Ok(Err(refused)) => {
                        break Err(Stop::failed(format!("call {calls} refused: {refused}")))
                    }
                    Err(stop) => break Err(stop.context(format!("call {calls}"))),
                }
                calls += 1;
            };
            // The receiver is gone only when the case already gave up on this thread.
            let _ = tx.send((thread, result));
        });
    }
    drop(tx);
    let deadline = Instant::now() + RUN + GRACE;
    let mut total = 0u64;
    for _ in 0..THREADS {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((_, Ok(calls))) => total += calls,
            Ok((thread, Err(stop))) => return Err(stop.context(format!("thread {thread}"))),
            Err(_) => {
                return Err(Stop::failed(format!(
                    "a thread is still inside a call {:?} after the run ended (deadlock?)",
                    GRACE
                )))
            }
        }
    }
    ctx.note(format!("{total} allocations by {THREADS} threads in {RUN:?}"));
    if total == 0 {
        return Err(Stop::failed("no allocation completed"));
    }
    Ok(())
}
