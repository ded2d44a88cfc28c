//! CPU access: mmap plus DMA_BUF sync round trips, a second process sharing the memory,
//! zero-filled fresh buffers, the reserved region.

use std::os::fd::AsFd;

use hal_interface::aidl::AllocationError;
use hal_interface::Format;

use crate::call;
use crate::check::{allocate_checked, PROMPT};
use crate::child;
use crate::ctx::Ctx;
use crate::desc::{self, describe, CPU_RW};
use crate::mem::{self, SyncMode};
use crate::runner::{Case, Outcome, Stop};

/// The cases of this area.
pub const CASES: &[Case] = &[
    Case { name: "cpu.write_pattern_read_back_via_mmap", run: round_trip },
    Case { name: "cpu.second_process_sees_the_same_memory", run: second_process },
    Case { name: "cpu.fresh_buffer_reads_all_zero_after_dirty_reuse", run: zeroed },
    Case { name: "cpu.reserved_region_has_the_requested_size_and_is_usable", run: reserved },
];

fn note_sync_mode(ctx: &Ctx, fd: std::os::fd::BorrowedFd<'_>) -> Outcome {
    if mem::sync_mode(fd)? == SyncMode::Memfd {
        ctx.note("buffer is a plain memfd (no udmabuf): DMA_BUF sync skipped, data still checked");
    }
    Ok(())
}

/// LockUnlockBasic without a mapper: write a pattern over the whole allocation through one
/// mapping, read it back through a new one, for RGBA_8888, YV12 and YCBCR_420_888.
fn round_trip(ctx: &Ctx) -> Outcome {
    let infos = [
        desc::new(64, 64, Format::Rgba8888, CPU_RW),
        desc::new(100, 50, Format::Yv12, CPU_RW),
        desc::new(64, 64, Format::Ycbcr420_888, CPU_RW),
    ];
    for (seed, info) in (1u32..).zip(&infos) {
        let buffer = allocate_checked(ctx.allocator(), info, 1)?.single()?;
        let fd = buffer.fd.as_fd();
        if seed == 1 {
            note_sync_mode(ctx, fd)?;
        }
        let len = buffer.handle.alloc_size;
        mem::write_pattern(fd, len, seed).map_err(|s| s.context(describe(info)))?;
        mem::check_pattern(fd, len, seed).map_err(|s| s.context(describe(info)))?;
    }
    Ok(())
}

/// The fd really is shared memory: a child process sees the parent's pattern, and the
/// parent sees the child's.
fn second_process(ctx: &Ctx) -> Outcome {
    let exe = ctx.helper_exe().ok_or_else(|| {
        Stop::skipped("no helper executable with the child subcommand was configured")
    })?;
    let info = desc::new(256, 64, Format::Rgba8888, CPU_RW);
    let buffer = allocate_checked(ctx.allocator(), &info, 1)?.single()?;
    let (fd, len) = (buffer.fd.as_fd(), buffer.handle.alloc_size);
    mem::write_pattern(fd, len, 11)?;
    child::check_in_child(exe, fd, len, 11, 12)?;
    mem::check_pattern(fd, len, 12)
        .map_err(|s| s.context("the child's pattern, read by the parent"))
}

/// Zeroed (libdmabufheap) at the allocator level: dirty 16 buffers with 0xAA over their whole
/// size, free them, allocate 16 more: every byte of each new buffer (padding and stride slack
/// included) reads zero.
fn zeroed(ctx: &Ctx) -> Outcome {
    const ROUNDS: usize = 16;
    // Odd width so the rows carry stride slack.
    let info = desc::new(250, 64, Format::Rgba8888, CPU_RW);
    let mut dirty = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let buffer = allocate_checked(ctx.allocator(), &info, 1)?.single()?;
        let len = mem::size(buffer.fd.as_fd())?;
        mem::write_bytes(buffer.fd.as_fd(), len, |bytes| {
            bytes.fill(0xAA);
            Ok(())
        })?;
        dirty.push(buffer);
    }
    drop(dirty);
    for round in 0..ROUNDS {
        let buffer = allocate_checked(ctx.allocator(), &info, 1)?.single()?;
        let len = mem::size(buffer.fd.as_fd())?;
        if let Some((at, value)) = mem::first_non_zero(buffer.fd.as_fd(), len)? {
            return Err(Stop::failed(format!(
                "fresh buffer {round} ({len} bytes, alloc_size {}): byte {at} reads {value:#04x}",
                buffer.handle.alloc_size
            )));
        }
    }
    Ok(())
}

/// GetReservedRegion: for reservedSize 1, 10, 333, half a page and a page the handle reports
/// exactly that size inside the buffer, zero-filled and writable without touching the image;
/// 2, 10 and 1000 pages (GetLargeReservedRegion) may be UNSUPPORTED, otherwise exact too.
fn reserved(ctx: &Ctx) -> Outcome {
    let page = heaps::page_size();
    let small = [1, 10, 333, page / 2, page];
    let large = [2 * page, 10 * page, 1000 * page];
    for (optional, size) in
        small.iter().map(|&s| (false, s)).chain(large.iter().map(|&s| (true, s)))
    {
        let mut info = desc::new(64, 64, Format::Rgba8888, CPU_RW);
        info.reservedSize = i64::try_from(size).unwrap_or(i64::MAX);
        let what = describe(&info);
        let answer = call::allocate2(ctx.allocator(), &info, 1)?;
        let buffer = match answer.value {
            Ok(allocated) => {
                crate::check::reply_matches(&info, 1, &allocated)?;
                allocated.single()?
            }
            Err(refused) if optional && refused.code == AllocationError::UNSUPPORTED => {
                ctx.note(format!("{what}: UNSUPPORTED (allowed for large regions)"));
                continue;
            }
            Err(refused) => return Err(Stop::failed(format!("{what}: refused: {refused}"))),
        };
        if answer.elapsed > PROMPT {
            ctx.note(format!("{what}: slow answer {:?}", answer.elapsed));
        }
        let h = &buffer.handle;
        if h.reserved_size != size {
            return Err(Stop::failed(format!(
                "{what}: handle reserved_size {}, requested {size}",
                h.reserved_size
            )));
        }
        let (offset, end) = (h.reserved_offset, h.reserved_offset.saturating_add(size));
        let image_end = h.planes.iter().map(|p| p.offset.saturating_add(p.size)).max().unwrap_or(0);
        if offset < image_end || end > h.alloc_size {
            return Err(Stop::failed(format!(
                "{what}: reserved [{offset}, {end}) overlaps the image (ends {image_end}) \
                 or passes alloc_size {}",
                h.alloc_size
            )));
        }
        let start = usize::try_from(offset).map_err(|_| Stop::failed("offset overflow"))?;
        let stop = usize::try_from(end).map_err(|_| Stop::failed("offset overflow"))?;
        mem::write_bytes(buffer.fd.as_fd(), h.alloc_size, |bytes| {
            let region =
                bytes.get_mut(start..stop).ok_or_else(|| Stop::failed("region outside"))?;
            if let Some(at) = region.iter().position(|&b| b != 0) {
                return Err(Stop::failed(format!("{what}: reserved byte {at} is not zero")));
            }
            mem::fill_pattern(region, 21);
            Ok(())
        })?;
        mem::read_bytes(buffer.fd.as_fd(), h.alloc_size, |bytes| {
            let region = bytes.get(start..stop).ok_or_else(|| Stop::failed("region outside"))?;
            match mem::pattern_mismatch(region, 21) {
                Some(at) => Err(Stop::failed(format!("{what}: reserved byte {at} lost its write"))),
                None => Ok(()),
            }
        })?;
    }
    Ok(())
}
