//! `gralloc bench`: what a client pays for `allocate2` through the service, against the same
//! allocation made directly from the same kind of heap, measured in one run.
//!
//! Both sides allocate one buffer of the descriptor's size and close it; rounds of the two
//! alternate so drift on a shared machine hits both alike. With `--gap-ms` each call is
//! followed by a pause and the close happens outside the timing: the time a client waits
//! for a buffer when its requests are spaced out (a camera's frame interval), which is what
//! a reserve pool shortens, since its refill runs in the pauses. Run it against a service
//! whose board has the pool and against one whose board has not for the pooled/unpooled
//! ratio (the VM's `camera-pool` step does). The report gives per-call
//! figures and their ratio; nothing is asserted (machines are noisy).

use std::fmt;
use std::io::Write;
use std::num::NonZeroU64;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use hal_interface::format::RawFormat;
use hal_interface::transport::{self, Endpoint};
use heaps::{DmaHeap, Heap, IonDevice, IonHeap, MemfdHeap};

use super::{write_out, BenchArgs, CliError};

/// Calls per round; the two sides alternate round by round.
pub(super) const ROUND: u32 = 25;

/// The baseline the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// Chosen from the first reply's exporter: `/dev/dma_heap/<exp_name>`, udmabuf, memfd.
    Auto,
    /// This heap.
    Fixed(Source),
}

/// Where the baseline allocations come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `/dev/dma_heap/<name>`.
    DmaHeap(String),
    /// The ION heap called `name` (4.12+ ABI, uncached).
    Ion(String),
    /// A sealed memfd, no udmabuf.
    Memfd,
    /// A memfd turned into a dma-buf through `/dev/udmabuf`.
    Udmabuf,
}

impl FromStr for Baseline {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let source = match text.split_once(':') {
            None if text == "auto" => return Ok(Baseline::Auto),
            None if text == "memfd" => Source::Memfd,
            None if text == "udmabuf" => Source::Udmabuf,
            Some(("dma-heap", name)) if !name.is_empty() => Source::DmaHeap(name.to_owned()),
            Some(("ion", name)) if !name.is_empty() => Source::Ion(name.to_owned()),
            _ => {
                return Err(format!(
                    "baseline {text:?}: expected auto, memfd, udmabuf, dma-heap:NAME or ion:NAME"
                ))
            }
        };
        Ok(Baseline::Fixed(source))
    }
}

impl fmt::Display for Baseline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Baseline::Auto => f.write_str("auto"),
            Baseline::Fixed(source) => source.fmt(f),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::DmaHeap(name) => write!(f, "dma-heap:{name}"),
            Source::Ion(name) => write!(f, "ion:{name}"),
            Source::Memfd => f.write_str("memfd"),
            Source::Udmabuf => f.write_str("udmabuf"),
        }
    }
}

impl Baseline {
    /// The heap to compare with, for a buffer the service returned by `exporter` (fdinfo
    /// `exp_name`, or `memfd`, as [`super::alloc`] reports it).
    fn resolve(&self, exporter: &str) -> Result<Source, CliError> {
        if let Baseline::Fixed(source) = self {
            return Ok(source.clone());
        }
        match exporter {
            "memfd" => Ok(Source::Memfd),
            "udmabuf" => Ok(Source::Udmabuf),
            name if Path::new("/dev/dma_heap").join(name).exists() => {
                Ok(Source::DmaHeap(name.to_owned()))
            }
            other => Err(CliError::BadReply(format!(
                "cannot tell which heap to compare with (buffer exported by {other:?}): \
                 pass --baseline dma-heap:NAME, ion:NAME, udmabuf or memfd"
            ))),
        }
    }
}

impl Source {
    fn open(&self) -> Result<Box<dyn Heap>, CliError> {
        fn boxed(heap: impl Heap + 'static) -> Box<dyn Heap> {
            Box::new(heap)
        }
        let heap = match self {
            Source::DmaHeap(name) => DmaHeap::open(name).map(boxed),
            Source::Ion(name) => {
                IonDevice::open().and_then(|device| IonHeap::by_name(&device, name, 0)).map(boxed)
            }
            Source::Memfd => MemfdHeap::plain("bench").map(boxed),
            Source::Udmabuf => MemfdHeap::new("bench").map(boxed),
        };
        heap.map_err(|source| CliError::Heap {
            what: format!("opening the baseline heap {self}"),
            source,
        })
    }
}

/// Per-call times of one side, and the wall time of its rounds.
#[derive(Debug, Default)]
struct Samples {
    calls: Vec<Duration>,
    /// Sum of whole rounds, timed around each round: the mean stays exact where the clock
    /// is coarser than one call (a jiffies clocksource in an emulated guest).
    total: Duration,
}

impl Samples {
    /// Runs `round` calls of `call`, timing each and the round. Without a gap the buffer
    /// is closed inside the timing; with one it is closed after the timing, and the gap is
    /// slept before the next call (neither counted), so a pool has time to refill.
    fn round<T>(
        &mut self,
        round: u32,
        gap: Option<Duration>,
        call: impl Fn() -> Result<T, CliError>,
    ) -> Result<(), CliError> {
        let Some(gap) = gap else {
            let round_start = Instant::now();
            for _ in 0..round {
                let start = Instant::now();
                drop(call()?);
                self.calls.push(start.elapsed());
            }
            self.total += round_start.elapsed();
            return Ok(());
        };
        for _ in 0..round {
            let start = Instant::now();
            let buffer = call()?;
            let elapsed = start.elapsed();
            self.calls.push(elapsed);
            self.total += elapsed;
            drop(buffer);
            std::thread::sleep(gap);
        }
        Ok(())
    }

    fn sorted(mut self) -> Summary {
        self.calls.sort_unstable();
        let count = u32::try_from(self.calls.len()).unwrap_or(u32::MAX).max(1);
        Summary { mean: self.total / count, sorted: self.calls }
    }
}

/// Sorted per-call times and the mean.
#[derive(Debug)]
pub(super) struct Summary {
    sorted: Vec<Duration>,
    mean: Duration,
}

impl Summary {
    /// The summary of per-call times; the mean is their average.
    pub(super) fn from_calls(mut calls: Vec<Duration>) -> Summary {
        calls.sort_unstable();
        let count = u32::try_from(calls.len()).unwrap_or(u32::MAX).max(1);
        let total: Duration = calls.iter().sum();
        Summary { mean: total / count, sorted: calls }
    }

    /// The sample at `permille` of the way from the fastest to the slowest (nearest rank
    /// below).
    pub(super) fn quantile(&self, permille: usize) -> Duration {
        let last = self.sorted.len().saturating_sub(1);
        let index = last.saturating_mul(permille.min(1000)) / 1000;
        self.sorted.get(index).copied().unwrap_or_default()
    }

    fn median(&self) -> Duration {
        self.quantile(500)
    }

    pub(super) fn line(&self) -> String {
        format!(
            "mean {:.1} us, median {:.1} us, p90 {:.1} us, p99 {:.1} us, min {:.1} us",
            micros(self.mean),
            micros(self.median()),
            micros(self.quantile(900)),
            micros(self.quantile(990)),
            micros(self.quantile(0)),
        )
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub(super) fn bench(
    endpoint: &Endpoint,
    args: &BenchArgs,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    if let Some(clients) = args.load {
        return super::load::bench_under_load(endpoint, args, clients, out);
    }
    let allocator = transport::connect(endpoint)?;
    let info = args.descriptor.descriptor();
    let allocate = || {
        allocator.allocate2(&info, 1).map_err(|status| CliError::from_status("allocate2", status))
    };

    // One call up front: the size to allocate on the baseline side, and its exporter.
    let first = allocate()?;
    let native = first
        .buffers
        .first()
        .ok_or_else(|| CliError::BadReply("allocate2(count 1) returned no buffer".to_owned()))?;
    let received = super::alloc::inspect(0, native)?;
    let baseline = args.baseline.resolve(&received.exporter)?;
    let heap = baseline.open()?;
    let len = NonZeroU64::new(received.handle.alloc_size)
        .ok_or_else(|| CliError::BadReply("the handle says 0 bytes".to_owned()))?;
    drop(first);

    let heap_call = || {
        heap.allocate(len).map_err(|source| CliError::Heap {
            what: format!("baseline allocation from {baseline}"),
            source,
        })
    };
    let gap = args.gap_ms.map(|ms| Duration::from_millis(u64::from(ms)));
    // Warm both paths (binder threads, page cache, heap pools) before measuring, with the
    // gap too, so a reserve pool is not drained by the warm-up.
    for _ in 0..ROUND.min(args.iterations) {
        allocate().map(drop)?;
        heap_call().map(drop)?;
        if let Some(gap) = gap {
            std::thread::sleep(gap);
        }
    }

    let mut service = Samples::default();
    let mut direct = Samples::default();
    let mut done = 0u32;
    while done < args.iterations {
        let round = ROUND.min(args.iterations - done);
        service.round(round, gap, allocate)?;
        direct.round(round, gap, heap_call)?;
        done += round;
    }
    let (service, direct) = (service.sorted(), direct.sorted());
    let ratio = |side: fn(&Summary) -> Duration| {
        side(&service).as_secs_f64() / side(&direct).as_secs_f64().max(1e-9)
    };
    let (median_ratio, mean_ratio) = (ratio(Summary::median), ratio(|s| s.mean));
    let overhead = micros(service.mean) - micros(direct.mean);
    let timing = match args.gap_ms {
        Some(ms) => format!(
            "; {ms} ms between calls, buffers closed outside the timing (a pool refills in the gap)"
        ),
        None => String::new(),
    };
    let report = format!(
        "bench: {} {}x{} layers {} usage {}, {} bytes per buffer, {} calls per side{timing}\n\
         service allocate2 ({endpoint}): {}\n\
         baseline {baseline} (direct, same size): {}\n\
         ratio service/baseline (median): {median_ratio:.2}, (mean): {mean_ratio:.2}, \
         overhead {overhead:.1} us per call (mean)\n",
        RawFormat(info.format.0),
        info.width,
        info.height,
        info.layerCount,
        args.descriptor.usage,
        len,
        args.iterations,
        service.line(),
        direct.line(),
    );
    write_out(out, &report)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_parse_and_print() {
        for text in ["auto", "memfd", "udmabuf", "dma-heap:system", "ion:ion_system_heap"] {
            assert_eq!(text.parse::<Baseline>().unwrap().to_string(), text);
        }
        for bad in ["", "dma-heap:", "ion:", "system", "tcp:1"] {
            assert!(bad.parse::<Baseline>().is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_follows_the_exporter() {
        assert_eq!(Baseline::Auto.resolve("memfd").unwrap(), Source::Memfd);
        assert_eq!(Baseline::Auto.resolve("udmabuf").unwrap(), Source::Udmabuf);
        // A dma-buf whose kernel prints no exporter name.
        let unknown = "dmabuf";
        assert!(Baseline::Auto.resolve(unknown).is_err());
        let system = Source::DmaHeap("system".to_owned());
        let explicit = Baseline::Fixed(system.clone());
        assert_eq!(explicit.resolve(unknown).unwrap(), system);
    }

    #[test]
    fn quantiles_pick_from_sorted_samples() {
        let calls = (1..=100).rev().map(Duration::from_micros).collect();
        let samples = Samples { calls, total: Duration::from_micros(5050) }.sorted();
        let mut gapped = Samples::default();
        gapped.round(3, Some(Duration::from_millis(1)), || Ok(())).unwrap();
        assert_eq!(gapped.calls.len(), 3);
        assert!(gapped.total < Duration::from_millis(3), "gaps are not timed");
        assert_eq!(samples.mean, Duration::from_nanos(50_500));
        assert_eq!(samples.quantile(0), Duration::from_micros(1));
        assert_eq!(samples.median(), Duration::from_micros(50));
        assert_eq!(samples.quantile(990), Duration::from_micros(99));
        assert_eq!(samples.quantile(1000), Duration::from_micros(100));
        let empty = Samples::default().sorted();
        assert_eq!((empty.median(), empty.mean), (Duration::ZERO, Duration::ZERO));
    }
}
