//! The mapper library driven through its exported C symbols (`dlopen` of the built `.so`)
//! on buffers from a running `gralloc-allocator` on the host board.

#![allow(clippy::cast_possible_truncation)] // test code: fixed small values, unwrap outside #[test] fns

mod common;

use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Barrier, OnceLock};

use common::*;
use gralloc_mapper::abi::ARect;
use gralloc_mapper::MapperError;
use hal_interface::metadata::{encode, MetadataValue, Rect, StandardMetadataType as T};

const RGBA_8888: i32 = 1;
const YV12: i32 = 0x3231_5659;
const DISPLAY_P3: i32 = 143_261_696;
const BLEND_COVERAGE: i32 = 3;

fn library() -> &'static Library {
    static LIB: OnceLock<Library> = OnceLock::new();
    LIB.get_or_init(Library::load)
}

fn mapper() -> Mapper {
    Mapper(library().mapper)
}

/// A daemon for one allocation: the temporary is dropped (the daemon killed and reaped) at
/// the end of the statement, while the buffers stay the client's. A daemon kept in a static
/// would never be dropped and would outlive the test process.
fn daemon() -> Daemon {
    Daemon::start()
}

fn whole() -> ARect {
    ARect::default()
}

#[test]
fn versions_and_one_mapper_per_process() {
    let lib = library();
    assert_eq!(lib.mapper_version, 5);
    assert_eq!(lib.stablec_version, 5);
    assert_eq!(lib.mapper.version, 5);
    // A second dlopen gives the same library and so the same AIMapper.
    let again = Library::load();
    assert!(std::ptr::eq(lib.mapper, again.mapper));
}

#[test]
fn import_lock_write_read_unlock_round_trips() {
    let m = mapper();
    let alloc = daemon().allocate("Hello, World!", 64, 128, RGBA_8888, CPU_RW, 0);
    let raw = RawHandle::of(first(&alloc));
    let a = m.import(raw.ptr()).expect("import");
    let b = m.import(raw.ptr()).expect("second import");
    assert_ne!(a, b, "double import gives distinct handles");
    // An imported handle is a valid raw handle too.
    let c = m.import(a).expect("import of an imported handle");
    assert_eq!(m.transport_size(a), Ok((2, (raw.words.len() - 5) as u32)));

    let ptr = m.lock(a, CPU_RW, whole(), -1).expect("lock");
    let size = 64 * 128 * 4;
    let pattern: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    poke(ptr, 0, &pattern);
    assert_eq!(m.flush(a), MapperError::None);
    assert_eq!(m.reread(a), MapperError::None);
    assert_eq!(m.unlock(a), Ok(-1));
    // The same memory through the other import (its own mapping).
    let other =
        m.lock(b, CPU_READ, ARect { left: 0, top: 0, right: 64, bottom: 128 }, -1).expect("lock b");
    assert_eq!(peek(other, 0, size), pattern);
    assert_eq!(m.unlock(b), Ok(-1));
    for h in [a, b, c] {
        assert_eq!(m.free(h), MapperError::None);
    }
    assert_eq!(m.free(a), MapperError::BadBuffer, "double free");
}

#[test]
fn nested_locks_and_unlock_errors() {
    let m = mapper();
    let alloc = daemon().allocate("nested", 16, 16, RGBA_8888, CPU_RW, 0);
    let raw = RawHandle::of(first(&alloc));
    let h = m.import(raw.ptr()).unwrap();
    assert_eq!(m.unlock(h), Err(MapperError::BadBuffer), "unlock of an unlocked buffer");
    assert_eq!(m.flush(h), MapperError::BadBuffer);
    assert_eq!(m.reread(h), MapperError::BadBuffer);
    let p1 = m.lock(h, CPU_RW, whole(), -1).unwrap();
    let p2 = m.lock(h, CPU_READ, ARect { left: 1, top: 1, right: 2, bottom: 2 }, -1).unwrap();
    assert_eq!(p1, p2, "outData is the buffer's top-left whatever the region");
    assert_eq!(m.unlock(h), Ok(-1));
    assert_eq!(m.unlock(h), Ok(-1));
    assert_eq!(m.unlock(h), Err(MapperError::BadBuffer));
    // Bad usages and regions.
    assert_eq!(m.lock(h, 0, whole(), -1), Err(MapperError::BadValue));
    assert_eq!(m.lock(h, CPU_RW | (1 << 8), whole(), -1), Err(MapperError::BadValue));
    let big = ARect { left: 0, top: 0, right: 32, bottom: 32 };
    assert_eq!(m.lock(h, CPU_RW, big, -1), Err(MapperError::BadValue));
    let negative = ARect { left: -1, top: 0, right: 4, bottom: 4 };
    assert_eq!(m.lock(h, CPU_RW, negative, -1), Err(MapperError::BadValue));
    assert_eq!(m.free(h), MapperError::None);
    assert_eq!(m.unlock(h), Err(MapperError::BadBuffer), "unlock after free");
    assert_eq!(m.lock(h, CPU_RW, whole(), -1), Err(MapperError::BadBuffer));
}

#[test]
fn acquire_fence_is_waited_and_closed_even_on_error() {
    let m = mapper();
    let alloc = daemon().allocate("fence", 16, 16, RGBA_8888, CPU_RW, 0);
    let raw = RawHandle::of(first(&alloc));
    let h = m.import(raw.ptr()).unwrap();
    // A signalled "fence": the read end of a pipe with data in it. Closed-ness is checked
    // by the pipe's identity (readlink of /proc/self/fd/N), since other test threads may
    // reuse the number at once.
    let fence = |m: &Mapper, usage| {
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&w, b"x").unwrap();
        let number = std::os::fd::IntoRawFd::into_raw_fd(r);
        let link = format!("/proc/self/fd/{number}");
        let identity = std::fs::read_link(&link).unwrap();
        let result = m.lock(h, usage, whole(), number);
        let closed = std::fs::read_link(&link).map_or(true, |now| now != identity);
        (result, closed)
    };
    let (ok, closed) = fence(&m, CPU_RW);
    assert!(ok.is_ok() && closed, "lock with a signalled fence: {ok:?}, closed {closed}");
    assert_eq!(m.unlock(h), Ok(-1));
    let (bad, closed) = fence(&m, 0);
    assert_eq!(bad, Err(MapperError::BadValue));
    assert!(closed, "fence closed on error");
    assert_eq!(m.free(h), MapperError::None);
}

#[test]
fn standard_metadata_from_the_handle() {
    let m = mapper();
    let alloc = daemon().allocate("Hello, World!", 64, 128, RGBA_8888, CPU_RW | (1 << 32), 0);
    let raw = RawHandle::of(first(&alloc));
    let h = m.import(raw.ptr()).unwrap();
    assert_eq!(m.get(h, T::Name), MetadataValue::Name("Hello, World!".to_owned()));
    assert_eq!(m.get(h, T::Width), MetadataValue::Width(64));
    assert_eq!(m.get(h, T::Height), MetadataValue::Height(128));
    assert_eq!(m.get(h, T::LayerCount), MetadataValue::LayerCount(1));
    assert_eq!(m.get(h, T::PixelFormatRequested), MetadataValue::PixelFormatRequested(RGBA_8888));
    assert_eq!(m.get(h, T::PixelFormatFourcc), MetadataValue::PixelFormatFourcc(0x3432_4241));
    assert_eq!(m.get(h, T::PixelFormatModifier), MetadataValue::PixelFormatModifier(0));
    assert_eq!(m.get(h, T::Usage), MetadataValue::Usage(CPU_RW | (1 << 32)));
    assert_eq!(m.get(h, T::ProtectedContent), MetadataValue::ProtectedContent(0));
    assert_eq!(
        m.get(h, T::Crop),
        MetadataValue::Crop(vec![Rect { left: 0, top: 0, right: 64, bottom: 128 }])
    );
    assert_eq!(m.get(h, T::Stride), MetadataValue::Stride(u32::try_from(alloc.stride).unwrap()));
    assert_eq!(m.get(h, T::Dataspace), MetadataValue::Dataspace(0));
    assert_eq!(m.get(h, T::BlendMode), MetadataValue::BlendMode(0));
    assert_eq!(m.get(h, T::Smpte2086), MetadataValue::Smpte2086(None));
    assert_eq!(m.get(h, T::Cta861_3), MetadataValue::Cta861_3(None));
    assert_eq!(m.get_bytes(h, T::PlaneLayouts.value()).unwrap().len(), 505);
    let MetadataValue::AllocationSize(size) = m.get(h, T::AllocationSize) else { panic!() };
    assert!(size >= 64 * 128 * 4);
    let MetadataValue::BufferId(id) = m.get(h, T::BufferId) else { panic!() };
    assert_ne!(id, 0);
    // Every standard type is gettable, and its size is stable.
    for ty in T::ALL {
        let first = m.get_bytes(h, ty.value()).unwrap();
        assert_eq!(m.get_bytes(h, ty.value()).unwrap(), first, "{}", ty.name());
    }
    // Too small a buffer: the size needed, nothing written.
    let (n, buf) = m.get_raw(h, T::Width.value(), 10);
    assert_eq!(n, 77);
    assert!(buf.iter().all(|&b| b == 0));
    // By name, and unknown types.
    assert_eq!(m.get_named(h, STANDARD, T::Width.value()), 77);
    assert_eq!(m.get_named(h, c"Fake", 1), MapperError::Unsupported.negative());
    for bad in [0, 24, -1, i64::MAX] {
        assert_eq!(m.get_raw(h, bad, 100).0, MapperError::Unsupported.negative(), "type {bad}");
    }
    // A null or unknown handle is BAD_BUFFER for every type, known or not.
    for ty in [1, 17, 24] {
        assert_eq!(m.get_raw(std::ptr::null(), ty, 100).0, MapperError::BadBuffer.negative());
    }
    assert_eq!(m.free(h), MapperError::None);
    assert_eq!(m.get_raw(h, 3, 100).0, MapperError::BadBuffer.negative());
}

#[test]
fn settable_metadata_round_trips_and_read_only_is_refused() {
    let m = mapper();
    let alloc = daemon().allocate("settable", 32, 32, RGBA_8888, CPU_RW, 0);
    let raw = RawHandle::of(first(&alloc));
    let h = m.import(raw.ptr()).unwrap();
    let set = |v: MetadataValue| m.set_bytes(h, v.metadata_type().value(), &encode(&v));
    assert_eq!(set(MetadataValue::Dataspace(DISPLAY_P3)), MapperError::None);
    assert_eq!(m.get(h, T::Dataspace), MetadataValue::Dataspace(DISPLAY_P3));
    assert_eq!(
        m.set_named(
            h,
            STANDARD,
            T::BlendMode.value(),
            &encode(&MetadataValue::BlendMode(BLEND_COVERAGE))
        ),
        MapperError::None
    );
    assert_eq!(m.get(h, T::BlendMode), MetadataValue::BlendMode(BLEND_COVERAGE));
    let cta = hal_interface::metadata::Cta861_3 {
        max_content_light_level: 400.0,
        max_frame_average_light_level: 120.0,
    };
    assert_eq!(set(MetadataValue::Cta861_3(Some(cta))), MapperError::None);
    assert_eq!(m.get(h, T::Cta861_3), MetadataValue::Cta861_3(Some(cta)));
    assert_eq!(m.set_bytes(h, T::Cta861_3.value(), &[]), MapperError::None, "0 bytes clear");
    assert_eq!(m.get(h, T::Cta861_3), MetadataValue::Cta861_3(None));
    let xy = |x, y| hal_interface::metadata::XyColor { x, y };
    let mastering = hal_interface::metadata::Smpte2086 {
        primary_red: xy(0.68, 0.32),
        primary_green: xy(0.265, 0.69),
        primary_blue: xy(0.15, 0.06),
        white_point: xy(0.3127, 0.329),
        max_luminance: 1000.0,
        min_luminance: 0.005,
    };
    assert_eq!(set(MetadataValue::Smpte2086(Some(mastering))), MapperError::None);
    assert_eq!(m.get(h, T::Smpte2086), MetadataValue::Smpte2086(Some(mastering)));
    assert_eq!(m.get_bytes(h, T::Smpte2086.value()).unwrap().len(), 109);
    assert_eq!(m.set_bytes(h, T::Smpte2086.value(), &[]), MapperError::None);
    assert_eq!(m.get_bytes(h, T::Smpte2086.value()).unwrap().len(), 0, "cleared: 0 bytes");
    assert_eq!(set(MetadataValue::Smpte2094_40(Some(vec![1, 2, 3]))), MapperError::None);
    assert_eq!(m.get(h, T::Smpte2094_40), MetadataValue::Smpte2094_40(Some(vec![1, 2, 3])));
    // Read-only types: BAD_VALUE; others not settable or malformed: UNSUPPORTED.
    for v in [
        MetadataValue::Width(1),
        MetadataValue::BufferId(9),
        MetadataValue::Name("x".into()),
        MetadataValue::Usage(0),
    ] {
        assert_eq!(set(v.clone()), MapperError::BadValue, "{v:?}");
    }
    assert_eq!(set(MetadataValue::Stride(1)), MapperError::Unsupported);
    assert_eq!(m.set_bytes(h, T::Dataspace.value(), &[1, 2, 3]), MapperError::Unsupported);
    let mut trailing = encode(&MetadataValue::Dataspace(1));
    trailing.push(0);
    assert_eq!(m.set_bytes(h, T::Dataspace.value(), &trailing), MapperError::Unsupported);
    assert_eq!(m.set_bytes(h, 99, &[]), MapperError::Unsupported);
    assert_eq!(
        m.set_named(h, c"Fake", 17, &encode(&MetadataValue::Dataspace(1))),
        MapperError::Unsupported
    );
    // Setting back what each gettable type returned works for every settable type.
    for d in m.descriptions().iter().filter(|d| d.is_settable) {
        let bytes = m.get_bytes(h, d.metadata_type.value).unwrap();
        assert_eq!(
            m.set_bytes(h, d.metadata_type.value, &bytes),
            MapperError::None,
            "{}",
            d.metadata_type.value
        );
    }
    assert_eq!(m.free(h), MapperError::None);
}

#[test]
fn supported_types_are_listed_once_with_reserved_zero() {
    let m = mapper();
    let list = m.descriptions();
    let mut values: Vec<i64> = list.iter().map(|d| d.metadata_type.value).collect();
    values.sort_unstable();
    assert_eq!(values, (1..=23).collect::<Vec<_>>());
    for d in list {
        // SAFETY-free: the names are compared through the library's own pointers in common.
        assert!(d.is_gettable);
        assert!(d.reserved.iter().all(|&b| b == 0));
        assert_eq!(d.is_settable, (17..=22).contains(&d.metadata_type.value));
    }
}

#[test]
fn dumps_decode_and_cover_every_buffer() {
    let m = mapper();
    let alloc = daemon().allocate("dumped", 16, 16, RGBA_8888, CPU_RW, 0);
    let raw = RawHandle::of(first(&alloc));
    let h = m.import(raw.ptr()).unwrap();
    let values = m.dump(h).unwrap();
    assert_eq!(values.len(), 23);
    for (ty, bytes) in &values {
        let ty = T::from_i64(*ty).unwrap();
        hal_interface::metadata::decode(ty, bytes).unwrap_or_else(|e| panic!("{}: {e}", ty.name()));
    }
    let (begun, all) = m.dump_all();
    assert!(begun >= 1);
    assert_eq!(all.len(), 23 * begun, "every buffer dumps every type");
    assert_eq!(m.dump(std::ptr::null()), Err(MapperError::BadBuffer));
    assert_eq!(m.free(h), MapperError::None);
}

#[test]
fn reserved_region_outputs_are_always_filled() {
    let m = mapper();
    let none = daemon().allocate("no-reserved", 16, 16, RGBA_8888, CPU_RW, 0);
    let raw = RawHandle::of(first(&none));
    let h = m.import(raw.ptr()).unwrap();
    assert_eq!(m.reserved_region(h), Ok((std::ptr::null_mut(), 0)));
    assert_eq!(m.free(h), MapperError::None);
    let some = daemon().allocate("reserved", 16, 16, RGBA_8888, CPU_RW, 64);
    let raw = RawHandle::of(first(&some));
    let h = m.import(raw.ptr()).unwrap();
    let (ptr, size) = m.reserved_region(h).unwrap();
    assert!(!ptr.is_null());
    assert!(size >= 64);
    poke(ptr.cast(), 0, b"reserved!");
    let h2 = m.import(raw.ptr()).unwrap();
    let (ptr2, _) = m.reserved_region(h2).unwrap();
    assert_eq!(peek(ptr2.cast(), 0, 9), b"reserved!");
    assert_eq!(m.free(h), MapperError::None);
    assert_eq!(m.free(h2), MapperError::None);
    assert_eq!(m.reserved_region(h), Err(MapperError::BadBuffer));
}

#[test]
fn yv12_locks_and_describes_three_planes() {
    let m = mapper();
    let alloc = daemon().allocate("yv12", 64, 64, YV12, CPU_RW, 0);
    let raw = RawHandle::of(first(&alloc));
    let h = m.import(raw.ptr()).unwrap();
    let MetadataValue::PlaneLayouts(planes) = m.get(h, T::PlaneLayouts) else { panic!() };
    assert_eq!(planes.len(), 3);
    let ptr = m.lock(h, CPU_RW, whole(), -1).unwrap();
    poke(ptr, 0, &[0x10; 64]);
    assert_eq!(m.unlock(h), Ok(-1));
    assert_eq!(m.free(h), MapperError::None);
}

#[test]
fn every_bad_handle_is_refused() {
    let m = mapper();
    let alloc = daemon().allocate("victim", 16, 16, RGBA_8888, CPU_RW, 0);
    let native = first(&alloc);
    let good = RawHandle::of(native);
    let buffer = native.fds[0].as_raw_fd();
    let meta = native.fds[1].as_raw_fd();
    let ints = native.ints.clone();
    let small = memfd(512);
    let zero_region = memfd(8192);
    let short_region = memfd(4096);
    // Right sizes and a valid region header, but truncatable by whoever else holds them.
    let alloc_size = heaps::dmabuf::size_of(native.fds[0].as_fd()).unwrap();
    let truncatable_buffer = unsealed_memfd(alloc_size, &[]);
    let region_bytes = contents(native.fds[1].as_fd(), 8192);
    let truncatable_region = unsealed_memfd(8192, &region_bytes);
    let mut bad_magic = ints.clone();
    bad_magic[0] ^= 1;
    let mut bad_version = ints.clone();
    bad_version[1] = 9;
    let cases: Vec<(&str, RawHandle)> = vec![
        ("no fds", RawHandle::new(&[], &ints)),
        ("one fd", RawHandle::new(&[buffer], &ints)),
        ("three fds", RawHandle::new(&[buffer, meta, meta], &ints)),
        ("fd -1", RawHandle::new(&[-1, meta], &ints)),
        ("closed fd", RawHandle::new(&[1_000_000, meta], &ints)),
        ("bad magic", RawHandle::new(&[buffer, meta], &bad_magic)),
        ("bad version", RawHandle::new(&[buffer, meta], &bad_version)),
        ("short ints", RawHandle::new(&[buffer, meta], &ints[..ints.len() - 1])),
        ("trailing ints", RawHandle::new(&[buffer, meta], &[&ints[..], &[0]].concat())),
        ("no ints", RawHandle::new(&[buffer, meta], &[])),
        ("buffer smaller than the allocation", RawHandle::new(&[small.as_raw_fd(), meta], &ints)),
        (
            "metadata region with a zero header",
            RawHandle::new(&[buffer, zero_region.as_raw_fd()], &ints),
        ),
        ("metadata region too small", RawHandle::new(&[buffer, short_region.as_raw_fd()], &ints)),
        ("fds swapped", RawHandle::new(&[meta, buffer], &ints)),
        ("truncatable buffer", RawHandle::new(&[truncatable_buffer.as_raw_fd(), meta], &ints)),
        ("truncatable region", RawHandle::new(&[buffer, truncatable_region.as_raw_fd()], &ints)),
    ];
    for (what, raw) in &cases {
        assert_eq!(m.import(raw.ptr()), Err(MapperError::BadBuffer), "{what}");
    }
    // Forged headers: counts bounded before anything after the header is read.
    let mut words = good.words.clone();
    for (what, index, value) in [
        ("version 11", 0usize, 11),
        ("negative numFds", 1, -1),
        ("negative numInts", 2, -5),
        ("absurd numFds", 1, 1 << 30),
        ("absurd numInts", 2, i32::MAX),
    ] {
        let saved = words[index];
        words[index] = value;
        assert_eq!(m.import(words.as_ptr().cast()), Err(MapperError::BadBuffer), "{what}");
        words[index] = saved;
    }
    assert_eq!(m.import(std::ptr::null()), Err(MapperError::BadBuffer), "null handle");
    assert_eq!(m.free(std::ptr::null()), MapperError::BadBuffer);
    assert_eq!(m.free(good.ptr()), MapperError::BadBuffer, "free of a never-imported handle");
    assert_eq!(m.transport_size(good.ptr()), Err(MapperError::BadBuffer));
    assert_eq!(m.lock(good.ptr(), CPU_RW, whole(), -1), Err(MapperError::BadBuffer));
    // That refused imports leak no fd is checked in fd_leaks.rs, alone in its process (the
    // other tests of this binary open fds concurrently).
    // The good handle still imports after all that.
    let h = m.import(good.ptr()).unwrap();
    assert_eq!(m.free(h), MapperError::None);
    let _ = small.as_fd();
}

#[test]
fn concurrent_lock_and_free_never_crash() {
    let m = mapper();
    let alloc = daemon().allocate("racy", 64, 64, RGBA_8888, CPU_RW, 0);
    let raw = Arc::new(RawHandle::of(first(&alloc)).words);
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let shared = m.import(raw.as_ptr().cast()).unwrap() as usize;
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let raw = Arc::clone(&raw);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let m = mapper();
                barrier.wait();
                for _ in 0..200 {
                    let own = m.import(raw.as_ptr().cast()).expect("import");
                    let p = m.lock(own, CPU_RW, whole(), -1).expect("lock");
                    poke(p, 0, &[i as u8]);
                    m.unlock(own).expect("unlock");
                    assert_eq!(m.free(own), MapperError::None);
                }
                // Racing on one shared handle: one thread frees it, the others get
                // BAD_BUFFER or success, never a crash. No thread imports meanwhile, so the
                // freed handle's address cannot come back as another registered handle (a
                // client using a freed handle would otherwise reach that one).
                barrier.wait();
                let s = shared as *const gralloc_mapper::abi::NativeHandleHeader;
                for round in 0..200 {
                    if i == 0 && round == 100 {
                        assert_eq!(m.free(s), MapperError::None);
                    } else if let Ok(_p) = m.lock(s, CPU_READ, whole(), -1) {
                        let _ = m.unlock(s);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
}
