//! The context every case receives: the connection, the optional board file, the service
//! process when it is local, and the output.

use std::fmt;
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hal_interface::aidl::IAllocator;
use hal_interface::transport::{self, Endpoint, TransportError};
use hal_interface::wire::Chain;
use heaps::dmabuf;
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use rsbinder::Strong;
use thiserror::Error;
use usage_map::{ConfigError, UsageMap};

use crate::mapper_stablec::{self, MapperChoice, MapperState};
use crate::procfs::{self, Proc};
use crate::runner::{write_line, Stop};

/// How long the nothing-lost check waits for fds to come back (a server thread closing its end
/// of a finished connection, a reply's fds being released).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(3);
const SETTLE_POLL: Duration = Duration::from_millis(10);
/// `comm` of the daemon (`gralloc-allocator` cut to the kernel's 15 bytes).
const DAEMON_COMM: &str = "gralloc-allocat";

/// What the suite is told on the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the service listens.
    pub endpoint: Endpoint,
    /// The board file the service was started with, for routing and limit checks.
    pub board: Option<PathBuf>,
    /// The service pid; `None` asks for autodetection (peer credentials of the socket, or a
    /// single process named `gralloc-allocator` for kernel binder).
    pub service_pid: Option<u32>,
    /// An executable that understands the hidden child subcommand (see [`crate::child`]);
    /// `None` skips the second-process check.
    pub helper_exe: Option<PathBuf>,
    /// The mapper library for the `mapper_stablec.*` area (see [`crate::mapper_stablec`]).
    pub mapper: MapperChoice,
}

/// Why the suite could not start.
#[derive(Debug, Error)]
pub enum SetupError {
    /// No connection to the service.
    #[error("cannot reach the allocator")]
    Connect(#[from] TransportError),
    /// The board file does not load.
    #[error("cannot load the board file")]
    Board(#[from] ConfigError),
    /// The given pid names no readable process.
    #[error("service pid {pid}: /proc/{pid} is not readable")]
    Pid {
        /// The pid.
        pid: u32,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No usable mapper library (the allocator VTS set-up rule).
    #[error("mapper library: {0}")]
    Mapper(String),
}

/// A loaded board file.
#[derive(Debug)]
pub struct Board {
    /// Where it was read from.
    pub path: PathBuf,
    /// The table.
    pub map: UsageMap,
}

/// The service process, identified by pid and start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceProcess {
    /// Its pid.
    pub pid: u32,
    start_ticks: u64,
}

/// Fd counts taken before a case, compared after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ledger {
    client_fds: Option<usize>,
    service_fds: Option<usize>,
    service_dmabufs: Option<usize>,
}

impl fmt::Display for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: Option<usize>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
        write!(
            f,
            "client fds {}, service fds {}, service dma-bufs {}",
            show(self.client_fds),
            show(self.service_fds),
            show(self.service_dmabufs)
        )
    }
}

/// Everything a case may use.
pub struct Ctx {
    endpoint: Endpoint,
    allocator: Strong<dyn IAllocator>,
    board: Option<Board>,
    service: Option<ServiceProcess>,
    helper_exe: Option<PathBuf>,
    mapper: MapperState,
    out: Mutex<Box<dyn Write + Send>>,
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("endpoint", &self.endpoint)
            .field("board", &self.board.as_ref().map(|b| &b.path))
            .field("service", &self.service)
            .field("helper_exe", &self.helper_exe)
            .field("mapper", &self.mapper)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// Connects, loads the board file and finds the service process.
    ///
    /// # Errors
    /// [`SetupError`] when the service cannot be reached, the board does not load, a given
    /// pid is not readable, or no mapper library can be loaded (unless the choice is
    /// [`MapperChoice::Off`]).
    pub fn new(settings: Settings, out: Box<dyn Write + Send>) -> Result<Ctx, SetupError> {
        let allocator = transport::connect(&settings.endpoint)?;
        let mapper =
            mapper_stablec::set_up(&settings.mapper, &*allocator).map_err(SetupError::Mapper)?;
        let board = match settings.board {
            Some(path) => Some(Board { map: UsageMap::load(&path)?, path }),
            None => None,
        };
        let pid = match settings.service_pid {
            Some(pid) => Some(pid),
            None => detect_service_pid(&settings.endpoint),
        };
        let service = match pid {
            Some(pid) => {
                let start_ticks = procfs::start_ticks(Proc::Pid(pid))
                    .and_then(|ticks| dmabuf::count_open_fds(Some(pid)).map(|_| ticks))
                    .map_err(|source| SetupError::Pid { pid, source })?;
                Some(ServiceProcess { pid, start_ticks })
            }
            None => None,
        };
        Ok(Ctx {
            endpoint: settings.endpoint,
            allocator,
            board,
            service,
            helper_exe: settings.helper_exe,
            mapper,
            out: Mutex::new(out),
        })
    }

    /// The shared connection.
    pub fn allocator(&self) -> &dyn IAllocator {
        &*self.allocator
    }

    /// Another handle on the shared connection, for threads that must own one.
    pub fn shared_allocator(&self) -> Strong<dyn IAllocator> {
        self.allocator.clone()
    }

    /// A new, separate connection (a new RPC session; on kernel binder a new proxy).
    ///
    /// # Errors
    /// A failure when the service cannot be reached.
    pub fn connect(&self) -> Result<Strong<dyn IAllocator>, Stop> {
        transport::connect(&self.endpoint).map_err(|e| {
            Stop::failed(format!("new connection to {}: {}", self.endpoint, Chain(&e)))
        })
    }

    /// Where the service listens.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The board file, if one was given.
    pub fn board(&self) -> Option<&Board> {
        self.board.as_ref()
    }

    /// The board file, or a skip saying that the case needs one.
    ///
    /// # Errors
    /// [`Stop::Skipped`] without `--board`.
    pub fn require_board(&self) -> Result<&Board, Stop> {
        self.board.as_ref().ok_or_else(|| Stop::skipped("needs --board FILE (the service's board)"))
    }

    /// The service process, when it is local and known.
    pub fn service(&self) -> Option<ServiceProcess> {
        self.service
    }

    /// The executable for second-process checks.
    pub fn helper_exe(&self) -> Option<&Path> {
        self.helper_exe.as_deref()
    }

    /// The mapper the `mapper_stablec.*` area runs against.
    pub fn mapper_state(&self) -> &MapperState {
        &self.mapper
    }

    /// `unix:... (service pid N)` style description for the header line.
    pub fn service_description(&self) -> String {
        match self.service {
            Some(s) => format!("service pid {}", s.pid),
            None => "service pid unknown: service-side fd checks off".to_owned(),
        }
    }

    /// Prints an indented note under the current case.
    pub fn note(&self, text: impl fmt::Display) {
        // Output errors surface on the runner's next line; a note is best effort.
        let _ = self.line(&format!("    {text}"));
    }

    /// Writes one output line.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn line(&self, text: &str) -> io::Result<()> {
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        write_line(&mut **out, text)
    }

    /// Current fd counts of client and service. A buffer waiting in one of the service's
    /// reserve pools (dma-buf name `pool:<name>`) is its baseline, not a leak: it is left
    /// out of both service counts. The fd count is taken between two listings that agree on
    /// the pooled buffers, so a refill finishing meanwhile cannot skew the difference.
    pub fn ledger(&self) -> Ledger {
        let service = self.service.map(|s| s.pid);
        let (service_fds, service_dmabufs) = match service {
            Some(pid) => service_counts(pid),
            None => (None, None),
        };
        Ledger { client_fds: dmabuf::count_open_fds(None).ok(), service_fds, service_dmabufs }
    }

    /// Checks that the service is the same process and that neither side holds more fds or
    /// dma-bufs than in `before`, waiting up to [`SETTLE_TIMEOUT`] for them to come back.
    ///
    /// # Errors
    /// What was lost, with the counts before and after.
    pub fn check_nothing_lost(&self, before: &Ledger) -> Result<(), String> {
        self.check_service_alive()?;
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let now = self.ledger();
            let grew = |b: Option<usize>, n: Option<usize>| match (b, n) {
                (Some(b), Some(n)) => n > b,
                _ => false,
            };
            let lost = grew(before.client_fds, now.client_fds)
                || grew(before.service_fds, now.service_fds)
                || grew(before.service_dmabufs, now.service_dmabufs);
            if !lost {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("before: {before}; after: {now}"));
            }
            std::thread::sleep(SETTLE_POLL);
        }
    }

    /// Fails when the service process is gone or was replaced by another under the same pid.
    ///
    /// # Errors
    /// The reason.
    pub fn check_service_alive(&self) -> Result<(), String> {
        let Some(service) = self.service else { return Ok(()) };
        match procfs::start_ticks(Proc::Pid(service.pid)) {
            Ok(ticks) if ticks == service.start_ticks => Ok(()),
            Ok(_) => Err(format!("service pid {} was restarted", service.pid)),
            Err(e) => Err(format!("service pid {} is gone ({e})", service.pid)),
        }
    }
}

/// Prefix of the dma-buf name of a buffer waiting in the service's reserve pool.
const POOL_NAME_PREFIX: &str = "pool:";

fn is_pooled(buf: &dmabuf::DmaBufFd) -> bool {
    let named = buf.info.as_ref().and_then(|info| info.name.as_deref());
    named.is_some_and(|name| name.starts_with(POOL_NAME_PREFIX))
        || buf.link.starts_with(&format!("/dmabuf:{POOL_NAME_PREFIX}"))
}

/// The service's fd and dma-buf counts without its pooled buffers (see [`Ctx::ledger`]).
fn service_counts(pid: u32) -> (Option<usize>, Option<usize>) {
    let pooled_listing = || {
        dmabuf::list_dmabuf_fds(Some(pid)).ok().map(|bufs| {
            let pooled = bufs.iter().filter(|b| is_pooled(b)).count();
            (bufs.len(), pooled)
        })
    };
    for _ in 0..10 {
        let (Some((bufs, pooled)), fds, Some((_, again))) =
            (pooled_listing(), dmabuf::count_open_fds(Some(pid)).ok(), pooled_listing())
        else {
            return (None, None);
        };
        if pooled == again {
            return (fds.map(|n| n.saturating_sub(pooled)), Some(bufs.saturating_sub(pooled)));
        }
        std::thread::sleep(SETTLE_POLL);
    }
    (None, None)
}

/// The pid of the process listening on a Unix socket endpoint (its peer credentials), or of
/// the only `gralloc-allocator` process for kernel binder.
fn detect_service_pid(endpoint: &Endpoint) -> Option<u32> {
    match endpoint {
        Endpoint::Unix(path) => {
            let stream = UnixStream::connect(path).ok()?;
            let creds = getsockopt(&stream, PeerCredentials).ok()?;
            u32::try_from(creds.pid()).ok().filter(|&pid| pid != 0)
        }
        Endpoint::Binder(_) => match procfs::pids_named(DAEMON_COMM).as_slice() {
            [pid] => Some(*pid),
            _ => None,
        },
    }
}
