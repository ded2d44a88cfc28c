//! `gralloc bench --load N`: the latency of one small request, alone and while N clients loop
//! large allocations (reliability E2: SurfaceFlinger's 64x64 buffer behind slow CMA calls).
//!
//! The probe (the descriptor of the command line) runs on the main thread, `SCHED_FIFO` 2
//! when the process may (SurfaceFlinger's main thread runs there); the loaders are plain
//! threads, each with its own connection as separate client processes would have. The load's
//! throughput is counted over the loaded probe phase only, so a run against a service with
//! `--latency-isolation off` and one with it on compare the same thing.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hal_interface::aidl::{BufferDescriptorInfo, BufferUsage, IAllocator, PixelFormat};
use hal_interface::format::RawFormat;
use hal_interface::handle::BufferHandle;
use hal_interface::transport::{self, Endpoint};
use hal_interface::{wire, Format};
use heaps::sched::{self, Policy};
use rsbinder::Strong;

use super::bench::{Summary, ROUND};
use super::{write_out, BenchArgs, CliError};

/// Geometry of a load buffer: 1920x1080 RGBA_8888, 8 MiB.
const LOAD_WIDTH: i32 = 1920;
const LOAD_HEIGHT: i32 = 1080;

/// The probe's class: SurfaceFlinger's main thread's, the one the service's Binder threads
/// take too.
const PROBE_POLICY: Policy = crate::realtime::BINDER_POLICY;

/// Pause between probe calls: a compositor allocates now and then, not back to back, and a
/// real-time probe in a tight loop would take a CPU from the load it is measured against.
const PROBE_PAUSE: Duration = Duration::from_millis(1);

/// Shortest probe phase: long enough for the load to reach its steady state and for its
/// throughput to mean something.
const MIN_PHASE: Duration = Duration::from_secs(3);

/// Longest wait for every loader's first buffer.
const LOAD_START_TIMEOUT: Duration = Duration::from_secs(60);

/// What the loaders have done so far.
#[derive(Debug, Default)]
struct LoadCounters {
    served: AtomicU64,
    bytes: AtomicU64,
    refused: AtomicU64,
    /// Loaders that have had at least one answer.
    started: AtomicU64,
    stop: AtomicBool,
}

impl LoadCounters {
    fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.served.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

fn load_descriptor(args: &BenchArgs) -> BufferDescriptorInfo {
    BufferDescriptorInfo {
        name: wire::descriptor_name_array(b"bench-load"),
        width: LOAD_WIDTH,
        height: LOAD_HEIGHT,
        layerCount: 1,
        format: PixelFormat(Format::Rgba8888.raw()),
        usage: BufferUsage(args.load_usage.to_wire()),
        reservedSize: 0,
        additionalOptions: Vec::new(),
    }
}

/// One loader: allocate, drop, repeat until told to stop. A refusal is counted, not fatal
/// (the service must never refuse for busy; the count shows whether it did).
fn run_loader(
    allocator: &Strong<dyn IAllocator>,
    info: &BufferDescriptorInfo,
    load: &LoadCounters,
) {
    let mut first = true;
    while !load.stop.load(Ordering::Relaxed) {
        match allocator.allocate2(info, 1) {
            Ok(result) => {
                let bytes: u64 = result
                    .buffers
                    .iter()
                    .filter_map(|native| BufferHandle::decode(native).ok())
                    .map(|handle| handle.alloc_size)
                    .sum();
                load.served.fetch_add(1, Ordering::Relaxed);
                load.bytes.fetch_add(bytes, Ordering::Relaxed);
            }
            Err(status) => {
                log::debug!("load allocate2: {status}");
                load.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
        if first {
            load.started.fetch_add(1, Ordering::Relaxed);
            first = false;
        }
    }
}

/// Times probe calls after a warm-up round: at least `iterations` of them and for at least
/// [`MIN_PHASE`], [`PROBE_PAUSE`] apart (the pause is not timed). Returns the calls' times
/// and the phase's length.
fn probe_phase(
    iterations: u32,
    probe: &dyn Fn() -> Result<(), CliError>,
) -> Result<(Summary, Duration), CliError> {
    for _ in 0..ROUND.min(iterations) {
        std::thread::sleep(PROBE_PAUSE);
        probe()?;
    }
    let start = Instant::now();
    let mut calls = Vec::new();
    while calls.len() < usize::try_from(iterations).unwrap_or(usize::MAX)
        || start.elapsed() < MIN_PHASE
    {
        std::thread::sleep(PROBE_PAUSE);
        let call = Instant::now();
        probe()?;
        calls.push(call.elapsed());
    }
    Ok((Summary::from_calls(calls), start.elapsed()))
}

pub(super) fn bench_under_load(
    endpoint: &Endpoint,
    args: &BenchArgs,
    clients: u32,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let allocator = transport::connect(endpoint)?;
    let info = args.descriptor.descriptor();
    let probe = || {
        allocator
            .allocate2(&info, 1)
            .map(drop)
            .map_err(|status| CliError::from_status("allocate2", status))
    };
    let probe_class = match sched::set_current_thread(PROBE_POLICY) {
        Ok(()) => PROBE_POLICY.to_string(),
        Err(errno) => format!("SCHED_OTHER ({PROBE_POLICY} refused: {errno})"),
    };
    let (alone, _) = probe_phase(args.iterations, &probe)?;

    let load_info = load_descriptor(args);
    let load = LoadCounters::default();
    let proxies =
        (0..clients).map(|_| transport::connect(endpoint)).collect::<Result<Vec<_>, _>>()?;
    let measured = std::thread::scope(|scope| {
        for proxy in &proxies {
            let (load_info, load) = (&load_info, &load);
            scope.spawn(move || run_loader(proxy, load_info, load));
        }
        let result = wait_for_loaders(&load, clients).and_then(|()| {
            // The load by itself first: the probe's own calls take CPU from it, and a probe
            // served faster makes more calls, so only this figure compares services fairly.
            let quiet = (load.snapshot(), Instant::now());
            std::thread::sleep(MIN_PHASE);
            let quiet = (quiet.0, load.snapshot(), quiet.1.elapsed());
            let before = load.snapshot();
            let (loaded, elapsed) = probe_phase(args.iterations, &probe)?;
            Ok((quiet, loaded, elapsed, before, load.snapshot()))
        });
        load.stop.store(true, Ordering::Relaxed);
        result
    });
    let (quiet, loaded, elapsed, before, after) = measured?;
    let alone_load = Throughput::between(quiet.0, quiet.1, quiet.2);
    let probed_load = Throughput::between(before, after, elapsed);

    let refused = after.2;
    let ratio = loaded.quantile(990).as_secs_f64() / alone.quantile(990).as_secs_f64().max(1e-9);
    let report = format!(
        "bench under load: probe {} {}x{} usage {}, at least {} calls and {} s per phase, \
         probe thread {probe_class}\n\
         probe alone: {}\n\
         probe under load: {}\n\
         load: {clients} clients x {LOAD_WIDTH}x{LOAD_HEIGHT} RGBA_8888 usage {}, {refused} refused: \
         alone {alone_load}; while probed {probed_load}\n\
         p99 under load / alone: ratio {ratio:.2}\n",
        RawFormat(info.format.0),
        info.width,
        info.height,
        args.descriptor.usage,
        args.iterations,
        MIN_PHASE.as_secs(),
        alone.line(),
        loaded.line(),
        args.load_usage,
    );
    write_out(out, &report)?;
    Ok(ExitCode::SUCCESS)
}

/// The load's rate between two [`LoadCounters::snapshot`]s `elapsed` apart.
#[derive(Debug)]
struct Throughput {
    served: u64,
    bytes: u64,
    elapsed: Duration,
}

impl Throughput {
    fn between(before: (u64, u64, u64), after: (u64, u64, u64), elapsed: Duration) -> Self {
        Self {
            served: after.0.saturating_sub(before.0),
            bytes: after.1.saturating_sub(before.1),
            elapsed,
        }
    }
}

impl std::fmt::Display for Throughput {
    #[allow(clippy::cast_precision_loss)] // a rate for people to read
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "{} allocations, {:.1} MiB/s ({:.1} allocs/s) over {:.2} s",
            self.served,
            self.bytes as f64 / (1024.0 * 1024.0) / seconds,
            self.served as f64 / seconds,
            seconds
        )
    }
}

/// Waits until every loader has had an answer, so the probe meets the full load.
fn wait_for_loaders(load: &LoadCounters, clients: u32) -> Result<(), CliError> {
    let start = Instant::now();
    while load.started.load(Ordering::Relaxed) < u64::from(clients) {
        if start.elapsed() > LOAD_START_TIMEOUT {
            return Err(CliError::BadReply(format!(
                "the {clients} load clients had no answer within {LOAD_START_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
