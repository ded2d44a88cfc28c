//! Building and reading wire values: the only code that makes a `Status` or a
//! `ParcelFileDescriptor`.
//!
//! Errors of `IAllocator` travel as service-specific exceptions carrying an
//! [`AllocationError`] code (note that `BAD_DESCRIPTOR` is code 0: a service-specific
//! status with code 0 is still an error).

use std::error::Error;
use std::fmt;
use std::os::fd::OwnedFd;

use rsbinder::{ExceptionCode, ParcelFileDescriptor, Status};

use crate::aidl::AllocationError;

/// Bytes of `BufferDescriptorInfo.name`.
pub const DESCRIPTOR_NAME_BYTES: usize = 128;
/// Longest usable name: the server forces `name[127] = 0`.
pub const MAX_DESCRIPTOR_NAME_LEN: usize = DESCRIPTOR_NAME_BYTES - 1;

/// A service-specific error status with `code` and `message`.
pub fn allocation_error(code: AllocationError, message: &str) -> Status {
    Status::service_specific(code, Some(message))
}

/// The AIDL name of an `AllocationError` code (`UNKNOWN_ALLOCATION_ERROR` for a code the
/// AIDL does not declare).
pub fn allocation_error_name(code: AllocationError) -> &'static str {
    match code {
        AllocationError::BAD_DESCRIPTOR => "BAD_DESCRIPTOR",
        AllocationError::NO_RESOURCES => "NO_RESOURCES",
        AllocationError::UNSUPPORTED => "UNSUPPORTED",
        _ => "UNKNOWN_ALLOCATION_ERROR",
    }
}

/// Displays an error followed by its `source()` chain on one line, `a: b: c`: the message
/// of an error status, and of every log line and CLI error of this project.
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a dyn Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(err) = next {
            write!(f, ": {err}")?;
            next = err.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The [`AllocationError`] a status carries, or `None` when it is not a service-specific
/// error or its code is not one `AllocationError` declares.
pub fn allocation_error_of(status: &Status) -> Option<AllocationError> {
    status.service_error::<AllocationError>()
}

/// Whether `status` is a service-specific error at all (whatever its code).
pub fn is_service_specific(status: &Status) -> bool {
    status.exception_code() == ExceptionCode::ServiceSpecific
}

/// The name bytes of a `BufferDescriptorInfo.name`: up to the first NUL, at most
/// [`MAX_DESCRIPTOR_NAME_LEN`] bytes (byte 127 is ignored as if it were NUL).
pub fn descriptor_name(name: &[u8; DESCRIPTOR_NAME_BYTES]) -> &[u8] {
    let usable = name.get(..MAX_DESCRIPTOR_NAME_LEN).unwrap_or(&[]);
    let end = usable.iter().position(|&b| b == 0).unwrap_or(usable.len());
    usable.get(..end).unwrap_or(&[])
}

/// A `BufferDescriptorInfo.name` holding `name` cut to [`MAX_DESCRIPTOR_NAME_LEN`] bytes.
pub fn descriptor_name_array(name: &[u8]) -> [u8; DESCRIPTOR_NAME_BYTES] {
    let mut out = [0u8; DESCRIPTOR_NAME_BYTES];
    let kept = name.len().min(MAX_DESCRIPTOR_NAME_LEN);
    if let (Some(dst), Some(src)) = (out.get_mut(..kept), name.get(..kept)) {
        dst.copy_from_slice(src);
    }
    out
}

/// Hands `fd` to a parcel, which closes it after the reply is written.
pub fn parcel_fd(fd: OwnedFd) -> ParcelFileDescriptor {
    ParcelFileDescriptor::new(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_error_is_service_specific_with_code_and_message() {
        let status = allocation_error(AllocationError::NO_RESOURCES, "heap system exhausted");
        assert!(is_service_specific(&status));
        assert_eq!(status.service_specific_error(), 1);
        assert_eq!(status.message(), Some("heap system exhausted"));
        assert_eq!(allocation_error_of(&status), Some(AllocationError::NO_RESOURCES));
    }

    #[test]
    fn bad_descriptor_is_code_zero_and_still_an_error() {
        let status = allocation_error(AllocationError::BAD_DESCRIPTOR, "width is zero");
        assert!(!status.is_ok());
        assert_eq!(allocation_error_of(&status), Some(AllocationError::BAD_DESCRIPTOR));
    }

    #[test]
    fn other_statuses_carry_no_allocation_error() {
        let transport = Status::from(rsbinder::StatusCode::DeadObject);
        assert_eq!(allocation_error_of(&transport), None);
        assert!(!is_service_specific(&transport));
        let unknown_code = Status::new_service_specific_error(9, None);
        assert_eq!(allocation_error_of(&unknown_code), None);
        let illegal = Status::from(ExceptionCode::IllegalArgument);
        assert_eq!(allocation_error_of(&illegal), None);
    }

    #[test]
    fn allocation_error_names_are_the_aidl_names() {
        assert_eq!(allocation_error_name(AllocationError::BAD_DESCRIPTOR), "BAD_DESCRIPTOR");
        assert_eq!(allocation_error_name(AllocationError::NO_RESOURCES), "NO_RESOURCES");
        assert_eq!(allocation_error_name(AllocationError::UNSUPPORTED), "UNSUPPORTED");
        assert_eq!(allocation_error_name(AllocationError(7)), "UNKNOWN_ALLOCATION_ERROR");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_prints_every_source() {
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(Chain(&err).to_string(), "outer: inner");
        assert_eq!(format!("{:?}", Chain(&err)), "outer: inner");
    }

    #[test]
    fn descriptor_name_stops_at_the_first_nul() {
        let mut name = [0u8; DESCRIPTOR_NAME_BYTES];
        name[..5].copy_from_slice(b"hello");
        name[6] = b'x';
        assert_eq!(descriptor_name(&name), b"hello");
    }

    #[test]
    fn descriptor_name_ignores_byte_127() {
        let name = [b'a'; DESCRIPTOR_NAME_BYTES];
        assert_eq!(descriptor_name(&name).len(), MAX_DESCRIPTOR_NAME_LEN);
        assert_eq!(descriptor_name(&[0u8; DESCRIPTOR_NAME_BYTES]), b"");
    }

    #[test]
    fn descriptor_name_array_round_trips_and_truncates() {
        assert_eq!(descriptor_name(&descriptor_name_array(b"camera")), b"camera");
        let long = descriptor_name_array(&[b'z'; 200]);
        assert_eq!(long[127], 0);
        assert_eq!(descriptor_name(&long), &[b'z'; 127][..]);
    }
}
