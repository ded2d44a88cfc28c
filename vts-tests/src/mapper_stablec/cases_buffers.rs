//! Loading, import/free, lock/unlock and flush/reread cases.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

use hal_interface::metadata::{MetadataValue, StandardMetadataType as T};
use hal_interface::usage::bits;
use hal_interface::Format;

use super::cases_formats::verify_rgba8888_plane_layouts;
use super::{
    allocate_ok, expect_code, generic_info, loaded, mapper, region_of, require, vts_info, ARect,
    Allocation, HandleArg, Import, LockedMemory, Mapper, NativeHandleWords,
};
use crate::ctx::Ctx;
use crate::desc;
use crate::runner::{Case, Outcome, Stop};

/// The cases of this file.
pub const CASES: &[Case] = &[
    Case { name: "mapper_stablec.version_checks", run: version_checks },
    Case { name: "mapper_stablec.all_v5_callbacks_defined", run: all_v5_callbacks_defined },
    Case { name: "mapper_stablec.dual_load_is_identical", run: dual_load_is_identical },
    Case {
        name: "mapper_stablec.allocator_buffers_import_into_the_suffix_mapper",
        run: allocator_buffers_import,
    },
    Case { name: "mapper_stablec.can_allocate", run: can_allocate },
    Case { name: "mapper_stablec.import_free_buffer", run: import_free_buffer },
    Case { name: "mapper_stablec.import_free_buffer_singleton", run: import_free_buffer_singleton },
    Case { name: "mapper_stablec.import_buffer_negative", run: import_buffer_negative },
    Case { name: "mapper_stablec.free_buffer_negative", run: free_buffer_negative },
    Case { name: "mapper_stablec.lock_unlock_basic", run: lock_unlock_basic },
    Case { name: "mapper_stablec.lock_bad_access_region", run: lock_bad_access_region },
    Case {
        name: "mapper_stablec.lock_closes_the_acquire_fence_even_on_error",
        run: lock_closes_the_acquire_fence_even_on_error,
    },
    Case { name: "mapper_stablec.unlock_negative", run: unlock_negative },
    Case { name: "mapper_stablec.unlock_not_imported", run: unlock_not_imported },
    Case { name: "mapper_stablec.unlock_not_locked", run: unlock_not_locked },
    Case { name: "mapper_stablec.lock_unlock_nested", run: lock_unlock_nested },
    Case { name: "mapper_stablec.flush_reread_basic", run: flush_reread_basic },
    Case {
        name: "mapper_stablec.flush_locked_buffer_bad_buffer",
        run: flush_locked_buffer_bad_buffer,
    },
    Case {
        name: "mapper_stablec.reread_locked_buffer_bad_buffer",
        run: reread_locked_buffer_bad_buffer,
    },
];

/// `lock` that insists on NONE; returns the data address.
///
/// # Errors
/// Another code.
pub fn lock_ok(
    mapper: &Mapper,
    handle: HandleArg<'_>,
    usage: u64,
    region: ARect,
    fence: Option<OwnedFd>,
) -> Result<usize, Stop> {
    let (code, data) = mapper.lock(handle, usage, region, fence)?;
    expect_code(&format!("lock(usage {usage:#x}, {region:?})"), code, super::error::NONE)?;
    Ok(data)
}

/// `unlock` that insists on NONE; returns the release fence if any.
///
/// # Errors
/// Another code.
pub fn unlock_ok(mapper: &Mapper, handle: HandleArg<'_>) -> Result<Option<OwnedFd>, Stop> {
    let (code, fence, _) = mapper.unlock(handle)?;
    expect_code("unlock", code, super::error::NONE)?;
    Ok(fence)
}

/// The low byte of `value`: the VTS patterns wrap every 256 rows.
fn low_byte(value: usize) -> u8 {
    value.to_le_bytes()[0]
}

/// The VTS `fillRGBA8888`: row `y` of `width_bytes` bytes set to `y`.
fn fill_rgba8888(mem: &LockedMemory, height: usize, stride_bytes: usize, width_bytes: usize) {
    for y in 0..height {
        for i in 0..width_bytes {
            let _ = mem.write(y * stride_bytes + i, low_byte(y));
        }
    }
}

/// The bytes a `height` × `width_bytes` image with `stride_bytes` rows spans.
fn image_span(height: usize, stride_bytes: usize, width_bytes: usize) -> Result<usize, Stop> {
    height
        .checked_sub(1)
        .and_then(|rows| rows.checked_mul(stride_bytes))
        .and_then(|n| n.checked_add(width_bytes))
        .ok_or_else(|| Stop::failed("image span overflows"))
}

/// The VTS `verifyRGBA8888`: plane layouts of RGBA_8888, then every row holds its index.
fn verify_rgba8888(
    mapper: &Mapper,
    handle: HandleArg<'_>,
    mem: &LockedMemory,
    height: usize,
    stride_bytes: usize,
    width_bytes: usize,
) -> Outcome {
    let MetadataValue::PlaneLayouts(layouts) = require(mapper, handle, T::PlaneLayouts)? else {
        return Err(Stop::failed("PLANE_LAYOUTS decoded to another type"));
    };
    if layouts.is_empty() {
        return Err(Stop::failed("PLANE_LAYOUTS is empty"));
    }
    verify_rgba8888_plane_layouts(&layouts)?;
    for y in 0..height {
        for i in 0..width_bytes {
            let at = y * stride_bytes + i;
            let found = mem.read(at);
            if found != Some(low_byte(y)) {
                return Err(Stop::failed(format!(
                    "row {y} byte {i} (offset {at}) reads {found:?}, {} was written",
                    low_byte(y)
                )));
            }
        }
    }
    Ok(())
}

/// Geometry of an RGBA_8888 allocation in bytes: (height, stride, width).
fn rgba_geometry(allocation: &Allocation) -> Result<(usize, usize, usize), Stop> {
    let as_usize = |v: i32, what: &str| {
        usize::try_from(v).map_err(|_| Stop::failed(format!("{what} {v} is negative")))
    };
    let height = as_usize(allocation.info.height, "height")?;
    let stride = as_usize(allocation.stride, "stride")?
        .checked_mul(4)
        .ok_or_else(|| Stop::failed("stride overflows"))?;
    let width = as_usize(allocation.info.width, "width")? * 4;
    Ok((height, stride, width))
}

/// VersionChecks: `ANDROID_HAL_MAPPER_VERSION` exists and is 5, `AIMapper::version` is 5,
/// and they agree.
fn version_checks(ctx: &Ctx) -> Outcome {
    let loaded = loaded(ctx)?;
    let hal = loaded.library().hal_version().ok_or_else(|| {
        Stop::failed("resolving the ANDROID_HAL_MAPPER_VERSION symbol failed (export an int32 5)")
    })?;
    let version = loaded.mapper().version();
    if hal != 5 {
        return Err(Stop::failed(format!("unrecognized ANDROID_HAL_MAPPER_VERSION {hal}")));
    }
    if version != 5 {
        return Err(Stop::failed(format!("unrecognized AIMapper::version {version}")));
    }
    if i64::from(hal) != i64::from(version) {
        return Err(Stop::failed("AIMapper version and ANDROID_HAL_MAPPER_VERSION disagree"));
    }
    Ok(())
}

/// AllV5CallbacksDefined: the 14 callbacks the VTS lists are non-null (dumpAllBuffers too,
/// which the header requires and libui calls).
fn all_v5_callbacks_defined(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let null: Vec<&str> =
        mapper.callbacks().iter().filter(|(_, f)| f.is_none()).map(|(n, _)| *n).collect();
    if null.is_empty() {
        Ok(())
    } else {
        Err(Stop::failed(format!("null AIMapperV5 callbacks: {}", null.join(", "))))
    }
}

/// DualLoadIsIdentical: a second `AIMapper_loadIMapper` gives the same callbacks.
fn dual_load_is_identical(ctx: &Ctx) -> Outcome {
    let loaded = loaded(ctx)?;
    let (code, second) = loaded.library().load_mapper();
    expect_code("second AIMapper_loadIMapper", code, super::error::NONE)?;
    let second = second.ok_or_else(|| Stop::failed("second load gave a null mapper"))?;
    let first = loaded.mapper().callbacks();
    for ((name, a), (_, b)) in first.iter().zip(second.callbacks().iter()) {
        if a != b {
            return Err(Stop::failed(format!("{name} differs between loads: {a:?} vs {b:?}")));
        }
    }
    if second.address() != loaded.mapper().address() {
        ctx.note(format!(
            "the second load returned another AIMapper ({:#x} vs {:#x}) with identical callbacks",
            second.address(),
            loaded.mapper().address()
        ));
    }
    Ok(())
}

/// The allocator VTS set-up rule: buffers from `allocate2` import into the mapper the
/// allocator names, for the mandatory formats, and free again.
fn allocator_buffers_import(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let infos = [
        generic_info(),
        vts_info(b"VTS_TEMP", 64, 64, Format::Yv12.raw(), desc::CPU_RW),
        vts_info(b"VTS_TEMP", 64, 64, Format::Ycbcr420_888.raw(), desc::CPU_RW),
        vts_info(b"VTS_TEMP", 4096, 1, Format::Blob.raw(), desc::CPU_RW),
        vts_info(b"VTS_TEMP", 64, 64, Format::Rgba8888.raw(), bits::GPU_TEXTURE),
    ];
    for info in &infos {
        let allocation = allocate_ok(ctx, info)?;
        let import =
            Import::new(mapper, &allocation).map_err(|s| s.context(desc::describe(info)))?;
        let (code, fds, ints) = mapper.get_transport_size(import.arg())?;
        expect_code("getTransportSize", code, super::error::NONE)?;
        let words = allocation.words().words();
        // What travels is at most what the allocator sent, and at least one fd (the pixels).
        let raw_fds = allocation.fds().len();
        let raw_ints = words.len().saturating_sub(3).saturating_sub(raw_fds);
        let fds_ok = usize::try_from(fds).is_ok_and(|n| (1..=raw_fds).contains(&n));
        let ints_ok = usize::try_from(ints).is_ok_and(|n| n <= raw_ints);
        if !fds_ok || !ints_ok {
            return Err(Stop::failed(format!(
                "{}: getTransportSize says {fds} fds / {ints} ints, the raw handle has {raw_fds} / \
                 {raw_ints}",
                desc::describe(info)
            )));
        }
        import.free().map_err(|s| s.context(desc::describe(info)))?;
    }
    Ok(())
}

/// CanAllocate: the generic buffer allocates with stride ≥ 64.
fn can_allocate(ctx: &Ctx) -> Outcome {
    mapper(ctx)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    if allocation.stride < 64 {
        return Err(Stop::failed(format!("stride {} < 64", allocation.stride)));
    }
    Ok(())
}

/// ImportFreeBuffer: two imports of one raw handle are distinct handles; both free.
fn import_free_buffer(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    if allocation.stride < 64 {
        return Err(Stop::failed(format!("stride {} < 64", allocation.stride)));
    }
    let first = Import::new(mapper, &allocation)?;
    let second = Import::new(mapper, &allocation)?;
    if first.handle() == second.handle() {
        return Err(Stop::failed("two imports of one raw handle returned the same handle"));
    }
    first.free()?;
    second.free()
}

/// ImportFreeBufferSingleton: a handle imported through one mapper instance frees through
/// another (one process-wide registry).
fn import_free_buffer_singleton(ctx: &Ctx) -> Outcome {
    let loaded = loaded(ctx)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    let (code, handle) = loaded.mapper().import_buffer(allocation.raw())?;
    expect_code("importBuffer", code, super::error::NONE)?;
    let handle = handle.ok_or_else(|| Stop::failed("importBuffer gave a null handle"))?;
    let (code, second) = loaded.library().load_mapper();
    let Some(second) = second.filter(|_| code == super::error::NONE) else {
        let _ = loaded.mapper().free_buffer(HandleArg::Imported(handle));
        return Err(Stop::failed(format!(
            "second AIMapper_loadIMapper answered {}",
            super::error::name(code)
        )));
    };
    let code = second.free_buffer(HandleArg::Imported(handle))?;
    expect_code("freeBuffer through the second mapper instance", code, super::error::NONE)
}

/// ImportBufferNegative: null and `native_handle_create(0, 0)` are BAD_BUFFER.
fn import_buffer_negative(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let (code, _) = mapper.import_buffer(HandleArg::Null)?;
    expect_code("importBuffer(nullptr)", code, super::error::BAD_BUFFER)?;
    let empty = NativeHandleWords::empty();
    let (code, handle) = mapper.import_buffer(HandleArg::Raw(&empty))?;
    if let (Some(h), true) = (handle, code == super::error::NONE) {
        let _ = mapper.free_buffer(HandleArg::Imported(h));
    }
    expect_code("importBuffer(native_handle_create(0, 0))", code, super::error::BAD_BUFFER)
}

/// FreeBufferNegative: null, an empty handle and a raw (not imported) handle are BAD_BUFFER.
fn free_buffer_negative(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let code = mapper.free_buffer(HandleArg::Null)?;
    expect_code("freeBuffer(nullptr)", code, super::error::BAD_BUFFER)?;
    let empty = NativeHandleWords::empty();
    let code = mapper.free_buffer(HandleArg::Raw(&empty))?;
    expect_code("freeBuffer(native_handle_create(0, 0))", code, super::error::BAD_BUFFER)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    let code = mapper.free_buffer(allocation.raw())?;
    expect_code("freeBuffer of an un-imported handle", code, super::error::BAD_BUFFER)
}

/// LockUnlockBasic: write rows through one lock, read them back through a second lock that
/// receives the first unlock's release fence.
fn lock_unlock_basic(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let usage = desc::CPU_RW;
    let allocation = allocate_ok(ctx, &generic_info())?;
    let (height, stride, width) = rgba_geometry(&allocation)?;
    let span = image_span(height, stride, width)?;
    let inode = allocation.inode()?;
    let region = region_of(&allocation.info);
    let import = Import::new(mapper, &allocation)?;
    let data = lock_ok(mapper, import.arg(), usage, region, None)?;
    let filled = LockedMemory::new(data, span, inode, true)
        .map(|mem| fill_rgba8888(&mem, height, stride, width))
        .map_err(Stop::failed);
    let fence = unlock_ok(mapper, import.arg())?;
    filled?;
    let data = lock_ok(mapper, import.arg(), usage, region, fence)?;
    let verified = LockedMemory::new(data, span, inode, false)
        .map_err(Stop::failed)
        .and_then(|mem| verify_rgba8888(mapper, import.arg(), &mem, height, stride, width));
    let unlocked = unlock_ok(mapper, import.arg());
    verified?;
    unlocked?;
    import.free()
}

/// LockBadAccessRegion: a region twice the buffer's size is BAD_VALUE.
fn lock_bad_access_region(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    let info = &allocation.info;
    let region = ARect { left: 0, top: 0, right: info.width * 2, bottom: info.height * 2 };
    let import = Import::new(mapper, &allocation)?;
    let (code, _) = mapper.lock(import.arg(), desc::usage_of(info), region, None)?;
    if code == super::error::NONE {
        let _ = mapper.unlock(import.arg());
    }
    expect_code("lock of a region twice the buffer", code, super::error::BAD_VALUE)?;
    import.free()
}

/// `lock` handed a signalled acquire fence (the read end of a pipe holding a byte: POLLIN, as
/// a signalled sync fence answers); returns the code and whether the fence's fd number was
/// closed when `lock` returned, checked before any other call can reuse the number.
///
/// # Errors
/// No pipe, or a null callback.
fn lock_with_signalled_fence(
    mapper: &Mapper,
    handle: HandleArg<'_>,
    usage: u64,
    region: ARect,
) -> Result<(i32, bool), Stop> {
    let (fence, writer) =
        nix::unistd::pipe().map_err(|e| Stop::failed(format!("pipe for the fence: {e}")))?;
    // Kept open until after the check, so the fence reads as signalled, not hung up.
    let mut writer = File::from(writer);
    writer.write_all(b"s").map_err(|e| Stop::failed(format!("signalling the fence: {e}")))?;
    let number = fence.as_raw_fd();
    // `lock` takes the fd over (`into_raw_fd`): only the mapper may close it.
    let (code, _) = mapper.lock(handle, usage, region, Some(fence))?;
    let closed = !super::ffi::fd_is_open(number);
    drop(writer);
    Ok((code, closed))
}

/// IMapper.h `lock`: the mapper owns the acquire fence and closes it, even on error. A
/// signalled fence handed to a lock that succeeds, to one of a region twice the buffer
/// (BAD_VALUE) and to one of a null handle (BAD_BUFFER) must be closed when each returns.
fn lock_closes_the_acquire_fence_even_on_error(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    let info = &allocation.info;
    let usage = desc::usage_of(info);
    let import = Import::new(mapper, &allocation)?;
    let mut open = Vec::new();

    let (code, closed) = lock_with_signalled_fence(mapper, import.arg(), usage, region_of(info))?;
    if code == super::error::NONE {
        unlock_ok(mapper, import.arg())?;
    }
    expect_code("lock with a signalled acquire fence", code, super::error::NONE)?;
    if !closed {
        open.push("a successful lock");
    }

    let twice = ARect { left: 0, top: 0, right: info.width * 2, bottom: info.height * 2 };
    let (code, closed) = lock_with_signalled_fence(mapper, import.arg(), usage, twice)?;
    if code == super::error::NONE {
        let _ = mapper.unlock(import.arg());
    }
    expect_code("lock of a region twice the buffer", code, super::error::BAD_VALUE)?;
    if !closed {
        open.push("a lock refused with BAD_VALUE (region twice the buffer)");
    }

    let (code, closed) =
        lock_with_signalled_fence(mapper, HandleArg::Null, usage, region_of(info))?;
    expect_code("lock(nullptr)", code, super::error::BAD_BUFFER)?;
    if !closed {
        open.push("a lock refused with BAD_BUFFER (null handle)");
    }

    if !open.is_empty() {
        // Not closed here: the mapper owns the number and may still close it later.
        return Err(Stop::failed(format!(
            "the acquire fence is still open after {}",
            open.join(", after ")
        )));
    }
    import.free()
}

/// UnlockNegative: null, an empty handle and a raw handle are BAD_BUFFER.
fn unlock_negative(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let (code, _, _) = mapper.unlock(HandleArg::Null)?;
    expect_code("unlock(nullptr)", code, super::error::BAD_BUFFER)?;
    let empty = NativeHandleWords::empty();
    let (code, _, _) = mapper.unlock(HandleArg::Raw(&empty))?;
    expect_code("unlock(native_handle_create(0, 0))", code, super::error::BAD_BUFFER)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    let (code, _, _) = mapper.unlock(allocation.raw())?;
    expect_code("unlock of an un-imported handle", code, super::error::BAD_BUFFER)
}

/// UnlockNotImported: unlock of a raw handle is BAD_BUFFER.
fn unlock_not_imported(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    let (code, _, _) = mapper.unlock(allocation.raw())?;
    expect_code("unlock of an un-imported handle", code, super::error::BAD_BUFFER)
}

/// UnlockNotLocked: unlock of an imported, unlocked handle is BAD_BUFFER.
fn unlock_not_locked(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    let import = Import::new(mapper, &allocation)?;
    let (code, _, _) = mapper.unlock(import.arg())?;
    expect_code("unlock of an unlocked handle", code, super::error::BAD_BUFFER)?;
    import.free()
}

/// LockUnlockNested: two locks, two unlocks succeed; a third unlock is BAD_BUFFER.
fn lock_unlock_nested(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    let region = region_of(&allocation.info);
    let usage = desc::usage_of(&allocation.info);
    let _first = Import::new(mapper, &allocation)?;
    let import = Import::new(mapper, &allocation)?;
    lock_ok(mapper, import.arg(), usage, region, None)?;
    lock_ok(mapper, import.arg(), usage, region, None).map_err(|s| s.context("second lock"))?;
    unlock_ok(mapper, import.arg())?;
    unlock_ok(mapper, import.arg()).map_err(|s| s.context("second unlock"))?;
    let (code, _, _) = mapper.unlock(import.arg())?;
    expect_code("third, unmatched, unlock", code, super::error::BAD_BUFFER)?;
    import.free()
}

/// FlushRereadBasic: data written through one import and flushed is seen through another
/// import's lock after reread.
fn flush_reread_basic(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let allocation = allocate_ok(ctx, &generic_info())?;
    let (height, stride, width) = rgba_geometry(&allocation)?;
    let span = image_span(height, stride, width)?;
    let inode = allocation.inode()?;
    let region = region_of(&allocation.info);
    let _kept = Import::new(mapper, &allocation)?;
    let write = Import::new(mapper, &allocation)?;
    let read = Import::new(mapper, &allocation)?;
    let write_data = lock_ok(mapper, write.arg(), bits::CPU_WRITE_OFTEN, region, None)?;
    let read_data = match lock_ok(mapper, read.arg(), bits::CPU_READ_OFTEN, region, None) {
        Ok(data) => data,
        Err(stop) => {
            let _ = mapper.unlock(write.arg());
            return Err(stop);
        }
    };
    let result = (|| {
        let out = LockedMemory::new(write_data, span, inode, true).map_err(Stop::failed)?;
        fill_rgba8888(&out, height, stride, width);
        expect_code("flushLockedBuffer", mapper.flush_locked_buffer(write.arg())?, 0)?;
        expect_code("rereadLockedBuffer", mapper.reread_locked_buffer(read.arg())?, 0)?;
        let input = LockedMemory::new(read_data, span, inode, false).map_err(Stop::failed)?;
        verify_rgba8888(mapper, read.arg(), &input, height, stride, width)
    })();
    let read_unlocked = unlock_ok(mapper, read.arg());
    let write_unlocked = unlock_ok(mapper, write.arg());
    result?;
    read_unlocked?;
    write_unlocked?;
    read.free()?;
    write.free()
}

/// FlushLockedBufferBadBuffer: null is BAD_BUFFER.
fn flush_locked_buffer_bad_buffer(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let code = mapper.flush_locked_buffer(HandleArg::Null)?;
    expect_code("flushLockedBuffer(nullptr)", code, super::error::BAD_BUFFER)
}

/// RereadLockedBufferBadBuffer: null is BAD_BUFFER.
fn reread_locked_buffer_bad_buffer(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let code = mapper.reread_locked_buffer(HandleArg::Null)?;
    expect_code("rereadLockedBuffer(nullptr)", code, super::error::BAD_BUFFER)
}
