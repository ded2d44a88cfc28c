//! One imported buffer: its decoded handle, its own fds, the handle handed back to the
//! caller, and the CPU-lock state (mapping, nesting depth, cache-sync direction).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hal_interface::handle::{FD_BUFFER, FD_COUNT, FD_METADATA};
use hal_interface::BufferHandle;
use heaps::dmabuf::{self, FdKind, Mapping, SyncDirection, SyncPhase};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::abi::{ARect, MapperError, NATIVE_HANDLE_VERSION};
use crate::shared::MetadataRegion;

/// `BufferUsage.CPU_READ_MASK`.
const CPU_READ_MASK: u64 = 0xf;
/// `BufferUsage.CPU_WRITE_MASK`.
const CPU_WRITE_MASK: u64 = 0xf0;
/// How long a fence wait runs before it is logged (then it goes on without limit, as the
/// caller asked for data the GPU has not finished).
const FENCE_WARN_AFTER: Duration = Duration::from_secs(1);

/// An imported buffer. Shared (`Arc`) between the registry and callers in flight, so a
/// concurrent `freeBuffer` never unmaps memory another thread is still using inside the
/// library.
#[derive(Debug)]
pub struct Imported {
    /// The `native_handle_t` handed back by `importBuffer`: header, then this buffer's own fd
    /// numbers, then the ints. Its address is the registry key; it never moves.
    raw: Box<[i32]>,
    handle: BufferHandle,
    buffer: OwnedFd,
    metadata: MetadataRegion,
    lock: Mutex<LockState>,
}

#[derive(Debug, Default)]
struct LockState {
    /// The whole buffer, mapped on the first lock and kept until free.
    mapping: Option<Mapping>,
    /// Outstanding `lock` calls.
    depth: u32,
    /// Union of the directions of the outstanding locks (for the END on the last unlock).
    direction: Option<SyncDirection>,
}

fn union(a: Option<SyncDirection>, b: SyncDirection) -> SyncDirection {
    match (a, b) {
        (None, b) => b,
        (Some(a), b) if a == b => b,
        _ => SyncDirection::ReadWrite,
    }
}

/// `DMA_BUF_IOCTL_SYNC`, where the fd supports it (memfd buffers on a host do not).
fn cache_sync(fd: &OwnedFd, direction: SyncDirection, phase: SyncPhase) {
    match dmabuf::sync(fd.as_fd(), direction, phase) {
        Ok(()) | Err(Errno::ENOTTY) => {}
        Err(errno) => log::warn!("DMA_BUF_IOCTL_SYNC {direction:?} {phase:?} failed: {errno}"),
    }
}

/// Whether the file behind `fd` can never shrink under a mapping: a dma-buf, or a memfd
/// sealed against shrinking. A file that another process can truncate would turn a later
/// access through the mapping into SIGBUS in this process.
pub fn cannot_shrink(fd: BorrowedFd<'_>) -> bool {
    match fcntl(fd, FcntlArg::F_GET_SEALS) {
        Ok(seals) => SealFlag::from_bits_truncate(seals).contains(SealFlag::F_SEAL_SHRINK),
        // EINVAL: not a memfd; only a dma-buf is then known to keep its size.
        Err(_) => matches!(dmabuf::fd_kind(fd), Ok(FdKind::DmaBuf { .. })),
    }
}

/// Waits for `fence` to signal, then drops (closes) it.
///
/// # Errors
///
/// `BAD_VALUE` for an fd that cannot be polled.
pub fn wait_fence(fence: OwnedFd) -> Result<(), MapperError> {
    let warn_ms = u16::try_from(FENCE_WARN_AFTER.as_millis()).unwrap_or(u16::MAX);
    let mut warned = false;
    loop {
        let mut fds = [PollFd::new(fence.as_fd(), PollFlags::POLLIN)];
        let timeout = if warned { PollTimeout::NONE } else { PollTimeout::from(warn_ms) };
        match poll(&mut fds, timeout) {
            Ok(0) => {
                log::warn!(
                    "acquire fence {} not signalled after {FENCE_WARN_AFTER:?}; waiting",
                    fence.as_raw_fd()
                );
                warned = true;
            }
            Ok(_) => {
                let revents = fds.first().and_then(PollFd::revents).unwrap_or(PollFlags::empty());
                if revents.intersects(PollFlags::POLLNVAL | PollFlags::POLLERR) {
                    return Err(MapperError::BadValue);
                }
                return Ok(());
            }
            Err(Errno::EINTR) => {}
            Err(errno) => {
                log::warn!("poll on acquire fence failed: {errno}");
                return Err(MapperError::BadValue);
            }
        }
    }
}

/// The cache-sync direction of a lock's `cpuUsage`, or `BAD_VALUE` for 0 or non-CPU bits.
fn lock_direction(cpu_usage: u64) -> Result<SyncDirection, MapperError> {
    if cpu_usage & !(CPU_READ_MASK | CPU_WRITE_MASK) != 0 {
        return Err(MapperError::BadValue);
    }
    match (cpu_usage & CPU_READ_MASK != 0, cpu_usage & CPU_WRITE_MASK != 0) {
        (true, true) => Ok(SyncDirection::ReadWrite),
        (true, false) => Ok(SyncDirection::Read),
        (false, true) => Ok(SyncDirection::Write),
        (false, false) => Err(MapperError::BadValue),
    }
}

impl Imported {
    /// Validates a received handle (its ints decoded, its fds already duplicated into this
    /// process) and builds the imported buffer.
    ///
    /// # Errors
    ///
    /// `BAD_BUFFER` for a handle that does not decode, fds that are not what the ints say
    /// (buffer smaller than the allocation size, metadata region of the wrong size or with a
    /// bad header).
    pub fn new(fds: Vec<OwnedFd>, ints: Vec<i32>) -> Result<Imported, MapperError> {
        let handle = BufferHandle::decode_parts(fds.len(), &ints).map_err(|error| {
            log::warn!("importBuffer: {error}");
            MapperError::BadBuffer
        })?;
        let mut fds = fds.into_iter();
        let (Some(buffer), Some(metadata), None) = (fds.next(), fds.next(), fds.next()) else {
            return Err(MapperError::BadBuffer);
        };
        const _: () = assert!(FD_BUFFER == 0 && FD_METADATA == 1);
        let size = dmabuf::size_of(buffer.as_fd()).map_err(|errno| {
            log::warn!("importBuffer: buffer fd has no size: {errno}");
            MapperError::BadBuffer
        })?;
        if !cannot_shrink(buffer.as_fd()) {
            log::warn!("importBuffer: buffer fd is neither a dma-buf nor a shrink-sealed memfd");
            return Err(MapperError::BadBuffer);
        }
        if size < handle.alloc_size {
            log::warn!(
                "importBuffer: buffer fd has {size} bytes, handle says {}",
                handle.alloc_size
            );
            return Err(MapperError::BadBuffer);
        }
        let metadata = MetadataRegion::open(metadata, &handle)?;
        let header = [
            NATIVE_HANDLE_VERSION,
            i32::try_from(FD_COUNT).map_err(|_| MapperError::BadBuffer)?,
            i32::try_from(ints.len()).map_err(|_| MapperError::BadBuffer)?,
        ];
        let raw: Vec<i32> = header
            .into_iter()
            .chain([buffer.as_raw_fd(), metadata.fd().as_raw_fd()])
            .chain(ints)
            .collect();
        Ok(Imported {
            raw: raw.into_boxed_slice(),
            handle,
            buffer,
            metadata,
            lock: Mutex::new(LockState::default()),
        })
    }

    /// The address of the handle handed to the caller (the registry key).
    pub fn key(&self) -> usize {
        self.raw.as_ptr() as usize
    }

    /// The handle handed to the caller, as a pointer for C.
    pub fn raw_ptr(&self) -> *const i32 {
        self.raw.as_ptr()
    }

    /// The decoded handle.
    pub fn handle(&self) -> &BufferHandle {
        &self.handle
    }

    /// The shared metadata region.
    pub fn metadata(&self) -> &MetadataRegion {
        &self.metadata
    }

    /// `(numFds, numInts)` of the handle as it travels.
    pub fn transport_size(&self) -> (u32, u32) {
        let ints = self.raw.len().saturating_sub(3).saturating_sub(FD_COUNT);
        (u32::try_from(FD_COUNT).unwrap_or(u32::MAX), u32::try_from(ints).unwrap_or(u32::MAX))
    }

    fn state(&self) -> MutexGuard<'_, LockState> {
        // A panic inside the library (caught at the FFI edge) must not wedge the buffer.
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ensure_mapped<'a>(&self, state: &'a mut LockState) -> Result<&'a Mapping, MapperError> {
        if state.mapping.is_none() {
            let len =
                usize::try_from(self.handle.alloc_size).map_err(|_| MapperError::NoResources)?;
            let mapping = match Mapping::new(self.buffer.as_fd(), len, true) {
                Err(Errno::EACCES | Errno::EPERM) => Mapping::new(self.buffer.as_fd(), len, false),
                other => other,
            }
            .map_err(|errno| {
                log::warn!("mmap of {len} bytes failed: {errno}");
                MapperError::NoResources
            })?;
            state.mapping = Some(mapping);
        }
        state.mapping.as_ref().ok_or(MapperError::NoResources)
    }

    fn check_region(&self, region: ARect) -> Result<(), MapperError> {
        if region == ARect::default() {
            return Ok(());
        }
        let width = i64::from(self.handle.width);
        let height = i64::from(self.handle.height);
        let (l, t, r, b) = (
            i64::from(region.left),
            i64::from(region.top),
            i64::from(region.right),
            i64::from(region.bottom),
        );
        if l < 0 || t < 0 || l > r || t > b || r > width || b > height {
            return Err(MapperError::BadValue);
        }
        Ok(())
    }

    /// `lock`: the start of the whole buffer's mapping. `fence` was already waited for.
    ///
    /// # Errors
    ///
    /// `BAD_VALUE` for a bad usage or region, or a write lock of a buffer only mappable
    /// read-only; `NO_RESOURCES` when it cannot be mapped.
    pub fn lock(&self, cpu_usage: u64, region: ARect) -> Result<*mut u8, MapperError> {
        let direction = lock_direction(cpu_usage)?;
        self.check_region(region)?;
        let mut state = self.state();
        let new_depth = state.depth.checked_add(1).ok_or(MapperError::NoResources)?;
        let mapping = self.ensure_mapped(&mut state)?;
        if direction != SyncDirection::Read && !mapping.is_writable() {
            return Err(MapperError::BadValue);
        }
        let ptr = mapping.as_ptr();
        // Every lock invalidates (a nested lock may follow device writes); one END on the
        // last unlock covers the union of the directions.
        cache_sync(&self.buffer, direction, SyncPhase::Start);
        state.direction = Some(union(state.direction, direction));
        state.depth = new_depth;
        Ok(ptr)
    }

    /// `unlock`.
    ///
    /// # Errors
    ///
    /// `BAD_BUFFER` when the buffer is not locked.
    pub fn unlock(&self) -> Result<(), MapperError> {
        let mut state = self.state();
        state.depth = state.depth.checked_sub(1).ok_or(MapperError::BadBuffer)?;
        if state.depth == 0 {
            if let Some(direction) = state.direction.take() {
                cache_sync(&self.buffer, direction, SyncPhase::End);
            }
        }
        Ok(())
    }

    /// `flushLockedBuffer`: END(write) then START(write), so the device sees CPU writes.
    ///
    /// # Errors
    ///
    /// `BAD_BUFFER` when the buffer is not locked.
    pub fn flush(&self) -> Result<(), MapperError> {
        let state = self.state();
        match state.direction {
            Some(direction) if state.depth > 0 => {
                if direction != SyncDirection::Read {
                    cache_sync(&self.buffer, SyncDirection::Write, SyncPhase::End);
                    cache_sync(&self.buffer, SyncDirection::Write, SyncPhase::Start);
                }
                Ok(())
            }
            _ => Err(MapperError::BadBuffer),
        }
    }

    /// `rereadLockedBuffer`: START(read), so the CPU sees device writes.
    ///
    /// # Errors
    ///
    /// `BAD_BUFFER` when the buffer is not locked.
    pub fn reread(&self) -> Result<(), MapperError> {
        let state = self.state();
        if state.depth == 0 {
            return Err(MapperError::BadBuffer);
        }
        cache_sync(&self.buffer, SyncDirection::Read, SyncPhase::Start);
        Ok(())
    }

    /// `getReservedRegion`: the region's address and size; null and 0 when there is none.
    ///
    /// # Errors
    ///
    /// `NO_RESOURCES` when the buffer cannot be mapped.
    pub fn reserved_region(&self) -> Result<(*mut u8, u64), MapperError> {
        let size = self.handle.reserved_size;
        if size == 0 {
            return Ok((std::ptr::null_mut(), 0));
        }
        let offset =
            usize::try_from(self.handle.reserved_offset).map_err(|_| MapperError::NoResources)?;
        let mut state = self.state();
        let mapping = self.ensure_mapped(&mut state)?;
        // decode_parts checked offset + size <= alloc_size == the mapping's length.
        if offset >= mapping.len() {
            return Err(MapperError::NoResources);
        }
        Ok((mapping.as_ptr().wrapping_add(offset), size))
    }
}

impl Drop for Imported {
    fn drop(&mut self) {
        // A buffer freed while locked: close the CPU access so the sync stays balanced.
        let state = self.lock.get_mut().unwrap_or_else(PoisonError::into_inner);
        if state.depth > 0 {
            if let Some(direction) = state.direction.take() {
                cache_sync(&self.buffer, direction, SyncPhase::End);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_usage_needs_cpu_bits_only() {
        assert_eq!(lock_direction(0), Err(MapperError::BadValue));
        assert_eq!(lock_direction(0x3), Ok(SyncDirection::Read));
        assert_eq!(lock_direction(0x30), Ok(SyncDirection::Write));
        assert_eq!(lock_direction(0x33), Ok(SyncDirection::ReadWrite));
        assert_eq!(lock_direction(0x133), Err(MapperError::BadValue));
    }

    #[test]
    fn nested_directions_widen() {
        assert_eq!(union(None, SyncDirection::Read), SyncDirection::Read);
        assert_eq!(union(Some(SyncDirection::Read), SyncDirection::Read), SyncDirection::Read);
        assert_eq!(
            union(Some(SyncDirection::Read), SyncDirection::Write),
            SyncDirection::ReadWrite
        );
    }
}
