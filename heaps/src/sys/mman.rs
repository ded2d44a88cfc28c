//! Shared mappings of dma-bufs and memfds.

use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

/// A `MAP_SHARED` mapping of `len` bytes from offset 0, unmapped on drop.
#[derive(Debug)]
pub(crate) struct MappedRegion {
    addr: NonNull<c_void>,
    len: NonZeroUsize,
    writable: bool,
}

// SAFETY: the region is plain shared memory owned by this value; nothing about it is tied to
// the thread that mapped it, and the slice accessors follow normal borrow rules.
unsafe impl Send for MappedRegion {}
// SAFETY: `&MappedRegion` only hands out `&[u8]`; mutation needs `&mut`.
unsafe impl Sync for MappedRegion {}

impl MappedRegion {
    pub(crate) fn map_shared(
        fd: BorrowedFd<'_>,
        len: NonZeroUsize,
        writable: bool,
    ) -> nix::Result<Self> {
        let prot = if writable {
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE
        } else {
            ProtFlags::PROT_READ
        };
        // SAFETY: a fresh mapping chosen by the kernel (addr None) cannot alias any Rust
        // object; `fd` is open for the call and the mapping keeps its own reference.
        let addr = unsafe { mmap(None, len, prot, MapFlags::MAP_SHARED, fd, 0) }?;
        Ok(Self { addr, len, writable })
    }

    pub(crate) fn len(&self) -> usize {
        self.len.get()
    }

    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `addr..addr+len` is a live readable mapping owned by `self` for the
        // lifetime of the borrow. (Other processes sharing the buffer may write to it; the
        // bytes are plain data, so a torn read is the worst outcome.)
        unsafe { std::slice::from_raw_parts(self.addr.as_ptr().cast::<u8>(), self.len.get()) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        if !self.writable {
            return None;
        }
        // SAFETY: the mapping is writable (checked above), owned by `self`, and `&mut self`
        // guarantees no other slice from this value is alive.
        Some(unsafe {
            std::slice::from_raw_parts_mut(self.addr.as_ptr().cast::<u8>(), self.len.get())
        })
    }
}

impl Drop for MappedRegion {
    fn drop(&mut self) {
        // SAFETY: `addr`/`len` describe a mapping created by `map_shared` and never unmapped
        // before; no slice borrowed from `self` can outlive this call.
        if let Err(errno) = unsafe { munmap(self.addr, self.len.get()) } {
            log::error!("munmap of {} bytes failed: {errno}", self.len);
        }
    }
}
