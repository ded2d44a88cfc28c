//! The IMapper 5 stable-C ABI as the suite sees it, and the only `unsafe` of this crate.
//!
//! The types are declared here from the published C header (`IMapper.h`), not taken from any
//! implementation, so the suite checks a mapper through its C ABI alone. Every call into the
//! library is one `unsafe` block; everything else of the area is safe code over the wrappers
//! below.
//!
//! Trust: loading a library runs its code, and calling it is sound only if it honours the
//! ABI (the same stance as `dlopen` itself). What the suite can check cheaply it checks
//! before touching memory the library hands back: null pointers, element counts, and for
//! `lock` that the returned range lies inside a mapping of the buffer's own inode
//! (see [`LockedMemory::new`]). A library is never unloaded: Android never unloads a mapper,
//! and function pointers copied out of it must stay valid for the process's life.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// `AIMapper_Error` values.
pub mod error {
    /// Success.
    pub const NONE: i32 = 0;
    /// Bad descriptor.
    pub const BAD_DESCRIPTOR: i32 = 1;
    /// Bad buffer handle.
    pub const BAD_BUFFER: i32 = 2;
    /// Bad value.
    pub const BAD_VALUE: i32 = 3;
    /// Out of resources.
    pub const NO_RESOURCES: i32 = 5;
    /// Unsupported.
    pub const UNSUPPORTED: i32 = 7;

    /// The name of an error code, for messages.
    pub fn name(code: i32) -> String {
        match code {
            NONE => "NONE".to_owned(),
            BAD_DESCRIPTOR => "BAD_DESCRIPTOR".to_owned(),
            BAD_BUFFER => "BAD_BUFFER".to_owned(),
            BAD_VALUE => "BAD_VALUE".to_owned(),
            NO_RESOURCES => "NO_RESOURCES".to_owned(),
            UNSUPPORTED => "UNSUPPORTED".to_owned(),
            other => format!("code {other}"),
        }
    }
}

/// `AIMAPPER_VERSION_5`.
pub const VERSION_5: u32 = 5;
/// `sizeof(native_handle_t)`: the `version` word of every native handle.
pub const NATIVE_HANDLE_VERSION: i32 = 12;
/// The entry point every mapper exports.
pub const LOAD_SYMBOL: &str = "AIMapper_loadIMapper";
/// The version word the VTS reads (`VersionChecks`).
pub const VERSION_SYMBOL: &str = "ANDROID_HAL_MAPPER_VERSION";
/// More descriptions than this from `listSupportedMetadataTypes` is taken as garbage (there
/// are 23 standard types; vendors add a few).
const MAX_DESCRIPTIONS: usize = 4096;

/// `AIMapper_MetadataType`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct RawMetadataType {
    name: *const c_char,
    value: i64,
}

/// `AIMapper_MetadataTypeDescription` (the bools read as bytes: a C `bool` other than 0/1
/// would be undefined behaviour as a Rust `bool`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct RawDescription {
    metadata_type: RawMetadataType,
    description: *const c_char,
    is_gettable: u8,
    is_settable: u8,
    reserved: [u8; 32],
}

/// `ARect`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ARect {
    /// Left edge, inclusive.
    pub left: i32,
    /// Top edge, inclusive.
    pub top: i32,
    /// Right edge, exclusive.
    pub right: i32,
    /// Bottom edge, exclusive.
    pub bottom: i32,
}

type Handle = *const c_void;
type DumpCallback = unsafe extern "C" fn(*mut c_void, RawMetadataType, *const c_void, usize);
type BeginDumpCallback = unsafe extern "C" fn(*mut c_void);
type ImportFn = unsafe extern "C" fn(Handle, *mut Handle) -> i32;
type HandleFn = unsafe extern "C" fn(Handle) -> i32;
type TransportSizeFn = unsafe extern "C" fn(Handle, *mut u32, *mut u32) -> i32;
type LockFn = unsafe extern "C" fn(Handle, u64, ARect, c_int, *mut *mut c_void) -> i32;
type UnlockFn = unsafe extern "C" fn(Handle, *mut c_int) -> i32;
type GetMetadataFn = unsafe extern "C" fn(Handle, RawMetadataType, *mut c_void, usize) -> i32;
type GetStandardFn = unsafe extern "C" fn(Handle, i64, *mut c_void, usize) -> i32;
type SetMetadataFn = unsafe extern "C" fn(Handle, RawMetadataType, *const c_void, usize) -> i32;
type SetStandardFn = unsafe extern "C" fn(Handle, i64, *const c_void, usize) -> i32;
type ListFn = unsafe extern "C" fn(*mut *const RawDescription, *mut usize) -> i32;
type DumpBufferFn = unsafe extern "C" fn(Handle, Option<DumpCallback>, *mut c_void) -> i32;
type DumpAllFn =
    unsafe extern "C" fn(Option<BeginDumpCallback>, Option<DumpCallback>, *mut c_void) -> i32;
type ReservedFn = unsafe extern "C" fn(Handle, *mut *mut c_void, *mut u64) -> i32;
/// `AIMapper_loadIMapper`: `AIMapper_Error (*)(AIMapper**)`, the `AIMapper**` as `void**`
/// (the same ABI), so that an entry point defined outside a library (a test's wrapper
/// mapper) can be handed to [`Library::from_entry`].
pub type LoadFn = unsafe extern "C" fn(*mut *const c_void) -> i32;

/// `AIMapperV5`: 15 function pointers, in header order.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct RawV5 {
    import_buffer: Option<ImportFn>,
    free_buffer: Option<HandleFn>,
    get_transport_size: Option<TransportSizeFn>,
    lock: Option<LockFn>,
    unlock: Option<UnlockFn>,
    flush_locked_buffer: Option<HandleFn>,
    reread_locked_buffer: Option<HandleFn>,
    get_metadata: Option<GetMetadataFn>,
    get_standard_metadata: Option<GetStandardFn>,
    set_metadata: Option<SetMetadataFn>,
    set_standard_metadata: Option<SetStandardFn>,
    list_supported_metadata_types: Option<ListFn>,
    dump_buffer: Option<DumpBufferFn>,
    dump_all_buffers: Option<DumpAllFn>,
    get_reserved_region: Option<ReservedFn>,
}

/// `AIMapper`: `alignas(max_align_t) AIMapper_Version version; AIMapperV5 v5;`.
#[repr(C, align(16))]
#[derive(Debug, Clone, Copy)]
struct RawMapper {
    version: u32,
    v5: RawV5,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<RawMapper>() == 128);
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<RawDescription>() == 64);
const _: () = assert!(std::mem::size_of::<ARect>() == 16);

/// A callback the mapper left null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NullCallback(pub &'static str);

impl std::fmt::Display for NullCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AIMapperV5.{} is null", self.0)
    }
}

/// A loaded mapper library (never unloaded).
#[derive(Debug)]
pub struct Library {
    path: PathBuf,
    load: LoadFn,
    hal_version: Option<i32>,
}

impl Library {
    /// `dlopen(path, RTLD_NOW | RTLD_LOCAL)` and `dlsym` of [`LOAD_SYMBOL`] and
    /// [`VERSION_SYMBOL`] (the latter may be missing: `VersionChecks` reports it).
    ///
    /// # Errors
    /// Why the library or its entry point cannot be had.
    pub fn open(path: &Path) -> Result<Library, String> {
        use libloading::os::unix::{Library as Dl, RTLD_LOCAL, RTLD_NOW};
        // SAFETY: dlopen runs the library's initialisers; choosing to load this file is the
        // user's trust decision (`--mapper` or the allocator's suffix), as for any dlopen.
        let lib = unsafe { Dl::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
            .map_err(|e| format!("dlopen {}: {e}", path.display()))?;
        // Never dlclose: the function pointers copied below must outlive every use.
        let lib: &'static Dl = Box::leak(Box::new(lib));
        let name = CString::new(LOAD_SYMBOL).map_err(|e| e.to_string())?;
        // SAFETY: the symbol is declared by the ABI as `AIMapper_Error (*)(AIMapper**)`,
        // which is `LoadFn`.
        let load = unsafe { lib.get::<LoadFn>(name.as_bytes_with_nul()) }
            .map_err(|e| format!("{LOAD_SYMBOL} missing from {}: {e}", path.display()))?;
        let load: LoadFn = *load;
        let name = CString::new(VERSION_SYMBOL).map_err(|e| e.to_string())?;
        // SAFETY: looking a data symbol up only yields its address; it is read below.
        let version = unsafe { lib.get::<*const i32>(name.as_bytes_with_nul()) };
        let hal_version = match version {
            Ok(symbol) if !(*symbol).is_null() && (*symbol).is_aligned() => {
                let at: *const i32 = *symbol;
                // SAFETY: the symbol is a non-null, aligned `int32_t` exported by the library,
                // which stays loaded.
                Some(unsafe { at.read() })
            }
            _ => None,
        };
        Ok(Library { path: path.to_owned(), load, hal_version })
    }

    /// A mapper whose entry point is `load` (not `dlsym`ed): for wrapper mappers built by
    /// tests around a real library, which `path` names (the cross-process case's child loads
    /// it). `hal_version` stands for `ANDROID_HAL_MAPPER_VERSION`.
    pub fn from_entry(path: &Path, load: LoadFn, hal_version: Option<i32>) -> Library {
        Library { path: path.to_owned(), load, hal_version }
    }

    /// Where the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `ANDROID_HAL_MAPPER_VERSION`, when the symbol exists.
    pub fn hal_version(&self) -> Option<i32> {
        self.hal_version
    }

    /// `AIMapper_loadIMapper`: the error code, and the mapper when it answered NONE with a
    /// non-null pointer.
    pub fn load_mapper(&self) -> (i32, Option<Mapper>) {
        let mut out: *const c_void = std::ptr::null();
        // SAFETY: `load` is the library's entry point; `out` is a valid out-pointer.
        let code = unsafe { (self.load)(&mut out) };
        let out: *const RawMapper = out.cast();
        if code != error::NONE || out.is_null() {
            return (code, None);
        }
        // SAFETY: a mapper that answered NONE points `out` at its static `AIMapper`; read
        // unaligned so that a misaligned struct is still read rather than assumed.
        let raw = unsafe { out.read_unaligned() };
        (code, Some(Mapper { address: out as usize, raw }))
    }
}

/// A raw `native_handle_t` built by the suite: `[version, numFds, numInts, fds.., ints..]`.
/// The fds are only numbers here; whoever builds it keeps them open while it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeHandleWords(Vec<i32>);

impl NativeHandleWords {
    /// A handle with these fds and ints.
    pub fn new(fds: &[RawFd], ints: &[i32]) -> Self {
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        let mut words = vec![NATIVE_HANDLE_VERSION, count(fds.len()), count(ints.len())];
        words.extend_from_slice(fds);
        words.extend_from_slice(ints);
        Self(words)
    }

    /// `native_handle_create(0, 0)`.
    pub fn empty() -> Self {
        Self::new(&[], &[])
    }

    /// The words (for the child process, which rebuilds the handle).
    pub fn words(&self) -> &[i32] {
        &self.0
    }
}

/// What a mapper function receives as `buffer_handle_t` / `const native_handle_t*`.
#[derive(Debug, Clone, Copy)]
pub enum HandleArg<'a> {
    /// `nullptr`.
    Null,
    /// A raw (not imported) handle built by the suite.
    Raw(&'a NativeHandleWords),
    /// A handle `importBuffer` returned.
    Imported(Imported),
}

impl HandleArg<'_> {
    fn ptr(self) -> Handle {
        match self {
            HandleArg::Null => std::ptr::null(),
            HandleArg::Raw(words) => words.0.as_ptr().cast(),
            HandleArg::Imported(imported) => imported.0 as Handle,
        }
    }
}

/// An imported handle: an opaque address owned by the mapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported(usize);

/// One entry of `listSupportedMetadataTypes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// `metadataType.name` (`None` for a null pointer).
    pub name: Option<String>,
    /// `metadataType.value`.
    pub value: i64,
    /// `description` (`None` for a null pointer).
    pub description: Option<String>,
    /// `isGettable` byte.
    pub gettable: u8,
    /// `isSettable` byte.
    pub settable: u8,
    /// Whether `reserved` is all zero.
    pub reserved_zero: bool,
}

/// The mapper's function table, copied out of its `AIMapper`.
#[derive(Debug, Clone, Copy)]
pub struct Mapper {
    address: usize,
    raw: RawMapper,
}

fn need<T>(f: Option<T>, name: &'static str) -> Result<T, NullCallback> {
    f.ok_or(NullCallback(name))
}

/// Reads a NUL-terminated string the mapper owns.
fn c_string(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: a non-null name or description in a metadata description is a NUL-terminated
    // string of static storage (IMapper.h).
    let text = unsafe { CStr::from_ptr(ptr) };
    Some(text.to_string_lossy().into_owned())
}

impl Mapper {
    /// Where the mapper's `AIMapper` lives.
    pub fn address(&self) -> usize {
        self.address
    }

    /// `AIMapper::version`.
    pub fn version(&self) -> u32 {
        self.raw.version
    }

    /// Every V5 callback in header order with its address (`None` when null), for
    /// `AllV5CallbacksDefined` and `DualLoadIsIdentical`.
    pub fn callbacks(&self) -> [(&'static str, Option<usize>); 15] {
        let v = &self.raw.v5;
        [
            ("importBuffer", v.import_buffer.map(|f| f as usize)),
            ("freeBuffer", v.free_buffer.map(|f| f as usize)),
            ("getTransportSize", v.get_transport_size.map(|f| f as usize)),
            ("lock", v.lock.map(|f| f as usize)),
            ("unlock", v.unlock.map(|f| f as usize)),
            ("flushLockedBuffer", v.flush_locked_buffer.map(|f| f as usize)),
            ("rereadLockedBuffer", v.reread_locked_buffer.map(|f| f as usize)),
            ("getMetadata", v.get_metadata.map(|f| f as usize)),
            ("getStandardMetadata", v.get_standard_metadata.map(|f| f as usize)),
            ("setMetadata", v.set_metadata.map(|f| f as usize)),
            ("setStandardMetadata", v.set_standard_metadata.map(|f| f as usize)),
            ("listSupportedMetadataTypes", v.list_supported_metadata_types.map(|f| f as usize)),
            ("dumpBuffer", v.dump_buffer.map(|f| f as usize)),
            ("dumpAllBuffers", v.dump_all_buffers.map(|f| f as usize)),
            ("getReservedRegion", v.get_reserved_region.map(|f| f as usize)),
        ]
    }

    /// `importBuffer(handle, &out)`: the code and the imported handle (when non-null).
    ///
    /// # Errors
    /// A null callback.
    pub fn import_buffer(
        &self,
        handle: HandleArg<'_>,
    ) -> Result<(i32, Option<Imported>), NullCallback> {
        let f = need(self.raw.v5.import_buffer, "importBuffer")?;
        let mut out: Handle = std::ptr::null();
        // SAFETY: `handle` is null, a live suite-built native handle, or an imported one; `out`
        // is a valid out-pointer.
        let code = unsafe { f(handle.ptr(), &mut out) };
        let imported = (!out.is_null()).then_some(Imported(out as usize));
        Ok((code, imported))
    }

    /// `freeBuffer(handle)`.
    ///
    /// # Errors
    /// A null callback.
    pub fn free_buffer(&self, handle: HandleArg<'_>) -> Result<i32, NullCallback> {
        let f = need(self.raw.v5.free_buffer, "freeBuffer")?;
        // SAFETY: as for `import_buffer`; the mapper validates the handle.
        Ok(unsafe { f(handle.ptr()) })
    }

    /// `getTransportSize(handle, &fds, &ints)`.
    ///
    /// # Errors
    /// A null callback.
    pub fn get_transport_size(
        &self,
        handle: HandleArg<'_>,
    ) -> Result<(i32, u32, u32), NullCallback> {
        let f = need(self.raw.v5.get_transport_size, "getTransportSize")?;
        let (mut fds, mut ints) = (0u32, 0u32);
        // SAFETY: valid out-pointers; the handle as for `import_buffer`.
        let code = unsafe { f(handle.ptr(), &mut fds, &mut ints) };
        Ok((code, fds, ints))
    }

    /// `lock(handle, usage, region, acquireFence, &data)`. The fence is handed over (the
    /// mapper closes it, even on error); `-1` when `None`. Returns the code and the address.
    ///
    /// # Errors
    /// A null callback (the fence is then closed here).
    pub fn lock(
        &self,
        handle: HandleArg<'_>,
        usage: u64,
        region: ARect,
        acquire_fence: Option<OwnedFd>,
    ) -> Result<(i32, usize), NullCallback> {
        let f = need(self.raw.v5.lock, "lock")?;
        let fence = acquire_fence.map_or(-1, IntoRawFd::into_raw_fd);
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid out-pointer; ownership of `fence` passes to the mapper by contract.
        let code = unsafe { f(handle.ptr(), usage, region, fence, &mut data) };
        Ok((code, data as usize))
    }

    /// `unlock(handle, &releaseFence)`: the code and the release fence (owned now) when the
    /// mapper returned an open fd.
    ///
    /// # Errors
    /// A null callback.
    pub fn unlock(
        &self,
        handle: HandleArg<'_>,
    ) -> Result<(i32, Option<OwnedFd>, RawFd), NullCallback> {
        let f = need(self.raw.v5.unlock, "unlock")?;
        let mut fence: c_int = -1;
        // SAFETY: valid out-pointer.
        let code = unsafe { f(handle.ptr(), &mut fence) };
        // The fd's /proc link (not its target: fences are anonymous inodes).
        let open =
            fence >= 0 && std::fs::symlink_metadata(format!("/proc/self/fd/{fence}")).is_ok();
        let owned = if open {
            // SAFETY: the release fence is a new fd the caller owns (IMapper.h), and it is
            // open; nothing else in the suite holds this number.
            Some(unsafe { OwnedFd::from_raw_fd(fence) })
        } else {
            None
        };
        Ok((code, owned, fence))
    }

    /// `flushLockedBuffer(handle)`.
    ///
    /// # Errors
    /// A null callback.
    pub fn flush_locked_buffer(&self, handle: HandleArg<'_>) -> Result<i32, NullCallback> {
        let f = need(self.raw.v5.flush_locked_buffer, "flushLockedBuffer")?;
        // SAFETY: as for `free_buffer`.
        Ok(unsafe { f(handle.ptr()) })
    }

    /// `rereadLockedBuffer(handle)`.
    ///
    /// # Errors
    /// A null callback.
    pub fn reread_locked_buffer(&self, handle: HandleArg<'_>) -> Result<i32, NullCallback> {
        let f = need(self.raw.v5.reread_locked_buffer, "rereadLockedBuffer")?;
        // SAFETY: as for `free_buffer`.
        Ok(unsafe { f(handle.ptr()) })
    }

    /// `getStandardMetadata(handle, type, dst, dst.len())`, with `(NULL, 0)` for `None`.
    ///
    /// # Errors
    /// A null callback.
    pub fn get_standard_metadata(
        &self,
        handle: HandleArg<'_>,
        type_value: i64,
        dst: Option<&mut [u8]>,
    ) -> Result<i32, NullCallback> {
        let f = need(self.raw.v5.get_standard_metadata, "getStandardMetadata")?;
        let (ptr, len) = match dst {
            Some(dst) => (dst.as_mut_ptr().cast::<c_void>(), dst.len()),
            None => (std::ptr::null_mut(), 0),
        };
        // SAFETY: `ptr` is writable for `len` bytes or null with 0.
        Ok(unsafe { f(handle.ptr(), type_value, ptr, len) })
    }

    /// `getMetadata(handle, {name, value}, dst, dst.len())`, with `(NULL, 0)` for `None`.
    ///
    /// # Errors
    /// A null callback.
    pub fn get_metadata(
        &self,
        handle: HandleArg<'_>,
        name: &CStr,
        value: i64,
        dst: Option<&mut [u8]>,
    ) -> Result<i32, NullCallback> {
        let f = need(self.raw.v5.get_metadata, "getMetadata")?;
        let (ptr, len) = match dst {
            Some(dst) => (dst.as_mut_ptr().cast::<c_void>(), dst.len()),
            None => (std::ptr::null_mut(), 0),
        };
        let kind = RawMetadataType { name: name.as_ptr(), value };
        // SAFETY: `name` outlives the call; `ptr` as in `get_standard_metadata`.
        Ok(unsafe { f(handle.ptr(), kind, ptr, len) })
    }

    /// `setStandardMetadata(handle, type, src, src.len())`.
    ///
    /// # Errors
    /// A null callback.
    pub fn set_standard_metadata(
        &self,
        handle: HandleArg<'_>,
        type_value: i64,
        src: &[u8],
    ) -> Result<i32, NullCallback> {
        let f = need(self.raw.v5.set_standard_metadata, "setStandardMetadata")?;
        // SAFETY: `src` is readable for its length.
        Ok(unsafe { f(handle.ptr(), type_value, src.as_ptr().cast(), src.len()) })
    }

    /// `setMetadata(handle, {name, value}, src, src.len())`.
    ///
    /// # Errors
    /// A null callback.
    pub fn set_metadata(
        &self,
        handle: HandleArg<'_>,
        name: &CStr,
        value: i64,
        src: &[u8],
    ) -> Result<i32, NullCallback> {
        let f = need(self.raw.v5.set_metadata, "setMetadata")?;
        let kind = RawMetadataType { name: name.as_ptr(), value };
        // SAFETY: `name` and `src` outlive the call.
        Ok(unsafe { f(handle.ptr(), kind, src.as_ptr().cast(), src.len()) })
    }

    /// `listSupportedMetadataTypes(&list, &count)`: the code and the copied list (empty
    /// when the pointer is null).
    ///
    /// # Errors
    /// A null callback, or a count too large to be real.
    pub fn list_supported_metadata_types(&self) -> Result<(i32, Vec<Description>), String> {
        let f = need(self.raw.v5.list_supported_metadata_types, "listSupportedMetadataTypes")
            .map_err(|e| e.to_string())?;
        let mut list: *const RawDescription = std::ptr::null();
        let mut count: usize = 0;
        // SAFETY: valid out-pointers.
        let code = unsafe { f(&mut list, &mut count) };
        if code != error::NONE || list.is_null() {
            return Ok((code, Vec::new()));
        }
        if count > MAX_DESCRIPTIONS {
            return Err(format!("listSupportedMetadataTypes reports {count} descriptions"));
        }
        let mut out = Vec::with_capacity(count);
        for index in 0..count {
            let at = list.wrapping_add(index);
            // SAFETY: the list holds `count` descriptions of static storage (IMapper.h).
            let raw = unsafe { at.read_unaligned() };
            out.push(Description {
                name: c_string(raw.metadata_type.name),
                value: raw.metadata_type.value,
                description: c_string(raw.description),
                gettable: raw.is_gettable,
                settable: raw.is_settable,
                reserved_zero: raw.reserved.iter().all(|&b| b == 0),
            });
        }
        Ok((code, out))
    }

    /// `getReservedRegion(handle, &region, &size)`: code, address, size.
    ///
    /// # Errors
    /// A null callback.
    pub fn get_reserved_region(
        &self,
        handle: HandleArg<'_>,
    ) -> Result<(i32, usize, u64), NullCallback> {
        let f = need(self.raw.v5.get_reserved_region, "getReservedRegion")?;
        let mut region: *mut c_void = std::ptr::null_mut();
        let mut size: u64 = 0;
        // SAFETY: valid out-pointers.
        let code = unsafe { f(handle.ptr(), &mut region, &mut size) };
        Ok((code, region as usize, size))
    }
}

/// CPU access to the bytes a `lock` returned, bounds-checked and volatile (the memory is
/// shared with other processes and devices).
///
/// Use it only between the `lock` that produced `base` and the matching `unlock`.
#[derive(Debug)]
pub struct LockedMemory {
    base: *mut u8,
    len: usize,
    writable: bool,
}

impl LockedMemory {
    /// Accepts `[base, base + len)` only when `/proc/self/maps` shows it mapped, all of it
    /// from the file with `inode` and with read (and write, when asked) permission: a bad
    /// pointer from the mapper becomes a failure instead of a crash or a write into the
    /// suite's own memory.
    ///
    /// # Errors
    /// Why the range is not acceptable.
    pub fn new(base: usize, len: usize, inode: u64, writable: bool) -> Result<Self, String> {
        if base == 0 {
            return Err("lock returned a null data pointer".to_owned());
        }
        crate::mapper_stablec::maps::check_range(base, len, inode, writable)?;
        Ok(Self { base: base as *mut u8, len, writable })
    }

    /// Bytes accessible.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is accessible.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The byte at `offset`, or `None` past the end.
    pub fn read(&self, offset: usize) -> Option<u8> {
        if offset >= self.len {
            return None;
        }
        let at = self.base.wrapping_add(offset);
        // SAFETY: `offset < len` and `new` checked that the whole range is a readable
        // mapping of the buffer; volatile because other processes may write it.
        Some(unsafe { at.read_volatile() })
    }

    /// Writes `value` at `offset`; false past the end or on a read-only view.
    pub fn write(&self, offset: usize, value: u8) -> bool {
        if offset >= self.len || !self.writable {
            return false;
        }
        let at = self.base.wrapping_add(offset);
        // SAFETY: `offset < len` inside a mapping `new` checked to be writable.
        unsafe { at.write_volatile(value) };
        true
    }
}

/// Whether fd number `fd` is open in this process (`fcntl(F_GETFD)` is not EBADF): how a
/// case sees that `lock` closed the acquire fence it was handed.
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor flags of a number; it touches no memory
    // and takes no ownership, and a closed number just answers EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    flags >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EBADF)
}
