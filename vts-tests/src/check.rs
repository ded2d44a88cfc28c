//! Checks shared by many cases: the output contract of a successful reply (valid
//! handles, no stray fds) and the shape of a refusal (code, promptness).

use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use hal_interface::aidl::{AllocationError, BufferDescriptorInfo, IAllocator};
use hal_interface::shared_metadata;
use hal_interface::wire::descriptor_name;
use hal_interface::Format;
use heaps::dmabuf;
use nix::sys::stat::fstat;

use crate::call::{self, code_name, Allocated, Answer, Timed};
use crate::ctx::Ctx;
use crate::desc::{self, describe};
use crate::mem;
use crate::runner::Stop;

/// The longest a refusal may take. Generous on purpose: the point is "no heap touched, no
/// hang", not a latency budget (which differs between a laptop and an emulated board).
pub const PROMPT: Duration = Duration::from_secs(2);

/// Formats whose handle may report the concrete layout the allocator chose.
fn flexible(format: i32) -> bool {
    format == Format::ImplementationDefined.raw() || format == Format::Ycbcr420_888.raw()
}

/// Checks a successful reply against its request: exactly `count` buffers, one stride at
/// least the width, handles that describe the request, fds at least as large as the handle
/// says, distinct buffers.
///
/// # Errors
/// The first broken rule.
pub fn reply_matches(
    info: &BufferDescriptorInfo,
    count: i32,
    allocated: &Allocated,
) -> Result<(), Stop> {
    let what = describe(info);
    let found = allocated.buffers.len();
    if usize::try_from(count).ok() != Some(found) {
        return Err(Stop::failed(format!(
            "{what}: asked for {count} buffers, reply holds {found}"
        )));
    }
    if found > 0 && allocated.stride < info.width {
        return Err(Stop::failed(format!(
            "{what}: stride {} is less than width {}",
            allocated.stride, info.width
        )));
    }
    let mut inodes = HashSet::new();
    let mut ids = HashSet::new();
    for (index, buffer) in allocated.buffers.iter().enumerate() {
        let h = &buffer.handle;
        let fail = |text: String| Err(Stop::failed(format!("{what}: buffer {index}: {text}")));
        if i64::from(h.stride_pixels) != i64::from(allocated.stride) {
            return fail(format!(
                "handle stride {} differs from AllocationResult.stride {}",
                h.stride_pixels, allocated.stride
            ));
        }
        let requested = (i64::from(info.width), i64::from(info.height), i64::from(info.layerCount));
        let described = (i64::from(h.width), i64::from(h.height), i64::from(h.layers));
        if requested != described {
            return fail(format!("handle describes {described:?}, request was {requested:?}"));
        }
        if h.usage != desc::usage_of(info) {
            return fail(format!(
                "handle usage {:#x}, request {:#x}",
                h.usage,
                desc::usage_of(info)
            ));
        }
        if h.format != info.format.0 && !flexible(info.format.0) {
            return fail(format!("handle format {:#x}, request {:#x}", h.format, info.format.0));
        }
        let size = mem::size(buffer.fd.as_fd())?;
        if size < h.alloc_size {
            return fail(format!("fd holds {size} bytes, handle says {}", h.alloc_size));
        }
        let stat = fstat(buffer.fd.as_fd()).map_err(|e| Stop::failed(format!("fstat: {e}")))?;
        if !inodes.insert((stat.st_dev, stat.st_ino)) {
            return fail("the same memory as an earlier buffer of the reply".to_owned());
        }
        if !ids.insert(h.buffer_id) {
            return fail(format!("buffer id {} repeats", h.buffer_id));
        }
        let stat =
            fstat(buffer.metadata.as_fd()).map_err(|e| Stop::failed(format!("fstat: {e}")))?;
        if !inodes.insert((stat.st_dev, stat.st_ino)) {
            return fail("the metadata region is the memory of another fd of the reply".to_owned());
        }
        if let Err(text) = region_matches(info, buffer.metadata.as_fd()) {
            return fail(text);
        }
    }
    Ok(())
}

/// What a buffer's metadata region (handle fd 1) holds, decoded.
///
/// # Errors
/// A region that is too small, does not map or does not decode.
pub fn region_of(fd: BorrowedFd<'_>) -> Result<shared_metadata::SharedMetadata, Stop> {
    read_region(fd).map_err(Stop::failed)
}

fn read_region(fd: BorrowedFd<'_>) -> Result<shared_metadata::SharedMetadata, String> {
    let size = mem::size(fd).map_err(|e| format!("metadata region: {e}"))?;
    let len = usize::try_from(shared_metadata::REGION_SIZE).unwrap_or(usize::MAX);
    if size < u64::try_from(len).unwrap_or(u64::MAX) {
        return Err(format!("metadata region holds {size} bytes, layout needs {len}"));
    }
    let map = dmabuf::Mapping::new(fd, len, false)
        .map_err(|e| format!("metadata region does not map: {e}"))?;
    // Nobody has written to a region fresh from the allocator: a plain copy is consistent.
    let mut bytes = vec![0u8; len];
    map.read_into(0, &mut bytes).map_err(|e| format!("metadata region: {e}"))?;
    shared_metadata::decode(&bytes).map_err(|e| format!("metadata region does not decode: {e}"))
}

/// A fresh buffer's metadata region holds the descriptor's name and Dataspace option (or
/// UNKNOWN) and every other field at its default.
fn region_matches(info: &BufferDescriptorInfo, fd: BorrowedFd<'_>) -> Result<(), String> {
    let region = read_region(fd)?;
    let dataspace = info
        .additionalOptions
        .iter()
        .find(|o| o.name == "android.hardware.graphics.common.Dataspace")
        .map_or(0, |o| i32::try_from(o.value).unwrap_or(0));
    let expected = shared_metadata::SharedMetadata {
        name: descriptor_name(&info.name).to_vec(),
        dataspace,
        ..shared_metadata::SharedMetadata::default()
    };
    if region != expected {
        return Err(format!("metadata region holds {region:?}, expected {expected:?}"));
    }
    Ok(())
}

/// Allocates `count` buffers with `allocate2`, insists on success and on
/// [`reply_matches`].
///
/// # Errors
/// A refusal or a broken output rule.
pub fn allocate_checked(
    allocator: &dyn IAllocator,
    info: &BufferDescriptorInfo,
    count: i32,
) -> Result<Allocated, Stop> {
    let allocated = call::allocate2_ok(allocator, info, count)?;
    reply_matches(info, count, &allocated)?;
    Ok(allocated)
}

/// Insists that a timed answer is a refusal with `expected`, in time, and prints the time.
///
/// # Errors
/// Success, another code, or a slow answer.
pub fn refused_with(
    ctx: &Ctx,
    what: &str,
    answer: Timed<Answer>,
    expected: AllocationError,
) -> Result<(), Stop> {
    let elapsed = answer.elapsed;
    match answer.value {
        Ok(allocated) => Err(Stop::failed(format!(
            "{what}: expected {}, got {} buffers (stride {})",
            code_name(expected),
            allocated.buffers.len(),
            allocated.stride
        ))),
        Err(refused) if refused.code != expected => {
            Err(Stop::failed(format!("{what}: expected {}, got {refused}", code_name(expected))))
        }
        Err(_) if elapsed > PROMPT => Err(Stop::failed(format!(
            "{what}: refused correctly but took {elapsed:?} (bound {PROMPT:?})"
        ))),
        Err(_) => {
            ctx.note(format!("{what}: {} in {:.3} ms", code_name(expected), millis(elapsed)));
            Ok(())
        }
    }
}

/// Insists that `isSupported` answers `expected`.
///
/// # Errors
/// An error status or the other answer.
pub fn supported_is(
    allocator: &dyn IAllocator,
    info: &BufferDescriptorInfo,
    expected: bool,
) -> Result<(), Stop> {
    let answer = call::is_supported(allocator, info).map_err(|s| s.context(describe(info)))?;
    if answer.value != expected {
        return Err(Stop::failed(format!(
            "isSupported({}) = {}, expected {expected}",
            describe(info),
            answer.value
        )));
    }
    if answer.elapsed > PROMPT {
        return Err(Stop::failed(format!(
            "isSupported({}) took {:?} (bound {PROMPT:?})",
            describe(info),
            answer.elapsed
        )));
    }
    Ok(())
}

/// A descriptor that must be refused with `expected` by both `isSupported` (false) and
/// `allocate2(info, 1)`.
///
/// # Errors
/// The first broken rule.
pub fn rejected(
    ctx: &Ctx,
    info: &BufferDescriptorInfo,
    expected: AllocationError,
) -> Result<(), Stop> {
    let allocator = ctx.allocator();
    supported_is(allocator, info, false)?;
    let answer = call::allocate2(allocator, info, 1).map_err(|s| s.context(describe(info)))?;
    refused_with(ctx, &describe(info), answer, expected)
}

/// Milliseconds with fractions, for notes.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Ceiling division for layout maths in checks (`None` on a zero divisor).
pub fn div_ceil(value: u64, divisor: u64) -> Option<u64> {
    if divisor == 0 {
        return None;
    }
    value.checked_add(divisor - 1).map(|v| v / divisor)
}

/// `value` rounded up to a multiple of `align` (a power of two or any non-zero value).
pub fn align_up(value: u64, align: u64) -> Option<u64> {
    div_ceil(value, align).and_then(|q| q.checked_mul(align))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_up_rounds_to_multiples() {
        assert_eq!(align_up(0, 16), Some(0));
        assert_eq!(align_up(1, 16), Some(16));
        assert_eq!(align_up(32, 16), Some(32));
        assert_eq!(align_up(33, 16), Some(48));
        assert_eq!(align_up(5, 0), None);
        assert_eq!(align_up(u64::MAX, 16), None);
    }
}
