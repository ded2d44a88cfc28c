//! The other side of the C ABI: a client that `dlopen`s a mapper library by path and calls
//! it, for tools (`gralloc alloc --lock`) that must exercise the library a device really
//! loads rather than this crate's Rust code.

use std::ffi::{c_int, c_void};
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use hal_interface::metadata::{decode, MetadataValue, StandardMetadataType};

use crate::abi::{
    AIMapper, ARect, BufferHandleT, MapperError, NativeHandleHeader, AIMAPPER_VERSION_5,
    NATIVE_HANDLE_VERSION,
};

/// Why a mapper library could not be used.
#[derive(Debug)]
pub enum LoadError {
    /// `dlopen` failed.
    Open(PathBuf, libloading::Error),
    /// The library lacks `AIMapper_loadIMapper`.
    NoEntryPoint(PathBuf, libloading::Error),
    /// `AIMapper_loadIMapper` returned an error or a null mapper.
    LoadFailed(PathBuf, MapperError),
    /// The mapper is not version 5.
    Version(PathBuf, u32),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open(path, e) => write!(f, "cannot load {}: {e}", path.display()),
            Self::NoEntryPoint(path, e) => {
                write!(f, "{} has no AIMapper_loadIMapper: {e}", path.display())
            }
            Self::LoadFailed(path, e) => {
                write!(f, "{}: AIMapper_loadIMapper failed: {e:?}", path.display())
            }
            Self::Version(path, v) => {
                write!(f, "{}: mapper version {v}, expected 5", path.display())
            }
        }
    }
}

impl std::error::Error for LoadError {}

type LoadFn = unsafe extern "C" fn(*mut *mut AIMapper) -> MapperError;

/// A loaded mapper library. The library stays loaded as long as this value (Android never
/// unloads a mapper; neither should a caller that still holds buffers).
#[derive(Debug)]
pub struct LoadedMapper {
    _lib: libloading::Library,
    mapper: *const AIMapper,
}

impl LoadedMapper {
    /// Loads the mapper library at `path` and checks it is a version 5 mapper.
    ///
    /// # Errors
    ///
    /// [`LoadError`].
    pub fn load(path: &Path) -> Result<LoadedMapper, LoadError> {
        // SAFETY: loading a library runs its initialisers; the caller names a mapper
        // library, whose initialisers have no preconditions.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| LoadError::Open(path.to_owned(), e))?;
        // SAFETY: IMapper.h declares AIMapper_loadIMapper with exactly this signature.
        let load = unsafe { lib.get::<LoadFn>(b"AIMapper_loadIMapper\0") }
            .map_err(|e| LoadError::NoEntryPoint(path.to_owned(), e))?;
        let mut out: *mut AIMapper = std::ptr::null_mut();
        // SAFETY: `out` is a valid out-pointer.
        let status = unsafe { load(&mut out) };
        if status != MapperError::None || out.is_null() {
            return Err(LoadError::LoadFailed(path.to_owned(), status));
        }
        let mapper = out.cast_const();
        // SAFETY: non-null, pointing at the library's AIMapper, alive while `lib` is loaded.
        let version = unsafe { (*mapper).version };
        if version != AIMAPPER_VERSION_5 {
            return Err(LoadError::Version(path.to_owned(), version));
        }
        Ok(LoadedMapper { _lib: lib, mapper })
    }

    fn table(&self) -> &AIMapper {
        // SAFETY: `load` checked the pointer; the library stays loaded while `self` lives.
        unsafe { &*self.mapper }
    }

    /// `importBuffer` of a received handle (`fds` then `ints`, as in a `NativeHandle`).
    ///
    /// # Errors
    ///
    /// The mapper's error.
    pub fn import(
        &self,
        fds: &[BorrowedFd<'_>],
        ints: &[i32],
    ) -> Result<ClientBuffer<'_>, MapperError> {
        let count = |n: usize| c_int::try_from(n).map_err(|_| MapperError::BadBuffer);
        let mut words = vec![NATIVE_HANDLE_VERSION, count(fds.len())?, count(ints.len())?];
        words.extend(fds.iter().map(AsRawFd::as_raw_fd));
        words.extend_from_slice(ints);
        let mut out: BufferHandleT = std::ptr::null();
        let raw = words.as_ptr().cast::<NativeHandleHeader>();
        // SAFETY: `raw` is a well-formed native_handle_t alive for the call; `out` is valid.
        let status = unsafe { (self.table().v5.import_buffer)(raw, &mut out) };
        if status != MapperError::None {
            return Err(status);
        }
        let buffer = ClientBuffer { mapper: self, handle: out };
        Ok(buffer)
    }
}

/// A buffer imported through a [`LoadedMapper`]; freed on drop.
#[derive(Debug)]
pub struct ClientBuffer<'m> {
    mapper: &'m LoadedMapper,
    handle: BufferHandleT,
}

impl ClientBuffer<'_> {
    /// `getStandardMetadata`: the encoded value (sized by a first call with no buffer).
    ///
    /// # Errors
    ///
    /// The mapper's error (from the negative return value).
    pub fn get_encoded(&self, ty: StandardMetadataType) -> Result<Vec<u8>, MapperError> {
        let get = self.mapper.table().v5.get_standard_metadata;
        // SAFETY: a null destination with size 0 only asks for the size.
        let needed = unsafe { get(self.handle, ty.value(), std::ptr::null_mut(), 0) };
        let len = usize::try_from(needed).map_err(|_| error_of(needed))?;
        let mut bytes = vec![0u8; len];
        // SAFETY: `bytes` holds `len` writable bytes.
        let written = unsafe { get(self.handle, ty.value(), bytes.as_mut_ptr().cast(), len) };
        if usize::try_from(written).ok() != Some(len) {
            return Err(error_of(written));
        }
        Ok(bytes)
    }

    /// The decoded value of `ty`.
    ///
    /// # Errors
    ///
    /// The mapper's error; `BAD_VALUE` for bytes that do not decode.
    pub fn get(&self, ty: StandardMetadataType) -> Result<MetadataValue, MapperError> {
        decode(ty, &self.get_encoded(ty)?).map_err(|_| MapperError::BadValue)
    }

    /// `lock` of the whole buffer with `cpu_usage` and no fence.
    ///
    /// # Errors
    ///
    /// The mapper's error; `BAD_VALUE` when ALLOCATION_SIZE does not fit this process.
    pub fn lock(&self, cpu_usage: u64) -> Result<Locked<'_, '_>, MapperError> {
        let MetadataValue::AllocationSize(size) = self.get(StandardMetadataType::AllocationSize)?
        else {
            return Err(MapperError::BadValue);
        };
        let len = usize::try_from(size).map_err(|_| MapperError::BadValue)?;
        let mut out: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid out-pointer; fence -1 (none).
        let status = unsafe {
            (self.mapper.table().v5.lock)(self.handle, cpu_usage, ARect::default(), -1, &mut out)
        };
        if status != MapperError::None {
            return Err(status);
        }
        if out.is_null() {
            return Err(MapperError::NoResources);
        }
        Ok(Locked { buffer: self, ptr: out.cast(), len, unlocked: false })
    }
}

fn error_of(code: i32) -> MapperError {
    match code.checked_neg() {
        Some(1) => MapperError::BadDescriptor,
        Some(2) => MapperError::BadBuffer,
        Some(3) => MapperError::BadValue,
        Some(5) => MapperError::NoResources,
        _ => MapperError::Unsupported,
    }
}

impl Drop for ClientBuffer<'_> {
    fn drop(&mut self) {
        // SAFETY: a handle this mapper returned, freed once.
        let status = unsafe { (self.mapper.table().v5.free_buffer)(self.handle) };
        if status != MapperError::None {
            log::warn!("freeBuffer failed: {status:?}");
        }
    }
}

/// A locked buffer: bytes copied in and out with bounds checks; unlocked on drop.
#[derive(Debug)]
pub struct Locked<'b, 'm> {
    buffer: &'b ClientBuffer<'m>,
    ptr: *mut u8,
    len: usize,
    unlocked: bool,
}

impl Locked<'_, '_> {
    /// Bytes locked (the allocation size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a lock covers at least one page.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, offset: usize, n: usize) -> Result<(), MapperError> {
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(MapperError::BadValue),
        }
    }

    /// Copies `src` into the buffer at `offset`.
    ///
    /// # Errors
    ///
    /// `BAD_VALUE` outside the buffer.
    pub fn write(&self, offset: usize, src: &[u8]) -> Result<(), MapperError> {
        self.check(offset, src.len())?;
        let dst = self.ptr.wrapping_add(offset);
        // SAFETY: `offset + src.len()` is inside the locked mapping; no reference to the
        // shared memory is made.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        Ok(())
    }

    /// Copies bytes at `offset` into `dst`.
    ///
    /// # Errors
    ///
    /// `BAD_VALUE` outside the buffer.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result<(), MapperError> {
        self.check(offset, dst.len())?;
        let src = self.ptr.wrapping_add(offset).cast_const();
        // SAFETY: `offset + dst.len()` is inside the locked mapping.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// `unlock`.
    ///
    /// # Errors
    ///
    /// The mapper's error.
    pub fn unlock(mut self) -> Result<(), MapperError> {
        self.unlocked = true;
        self.do_unlock()
    }

    fn do_unlock(&self) -> Result<(), MapperError> {
        let mut fence: c_int = -1;
        // SAFETY: a handle this mapper returned; valid out-pointer.
        let status =
            unsafe { (self.buffer.mapper.table().v5.unlock)(self.buffer.handle, &mut fence) };
        if fence >= 0 {
            // SAFETY: unlock hands the release fence's ownership to the caller.
            drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fence) });
        }
        if status == MapperError::None {
            Ok(())
        } else {
            Err(status)
        }
    }
}

impl Drop for Locked<'_, '_> {
    fn drop(&mut self) {
        if !self.unlocked {
            if let Err(status) = self.do_unlock() {
                log::warn!("unlock failed: {status:?}");
            }
        }
    }
}
