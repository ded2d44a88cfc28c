//! `hal_interface`: the wire contract of the allocator service.
//!
//! Owns the vendored AIDL of `android.hardware.graphics.allocator` V2 (plus the
//! graphics.common V5 and common types it uses) and the rsbinder bindings generated from it,
//! typed views over the wire enums ([`usage`], [`format`](mod@format)), the buffer-handle codec and the
//! gralloc4 descriptor decoder used by V1 `allocate(byte[])`, the transport helpers that serve
//! or reach the service over kernel binder or a Unix socket, and [`wire`], the only code that
//! builds `Status` and `ParcelFileDescriptor` values.
//!
//! Must never: allocate memory from a heap, know about board files, or hold a buffer fd
//! beyond building a reply.
//!
//! Upstream: `hardware/interfaces/graphics/allocator/aidl` (frozen V2,
//! hash `9499fec09c544e9de5be3c87125721600f8ade66`).

#![forbid(unsafe_code)]

pub mod aidl;
pub mod format;
pub mod gralloc4;
pub mod handle;
pub mod metadata;
pub mod shared_metadata;
pub mod transport;
pub mod usage;
pub mod wire;

pub use format::Format;
pub use gralloc4::{decode_descriptor, encode_descriptor, Gralloc4Error, V1Descriptor};
pub use handle::{BufferHandle, HandleError, PlaneComponent, PlaneLayout};
pub use transport::{Endpoint, ServerGuard, TransportError, SERVICE_NAME};
pub use usage::{CpuAccess, Usage, UsageFlag};
