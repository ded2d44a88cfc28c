//! `heaps`: sources of dma-buf file descriptors for the gralloc allocator.
//!
//! Owns the [`Heap`] trait and its back ends — [`DmaHeap`] (`/dev/dma_heap/<name>`),
//! [`IonHeap`] over a shared [`IonDevice`] (legacy and modern ION ABIs, detected once),
//! [`MemfdHeap`] (sealed memfd, turned into a dma-buf through `/dev/udmabuf` when it works)
//! and, behind the `fake` feature, the scripted [`FakeHeap`] — plus start-up [`probe`]ing and
//! client helpers in [`dmabuf`] (naming, CPU-access sync, mmap, size, fdinfo), and the
//! calling thread's scheduling class ([`sched`], for the service's Binder threads).
//!
//! It never knows usage bits or board rules: the service joins board heap declarations to
//! the heaps opened here. It is the only crate of the workspace with `unsafe`, all of it in
//! the private `sys` module.
//!
//! Kernel references: `include/uapi/linux/dma-heap.h`, `include/uapi/linux/dma-buf.h`,
//! `include/uapi/linux/udmabuf.h`, `drivers/staging/android/uapi/ion.h` (≤ 5.10).

mod dma_heap;
pub mod dmabuf;
#[cfg(any(test, feature = "fake"))]
mod fake;
mod heap;
mod ion;
mod memfd;
mod probe;
mod retry;
pub mod sched;
mod sys;
#[cfg(test)]
mod test_util;

pub use dma_heap::DmaHeap;
#[cfg(any(test, feature = "fake"))]
pub use fake::{FakeHeap, FakeScript, FakeViolation, ViolationKind};
pub use heap::{Heap, HeapCaps, HeapError, NameProblem, NotSupported};
pub use ion::{IonAbi, IonDevice, IonHeap, IonHeapInfo, ION_FLAG_CACHED};
pub use memfd::MemfdHeap;
pub use nix::errno::Errno;
pub use probe::{probe, probe_at, DeviceProbe, DeviceStatus, DmaHeapProbe, ProbeReport};
pub use retry::EINTR_RETRY_LIMIT;

/// The page size every back end rounds lengths to (bytes).
pub fn page_size() -> u64 {
    retry::page_size()
}
