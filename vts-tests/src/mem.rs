//! CPU access to a received buffer: size, mapping, DMA_BUF sync, test patterns.
//!
//! Hosts serve plain memfds (no udmabuf): they map like dma-bufs but are not dma-bufs, so
//! `DMA_BUF_IOCTL_SYNC` answers ENOTTY. That is accepted only for an fd that really is a
//! memfd; the data checks still run.

use std::os::fd::{AsFd, BorrowedFd};

use heaps::dmabuf::{self, FdKind, Mapping, SyncDirection, SyncPhase};
use heaps::Errno;

use crate::runner::Stop;

/// Bytes of the buffer behind `fd`, from `lseek(SEEK_END)`.
///
/// # Errors
/// A failure when the fd has no size (not a buffer).
pub fn size(fd: BorrowedFd<'_>) -> Result<u64, Stop> {
    dmabuf::size_of(fd).map_err(|e| Stop::failed(format!("lseek(SEEK_END) on the buffer fd: {e}")))
}

/// How CPU access to this fd is bracketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// A dma-buf: DMA_BUF_IOCTL_SYNC start/end around every access.
    DmaBuf,
    /// A plain memfd (host without udmabuf): no sync ioctl exists.
    Memfd,
}

/// Finds out whether `fd` takes DMA_BUF_IOCTL_SYNC.
///
/// # Errors
/// A failure when the fd is neither a dma-buf nor a memfd.
pub fn sync_mode(fd: BorrowedFd<'_>) -> Result<SyncMode, Stop> {
    match dmabuf::fd_kind(fd) {
        Ok(FdKind::DmaBuf { .. }) => Ok(SyncMode::DmaBuf),
        Ok(FdKind::Memfd { .. }) => Ok(SyncMode::Memfd),
        Ok(FdKind::Other { link }) => {
            Err(Stop::failed(format!("buffer fd is neither a dma-buf nor a memfd ({link})")))
        }
        Err(e) => Err(Stop::failed(format!("cannot classify the buffer fd: {e}"))),
    }
}

fn sync(
    fd: BorrowedFd<'_>,
    mode: SyncMode,
    dir: SyncDirection,
    phase: SyncPhase,
) -> Result<(), Stop> {
    match (mode, dmabuf::sync(fd, dir, phase)) {
        (_, Ok(())) | (SyncMode::Memfd, Err(Errno::ENOTTY)) => Ok(()),
        (_, Err(e)) => Err(Stop::failed(format!("DMA_BUF_IOCTL_SYNC {phase:?} {dir:?}: {e}"))),
    }
}

/// Maps `len` bytes of `fd` after checking that the fd is at least that large (touching a
/// mapping past the end of a file raises SIGBUS, which would kill the suite).
///
/// # Errors
/// A failure when the fd is smaller than `len` or cannot be mapped.
pub fn map(fd: BorrowedFd<'_>, len: u64, writable: bool) -> Result<Mapping, Stop> {
    let actual = size(fd)?;
    if actual < len {
        return Err(Stop::failed(format!("buffer fd holds {actual} bytes, less than {len}")));
    }
    let len =
        usize::try_from(len).map_err(|_| Stop::failed(format!("{len} bytes do not fit usize")))?;
    Mapping::new(fd, len, writable)
        .map_err(|e| Stop::failed(format!("mmap of {len} bytes (writable {writable}): {e}")))
}

/// Bytes staged per step when a pattern is written or checked.
const CHUNK: usize = 64 * 1024;

fn usize_len(len: u64) -> Result<usize, Stop> {
    usize::try_from(len).map_err(|_| Stop::failed(format!("{len} bytes do not fit usize")))
}

fn access_failed(what: &str, err: impl std::fmt::Display) -> Stop {
    Stop::failed(format!("{what} through the mapping: {err}"))
}

/// Runs `access` on a fresh read-only mapping of the first `len` bytes, bracketed by
/// sync start/end (read). The mapping is shared memory: `access` copies through its
/// volatile API ([`Mapping::read_into`], [`Mapping::compare`], ...).
///
/// # Errors
/// Mapping or sync failures, or what `access` returns.
pub fn with_read_mapping<T>(
    fd: BorrowedFd<'_>,
    len: u64,
    access: impl FnOnce(&Mapping) -> Result<T, Stop>,
) -> Result<T, Stop> {
    let mode = sync_mode(fd)?;
    let mapping = map(fd, len, false)?;
    sync(fd, mode, SyncDirection::Read, SyncPhase::Start)?;
    let result = access(&mapping);
    let ended = sync(fd, mode, SyncDirection::Read, SyncPhase::End);
    let value = result?;
    ended?;
    Ok(value)
}

/// Runs `access` on a fresh writable mapping of the first `len` bytes, bracketed by
/// sync start/end (read-write).
///
/// # Errors
/// Mapping or sync failures, or what `access` returns.
pub fn with_write_mapping<T>(
    fd: BorrowedFd<'_>,
    len: u64,
    access: impl FnOnce(&Mapping) -> Result<T, Stop>,
) -> Result<T, Stop> {
    let mode = sync_mode(fd)?;
    let mapping = map(fd, len, true)?;
    sync(fd, mode, SyncDirection::ReadWrite, SyncPhase::Start)?;
    let result = access(&mapping);
    let ended = sync(fd, mode, SyncDirection::ReadWrite, SyncPhase::End);
    let value = result?;
    ended?;
    Ok(value)
}

/// Runs `access` on a private copy of the first `len` bytes of `fd`, read under sync. The
/// buffer is shared memory, so it is copied out rather than borrowed.
///
/// # Errors
/// Mapping or sync failures, or what `access` returns.
pub fn read_bytes<T>(
    fd: BorrowedFd<'_>,
    len: u64,
    access: impl FnOnce(&[u8]) -> Result<T, Stop>,
) -> Result<T, Stop> {
    let mut copy = vec![0; usize_len(len)?];
    with_read_mapping(fd, len, |mapping| {
        mapping.read_into(0, &mut copy).map_err(|e| access_failed("read", e))
    })?;
    access(&copy)
}

/// Runs `access` on a private copy of the first `len` bytes of `fd` and writes the copy
/// back, all inside one read-write sync bracket (a read-modify-write of the whole range).
///
/// # Errors
/// Mapping or sync failures, or what `access` returns (then nothing is written back).
pub fn write_bytes<T>(
    fd: BorrowedFd<'_>,
    len: u64,
    access: impl FnOnce(&mut [u8]) -> Result<T, Stop>,
) -> Result<T, Stop> {
    let mut copy = vec![0; usize_len(len)?];
    with_write_mapping(fd, len, |mapping| {
        mapping.read_into(0, &mut copy).map_err(|e| access_failed("read", e))?;
        let value = access(&mut copy)?;
        mapping.write_from(0, &copy).map_err(|e| access_failed("write", e))?;
        Ok(value)
    })
}

/// Byte `index` of the test pattern for `seed`: varies with position and seed, never a
/// constant run, so shifted or stale data shows.
pub fn pattern_byte(seed: u32, index: usize) -> u8 {
    let mixed = (index as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(u64::from(seed).wrapping_mul(0xD1B5_4A32_D192_ED03));
    (mixed >> 56) as u8
}

/// Fills `bytes` with the pattern of `seed`.
pub fn fill_pattern(bytes: &mut [u8], seed: u32) {
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = pattern_byte(seed, i);
    }
}

/// The first index where `bytes` differs from the pattern of `seed`.
pub fn pattern_mismatch(bytes: &[u8], seed: u32) -> Option<usize> {
    bytes.iter().enumerate().position(|(i, &b)| b != pattern_byte(seed, i))
}

/// Writes the pattern of `seed` over the first `len` bytes of `fd`.
///
/// # Errors
/// Mapping or sync failures.
pub fn write_pattern(fd: impl AsFd, len: u64, seed: u32) -> Result<(), Stop> {
    let total = usize_len(len)?;
    with_write_mapping(fd.as_fd(), len, |mapping| {
        let mut staged = vec![0; CHUNK.min(total)];
        let mut at = 0;
        while at < total {
            let step = (total - at).min(CHUNK);
            let chunk = staged.get_mut(..step).unwrap_or_default();
            for (i, b) in chunk.iter_mut().enumerate() {
                *b = pattern_byte(seed, at + i);
            }
            mapping.write_from(at, chunk).map_err(|e| access_failed("write", e))?;
            at += step;
        }
        Ok(())
    })
}

/// Checks that the first `len` bytes of `fd` hold the pattern of `seed`, on a new mapping.
///
/// # Errors
/// A failure naming the first differing offset.
pub fn check_pattern(fd: impl AsFd, len: u64, seed: u32) -> Result<(), Stop> {
    let total = usize_len(len)?;
    let mismatch = with_read_mapping(fd.as_fd(), len, |mapping| {
        first_in_chunks(mapping, total, |at, i, b| b != pattern_byte(seed, at + i))
    })?;
    match mismatch {
        Some((at, b)) => Err(Stop::failed(format!(
            "byte {at} reads {b:#04x}, the pattern wrote {:#04x}",
            pattern_byte(seed, at)
        ))),
        None => Ok(()),
    }
}

/// The first non-zero byte among the first `len` bytes of `fd`, with its value.
///
/// # Errors
/// Mapping or sync failures.
pub fn first_non_zero(fd: impl AsFd, len: u64) -> Result<Option<(usize, u8)>, Stop> {
    let total = usize_len(len)?;
    with_read_mapping(fd.as_fd(), len, |mapping| first_in_chunks(mapping, total, |_, _, b| b != 0))
}

/// The offset and value of the first of `total` bytes of `mapping` that `hit(chunk offset,
/// index in the chunk, byte)` picks, read [`CHUNK`] bytes at a time into private memory.
fn first_in_chunks(
    mapping: &Mapping,
    total: usize,
    hit: impl Fn(usize, usize, u8) -> bool,
) -> Result<Option<(usize, u8)>, Stop> {
    let mut staged = vec![0; CHUNK.min(total)];
    let mut at = 0;
    while at < total {
        let step = (total - at).min(CHUNK);
        let chunk = staged.get_mut(..step).unwrap_or_default();
        mapping.read_into(at, chunk).map_err(|e| access_failed("read", e))?;
        if let Some((i, &b)) = chunk.iter().enumerate().find(|&(i, &b)| hit(at, i, b)) {
            return Ok(Some((at + i, b)));
        }
        at += step;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_depends_on_seed_and_position() {
        let mut a = vec![0u8; 4096];
        fill_pattern(&mut a, 1);
        assert_eq!(pattern_mismatch(&a, 1), None);
        assert!(pattern_mismatch(&a, 2).is_some());
        assert!(a.windows(2).any(|w| w[0] != w[1]));
        a[100] ^= 1;
        assert_eq!(pattern_mismatch(&a, 1), Some(100));
    }

    fn memfd(len: u64) -> std::os::fd::OwnedFd {
        let heap = heaps::MemfdHeap::plain("vts-mem").unwrap();
        heaps::Heap::allocate(&heap, std::num::NonZeroU64::new(len).unwrap()).unwrap()
    }

    #[test]
    fn pattern_spanning_several_chunks_round_trips_and_a_changed_byte_is_named() {
        let len = 3 * CHUNK as u64 + 4096;
        let fd = memfd(len);
        assert_eq!(first_non_zero(&fd, len).unwrap(), None);
        write_pattern(&fd, len, 5).unwrap();
        check_pattern(&fd, len, 5).unwrap();
        let at = 2 * CHUNK + 17;
        write_bytes(fd.as_fd(), len, |bytes| {
            bytes[at] = !pattern_byte(5, at);
            Ok(())
        })
        .unwrap();
        let err = check_pattern(&fd, len, 5).unwrap_err();
        assert!(err.reason().starts_with(&format!("byte {at} reads")), "{err}");
        let copy = read_bytes(fd.as_fd(), len, |bytes| Ok(bytes.to_vec())).unwrap();
        assert_eq!(pattern_mismatch(&copy, 5), Some(at));
    }

    #[test]
    fn first_non_zero_finds_a_byte_past_the_first_chunk() {
        let len = 2 * CHUNK as u64;
        let fd = memfd(len);
        with_write_mapping(fd.as_fd(), len, |m| {
            m.write_from(CHUNK + 3, &[7]).map_err(|e| Stop::failed(e.to_string()))
        })
        .unwrap();
        assert_eq!(first_non_zero(&fd, len).unwrap(), Some((CHUNK + 3, 7)));
    }

    #[test]
    fn a_regular_file_is_not_accepted_as_a_buffer() {
        let file = tempfile::tempfile().unwrap();
        file.set_len(8192).unwrap();
        assert!(write_pattern(&file, 8192, 7).is_err(), "a regular file is not a buffer");
    }

    #[test]
    fn mapping_past_the_end_is_refused_before_touching_it() {
        let file = tempfile::tempfile().unwrap();
        file.set_len(4096).unwrap();
        let err = map(file.as_fd(), 8192, false).unwrap_err();
        assert!(err.reason().contains("less than 8192"), "{err}");
    }
}
