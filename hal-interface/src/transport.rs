//! Serving and reaching the allocator over kernel binder or a Unix-socket RPC endpoint.
//!
//! Both transports carry fds: kernel binder natively, the Unix socket through `SCM_RIGHTS`
//! once both ends opt in (this module always does). On the socket at most 64 fds fit one
//! message, so a reply carries at most 64 buffers of one fd each.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use rsbinder::entry::KernelEndpoint;
use rsbinder::rpc::FileDescriptorTransportMode;
use rsbinder::{Client, ProcessState, SIBinder, Status, StatusCode, Strong, Uri};
use thiserror::Error;

use crate::aidl::IAllocator;

/// The instance name clients look up.
pub const SERVICE_NAME: &str = "android.hardware.graphics.allocator.IAllocator/default";

/// The socket the daemon listens on and clients reach when no endpoint is given and there is
/// no kernel binder device.
pub const DEFAULT_SOCKET: &str = "/tmp/gralloc-allocator.sock";

/// Kernel binder devices; when one exists, the default endpoint is kernel binder.
pub const KERNEL_BINDER_DEVICES: [&str; 2] = ["/dev/binderfs/binder", "/dev/binder"];

/// Most fds one message carries on the Unix-socket transport (rsbinder `MAX_FDS_PER_FRAME`).
pub const MAX_RPC_FDS: usize = 64;

/// How long [`connect`] waits for the service on kernel binder.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Where the service listens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Unix-socket RPC at this absolute path (`unix:PATH`).
    Unix(PathBuf),
    /// Kernel binder through the service manager, on this device or the default one
    /// (`binder`, `binder:DEVICE`).
    Binder(Option<PathBuf>),
}

impl Endpoint {
    /// The rsbinder endpoint.
    fn to_rsbinder(&self) -> rsbinder::Endpoint {
        match self {
            Endpoint::Unix(path) => rsbinder::Endpoint::unix(path.clone()),
            Endpoint::Binder(device) => {
                rsbinder::Endpoint::Kernel(kernel_endpoint(device.as_ref(), None))
            }
        }
    }
}

fn kernel_endpoint(device: Option<&PathBuf>, threads: Option<u32>) -> KernelEndpoint {
    let mut endpoint = KernelEndpoint::default();
    if let Some(device) = device {
        endpoint = endpoint.with_driver(device.clone());
    }
    if let Some(threads) = threads {
        endpoint = endpoint.with_threads(threads);
    }
    endpoint
}

/// The endpoint the daemon and its clients use when none is given: kernel binder when a
/// binder device exists, else [`DEFAULT_SOCKET`].
pub fn default_endpoint() -> Endpoint {
    if KERNEL_BINDER_DEVICES.iter().any(|d| Path::new(d).exists()) {
        Endpoint::Binder(None)
    } else {
        Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET))
    }
}

/// Why an endpoint string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EndpointError {
    /// Neither `unix:PATH` nor `binder[:DEVICE]`.
    #[error("endpoint {0:?}: expected unix:PATH or binder[:DEVICE]")]
    UnknownScheme(String),
    /// The path is empty or relative.
    #[error("endpoint {0:?}: the path must be absolute")]
    RelativePath(String),
}

impl FromStr for Endpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, EndpointError> {
        let absolute = |path: &str| {
            let path = PathBuf::from(path);
            if path.is_absolute() {
                Ok(path)
            } else {
                Err(EndpointError::RelativePath(s.to_owned()))
            }
        };
        if s == "binder" {
            return Ok(Endpoint::Binder(None));
        }
        if let Some(device) = s.strip_prefix("binder:") {
            return absolute(device).map(|d| Endpoint::Binder(Some(d)));
        }
        if let Some(path) = s.strip_prefix("unix:") {
            return absolute(path).map(Endpoint::Unix);
        }
        Err(EndpointError::UnknownScheme(s.to_owned()))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
            Endpoint::Binder(None) => f.write_str("binder"),
            Endpoint::Binder(Some(device)) => write!(f, "binder:{}", device.display()),
        }
    }
}

/// Failures of [`serve`], [`connect`] and [`wait_until_ready`].
#[derive(Debug, Error)]
pub enum TransportError {
    /// The thread count is zero or does not fit the transport.
    #[error("bad binder thread count {0}")]
    BadThreadCount(usize),
    /// Starting the server failed (listener, process state, options).
    #[error("cannot serve on {endpoint}")]
    Serve {
        /// The endpoint.
        endpoint: Endpoint,
        /// rsbinder's reason.
        #[source]
        source: StatusCode,
    },
    /// Opening a client (socket connect, process state) failed.
    #[error("cannot connect to {endpoint}")]
    Connect {
        /// The endpoint.
        endpoint: Endpoint,
        /// rsbinder's reason.
        #[source]
        source: StatusCode,
    },
    /// The endpoint answered but has no allocator registered (or the lookup failed).
    #[error("{SERVICE_NAME} not available on {endpoint}")]
    Lookup {
        /// The endpoint.
        endpoint: Endpoint,
        /// rsbinder's reason.
        #[source]
        source: StatusCode,
    },
    /// The service did not appear in time.
    #[error("{SERVICE_NAME} did not appear on {endpoint} within {timeout:?}")]
    Timeout {
        /// The endpoint.
        endpoint: Endpoint,
        /// How long we waited.
        timeout: Duration,
    },
    /// The binder thread pool stopped.
    #[error("binder thread pool ended")]
    Join(#[source] StatusCode),
    /// A readiness probe call failed.
    #[error("{SERVICE_NAME} on {endpoint} does not answer")]
    Probe {
        /// The endpoint.
        endpoint: Endpoint,
        /// The status of the probe call.
        #[source]
        source: Status,
    },
}

enum Running {
    Rpc(rsbinder::ServerGuard),
    Binder,
}

/// A running server. Dropping it stops a Unix-socket server (listener closed, sessions
/// ended); a kernel-binder registration lasts until the process exits.
#[must_use = "dropping the guard stops a Unix-socket server"]
pub struct ServerGuard {
    endpoint: Endpoint,
    running: Running,
}

impl fmt::Debug for ServerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerGuard").field("endpoint", &self.endpoint).finish()
    }
}

impl ServerGuard {
    /// The endpoint being served.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Serves from the calling thread until the process ends (the daemon's main loop).
    ///
    /// # Errors
    ///
    /// [`TransportError::Join`] when the kernel binder pool stops. A Unix-socket server
    /// never returns.
    pub fn join(self) -> Result<(), TransportError> {
        match self.running {
            Running::Binder => ProcessState::join_thread_pool().map_err(TransportError::Join),
            Running::Rpc(_guard) => loop {
                // The accept loop runs on its own thread; keep `_guard` alive forever.
                std::thread::park();
            },
        }
    }

    /// Stops a Unix-socket server now and waits for its threads; same as dropping the guard.
    pub fn stop(self) {
        if let Running::Rpc(guard) = self.running {
            guard.stop_and_join();
        }
    }
}

/// Publishes `binder` as [`SERVICE_NAME`] on `endpoint` with a pool of `threads` threads.
///
/// Unix: listens on the socket (a stale socket file is replaced, a live one is
/// `EADDRINUSE`) with fd passing enabled. Binder: initialises the process-wide binder state
/// on the device (first initialisation in a process wins; a different device or thread count
/// later is an error), starts the pool and registers with the service manager.
///
/// # Errors
///
/// [`TransportError::BadThreadCount`] or [`TransportError::Serve`].
pub fn serve(
    endpoint: &Endpoint,
    binder: SIBinder,
    threads: usize,
) -> Result<ServerGuard, TransportError> {
    let thread_count = u32::try_from(threads)
        .ok()
        .filter(|&n| n > 0)
        .ok_or(TransportError::BadThreadCount(threads))?;
    let failed = |source| TransportError::Serve { endpoint: endpoint.clone(), source };
    let running = match endpoint {
        Endpoint::Unix(path) => {
            let guard = rsbinder::serve(Uri::new(rsbinder::Endpoint::unix(path.clone())))
                .map_err(failed)?
                .with(|options| {
                    options.fd_modes = Some(vec![FileDescriptorTransportMode::Unix]);
                    options.threads = Some(thread_count);
                })
                .add(SERVICE_NAME, binder)
                .map_err(failed)?
                .spawn()
                .map_err(failed)?;
            Running::Rpc(guard)
        }
        Endpoint::Binder(device) => {
            let kernel = kernel_endpoint(device.as_ref(), Some(thread_count));
            let inert = rsbinder::serve(Uri::new(rsbinder::Endpoint::Kernel(kernel)))
                .map_err(failed)?
                .add(SERVICE_NAME, binder)
                .map_err(failed)?
                .spawn()
                .map_err(failed)?;
            // The kernel guard does nothing on drop; the pool serves until the process ends.
            drop(inert);
            Running::Binder
        }
    };
    log::info!("serving {SERVICE_NAME} on {endpoint} with {thread_count} threads");
    Ok(ServerGuard { endpoint: endpoint.clone(), running })
}

/// An allocator proxy for `endpoint`, waiting up to [`DEFAULT_CONNECT_TIMEOUT`] for the
/// service on kernel binder. The proxy keeps its RPC session alive by itself.
///
/// # Errors
///
/// [`TransportError::Connect`], [`TransportError::Lookup`] or [`TransportError::Timeout`].
pub fn connect(endpoint: &Endpoint) -> Result<Strong<dyn IAllocator>, TransportError> {
    connect_within(endpoint, DEFAULT_CONNECT_TIMEOUT)
}

/// [`connect`] with an explicit wait. Unix: one attempt (the socket either answers or not);
/// Binder: polls the service manager until `timeout`.
///
/// # Errors
///
/// As [`connect`].
pub fn connect_within(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<Strong<dyn IAllocator>, TransportError> {
    let uri = Uri::new(endpoint.to_rsbinder());
    let client = Client::open_with(uri, |options, rsb_endpoint| {
        if rsb_endpoint.supports_fd_passing() {
            options.fd_mode = Some(FileDescriptorTransportMode::Unix);
        }
    })
    .map_err(|source| TransportError::Connect { endpoint: endpoint.clone(), source })?;
    let lookup = |source| TransportError::Lookup { endpoint: endpoint.clone(), source };
    match endpoint {
        Endpoint::Unix(_) => client.get::<dyn IAllocator>(SERVICE_NAME).map_err(lookup),
        Endpoint::Binder(_) => {
            let deadline = Instant::now().checked_add(timeout);
            loop {
                if let Some(allocator) =
                    client.try_get::<dyn IAllocator>(SERVICE_NAME).map_err(lookup)?
                {
                    return Ok(allocator);
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(TransportError::Timeout { endpoint: endpoint.clone(), timeout });
                }
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }
}

/// Waits until the service on `endpoint` answers a call (`getInterfaceVersion`), retrying
/// failed connects until `timeout`; returns the connected proxy.
///
/// # Errors
///
/// [`TransportError::Timeout`] with the last failure logged at `debug`, or
/// [`TransportError::Probe`] when the service answers the call with an error.
pub fn wait_until_ready(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<Strong<dyn IAllocator>, TransportError> {
    let start = Instant::now();
    loop {
        let remaining = timeout.saturating_sub(start.elapsed());
        match connect_within(endpoint, remaining) {
            Ok(allocator) => {
                return match allocator.getInterfaceVersion() {
                    Ok(_) => Ok(allocator),
                    Err(source) => {
                        Err(TransportError::Probe { endpoint: endpoint.clone(), source })
                    }
                };
            }
            Err(err) => log::debug!("{endpoint} not ready: {err}"),
        }
        if start.elapsed() >= timeout {
            return Err(TransportError::Timeout { endpoint: endpoint.clone(), timeout });
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aidl::{AllocationError, AllocationResult, BnAllocator, BufferDescriptorInfo};
    use crate::wire::allocation_error;
    use rsbinder::BinderResult;

    /// An allocator that refuses everything.
    struct Refuser;
    impl rsbinder::Interface for Refuser {}
    impl IAllocator for Refuser {
        #[allow(deprecated)]
        fn allocate(&self, _: &[u8], _: i32) -> BinderResult<AllocationResult> {
            Err(allocation_error(AllocationError::UNSUPPORTED, "refused"))
        }
        fn allocate2(&self, _: &BufferDescriptorInfo, _: i32) -> BinderResult<AllocationResult> {
            Err(allocation_error(AllocationError::UNSUPPORTED, "refused"))
        }
        fn isSupported(&self, _: &BufferDescriptorInfo) -> BinderResult<bool> {
            Ok(false)
        }
        fn getIMapperLibrarySuffix(&self) -> BinderResult<String> {
            Ok("none".to_owned())
        }
    }

    #[test]
    fn endpoints_parse_and_print_back() {
        for text in ["unix:/run/gralloc/allocator.sock", "binder", "binder:/dev/binderfs/binder"] {
            let endpoint: Endpoint = text.parse().unwrap();
            assert_eq!(endpoint.to_string(), text);
        }
        assert_eq!("binder".parse(), Ok(Endpoint::Binder(None)));
        assert_eq!("unix:/tmp/a.sock".parse(), Ok(Endpoint::Unix(PathBuf::from("/tmp/a.sock"))));
    }

    #[test]
    fn bad_endpoints_are_rejected() {
        assert_eq!(
            "unix:relative.sock".parse::<Endpoint>(),
            Err(EndpointError::RelativePath("unix:relative.sock".to_owned()))
        );
        assert_eq!(
            "unix:".parse::<Endpoint>(),
            Err(EndpointError::RelativePath("unix:".to_owned()))
        );
        assert_eq!(
            "tcp:1.2.3.4".parse::<Endpoint>(),
            Err(EndpointError::UnknownScheme("tcp:1.2.3.4".to_owned()))
        );
        assert!("binders".parse::<Endpoint>().is_err());
    }

    #[test]
    fn zero_threads_are_refused_before_anything_starts() {
        let endpoint = Endpoint::Unix(PathBuf::from("/nonexistent/never.sock"));
        let binder = BnAllocator::new_binder(Refuser).as_binder();
        let result = serve(&endpoint, binder, 0);
        assert!(matches!(result, Err(TransportError::BadThreadCount(0))));
    }

    #[test]
    fn connecting_to_a_missing_socket_fails_with_connect() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = Endpoint::Unix(dir.path().join("absent.sock"));
        let result = connect(&endpoint);
        assert!(matches!(result, Err(TransportError::Connect { .. })), "{result:?}");
    }

    #[test]
    fn wait_until_ready_times_out_on_a_missing_socket() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = Endpoint::Unix(dir.path().join("absent.sock"));
        let result = wait_until_ready(&endpoint, Duration::from_millis(100));
        assert!(matches!(result, Err(TransportError::Timeout { .. })), "{result:?}");
    }

    #[test]
    fn dropping_the_guard_stops_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = Endpoint::Unix(dir.path().join("a.sock"));
        let guard = serve(&endpoint, BnAllocator::new_binder(Refuser).as_binder(), 2).unwrap();
        let allocator = wait_until_ready(&endpoint, Duration::from_secs(5)).unwrap();
        assert_eq!(allocator.getIMapperLibrarySuffix().unwrap(), "none");
        drop(allocator);
        guard.stop();
        assert!(connect(&endpoint).is_err());
    }
}
