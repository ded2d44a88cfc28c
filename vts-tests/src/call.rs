//! Calling the service and sorting its answers the way the AOSP suites do.
//!
//! A refusal must be `EX_SERVICE_SPECIFIC` carrying an `AllocationError`; any other
//! exception, an ad-hoc code or a transport failure is a conformance failure in itself
//! ("allocation transport failure" in the allocator VTS). `isSupported` must answer `Ok(bool)`.

use std::fmt;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use hal_interface::aidl::{AllocationError, AllocationResult, BufferDescriptorInfo, IAllocator};
use hal_interface::handle::BufferHandle;
use hal_interface::wire::allocation_error_of;
use rsbinder::{ExceptionCode, Status};

use crate::runner::Stop;

/// A well-formed refusal: `EX_SERVICE_SPECIFIC` with one of the three codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The code.
    pub code: AllocationError,
    /// The service's message (may be empty).
    pub message: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", code_name(self.code))?;
        if !self.message.is_empty() {
            write!(f, " ({})", self.message)?;
        }
        Ok(())
    }
}

/// The name of an `AllocationError` value, or its number when it has none.
pub fn code_name(code: AllocationError) -> String {
    match code {
        AllocationError::BAD_DESCRIPTOR => "BAD_DESCRIPTOR".to_owned(),
        AllocationError::NO_RESOURCES => "NO_RESOURCES".to_owned(),
        AllocationError::UNSUPPORTED => "UNSUPPORTED".to_owned(),
        other => format!("code {}", other.0),
    }
}

/// One buffer of a successful reply: the decoded handle and the fd it carried.
#[derive(Debug)]
pub struct Buffer {
    /// The handle's description.
    pub handle: BufferHandle,
    /// The dma-buf (or memfd on hosts), owned by the client now (handle fd 0).
    pub fd: OwnedFd,
    /// The buffer's shared metadata region (handle fd 1).
    pub metadata: OwnedFd,
}

/// A successful reply, decoded.
#[derive(Debug)]
pub struct Allocated {
    /// `AllocationResult.stride` (pixels).
    pub stride: i32,
    /// The buffers, in reply order.
    pub buffers: Vec<Buffer>,
}

impl Allocated {
    /// The only buffer of a `count = 1` reply.
    ///
    /// # Errors
    /// A failure when the reply does not hold exactly one buffer.
    pub fn single(self) -> Result<Buffer, Stop> {
        let found = self.buffers.len();
        let mut buffers = self.buffers.into_iter();
        match (buffers.next(), buffers.next()) {
            (Some(buffer), None) => Ok(buffer),
            _ => Err(Stop::failed(format!("asked for 1 buffer, reply holds {found}"))),
        }
    }
}

/// What a well-formed allocation call answers: buffers or a proper refusal.
pub type Answer = Result<Allocated, Refused>;

/// A timed answer.
#[derive(Debug)]
pub struct Timed<T> {
    /// The answer.
    pub value: T,
    /// Wall time of the call.
    pub elapsed: Duration,
}

/// Sorts a failed status: a proper refusal, or a conformance failure saying what came back.
///
/// # Errors
/// A failure for anything but `EX_SERVICE_SPECIFIC` with code 0, 1 or 2.
pub fn classify(status: &Status) -> Result<Refused, Stop> {
    if status.exception_code() != ExceptionCode::ServiceSpecific {
        return Err(Stop::failed(format!(
            "answered with exception {:?} / transport status {:?} ({}), \
             not EX_SERVICE_SPECIFIC with an AllocationError",
            status.exception_code(),
            status.transaction_error(),
            status.message().unwrap_or("")
        )));
    }
    let message = status.message().unwrap_or("").to_owned();
    match allocation_error_of(status) {
        Some(
            code @ (AllocationError::BAD_DESCRIPTOR
            | AllocationError::NO_RESOURCES
            | AllocationError::UNSUPPORTED),
        ) => Ok(Refused { code, message }),
        _ => Err(Stop::failed(format!(
            "service-specific code {} is not an AllocationError ({message})",
            status.service_specific_error()
        ))),
    }
}

fn decode(result: AllocationResult) -> Result<Allocated, Stop> {
    let mut buffers = Vec::with_capacity(result.buffers.len());
    for (index, native) in result.buffers.into_iter().enumerate() {
        let handle = BufferHandle::decode(&native)
            .map_err(|e| Stop::failed(format!("buffer {index}: handle does not decode: {e}")))?;
        // decode() checked that there are exactly two fds: the buffer, then its region.
        let mut fds = native.fds.into_iter();
        let (Some(fd), Some(metadata)) = (fds.next(), fds.next()) else {
            return Err(Stop::failed(format!("buffer {index}: handle carries fewer than 2 fds")));
        };
        buffers.push(Buffer { handle, fd: OwnedFd::from(fd), metadata: OwnedFd::from(metadata) });
    }
    Ok(Allocated { stride: result.stride, buffers })
}

fn answer(result: Result<AllocationResult, Status>) -> Result<Answer, Stop> {
    match result {
        Ok(result) => decode(result).map(Ok),
        Err(status) => classify(&status).map(Err),
    }
}

fn timed<T>(call: impl FnOnce() -> T) -> Timed<T> {
    let start = Instant::now();
    let value = call();
    Timed { value, elapsed: start.elapsed() }
}

/// `allocate2(info, count)`, decoded and classified.
///
/// # Errors
/// A failure for a malformed reply or an improper error.
pub fn allocate2(
    allocator: &dyn IAllocator,
    info: &BufferDescriptorInfo,
    count: i32,
) -> Result<Timed<Answer>, Stop> {
    let raw = timed(|| allocator.allocate2(info, count));
    Ok(Timed { value: answer(raw.value)?, elapsed: raw.elapsed })
}

/// V1 `allocate(bytes, count)`, decoded and classified.
///
/// # Errors
/// As [`allocate2`].
pub fn allocate_v1(
    allocator: &dyn IAllocator,
    bytes: &[u8],
    count: i32,
) -> Result<Timed<Answer>, Stop> {
    #[allow(deprecated)] // V1 entry point: mapper 4.0 clients still call it.
    let raw = timed(|| allocator.allocate(bytes, count));
    Ok(Timed { value: answer(raw.value)?, elapsed: raw.elapsed })
}

/// `isSupported(info)`, which must answer `Ok(bool)`.
///
/// # Errors
/// A failure for any error status.
pub fn is_supported(
    allocator: &dyn IAllocator,
    info: &BufferDescriptorInfo,
) -> Result<Timed<bool>, Stop> {
    let raw = timed(|| allocator.isSupported(info));
    match raw.value {
        Ok(value) => Ok(Timed { value, elapsed: raw.elapsed }),
        Err(status) => Err(Stop::failed(format!(
            "isSupported must answer Ok(bool), got exception {:?} code {} ({})",
            status.exception_code(),
            status.service_specific_error(),
            status.message().unwrap_or("")
        ))),
    }
}

/// Allocates and insists on success.
///
/// # Errors
/// A failure naming the descriptor when the service refuses.
pub fn allocate2_ok(
    allocator: &dyn IAllocator,
    info: &BufferDescriptorInfo,
    count: i32,
) -> Result<Allocated, Stop> {
    let what = crate::desc::describe(info);
    match allocate2(allocator, info, count).map_err(|s| s.context(&what))?.value {
        Ok(allocated) => Ok(allocated),
        Err(refused) => {
            Err(Stop::failed(format!("allocate2({what}, count {count}) refused: {refused}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_specific_codes_are_proper_refusals() {
        let status = Status::new_service_specific_error(2, Some("nope".into()));
        let refused = classify(&status).unwrap();
        assert_eq!(refused.code, AllocationError::UNSUPPORTED);
        assert_eq!(refused.to_string(), "UNSUPPORTED (nope)");
        let bad_descriptor = Status::new_service_specific_error(0, None);
        assert_eq!(classify(&bad_descriptor).unwrap().code, AllocationError::BAD_DESCRIPTOR);
    }

    #[test]
    fn other_exceptions_and_ad_hoc_codes_fail() {
        assert!(classify(&Status::new_service_specific_error(-1, None)).is_err());
        assert!(classify(&Status::new_service_specific_error(7, None)).is_err());
        assert!(classify(&Status::from(ExceptionCode::IllegalArgument)).is_err());
        assert!(classify(&Status::from(rsbinder::StatusCode::DeadObject)).is_err());
    }
}
