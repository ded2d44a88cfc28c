//! The process's fd count is flat after 10⁴ import/free cycles (with a lock/unlock in every
//! hundredth), alone in its own test binary so no other test opens fds meanwhile.

mod common;

use common::*;
use gralloc_mapper::abi::ARect;
use gralloc_mapper::MapperError;

const CYCLES: usize = 10_000;

#[test]
fn fd_count_is_flat_after_ten_thousand_import_free_cycles() {
    let lib = Library::load();
    let m = Mapper(lib.mapper);
    let daemon = Daemon::start();
    let alloc = daemon.allocate("leak-check", 64, 64, 1, CPU_RW, 4096);
    let raw = RawHandle::of(first(&alloc));
    // One cycle first, so lazily opened descriptors (none expected) are counted before.
    let warm = m.import(raw.ptr()).unwrap();
    assert_eq!(m.free(warm), MapperError::None);
    let before = open_fds();
    for i in 0..CYCLES {
        let h = m.import(raw.ptr()).expect("import");
        if i % 100 == 0 {
            m.lock(h, CPU_RW, ARect::default(), -1).expect("lock");
            m.unlock(h).expect("unlock");
            m.reserved_region(h).expect("reserved region");
        }
        assert_eq!(m.free(h), MapperError::None);
    }
    let after = open_fds();
    assert_eq!(after, before, "fds before {before}, after {CYCLES} cycles {after}");
    // Refused imports leak nothing either.
    let mut forged = raw.words.clone();
    forged[3 + 2] ^= 1; // the magic word
    for _ in 0..1000 {
        assert_eq!(m.import(forged.as_ptr().cast()), Err(MapperError::BadBuffer));
    }
    assert_eq!(open_fds(), before);
}
