//! Building and reading wire values: the only code that makes a `Status` or a
//! `ParcelFileDescriptor`.
//!
//! Errors of `IAllocator` travel as service-specific exceptions carrying an
//! [`AllocationError`] code (note that `BAD_DESCRIPTOR` is code 0: a service-specific
//! status with code 0 is still an error).

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
