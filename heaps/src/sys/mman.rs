//! Shared mappings of dma-bufs and memfds, accessed only through volatile copies and atomics.
//!
//! The pages of a `MAP_SHARED` mapping are written by other processes and by devices at any
//! time, so no Rust reference (`&[u8]`, `&mut [u8]`) may point into them: the compiler
//! assumes memory behind a reference does not change. Every access here is either a
//! volatile read or write of one aligned `u8`/`u64`, copying between the mapping and private
//! memory of the caller (the mapped bytes are only ever copied, never referenced), or an
//! `AtomicU32` in a writable mapping, which is sound over memory shared with other writers.
//! Concurrent writers (here or elsewhere) can leave torn data, never undefined behaviour.

use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

use crate::dmabuf::{AccessError, OutOfBounds};

/// Bytes moved per volatile access in the bulk part of a copy.
const WORD: usize = std::mem::size_of::<u64>();

/// A `MAP_SHARED` mapping of `len` bytes from offset 0, unmapped on drop.
#[derive(Debug)]
pub(crate) struct MappedRegion {
    addr: NonNull<c_void>,
    len: NonZeroUsize,
    writable: bool,
}

// SAFETY: the region is shared memory owned by this value; nothing about it is tied to the
// thread that mapped it.
unsafe impl Send for MappedRegion {}
// SAFETY: `&MappedRegion` never hands out references into the pages; every access is a
// volatile copy or an atomic, which other threads may race like other processes do.
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

    /// The start of the mapping, for FFI out-pointers. Never dereferenced in safe code.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.addr.as_ptr().cast::<u8>()
    }

    /// Pointer to `len` bytes at `offset`, checked to lie inside the mapping.
    fn range(&self, offset: usize, len: usize) -> Result<*mut u8, OutOfBounds> {
        let size = self.len.get();
        match offset.checked_add(len) {
            Some(end) if end <= size => Ok(self.as_ptr().wrapping_add(offset)),
            _ => Err(OutOfBounds { offset, len, size }),
        }
    }

    /// Pointer to an aligned `u32` at `offset` inside the mapping.
    fn word32(&self, offset: usize) -> Result<*mut u32, AccessError> {
        // A power of two, so the low bits are the remainder.
        let align = std::mem::align_of::<u32>();
        if offset & (align - 1) != 0 {
            return Err(AccessError::Misaligned { offset, align });
        }
        // The base is page-aligned, so an aligned offset gives an aligned pointer.
        Ok(self.range(offset, std::mem::size_of::<u32>())?.cast::<u32>())
    }

    /// Copies `dst.len()` bytes at `offset` out of the mapping.
    pub(crate) fn read_into(&self, offset: usize, dst: &mut [u8]) -> Result<(), OutOfBounds> {
        let mut src = self.range(offset, dst.len())?.cast_const();
        let head_len = src.align_offset(WORD).min(dst.len());
        let (head, rest) = dst.split_at_mut(head_len);
        let mut words = rest.chunks_exact_mut(WORD);
        for byte in head {
            // SAFETY: `src` is inside the live readable mapping (range checked above, advanced
            // at most to its end); a volatile read copies the byte without referencing it.
            *byte = unsafe { src.read_volatile() };
            src = src.wrapping_add(1);
        }
        for word in &mut words {
            // SAFETY: as above; `src` is 8-aligned after the head and 8 bytes stay in range.
            let value = unsafe { src.cast::<u64>().read_volatile() };
            word.copy_from_slice(&value.to_ne_bytes());
            src = src.wrapping_add(WORD);
        }
        for byte in words.into_remainder() {
            // SAFETY: as for the head.
            *byte = unsafe { src.read_volatile() };
            src = src.wrapping_add(1);
        }
        Ok(())
    }

    /// Copies `src` into the mapping at `offset`.
    pub(crate) fn write_from(&self, offset: usize, src: &[u8]) -> Result<(), AccessError> {
        if !self.writable {
            return Err(AccessError::ReadOnly);
        }
        let mut dst = self.range(offset, src.len())?;
        let head_len = dst.align_offset(WORD).min(src.len());
        let (head, rest) = src.split_at(head_len);
        let words = rest.chunks_exact(WORD);
        let tail = words.remainder();
        for &byte in head {
            // SAFETY: `dst` is inside the live mapping, which is writable (checked above); a
            // volatile write stores the byte without creating a reference to shared memory.
            unsafe { dst.write_volatile(byte) };
            dst = dst.wrapping_add(1);
        }
        for word in words {
            let mut bytes = [0; WORD];
            bytes.copy_from_slice(word);
            // SAFETY: as above; `dst` is 8-aligned after the head and 8 bytes stay in range.
            unsafe { dst.cast::<u64>().write_volatile(u64::from_ne_bytes(bytes)) };
            dst = dst.wrapping_add(WORD);
        }
        for &byte in tail {
            // SAFETY: as for the head.
            unsafe { dst.write_volatile(byte) };
            dst = dst.wrapping_add(1);
        }
        Ok(())
    }

    /// Volatile read of the aligned `u32` at `offset`: one load instruction on every
    /// supported target (like the kernel's `READ_ONCE`); works on read-only mappings, where
    /// no `AtomicU32` may be made.
    pub(crate) fn read_u32(&self, offset: usize) -> Result<u32, AccessError> {
        let ptr = self.word32(offset)?;
        // SAFETY: `ptr` is aligned and inside the live readable mapping.
        Ok(unsafe { ptr.read_volatile() })
    }

    /// The aligned `u32` at `offset` of a writable mapping as an atomic. Sound over shared
    /// memory: an `AtomicU32` allows concurrent modification by definition.
    pub(crate) fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32, AccessError> {
        if !self.writable {
            return Err(AccessError::ReadOnly);
        }
        let ptr = self.word32(offset)?;
        // SAFETY: `ptr` is 4-aligned, inside a readable and writable mapping that lives as
        // long as the borrow of `self` (it is unmapped only on drop), and the memory is only
        // accessed atomically or volatilely by this process.
        Ok(unsafe { AtomicU32::from_ptr(ptr) })
    }
}

impl Drop for MappedRegion {
    fn drop(&mut self) {
        // SAFETY: `addr`/`len` describe a mapping created by `map_shared` and never unmapped
        // before; atomics borrowed from `self` cannot outlive this call.
        if let Err(errno) = unsafe { munmap(self.addr, self.len.get()) } {
            log::error!("munmap of {} bytes failed: {errno}", self.len);
        }
    }
}
