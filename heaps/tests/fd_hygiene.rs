//! Every fd a back end creates is closed on every path: counts `/proc/self/fd` around
//! success and error paths. One test function, so nothing else in this process opens or
//! closes fds meanwhile (libtest runs each integration-test file as its own process).

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

use std::num::NonZeroU64;
use std::os::fd::OwnedFd;

use heaps::dmabuf::count_open_fds;
use heaps::{probe_at, DmaHeap, Errno, Heap, HeapError, IonDevice, MemfdHeap};
use nix::sys::resource::{getrlimit, setrlimit, Resource};

fn len(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap()
}

fn fds() -> usize {
    count_open_fds(None).unwrap()
}

fn highest_fd() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
        .max()
        .unwrap()
}

#[test]
fn no_back_end_leaks_an_fd_on_success_or_error() {
    let root = tempfile::tempdir().unwrap();
    let dev = root.path().join("dev");
    std::fs::create_dir_all(dev.join("dma_heap")).unwrap();
    std::fs::write(dev.join("dma_heap/fake"), b"").unwrap();
    std::fs::write(dev.join("ion"), b"").unwrap();
    std::fs::write(dev.join("udmabuf"), b"").unwrap();
    let baseline = fds();

    // memfd: many successes, all closed by dropping the Vec.
    let memfd = MemfdHeap::plain("hygiene").unwrap();
    let bufs: Vec<OwnedFd> = (0..32).map(|_| memfd.allocate(len(4096)).unwrap()).collect();
    assert_eq!(fds(), baseline + 32);
    drop(bufs);
    assert_eq!(fds(), baseline, "memfd buffers");

    // memfd: overflowing length.
    assert!(matches!(memfd.allocate(len(u64::MAX)), Err(HeapError::TooLarge { .. })));
    assert!(matches!(memfd.allocate(len(1 << 63)), Err(HeapError::TooLarge { .. })));
    assert_eq!(fds(), baseline, "memfd too-large paths");

    // memfd heap whose udmabuf node does not work: device and trial memfd closed.
    let fallback = MemfdHeap::with_udmabuf_path("hygiene-fallback", &dev.join("udmabuf")).unwrap();
    assert!(!fallback.uses_udmabuf());
    assert_eq!(fds(), baseline, "udmabuf trial");
    drop(fallback);

    // dma-heap: one device fd for the heap's lifetime, none per failed call.
    let heap = DmaHeap::open_in(&dev.join("dma_heap"), "fake").unwrap();
    assert_eq!(fds(), baseline + 1);
    for _ in 0..4 {
        assert_eq!(heap.allocate(len(4096)).unwrap_err().errno(), Some(Errno::ENOTTY));
    }
    assert_eq!(fds(), baseline + 1, "dma-heap failed allocations");
    drop(heap);
    assert!(DmaHeap::open_in(&dev.join("dma_heap"), "missing").unwrap_err().is_not_present());
    assert_eq!(fds(), baseline, "dma-heap open paths");

    // ION device on a node that is not ION; heap query fails.
    let ion = IonDevice::open_path(&dev.join("ion")).unwrap();
    assert!(ion.heaps().is_err());
    drop(ion);
    assert_eq!(fds(), baseline, "ion device");

    // Probe opens and closes everything.
    let report = probe_at(root.path());
    assert!(report.ion.is_available());
    assert_eq!(fds(), baseline, "probe");

    // Out of fds: EMFILE is transient, nothing half-made stays open, and it recovers. The
    // limit caps fd numbers, and inherited fds (e.g. a jobserver pipe) leave holes below it.
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let limit = highest_fd() + 3;
    setrlimit(Resource::RLIMIT_NOFILE, limit, hard).unwrap();
    let mut held = Vec::new();
    let err = loop {
        match memfd.allocate(len(4096)) {
            Ok(fd) => held.push(fd),
            Err(err) => break err,
        }
        assert!(held.len() < usize::try_from(limit).unwrap(), "the fd limit never bit");
    };
    drop(held);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    assert_eq!(err.errno(), Some(Errno::EMFILE), "{err:?}");
    assert!(err.is_transient() && !err.is_exhausted());
    assert_eq!(fds(), baseline, "after EMFILE");
    assert!(memfd.allocate(len(4096)).is_ok());
    assert_eq!(fds(), baseline);
}
