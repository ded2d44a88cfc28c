//! Per-heap and per-outcome counters (and, in the snapshot, each reserve pool's), updated with relaxed atomics (no lock, nothing held
//! across a heap call) and printed by `dump` and at exit.
//!
//! Counts are cumulative since start-up. The service cannot see when a client closes a
//! buffer, so `buffers` and `bytes` count allocations, not live memory.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use hal_interface::aidl::AllocationError;

use crate::pool::PoolStats;

/// Counters of one heap.
#[derive(Debug, Default)]
struct HeapCounters {
    buffers: AtomicU64,
    bytes: AtomicU64,
    failures: AtomicU64,
    fallbacks: AtomicU64,
}

/// Counters of every outcome of an allocate call.
#[derive(Debug, Default)]
struct CallCounters {
    ok: AtomicU64,
    bad_descriptor: AtomicU64,
    unsupported: AtomicU64,
    no_resources: AtomicU64,
}

/// The live counters, one set per board heap (indexed like `UsageMap::heaps`).
#[derive(Debug)]
pub struct Stats {
    names: Vec<String>,
    heaps: Vec<HeapCounters>,
    calls: CallCounters,
    /// Shared metadata regions made (one per buffer) and their bytes.
    regions: AtomicU64,
    region_bytes: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Stats {
    /// Counters for heaps named `names`, in board order.
    pub fn new(names: Vec<String>) -> Self {
        let heaps = names.iter().map(|_| HeapCounters::default()).collect();
        Self {
            names,
            heaps,
            calls: CallCounters::default(),
            regions: AtomicU64::new(0),
            region_bytes: AtomicU64::new(0),
        }
    }

    /// A buffer's shared metadata region of `bytes` was made.
    pub fn record_region(&self, bytes: u64) {
        bump(&self.regions, 1);
        bump(&self.region_bytes, bytes);
    }

    /// Heap `index` served a buffer of `bytes`; `after_fallback` when an earlier heap of the
    /// rule was exhausted first.
    pub fn record_buffer(&self, index: usize, bytes: u64, after_fallback: bool) {
        if let Some(c) = self.heaps.get(index) {
            bump(&c.buffers, 1);
            bump(&c.bytes, bytes);
            if after_fallback {
                bump(&c.fallbacks, 1);
            }
        }
    }

    /// Heap `index` failed an allocation.
    pub fn record_failure(&self, index: usize) {
        if let Some(c) = self.heaps.get(index) {
            bump(&c.failures, 1);
        }
    }

    /// One allocate call ended with `outcome` (`Ok` or its wire code).
    pub fn record_call(&self, outcome: Result<(), AllocationError>) {
        let counter = match outcome {
            Ok(()) => &self.calls.ok,
            Err(AllocationError::BAD_DESCRIPTOR) => &self.calls.bad_descriptor,
            Err(AllocationError::NO_RESOURCES) => &self.calls.no_resources,
            // UNSUPPORTED, and any code a future AIDL adds.
            Err(_) => &self.calls.unsupported,
        };
        bump(counter, 1);
    }

    /// A consistent-enough copy for printing (each counter is read once).
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            heaps: self
                .names
                .iter()
                .zip(&self.heaps)
                .map(|(name, c)| HeapStats {
                    name: name.clone(),
                    buffers: load(&c.buffers),
                    bytes: load(&c.bytes),
                    failures: load(&c.failures),
                    fallbacks: load(&c.fallbacks),
                })
                .collect(),
            calls: CallStats {
                ok: load(&self.calls.ok),
                bad_descriptor: load(&self.calls.bad_descriptor),
                unsupported: load(&self.calls.unsupported),
                no_resources: load(&self.calls.no_resources),
            },
            regions: load(&self.regions),
            region_bytes: load(&self.region_bytes),
            pools: Vec::new(),
        }
    }
}

/// Counters of one heap at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Board heap name.
    pub name: String,
    /// Buffers allocated.
    pub buffers: u64,
    /// Bytes allocated (page-rounded sizes).
    pub bytes: u64,
    /// Failed allocation attempts (any errno, exhaustion included).
    pub failures: u64,
    /// Buffers this heap served because an earlier heap of the rule was exhausted.
    pub fallbacks: u64,
}

/// Outcomes of allocate calls (`allocate` and `allocate2`) at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls that succeeded.
    pub ok: u64,
    /// Calls refused with BAD_DESCRIPTOR.
    pub bad_descriptor: u64,
    /// Calls refused with UNSUPPORTED.
    pub unsupported: u64,
    /// Calls failed with NO_RESOURCES.
    pub no_resources: u64,
}

/// Everything [`Stats`] counted, at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Per heap, in board order.
    pub heaps: Vec<HeapStats>,
    /// Per outcome.
    pub calls: CallStats,
    /// Shared metadata regions made (one per buffer).
    pub regions: u64,
    /// Bytes of those regions (not counted in the heaps' bytes).
    pub region_bytes: u64,
    /// Reserve pools, in board order (filled in by the allocator; empty without pools).
    pub pools: Vec<PoolStats>,
}

impl StatsSnapshot {
    /// The counters of heap `name`.
    pub fn heap(&self, name: &str) -> Option<&HeapStats> {
        self.heaps.iter().find(|h| h.name == name)
    }
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.calls;
        writeln!(
            f,
            "calls: {} ok, {} BAD_DESCRIPTOR, {} UNSUPPORTED, {} NO_RESOURCES",
            c.ok, c.bad_descriptor, c.unsupported, c.no_resources
        )?;
        writeln!(f, "metadata regions: {}, {} bytes", self.regions, self.region_bytes)?;
        for h in &self.heaps {
            writeln!(
                f,
                "heap {}: {} buffers, {} bytes, {} failures, {} fallbacks",
                h.name, h.buffers, h.bytes, h.failures, h.fallbacks
            )?;
        }
        for pool in &self.pools {
            writeln!(f, "{pool}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_accumulate_per_heap_and_outcome() {
        let stats = Stats::new(vec!["cma".into(), "system".into()]);
        stats.record_failure(0);
        stats.record_buffer(1, 4096, true);
        stats.record_buffer(1, 8192, false);
        stats.record_call(Ok(()));
        stats.record_call(Err(AllocationError::NO_RESOURCES));
        stats.record_buffer(7, 1, false); // unknown index: ignored
        stats.record_region(8192);
        let snap = stats.snapshot();
        assert_eq!((snap.regions, snap.region_bytes), (1, 8192));
        assert_eq!(
            snap.heap("system"),
            Some(&HeapStats {
                name: "system".into(),
                buffers: 2,
                bytes: 12288,
                failures: 0,
                fallbacks: 1
            })
        );
        assert_eq!(snap.heap("cma").map(|h| h.failures), Some(1));
        assert_eq!(snap.calls, CallStats { ok: 1, no_resources: 1, ..CallStats::default() });
        let text = snap.to_string();
        assert!(text.contains("heap system: 2 buffers, 12288 bytes, 0 failures, 1 fallbacks"));
    }
}
