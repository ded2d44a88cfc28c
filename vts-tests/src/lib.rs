//! `vts_tests`: the allocator conformance suite, run against a *running* service.
//!
//! Reproduces what AOSP's allocator AIDL VTS and the allocator-facing parts of the mapper 4.0
//! and stable-C mapper VTS ask of an `IAllocator` (see `vts-cases.md`), plus what they do not
//! test and a board bring-up needs (hostile input, zero-fill, leaks, routing against the
//! board file, exhaustion and fallback, concurrency; see `reliability-tests.md`).
//!
//! Structure: [`cases`] holds the registry of [`runner::Case`]s, one module per area;
//! [`runner::run`] runs the ones a [`glob::Filter`] selects and prints gtest-like lines
//! ending with `N passed, N failed[, N skipped]`; [`ctx::Ctx`] carries the connection, the
//! board file and the service process. After every case the runner checks the "nothing lost"
//! rule (client and service fd counts, service dma-bufs, same service process).
//!
//! [`mapper_stablec`] checks the IMapper 5 stable-C mapper library the allocator names
//! (`VtsHalGraphicsMapperStableC`), through its C ABI only.
//!
//! Must never: reach into service or mapper internals. It speaks only the AIDL interface
//! (through `hal_interface`) and the mapper's C ABI, reads handles with the published codec,
//! and inspects buffers and the service process from the outside (mmap, fdinfo, `/proc`).

// `unsafe` only in `mapper_stablec::ffi`, the calls into a mapper library.
#![deny(unsafe_code)]

pub mod call;
pub mod cases;
pub mod check;
pub mod child;
pub mod ctx;
pub mod desc;
pub mod glob;
pub mod golden;
pub mod mapper_stablec;
pub mod mem;
pub mod procfs;
pub mod runner;
pub mod v1;

pub use ctx::{Ctx, Settings, SetupError};
pub use glob::Filter;
pub use runner::{Case, CaseReport, Outcome, Stop, Summary};
