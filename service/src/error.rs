//! Errors of the allocator core and their one mapping to the wire.
//!
//! [`AllocError::code`] is the only place an internal error meets an `AllocationError`:
//! `BAD_DESCRIPTOR` for malformed fields, `UNSUPPORTED` for well-formed requests that can
//! never succeed, `NO_RESOURCES` for everything that may succeed later (heap exhaustion, fd
//! exhaustion, and unexpected heap errnos, so that `isSupported == true` keeps meaning "Ok
//! unless resources run out").

use std::fmt;

use hal_interface::aidl::AllocationError;
use hal_interface::format::RawFormat;
use hal_interface::handle::HandleError;
use hal_interface::usage::UsageError;
use hal_interface::{Format, Gralloc4Error};
use heaps::HeapError;
use usage_map::{Refusal, RuleRef};

/// The error chain display wrapper (one for the project, beside the wire messages).
pub use hal_interface::wire::Chain;

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
    /// The V1 (gralloc4) descriptor bytes do not decode.
    #[error("undecodable gralloc4 descriptor")]
    Undecodable(#[source] Gralloc4Error),
}

/// A well-formed request that this service can never satisfy (`UNSUPPORTED`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    /// Not a graphics.common V5 format (newer, vendor range, or garbage).
    #[error("unknown pixel format {}", RawFormat(*.0))]
    UnknownFormat(i32),
    /// Undefined CPU field values or reserved bits.
    #[error("usage {usage:#x} is not defined")]
    Usage {
        /// The usage word.
        usage: u64,
        /// What is wrong with it.
        #[source]
        source: UsageError,
    },
    /// Vendor bits the board does not claim.
    #[error("vendor usage bits {bits:#x} are not claimed by the board")]
    VendorBits {
        /// The unclaimed bits.
        bits: u64,
    },
    /// An additional option other than Dataspace (its name cut to 64 bytes).
    #[error("unknown additional option {0:?}")]
    UnknownOption(String),
    /// The same option twice.
    #[error("additional option {0} given twice")]
    DuplicateOption(&'static str),
    /// An option value out of its range.
    #[error("additional option {name} has out-of-range value {value}")]
    OptionValue {
        /// The option.
        name: &'static str,
        /// Its value.
        value: i64,
    },
    /// A format and usage (or dimension) combination the standard forbids.
    #[error("{format}: {rule}")]
    Combination {
        /// The requested format.
        format: Format,
        /// The rule broken.
        rule: Combination,
    },
}

/// A format/usage (or dimension) rule of the standard: one value per rule, so tests and
/// logs match on the rule, not on its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Combination {
    /// PROTECTED buffers are never CPU-accessible.
    #[error("PROTECTED buffers must not have CPU usage")]
    ProtectedWithCpu,
    /// SENSOR_DIRECT_DATA is a BLOB usage.
    #[error("SENSOR_DIRECT_DATA needs BLOB")]
    SensorDirectWithoutBlob,
    /// BLOB is one row, one layer.
    #[error("BLOB needs height 1 and one layer")]
    BlobShape,
    /// BLOB is a byte array, not an image.
    #[error("BLOB cannot have GPU image or video-encoder usage")]
    BlobImageUsage,
    /// YUV layouts take one layer.
    #[error("YUV formats take one layer")]
    YuvLayers,
    /// YUV layouts are neither cube maps nor mipmapped.
    #[error("YUV formats cannot be cube maps or mipmapped")]
    YuvCubeOrMipmap,
    /// Cube map faces are square.
    #[error("a cube map must be square")]
    CubeNotSquare,
    /// A cube map has six faces per cube.
    #[error("a cube map needs a multiple of 6 layers")]
    CubeLayers,
}

/// A board limit (`[limits]` of the board file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// `max_width` (pixels).
    Width,
    /// `max_height` (rows).
    Height,
    /// `max_reserved_size` (bytes).
    ReservedSize,
    /// `max_bytes_per_buffer` (bytes after layout).
    BytesPerBuffer,
    /// `max_buffers_per_call` (count).
    BuffersPerCall,
    /// `max_bytes_per_call` (count × buffer size).
    BytesPerCall,
    /// `max_options` (additionalOptions entries).
    Options,
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Width => "width",
            Self::Height => "height",
            Self::ReservedSize => "reservedSize",
            Self::BytesPerBuffer => "buffer size in bytes",
            Self::BuffersPerCall => "buffer count",
            Self::BytesPerCall => "bytes per call",
            Self::Options => "additionalOptions count",
        })
    }
}

/// Every way an allocation request fails. [`AllocError::code`] maps it to the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// A malformed descriptor.
    #[error("bad descriptor")]
    Descriptor(#[source] DescriptorError),
    /// A request no heap can ever satisfy.
    #[error("unsupported request")]
    Unsupported(#[source] Unsupported),
    /// The format has no layout for these dimensions or this usage, or the size overflows.
    #[error("no layout")]
    Layout(#[source] LayoutError),
    /// A value above a board limit.
    #[error("{cap} {value} is above the board limit {limit}")]
    OverCap {
        /// The limit.
        cap: Cap,
        /// The value asked for.
        value: u64,
        /// The board's limit.
        limit: u64,
    },
    /// The usage map refuses the request (a `reject` rule, or none of the rule's heaps is
    /// present on this device).
    #[error("board refuses the request")]
    Refused(#[source] BoardRefusal),
    /// Every heap the rule allows is out of memory (ENOMEM, EBUSY), or the process is out of
    /// fds (EMFILE, ENFILE), or the call stayed interrupted.
    #[error("out of resources after {attempts} heap attempt(s)")]
    Exhausted {
        /// Heap allocations tried for the failing buffer.
        attempts: usize,
        /// The last heap error.
        #[source]
        source: HeapError,
    },
    /// A heap failed with an unexpected error; allocation stops at once.
    #[error("heap failed")]
    HeapFailed(#[source] HeapError),
    /// The buffer's shared metadata region could not be made.
    #[error("metadata region")]
    MetadataRegion(#[source] crate::region::RegionCreateError),
    /// The layout cannot be described by the handle codec.
    #[error("buffer handle cannot describe the layout")]
    Handle(#[source] HandleError),
}

impl AllocError {
    /// The only place internal errors meet wire codes.
    ///
    /// Unexpected heap and metadata-region failures are `NO_RESOURCES`: `isSupported` already said yes
    /// for the request, so the failure must not claim it can never succeed.
    pub fn code(&self) -> AllocationError {
        match self {
            Self::Descriptor(_) => AllocationError::BAD_DESCRIPTOR,
            Self::Unsupported(_)
            | Self::Layout(_)
            | Self::OverCap { .. }
            | Self::Refused(_)
            | Self::Handle(_) => AllocationError::UNSUPPORTED,
            Self::Exhausted { .. } | Self::HeapFailed(_) | Self::MetadataRegion(_) => {
                AllocationError::NO_RESOURCES
            }
        }
    }

    /// Whether the failure points at a bug or a broken device rather than at the request or
    /// at memory pressure: log it at `error`, the others at `warn`.
    pub fn is_unexpected(&self) -> bool {
        match self {
            Self::HeapFailed(_) | Self::Handle(_) => true,
            Self::MetadataRegion(err) => !err.is_transient(),
            Self::Descriptor(_)
            | Self::Unsupported(_)
            | Self::Layout(_)
            | Self::OverCap { .. }
            | Self::Refused(_)
            | Self::Exhausted { .. } => false,
        }
    }
}

impl From<DescriptorError> for AllocError {
    fn from(err: DescriptorError) -> Self {
        Self::Descriptor(err)
    }
}

impl From<Unsupported> for AllocError {
    fn from(err: Unsupported) -> Self {
        Self::Unsupported(err)
    }
}

impl From<LayoutError> for AllocError {
    fn from(err: LayoutError) -> Self {
        Self::Layout(err)
    }
}

/// A board rule, by position and name (as `board explain` and `board check` print it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleId {
    /// Position in priority order, from 0.
    pub index: usize,
    /// The rule's `name`.
    pub name: String,
}

impl From<RuleRef<'_>> for RuleId {
    fn from(rule: RuleRef<'_>) -> Self {
        RuleId { index: rule.index, name: rule.name.to_owned() }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rules[{}] {:?}", self.index, self.name)
    }
}

/// Why the board refuses a well-formed request (`UNSUPPORTED`): the kind of refusal and the
/// rule that decided it. The owned form of [`usage_map::Refusal`], which borrows the map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoardRefusal {
    /// No rule matches (a loaded board always has a default rule; only a map built by other
    /// means lacks one).
    #[error("no rule matches")]
    NoRule,
    /// The matching rule is a `reject` rule.
    #[error("{rule} rejects the request: {reason}")]
    Rejected {
        /// The rule.
        rule: RuleId,
        /// Its `reject` text, as the board file gives it.
        reason: String,
    },
    /// None of the matching rule's heaps is present on this device.
    #[error("{rule}: none of its heaps is present on this device")]
    NoHeapPresent {
        /// The rule.
        rule: RuleId,
    },
}

impl BoardRefusal {
    /// The rule that refused, if a rule matched.
    pub fn rule(&self) -> Option<&RuleId> {
        match self {
            Self::NoRule => None,
            Self::Rejected { rule, .. } | Self::NoHeapPresent { rule } => Some(rule),
        }
    }
}

impl From<Refusal<'_>> for BoardRefusal {
    fn from(refusal: Refusal<'_>) -> Self {
        match refusal {
            Refusal::NoRule => Self::NoRule,
            Refusal::Rejected { rule, reason } => {
                Self::Rejected { rule: rule.into(), reason: reason.to_owned() }
            }
            Refusal::NoHeapPresent { rule } => Self::NoHeapPresent { rule: rule.into() },
        }
    }
}

/// Why a valid image has no layout (`UNSUPPORTED`): a dimension the format's packing cannot
/// hold, or a size that does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
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
    /// A size or stride does not fit its type.
    #[error("size arithmetic overflows: {what}")]
    Overflow {
        /// Which quantity overflowed.
        what: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    use heaps::Errno;

    #[test]
    fn each_family_maps_to_its_wire_code() {
        let heap_err = HeapError::Alloc { heap: "system".into(), len: 4096, errno: Errno::ENOMEM };
        let cases = [
            (AllocError::from(DescriptorError::UnspecifiedFormat), AllocationError::BAD_DESCRIPTOR),
            (
                AllocError::from(DescriptorError::Undecodable(Gralloc4Error::Empty)),
                AllocationError::BAD_DESCRIPTOR,
            ),
            (
                AllocError::from(Unsupported::VendorBits { bits: 1 << 28 }),
                AllocationError::UNSUPPORTED,
            ),
            (AllocError::from(LayoutError::Overflow { what: "t" }), AllocationError::UNSUPPORTED),
            (
                AllocError::OverCap { cap: Cap::Width, value: 2, limit: 1 },
                AllocationError::UNSUPPORTED,
            ),
            (AllocError::Refused(BoardRefusal::NoRule), AllocationError::UNSUPPORTED),
            (
                AllocError::Exhausted { attempts: 1, source: heap_err.clone() },
                AllocationError::NO_RESOURCES,
            ),
            (AllocError::HeapFailed(heap_err), AllocationError::NO_RESOURCES),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code, "{err}");
        }
    }

    #[test]
    fn chain_prints_every_source() {
        let err = AllocError::Exhausted {
            attempts: 2,
            source: HeapError::Alloc { heap: "cma".into(), len: 8192, errno: Errno::ENOMEM },
        };
        let text = Chain(&err).to_string();
        assert!(text.starts_with("out of resources after 2 heap attempt(s): heap cma: allocating 8192 bytes failed: "), "{text}");
        assert!(text.contains("ENOMEM"), "{text}");
    }
}
