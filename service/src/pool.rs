//! Reserve pools (`[[pools]]` of the board): `count` dma-bufs of one size kept ready on one
//! heap, handed out when a request would be served by that heap with that size.
//!
//! - **Filled from the pool's heap only**, at start-up ([`Pools::start`] fills them before the
//!   service answers) and afterwards by one background thread (`gralloc-pool`), never by a
//!   Binder thread, [`REFILL_DELAY`] after the hand-out that woke it (the reply leaves
//!   first). A failed refill is logged and retried with backoff (100 ms doubling to 10 s);
//!   requests meanwhile take the normal path.
//! - **Handed out once**: [`Pools::take`] moves the fd out of the pool into the reply; the
//!   service keeps nothing of it. The hot path is one short mutex (a `Vec::pop`, no ioctl
//!   under it) and a channel send to wake the refill thread.
//! - **Never a previous owner's data**: every pooled buffer is fresh from its heap. A heap
//!   whose caps do not promise zeroed memory has the buffer zeroed through a mapping before
//!   it enters the pool, never after hand-out (protected memory cannot be mapped and is not
//!   CPU-visible, so it is pooled as the heap gives it).
//! - **Bounded**: a pool never holds more than its `count` (ready plus the one in refill), so
//!   it pins at most `count × size` of its heap and never starves other rules of more.
//! - **Exhaustion falls through**: an empty pool is a miss; the caller allocates as if there
//!   were no pool (with the rule's fallback).
//!
//! Waiting buffers are named `pool:<name>` (fdinfo), so tools can tell the service's pool
//! baseline from a leak; a handed-out buffer gets its request's name like any other.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hal_interface::{Format, Usage};
use heaps::dmabuf::{self, Mapping};
use heaps::Heap;
use usage_map::{Alignment, HeapDecl, HeapId, Plan, PoolClass, UsageMap};

use crate::heap_table::HeapTable;
use crate::layout::Layout;
use crate::request::Image;

/// First retry delay after a failed refill.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// How long the refill thread waits after a wake-up before it allocates: the hand-out's
/// reply (region, parcel, binder) leaves first instead of sharing the CPU with a CMA
/// allocation and its page clearing.
pub const REFILL_DELAY: Duration = Duration::from_millis(20);

/// Prefix of the dma-buf name of a buffer waiting in a pool (`pool:<name>`).
pub const POOL_LABEL_PREFIX: &str = "pool:";

/// A pool the service could not set up (its heap is absent or its class does not lay out).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolSetupError {
    /// The pool's heap did not open on this device.
    #[error("pool {pool:?}: heap {heap:?} is absent")]
    HeapAbsent {
        /// Pool name.
        pool: String,
        /// Heap name.
        heap: String,
    },
    /// The image class has no layout (the service would refuse that request).
    #[error("pool {pool:?}: class has no layout: {reason}")]
    NoLayout {
        /// Pool name.
        pool: String,
        /// Why.
        reason: String,
    },
}

/// Bytes per buffer of a pool's class: the size written, or the page-rounded total size
/// the service's layout gives the image class under its rule.
///
/// # Errors
/// The layout's refusal as text.
pub fn class_size(map: &UsageMap, class: PoolClass) -> Result<NonZeroU64, String> {
    match class {
        PoolClass::Size { bytes } => NonZeroU64::new(bytes).ok_or_else(|| "size 0".to_owned()),
        PoolClass::Image { format, width, height, usage, rule } => {
            let align = map.rules().get(rule).map(usage_map::Rule::alignment).unwrap_or_default();
            image_size(format, usage, (width, height), &align)
        }
    }
}

/// The page-rounded total size the service's layout gives a single-layer `width`×`height`
/// image of `format` and `usage` under `align` (what a pool of that class holds).
///
/// # Errors
/// The layout's refusal as text.
pub fn image_size(
    format: Format,
    usage: Usage,
    (width, height): (u32, u32),
    align: &Alignment,
) -> Result<NonZeroU64, String> {
    let width = NonZeroU32::new(width).ok_or_else(|| "width 0".to_owned())?;
    let height = NonZeroU32::new(height).ok_or_else(|| "height 0".to_owned())?;
    let image =
        Image::new(format, usage, width, height, NonZeroU32::MIN, 0).map_err(|e| e.to_string())?;
    let layout = Layout::compute(&image, align).map_err(|e| e.to_string())?;
    Ok(layout.total_size())
}

/// The board pool that would serve a request `plan` serves with `len` bytes (its plan's
/// first heap and its size), with the pool's buffer size; for `board explain`.
pub fn pool_for<'m>(
    map: &'m UsageMap,
    plan: &Plan<'_>,
    len: NonZeroU64,
) -> Option<&'m usage_map::Pool> {
    let first = plan.heaps.first()?;
    map.pools()
        .iter()
        .find(|p| p.heap() == first.id && class_size(map, p.class()).ok() == Some(len))
}

/// One pool's counters at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Pool name.
    pub name: String,
    /// Board heap name.
    pub heap: String,
    /// Bytes per buffer.
    pub size: u64,
    /// Buffers the pool keeps (`count`).
    pub count: u32,
    /// Buffers ready now.
    pub ready: u32,
    /// Buffers being allocated by the refill thread now (0 or 1).
    pub in_refill: u32,
    /// Requests served from the pool.
    pub handouts: u64,
    /// Requests of the pool's heap and size that found it empty.
    pub misses: u64,
    /// Failed refill allocations.
    pub refill_failures: u64,
}

impl fmt::Display for PoolStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pool {}: heap {}, {} x {} bytes, {} ready, {} in refill, {} hand-outs, {} misses, {} refill failures",
            self.name,
            self.heap,
            self.count,
            self.size,
            self.ready,
            self.in_refill,
            self.handouts,
            self.misses,
            self.refill_failures
        )
    }
}

struct Pool {
    name: String,
    heap_id: HeapId,
    heap_name: String,
    heap: Arc<dyn Heap>,
    len: NonZeroU64,
    count: u32,
    low_water: u32,
    /// Zero through a mapping before pooling (the heap does not promise zeroed memory).
    zero: bool,
    ready: Mutex<Vec<OwnedFd>>,
    in_refill: AtomicBool,
    handouts: AtomicU64,
    misses: AtomicU64,
    refill_failures: AtomicU64,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name)
            .field("heap", &self.heap_name)
            .field("len", &self.len)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, Vec<OwnedFd>> {
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ready(&self) -> usize {
        self.lock().len()
    }

    fn count(&self) -> usize {
        usize::try_from(self.count).unwrap_or(usize::MAX)
    }

    fn wants_refill(&self) -> bool {
        self.ready() < usize::try_from(self.low_water).unwrap_or(usize::MAX)
    }

    /// One fresh buffer from the heap, zeroed if the heap does not promise it, named as
    /// waiting in this pool. Runs on the refill thread (or at start-up) only.
    fn make_buffer(&self) -> Result<OwnedFd, String> {
        let fd = self.heap.allocate(self.len).map_err(|e| crate::error::Chain(&e).to_string())?;
        if self.zero {
            let len = usize::try_from(self.len.get()).map_err(|e| e.to_string())?;
            let map = Mapping::new(fd.as_fd(), len, true).map_err(|e| format!("mmap: {e}"))?;
            map.fill(0, len, 0).map_err(|e| format!("zeroing: {e}"))?;
        }
        let label = format!("{POOL_LABEL_PREFIX}{}", self.name);
        dmabuf::set_name_best_effort(fd.as_fd(), dmabuf::truncate_name(&label));
        Ok(fd)
    }

    /// Tops the pool up to `count`; stops at the first failure and returns it.
    fn fill(&self) -> Result<(), String> {
        while self.ready() < self.count() {
            self.in_refill.store(true, Ordering::Relaxed);
            let made = self.make_buffer();
            let result = made.map(|fd| {
                let mut ready = self.lock();
                // Nobody else adds buffers, but the bound is the pool's promise: keep it here.
                if ready.len() < self.count() {
                    ready.push(fd);
                }
            });
            self.in_refill.store(false, Ordering::Relaxed);
            if let Err(err) = result {
                self.refill_failures.fetch_add(1, Ordering::Relaxed);
                return Err(err);
            }
        }
        Ok(())
    }

    fn stats(&self) -> PoolStats {
        let ready = u32::try_from(self.ready()).unwrap_or(u32::MAX);
        PoolStats {
            name: self.name.clone(),
            heap: self.heap_name.clone(),
            size: self.len.get(),
            count: self.count,
            ready,
            in_refill: u32::from(self.in_refill.load(Ordering::Relaxed)),
            handouts: self.handouts.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            refill_failures: self.refill_failures.load(Ordering::Relaxed),
        }
    }
}

/// The board's pools and their refill thread. Empty (and free) on boards without pools.
#[derive(Debug, Default)]
pub struct Pools {
    pools: Arc<Vec<Pool>>,
    wake: Option<Sender<()>>,
    worker: Option<JoinHandle<()>>,
}

impl Pools {
    /// No pools.
    pub fn none() -> Self {
        Self::default()
    }

    /// Sets up the board's pools on the heaps that opened, fills them (from each pool's heap
    /// only) and starts the refill thread. A pool whose heap is absent or whose class has no
    /// layout is left out and returned in the list of problems (logged by the caller).
    pub fn start(map: &UsageMap, heaps: &HeapTable) -> (Self, Vec<PoolSetupError>) {
        let mut pools = Vec::new();
        let mut problems = Vec::new();
        for decl in map.pools() {
            let heap_name = map.heap_by_id(decl.heap()).map(|h| h.name.clone()).unwrap_or_default();
            let Some(heap) = heaps.get(decl.heap()) else {
                problems.push(PoolSetupError::HeapAbsent {
                    pool: decl.name().to_owned(),
                    heap: heap_name,
                });
                continue;
            };
            let len = match class_size(map, decl.class()) {
                Ok(len) => len,
                Err(reason) => {
                    problems
                        .push(PoolSetupError::NoLayout { pool: decl.name().to_owned(), reason });
                    continue;
                }
            };
            let caps = heap.caps();
            pools.push(Pool {
                name: decl.name().to_owned(),
                heap_id: decl.heap(),
                heap_name,
                heap: Arc::clone(heap),
                len,
                count: decl.count(),
                low_water: decl.low_water(),
                zero: !caps.zeroed && !caps.protected,
                ready: Mutex::new(Vec::with_capacity(usize::try_from(decl.count()).unwrap_or(0))),
                in_refill: AtomicBool::new(false),
                handouts: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                refill_failures: AtomicU64::new(0),
            });
        }
        Self::from_pools(pools, problems)
    }

    fn from_pools(pools: Vec<Pool>, problems: Vec<PoolSetupError>) -> (Self, Vec<PoolSetupError>) {
        if pools.is_empty() {
            return (Self::none(), problems);
        }
        let mut failing = false;
        for pool in &pools {
            match pool.fill() {
                Ok(()) => log::info!(
                    "pool {}: {} x {} bytes ready on heap {}",
                    pool.name,
                    pool.count,
                    pool.len,
                    pool.heap_name
                ),
                Err(err) => {
                    failing = true;
                    log::warn!(
                        "pool {}: filled {} of {} at start-up: {err}; retrying in the background",
                        pool.name,
                        pool.ready(),
                        pool.count
                    );
                }
            }
        }
        let pools = Arc::new(pools);
        let (sender, receiver) = mpsc::channel();
        let worker = std::thread::Builder::new().name("gralloc-pool".to_owned()).spawn({
            let pools = Arc::clone(&pools);
            move || refill_loop(&pools, &receiver, failing)
        });
        let worker = match worker {
            Ok(handle) => Some(handle),
            Err(err) => {
                log::error!("pools: cannot start the refill thread: {err}; pools will drain");
                None
            }
        };
        (Self { pools, wake: Some(sender), worker }, problems)
    }

    /// Whether the board has any pool in service.
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }

    /// A buffer for a request that `plan` would serve from its first present heap with
    /// `len` bytes, if a pool of that heap and size has one ready. Returns the fd (moved
    /// out: the pool keeps nothing of it) and the heap's declaration. `None` without a
    /// matching pool, and on a miss (counted), so the caller allocates normally.
    pub fn take<'p>(&self, plan: &Plan<'p>, len: NonZeroU64) -> Option<(OwnedFd, &'p HeapDecl)> {
        if self.pools.is_empty() {
            return None;
        }
        let first = plan.heaps.first()?;
        let pool = self.pools.iter().find(|p| p.heap_id == first.id && p.len == len)?;
        let (fd, left) = {
            let mut ready = pool.lock();
            (ready.pop(), ready.len())
        };
        let Some(fd) = fd else {
            pool.misses.fetch_add(1, Ordering::Relaxed);
            self.wake();
            return None;
        };
        pool.handouts.fetch_add(1, Ordering::Relaxed);
        if left < usize::try_from(pool.low_water).unwrap_or(usize::MAX) {
            self.wake();
        }
        Some((fd, first))
    }

    fn wake(&self) {
        if let Some(wake) = &self.wake {
            // A stopped refill thread cannot be woken; the pool then drains to misses.
            let _sent = wake.send(());
        }
    }

    /// Every pool's counters, in board order.
    pub fn stats(&self) -> Vec<PoolStats> {
        self.pools.iter().map(Pool::stats).collect()
    }
}

impl Drop for Pools {
    fn drop(&mut self) {
        // Closing the channel ends the refill loop; the pooled fds close with the pools.
        self.wake = None;
        if let Some(worker) = self.worker.take() {
            let _joined = worker.join();
        }
    }
}

/// Waits `delay` whatever wakes the channel meanwhile; `Disconnected` when the pools stop.
fn sleep_unless_stopped(
    wake: &mpsc::Receiver<()>,
    delay: Duration,
) -> Result<(), RecvTimeoutError> {
    let deadline = Instant::now() + delay;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        if let Err(RecvTimeoutError::Disconnected) = wake.recv_timeout(left) {
            return Err(RecvTimeoutError::Disconnected);
        }
    }
}

/// The refill thread: sleeps until a hand-out or a miss wakes it, waits [`REFILL_DELAY`],
/// then tops up every pool below its low-water mark. After a failure it waits out the backoff (wake-ups meanwhile
/// do not shorten it, so a storm of misses cannot hammer a failing heap) and retries every
/// pool that is not full. Ends when the sender is dropped.
fn refill_loop(pools: &[Pool], wake: &mpsc::Receiver<()>, mut failing: bool) {
    let mut backoff = BACKOFF_MIN;
    loop {
        if failing {
            if let Err(RecvTimeoutError::Disconnected) = sleep_unless_stopped(wake, backoff) {
                return;
            }
        } else {
            if wake.recv().is_err() {
                return;
            }
            if let Err(RecvTimeoutError::Disconnected) = sleep_unless_stopped(wake, REFILL_DELAY) {
                return;
            }
        }
        while wake.try_recv().is_ok() {}
        let errors: Vec<(&Pool, String)> = pools
            .iter()
            .filter(|p| if failing { p.ready() < p.count() } else { p.wants_refill() })
            .filter_map(|p| p.fill().err().map(|err| (p, err)))
            .collect();
        if errors.is_empty() {
            failing = false;
            backoff = BACKOFF_MIN;
            continue;
        }
        backoff = if failing { backoff.saturating_mul(2).min(BACKOFF_MAX) } else { BACKOFF_MIN };
        failing = true;
        for (pool, err) in errors {
            log::warn!(
                "pool {}: refill failed ({} of {} ready): {err}; next try in {} ms",
                pool.name,
                pool.ready(),
                pool.count,
                backoff.as_millis()
            );
        }
    }
}
