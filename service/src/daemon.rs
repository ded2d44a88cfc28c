//! The `gralloc-allocator` daemon: options, start-up, serving and shutdown.
//!
//! Start-up order: block the shutdown signals (before any thread exists, so every thread
//! inherits the mask and only the main thread's `sigwait` sees them), load the board file
//! (an invalid one is fatal: the daemon never serves a guessed table), probe the kernel heaps
//! and open the board's heaps (both log what they find), fill the board's reserve pools,
//! serve, then print one readiness line to stderr:
//! `gralloc-allocator: serving <endpoint> (board <name>)`.
//!
//! Signals: SIGTERM and SIGINT stop the server and print the per-heap statistics, exit 0;
//! SIGUSR1 logs the statistics and keeps serving.
//!
//! Exit codes: 0 clean shutdown, 1 start-up failure (logged with its location), 64 bad
//! command-line arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use hal_interface::transport::{self, Endpoint, TransportError};
use nix::sys::signal::{SigSet, Signal};
use thiserror::Error;
use usage_map::{ConfigError, UsageMap};

use crate::allocator::Allocator;
use crate::dump::{self, DumpListener};
use crate::error::Chain;
use crate::logging;
use crate::pool::Pools;
use crate::startup::{self, StartupError};

/// Default Binder thread-pool ceiling. minigbm, Pixel and the HIDL passthrough use 4, which
/// four slow CMA callers fill; here the pool can outgrow every contiguous heap's admission
/// permits several times over (kernel binder spawns threads on demand, `BR_SPAWN_LOOPER`,
/// up to this ceiling; the unix-socket transport serves each connection on its own thread),
/// so a small request always finds a free thread. Idle threads cost a stack each.
pub const DEFAULT_THREADS: u16 = 15;

/// Android system property naming the board file (a path). Init reads it, not the daemon:
/// the `.rc` passes `--board ${ro.vendor.gralloc.board:-/vendor/etc/gralloc/board.toml}`,
/// which init expands at start, so the daemon's domain needs no property access or exec.
pub const BOARD_PROPERTY: &str = "ro.vendor.gralloc.board";

/// Board file used on Android when `--board` is absent (the same default the `.rc` gives).
pub const ANDROID_DEFAULT_BOARD: &str = "/vendor/etc/gralloc/board.toml";

/// `gralloc-allocator`: the Android graphics allocator service (IAllocator V2).
#[derive(Debug, Parser)]
#[command(name = "gralloc-allocator", version, about, max_term_width = 100)]
pub struct DaemonArgs {
    /// Board file (usage-map TOML). Required off Android; on Android the init .rc passes
    /// the system property ro.vendor.gralloc.board here, and the default is
    /// /vendor/etc/gralloc/board.toml.
    #[arg(long, value_name = "FILE")]
    pub board: Option<PathBuf>,

    /// Serve on a unix socket at PATH (binder over a socket, with fd passing).
    /// [default: kernel binder when /dev/binderfs/binder or /dev/binder exists, else
    /// /tmp/gralloc-allocator.sock]
    #[arg(long, value_name = "PATH", conflicts_with = "binder")]
    pub socket: Option<PathBuf>,

    /// Serve on kernel binder, registering with the service manager; DEVICE defaults to
    /// /dev/binderfs/binder, else /dev/binder.
    #[arg(long, value_name = "DEVICE", num_args = 0..=1, require_equals = false)]
    pub binder: Option<Option<PathBuf>>,

    /// Binder thread-pool size.
    #[arg(long, default_value_t = DEFAULT_THREADS, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: u16,

    /// Latency isolation: admission gates on contiguous heaps and SCHED_FIFO Binder threads.
    /// `off` serves as before both existed (for before/after measurements).
    #[arg(long, value_enum, default_value_t = LatencyIsolation::On)]
    pub latency_isolation: LatencyIsolation,

    /// Log level: off, error, warn, info, debug or trace [default: $GRALLOC_LOG, else info].
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

/// Why the daemon could not start or keep serving.
#[derive(Debug, Error)]
pub enum DaemonError {
    /// No `--board` off Android.
    #[error("no board file: pass --board FILE (e.g. usage-map/boards/host.toml)")]
    NoBoard,
    /// The board file does not load; the daemon never serves a guessed table.
    #[error("invalid board file")]
    Board(#[source] ConfigError),
    /// Opening the board's heaps failed.
    #[error("cannot open the board's heaps")]
    Startup(#[source] StartupError),
    /// The socket path cannot be made absolute.
    #[error("socket path {path}")]
    SocketPath {
        /// The path given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] TransportError),
    /// The dump socket could not be bound.
    #[error("cannot bind the dump socket {path}")]
    DumpSocket {
        /// Its path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Blocking or waiting for signals failed.
    #[error("signal handling")]
    Signals(#[source] nix::errno::Errno),
}

/// The endpoint `args` ask for (a relative socket path is made absolute).
///
/// # Errors
/// [`DaemonError::SocketPath`] when the current directory cannot be read.
pub fn endpoint_of(args: &DaemonArgs) -> Result<Endpoint, DaemonError> {
    if let Some(path) = &args.socket {
        let absolute = std::path::absolute(path)
            .map_err(|source| DaemonError::SocketPath { path: path.clone(), source })?;
        return Ok(Endpoint::Unix(absolute));
    }
    if let Some(device) = &args.binder {
        return Ok(Endpoint::Binder(device.clone()));
    }
    Ok(transport::default_endpoint())
}

/// The board file to load.
///
/// # Errors
/// [`DaemonError::NoBoard`] off Android without `--board`.
fn board_path(args: &DaemonArgs) -> Result<PathBuf, DaemonError> {
    match &args.board {
        Some(path) => Ok(path.clone()),
        None if cfg!(target_os = "android") => Ok(PathBuf::from(ANDROID_DEFAULT_BOARD)),
        None => Err(DaemonError::NoBoard),
    }
}

/// Parses the command line and runs the daemon; the body of `gralloc-allocator`'s `main`.
pub fn main() -> ExitCode {
    let args = match DaemonArgs::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let _printed = err.print();
            return ExitCode::from(if err.use_stderr() { 64 } else { 0 });
        }
    };
    let level = match logging::choose_level(args.log_level.as_deref()) {
        Ok(level) => level,
        Err(err) => {
            eprintln!("gralloc-allocator: {err}");
            return ExitCode::from(64);
        }
    };
    logging::init(level);
    logging::install_panic_hook();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if log::log_enabled!(log::Level::Error) {
                log::error!("{}", Chain(&err));
            } else {
                eprintln!("gralloc-allocator: {}", Chain(&err));
            }
            ExitCode::FAILURE
        }
    }
}

/// Starts the service and serves until SIGTERM or SIGINT.
///
/// # Errors
/// Any [`DaemonError`] of start-up; serving itself only ends on a signal.
pub fn run(args: &DaemonArgs) -> Result<(), DaemonError> {
    let signals = block_shutdown_signals()?;
    let board = board_path(args)?;
    let map = UsageMap::load(&board).map_err(DaemonError::Board)?;
    startup::refuse_unbuilt_backends(&map, &board).map_err(DaemonError::Startup)?;
    let board_name = map.board_name().to_owned();
    log::info!(
        "board {board_name:?} from {}: {} heaps, {} rules, mapper suffix {:?}",
        board.display(),
        map.heaps().len(),
        map.rules().len(),
        map.mapper_suffix()
    );
    // `heaps::probe` and `open_heaps` log each device and heap themselves (info).
    let probe = heaps::probe();
    let (table, report) = startup::open_heaps(&map, &probe).map_err(DaemonError::Startup)?;
    let opened: Vec<&str> = report.opened().collect();
    log::info!("heaps opened: {} of {} [{}]", opened.len(), report.heaps.len(), opened.join(", "));
    let table = match args.latency_isolation {
        LatencyIsolation::On => {
            log::info!(
                "latency isolation on: contiguous heaps admit {} calls at a time, binder threads {}",
                crate::admission::CONTIGUOUS_PERMITS,
                crate::realtime::BINDER_POLICY
            );
            table
        }
        LatencyIsolation::Off => {
            crate::realtime::disable();
            log::info!("latency isolation off: heaps admit any number of calls, binder threads SCHED_OTHER");
            table.without_gates()
        }
    };
    // Pools fill from their heaps before the service answers its first request.
    let (pools, problems) = Pools::start(&map, &table);
    for problem in &problems {
        log::warn!("{problem}; requests of its class take the normal path");
    }
    let allocator = Arc::new(Allocator::new(map, table).with_pools(pools));
    let endpoint = endpoint_of(args)?;
    let server =
        crate::binder::serve(&endpoint, Arc::clone(&allocator), usize::from(args.threads))?;
    let dump_listener = match &endpoint {
        Endpoint::Unix(path) => {
            let path = dump::dump_socket_path(path);
            let render: dump::Render = {
                let allocator = Arc::clone(&allocator);
                let board_name = board_name.clone();
                Arc::new(move || format!("board {board_name}\n{}\n", allocator.stats()))
            };
            let listener = DumpListener::bind(&path, render)
                .map_err(|source| DaemonError::DumpSocket { path, source })?;
            log::info!("dump socket {}", listener.path().display());
            Some(listener)
        }
        Endpoint::Binder(_) => None,
    };
    eprintln!("gralloc-allocator: serving {endpoint} (board {board_name})");
    let signal = loop {
        match signals.wait().map_err(DaemonError::Signals)? {
            Signal::SIGUSR1 => {
                for line in allocator.stats().to_string().lines() {
                    log::info!("stats: {line}");
                }
            }
            other => break other,
        }
    };
    log::info!("{signal}: shutting down");
    drop(dump_listener);
    server.stop();
    let stats = allocator.stats().to_string();
    eprintln!("gralloc-allocator: stopped on {signal}; per-heap statistics:\n{stats}");
    if cfg!(target_os = "android") {
        for line in stats.lines() {
            log::info!("stats: {line}");
        }
    }
    Ok(())
}

/// Blocks SIGTERM, SIGINT and SIGUSR1 in the calling thread (and so in every thread it
/// spawns later) and returns the set to `wait` on.
fn block_shutdown_signals() -> Result<SigSet, DaemonError> {
    let mut set = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGUSR1] {
        set.add(signal);
    }
    set.thread_block().map_err(DaemonError::Signals)?;
    Ok(set)
}

/// `--latency-isolation`: admission gates on contiguous heaps and `SCHED_FIFO` Binder threads
/// ([`crate::admission`], [`crate::realtime`]), or neither, as before both existed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LatencyIsolation {
    /// Gates and real-time Binder threads (the default).
    On,
    /// Neither: for before/after measurements.
    Off,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_select_the_endpoint() {
        let parse = |argv: &[&str]| DaemonArgs::try_parse_from(argv).unwrap();
        let args = parse(&["gralloc-allocator", "--socket", "rel.sock"]);
        match endpoint_of(&args).unwrap() {
            Endpoint::Unix(path) => {
                assert!(path.is_absolute());
                assert!(path.ends_with("rel.sock"));
            }
            other => panic!("unexpected {other}"),
        }
        let args = parse(&["gralloc-allocator", "--binder"]);
        assert_eq!(endpoint_of(&args).unwrap(), Endpoint::Binder(None));
        let args = parse(&["gralloc-allocator", "--binder", "/dev/binderfs/x"]);
        assert_eq!(endpoint_of(&args).unwrap(), Endpoint::Binder(Some("/dev/binderfs/x".into())));
        assert_eq!(parse(&["gralloc-allocator"]).threads, DEFAULT_THREADS);
        assert_eq!(parse(&["gralloc-allocator"]).latency_isolation, LatencyIsolation::On);
        assert!(
            DaemonArgs::try_parse_from(["gralloc-allocator", "--latency-isolation", "x"]).is_err()
        );
        assert!(DaemonArgs::try_parse_from(["gralloc-allocator", "--threads", "0"]).is_err());
        assert!(
            DaemonArgs::try_parse_from(["gralloc-allocator", "--socket", "a", "--binder"]).is_err()
        );
    }

    #[test]
    fn a_board_is_required_off_android() {
        let args = DaemonArgs::try_parse_from(["gralloc-allocator"]).unwrap();
        if cfg!(target_os = "android") {
            assert_eq!(board_path(&args).unwrap(), PathBuf::from(ANDROID_DEFAULT_BOARD));
        } else {
            assert!(matches!(board_path(&args), Err(DaemonError::NoBoard)));
        }
    }
}
