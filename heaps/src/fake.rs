//! [`FakeHeap`]: memfd-backed heap with scripted failures and a request log, for tests of
//! the service and fault-injection boards. Built with `cfg(test)` or the `fake` feature.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::num::NonZeroU64;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::errno::Errno;

use crate::dmabuf::Mapping;
use crate::heap::{Heap, HeapCaps, HeapError};
use crate::memfd::{memfd_name, sealed_memfd};
use crate::retry::{page_round, page_size, retry_eintr};

/// What a [`FakeHeap`] does on each call. Calls are numbered from 1.
///
/// Precedence on a call: a [`fail_call`](Self::fail_call) entry, then
/// [`fail_after`](Self::fail_after), then pending [`eintr`](Self::eintr) attempts (each
/// consumes one raw attempt of the heap's bounded EINTR retry), then success.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FakeScript {
    fail_calls: BTreeMap<u64, Errno>,
    fail_after: Option<(u64, Errno)>,
    eintr: u32,
    delay: Duration,
    hold: Duration,
}

impl FakeScript {
    /// Every call succeeds at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// Call number `call` (1-based) fails with `errno`.
    #[must_use]
    pub fn fail_call(mut self, call: u64, errno: Errno) -> Self {
        self.fail_calls.insert(call, errno);
        self
    }

    /// After `successes` successful allocations, every call fails with `errno`.
    #[must_use]
    pub fn fail_after(mut self, successes: u64, errno: Errno) -> Self {
        self.fail_after = Some((successes, errno));
        self
    }

    /// Every call fails with `errno`.
    #[must_use]
    pub fn fail_always(self, errno: Errno) -> Self {
        self.fail_after(0, errno)
    }

    /// The next `times` raw attempts are interrupted (EINTR); the heap retries up to
    /// [`crate::EINTR_RETRY_LIMIT`] times per call, so more than that fails one call.
    #[must_use]
    pub fn eintr(mut self, times: u32) -> Self {
        self.eintr = times;
        self
    }

    /// Every call sleeps this long before answering (without holding any lock).
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Slow mode, a stand-in for a CMA heap: every call holds the heap for this long, one
    /// call at a time (the kernel serialises contiguous allocations under `cma_mutex`), so
    /// concurrent callers queue inside the heap. Applies after [`delay`](Self::delay).
    #[must_use]
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }
}

/// A request that broke the allocation contract (recorded, still served).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FakeViolation {
    /// 1-based call number.
    pub call: u64,
    /// Requested length in bytes.
    pub len: u64,
    /// What was wrong.
    pub kind: ViolationKind,
}

/// Kinds of [`FakeViolation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// `len` is not a multiple of the page size (the service should page-round).
    NotPageMultiple,
    /// `len` exceeds the cap set with [`FakeHeap::with_max_len`].
    OverMax {
        /// The cap in bytes.
        max: u64,
    },
}

#[derive(Debug, Default)]
struct FakeState {
    script: FakeScript,
    calls: u64,
    attempts: u64,
    successes: u64,
    requests: Vec<u64>,
    violations: Vec<FakeViolation>,
    in_flight: u32,
    max_in_flight: u32,
}

/// A heap of sealed memfds (page-rounded, zeroed, `O_CLOEXEC`) that follows a
/// [`FakeScript`] and logs every request. Thread-safe; delays do not block other callers.
#[derive(Debug)]
pub struct FakeHeap {
    name: String,
    memfd_name: CString,
    caps: HeapCaps,
    max_len: Option<u64>,
    garbage: Option<u8>,
    state: Mutex<FakeState>,
    /// Taken for the whole of a [`FakeScript::hold`] call; never together with `state`.
    held: Mutex<()>,
}

impl FakeHeap {
    /// A fake heap that always succeeds, with caps `zeroed` only.
    ///
    /// # Errors
    ///
    /// [`HeapError::InvalidName`] for an empty name or one containing NUL.
    pub fn new(name: &str) -> Result<Self, HeapError> {
        Ok(Self {
            name: name.to_owned(),
            memfd_name: memfd_name("fake:", name)?,
            caps: HeapCaps { zeroed: true, ..HeapCaps::default() },
            max_len: None,
            garbage: None,
            state: Mutex::new(FakeState::default()),
            held: Mutex::new(()),
        })
    }

    /// Replaces the capabilities.
    #[must_use]
    pub fn with_caps(mut self, caps: HeapCaps) -> Self {
        self.caps = caps;
        self
    }

    /// Fills every buffer with `byte` before returning it, as a heap that does not zero its
    /// memory would hand out a previous owner's data; clears the `zeroed` cap.
    #[must_use]
    pub fn with_garbage(mut self, byte: u8) -> Self {
        self.garbage = Some(byte);
        self.caps.zeroed = false;
        self
    }

    /// Replaces the script (builder form).
    #[must_use]
    pub fn with_script(self, script: FakeScript) -> Self {
        self.set_script(script);
        self
    }

    /// Records a [`ViolationKind::OverMax`] for requests above `max` bytes.
    #[must_use]
    pub fn with_max_len(mut self, max: u64) -> Self {
        self.max_len = Some(max);
        self
    }

    /// Replaces the script while the heap is in use; call numbering continues.
    pub fn set_script(&self, script: FakeScript) {
        self.lock().script = script;
    }

    /// Number of `allocate` calls so far.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    /// Number of raw attempts (calls plus EINTR retries).
    pub fn attempts(&self) -> u64 {
        self.lock().attempts
    }

    /// Number of successful allocations.
    pub fn successes(&self) -> u64 {
        self.lock().successes
    }

    /// Requested lengths in bytes, one per call, in call order (failed calls included).
    pub fn requests(&self) -> Vec<u64> {
        self.lock().requests.clone()
    }

    /// Most calls that were inside [`Heap::allocate`] at the same time so far.
    pub fn max_in_flight(&self) -> u32 {
        self.lock().max_in_flight
    }

    /// Calls inside [`Heap::allocate`] right now.
    pub fn in_flight(&self) -> u32 {
        self.lock().in_flight
    }

    /// Requests that broke the contract.
    pub fn violations(&self) -> Vec<FakeViolation> {
        self.lock().violations.clone()
    }

    /// Test assertion: no request broke the contract.
    ///
    /// # Panics
    ///
    /// When any violation was recorded; the message lists them.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "fake heap {}: contract violations: {violations:?}",
            self.name
        );
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs the call and decides its scripted failure, if any.
    fn begin_call(&self, len: u64) -> (u64, Option<Errno>, Duration, Duration) {
        let mut state = self.lock();
        state.calls = state.calls.saturating_add(1);
        let call = state.calls;
        state.requests.push(len);
        state.in_flight = state.in_flight.saturating_add(1);
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        if len.checked_rem(page_size()) != Some(0) {
            state.violations.push(FakeViolation {
                call,
                len,
                kind: ViolationKind::NotPageMultiple,
            });
        }
        if let Some(max) = self.max_len.filter(|&max| len > max) {
            state.violations.push(FakeViolation {
                call,
                len,
                kind: ViolationKind::OverMax { max },
            });
        }
        let scripted = state.script.fail_calls.get(&call).copied().or_else(|| {
            state
                .script
                .fail_after
                .and_then(|(after, errno)| (state.successes >= after).then_some(errno))
        });
        if scripted.is_some() {
            state.attempts = state.attempts.saturating_add(1);
        }
        (call, scripted, state.script.delay, state.script.hold)
    }

    fn end_call(&self) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
    }

    /// One raw attempt: consumes a pending EINTR if there is one.
    fn attempt(&self, size: u64) -> nix::Result<OwnedFd> {
        {
            let mut state = self.lock();
            state.attempts = state.attempts.saturating_add(1);
            if state.script.eintr > 0 {
                state.script.eintr -= 1;
                return Err(Errno::EINTR);
            }
        }
        sealed_memfd(&self.memfd_name, size)
    }
}

impl Heap for FakeHeap {
    fn name(&self) -> &str {
        &self.name
    }

    fn caps(&self) -> HeapCaps {
        self.caps
    }

    fn allocate(&self, len: NonZeroU64) -> Result<OwnedFd, HeapError> {
        let (call, scripted, delay, hold) = self.begin_call(len.get());
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if !hold.is_zero() {
            let _held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            std::thread::sleep(hold);
        }
        let result = self.finish_call(call, scripted, len);
        self.end_call();
        result
    }
}

impl FakeHeap {
    fn finish_call(
        &self,
        call: u64,
        scripted: Option<Errno>,
        len: NonZeroU64,
    ) -> Result<OwnedFd, HeapError> {
        if let Some(errno) = scripted {
            log::debug!("fake heap {}: call {call} fails with {errno} (scripted)", self.name);
            return Err(HeapError::alloc(&self.name, len.get(), errno));
        }
        let size = page_round(len.get())
            .ok_or_else(|| HeapError::TooLarge { heap: self.name.clone(), len: len.get() })?;
        let fd = retry_eintr(|| self.attempt(size)).map_err(|errno| match errno {
            Errno::EFBIG => HeapError::TooLarge { heap: self.name.clone(), len: len.get() },
            errno => HeapError::alloc(&self.name, len.get(), errno),
        })?;
        if let Some(byte) = self.garbage {
            let dirty = usize::try_from(size)
                .map_err(|_| Errno::EFBIG)
                .and_then(|len| Mapping::new(fd.as_fd(), len, true).map(|map| (map, len)))
                .and_then(|(map, len)| map.fill(0, len, byte).map_err(|_| Errno::EFAULT));
            dirty.map_err(|errno| HeapError::alloc(&self.name, len.get(), errno))?;
        }
        let mut state = self.lock();
        state.successes = state.successes.saturating_add(1);
        Ok(fd)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::dmabuf::{self, FdInfo};
    use crate::test_util::fds_named;
    use crate::EINTR_RETRY_LIMIT;

    fn len(n: u64) -> NonZeroU64 {
        NonZeroU64::new(n).unwrap()
    }

    #[test]
    fn default_fake_serves_sealed_page_rounded_cloexec_memfds() {
        let heap = FakeHeap::new("fake-basic").unwrap();
        let fd = heap.allocate(len(page_size() + 1)).unwrap();
        assert_eq!(dmabuf::size_of(fd.as_fd()).unwrap(), 2 * page_size());
        assert!(FdInfo::read(fd.as_fd()).unwrap().is_cloexec());
        let seals = nix::fcntl::fcntl(fd.as_fd(), nix::fcntl::FcntlArg::F_GET_SEALS).unwrap();
        assert_eq!(nix::fcntl::SealFlag::from_bits_truncate(seals), crate::memfd::MEMFD_SEALS);
        assert_eq!(
            (heap.calls(), heap.successes(), heap.requests()),
            (1, 1, vec![page_size() + 1])
        );
        assert_eq!(heap.caps(), HeapCaps { zeroed: true, ..HeapCaps::default() });
    }

    #[test]
    fn kth_call_fails_with_the_scripted_errno_and_later_calls_succeed() {
        let heap = FakeHeap::new("fake-kth")
            .unwrap()
            .with_script(FakeScript::new().fail_call(2, Errno::ENOMEM));
        assert!(heap.allocate(len(4096)).is_ok());
        let err = heap.allocate(len(8192)).unwrap_err();
        assert_eq!(err, HeapError::alloc("fake-kth", 8192, Errno::ENOMEM));
        assert!(err.is_exhausted());
        assert!(heap.allocate(len(4096)).is_ok());
        assert_eq!(heap.requests(), [4096, 8192, 4096]);
        assert_eq!((heap.calls(), heap.successes()), (3, 2));
    }

    #[test]
    fn fail_after_n_successes_fails_every_later_call() {
        let heap = FakeHeap::new("fake-after")
            .unwrap()
            .with_script(FakeScript::new().fail_after(2, Errno::EBUSY));
        let results: Vec<_> =
            (0..5).map(|_| heap.allocate(len(4096)).map(drop).map_err(|e| e.errno())).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
        assert!(results[2..].iter().all(|r| *r == Err(Some(Errno::EBUSY))));
    }

    #[test]
    fn fail_always_never_creates_an_fd() {
        let heap = FakeHeap::new("fake-always")
            .unwrap()
            .with_script(FakeScript::new().fail_always(Errno::EMFILE));
        let err = heap.allocate(len(4096)).unwrap_err();
        assert!(err.is_transient() && !err.is_exhausted());
        assert!(fds_named("fake:fake-always").is_empty());
    }

    #[test]
    fn eintr_within_the_retry_budget_is_absorbed() {
        let heap = FakeHeap::new("fake-eintr")
            .unwrap()
            .with_script(FakeScript::new().eintr(EINTR_RETRY_LIMIT));
        assert!(heap.allocate(len(4096)).is_ok());
        assert_eq!((heap.calls(), heap.attempts()), (1, u64::from(EINTR_RETRY_LIMIT) + 1));
    }

    #[test]
    fn eintr_beyond_the_retry_budget_fails_one_call_only() {
        let heap = FakeHeap::new("fake-eintr-long")
            .unwrap()
            .with_script(FakeScript::new().eintr(EINTR_RETRY_LIMIT + 2));
        let err = heap.allocate(len(4096)).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EINTR));
        assert!(err.is_transient());
        assert!(heap.allocate(len(4096)).is_ok());
    }

    #[test]
    fn contract_violations_are_recorded_not_refused() {
        let heap = FakeHeap::new("fake-contract").unwrap().with_max_len(1 << 20);
        heap.allocate(len(100)).unwrap();
        heap.allocate(len(2 << 20)).unwrap();
        heap.allocate(len(4096)).unwrap();
        assert_eq!(
            heap.violations(),
            [
                FakeViolation { call: 1, len: 100, kind: ViolationKind::NotPageMultiple },
                FakeViolation {
                    call: 2,
                    len: 2 << 20,
                    kind: ViolationKind::OverMax { max: 1 << 20 }
                },
            ]
        );
    }

    #[test]
    #[should_panic(expected = "contract violations")]
    fn assert_no_violations_panics_on_a_violation() {
        let heap = FakeHeap::new("fake-assert").unwrap();
        heap.allocate(len(1)).unwrap();
        heap.assert_no_violations();
    }

    #[test]
    fn set_script_changes_behaviour_mid_run() {
        let heap = FakeHeap::new("fake-switch")
            .unwrap()
            .with_script(FakeScript::new().fail_always(Errno::ENOMEM));
        assert!(heap.allocate(len(4096)).is_err());
        heap.set_script(FakeScript::new());
        assert!(heap.allocate(len(4096)).is_ok());
    }

    #[test]
    fn a_delayed_call_does_not_block_other_threads() {
        let heap = Arc::new(FakeHeap::new("fake-delay").unwrap());
        heap.set_script(FakeScript::new().delay(Duration::from_millis(400)));
        let slow = {
            let heap = Arc::clone(&heap);
            std::thread::spawn(move || heap.allocate(len(4096)).map(drop))
        };
        std::thread::sleep(Duration::from_millis(50));
        heap.set_script(FakeScript::new());
        let start = Instant::now();
        heap.allocate(len(4096)).unwrap();
        assert!(start.elapsed() < Duration::from_millis(300), "{:?}", start.elapsed());
        slow.join().unwrap().unwrap();
    }

    #[test]
    fn held_calls_run_one_at_a_time_and_are_counted_in_flight() {
        let hold = Duration::from_millis(150);
        let heap = Arc::new(FakeHeap::new("fake-hold").unwrap());
        heap.set_script(FakeScript::new().hold(hold));
        let start = Instant::now();
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let heap = Arc::clone(&heap);
                std::thread::spawn(move || heap.allocate(len(4096)).map(drop))
            })
            .collect();
        for caller in callers {
            caller.join().unwrap().unwrap();
        }
        assert!(start.elapsed() >= hold * 3, "{:?}", start.elapsed());
        assert_eq!((heap.successes(), heap.in_flight()), (3, 0));
        assert!(heap.max_in_flight() >= 2, "{}", heap.max_in_flight());
    }

    #[test]
    fn fake_buffers_are_zeroed_even_after_earlier_ones_were_dirtied() {
        let heap = FakeHeap::new("fake-zero").unwrap();
        for _ in 0..4 {
            let fd = heap.allocate(len(8192)).unwrap();
            let map = dmabuf::Mapping::new(fd.as_fd(), 8192, true).unwrap();
            assert!(map.all_equal(0, 8192, 0).unwrap());
            map.fill(0, 8192, 0xAA).unwrap();
        }
    }

    #[test]
    fn a_garbage_heap_hands_out_dirty_memory_and_says_it_does_not_zero() {
        let heap = FakeHeap::new("fake-garbage").unwrap().with_garbage(0xAA);
        let fd = heap.allocate(len(8192)).unwrap();
        let map = dmabuf::Mapping::new(fd.as_fd(), 8192, false).unwrap();
        assert!(map.all_equal(0, 8192, 0xAA).unwrap());
        assert!(!heap.caps().zeroed);
    }

    #[test]
    fn overflowing_length_is_too_large_without_an_fd() {
        let heap = FakeHeap::new("fake-huge").unwrap();
        assert!(matches!(heap.allocate(len(u64::MAX)).unwrap_err(), HeapError::TooLarge { .. }));
        assert!(fds_named("fake:fake-huge").is_empty());
    }
}
