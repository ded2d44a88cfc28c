//! The Binder front-end: [`AllocatorService`] implements the generated `IAllocator` over the
//! allocator core, the same object behind kernel binder and the unix-socket transport.
//!
//! The camelCase methods hold no allocation logic. Each one logs the caller (uid and pid,
//! `debug!`), applies the board's caller allow-list, calls the core and turns the core's
//! error into the wire with [`wire::allocation_error`] and [`AllocError::code`], logging
//! every failure exactly once: `warn!` with the error chain and the decoded usage names.
//! `isSupported` answers `Ok(bool)` for everything that decodes and logs nothing.
//!
//! Caller allow-list (`[limits] allowed_uids`): a caller whose uid is not listed gets
//! `UNSUPPORTED` from `allocate`/`allocate2` and `false` from `isSupported`. The request is
//! well-formed, so `BAD_DESCRIPTOR` would be a lie; it can never be satisfied for that
//! caller, which is what `UNSUPPORTED` means, and `isSupported` stays consistent with
//! `allocate2`. `getIMapperLibrarySuffix` answers everyone (it is public VINTF data). Callers
//! without a kernel-vouched uid (vsock, TLS) get rsbinder's fail-closed sentinel uid, which no
//! list contains.
//!
//! `dump` (`DUMP` transaction, kernel binder: `dumpsys`, `gralloc dump`) writes the per-heap
//! statistics, bounded by [`dump::MAX_DUMP_BYTES`], to root, the daemon's own uid and (on
//! Android) the shell; others get `PERMISSION_DENIED` and nothing is written to their fd.

use std::io::Write;
use std::sync::Arc;

use hal_interface::aidl::{
    AllocationError, AllocationResult, BnAllocator, BufferDescriptorInfo, IAllocator,
};
use hal_interface::format::RawFormat;
use hal_interface::transport::{self, Endpoint, ServerGuard, TransportError};
use hal_interface::{gralloc4, wire, Usage};
use rsbinder::{BinderFeatures, BinderResult, Interface, Status};

use crate::admission::Priority;
use crate::allocator::{Allocation, Allocator};
use crate::dump;
use crate::error::{AllocError, Chain};
use crate::realtime;

/// Why a call failed: the core's error, or the front-end's own caller check.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The core refused or failed.
    #[error(transparent)]
    Core(#[from] AllocError),
    /// The board's `allowed_uids` does not list the caller.
    #[error("caller uid {uid} is not in the board's allowed_uids")]
    CallerNotAllowed {
        /// The caller's effective uid.
        uid: u32,
    },
}

impl Failure {
    /// The wire code: the core's own mapping, `UNSUPPORTED` for a caller the board refuses
    /// (well-formed, never satisfiable for that caller).
    fn code(&self) -> AllocationError {
        match self {
            Failure::Core(err) => err.code(),
            Failure::CallerNotAllowed { .. } => AllocationError::UNSUPPORTED,
        }
    }

    fn is_unexpected(&self) -> bool {
        match self {
            Failure::Core(err) => err.is_unexpected(),
            Failure::CallerNotAllowed { .. } => false,
        }
    }
}

/// The `IAllocator` implementation.
#[derive(Debug)]
pub struct AllocatorService {
    allocator: Arc<Allocator>,
}

/// Who is calling, as the transport reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Caller {
    uid: u32,
    pid: i32,
}

impl Caller {
    /// The caller of the transaction this thread serves; also puts a Binder thread in its
    /// real-time class on its first call ([`realtime::on_binder_call`]).
    fn current() -> Self {
        realtime::on_binder_call();
        Self { uid: rsbinder::get_calling_uid(), pid: rsbinder::get_calling_pid() }
    }

    fn priority(self) -> Priority {
        Priority::of_uid(self.uid)
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "uid {} pid {}", self.uid, self.pid)
    }
}

impl AllocatorService {
    /// Wraps the core.
    pub fn new(allocator: Arc<Allocator>) -> Self {
        Self { allocator }
    }

    /// The core this service calls.
    pub fn allocator(&self) -> &Arc<Allocator> {
        &self.allocator
    }

    /// Whether the board lets `caller` allocate.
    fn admits(&self, caller: Caller) -> bool {
        self.allocator.map().limits().uid_allowed(caller.uid)
    }

    /// Turns a core result into the reply, logging a failure once.
    fn reply(
        &self,
        call: &str,
        caller: Caller,
        request: &dyn std::fmt::Display,
        result: Result<Allocation, Failure>,
    ) -> BinderResult<AllocationResult> {
        match result {
            Ok(allocation) => {
                log::debug!(
                    "{call} for {caller}: {request}: {} buffers, stride {}",
                    allocation.buffers.len(),
                    allocation.stride
                );
                into_reply(allocation)
                    .map_err(|err| self.failure(call, caller, request, &Failure::Core(err)))
            }
            Err(err) => Err(self.failure(call, caller, request, &err)),
        }
    }

    /// Logs a failed request once and builds its status.
    fn failure(
        &self,
        call: &str,
        caller: Caller,
        request: &dyn std::fmt::Display,
        err: &Failure,
    ) -> Status {
        let code = err.code();
        let chain = Chain(err).to_string();
        if err.is_unexpected() {
            log::error!("{call} for {caller} failed ({}): {request}: {chain}", code_name(code));
        } else {
            log::warn!("{call} for {caller} refused ({}): {request}: {chain}", code_name(code));
        }
        wire::allocation_error(code, &chain)
    }
}

/// Moves the core's buffers into handles; the parcel owns the fds from here and closes
/// them after the reply is written, so the service keeps none.
fn into_reply(allocation: Allocation) -> Result<AllocationResult, AllocError> {
    let mut buffers = Vec::with_capacity(allocation.buffers.len());
    for (handle, fd, metadata) in allocation.buffers {
        buffers.push(handle.into_native(fd, metadata).map_err(AllocError::Handle)?);
    }
    Ok(AllocationResult { stride: allocation.stride, buffers })
}

fn code_name(code: AllocationError) -> &'static str {
    wire::allocation_error_name(code)
}

/// A request as it appears in logs: decoded usage names, format name, geometry, count.
struct Described<'a> {
    descriptor: &'a BufferDescriptorInfo,
    count: i32,
}

impl std::fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.descriptor;
        write!(
            f,
            "{}x{}x{} {} usage {} reserved {} count {}",
            d.width,
            d.height,
            d.layerCount,
            RawFormat(d.format.0),
            Usage::from_wire_raw(d.usage.0),
            d.reservedSize,
            self.count
        )
    }
}

/// A V1 request for logs: the decoded descriptor when it decodes, else its length.
struct DescribedV1<'a> {
    bytes: &'a [u8],
    count: i32,
}

impl std::fmt::Display for DescribedV1<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match gralloc4::decode_descriptor(self.bytes) {
            Ok(d) => write!(
                f,
                "v1 {}x{}x{} {} usage {} reserved {} count {}",
                d.width,
                d.height,
                d.layer_count,
                RawFormat(d.format),
                Usage::from_bits(d.usage),
                d.reserved_size,
                self.count
            ),
            Err(_) => {
                write!(f, "v1 descriptor of {} bytes, count {}", self.bytes.len(), self.count)
            }
        }
    }
}

impl Interface for AllocatorService {
    fn dump(&self, writer: &mut dyn Write, _args: &[String]) -> rsbinder::Result<()> {
        let caller = Caller::current();
        if !dump::may_read_dump(caller.uid) {
            // Nothing is written: a caller-supplied fd (a full pipe) could block this thread.
            log::warn!("dump refused to {caller}");
            return Err(rsbinder::StatusCode::PermissionDenied);
        }
        log::debug!("dump for {caller}");
        let text = dump::bounded(format!(
            "board {}\n{}\n",
            self.allocator.map().board_name(),
            self.allocator.stats()
        ));
        // A reader that went away is its own problem; the transaction still succeeds.
        if let Err(err) = writer.write_all(text.as_bytes()).and_then(|()| writer.flush()) {
            log::debug!("dump for {caller}: {err}");
        }
        Ok(())
    }
}

impl IAllocator for AllocatorService {
    #[allow(deprecated)]
    fn allocate(&self, descriptor: &[u8], count: i32) -> BinderResult<AllocationResult> {
        let caller = Caller::current();
        let request = DescribedV1 { bytes: descriptor, count };
        log::debug!("allocate from {caller}: {request}");
        let result = if self.admits(caller) {
            self.allocator
                .allocate_v1_as(caller.priority(), descriptor, count)
                .map_err(Failure::Core)
        } else {
            Err(Failure::CallerNotAllowed { uid: caller.uid })
        };
        self.reply("allocate", caller, &request, result)
    }

    fn allocate2(
        &self,
        descriptor: &BufferDescriptorInfo,
        count: i32,
    ) -> BinderResult<AllocationResult> {
        let caller = Caller::current();
        let request = Described { descriptor, count };
        log::debug!("allocate2 from {caller}: {request}");
        let result = if self.admits(caller) {
            self.allocator.allocate2_as(caller.priority(), descriptor, count).map_err(Failure::Core)
        } else {
            Err(Failure::CallerNotAllowed { uid: caller.uid })
        };
        self.reply("allocate2", caller, &request, result)
    }

    fn isSupported(&self, descriptor: &BufferDescriptorInfo) -> BinderResult<bool> {
        let caller = Caller::current();
        let request = Described { descriptor, count: 1 };
        if !self.admits(caller) {
            log::debug!("isSupported from {caller}: {request} => false: caller not allowed");
            return Ok(false);
        }
        match self.allocator.check_supported(descriptor) {
            Ok(()) => {
                log::debug!("isSupported from {caller}: {request} => true");
                Ok(true)
            }
            Err(err) => {
                log::debug!("isSupported from {caller}: {request} => false: {}", Chain(&err));
                Ok(false)
            }
        }
    }

    fn getIMapperLibrarySuffix(&self) -> BinderResult<String> {
        Ok(self.allocator.mapper_suffix().to_owned())
    }
}

/// The Binder node's scheduling features: `inherit_rt`, so a kernel with Android's binder
/// priority inheritance (the Android common kernel) runs the call at a real-time caller's
/// priority. Mainline binder ignores the flag (it only passes the caller's nice value), and
/// reads the node's low 8 bits as a nice floor, so no `min_priority`/`min_sched_policy` is
/// set: the threads take their real-time class themselves ([`realtime`]).
pub fn binder_features() -> BinderFeatures {
    let mut features = BinderFeatures::default();
    features.inherit_rt = true;
    features
}

/// Publishes an [`AllocatorService`] over `allocator` on `endpoint` with `threads` binder
/// threads.
///
/// # Errors
/// As [`transport::serve`].
pub fn serve(
    endpoint: &Endpoint,
    allocator: Arc<Allocator>,
    threads: usize,
) -> Result<ServerGuard, TransportError> {
    let binder =
        BnAllocator::new_binder_with_features(AllocatorService::new(allocator), binder_features());
    transport::serve(endpoint, binder.as_binder(), threads)
}
