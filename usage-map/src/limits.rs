//! Per-board request caps (`[limits]`), checked by the service before any heap is touched.

pub(crate) mod convert;

use std::fmt;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Request caps. Every field has a default (see the constants) and an accepted range; a
/// value outside the range is a load error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width in pixels of an image buffer (BLOB buffers, whose width is a byte
    /// count, are bounded by `max_bytes_per_buffer` only).
    pub max_width: u32,
    /// Largest height in pixels.
    pub max_height: u32,
    /// Largest size of one buffer in bytes, after layout and alignment.
    pub max_bytes_per_buffer: u64,
    /// Largest `count` of one allocate call.
    pub max_buffers_per_call: u32,
    /// Largest `reservedSize` in bytes.
    pub max_reserved_size: u64,
    /// Largest total of one call (count × buffer size) in bytes.
    pub max_bytes_per_call: u64,
    /// Largest number of `additionalOptions` entries.
    pub max_options: u32,
    /// Callers allowed to allocate; `None` allows every uid (SELinux is the access control).
    pub allowed_uids: Option<Vec<u32>>,
}

impl Limits {
    /// Default `max_width` and `max_height`.
    pub const DEFAULT_MAX_DIMENSION: u32 = 16384;
    /// Largest accepted `max_width` / `max_height`.
    pub const CEILING_MAX_DIMENSION: u32 = 65536;
    /// Default per-buffer cap: 400 MiB (Pixel's figure, `layers * w * h * 4`).
    pub const DEFAULT_MAX_BYTES_PER_BUFFER: u64 = 400 * MIB;
    /// Largest accepted per-buffer cap: 16 GiB.
    pub const CEILING_MAX_BYTES_PER_BUFFER: u64 = 16 * GIB;
    /// Default `count` cap.
    pub const DEFAULT_MAX_BUFFERS_PER_CALL: u32 = 32;
    /// Largest accepted `count` cap: the RPC transport carries at most 64 fds per message,
    /// so the cap must stay below 64.
    pub const CEILING_MAX_BUFFERS_PER_CALL: u32 = 63;
    /// Default `reservedSize` cap: 8 MiB.
    pub const DEFAULT_MAX_RESERVED_SIZE: u64 = 8 * MIB;
    /// Largest accepted `reservedSize` cap: 256 MiB.
    pub const CEILING_MAX_RESERVED_SIZE: u64 = 256 * MIB;
    /// Default per-call cap: 1 GiB.
    pub const DEFAULT_MAX_BYTES_PER_CALL: u64 = GIB;
    /// Largest accepted per-call cap: 64 GiB.
    pub const CEILING_MAX_BYTES_PER_CALL: u64 = 64 * GIB;
    /// Default options cap.
    pub const DEFAULT_MAX_OPTIONS: u32 = 16;
    /// Largest accepted options cap.
    pub const CEILING_MAX_OPTIONS: u32 = 1024;

    /// Whether `uid` may allocate.
    pub fn uid_allowed(&self, uid: u32) -> bool {
        match &self.allowed_uids {
            Some(uids) => uids.contains(&uid),
            None => true,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_width: Self::DEFAULT_MAX_DIMENSION,
            max_height: Self::DEFAULT_MAX_DIMENSION,
            max_bytes_per_buffer: Self::DEFAULT_MAX_BYTES_PER_BUFFER,
            max_buffers_per_call: Self::DEFAULT_MAX_BUFFERS_PER_CALL,
            max_reserved_size: Self::DEFAULT_MAX_RESERVED_SIZE,
            max_bytes_per_call: Self::DEFAULT_MAX_BYTES_PER_CALL,
            max_options: Self::DEFAULT_MAX_OPTIONS,
            allowed_uids: None,
        }
    }
}

impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "max {}x{} px, {} B per buffer, {} buffers and {} B per call, reserved {} B, {} options",
            self.max_width,
            self.max_height,
            self.max_bytes_per_buffer,
            self.max_buffers_per_call,
            self.max_bytes_per_call,
            self.max_reserved_size,
            self.max_options
        )?;
        match &self.allowed_uids {
            Some(uids) => {
                let uids: Vec<String> = uids.iter().map(u32::to_string).collect();
                write!(f, ", uids [{}]", uids.join(", "))
            }
            None => f.write_str(", any uid"),
        }
    }
}
