//! The mapper area's cases can fail: the suite runs against a wrapper mapper, an `AIMapper`
//! table built here around the workspace's real library and handed to the suite as an
//! in-process entry point, with one deliberate fault at a time (see [`Fault`]); each
//! scenario's cases must fail for the expected reason, a coverage test checks that every
//! mapper case is killed by some fault (two documented exceptions), and a control run through
//! the same wrapper without a fault passes the whole area, so the wrapper itself is faithful.
//!
//! The wrapper forwards through the real library's function pointers: calling them is this
//! file's only `unsafe`, one call per block.

#![allow(clippy::cast_possible_wrap)] // test code: fixed small values, unwrap outside #[test] fns
#![allow(unsafe_code)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use common::daemon::Daemon;
use common::{exclusive, failure_of, mapper_library, repo_file, run_suite_with};
use hal_interface::metadata::{self, MetadataValue, StandardMetadataType as T};
use hal_interface::transport::Endpoint;
use vts_tests::mapper_stablec::{ffi::ARect, MapperChoice};
use vts_tests::Summary;

type Handle = *const c_void;
type Opaque = Option<unsafe extern "C" fn()>;
type ImportFn = unsafe extern "C" fn(Handle, *mut Handle) -> i32;
type HandleFn = unsafe extern "C" fn(Handle) -> i32;
type TransportSizeFn = unsafe extern "C" fn(Handle, *mut u32, *mut u32) -> i32;
type LockFn = unsafe extern "C" fn(Handle, u64, ARect, c_int, *mut *mut c_void) -> i32;
type UnlockFn = unsafe extern "C" fn(Handle, *mut c_int) -> i32;
type GetStandardFn = unsafe extern "C" fn(Handle, i64, *mut c_void, usize) -> i32;
type SetStandardFn = unsafe extern "C" fn(Handle, i64, *const c_void, usize) -> i32;
type ListFn = unsafe extern "C" fn(*mut *const Description, *mut usize) -> i32;
type LoadFn = unsafe extern "C" fn(*mut *const c_void) -> i32;

/// `AIMapper_MetadataTypeDescription`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Description {
    name: *const c_char,
    value: i64,
    description: *const c_char,
    gettable: u8,
    settable: u8,
    reserved: [u8; 32],
}

/// `AIMapperV5`, typed where the wrapper calls through, opaque where it only copies.
#[repr(C)]
#[derive(Clone, Copy)]
struct V5 {
    import_buffer: Option<ImportFn>,
    free_buffer: Option<HandleFn>,
    get_transport_size: Option<TransportSizeFn>,
    lock: Option<LockFn>,
    unlock: Option<UnlockFn>,
    flush_locked_buffer: Option<HandleFn>,
    reread_locked_buffer: Option<HandleFn>,
    get_metadata: Opaque,
    get_standard_metadata: Option<GetStandardFn>,
    set_metadata: Opaque,
    set_standard_metadata: Option<SetStandardFn>,
    list_supported_metadata_types: Option<ListFn>,
    dump_buffer: Opaque,
    dump_all_buffers: Opaque,
    get_reserved_region: Opaque,
}

/// `AIMapper`.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Table {
    version: u32,
    v5: V5,
}

// SAFETY: a description points at static strings of the mapper only; it is read, never
// written, from any thread.
unsafe impl Sync for Description {}
// SAFETY: as above.
unsafe impl Send for Description {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Fault {
    None,
    NullDumpAll,
    SecondLoadDiffers,
    NoVersionSymbol,
    UnlockAlwaysSucceeds,
    LockIgnoresRegion,
    LockPointsOutsideTheBuffer,
    CropAsI64,
    CorruptHeader,
    SwappedRedBlue,
    MetadataNotShared,
    NullHandleIsBadValue,
    UnknownTypeIsBadValue,
    ListWithoutDataspaceSetter,
    ImportReturnsTheSameHandle,
    ImportAcceptsAnEmptyHandle,
    BadBufferIsNone,
    TransportSizeWrong,
    ListClaimsTooMuch,
    Smpte2094Set,
    SecondInstanceRejectsFree,
    FenceKept,
}

const FAULTS: [Fault; 22] = [
    Fault::None,
    Fault::NullDumpAll,
    Fault::SecondLoadDiffers,
    Fault::NoVersionSymbol,
    Fault::UnlockAlwaysSucceeds,
    Fault::LockIgnoresRegion,
    Fault::LockPointsOutsideTheBuffer,
    Fault::CropAsI64,
    Fault::CorruptHeader,
    Fault::SwappedRedBlue,
    Fault::MetadataNotShared,
    Fault::NullHandleIsBadValue,
    Fault::UnknownTypeIsBadValue,
    Fault::ListWithoutDataspaceSetter,
    Fault::ImportReturnsTheSameHandle,
    Fault::ImportAcceptsAnEmptyHandle,
    Fault::BadBufferIsNone,
    Fault::TransportSizeWrong,
    Fault::ListClaimsTooMuch,
    Fault::Smpte2094Set,
    Fault::SecondInstanceRejectsFree,
    Fault::FenceKept,
];

static FAULT: AtomicU8 = AtomicU8::new(0);
static LOADS: AtomicUsize = AtomicUsize::new(0);
static REAL: OnceLock<Table> = OnceLock::new();
static WRAPPED: OnceLock<Table> = OnceLock::new();
static OTHER: OnceLock<Table> = OnceLock::new();
static REJECTING: OnceLock<Table> = OnceLock::new();
/// Edited copies of the real list, one per fault that edits it.
static LISTS: Mutex<BTreeMap<u8, &'static [Description]>> = Mutex::new(BTreeMap::new());
/// Values "set" per process under [`Fault::MetadataNotShared`], by (handle, type).
type LocalValues = HashMap<(usize, i64), Vec<u8>>;
static LOCAL: Mutex<Option<LocalValues>> = Mutex::new(None);
static LAST_IMPORT: Mutex<Option<(usize, usize)>> = Mutex::new(None);
/// Memory that is not the buffer: what the broken lock points at.
static NOT_THE_BUFFER: [u8; 1 << 16] = [0; 1 << 16];

fn fault() -> Fault {
    let value = FAULT.load(Ordering::SeqCst);
    FAULTS.iter().copied().find(|f| *f as u8 == value).unwrap_or(Fault::None)
}

fn real() -> &'static V5 {
    &REAL.get().expect("real mapper loaded").v5
}

/// Loads the real library once and builds the wrapper tables.
fn tables() {
    REAL.get_or_init(|| {
        use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
        // SAFETY: the workspace's own mapper library.
        let lib = unsafe { Library::open(Some(mapper_library()), RTLD_NOW | RTLD_LOCAL) }
            .expect("dlopen the mapper");
        let lib: &'static Library = Box::leak(Box::new(lib));
        // SAFETY: the ABI's entry point type.
        let load = unsafe { lib.get::<LoadFn>(b"AIMapper_loadIMapper\0") }.expect("entry point");
        let mut out: *const c_void = std::ptr::null();
        // SAFETY: a valid out-pointer.
        assert_eq!(unsafe { load(&mut out) }, 0);
        // SAFETY: the real mapper's static AIMapper.
        unsafe { out.cast::<Table>().read_unaligned() }
    });
    let wrapped = *WRAPPED.get_or_init(|| {
        let mut table = *REAL.get().expect("real table");
        table.v5.import_buffer = Some(import_buffer);
        table.v5.free_buffer = Some(free_buffer);
        table.v5.get_transport_size = Some(get_transport_size);
        table.v5.flush_locked_buffer = Some(flush_locked_buffer);
        table.v5.reread_locked_buffer = Some(reread_locked_buffer);
        table.v5.lock = Some(lock);
        table.v5.unlock = Some(unlock);
        table.v5.get_standard_metadata = Some(get_standard_metadata);
        table.v5.set_standard_metadata = Some(set_standard_metadata);
        table.v5.list_supported_metadata_types = Some(list_supported_metadata_types);
        table
    });
    OTHER.get_or_init(|| {
        let mut table = wrapped;
        table.v5.lock = Some(lock_other);
        table
    });
    REJECTING.get_or_init(|| {
        let mut table = wrapped;
        table.v5.free_buffer = Some(free_rejects);
        table
    });
}

unsafe extern "C" fn load(out: *mut *const c_void) -> i32 {
    let first = LOADS.fetch_add(1, Ordering::SeqCst) == 0;
    let table = match (fault(), first) {
        (Fault::SecondLoadDiffers, false) => OTHER.get(),
        (Fault::SecondInstanceRejectsFree, false) => REJECTING.get(),
        _ => WRAPPED.get(),
    };
    let Some(table) = table else { return 5 };
    let mut table: &'static Table = table;
    if fault() == Fault::NullDumpAll {
        let mut copy = *table;
        copy.v5.dump_all_buffers = None;
        table = Box::leak(Box::new(copy));
    }
    let table: *const Table = table;
    // SAFETY: the caller passes a valid out-pointer (the suite's `load_mapper`).
    unsafe { out.write(table.cast()) };
    0
}

unsafe extern "C" fn import_buffer(raw: Handle, out: *mut Handle) -> i32 {
    let Some(f) = real().import_buffer else { return 7 };
    if fault() == Fault::ImportAcceptsAnEmptyHandle && !raw.is_null() && !out.is_null() {
        let words = raw.cast::<i32>();
        // SAFETY: a non-null raw handle starts with version, numFds, numInts.
        let fds = unsafe { words.wrapping_add(1).read() };
        // SAFETY: as above.
        let ints = unsafe { words.wrapping_add(2).read() };
        if fds == 0 && ints == 0 {
            // SAFETY: the caller's valid out-pointer; the "handle" is the raw one.
            unsafe { out.write(raw) };
            return 0;
        }
    }
    // SAFETY: forwarding the caller's arguments unchanged.
    let code = unsafe { f(raw, out) };
    if fault() == Fault::ImportReturnsTheSameHandle && code == 0 && !out.is_null() {
        let mut last = LAST_IMPORT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // SAFETY: the real import just wrote it.
        let got = unsafe { out.read() } as usize;
        match *last {
            Some((from, handle)) if from == raw as usize => {
                // SAFETY: as above; the caller gets the earlier handle again.
                unsafe { out.write(handle as Handle) };
            }
            _ => *last = Some((raw as usize, got)),
        }
    }
    code
}

/// Turns a BAD_BUFFER answer for a non-null handle into NONE under [`Fault::BadBufferIsNone`].
fn bad_buffer_is_none(h: Handle, code: i32) -> i32 {
    if fault() == Fault::BadBufferIsNone && code == 2 && !h.is_null() {
        0
    } else {
        code
    }
}

unsafe extern "C" fn free_buffer(h: Handle) -> i32 {
    let Some(f) = real().free_buffer else { return 7 };
    // SAFETY: forwarding the caller's argument unchanged.
    bad_buffer_is_none(h, unsafe { f(h) })
}

/// A second mapper instance with its own registry: it frees nothing the first imported.
unsafe extern "C" fn free_rejects(_h: Handle) -> i32 {
    2
}

unsafe extern "C" fn flush_locked_buffer(h: Handle) -> i32 {
    let Some(f) = real().flush_locked_buffer else { return 7 };
    // SAFETY: forwarding the caller's argument unchanged.
    let code = unsafe { f(h) };
    if fault() == Fault::BadBufferIsNone && code == 2 {
        return 0;
    }
    code
}

unsafe extern "C" fn reread_locked_buffer(h: Handle) -> i32 {
    let Some(f) = real().reread_locked_buffer else { return 7 };
    // SAFETY: forwarding the caller's argument unchanged.
    let code = unsafe { f(h) };
    if fault() == Fault::BadBufferIsNone && code == 2 {
        return 0;
    }
    code
}

unsafe extern "C" fn get_transport_size(h: Handle, fds: *mut u32, ints: *mut u32) -> i32 {
    let Some(f) = real().get_transport_size else { return 7 };
    // SAFETY: forwarding the caller's arguments unchanged.
    let code = unsafe { f(h, fds, ints) };
    if fault() == Fault::TransportSizeWrong && code == 0 && !fds.is_null() {
        // SAFETY: the real call just wrote it.
        let n = unsafe { fds.read() };
        // SAFETY: as above.
        unsafe { fds.write(n + 1) };
    }
    code
}

unsafe extern "C" fn lock(
    h: Handle,
    usage: u64,
    region: ARect,
    fence: c_int,
    out: *mut *mut c_void,
) -> i32 {
    let Some(f) = real().lock else { return 7 };
    let mut fence = fence;
    if fault() == Fault::FenceKept && fence >= 0 {
        // The real lock closes a copy; the caller's fence is never closed.
        // SAFETY: F_DUPFD_CLOEXEC on the caller's fd touches no memory and takes no ownership.
        fence = unsafe { libc::fcntl(fence, libc::F_DUPFD_CLOEXEC, 0) };
    }
    // SAFETY: forwarding the caller's arguments unchanged (but the fence, above).
    let mut code = unsafe { f(h, usage, region, fence, out) };
    if fault() == Fault::LockIgnoresRegion && code == 3 {
        // SAFETY: as above, with the whole-buffer region instead.
        code = unsafe { f(h, usage, ARect::default(), -1, out) };
    }
    if fault() == Fault::LockPointsOutsideTheBuffer && code == 0 && !out.is_null() {
        // SAFETY: `out` is the caller's valid out-pointer.
        unsafe { out.write(NOT_THE_BUFFER.as_ptr().cast_mut().cast()) };
    }
    code
}

/// The same as [`lock`] at another address (what a second, different load hands out).
unsafe extern "C" fn lock_other(
    h: Handle,
    usage: u64,
    region: ARect,
    fence: c_int,
    out: *mut *mut c_void,
) -> i32 {
    // SAFETY: forwarding unchanged.
    unsafe { lock(h, usage, region, fence, out) }
}

unsafe extern "C" fn unlock(h: Handle, fence: *mut c_int) -> i32 {
    let Some(f) = real().unlock else { return 7 };
    // SAFETY: forwarding the caller's arguments unchanged.
    let code = unsafe { f(h, fence) };
    if fault() == Fault::UnlockAlwaysSucceeds && code == 2 && !h.is_null() {
        return 0;
    }
    code
}

/// The real value of `kind` for `h`, or its negative error.
fn real_get(h: Handle, kind: i64) -> Result<Vec<u8>, i32> {
    let Some(f) = real().get_standard_metadata else { return Err(-7) };
    // SAFETY: size query with (NULL, 0).
    let size = unsafe { f(h, kind, std::ptr::null_mut(), 0) };
    let len = usize::try_from(size).map_err(|_| size)?;
    let mut bytes = vec![0u8; len];
    // SAFETY: `bytes` is writable for `len` bytes.
    let written = unsafe { f(h, kind, bytes.as_mut_ptr().cast(), len) };
    if written < 0 {
        return Err(written);
    }
    Ok(bytes)
}

/// Returns `bytes` the getter way: copied when `dst` holds them, the size either way.
fn answer(bytes: &[u8], dst: *mut c_void, size: usize) -> i32 {
    if !dst.is_null() && bytes.len() <= size {
        // SAFETY: the caller's `dst` is writable for `size >= bytes.len()` bytes.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.cast::<u8>(), bytes.len()) };
    }
    i32::try_from(bytes.len()).unwrap_or(i32::MAX)
}

fn rewrite(kind: i64, bytes: Vec<u8>) -> Vec<u8> {
    let Some(t) = T::from_i64(kind) else { return bytes };
    match (fault(), t) {
        (Fault::CropAsI64, T::Crop) => {
            let Ok(MetadataValue::Crop(rects)) = metadata::decode(t, &bytes) else { return bytes };
            let mut out = bytes.get(..metadata::HEADER_BYTES).unwrap_or(&[]).to_vec();
            out.extend_from_slice(&(rects.len() as i64).to_le_bytes());
            for r in rects {
                for v in [r.left, r.top, r.right, r.bottom] {
                    out.extend_from_slice(&i64::from(v).to_le_bytes());
                }
            }
            out
        }
        (Fault::CorruptHeader, _) if !bytes.is_empty() => {
            let mut out = bytes;
            if let Some(b) = out.get_mut(8) {
                *b ^= 0x20;
            }
            out
        }
        (Fault::SwappedRedBlue, T::PlaneLayouts) => {
            let Ok(MetadataValue::PlaneLayouts(mut planes)) = metadata::decode(t, &bytes) else {
                return bytes;
            };
            for c in planes.iter_mut().flat_map(|p| p.components.iter_mut()) {
                if c.offset_in_bits == 0 && c.size_in_bits == 8 {
                    c.offset_in_bits = 16;
                } else if c.offset_in_bits == 16 && c.size_in_bits == 8 {
                    c.offset_in_bits = 0;
                }
            }
            metadata::encode(&MetadataValue::PlaneLayouts(planes))
        }
        _ => bytes,
    }
}

unsafe extern "C" fn get_standard_metadata(
    h: Handle,
    kind: i64,
    dst: *mut c_void,
    size: usize,
) -> i32 {
    match fault() {
        Fault::NullHandleIsBadValue if h.is_null() => return -3,
        Fault::UnknownTypeIsBadValue if T::from_i64(kind).is_none() => return -3,
        Fault::MetadataNotShared => {
            let local = LOCAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(bytes) = local.as_ref().and_then(|m| m.get(&(h as usize, kind))) {
                return answer(bytes, dst, size);
            }
        }
        _ => {}
    }
    if fault() == Fault::Smpte2094Set
        && (kind == T::Smpte2094_40.value() || kind == T::Smpte2094_10.value())
    {
        let value = if kind == T::Smpte2094_40.value() {
            MetadataValue::Smpte2094_40(Some(vec![1, 2, 3]))
        } else {
            MetadataValue::Smpte2094_10(Some(vec![1, 2, 3]))
        };
        return answer(&metadata::encode(&value), dst, size);
    }
    match real_get(h, kind) {
        Ok(bytes) => answer(&rewrite(kind, bytes), dst, size),
        Err(code) => code,
    }
}

unsafe extern "C" fn set_standard_metadata(
    h: Handle,
    kind: i64,
    src: *const c_void,
    size: usize,
) -> i32 {
    if fault() == Fault::MetadataNotShared && !h.is_null() && !src.is_null() {
        // SAFETY: the caller's `src` is readable for `size` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(src.cast::<u8>(), size) }.to_vec();
        let mut local = LOCAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        local.get_or_insert_with(HashMap::new).insert((h as usize, kind), bytes);
        return 0;
    }
    let Some(f) = real().set_standard_metadata else { return 7 };
    // SAFETY: forwarding the caller's arguments unchanged.
    unsafe { f(h, kind, src, size) }
}

unsafe extern "C" fn list_supported_metadata_types(
    out: *mut *const Description,
    count: *mut usize,
) -> i32 {
    let Some(f) = real().list_supported_metadata_types else { return 7 };
    // SAFETY: forwarding the caller's out-pointers.
    let code = unsafe { f(out, count) };
    let edit: fn(&mut Description) = match fault() {
        Fault::ListWithoutDataspaceSetter => |d| {
            if d.value == T::Dataspace.value() {
                d.settable = 0;
            }
        },
        Fault::ListClaimsTooMuch => |d| {
            if d.value == T::BufferId.value() {
                d.settable = 1;
            }
            if d.value == T::Smpte2094_40.value() {
                (d.gettable, d.settable) = (1, 0);
            }
        },
        _ => return code,
    };
    if code != 0 {
        return code;
    }
    let mut lists = LISTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let list: &'static [Description] =
        lists.entry(FAULT.load(Ordering::SeqCst)).or_insert_with(|| {
            // SAFETY: the real mapper just filled this out-pointer.
            let ptr = unsafe { out.read() };
            // SAFETY: as above.
            let n = unsafe { count.read() };
            // SAFETY: the real list holds `n` descriptions of static storage.
            let real = unsafe { std::slice::from_raw_parts(ptr, n) };
            let edited: Vec<Description> = real
                .iter()
                .map(|d| {
                    let mut d = *d;
                    edit(&mut d);
                    d
                })
                .collect();
            Vec::leak(edited)
        });
    // SAFETY: the caller's out-pointers, now pointing at the edited static copy.
    unsafe { out.write(list.as_ptr()) };
    // SAFETY: as above.
    unsafe { count.write(list.len()) };
    0
}

struct Service {
    endpoint: Endpoint,
    daemon: Daemon,
    _dir: tempfile::TempDir,
}

/// The real daemon on the host board, as a separate process.
fn serve() -> Service {
    let board = repo_file("usage-map/boards/host.toml");
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("allocator.sock");
    let daemon = Daemon::start(&board, &socket);
    Service { endpoint: Endpoint::Unix(socket), daemon, _dir: dir }
}

fn run(fault: Fault, filter: &str) -> Summary {
    let _one = exclusive();
    tables();
    FAULT.store(fault as u8, Ordering::SeqCst);
    LOADS.store(0, Ordering::SeqCst);
    *LAST_IMPORT.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    *LOCAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    let service = serve();
    let hal_version = if fault == Fault::NoVersionSymbol { None } else { Some(5) };
    let choice = MapperChoice::Entry { library: mapper_library().to_owned(), load, hal_version };
    let (summary, _) =
        run_suite_with(&service.endpoint, None, Some(service.daemon.pid()), filter, choice);
    FAULT.store(Fault::None as u8, Ordering::SeqCst);
    summary
}

/// One fault, the cases it runs, and the cases it must fail with a keyword of the reason
/// (case names without the `mapper_stablec.` prefix).
struct Scenario {
    fault: Fault,
    filter: &'static str,
    kills: &'static [(&'static str, &'static str)],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        fault: Fault::NullDumpAll,
        filter: "mapper_stablec.all_v5*",
        kills: &[("all_v5_callbacks_defined", "dumpAllBuffers")],
    },
    Scenario {
        fault: Fault::SecondLoadDiffers,
        filter: "mapper_stablec.dual*",
        kills: &[("dual_load_is_identical", "lock differs")],
    },
    Scenario {
        fault: Fault::NoVersionSymbol,
        filter: "mapper_stablec.version*",
        kills: &[("version_checks", "ANDROID_HAL_MAPPER_VERSION")],
    },
    Scenario {
        fault: Fault::ImportReturnsTheSameHandle,
        filter: "mapper_stablec.import_free_buffer",
        kills: &[("import_free_buffer", "same handle")],
    },
    Scenario {
        fault: Fault::UnlockAlwaysSucceeds,
        filter: "mapper_stablec.unlock*:mapper_stablec.lock_unlock_nested",
        kills: &[
            ("unlock_not_locked", "BAD_BUFFER"),
            ("unlock_not_imported", "BAD_BUFFER"),
            ("unlock_negative", "BAD_BUFFER"),
            ("lock_unlock_nested", "third"),
        ],
    },
    Scenario {
        fault: Fault::FenceKept,
        filter: "mapper_stablec.lock_closes_the_acquire_fence_even_on_error",
        kills: &[(
            "lock_closes_the_acquire_fence_even_on_error",
            "still open after a successful lock, after a lock refused with BAD_VALUE (region \
             twice the buffer), after a lock refused with BAD_BUFFER (null handle)",
        )],
    },
    Scenario {
        fault: Fault::LockIgnoresRegion,
        filter: "mapper_stablec.lock_bad_access_region",
        kills: &[("lock_bad_access_region", "BAD_VALUE")],
    },
    Scenario {
        fault: Fault::LockPointsOutsideTheBuffer,
        filter: "mapper_stablec.lock_*:mapper_stablec.flush_reread_basic",
        kills: &[
            ("lock_unlock_basic", "inode"),
            ("flush_reread_basic", "inode"),
            ("lock_yv12", "inode"),
            ("lock_ycbcr_420_888", "inode"),
        ],
    },
    Scenario {
        fault: Fault::ImportAcceptsAnEmptyHandle,
        filter: "mapper_stablec.import_buffer_negative",
        kills: &[("import_buffer_negative", "BAD_BUFFER")],
    },
    Scenario {
        fault: Fault::BadBufferIsNone,
        filter: "mapper_stablec.free_buffer_negative:mapper_stablec.*_locked_buffer_bad_buffer",
        kills: &[
            ("free_buffer_negative", "BAD_BUFFER"),
            ("flush_locked_buffer_bad_buffer", "BAD_BUFFER"),
            ("reread_locked_buffer_bad_buffer", "BAD_BUFFER"),
        ],
    },
    Scenario {
        fault: Fault::TransportSizeWrong,
        filter: "mapper_stablec.allocator_buffers_import*",
        kills: &[("allocator_buffers_import_into_the_suffix_mapper", "getTransportSize")],
    },
    Scenario {
        fault: Fault::SecondInstanceRejectsFree,
        filter: "mapper_stablec.import_free_buffer_singleton",
        kills: &[("import_free_buffer_singleton", "second mapper instance")],
    },
    Scenario {
        fault: Fault::CropAsI64,
        filter: "mapper_stablec.get_crop",
        kills: &[("get_crop", "does not decode")],
    },
    Scenario {
        fault: Fault::CorruptHeader,
        filter: "mapper_stablec.get_*:mapper_stablec.yv12*:mapper_stablec.lock_*",
        kills: &[
            ("get_buffer_id", "does not decode"),
            ("get_name", "does not decode"),
            ("get_width_height", "does not decode"),
            ("get_layer_count", "does not decode"),
            ("get_pixel_format_requested", "does not decode"),
            ("get_pixel_format_four_cc", "does not decode"),
            ("get_pixel_format_modifier", "does not decode"),
            ("get_usage", "does not decode"),
            ("get_usage64", "does not decode"),
            ("get_allocation_size", "does not decode"),
            ("get_compression", "does not decode"),
            ("get_interlaced", "does not decode"),
            ("get_chroma_siting", "does not decode"),
            ("get_plane_layouts", "does not decode"),
            ("get_crop", "does not decode"),
            ("get_stride", "does not decode"),
            ("get_set_dataspace", "does not decode"),
            ("get_set_blend_mode", "does not decode"),
            ("get_set_smpte2086", "does not decode"),
            ("get_cta861_3", "does not decode"),
            ("yv12_subsample_metadata", "does not decode"),
            ("lock_ycrcb_420_sp", "does not decode"),
            ("lock_yv12", "does not decode"),
            ("lock_ycbcr_420_888", "does not decode"),
            ("lock_raw10", "does not decode"),
            ("lock_raw12", "does not decode"),
            ("lock_ycbcr_p010", "does not decode"),
        ],
    },
    Scenario {
        fault: Fault::SwappedRedBlue,
        filter: "mapper_stablec.get_plane_layouts:mapper_stablec.lock_unlock_basic",
        kills: &[("get_plane_layouts", "R/G/B/A"), ("lock_unlock_basic", "R/G/B/A")],
    },
    Scenario {
        fault: Fault::MetadataNotShared,
        filter: "mapper_stablec.metadata_set_in_a_child*",
        kills: &[("metadata_set_in_a_child_process_is_seen_by_the_parent", "not shared")],
    },
    Scenario {
        fault: Fault::NullHandleIsBadValue,
        filter: "mapper_stablec.get_metadata_bad_value",
        kills: &[("get_metadata_bad_value", "BAD_BUFFER")],
    },
    Scenario {
        fault: Fault::UnknownTypeIsBadValue,
        filter: "mapper_stablec.get_unsupported_metadata",
        kills: &[("get_unsupported_metadata", "UNSUPPORTED")],
    },
    Scenario {
        fault: Fault::ListWithoutDataspaceSetter,
        filter: "mapper_stablec.supports_required*",
        kills: &[("supports_required_getters_setters", "DATASPACE")],
    },
    Scenario {
        fault: Fault::ListClaimsTooMuch,
        filter: "mapper_stablec.list_supported_works:mapper_stablec.check_required*",
        kills: &[
            ("list_supported_works", "setting back"),
            ("check_required_setters_if_has_getters", "must be settable"),
        ],
    },
    Scenario {
        fault: Fault::Smpte2094Set,
        filter: "mapper_stablec.get_smpte2094*",
        kills: &[("get_smpte2094_10", "(None)"), ("get_smpte2094_40", "(None)")],
    },
];

/// Cases no mapper fault can kill: CanAllocate checks the allocator's stride only, and
/// GetProtectedContent skips on a host board (no protected heap).
const NOT_MAPPER_FAULTS: &[&str] = &["can_allocate", "get_protected_content"];

fn killed(faults: &[Fault]) {
    for fault in faults {
        let s = SCENARIOS.iter().find(|s| s.fault == *fault).expect("a scenario for the fault");
        let summary = run(s.fault, s.filter);
        for (case, keyword) in s.kills {
            let name = format!("mapper_stablec.{case}");
            let reason = failure_of(&summary, &name);
            assert!(
                reason.to_lowercase().contains(&keyword.to_lowercase()),
                "{fault:?}: {name} failed for another reason than {keyword:?}: {reason}"
            );
        }
    }
}

#[test]
fn every_mapper_case_is_killed_by_some_fault() {
    let killed: std::collections::HashSet<String> = SCENARIOS
        .iter()
        .flat_map(|s| s.kills.iter().map(|(case, _)| format!("mapper_stablec.{case}")))
        .chain(NOT_MAPPER_FAULTS.iter().map(|case| format!("mapper_stablec.{case}")))
        .collect();
    let names: Vec<&str> = vts_tests::mapper_stablec::cases().iter().map(|c| c.name).collect();
    let missing: Vec<&&str> = names.iter().filter(|n| !killed.contains(**n)).collect();
    assert!(missing.is_empty(), "mapper cases no fault kills: {missing:?}");
    let unknown: Vec<&String> = killed.iter().filter(|k| !names.contains(&k.as_str())).collect();
    assert!(unknown.is_empty(), "scenarios name cases that do not exist: {unknown:?}");
    let faults: Vec<Fault> = SCENARIOS.iter().map(|s| s.fault).collect();
    let untested: Vec<&Fault> =
        FAULTS.iter().filter(|f| **f != Fault::None && !faults.contains(f)).collect();
    assert!(untested.is_empty(), "faults without a scenario: {untested:?}");
}

#[test]
fn control_run_through_the_wrapper_passes_the_mapper_area() {
    let summary = run(Fault::None, "mapper_stablec.*");
    assert!(summary.reports.len() >= 54);
    assert_eq!(summary.failed(), 0, "{}", summary.line());
}

#[test]
fn loading_faults_are_caught() {
    killed(&[Fault::NullDumpAll, Fault::SecondLoadDiffers, Fault::NoVersionSymbol]);
}

#[test]
fn import_and_lock_faults_are_caught() {
    killed(&[
        Fault::ImportReturnsTheSameHandle,
        Fault::UnlockAlwaysSucceeds,
        Fault::LockIgnoresRegion,
        Fault::LockPointsOutsideTheBuffer,
        Fault::FenceKept,
    ]);
}

#[test]
fn handle_faults_are_caught() {
    killed(&[
        Fault::ImportAcceptsAnEmptyHandle,
        Fault::BadBufferIsNone,
        Fault::TransportSizeWrong,
        Fault::SecondInstanceRejectsFree,
    ]);
}

#[test]
fn metadata_faults_are_caught() {
    killed(&[
        Fault::CropAsI64,
        Fault::CorruptHeader,
        Fault::SwappedRedBlue,
        Fault::MetadataNotShared,
        Fault::NullHandleIsBadValue,
        Fault::UnknownTypeIsBadValue,
        Fault::ListWithoutDataspaceSetter,
        Fault::ListClaimsTooMuch,
        Fault::Smpte2094Set,
    ]);
}
