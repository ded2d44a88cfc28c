//! Errors of the allocator core and their one mapping to the wire.
//!
//! [`AllocError::code`] is the only place an internal error meets an `AllocationError`:
//! `BAD_DESCRIPTOR` for malformed fields, `UNSUPPORTED` for well-formed requests that can
//! never succeed, `NO_RESOURCES` for everything that may succeed later (heap exhaustion, fd
//! exhaustion, and unexpected heap errnos, so that `isSupported == true` keeps meaning "Ok
//! unless resources run out").

use std::error::Error;
use std::fmt;

use hal_interface::Format;

/// A malformed descriptor field (`BAD_DESCRIPTOR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    /// Width, height or layer count is zero or negative.
    #[error("{field} {value} is not positive")]
    NotPositive {
        /// `width`, `height` or `layerCount`.
        field: &'static str,
        /// The value received.
        value: i32,
    },
    /// The format is UNSPECIFIED.
    #[error("format is UNSPECIFIED")]
    UnspecifiedFormat,
    /// `reservedSize` is negative.
    #[error("reservedSize {0} is negative")]
    NegativeReservedSize(i64),
    /// The buffer count is negative.
    #[error("buffer count {0} is negative")]
    NegativeCount(i32),
}

/// Why a format has no layout for a request (`UNSUPPORTED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// UNSPECIFIED names no layout.
    #[error("format UNSPECIFIED has no layout")]
    Unspecified,
    /// IMPLEMENTATION_DEFINED has no CPU-accessible layout on this service.
    #[error("IMPLEMENTATION_DEFINED has no layout for CPU usage")]
    ImplementationDefinedWithCpu,
    /// A dimension is zero.
    #[error("zero width, height or layer count")]
    ZeroDimension,
    /// A subsampled format needs an even width or height.
    #[error("{format} needs an even {dimension}, got {value}")]
    OddDimension {
        /// The layout format.
        format: Format,
        /// `width` or `height`.
        dimension: &'static str,
        /// The value received.
        value: u32,
    },
    /// RAW10 and RAW12 pack four pixels per group.
    #[error("{format} needs a width that is a multiple of 4, got {width}")]
    WidthNotMultipleOf4 {
        /// The layout format.
        format: Format,
        /// The width received.
        width: u32,
    },
    /// YUV formats take one layer.
    #[error("{format} allows one layer, got {layers}")]
    YuvLayers {
        /// The layout format.
        format: Format,
        /// The layer count received.
        layers: u32,
    },
    /// BLOB is one row, one layer.
    #[error("BLOB needs height 1 and one layer, got height {height} and {layers} layers")]
    BlobShape {
        /// The height received.
        height: u32,
        /// The layer count received.
        layers: u32,
    },
    /// A size or stride does not fit its type.
    #[error("size arithmetic overflows: {what}")]
    Overflow {
        /// Which quantity overflowed.
        what: &'static str,
    },
}

/// Displays an error followed by its `source()` chain: `a: b: c`.
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

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
