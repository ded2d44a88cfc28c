//! The mapper area's cases can fail: the suite runs against a wrapper mapper, an `AIMapper`
//! table built here around the workspace's real library, with one deliberate fault at a time
//! (a null callback, a second load with other callbacks, no version symbol, unlock that never
//! says BAD_BUFFER, lock that ignores its region or returns a pointer outside the buffer,
//! CROP as i64, a corrupt header, swapped R/B planes, metadata kept per process, wrong error
//! codes, a setter missing from the list, two imports giving one handle), and each listed
//! case must fail for the expected reason. A control run through the same wrapper without a
//! fault passes the whole area, so the wrapper itself is faithful.
//!
//! The wrapper forwards through the real library's function pointers: calling them is this
//! file's only `unsafe`, one call per block.

#![allow(unsafe_code)]

mod common;

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use allocator_service::allocator::Allocator;
use allocator_service::startup::open_heaps;
use common::{exclusive, failure_of, mapper_library, repo_file, run_suite_with};
use hal_interface::metadata::{self, MetadataValue, StandardMetadataType as T};
use hal_interface::transport::Endpoint;
use usage_map::UsageMap;
use vts_tests::mapper_stablec::{ffi::ARect, MapperChoice};
use vts_tests::Summary;

type Handle = *const c_void;
type Opaque = Option<unsafe extern "C" fn()>;
type ImportFn = unsafe extern "C" fn(Handle, *mut Handle) -> i32;
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
    free_buffer: Opaque,
    get_transport_size: Opaque,
    lock: Option<LockFn>,
    unlock: Option<UnlockFn>,
    flush_locked_buffer: Opaque,
    reread_locked_buffer: Opaque,
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
}

const FAULTS: [Fault; 15] = [
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
];

static FAULT: AtomicU8 = AtomicU8::new(0);
static LOADS: AtomicUsize = AtomicUsize::new(0);
static REAL: OnceLock<Table> = OnceLock::new();
static WRAPPED: OnceLock<Table> = OnceLock::new();
static OTHER: OnceLock<Table> = OnceLock::new();
static LIST: OnceLock<Vec<Description>> = OnceLock::new();
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
}

unsafe extern "C" fn load(out: *mut *const c_void) -> i32 {
    let first = LOADS.fetch_add(1, Ordering::SeqCst) == 0;
    let table = match (fault(), first) {
        (Fault::SecondLoadDiffers, false) => OTHER.get(),
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

unsafe extern "C" fn lock(
    h: Handle,
    usage: u64,
    region: ARect,
    fence: c_int,
    out: *mut *mut c_void,
) -> i32 {
    let Some(f) = real().lock else { return 7 };
    // SAFETY: forwarding the caller's arguments unchanged.
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
    if fault() != Fault::ListWithoutDataspaceSetter || code != 0 {
        return code;
    }
    let list = LIST.get_or_init(|| {
        // SAFETY: the real mapper just filled this out-pointer.
        let ptr = unsafe { out.read() };
        // SAFETY: as above.
        let n = unsafe { count.read() };
        // SAFETY: the real list holds `n` descriptions of static storage.
        let real = unsafe { std::slice::from_raw_parts(ptr, n) };
        real.iter()
            .map(|d| {
                let mut d = *d;
                if d.value == T::Dataspace.value() {
                    d.settable = 0;
                }
                d
            })
            .collect()
    });
    // SAFETY: the caller's out-pointers, now pointing at the edited static copy.
    unsafe { out.write(list.as_ptr()) };
    // SAFETY: as above.
    unsafe { count.write(list.len()) };
    0
}

struct Service {
    endpoint: Endpoint,
    _guard: hal_interface::transport::ServerGuard,
    _dir: tempfile::TempDir,
}

fn serve() -> Service {
    let board = repo_file("usage-map/boards/host.toml");
    let map = UsageMap::load(&board).expect("board loads");
    let (heaps, _) = open_heaps(&map, &heaps::probe()).expect("heaps open");
    let core = Arc::new(Allocator::new(map, heaps));
    let dir = tempfile::tempdir().expect("temp dir");
    let endpoint = Endpoint::Unix(dir.path().join("allocator.sock"));
    let guard = allocator_service::binder::serve(&endpoint, core, 4).expect("serve");
    Service { endpoint, _guard: guard, _dir: dir }
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
        run_suite_with(&service.endpoint, None, Some(std::process::id()), filter, choice);
    FAULT.store(Fault::None as u8, Ordering::SeqCst);
    summary
}

fn killed(fault: Fault, filter: &str, kills: &[(&str, &str)]) {
    let summary = run(fault, filter);
    for (case, keyword) in kills {
        let name = format!("mapper_stablec.{case}");
        let reason = failure_of(&summary, &name);
        assert!(
            reason.to_lowercase().contains(&keyword.to_lowercase()),
            "{fault:?}: {name} failed for another reason than {keyword:?}: {reason}"
        );
    }
}

#[test]
fn control_run_through_the_wrapper_passes_the_mapper_area() {
    let summary = run(Fault::None, "mapper_stablec.*");
    assert!(summary.reports.len() >= 54);
    assert_eq!(summary.failed(), 0, "{}", summary.line());
}

#[test]
fn loading_faults_are_caught() {
    killed(
        Fault::NullDumpAll,
        "mapper_stablec.all_v5*",
        &[("all_v5_callbacks_defined", "dumpAllBuffers")],
    );
    killed(
        Fault::SecondLoadDiffers,
        "mapper_stablec.dual*",
        &[("dual_load_is_identical", "lock differs")],
    );
    killed(
        Fault::NoVersionSymbol,
        "mapper_stablec.version*",
        &[("version_checks", "ANDROID_HAL_MAPPER_VERSION")],
    );
}

#[test]
fn import_and_lock_faults_are_caught() {
    killed(
        Fault::ImportReturnsTheSameHandle,
        "mapper_stablec.import_free_buffer",
        &[("import_free_buffer", "same handle")],
    );
    killed(
        Fault::UnlockAlwaysSucceeds,
        "mapper_stablec.unlock*:mapper_stablec.lock_unlock_nested",
        &[
            ("unlock_not_locked", "BAD_BUFFER"),
            ("unlock_not_imported", "BAD_BUFFER"),
            ("unlock_negative", "BAD_BUFFER"),
            ("lock_unlock_nested", "third"),
        ],
    );
    killed(
        Fault::LockIgnoresRegion,
        "mapper_stablec.lock_bad_access_region",
        &[("lock_bad_access_region", "BAD_VALUE")],
    );
    killed(
        Fault::LockPointsOutsideTheBuffer,
        "mapper_stablec.lock_*:mapper_stablec.flush_reread_basic",
        &[
            ("lock_unlock_basic", "inode"),
            ("flush_reread_basic", "inode"),
            ("lock_yv12", "inode"),
            ("lock_ycbcr_420_888", "inode"),
        ],
    );
}

#[test]
fn metadata_faults_are_caught() {
    killed(Fault::CropAsI64, "mapper_stablec.get_crop", &[("get_crop", "does not decode")]);
    killed(
        Fault::CorruptHeader,
        "mapper_stablec.get_*",
        &[
            ("get_buffer_id", "does not decode"),
            ("get_name", "does not decode"),
            ("get_width_height", "does not decode"),
            ("get_stride", "does not decode"),
            ("get_set_dataspace", "does not decode"),
        ],
    );
    killed(
        Fault::SwappedRedBlue,
        "mapper_stablec.get_plane_layouts:mapper_stablec.lock_unlock_basic",
        &[("get_plane_layouts", "R/G/B/A"), ("lock_unlock_basic", "R/G/B/A")],
    );
    killed(
        Fault::MetadataNotShared,
        "mapper_stablec.metadata_set_in_a_child*",
        &[("metadata_set_in_a_child_process_is_seen_by_the_parent", "not shared")],
    );
    killed(
        Fault::NullHandleIsBadValue,
        "mapper_stablec.get_metadata_bad_value",
        &[("get_metadata_bad_value", "BAD_BUFFER")],
    );
    killed(
        Fault::UnknownTypeIsBadValue,
        "mapper_stablec.get_unsupported_metadata",
        &[("get_unsupported_metadata", "UNSUPPORTED")],
    );
    killed(
        Fault::ListWithoutDataspaceSetter,
        "mapper_stablec.supports_required*",
        &[("supports_required_getters_setters", "DATASPACE")],
    );
}
