//! The IMapper 5 stable-C mapper library (`mapper.<suffix>.so`): what libui loads in every
//! process to import, lock and describe the buffers of this allocator.
//!
//! [`ffi`] holds the exported C symbols and every `unsafe` operation (raw handle reads,
//! out-pointer writes, callbacks); the rest is safe Rust over `hal_interface` types and
//! `heaps::dmabuf` mappings: [`registry`] (process-wide table of imported buffers),
//! [`buffer`] (validation, lock state, cache sync), [`shared`] (the cross-process metadata
//! region) and [`metadata`] (standard metadata get/set).

pub mod abi;
pub mod buffer;
pub mod ffi;
pub mod metadata;
pub mod registry;
pub mod shared;

pub use abi::{AIMapper, AIMapperV5, MapperError, MetadataTypeDescription};
