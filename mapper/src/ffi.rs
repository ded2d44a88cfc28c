//! The exported C symbols and the only `unsafe` of the mapper: reading the caller's
//! `native_handle_t`, duplicating its fds, writing out-pointers, copying metadata bytes and
//! calling dump callbacks. Each entry point catches panics and turns them into an error
//! code (unwinding into C is undefined behaviour).
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CStr};
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};

use hal_interface::metadata::{StandardMetadataType, STANDARD_METADATA_TYPE_NAME};

use crate::abi::{
    AIMapper, AIMapperV5, ARect, BeginDumpBufferCallback, BufferHandleT, DumpBufferCallback,
    MapperError, MetadataType, MetadataTypeDescription, NativeHandleHeader, AIMAPPER_VERSION_5,
    NATIVE_HANDLE_VERSION,
};
use crate::buffer::{wait_fence, Imported};
use crate::{metadata, registry};

pub mod client;

/// Most fds a handle may claim before it is refused unread.
const MAX_FDS: c_int = 8;
/// Most ints a handle may claim before it is refused unread.
const MAX_INTS: c_int = 256;
/// Largest metadata value `setMetadata` reads.
const MAX_SET_BYTES: usize = 1 << 20;

/// `int32_t ANDROID_HAL_MAPPER_VERSION`: read by the VTS `VersionChecks`.
#[no_mangle]
pub static ANDROID_HAL_MAPPER_VERSION: i32 = 5;

/// `uint32_t ANDROID_HAL_STABLEC_VERSION`: asked for by the stable-C README.
#[no_mangle]
pub static ANDROID_HAL_STABLEC_VERSION: u32 = 5;

/// The one mapper of the process: `AIMapper_loadIMapper` always returns its address.
static MAPPER: AIMapper = AIMapper {
    version: AIMAPPER_VERSION_5,
    v5: AIMapperV5 {
        import_buffer,
        free_buffer,
        get_transport_size,
        lock,
        unlock,
        flush_locked_buffer,
        reread_locked_buffer,
        get_metadata,
        get_standard_metadata,
        set_metadata,
        set_standard_metadata,
        list_supported_metadata_types,
        dump_buffer,
        dump_all_buffers,
        get_reserved_region,
    },
};

/// `STANDARD_METADATA_TYPE_NAME` with its NUL, for C.
const STANDARD_NAME: &CStr = c"android.hardware.graphics.common.StandardMetadataType";
const _: () = assert!(STANDARD_NAME.count_bytes() == STANDARD_METADATA_TYPE_NAME.len());

/// The table `listSupportedMetadataTypes` hands out: raw C-string pointers in a static.
struct DescriptionTable([MetadataTypeDescription; 23]);

// SAFETY: the table is never written after initialisation and its pointers point at static,
// immutable C strings, so sharing it between threads is sound.
unsafe impl Sync for DescriptionTable {}

const fn description(ty: StandardMetadataType, text: &'static CStr) -> MetadataTypeDescription {
    MetadataTypeDescription {
        metadata_type: MetadataType { name: STANDARD_NAME.as_ptr(), value: ty.value() },
        description: text.as_ptr(),
        is_gettable: metadata::is_gettable(ty),
        is_settable: metadata::is_settable(ty),
        reserved: [0; 32],
    }
}

static DESCRIPTIONS: DescriptionTable = {
    use StandardMetadataType as T;
    DescriptionTable([
        description(T::BufferId, c"BUFFER_ID"),
        description(T::Name, c"NAME"),
        description(T::Width, c"WIDTH"),
        description(T::Height, c"HEIGHT"),
        description(T::LayerCount, c"LAYER_COUNT"),
        description(T::PixelFormatRequested, c"PIXEL_FORMAT_REQUESTED"),
        description(T::PixelFormatFourcc, c"PIXEL_FORMAT_FOURCC"),
        description(T::PixelFormatModifier, c"PIXEL_FORMAT_MODIFIER"),
        description(T::Usage, c"USAGE"),
        description(T::AllocationSize, c"ALLOCATION_SIZE"),
        description(T::ProtectedContent, c"PROTECTED_CONTENT"),
        description(T::Compression, c"COMPRESSION"),
        description(T::Interlaced, c"INTERLACED"),
        description(T::ChromaSiting, c"CHROMA_SITING"),
        description(T::PlaneLayouts, c"PLANE_LAYOUTS"),
        description(T::Crop, c"CROP"),
        description(T::Dataspace, c"DATASPACE"),
        description(T::BlendMode, c"BLEND_MODE"),
        description(T::Smpte2086, c"SMPTE2086"),
        description(T::Cta861_3, c"CTA861_3"),
        description(T::Smpte2094_40, c"SMPTE2094_40"),
        description(T::Smpte2094_10, c"SMPTE2094_10"),
        description(T::Stride, c"STRIDE"),
    ])
};

/// The descriptions `listSupportedMetadataTypes` returns (also for tests of the table).
pub fn descriptions() -> &'static [MetadataTypeDescription] {
    &DESCRIPTIONS.0
}

/// Runs `f`, turning a panic into `on_panic` (logged).
fn guarded<R>(on_panic: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        log::error!("panic inside the mapper; returned an error instead");
        on_panic
    })
}

fn code(result: Result<(), MapperError>) -> MapperError {
    result.err().unwrap_or(MapperError::None)
}

fn key(handle: BufferHandleT) -> usize {
    handle as usize
}

fn init_logging() {
    #[cfg(target_os = "android")]
    android_logger::init_once(
        android_logger::Config::default()
            .with_tag("gralloc-mapper")
            .with_max_level(log::LevelFilter::Info),
    );
}

/// `AIMapper_loadIMapper`: the process's one `AIMapper`.
///
/// # Safety
///
/// `out` is null or points at writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn AIMapper_loadIMapper(out: *mut *mut AIMapper) -> MapperError {
    guarded(MapperError::NoResources, || {
        if out.is_null() {
            return MapperError::BadValue;
        }
        init_logging();
        // C declares the out-parameter non-const; callers only read through it.
        let mapper = std::ptr::addr_of!(MAPPER).cast_mut();
        // SAFETY: `out` is non-null and, by the caller's contract, writable.
        unsafe { out.write(mapper) };
        MapperError::None
    })
}

/// Reads a caller's raw handle: header bounded before `data` is read, fds duplicated.
///
/// # Safety
///
/// `handle` is null or points at a `native_handle_t` whose header tells its length truly.
unsafe fn read_raw(handle: BufferHandleT) -> Result<(Vec<OwnedFd>, Vec<i32>), MapperError> {
    if handle.is_null() || !handle.is_aligned() {
        return Err(MapperError::BadBuffer);
    }
    // SAFETY: non-null and aligned; the caller promises a native_handle_t header is there.
    let header: NativeHandleHeader = unsafe { handle.read() };
    if header.version != NATIVE_HANDLE_VERSION
        || !(0..=MAX_FDS).contains(&header.num_fds)
        || !(0..=MAX_INTS).contains(&header.num_ints)
    {
        log::warn!("importBuffer: native_handle header {header:?} refused");
        return Err(MapperError::BadBuffer);
    }
    let num_fds = usize::try_from(header.num_fds).map_err(|_| MapperError::BadBuffer)?;
    let num_ints = usize::try_from(header.num_ints).map_err(|_| MapperError::BadBuffer)?;
    let data_ptr = handle.cast::<c_int>().wrapping_add(3);
    let total = num_fds.checked_add(num_ints).ok_or(MapperError::BadBuffer)?;
    // SAFETY: data[numFds + numInts] follows the header (the native_handle_t contract), both
    // counts were bounded above, and the values are copied out at once.
    let data: &[c_int] = unsafe { std::slice::from_raw_parts(data_ptr, total) };
    let (fd_numbers, ints) = data.split_at_checked(num_fds).ok_or(MapperError::BadBuffer)?;
    let mut fds = Vec::with_capacity(num_fds);
    for &number in fd_numbers {
        if number < 0 {
            return Err(MapperError::BadBuffer);
        }
        // SAFETY: the fd number is non-negative; the handle's owner keeps it open for the
        // call (the IMapper contract); it is only borrowed to be duplicated.
        let borrowed = unsafe { BorrowedFd::borrow_raw(number) };
        fds.push(borrowed.try_clone_to_owned().map_err(|error| {
            log::warn!("importBuffer: fd {number} cannot be duplicated: {error}");
            MapperError::BadBuffer
        })?);
    }
    Ok((fds, ints.to_vec()))
}

unsafe extern "C" fn import_buffer(handle: BufferHandleT, out: *mut BufferHandleT) -> MapperError {
    guarded(MapperError::NoResources, || {
        if out.is_null() {
            return MapperError::BadValue;
        }
        // SAFETY: the caller passes null or a native_handle_t (IMapper.h importBuffer).
        let imported = unsafe { read_raw(handle) }.and_then(|(fds, ints)| Imported::new(fds, ints));
        match imported {
            Ok(buffer) => {
                let buffer = registry::insert(buffer);
                let raw = buffer.raw_ptr().cast::<NativeHandleHeader>();
                // SAFETY: `out` is non-null and writable by the caller's contract.
                unsafe { out.write(raw) };
                MapperError::None
            }
            Err(error) => error,
        }
    })
}

unsafe extern "C" fn free_buffer(handle: BufferHandleT) -> MapperError {
    guarded(MapperError::NoResources, || code(registry::remove(key(handle))))
}

unsafe extern "C" fn get_transport_size(
    handle: BufferHandleT,
    num_fds: *mut u32,
    num_ints: *mut u32,
) -> MapperError {
    guarded(MapperError::NoResources, || {
        let buffer = match registry::get(key(handle)) {
            Ok(buffer) => buffer,
            Err(error) => return error,
        };
        if num_fds.is_null() || num_ints.is_null() {
            return MapperError::BadValue;
        }
        let (fds, ints) = buffer.transport_size();
        // SAFETY: non-null, writable by the caller's contract.
        unsafe { num_fds.write(fds) };
        // SAFETY: non-null, writable by the caller's contract.
        unsafe { num_ints.write(ints) };
        MapperError::None
    })
}

unsafe extern "C" fn lock(
    handle: BufferHandleT,
    cpu_usage: u64,
    region: ARect,
    acquire_fence: c_int,
    out_data: *mut *mut c_void,
) -> MapperError {
    // The callee owns the fence from here, on every path (closed when `fence` drops).
    let fence = (acquire_fence >= 0).then(|| {
        // SAFETY: IMapper.h lock: ownership of a non-negative acquireFence passes to us.
        unsafe { OwnedFd::from_raw_fd(acquire_fence) }
    });
    guarded(MapperError::NoResources, move || {
        let buffer = match registry::get(key(handle)) {
            Ok(buffer) => buffer,
            Err(error) => return error,
        };
        if out_data.is_null() {
            return MapperError::BadValue;
        }
        if let Some(fence) = fence {
            if let Err(error) = wait_fence(fence) {
                return error;
            }
        }
        match buffer.lock(cpu_usage, region) {
            Ok(ptr) => {
                // SAFETY: non-null, writable by the caller's contract.
                unsafe { out_data.write(ptr.cast::<c_void>()) };
                MapperError::None
            }
            Err(error) => error,
        }
    })
}

unsafe extern "C" fn unlock(handle: BufferHandleT, release_fence: *mut c_int) -> MapperError {
    guarded(MapperError::NoResources, || {
        let buffer = match registry::get(key(handle)) {
            Ok(buffer) => buffer,
            Err(error) => return error,
        };
        if release_fence.is_null() {
            return MapperError::BadValue;
        }
        if let Err(error) = buffer.unlock() {
            return error;
        }
        // CPU access is finished when unlock returns: no release fence.
        // SAFETY: non-null, writable by the caller's contract.
        unsafe { release_fence.write(-1) };
        MapperError::None
    })
}

unsafe extern "C" fn flush_locked_buffer(handle: BufferHandleT) -> MapperError {
    guarded(MapperError::NoResources, || code(registry::get(key(handle)).and_then(|b| b.flush())))
}

unsafe extern "C" fn reread_locked_buffer(handle: BufferHandleT) -> MapperError {
    guarded(MapperError::NoResources, || code(registry::get(key(handle)).and_then(|b| b.reread())))
}

/// Whether `ty` names the standard metadata enum.
///
/// # Safety
///
/// `ty.name` is null or a NUL-terminated string.
unsafe fn is_standard(ty: &MetadataType) -> bool {
    if ty.name.is_null() {
        return false;
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    let name = unsafe { CStr::from_ptr(ty.name) };
    name == STANDARD_NAME
}

fn get_into(handle: BufferHandleT, ty: i64, dst: *mut c_void, dst_size: usize) -> i32 {
    let bytes = match registry::get(key(handle)).and_then(|b| metadata::get(&b, ty)) {
        Ok(bytes) => bytes,
        Err(error) => return error.negative(),
    };
    let Ok(len) = i32::try_from(bytes.len()) else {
        return MapperError::NoResources.negative();
    };
    if !dst.is_null() && dst_size >= bytes.len() {
        // SAFETY: `dst` holds `dst_size >= bytes.len()` writable bytes (caller's contract)
        // and cannot overlap our fresh Vec.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.cast::<u8>(), bytes.len()) };
    }
    len
}

unsafe extern "C" fn get_metadata(
    handle: BufferHandleT,
    ty: MetadataType,
    dst: *mut c_void,
    dst_size: usize,
) -> i32 {
    guarded(MapperError::NoResources.negative(), || {
        if let Err(error) = registry::get(key(handle)) {
            return error.negative();
        }
        // SAFETY: the caller passes a NUL-terminated name (IMapper.h AIMapper_MetadataType).
        if !unsafe { is_standard(&ty) } {
            return MapperError::Unsupported.negative();
        }
        get_into(handle, ty.value, dst, dst_size)
    })
}

unsafe extern "C" fn get_standard_metadata(
    handle: BufferHandleT,
    ty: i64,
    dst: *mut c_void,
    dst_size: usize,
) -> i32 {
    guarded(MapperError::NoResources.negative(), || get_into(handle, ty, dst, dst_size))
}

fn set_from(handle: BufferHandleT, ty: i64, value: *const c_void, size: usize) -> MapperError {
    let buffer = match registry::get(key(handle)) {
        Ok(buffer) => buffer,
        Err(error) => return error,
    };
    if size > MAX_SET_BYTES || (value.is_null() && size != 0) {
        return MapperError::BadValue;
    }
    let bytes: &[u8] = if size == 0 {
        &[]
    } else {
        // SAFETY: `value` is non-null and holds `size` readable bytes (caller's contract).
        unsafe { std::slice::from_raw_parts(value.cast::<u8>(), size) }
    };
    code(metadata::set(&buffer, ty, bytes))
}

unsafe extern "C" fn set_metadata(
    handle: BufferHandleT,
    ty: MetadataType,
    value: *const c_void,
    size: usize,
) -> MapperError {
    guarded(MapperError::NoResources, || {
        if let Err(error) = registry::get(key(handle)) {
            return error;
        }
        // SAFETY: the caller passes a NUL-terminated name (IMapper.h AIMapper_MetadataType).
        if !unsafe { is_standard(&ty) } {
            return MapperError::Unsupported;
        }
        set_from(handle, ty.value, value, size)
    })
}

unsafe extern "C" fn set_standard_metadata(
    handle: BufferHandleT,
    ty: i64,
    value: *const c_void,
    size: usize,
) -> MapperError {
    guarded(MapperError::NoResources, || set_from(handle, ty, value, size))
}

unsafe extern "C" fn list_supported_metadata_types(
    out: *mut *const MetadataTypeDescription,
    count: *mut usize,
) -> MapperError {
    guarded(MapperError::NoResources, || {
        if out.is_null() || count.is_null() {
            return MapperError::BadValue;
        }
        let table = descriptions();
        // SAFETY: non-null, writable by the caller's contract.
        unsafe { out.write(table.as_ptr()) };
        // SAFETY: non-null, writable by the caller's contract.
        unsafe { count.write(table.len()) };
        MapperError::None
    })
}

/// Calls `callback` once per dumped value. No registry or buffer lock is held, so the
/// callback may call back into the mapper.
fn dump_values(
    buffer: &Imported,
    callback: unsafe extern "C" fn(*mut c_void, MetadataType, *const c_void, usize),
    context: *mut c_void,
) {
    for (ty, bytes) in metadata::dump(buffer) {
        let name = MetadataType { name: STANDARD_NAME.as_ptr(), value: ty.value() };
        // SAFETY: a callback the caller gave us with its context; the value pointer and size
        // describe a live Vec for the duration of the call.
        unsafe { callback(context, name, bytes.as_ptr().cast::<c_void>(), bytes.len()) };
    }
}

unsafe extern "C" fn dump_buffer(
    handle: BufferHandleT,
    callback: DumpBufferCallback,
    context: *mut c_void,
) -> MapperError {
    guarded(MapperError::NoResources, || {
        let buffer = match registry::get(key(handle)) {
            Ok(buffer) => buffer,
            Err(error) => return error,
        };
        let Some(callback) = callback else { return MapperError::BadValue };
        dump_values(&buffer, callback, context);
        MapperError::None
    })
}

unsafe extern "C" fn dump_all_buffers(
    begin: BeginDumpBufferCallback,
    callback: DumpBufferCallback,
    context: *mut c_void,
) -> MapperError {
    guarded(MapperError::NoResources, || {
        let (Some(begin), Some(callback)) = (begin, callback) else {
            return MapperError::BadValue;
        };
        for buffer in registry::all() {
            // SAFETY: a callback the caller gave us, with its own context.
            unsafe { begin(context) };
            dump_values(&buffer, callback, context);
        }
        MapperError::None
    })
}

unsafe extern "C" fn get_reserved_region(
    handle: BufferHandleT,
    out_region: *mut *mut c_void,
    out_size: *mut u64,
) -> MapperError {
    guarded(MapperError::NoResources, || {
        let buffer = match registry::get(key(handle)) {
            Ok(buffer) => buffer,
            Err(error) => return error,
        };
        if out_region.is_null() || out_size.is_null() {
            return MapperError::BadValue;
        }
        match buffer.reserved_region() {
            Ok((ptr, size)) => {
                // SAFETY: non-null, writable by the caller's contract.
                unsafe { out_region.write(ptr.cast::<c_void>()) };
                // SAFETY: non-null, writable by the caller's contract.
                unsafe { out_size.write(size) };
                MapperError::None
            }
            Err(error) => error,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_standard_type_is_listed_once_under_the_standard_name() {
        let mut values: Vec<i64> = descriptions().iter().map(|d| d.metadata_type.value).collect();
        values.sort_unstable();
        values.dedup();
        assert_eq!(values, (1..=23).collect::<Vec<_>>());
        for d in descriptions() {
            // SAFETY: the table's names are static C strings.
            let name = unsafe { CStr::from_ptr(d.metadata_type.name) };
            assert_eq!(name, STANDARD_NAME);
            assert!(d.reserved.iter().all(|&b| b == 0));
        }
    }
}
