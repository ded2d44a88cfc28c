//! The IMapper 5 stable-C mapper conformance cases (`VtsHalGraphicsMapperStableC`), run
//! against any mapper library through its C ABI, over buffers from the running allocator.
//!
//! Set-up (the allocator VTS rule): the library is the one the allocator names with
//! `getIMapperLibrarySuffix` — `mapper.<suffix>.so` in the search directories — or the one
//! `--mapper PATH` gives. It must `dlopen`, export `AIMapper_loadIMapper`, and load a
//! version-5 mapper; otherwise the suite does not start (exit 2). `--no-mapper` turns the area
//! off: its cases skip, and the header says so loudly. Every buffer the area allocates must
//! import into that mapper.
//!
//! Names are the AOSP case names in snake case (`Lock_YCRCB_420_SP` →
//! `mapper_stablec.lock_ycrcb_420_sp`), with the same assertions; values are decoded with
//! the shared gralloc4 codec ([`hal_interface::metadata`]). Added here:
//! `metadata_set_in_a_child_process_is_seen_by_the_parent` (metadata is global) and
//! `allocator_buffers_import_into_the_suffix_mapper` (the set-up rule over several formats).

pub mod cases_buffers;
pub mod cases_formats;
pub mod cases_metadata;
pub mod child;
pub mod ffi;
pub mod maps;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use hal_interface::aidl::{BufferDescriptorInfo, IAllocator};
use hal_interface::metadata::{self, MetadataValue, StandardMetadataType};
use heaps::dmabuf;

use crate::call;
use crate::ctx::Ctx;
use crate::desc;
use crate::runner::{Case, Stop};

pub use ffi::{error, ARect, HandleArg, Imported, LockedMemory, Mapper, NativeHandleWords};

/// Environment variable naming a directory to search for `mapper.<suffix>.so`.
pub const MAPPER_DIR_ENV: &str = "GRALLOC_MAPPER_DIR";

/// Which mapper library the suite uses.
#[derive(Debug, Clone)]
pub enum MapperChoice {
    /// This file (`--mapper PATH`).
    Path(PathBuf),
    /// An entry point already in the process (a test's wrapper around the library at
    /// `library`, which the cross-process case's child loads), with the value it stands in
    /// for `ANDROID_HAL_MAPPER_VERSION`.
    Entry {
        /// The wrapped library.
        library: PathBuf,
        /// Its `AIMapper_loadIMapper`.
        load: ffi::LoadFn,
        /// `ANDROID_HAL_MAPPER_VERSION`, `None` for a missing symbol.
        hal_version: Option<i32>,
    },
    /// `mapper.<suffix>.so` in the first of these directories that has it.
    Search(Vec<PathBuf>),
    /// None: the area is off (`--no-mapper`).
    Off,
}

impl MapperChoice {
    /// The default search: `$GRALLOC_MAPPER_DIR` (when set), then the directory of `exe`,
    /// then on Android the directory the platform loads mappers from (`/vendor/lib64/hw`, or
    /// `/vendor/lib/hw` for a 32-bit suite).
    pub fn default_search(env_dir: Option<PathBuf>, exe: Option<&Path>) -> Self {
        let mut dirs: Vec<PathBuf> = env_dir.into_iter().collect();
        if let Some(dir) = exe.and_then(Path::parent) {
            dirs.push(dir.to_owned());
        }
        if cfg!(target_os = "android") {
            let lib = if cfg!(target_pointer_width = "64") { "lib64" } else { "lib" };
            dirs.push(Path::new("/vendor").join(lib).join("hw"));
        }
        Self::Search(dirs)
    }
}

/// The mapper the area runs against.
#[derive(Debug)]
pub struct LoadedMapper {
    library: ffi::Library,
    mapper: Mapper,
    suffix: String,
}

impl LoadedMapper {
    /// The library.
    pub fn library(&self) -> &ffi::Library {
        &self.library
    }

    /// The function table from the first `AIMapper_loadIMapper`.
    pub fn mapper(&self) -> &Mapper {
        &self.mapper
    }

    /// What the allocator answered to `getIMapperLibrarySuffix`.
    pub fn suffix(&self) -> &str {
        &self.suffix
    }
}

/// The area's state in a run.
#[derive(Debug)]
pub enum MapperState {
    /// Loaded.
    Loaded(Box<LoadedMapper>),
    /// `--no-mapper`.
    Off,
}

impl MapperState {
    /// The header line the runner prints.
    pub fn description(&self) -> String {
        match self {
            MapperState::Loaded(m) => format!(
                "mapper {} (allocator suffix {:?}, AIMapper version {})",
                m.library.path().display(),
                m.suffix,
                m.mapper.version()
            ),
            MapperState::Off => "MAPPER CHECKS OFF (--no-mapper): the mapper_stablec.* cases \
                                 skip and the allocator VTS set-up rule is not checked"
                .to_owned(),
        }
    }
}

/// The library file name the allocator's suffix names.
pub fn library_name(suffix: &str) -> String {
    format!("mapper.{suffix}.so")
}

/// Resolves `choice` against the allocator and loads the mapper.
///
/// # Errors
/// Why there is no usable mapper (the run must not start).
pub fn set_up(choice: &MapperChoice, allocator: &dyn IAllocator) -> Result<MapperState, String> {
    let path = match choice {
        MapperChoice::Off => return Ok(MapperState::Off),
        MapperChoice::Path(path) | MapperChoice::Entry { library: path, .. } => path.clone(),
        MapperChoice::Search(dirs) => {
            let suffix = suffix_of(allocator)?;
            let name = library_name(&suffix);
            let found = dirs.iter().map(|d| d.join(&name)).find(|p| p.is_file());
            found.ok_or_else(|| {
                format!(
                    "no {name} (the allocator's getIMapperLibrarySuffix is {suffix:?}) in {}; \
                     give --mapper PATH, set {MAPPER_DIR_ENV}, or run with --no-mapper",
                    if dirs.is_empty() {
                        "no directory".to_owned()
                    } else {
                        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                    }
                )
            })?
        }
    };
    let suffix = suffix_of(allocator)?;
    let library = match choice {
        MapperChoice::Entry { load, hal_version, .. } => {
            ffi::Library::from_entry(&path, *load, *hal_version)
        }
        _ => ffi::Library::open(&path)?,
    };
    let (code, mapper) = library.load_mapper();
    let mapper = mapper.ok_or_else(|| {
        format!(
            "{}: AIMapper_loadIMapper answered {} with {} mapper",
            path.display(),
            error::name(code),
            if code == error::NONE { "a null" } else { "no" }
        )
    })?;
    if mapper.version() < ffi::VERSION_5 {
        return Err(format!(
            "{}: AIMapper::version is {}, at least 5 is required",
            path.display(),
            mapper.version()
        ));
    }
    Ok(MapperState::Loaded(Box::new(LoadedMapper { library, mapper, suffix })))
}

fn suffix_of(allocator: &dyn IAllocator) -> Result<String, String> {
    allocator.getIMapperLibrarySuffix().map_err(|status| {
        format!("getIMapperLibrarySuffix failed: {status:?} (the mapper cannot be named)")
    })
}

/// Every case of the area.
pub fn cases() -> Vec<Case> {
    [cases_buffers::CASES, cases_formats::CASES, cases_metadata::CASES]
        .into_iter()
        .flatten()
        .copied()
        .collect()
}

/// A null callback is a failure of the case that needed it.
impl From<ffi::NullCallback> for Stop {
    fn from(null: ffi::NullCallback) -> Self {
        Stop::failed(null.to_string())
    }
}

/// Fails unless `code` is `expected`.
///
/// # Errors
/// The call, both codes.
pub fn expect_code(what: &str, code: i32, expected: i32) -> Result<(), Stop> {
    if code == expected {
        return Ok(());
    }
    Err(Stop::failed(format!(
        "{what}: expected {}, got {}",
        error::name(expected),
        error::name(code)
    )))
}

/// One `allocate2(info, 1)` buffer, kept as the raw handle the allocator sent (every fd and
/// int), as the VTS `BufferAllocation` does.
#[derive(Debug)]
pub struct Allocation {
    /// The request.
    pub info: BufferDescriptorInfo,
    /// `AllocationResult.stride`.
    pub stride: i32,
    fds: Vec<OwnedFd>,
    words: NativeHandleWords,
}

impl Allocation {
    /// The raw handle.
    pub fn raw(&self) -> HandleArg<'_> {
        HandleArg::Raw(&self.words)
    }

    /// The raw handle's words.
    pub fn words(&self) -> &NativeHandleWords {
        &self.words
    }

    /// The fds of the raw handle.
    pub fn fds(&self) -> &[OwnedFd] {
        &self.fds
    }

    /// Inode of the pixel buffer (fd 0), to recognise its mappings.
    ///
    /// # Errors
    /// No fd or fstat failure.
    pub fn inode(&self) -> Result<u64, Stop> {
        let fd = self.fds.first().ok_or_else(|| Stop::failed("raw handle has no fd"))?;
        dmabuf::inode(fd.as_fd()).map_err(|e| Stop::failed(format!("fstat of the buffer: {e}")))
    }

    /// Bytes of the pixel buffer (fd 0).
    ///
    /// # Errors
    /// No fd or no size.
    pub fn size(&self) -> Result<u64, Stop> {
        let fd = self.fds.first().ok_or_else(|| Stop::failed("raw handle has no fd"))?;
        crate::mem::size(fd.as_fd())
    }
}

/// `allocate2(info, 1)` as the VTS `allocate` does: `None` for a proper refusal, a failure
/// for an improper one (not service-specific: "allocation transport failure").
///
/// # Errors
/// An improper error or a malformed reply.
pub fn allocate(ctx: &Ctx, info: &BufferDescriptorInfo) -> Result<Option<Allocation>, Stop> {
    let what = desc::describe(info);
    let result = match ctx.allocator().allocate2(info, 1) {
        Ok(result) => result,
        Err(status) => {
            call::classify(&status).map_err(|s| s.context(format!("allocate2({what})")))?;
            return Ok(None);
        }
    };
    let stride = result.stride;
    let mut buffers = result.buffers.into_iter();
    let (Some(native), None) = (buffers.next(), buffers.next()) else {
        return Err(Stop::failed(format!("allocate2({what}, 1) did not return one buffer")));
    };
    let fds: Vec<OwnedFd> = native.fds.into_iter().map(OwnedFd::from).collect();
    let raw: Vec<i32> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let words = NativeHandleWords::new(&raw, &native.ints);
    Ok(Some(Allocation { info: desc::copy(info), stride, fds, words }))
}

/// [`allocate`] that insists on success.
///
/// # Errors
/// A refusal or an improper reply.
pub fn allocate_ok(ctx: &Ctx, info: &BufferDescriptorInfo) -> Result<Allocation, Stop> {
    allocate(ctx, info)?
        .ok_or_else(|| Stop::failed(format!("allocate2({}, 1) refused", desc::describe(info))))
}

/// The VTS generic buffer: `VTS_TEMP` 64×64 RGBA_8888, CPU read and write often.
pub fn generic_info() -> BufferDescriptorInfo {
    vts_info(b"VTS_TEMP", 64, 64, hal_interface::Format::Rgba8888.raw(), desc::CPU_RW)
}

/// A VTS descriptor.
pub fn vts_info(
    name: &[u8],
    width: i32,
    height: i32,
    format: i32,
    usage: u64,
) -> BufferDescriptorInfo {
    desc::raw(name, width, height, format, usage)
}

/// An imported handle, freed on drop when the case did not free it itself.
#[derive(Debug)]
pub struct Import<'m> {
    mapper: &'m Mapper,
    handle: Option<Imported>,
}

impl<'m> Import<'m> {
    /// Imports `allocation` and insists on NONE with a non-null handle (the VTS
    /// `BufferHandle` constructor).
    ///
    /// # Errors
    /// Another code or a null handle.
    pub fn new(mapper: &'m Mapper, allocation: &Allocation) -> Result<Self, Stop> {
        let (code, handle) = mapper.import_buffer(allocation.raw())?;
        expect_code("importBuffer of an allocate2 buffer", code, error::NONE)?;
        let handle =
            handle.ok_or_else(|| Stop::failed("importBuffer answered NONE with a null handle"))?;
        Ok(Self { mapper, handle: Some(handle) })
    }

    /// The handle as a call argument.
    pub fn arg(&self) -> HandleArg<'static> {
        match self.handle {
            Some(h) => HandleArg::Imported(h),
            None => HandleArg::Null,
        }
    }

    /// The imported address.
    pub fn handle(&self) -> Option<Imported> {
        self.handle
    }

    /// Frees it and insists on NONE.
    ///
    /// # Errors
    /// Another code.
    pub fn free(mut self) -> Result<(), Stop> {
        match self.handle.take() {
            Some(h) => {
                let code = self.mapper.free_buffer(HandleArg::Imported(h))?;
                expect_code("freeBuffer of an imported handle", code, error::NONE)
            }
            None => Ok(()),
        }
    }
}

impl Drop for Import<'_> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            // The case already failed or did not care; leaks still show in the fd ledger.
            let _ = self.mapper.free_buffer(HandleArg::Imported(h));
        }
    }
}

/// The loaded mapper, or a skip when the area is off.
///
/// # Errors
/// [`Stop::Skipped`] with `--no-mapper`.
pub fn mapper(ctx: &Ctx) -> Result<&Mapper, Stop> {
    match ctx.mapper_state() {
        MapperState::Loaded(m) => Ok(m.mapper()),
        MapperState::Off => Err(Stop::skipped("SKIP: --no-mapper: the mapper area is off")),
    }
}

/// The loaded library, or a skip when the area is off.
///
/// # Errors
/// [`Stop::Skipped`] with `--no-mapper`.
pub fn loaded(ctx: &Ctx) -> Result<&LoadedMapper, Stop> {
    match ctx.mapper_state() {
        MapperState::Loaded(m) => Ok(m),
        MapperState::Off => Err(Stop::skipped("SKIP: --no-mapper: the mapper area is off")),
    }
}

/// The VTS `getStandardMetadata<T>`: a 512-byte first try, one retry at the size asked for;
/// `-UNSUPPORTED` is `Ok(None)`, any other error or size inconsistency a failure; the bytes
/// are decoded strictly.
///
/// # Errors
/// The broken rule.
pub fn get_standard(
    mapper: &Mapper,
    handle: HandleArg<'_>,
    kind: StandardMetadataType,
) -> Result<Option<MetadataValue>, Stop> {
    let mut buffer = vec![0u8; 512];
    let mut size = mapper.get_standard_metadata(handle, kind.value(), Some(&mut buffer))?;
    if size < 0 {
        if size == -error::UNSUPPORTED {
            return Ok(None);
        }
        return Err(Stop::failed(format!(
            "getStandardMetadata({}) answered {} (only -UNSUPPORTED may come from a valid call)",
            kind.name(),
            size
        )));
    }
    let needed = usize::try_from(size).unwrap_or(0);
    if needed > buffer.len() {
        buffer.resize(needed, 0);
        size = mapper.get_standard_metadata(handle, kind.value(), Some(&mut buffer))?;
    }
    let written = usize::try_from(size).ok().filter(|&n| n <= buffer.len()).ok_or_else(|| {
        Stop::failed(format!(
            "getStandardMetadata({}) answered {size} with a buffer of {} bytes",
            kind.name(),
            buffer.len()
        ))
    })?;
    let bytes = buffer.get(..written).unwrap_or(&[]);
    metadata::decode(kind, bytes).map(Some).map_err(|e| {
        Stop::failed(format!("{} value ({written} bytes) does not decode: {e}", kind.name()))
    })
}

/// [`get_standard`] that insists on a value (`ASSERT_TRUE(value.has_value())`).
///
/// # Errors
/// Unsupported, or as [`get_standard`].
pub fn require(
    mapper: &Mapper,
    handle: HandleArg<'_>,
    kind: StandardMetadataType,
) -> Result<MetadataValue, Stop> {
    get_standard(mapper, handle, kind)?
        .ok_or_else(|| Stop::failed(format!("getStandardMetadata({}) is UNSUPPORTED", kind.name())))
}

/// The VTS `setStandardMetadata<T>`: encodes `value` and returns the mapper's code.
///
/// # Errors
/// A null callback.
pub fn set_standard(
    mapper: &Mapper,
    handle: HandleArg<'_>,
    value: &MetadataValue,
) -> Result<i32, Stop> {
    let bytes = metadata::encode(value);
    Ok(mapper.set_standard_metadata(handle, value.metadata_type().value(), &bytes)?)
}

/// `isSupported(info)`.
///
/// # Errors
/// An error status.
pub fn is_supported(ctx: &Ctx, info: &BufferDescriptorInfo) -> Result<bool, Stop> {
    Ok(call::is_supported(ctx.allocator(), info)?.value)
}

/// The skip of an optional case: only when the allocation was refused and `isSupported` also
/// says false (`ASSERT_FALSE(isSupported(info))`).
///
/// # Errors
/// Always: the skip, or a failure when `isSupported` says true.
pub fn unsupported(ctx: &Ctx, info: &BufferDescriptorInfo, what: &str) -> Result<(), Stop> {
    if is_supported(ctx, info)? {
        return Err(Stop::failed(format!(
            "allocate2({}) refused a trivial buffer, yet isSupported says true",
            desc::describe(info)
        )));
    }
    let reason = format!("SKIP: {what} is unsupported (allocate2 refused, isSupported false)");
    ctx.note(&reason);
    Err(Stop::skipped(reason))
}

/// The whole-buffer region of `info`.
pub fn region_of(info: &BufferDescriptorInfo) -> ARect {
    ARect { left: 0, top: 0, right: info.width, bottom: info.height }
}
