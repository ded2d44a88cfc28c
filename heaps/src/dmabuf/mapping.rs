//! CPU mappings of buffers with a volatile access API.
//!
//! A `MAP_SHARED` mapping is written by other processes and devices while this process
//! reads it, so a `&[u8]` over it would be undefined behaviour (the compiler may assume the
//! bytes behind a reference never change). [`Mapping`] therefore hands out no references:
//! bytes are copied in and out of caller memory with volatile accesses, in the manner of
//! rust-vmm `vm-memory`'s volatile slices, and words used for cross-process sequencing are
//! accessed as atomics.

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{fence, Ordering};

use nix::errno::Errno;

use crate::sys::mman::MappedRegion;

/// Bytes staged per step by [`Mapping::fill`] and [`Mapping::compare`].
const CHUNK: usize = 4096;

/// An access that does not lie inside the mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{len} bytes at offset {offset} lie outside the {size}-byte mapping")]
pub struct OutOfBounds {
    /// First byte asked for.
    pub offset: usize,
    /// Bytes asked for.
    pub len: usize,
    /// Length of the mapping.
    pub size: usize,
}

/// Why a [`Mapping`] access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The range is not inside the mapping.
    #[error(transparent)]
    OutOfBounds(#[from] OutOfBounds),
    /// A write to a mapping made read-only.
    #[error("the mapping is read-only")]
    ReadOnly,
    /// A word access at an offset that is not a multiple of the word size.
    #[error("offset {offset} is not {align}-byte aligned")]
    Misaligned {
        /// The offset asked for.
        offset: usize,
        /// The alignment the access needs.
        align: usize,
    },
    /// A memory ordering the operation cannot have (a `Release` load, an `Acquire` store).
    #[error("{ordering:?} is not a valid ordering for this access")]
    InvalidOrdering {
        /// The ordering asked for.
        ordering: Ordering,
    },
}

/// A `MAP_SHARED` mapping of a buffer from offset 0, unmapped on drop.
///
/// The bytes are shared with every other holder of the buffer (and with devices): they can
/// change between two reads. Bracket CPU access with [`super::sync`].
#[derive(Debug)]
pub struct Mapping {
    region: MappedRegion,
}

impl Mapping {
    /// Maps `len` bytes of `fd`, read-only or read-write.
    ///
    /// # Errors
    ///
    /// EINVAL for `len == 0` or past the end (CMA heap), EACCES for a writable mapping of an
    /// fd opened read-only, ENODEV for fds that cannot be mapped.
    pub fn new(fd: BorrowedFd<'_>, len: usize, writable: bool) -> Result<Self, Errno> {
        let len = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
        Ok(Self { region: MappedRegion::map_shared(fd, len, writable)? })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Always false (mappings are never empty); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether the mapping was made writable.
    pub fn is_writable(&self) -> bool {
        self.region.is_writable()
    }

    /// The start of the mapping as a raw pointer, for handing to C (a mapper's `lock`
    /// out-pointer). Valid while `self` lives; safe Rust must use the methods below instead.
    pub fn as_ptr(&self) -> *mut u8 {
        self.region.as_ptr()
    }

    /// Copies `dst.len()` bytes starting at `offset` into `dst`.
    ///
    /// # Errors
    ///
    /// [`OutOfBounds`] when the range does not fit the mapping (nothing is copied).
    pub fn read_into(&self, offset: usize, dst: &mut [u8]) -> Result<(), OutOfBounds> {
        self.region.read_into(offset, dst)
    }

    /// Copies `src` into the mapping at `offset`.
    ///
    /// # Errors
    ///
    /// [`AccessError::ReadOnly`] or [`AccessError::OutOfBounds`] (nothing is written).
    pub fn write_from(&self, offset: usize, src: &[u8]) -> Result<(), AccessError> {
        self.region.write_from(offset, src)
    }

    /// Sets `len` bytes at `offset` to `byte`.
    ///
    /// # Errors
    ///
    /// As [`Mapping::write_from`]; the range is checked before anything is written.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<(), AccessError> {
        self.check_write(offset, len)?;
        let pattern = [byte; CHUNK];
        let mut done = 0;
        while done < len {
            let step = (len - done).min(CHUNK);
            let chunk = pattern.get(..step).unwrap_or_default();
            self.region.write_from(offset.saturating_add(done), chunk)?;
            done += step;
        }
        Ok(())
    }

    /// Whether the bytes at `offset` equal `expected`.
    ///
    /// # Errors
    ///
    /// [`OutOfBounds`] when the range does not fit the mapping.
    pub fn compare(&self, offset: usize, expected: &[u8]) -> Result<bool, OutOfBounds> {
        self.check_read(offset, expected.len())?;
        let mut staged = [0u8; CHUNK];
        let mut at = offset;
        for want in expected.chunks(CHUNK) {
            let got = staged.get_mut(..want.len()).unwrap_or_default();
            self.region.read_into(at, got)?;
            if got != want {
                return Ok(false);
            }
            at = at.saturating_add(want.len());
        }
        Ok(true)
    }

    /// Whether every one of `len` bytes at `offset` is `byte`.
    ///
    /// # Errors
    ///
    /// [`OutOfBounds`] when the range does not fit the mapping.
    pub fn all_equal(&self, offset: usize, len: usize, byte: u8) -> Result<bool, OutOfBounds> {
        self.check_read(offset, len)?;
        let mut staged = [0u8; CHUNK];
        let mut done = 0;
        while done < len {
            let step = (len - done).min(CHUNK);
            let got = staged.get_mut(..step).unwrap_or_default();
            self.region.read_into(offset.saturating_add(done), got)?;
            if got.iter().any(|&b| b != byte) {
                return Ok(false);
            }
            done += step;
        }
        Ok(true)
    }

    /// Atomic load of the `u32` at `offset` (native byte order). On a read-only mapping this
    /// is a single volatile load followed by a fence of `order` (no atomic object may live in
    /// read-only memory), which orders like an `order` load for `Relaxed` and `Acquire`.
    ///
    /// # Errors
    ///
    /// [`AccessError::Misaligned`] unless `offset` is a multiple of 4,
    /// [`AccessError::OutOfBounds`], [`AccessError::InvalidOrdering`] for `Release`/`AcqRel`.
    pub fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32, AccessError> {
        if matches!(order, Ordering::Release | Ordering::AcqRel) {
            return Err(AccessError::InvalidOrdering { ordering: order });
        }
        if self.is_writable() {
            return Ok(self.region.atomic_u32(offset)?.load(order));
        }
        let value = self.region.read_u32(offset)?;
        if order != Ordering::Relaxed {
            fence(order);
        }
        Ok(value)
    }

    /// Atomic store of `value` as the `u32` at `offset` (native byte order).
    ///
    /// # Errors
    ///
    /// [`AccessError::ReadOnly`], [`AccessError::Misaligned`], [`AccessError::OutOfBounds`],
    /// [`AccessError::InvalidOrdering`] for `Acquire`/`AcqRel`.
    pub fn store_u32(&self, offset: usize, value: u32, order: Ordering) -> Result<(), AccessError> {
        if matches!(order, Ordering::Acquire | Ordering::AcqRel) {
            return Err(AccessError::InvalidOrdering { ordering: order });
        }
        self.region.atomic_u32(offset)?.store(value, order);
        Ok(())
    }

    /// Atomic wrapping add to the `u32` at `offset`; returns the previous value.
    ///
    /// # Errors
    ///
    /// [`AccessError::ReadOnly`], [`AccessError::Misaligned`], [`AccessError::OutOfBounds`].
    pub fn fetch_add_u32(
        &self,
        offset: usize,
        value: u32,
        order: Ordering,
    ) -> Result<u32, AccessError> {
        Ok(self.region.atomic_u32(offset)?.fetch_add(value, order))
    }

    fn check_read(&self, offset: usize, len: usize) -> Result<(), OutOfBounds> {
        let size = self.len();
        match offset.checked_add(len) {
            Some(end) if end <= size => Ok(()),
            _ => Err(OutOfBounds { offset, len, size }),
        }
    }

    fn check_write(&self, offset: usize, len: usize) -> Result<(), AccessError> {
        if !self.is_writable() {
            return Err(AccessError::ReadOnly);
        }
        Ok(self.check_read(offset, len)?)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    fn file(len: u64) -> std::fs::File {
        let file = tempfile::tempfile().unwrap();
        file.set_len(len).unwrap();
        file
    }

    #[test]
    fn zero_length_mapping_is_einval() {
        let file = tempfile::tempfile().unwrap();
        assert_eq!(Mapping::new(file.as_fd(), 0, false).unwrap_err(), Errno::EINVAL);
    }

    #[test]
    fn read_only_mapping_refuses_every_write() {
        let file = file(4096);
        let map = Mapping::new(file.as_fd(), 4096, false).unwrap();
        assert_eq!((map.len(), map.is_writable(), map.is_empty()), (4096, false, false));
        assert_eq!(map.write_from(0, &[1]), Err(AccessError::ReadOnly));
        assert_eq!(map.fill(0, 4096, 1), Err(AccessError::ReadOnly));
        assert_eq!(map.store_u32(0, 1, Ordering::Release), Err(AccessError::ReadOnly));
        assert_eq!(map.fetch_add_u32(0, 1, Ordering::AcqRel), Err(AccessError::ReadOnly));
        assert!(map.all_equal(0, 4096, 0).unwrap());
        assert_eq!(map.load_u32(8, Ordering::Acquire), Ok(0));
    }

    #[test]
    fn accesses_past_the_end_are_out_of_bounds_and_write_nothing() {
        let file = file(4096);
        let map = Mapping::new(file.as_fd(), 4096, true).unwrap();
        let oob = OutOfBounds { offset: 4090, len: 7, size: 4096 };
        assert_eq!(map.write_from(4090, &[0xFF; 7]), Err(AccessError::OutOfBounds(oob)));
        assert_eq!(map.fill(4090, 7, 0xFF), Err(AccessError::OutOfBounds(oob)));
        assert_eq!(map.read_into(4090, &mut [0; 7]), Err(oob));
        assert_eq!(map.compare(4090, &[0; 7]), Err(oob));
        assert_eq!(map.all_equal(4090, 7, 0), Err(oob));
        let huge = OutOfBounds { offset: usize::MAX, len: 1, size: 4096 };
        assert_eq!(map.read_into(usize::MAX, &mut [0; 1]), Err(huge));
        assert!(matches!(map.load_u32(4096, Ordering::Relaxed), Err(AccessError::OutOfBounds(_))));
        assert!(matches!(
            map.store_u32(usize::MAX - 3, 1, Ordering::Relaxed),
            Err(AccessError::OutOfBounds(_))
        ));
        assert!(map.all_equal(0, 4096, 0).unwrap(), "a refused write wrote something");
        map.write_from(4089, &[0xFF; 7]).unwrap();
        assert!(map.compare(4089, &[0xFF; 7]).unwrap());
        assert!(map.read_into(4096, &mut []).is_ok(), "an empty range at the end is inside");
    }

    #[test]
    fn word_accesses_need_four_byte_alignment() {
        let file = file(4096);
        let map = Mapping::new(file.as_fd(), 4096, true).unwrap();
        let misaligned = AccessError::Misaligned { offset: 6, align: 4 };
        assert_eq!(map.load_u32(6, Ordering::Relaxed), Err(misaligned));
        assert_eq!(map.store_u32(6, 1, Ordering::Relaxed), Err(misaligned));
        assert_eq!(map.fetch_add_u32(6, 1, Ordering::Relaxed), Err(misaligned));
        let reader = Mapping::new(file.as_fd(), 4096, false).unwrap();
        assert_eq!(reader.load_u32(2, Ordering::Relaxed), Err(misaligned_at(2)));
    }

    fn misaligned_at(offset: usize) -> AccessError {
        AccessError::Misaligned { offset, align: 4 }
    }

    #[test]
    fn orderings_an_access_cannot_have_are_refused() {
        let file = file(4096);
        let map = Mapping::new(file.as_fd(), 4096, true).unwrap();
        for ordering in [Ordering::Release, Ordering::AcqRel] {
            assert_eq!(map.load_u32(0, ordering), Err(AccessError::InvalidOrdering { ordering }));
        }
        for ordering in [Ordering::Acquire, Ordering::AcqRel] {
            assert_eq!(
                map.store_u32(0, 1, ordering),
                Err(AccessError::InvalidOrdering { ordering })
            );
        }
        assert_eq!(map.load_u32(0, Ordering::SeqCst), Ok(0));
    }

    #[test]
    fn unaligned_copies_round_trip_through_every_offset_and_length() {
        let file = file(8192);
        let map = Mapping::new(file.as_fd(), 8192, true).unwrap();
        let pattern: Vec<u8> = (0..100u8).collect();
        for offset in 0..17 {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 100] {
                let src = &pattern[..len];
                map.fill(0, 256, 0xEE).unwrap();
                map.write_from(offset, src).unwrap();
                let mut back = vec![0; len];
                map.read_into(offset, &mut back).unwrap();
                assert_eq!(back, src, "offset {offset} len {len}");
                assert!(map.compare(offset, src).unwrap());
                assert!(map.all_equal(0, offset, 0xEE).unwrap(), "bytes before were touched");
                assert!(map.all_equal(offset + len, 64, 0xEE).unwrap(), "bytes after were touched");
            }
        }
    }

    #[test]
    fn fill_and_compare_span_many_chunks() {
        let file = file(3 * 4096 + 100);
        let map = Mapping::new(file.as_fd(), 3 * 4096 + 100, true).unwrap();
        map.fill(3, 3 * 4096 + 90, 0x5A).unwrap();
        assert!(map.all_equal(3, 3 * 4096 + 90, 0x5A).unwrap());
        assert!(map.all_equal(0, 3, 0).unwrap() && map.all_equal(3 * 4096 + 93, 7, 0).unwrap());
        let expected = vec![0x5A; 3 * 4096 + 90];
        assert!(map.compare(3, &expected).unwrap());
        map.write_from(2 * 4096 + 50, &[0]).unwrap();
        assert!(!map.compare(3, &expected).unwrap(), "a difference in a later chunk is missed");
        assert!(!map.all_equal(3, 3 * 4096 + 90, 0x5A).unwrap());
    }

    #[test]
    fn writes_through_one_mapping_are_seen_by_another() {
        let file = file(8192);
        let writer = Mapping::new(file.as_fd(), 8192, true).unwrap();
        let reader = Mapping::new(file.as_fd(), 8192, false).unwrap();
        writer.write_from(4095, b"shared").unwrap();
        assert!(reader.compare(4095, b"shared").unwrap());
        writer.store_u32(16, 0xDEAD_BEEF, Ordering::Release).unwrap();
        assert_eq!(reader.load_u32(16, Ordering::Acquire), Ok(0xDEAD_BEEF));
        let mut word = [0; 4];
        reader.read_into(16, &mut word).unwrap();
        assert_eq!(u32::from_ne_bytes(word), 0xDEAD_BEEF);
    }

    #[test]
    fn fetch_add_counts_across_threads_and_mappings() {
        let file = file(4096);
        let maps: Vec<Mapping> =
            (0..4).map(|_| Mapping::new(file.as_fd(), 4096, true).unwrap()).collect();
        std::thread::scope(|scope| {
            for map in &maps {
                scope.spawn(move || {
                    for _ in 0..1000 {
                        map.fetch_add_u32(64, 1, Ordering::AcqRel).unwrap();
                    }
                });
            }
        });
        assert_eq!(maps[0].load_u32(64, Ordering::Acquire), Ok(4000));
        assert_eq!(maps[3].fetch_add_u32(64, u32::MAX, Ordering::Relaxed), Ok(4000));
        assert_eq!(maps[1].load_u32(64, Ordering::Relaxed), Ok(3999), "adds wrap");
    }

    #[test]
    fn as_ptr_is_the_page_aligned_start() {
        let file = file(4096);
        let map = Mapping::new(file.as_fd(), 4096, false).unwrap();
        assert!(!map.as_ptr().is_null());
        assert_eq!(map.as_ptr().align_offset(4096), 0);
    }
}
