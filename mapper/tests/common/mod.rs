//! Shared set-up of the mapper tests: the library loaded from the built `.so` through its
//! exported C symbols, a `gralloc-allocator` daemon on the host board, and raw
//! `native_handle_t` buffers built from what the daemon sends.
#![allow(unsafe_code, dead_code)]
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::unwrap_used
)] // test code: fixed small values, unwrap outside #[test] fns

use std::ffi::{c_int, c_void, CStr};
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use gralloc_mapper::abi::{ARect, MetadataType, NativeHandleHeader};
use gralloc_mapper::{AIMapper, MapperError, MetadataTypeDescription};
use hal_interface::aidl::{
    AllocationResult, BufferDescriptorInfo, BufferUsage, NativeHandle, PixelFormat,
};
use hal_interface::metadata::{decode, MetadataValue, StandardMetadataType};
use hal_interface::transport::{self, Endpoint};
use hal_interface::wire;

pub const CPU_RW: u64 = 0x33;
pub const CPU_READ: u64 = 0x3;
pub const STANDARD: &CStr = c"android.hardware.graphics.common.StandardMetadataType";

/// The library, loaded once per test process through `dlopen`.
pub struct Library {
    _lib: libloading::Library,
    pub mapper: &'static AIMapper,
    pub mapper_version: i32,
    pub stablec_version: u32,
}

/// `<target>/<profile>/` of this test binary.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("profile directory").to_owned()
}

pub fn library_path() -> PathBuf {
    profile_dir().join("libgralloc_mapper.so")
}

type LoadFn = unsafe extern "C" fn(*mut *mut AIMapper) -> MapperError;

impl Library {
    pub fn load() -> Library {
        let path = library_path();
        // SAFETY: loading our own library runs no initialisers with preconditions.
        let lib = unsafe { libloading::Library::new(&path) }
            .unwrap_or_else(|e| panic!("dlopen {}: {e}", path.display()));
        let mapper = load_mapper(&lib);
        // SAFETY: the symbol is an `i32` static (ffi.rs).
        let symbol = unsafe { lib.get::<*const i32>(b"ANDROID_HAL_MAPPER_VERSION\0") }.unwrap();
        // SAFETY: the symbol's address, valid while the library is loaded.
        let mapper_version = unsafe { **symbol };
        // SAFETY: the symbol is a `u32` static (ffi.rs).
        let symbol = unsafe { lib.get::<*const u32>(b"ANDROID_HAL_STABLEC_VERSION\0") }.unwrap();
        // SAFETY: the symbol's address, valid while the library is loaded.
        let stablec_version = unsafe { **symbol };
        Library { _lib: lib, mapper, mapper_version, stablec_version }
    }
}

pub fn load_mapper(lib: &libloading::Library) -> &'static AIMapper {
    // SAFETY: the symbol has the AIMapper_loadIMapper signature (IMapper.h).
    let load =
        unsafe { lib.get::<LoadFn>(b"AIMapper_loadIMapper\0") }.expect("AIMapper_loadIMapper");
    let mut out: *mut AIMapper = std::ptr::null_mut();
    // SAFETY: `out` is a valid out-pointer.
    let status = unsafe { load(&mut out) };
    assert_eq!(status, MapperError::None);
    assert!(!out.is_null());
    // SAFETY: the library returns a pointer to a static that lives as long as it stays
    // loaded, and tests never unload it.
    unsafe { &*out }
}

/// A caller-built `native_handle_t`: header, fd numbers, ints.
pub struct RawHandle {
    pub words: Vec<i32>,
}

impl RawHandle {
    pub fn new(fds: &[c_int], ints: &[i32]) -> RawHandle {
        let mut words = vec![12, fds.len() as i32, ints.len() as i32];
        words.extend_from_slice(fds);
        words.extend_from_slice(ints);
        RawHandle { words }
    }

    pub fn of(native: &NativeHandle) -> RawHandle {
        let fds: Vec<c_int> = native.fds.iter().map(|fd| fd.as_raw_fd()).collect();
        RawHandle::new(&fds, &native.ints)
    }

    pub fn ptr(&self) -> *const NativeHandleHeader {
        self.words.as_ptr().cast()
    }
}

/// A thin safe face over the function table, for tests.
#[derive(Clone, Copy)]
pub struct Mapper(pub &'static AIMapper);

pub type Handle = *const NativeHandleHeader;

impl Mapper {
    pub fn import(&self, raw: *const NativeHandleHeader) -> Result<Handle, MapperError> {
        let mut out: Handle = std::ptr::null();
        // SAFETY: `raw` is null or a handle built by RawHandle; `out` is valid.
        let status = unsafe { (self.0.v5.import_buffer)(raw, &mut out) };
        if status == MapperError::None {
            Ok(out)
        } else {
            Err(status)
        }
    }

    pub fn free(&self, handle: Handle) -> MapperError {
        // SAFETY: any pointer is acceptable; the library looks it up by address.
        unsafe { (self.0.v5.free_buffer)(handle) }
    }

    pub fn transport_size(&self, handle: Handle) -> Result<(u32, u32), MapperError> {
        let (mut fds, mut ints) = (0u32, 0u32);
        // SAFETY: valid out-pointers.
        let status = unsafe { (self.0.v5.get_transport_size)(handle, &mut fds, &mut ints) };
        if status == MapperError::None {
            Ok((fds, ints))
        } else {
            Err(status)
        }
    }

    pub fn lock(
        &self,
        handle: Handle,
        usage: u64,
        region: ARect,
        fence: c_int,
    ) -> Result<*mut u8, MapperError> {
        let mut out: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid out-pointer; the fence (if any) is handed over.
        let status = unsafe { (self.0.v5.lock)(handle, usage, region, fence, &mut out) };
        if status == MapperError::None {
            Ok(out.cast())
        } else {
            Err(status)
        }
    }

    pub fn unlock(&self, handle: Handle) -> Result<c_int, MapperError> {
        let mut fence: c_int = 12345;
        // SAFETY: valid out-pointer.
        let status = unsafe { (self.0.v5.unlock)(handle, &mut fence) };
        if status == MapperError::None {
            Ok(fence)
        } else {
            Err(status)
        }
    }

    pub fn flush(&self, handle: Handle) -> MapperError {
        // SAFETY: looked up by address.
        unsafe { (self.0.v5.flush_locked_buffer)(handle) }
    }

    pub fn reread(&self, handle: Handle) -> MapperError {
        // SAFETY: looked up by address.
        unsafe { (self.0.v5.reread_locked_buffer)(handle) }
    }

    /// `getStandardMetadata` into a buffer of `cap` bytes: the return value and the bytes.
    pub fn get_raw(&self, handle: Handle, ty: i64, cap: usize) -> (i32, Vec<u8>) {
        let mut buf = vec![0u8; cap];
        let dst = if cap == 0 { std::ptr::null_mut() } else { buf.as_mut_ptr().cast() };
        // SAFETY: `dst` holds `cap` bytes.
        let n = unsafe { (self.0.v5.get_standard_metadata)(handle, ty, dst, cap) };
        (n, buf)
    }

    /// `getStandardMetadata` sized by a first call, as libui does.
    pub fn get_bytes(&self, handle: Handle, ty: i64) -> Result<Vec<u8>, i32> {
        let (needed, _) = self.get_raw(handle, ty, 0);
        if needed < 0 {
            return Err(needed);
        }
        let (n, mut bytes) = self.get_raw(handle, ty, needed as usize);
        assert_eq!(n, needed, "size of type {ty} changed between calls");
        bytes.truncate(n as usize);
        Ok(bytes)
    }

    pub fn get(&self, handle: Handle, ty: StandardMetadataType) -> MetadataValue {
        let bytes =
            self.get_bytes(handle, ty.value()).unwrap_or_else(|e| panic!("get {}: {e}", ty.name()));
        decode(ty, &bytes).unwrap_or_else(|e| panic!("decode {}: {e}", ty.name()))
    }

    pub fn get_named(&self, handle: Handle, name: &CStr, value: i64) -> i32 {
        let mut buf = [0u8; 1024];
        let ty = MetadataType { name: name.as_ptr(), value };
        // SAFETY: `buf` holds 1024 bytes; `name` is NUL-terminated.
        unsafe { (self.0.v5.get_metadata)(handle, ty, buf.as_mut_ptr().cast(), buf.len()) }
    }

    pub fn set_bytes(&self, handle: Handle, ty: i64, bytes: &[u8]) -> MapperError {
        let ptr = if bytes.is_empty() { std::ptr::null() } else { bytes.as_ptr().cast() };
        // SAFETY: `ptr` holds `bytes.len()` bytes.
        unsafe { (self.0.v5.set_standard_metadata)(handle, ty, ptr, bytes.len()) }
    }

    pub fn set_named(&self, handle: Handle, name: &CStr, value: i64, bytes: &[u8]) -> MapperError {
        let ty = MetadataType { name: name.as_ptr(), value };
        // SAFETY: `bytes` is readable; `name` is NUL-terminated.
        unsafe { (self.0.v5.set_metadata)(handle, ty, bytes.as_ptr().cast(), bytes.len()) }
    }

    pub fn descriptions(&self) -> &'static [MetadataTypeDescription] {
        let mut out: *const MetadataTypeDescription = std::ptr::null();
        let mut count = 0usize;
        // SAFETY: valid out-pointers.
        let status = unsafe { (self.0.v5.list_supported_metadata_types)(&mut out, &mut count) };
        assert_eq!(status, MapperError::None);
        // SAFETY: the library returns a static table of `count` entries.
        unsafe { std::slice::from_raw_parts(out, count) }
    }

    pub fn reserved_region(&self, handle: Handle) -> Result<(*mut c_void, u64), MapperError> {
        let mut region: *mut c_void = std::ptr::NonNull::<c_void>::dangling().as_ptr();
        let mut size = u64::MAX;
        // SAFETY: valid out-pointers.
        let status = unsafe { (self.0.v5.get_reserved_region)(handle, &mut region, &mut size) };
        if status == MapperError::None {
            Ok((region, size))
        } else {
            Err(status)
        }
    }

    /// `dumpBuffer`: the (type value, bytes) pairs the callback saw.
    pub fn dump(&self, handle: Handle) -> Result<Vec<(i64, Vec<u8>)>, MapperError> {
        let mut seen: Vec<(i64, Vec<u8>)> = Vec::new();
        // SAFETY: `dump_one` matches the callback type and `seen` outlives the call.
        let status = unsafe {
            (self.0.v5.dump_buffer)(
                handle,
                Some(dump_one),
                (&mut seen as *mut Vec<(i64, Vec<u8>)>).cast(),
            )
        };
        if status == MapperError::None {
            Ok(seen)
        } else {
            Err(status)
        }
    }

    /// `dumpAllBuffers`: the number of buffers begun and the values seen.
    pub fn dump_all(&self) -> (usize, Vec<(i64, Vec<u8>)>) {
        let mut seen: (usize, Vec<(i64, Vec<u8>)>) = (0, Vec::new());
        // SAFETY: the callbacks match their types; `seen` outlives the call.
        let status = unsafe {
            (self.0.v5.dump_all_buffers)(
                Some(begin_all),
                Some(dump_all_one),
                (&mut seen as *mut (usize, Vec<(i64, Vec<u8>)>)).cast(),
            )
        };
        assert_eq!(status, MapperError::None);
        seen
    }
}

unsafe extern "C" fn dump_one(
    ctx: *mut c_void,
    ty: MetadataType,
    value: *const c_void,
    size: usize,
) {
    // SAFETY: `ctx` is the Vec passed by `Mapper::dump`.
    let seen = unsafe { &mut *ctx.cast::<Vec<(i64, Vec<u8>)>>() };
    let bytes = if size == 0 {
        Vec::new()
    } else {
        // SAFETY: the library passes `size` readable bytes.
        unsafe { std::slice::from_raw_parts(value.cast::<u8>(), size) }.to_vec()
    };
    // SAFETY: the library passes its static NUL-terminated name.
    let name = unsafe { CStr::from_ptr(ty.name) };
    assert_eq!(name, STANDARD);
    seen.push((ty.value, bytes));
}

unsafe extern "C" fn begin_all(ctx: *mut c_void) {
    // SAFETY: `ctx` is the tuple passed by `Mapper::dump_all`.
    let seen = unsafe { &mut *ctx.cast::<(usize, Vec<(i64, Vec<u8>)>)>() };
    seen.0 += 1;
}

unsafe extern "C" fn dump_all_one(
    ctx: *mut c_void,
    ty: MetadataType,
    value: *const c_void,
    size: usize,
) {
    // SAFETY: `ctx` is the tuple passed by `Mapper::dump_all`.
    let seen = unsafe { &mut *ctx.cast::<(usize, Vec<(i64, Vec<u8>)>)>() };
    // SAFETY: forwards to `dump_one` with the inner Vec as its context.
    unsafe { dump_one((&mut seen.1 as *mut Vec<(i64, Vec<u8>)>).cast(), ty, value, size) };
}

/// Writes `bytes` at `ptr + offset` (a locked buffer's memory).
pub fn poke(ptr: *mut u8, offset: usize, bytes: &[u8]) {
    let dst = ptr.wrapping_add(offset);
    // SAFETY: the caller locked a buffer of at least `offset + bytes.len()` bytes at `ptr`.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len()) };
}

/// Reads `len` bytes at `ptr + offset` (a locked buffer's memory).
pub fn peek(ptr: *const u8, offset: usize, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let src = ptr.wrapping_add(offset);
    // SAFETY: the caller locked a buffer of at least `offset + len` bytes at `ptr`.
    unsafe { std::ptr::copy_nonoverlapping(src, out.as_mut_ptr(), len) };
    out
}

/// The daemon binary: `$GRALLOC_ALLOCATOR_BIN`, else built into this target directory once
/// per test process (every daemon a test starts runs the same binary).
fn daemon_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(find_or_build_daemon).clone()
}

fn find_or_build_daemon() -> PathBuf {
    if let Some(path) = std::env::var_os("GRALLOC_ALLOCATOR_BIN") {
        return PathBuf::from(path);
    }
    let profile = profile_dir();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(&cargo);
    build
        .current_dir(&root)
        .args(["build", "-q", "-p", "allocator_service", "--bin", "gralloc-allocator"])
        .arg("--target-dir")
        .arg(profile.parent().expect("target dir"));
    if profile.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building gralloc-allocator failed");
    profile.join("gralloc-allocator")
}

/// A daemon on the host board, on its own socket; killed on drop.
pub struct Daemon {
    child: Child,
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    pub fn start() -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("allocator.sock");
        let board = Path::new(env!("CARGO_MANIFEST_DIR")).join("../usage-map/boards/host.toml");
        let mut child = Command::new(daemon_binary())
            .arg("--board")
            .arg(&board)
            .arg("--socket")
            .arg(&socket)
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gralloc-allocator");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("gralloc-allocator: serving") {
                    let _ = tx.send(());
                } else {
                    eprintln!("daemon: {line}");
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        while rx.recv_timeout(Duration::from_millis(100)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("gralloc-allocator exited ({status}) before serving");
            }
            assert!(Instant::now() < deadline, "gralloc-allocator not ready");
        }
        Daemon { child, socket, _dir: dir }
    }

    pub fn allocate(
        &self,
        name: &str,
        width: i32,
        height: i32,
        format: i32,
        usage: u64,
        reserved: i64,
    ) -> AllocationResult {
        let allocator = transport::connect(&Endpoint::Unix(self.socket.clone())).expect("connect");
        let descriptor = BufferDescriptorInfo {
            name: wire::descriptor_name_array(name.as_bytes()),
            width,
            height,
            layerCount: 1,
            format: PixelFormat(format),
            usage: BufferUsage(usage as i64),
            reservedSize: reserved,
            additionalOptions: Vec::new(),
        };
        allocator.allocate2(&descriptor, 1).expect("allocate2")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first buffer of an allocation.
pub fn first(result: &AllocationResult) -> &NativeHandle {
    result.buffers.first().expect("one buffer")
}

/// A memfd of `len` bytes sealed against shrinking and growing, like the allocator's.
pub fn memfd(len: u64) -> OwnedFd {
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MFdFlags};
    let fd = memfd_create(c"forged", MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
        .expect("memfd");
    nix::unistd::ftruncate(&fd, i64::try_from(len).unwrap()).expect("ftruncate");
    let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW;
    fcntl(&fd, FcntlArg::F_ADD_SEALS(seals)).expect("seal");
    fd
}

/// A memfd of `len` bytes that anyone holding it may truncate, filled with `contents`.
pub fn unsealed_memfd(len: u64, contents: &[u8]) -> OwnedFd {
    use nix::sys::memfd::{memfd_create, MFdFlags};
    let fd = memfd_create(c"truncatable", MFdFlags::MFD_CLOEXEC).expect("memfd");
    nix::unistd::ftruncate(&fd, i64::try_from(len).unwrap()).expect("ftruncate");
    nix::sys::uio::pwrite(&fd, contents, 0).expect("pwrite");
    fd
}

/// The first `len` bytes of the file behind `fd`.
pub fn contents(fd: std::os::fd::BorrowedFd<'_>, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    let n = nix::sys::uio::pread(fd, &mut bytes, 0).expect("pread");
    bytes.truncate(n);
    bytes
}

pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}
