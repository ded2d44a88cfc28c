//! `allocator_service`: the allocator daemon's library.
//!
//! Owns descriptor validation ([`request`]), buffer layout ([`layout`]), heap selection and
//! allocation ([`allocator`]), reserve pools ([`pool`]), latency isolation (the contiguous
//! heaps' [`admission`] gates and the Binder threads' [`realtime`] scheduling), the one
//! mapping from internal errors to `AllocationError` ([`error`]), per-heap statistics
//! ([`stats`]), opening the board's heaps at start-up
//! ([`startup`]) into a [`heap_table`], the Binder front-end ([`binder`]), the daemon
//! ([`daemon`]) and its `dump` report ([`dump`]), logging set-up ([`logging`]) and the
//! `gralloc` client CLI ([`cli`]).
//!
//! Must never: keep a buffer fd after a reply, panic on any request, or touch a heap before
//! every size, count and cap check has passed.

#![forbid(unsafe_code)]

pub mod admission;
pub mod allocator;
pub mod binder;
pub mod cli;
pub mod daemon;
pub mod dump;
pub mod error;
pub mod heap_table;
pub mod layout;
pub mod logging;
pub mod pool;
pub mod realtime;
pub mod region;
pub mod request;
pub mod startup;
pub mod stats;
