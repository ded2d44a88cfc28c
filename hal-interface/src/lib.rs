//! `hal_interface`: the wire contract of the allocator service.
//!
//! Owns the vendored AIDL of `android.hardware.graphics.allocator` V2 (plus the
//! graphics.common V5 and common types it uses) and the rsbinder bindings generated from it,
//! typed views over the wire enums ([`usage`], [`format`]), the buffer-handle codec and the
//! gralloc4 descriptor decoder used by V1 `allocate(byte[])`.
//!
//! Must never: allocate memory from a heap, know about board files, or hold a buffer fd
//! beyond building a reply.
//!
//! Upstream: `hardware/interfaces/graphics/allocator/aidl` (frozen V2,
//! hash `9499fec09c544e9de5be3c87125721600f8ade66`).

#![forbid(unsafe_code)]

pub mod format;
pub mod usage;

pub use format::Format;
pub use usage::{CpuAccess, Usage, UsageFlag};
