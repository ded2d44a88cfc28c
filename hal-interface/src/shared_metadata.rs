//! The shared metadata region: fd 1 of every buffer handle (layout version 2).
//!
//! A small file (a dma-buf from the board's system heap, or a sealed memfd) that the
//! allocator creates with each buffer and every process maps, so that metadata set in one
//! process (DATASPACE, BLEND_MODE, HDR static and dynamic metadata) is seen by all. Its byte
//! layout is stable and versioned; a zero-filled region holds every default except the
//! header, which the allocator writes before the buffer leaves it ([`encode_initial`]).
//!
//! This module is the only definition of that layout: field offsets, a strict [`decode`] of
//! a byte snapshot, and the bytes a field update writes ([`FieldValue::encode`]). It does no
//! I/O: [`read`] and [`write`] run the cross-process protocol over any [`RegionAccess`]
//! (in practice a newtype over `heaps::dmabuf::Mapping`, implemented where the mapping
//! lives, since this crate does not depend on `heaps`).
//!
//! Cross-process updates use a seqlock: a writer takes the writer lock word, makes the
//! sequence word odd, copies the field, makes it even again and releases the lock; a reader
//! copies the region between two loads of the sequence word and retries while it is odd or
//! has changed. Both retry for at most 200 ms (spinning, yielding, then sleeping), then fail
//! with [`RegionError::Busy`] (a writer that died inside its few-microsecond window leaves
//! the region busy; the buffer's other metadata stays readable from the handle).
//!
//! The layout (all words little-endian, offsets in bytes) is documented with a table in
//! `docs/buffer-handle.md`.

use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;

/// First word of the region: `'GRMD'` read as a big-endian word.
pub const MAGIC: u32 = 0x4752_4D44;
/// Layout version written by this crate; readers accept only this one.
pub const LAYOUT_VERSION: u32 = 1;
/// Bytes of the region, fixed per layout version (two 4 KiB pages).
pub const REGION_SIZE: u32 = 8192;

/// Longest NAME, in bytes (the descriptor name without its NUL).
pub const MAX_NAME_LEN: usize = 127;
/// Bytes of the NAME field's byte array.
pub const NAME_CAPACITY: usize = 128;
/// SMPTE 2086 values: red, green, blue primaries and white point (x, y each), then max and
/// min luminance, in the order of `android.hardware.graphics.common.Smpte2086`.
pub const SMPTE2086_FLOATS: usize = 10;
/// CTA-861.3 values: max content light level, max frame-average light level.
pub const CTA861_3_FLOATS: usize = 2;
/// Longest SMPTE 2094-40 or 2094-10 payload, in bytes.
pub const MAX_DYNAMIC_LEN: usize = 2048;

/// Offset of the magic word.
pub const OFF_MAGIC: usize = 0;
/// Offset of the layout version word.
pub const OFF_VERSION: usize = 4;
/// Offset of the size word (bytes of the region, [`REGION_SIZE`]).
pub const OFF_SIZE: usize = 8;
/// Offset of a reserved word, zero in this version.
pub const OFF_RESERVED: usize = 12;
/// Offset of the seqlock sequence word: odd while a writer is copying.
pub const OFF_SEQUENCE: usize = 16;
/// Offset of the writer lock word: 0 when free.
pub const OFF_WRITER_LOCK: usize = 20;
/// Offset of the NAME length word.
pub const OFF_NAME_LEN: usize = 24;
/// Offset of the NAME bytes ([`NAME_CAPACITY`] bytes, zero after the length).
pub const OFF_NAME: usize = 28;
/// Offset of DATASPACE (`i32`, default 0 UNKNOWN).
pub const OFF_DATASPACE: usize = OFF_NAME + NAME_CAPACITY;
/// Offset of BLEND_MODE (`i32`, default 0 INVALID).
pub const OFF_BLEND_MODE: usize = OFF_DATASPACE + 4;
/// Offset of SMPTE2086's present word.
pub const OFF_SMPTE2086: usize = OFF_BLEND_MODE + 4;
/// Offset of CTA861_3's present word.
pub const OFF_CTA861_3: usize = OFF_SMPTE2086 + 4 + 4 * SMPTE2086_FLOATS;
/// Offset of SMPTE2094_40's present word (then length word, then bytes).
pub const OFF_SMPTE2094_40: usize = OFF_CTA861_3 + 4 + 4 * CTA861_3_FLOATS;
/// Offset of SMPTE2094_10's present word (then length word, then bytes).
pub const OFF_SMPTE2094_10: usize = OFF_SMPTE2094_40 + DYNAMIC_FIELD_LEN;
/// Bytes the layout uses; the rest of the region is zero and reserved for later versions.
pub const USED_LEN: usize = OFF_SMPTE2094_10 + DYNAMIC_FIELD_LEN;

const DYNAMIC_FIELD_LEN: usize = 8 + MAX_DYNAMIC_LEN;
const ABSENT: u32 = 0;
const PRESENT: u32 = 1;

const _: () = assert!(OFF_DATASPACE == 156);
const _: () = assert!(OFF_SMPTE2094_40 == 220);
const _: () = assert!(USED_LEN == 4332);
const _: () = assert!(USED_LEN <= REGION_SIZE as usize);

/// How long readers and writers retry before [`RegionError::Busy`]: long enough to outlast a
/// writer that was preempted inside its copy (a few scheduler ticks), short enough that a
/// writer that died there costs a caller no more than this.
const BUSY_TIMEOUT: Duration = Duration::from_millis(200);
/// Attempts that spin before the retry loops start yielding the CPU.
const SPINS_BEFORE_YIELD: u32 = 64;
/// Attempts that yield before the retry loops start sleeping.
const YIELDS_BEFORE_SLEEP: u32 = 1024;
/// The sleep between late attempts.
const RETRY_SLEEP: Duration = Duration::from_micros(100);

/// A field of the region, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// NAME.
    Name,
    /// SMPTE2086.
    Smpte2086,
    /// CTA861_3.
    Cta861_3,
    /// SMPTE2094_40.
    Smpte2094_40,
    /// SMPTE2094_10.
    Smpte2094_10,
}

/// Why a region could not be read, written or encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegionError {
    /// The snapshot or mapping is shorter than the layout.
    #[error("metadata region has {actual} bytes, layout needs {expected}")]
    TooSmall {
        /// Bytes the layout needs.
        expected: usize,
        /// Bytes present.
        actual: usize,
    },
    /// The first word is not [`MAGIC`].
    #[error("bad metadata region magic {found:#010x}")]
    BadMagic {
        /// The word found.
        found: u32,
    },
    /// A layout version this reader does not know.
    #[error("unsupported metadata region version {found} (this reader knows {LAYOUT_VERSION})")]
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
    /// The size word is not [`REGION_SIZE`].
    #[error("metadata region size word {found}, layout has {REGION_SIZE}")]
    BadSize {
        /// The size found.
        found: u32,
    },
    /// The reserved header word is not zero.
    #[error("metadata region reserved word is {found:#x}, not zero")]
    BadReserved {
        /// The word found.
        found: u32,
    },
    /// A length word above the field's capacity, or non-zero for an absent value.
    #[error("{field:?}: length {len} (at most {max})")]
    BadLength {
        /// The field.
        field: Field,
        /// Length found or given.
        len: usize,
        /// Most the field holds (0 when the value is absent).
        max: usize,
    },
    /// A present word other than 0 (absent) or 1 (present).
    #[error("{field:?}: present word {found}, expected 0 or 1")]
    BadPresentWord {
        /// The field.
        field: Field,
        /// The word found.
        found: u32,
    },
    /// Writers kept the region busy (or one died mid-update) for the whole retry budget.
    #[error("metadata region stayed busy")]
    Busy,
    /// The mapping refused an access (out of bounds, unaligned word, read-only).
    #[error("metadata region access of {len} bytes at {offset} refused")]
    Access {
        /// Offset in bytes.
        offset: usize,
        /// Bytes accessed.
        len: usize,
    },
}

/// Everything the region holds, decoded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SharedMetadata {
    /// NAME: the descriptor name, at most [`MAX_NAME_LEN`] bytes, any encoding, no NUL
    /// required.
    pub name: Vec<u8>,
    /// DATASPACE (`android.hardware.graphics.common.Dataspace`), 0 = UNKNOWN.
    pub dataspace: i32,
    /// BLEND_MODE (`android.hardware.graphics.common.BlendMode`), 0 = INVALID.
    pub blend_mode: i32,
    /// SMPTE2086, when set ([`SMPTE2086_FLOATS`] values in AIDL order).
    pub smpte2086: Option<[f32; SMPTE2086_FLOATS]>,
    /// CTA861_3, when set.
    pub cta861_3: Option<[f32; CTA861_3_FLOATS]>,
    /// SMPTE2094_40 payload, when set (at most [`MAX_DYNAMIC_LEN`] bytes).
    pub smpte2094_40: Option<Vec<u8>>,
    /// SMPTE2094_10 payload, when set (at most [`MAX_DYNAMIC_LEN`] bytes).
    pub smpte2094_10: Option<Vec<u8>>,
}

/// One settable field's new value (NAME is set only by the allocator, in [`encode_initial`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue<'a> {
    /// DATASPACE.
    Dataspace(i32),
    /// BLEND_MODE.
    BlendMode(i32),
    /// SMPTE2086; `None` clears it.
    Smpte2086(Option<[f32; SMPTE2086_FLOATS]>),
    /// CTA861_3; `None` clears it.
    Cta861_3(Option<[f32; CTA861_3_FLOATS]>),
    /// SMPTE2094_40; `None` clears it.
    Smpte2094_40(Option<&'a [u8]>),
    /// SMPTE2094_10; `None` clears it.
    Smpte2094_10(Option<&'a [u8]>),
}

/// The bytes one field update writes, at `offset` (one contiguous copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldWrite {
    /// Offset in the region.
    pub offset: usize,
    /// Bytes to copy there (the whole field, padding zeroed).
    pub bytes: Vec<u8>,
}

impl FieldValue<'_> {
    /// The bytes this update writes: the whole field, so that a cleared or shorter value
    /// leaves zeros behind.
    ///
    /// # Errors
    ///
    /// [`RegionError::BadLength`] for a payload longer than [`MAX_DYNAMIC_LEN`].
    pub fn encode(&self) -> Result<FieldWrite, RegionError> {
        let (offset, bytes) = match *self {
            Self::Dataspace(value) => (OFF_DATASPACE, value.to_le_bytes().to_vec()),
            Self::BlendMode(value) => (OFF_BLEND_MODE, value.to_le_bytes().to_vec()),
            Self::Smpte2086(value) => {
                (OFF_SMPTE2086, floats_field(value.as_ref().map(|v| &v[..]), SMPTE2086_FLOATS))
            }
            Self::Cta861_3(value) => {
                (OFF_CTA861_3, floats_field(value.as_ref().map(|v| &v[..]), CTA861_3_FLOATS))
            }
            Self::Smpte2094_40(value) => {
                (OFF_SMPTE2094_40, dynamic_field(Field::Smpte2094_40, value)?)
            }
            Self::Smpte2094_10(value) => {
                (OFF_SMPTE2094_10, dynamic_field(Field::Smpte2094_10, value)?)
            }
        };
        Ok(FieldWrite { offset, bytes })
    }
}

fn floats_field(values: Option<&[f32]>, count: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 + 4 * count);
    match values {
        Some(values) => {
            bytes.extend_from_slice(&PRESENT.to_le_bytes());
            for value in values.iter().take(count) {
                bytes.extend_from_slice(&value.to_bits().to_le_bytes());
            }
        }
        None => bytes.extend_from_slice(&ABSENT.to_le_bytes()),
    }
    bytes.resize(4 + 4 * count, 0);
    bytes
}

fn dynamic_field(field: Field, value: Option<&[u8]>) -> Result<Vec<u8>, RegionError> {
    let mut bytes = Vec::with_capacity(DYNAMIC_FIELD_LEN);
    match value {
        Some(payload) => {
            if payload.len() > MAX_DYNAMIC_LEN {
                return Err(RegionError::BadLength {
                    field,
                    len: payload.len(),
                    max: MAX_DYNAMIC_LEN,
                });
            }
            bytes.extend_from_slice(&PRESENT.to_le_bytes());
            // Bounded by MAX_DYNAMIC_LEN above.
            let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(payload);
        }
        None => bytes.extend_from_slice(&[0; 8]),
    }
    bytes.resize(DYNAMIC_FIELD_LEN, 0);
    Ok(bytes)
}

/// The whole region as the allocator writes it into a fresh (zeroed) file: header, NAME and
/// DATASPACE set, everything else at its default. [`REGION_SIZE`] bytes.
///
/// # Errors
///
/// [`RegionError::BadLength`] for a name longer than [`MAX_NAME_LEN`].
pub fn encode_initial(name: &[u8], dataspace: i32) -> Result<Vec<u8>, RegionError> {
    if name.len() > MAX_NAME_LEN {
        return Err(RegionError::BadLength {
            field: Field::Name,
            len: name.len(),
            max: MAX_NAME_LEN,
        });
    }
    let mut region = vec![0u8; REGION_SIZE as usize];
    put_u32(&mut region, OFF_MAGIC, MAGIC);
    put_u32(&mut region, OFF_VERSION, LAYOUT_VERSION);
    put_u32(&mut region, OFF_SIZE, REGION_SIZE);
    // Bounded by MAX_NAME_LEN above.
    put_u32(&mut region, OFF_NAME_LEN, u32::try_from(name.len()).unwrap_or(0));
    if let Some(dst) = region.get_mut(OFF_NAME..OFF_NAME.saturating_add(name.len())) {
        dst.copy_from_slice(name);
    }
    put_u32(&mut region, OFF_DATASPACE, u32::from_le_bytes(dataspace.to_le_bytes()));
    Ok(region)
}

/// The header and fields written by [`encode_initial`], the prefix of the region the
/// allocator must copy into a fresh zeroed file (the rest stays zero).
///
/// # Errors
///
/// As [`encode_initial`].
pub fn encode_initial_prefix(name: &[u8], dataspace: i32) -> Result<Vec<u8>, RegionError> {
    let mut region = encode_initial(name, dataspace)?;
    region.truncate(OFF_BLEND_MODE);
    Ok(region)
}

fn put_u32(region: &mut [u8], offset: usize, value: u32) {
    if let Some(dst) = region.get_mut(offset..offset.saturating_add(4)) {
        dst.copy_from_slice(&value.to_le_bytes());
    }
}

fn get_u32(bytes: &[u8], offset: usize) -> Result<u32, RegionError> {
    let word = bytes
        .get(offset..offset.saturating_add(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .ok_or(RegionError::TooSmall { expected: offset.saturating_add(4), actual: bytes.len() })?;
    Ok(u32::from_le_bytes(word))
}

fn get_i32(bytes: &[u8], offset: usize) -> Result<i32, RegionError> {
    get_u32(bytes, offset).map(|w| i32::from_le_bytes(w.to_le_bytes()))
}

fn present(bytes: &[u8], offset: usize, field: Field) -> Result<bool, RegionError> {
    match get_u32(bytes, offset)? {
        ABSENT => Ok(false),
        PRESENT => Ok(true),
        found => Err(RegionError::BadPresentWord { field, found }),
    }
}

fn floats<const N: usize>(
    bytes: &[u8],
    offset: usize,
    field: Field,
) -> Result<Option<[f32; N]>, RegionError> {
    if !present(bytes, offset, field)? {
        return Ok(None);
    }
    let mut values = [0f32; N];
    for (index, value) in values.iter_mut().enumerate() {
        let at = offset.saturating_add(4).saturating_add(index.saturating_mul(4));
        *value = f32::from_bits(get_u32(bytes, at)?);
    }
    Ok(Some(values))
}

fn dynamic(bytes: &[u8], offset: usize, field: Field) -> Result<Option<Vec<u8>>, RegionError> {
    let is_present = present(bytes, offset, field)?;
    let len = usize::try_from(get_u32(bytes, offset.saturating_add(4))?).unwrap_or(usize::MAX);
    if !is_present {
        if len != 0 {
            return Err(RegionError::BadLength { field, len, max: 0 });
        }
        return Ok(None);
    }
    if len > MAX_DYNAMIC_LEN {
        return Err(RegionError::BadLength { field, len, max: MAX_DYNAMIC_LEN });
    }
    let start = offset.saturating_add(8);
    let payload = bytes.get(start..start.saturating_add(len)).ok_or(RegionError::TooSmall {
        expected: start.saturating_add(len),
        actual: bytes.len(),
    })?;
    Ok(Some(payload.to_vec()))
}

/// Decodes a snapshot of the region (at least [`USED_LEN`] bytes; a whole region is fine).
///
/// Strict: magic, version, size word, reserved word, every length and present word are
/// checked. Bytes after a field's length are not read.
///
/// # Errors
///
/// The first [`RegionError`] found, in layout order.
pub fn decode(bytes: &[u8]) -> Result<SharedMetadata, RegionError> {
    if bytes.len() < USED_LEN {
        return Err(RegionError::TooSmall { expected: USED_LEN, actual: bytes.len() });
    }
    let magic = get_u32(bytes, OFF_MAGIC)?;
    if magic != MAGIC {
        return Err(RegionError::BadMagic { found: magic });
    }
    let version = get_u32(bytes, OFF_VERSION)?;
    if version != LAYOUT_VERSION {
        return Err(RegionError::UnsupportedVersion { found: version });
    }
    let size = get_u32(bytes, OFF_SIZE)?;
    if size != REGION_SIZE {
        return Err(RegionError::BadSize { found: size });
    }
    let reserved = get_u32(bytes, OFF_RESERVED)?;
    if reserved != 0 {
        return Err(RegionError::BadReserved { found: reserved });
    }
    let name_len = usize::try_from(get_u32(bytes, OFF_NAME_LEN)?).unwrap_or(usize::MAX);
    if name_len > MAX_NAME_LEN {
        return Err(RegionError::BadLength {
            field: Field::Name,
            len: name_len,
            max: MAX_NAME_LEN,
        });
    }
    let name = bytes
        .get(OFF_NAME..OFF_NAME.saturating_add(name_len))
        .ok_or(RegionError::TooSmall {
            expected: OFF_NAME.saturating_add(name_len),
            actual: bytes.len(),
        })?
        .to_vec();
    Ok(SharedMetadata {
        name,
        dataspace: get_i32(bytes, OFF_DATASPACE)?,
        blend_mode: get_i32(bytes, OFF_BLEND_MODE)?,
        smpte2086: floats(bytes, OFF_SMPTE2086, Field::Smpte2086)?,
        cta861_3: floats(bytes, OFF_CTA861_3, Field::Cta861_3)?,
        smpte2094_40: dynamic(bytes, OFF_SMPTE2094_40, Field::Smpte2094_40)?,
        smpte2094_10: dynamic(bytes, OFF_SMPTE2094_10, Field::Smpte2094_10)?,
    })
}

/// Access to a mapped region, shared with other processes. Implemented by a newtype over
/// `heaps::dmabuf::Mapping` where the mapping lives (service, mapper); the word accesses are
/// atomic, the byte copies volatile. Each method fails with [`RegionError::Access`] when
/// the mapping refuses (out of bounds, unaligned word, read-only).
pub trait RegionAccess {
    /// Bytes mapped.
    fn len(&self) -> usize;
    /// Whether nothing is mapped.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Atomic load of the 4-aligned word at `offset`.
    ///
    /// # Errors
    /// [`RegionError::Access`].
    fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32, RegionError>;
    /// Atomic wrapping add to the 4-aligned word at `offset`; returns the previous value.
    ///
    /// # Errors
    /// [`RegionError::Access`].
    fn fetch_add_u32(&self, offset: usize, value: u32, order: Ordering)
        -> Result<u32, RegionError>;
    /// Copies `dst.len()` bytes from `offset`.
    ///
    /// # Errors
    /// [`RegionError::Access`].
    fn read_into(&self, offset: usize, dst: &mut [u8]) -> Result<(), RegionError>;
    /// Copies `src` to `offset`.
    ///
    /// # Errors
    /// [`RegionError::Access`].
    fn write_from(&self, offset: usize, src: &[u8]) -> Result<(), RegionError>;
}

/// Waits before attempt `attempt + 1`: spin, then yield, then sleep. `false` once the retry
/// budget that started at `start` is spent.
fn pause(start: Instant, attempt: u32) -> bool {
    if start.elapsed() >= BUSY_TIMEOUT {
        return false;
    }
    if attempt < SPINS_BEFORE_YIELD {
        std::hint::spin_loop();
    } else if attempt < YIELDS_BEFORE_SLEEP {
        std::thread::yield_now();
    } else {
        std::thread::sleep(RETRY_SLEEP);
    }
    true
}

fn check_len<R: RegionAccess + ?Sized>(region: &R) -> Result<(), RegionError> {
    let expected = REGION_SIZE as usize;
    if region.len() < expected {
        return Err(RegionError::TooSmall { expected, actual: region.len() });
    }
    Ok(())
}

/// A consistent snapshot of the region's used bytes, taken under the seqlock.
///
/// # Errors
///
/// [`RegionError::TooSmall`] for a mapping shorter than [`REGION_SIZE`],
/// [`RegionError::Busy`] when no consistent copy was seen within the retry budget,
/// [`RegionError::Access`].
pub fn snapshot<R: RegionAccess + ?Sized>(region: &R) -> Result<Vec<u8>, RegionError> {
    check_len(region)?;
    let mut bytes = vec![0u8; USED_LEN];
    let start = Instant::now();
    let mut attempt = 0u32;
    loop {
        let before = region.load_u32(OFF_SEQUENCE, Ordering::Acquire)?;
        if before.is_multiple_of(2) {
            region.read_into(0, &mut bytes)?;
            // Orders the copy before the second load (a reader-side seqlock fence).
            fence(Ordering::Acquire);
            let after = region.load_u32(OFF_SEQUENCE, Ordering::Relaxed)?;
            if after == before {
                return Ok(bytes);
            }
        }
        if !pause(start, attempt) {
            return Err(RegionError::Busy);
        }
        attempt = attempt.saturating_add(1);
    }
}

/// Reads and decodes the region under the seqlock.
///
/// # Errors
///
/// As [`snapshot`], then as [`decode`].
pub fn read<R: RegionAccess + ?Sized>(region: &R) -> Result<SharedMetadata, RegionError> {
    decode(&snapshot(region)?)
}

/// Applies one field update under the writer lock and the seqlock, so that every reader sees
/// the field either before or after, never torn.
///
/// The region's header is checked first (a region this reader cannot decode is never
/// written).
///
/// # Errors
///
/// As [`FieldValue::encode`] and [`read`]; [`RegionError::Busy`] when the writer lock stayed
/// taken for the whole retry budget.
pub fn write<R: RegionAccess + ?Sized>(
    region: &R,
    value: &FieldValue<'_>,
) -> Result<(), RegionError> {
    let update = value.encode()?;
    read(region)?;
    lock(region)?;
    let result = write_locked(region, &update);
    // Releases the lock even when the copy failed: later writers must not wait forever.
    let unlocked = region.fetch_add_u32(OFF_WRITER_LOCK, u32::MAX, Ordering::Release);
    result.and(unlocked.map(drop))
}

fn lock<R: RegionAccess + ?Sized>(region: &R) -> Result<(), RegionError> {
    let start = Instant::now();
    let mut attempt = 0u32;
    loop {
        if region.fetch_add_u32(OFF_WRITER_LOCK, 1, Ordering::Acquire)? == 0 {
            return Ok(());
        }
        // Someone holds it: undo our increment (wrapping add of -1) and retry.
        region.fetch_add_u32(OFF_WRITER_LOCK, u32::MAX, Ordering::Relaxed)?;
        if !pause(start, attempt) {
            return Err(RegionError::Busy);
        }
        attempt = attempt.saturating_add(1);
    }
}

fn write_locked<R: RegionAccess + ?Sized>(
    region: &R,
    update: &FieldWrite,
) -> Result<(), RegionError> {
    region.fetch_add_u32(OFF_SEQUENCE, 1, Ordering::Relaxed)?;
    // The odd sequence is visible before any byte of the copy (writer-side seqlock fence).
    fence(Ordering::Release);
    let copied = region.write_from(update.offset, &update.bytes);
    // Even again, after the copy, whatever happened to it.
    let ended = region.fetch_add_u32(OFF_SEQUENCE, 1, Ordering::Release);
    copied.and(ended.map(drop))
}

/// Writes the initial contents into a fresh zero-filled region the caller has not shared
/// yet (no seqlock needed): the allocator's step between creating and sending it.
///
/// # Errors
///
/// As [`encode_initial`], [`RegionError::TooSmall`], [`RegionError::Access`].
pub fn initialise<R: RegionAccess + ?Sized>(
    region: &R,
    name: &[u8],
    dataspace: i32,
) -> Result<(), RegionError> {
    check_len(region)?;
    region.write_from(0, &encode_initial_prefix(name, dataspace)?)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// A region in process memory, with the same refusals a mapping has.
    struct Memory {
        bytes: RefCell<Vec<u8>>,
        writable: bool,
    }

    impl Memory {
        fn new(bytes: Vec<u8>) -> Self {
            Self { bytes: RefCell::new(bytes), writable: true }
        }

        fn word(&self, offset: usize) -> Result<u32, RegionError> {
            if !offset.is_multiple_of(4) {
                return Err(RegionError::Access { offset, len: 4 });
            }
            get_u32(&self.bytes.borrow(), offset)
                .map_err(|_| RegionError::Access { offset, len: 4 })
        }
    }

    impl RegionAccess for Memory {
        fn len(&self) -> usize {
            self.bytes.borrow().len()
        }

        fn load_u32(&self, offset: usize, _: Ordering) -> Result<u32, RegionError> {
            self.word(offset)
        }

        fn fetch_add_u32(
            &self,
            offset: usize,
            value: u32,
            _: Ordering,
        ) -> Result<u32, RegionError> {
            let old = self.word(offset)?;
            self.write_from(offset, &old.wrapping_add(value).to_le_bytes())?;
            Ok(old)
        }

        fn read_into(&self, offset: usize, dst: &mut [u8]) -> Result<(), RegionError> {
            let bytes = self.bytes.borrow();
            let src = bytes
                .get(offset..offset + dst.len())
                .ok_or(RegionError::Access { offset, len: dst.len() })?;
            dst.copy_from_slice(src);
            Ok(())
        }

        fn write_from(&self, offset: usize, src: &[u8]) -> Result<(), RegionError> {
            let refused = RegionError::Access { offset, len: src.len() };
            if !self.writable {
                return Err(refused);
            }
            let mut bytes = self.bytes.borrow_mut();
            bytes.get_mut(offset..offset + src.len()).ok_or(refused)?.copy_from_slice(src);
            Ok(())
        }
    }

    fn initial() -> Vec<u8> {
        encode_initial(b"Hello, World!", 143_261_696).unwrap()
    }

    fn word_at(bytes: &[u8], offset: usize) -> u32 {
        u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
    }

    fn set_word(bytes: &mut [u8], offset: usize, value: u32) {
        bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }

    #[test]
    fn offsets_are_as_documented() {
        let golden = [
            (OFF_MAGIC, 0),
            (OFF_VERSION, 4),
            (OFF_SIZE, 8),
            (OFF_RESERVED, 12),
            (OFF_SEQUENCE, 16),
            (OFF_WRITER_LOCK, 20),
            (OFF_NAME_LEN, 24),
            (OFF_NAME, 28),
            (OFF_DATASPACE, 156),
            (OFF_BLEND_MODE, 160),
            (OFF_SMPTE2086, 164),
            (OFF_CTA861_3, 208),
            (OFF_SMPTE2094_40, 220),
            (OFF_SMPTE2094_10, 2276),
            (USED_LEN, 4332),
        ];
        for (offset, expected) in golden {
            assert_eq!(offset, expected);
        }
        assert_eq!(REGION_SIZE, 8192);
    }

    #[test]
    fn initial_region_golden_bytes() {
        let region = initial();
        assert_eq!(region.len(), 8192);
        assert_eq!(&region[..4], b"DMRG", "'GRMD' as a big-endian word, stored little-endian");
        assert_eq!(word_at(&region, 4), 1);
        assert_eq!(word_at(&region, 8), 8192);
        assert_eq!(word_at(&region, 24), 13);
        assert_eq!(&region[28..41], b"Hello, World!");
        assert_eq!(word_at(&region, 156), 143_261_696);
        let set: Vec<usize> = [0..12, 24..28, 28..41, 156..160].into_iter().flatten().collect();
        for (index, byte) in region.iter().enumerate() {
            if !set.contains(&index) {
                assert_eq!(*byte, 0, "byte {index} must be zero");
            }
        }
        assert_eq!(encode_initial_prefix(b"Hello, World!", 143_261_696).unwrap(), region[..160]);
    }

    #[test]
    fn initial_region_decodes_to_the_defaults() {
        let decoded = decode(&initial()).unwrap();
        assert_eq!(
            decoded,
            SharedMetadata {
                name: b"Hello, World!".to_vec(),
                dataspace: 143_261_696,
                ..SharedMetadata::default()
            }
        );
        let empty = decode(&encode_initial(b"", 0).unwrap()).unwrap();
        assert_eq!(empty, SharedMetadata::default());
    }

    #[test]
    fn longest_name_fits_and_longer_is_refused() {
        let name = [b'n'; MAX_NAME_LEN];
        assert_eq!(decode(&encode_initial(&name, 0).unwrap()).unwrap().name, name.to_vec());
        assert_eq!(
            encode_initial(&[b'n'; 128], 0),
            Err(RegionError::BadLength { field: Field::Name, len: 128, max: 127 })
        );
    }

    #[test]
    fn strict_decode_rejects_each_bad_header_word() {
        let short = initial();
        assert_eq!(
            decode(&short[..USED_LEN - 1]),
            Err(RegionError::TooSmall { expected: USED_LEN, actual: USED_LEN - 1 })
        );
        let cases: [(usize, u32, RegionError); 4] = [
            (OFF_MAGIC, 0, RegionError::BadMagic { found: 0 }),
            (OFF_VERSION, 2, RegionError::UnsupportedVersion { found: 2 }),
            (OFF_SIZE, 4096, RegionError::BadSize { found: 4096 }),
            (OFF_RESERVED, 1, RegionError::BadReserved { found: 1 }),
        ];
        for (offset, value, expected) in cases {
            let mut region = initial();
            set_word(&mut region, offset, value);
            assert_eq!(decode(&region), Err(expected));
        }
    }

    #[test]
    fn strict_decode_rejects_bad_lengths_and_present_words() {
        let mut region = initial();
        set_word(&mut region, OFF_NAME_LEN, 128);
        assert_eq!(
            decode(&region),
            Err(RegionError::BadLength { field: Field::Name, len: 128, max: 127 })
        );
        for (offset, field) in [
            (OFF_SMPTE2086, Field::Smpte2086),
            (OFF_CTA861_3, Field::Cta861_3),
            (OFF_SMPTE2094_40, Field::Smpte2094_40),
            (OFF_SMPTE2094_10, Field::Smpte2094_10),
        ] {
            let mut region = initial();
            set_word(&mut region, offset, 2);
            assert_eq!(decode(&region), Err(RegionError::BadPresentWord { field, found: 2 }));
        }
        for (offset, field) in
            [(OFF_SMPTE2094_40, Field::Smpte2094_40), (OFF_SMPTE2094_10, Field::Smpte2094_10)]
        {
            let mut region = initial();
            set_word(&mut region, offset + 4, 5);
            assert_eq!(decode(&region), Err(RegionError::BadLength { field, len: 5, max: 0 }));
            set_word(&mut region, offset, 1);
            set_word(&mut region, offset + 4, 2049);
            assert_eq!(
                decode(&region),
                Err(RegionError::BadLength { field, len: 2049, max: 2048 })
            );
        }
    }

    #[test]
    fn every_field_update_round_trips_through_a_region() {
        let memory = Memory::new(initial());
        let hdr = [0.68, 0.32, 0.265, 0.69, 0.15, 0.06, 0.3127, 0.329, 1000.0, 0.0001];
        let payload = vec![0xA5; MAX_DYNAMIC_LEN];
        write(&memory, &FieldValue::Dataspace(0x0800_0000)).unwrap();
        write(&memory, &FieldValue::BlendMode(3)).unwrap();
        write(&memory, &FieldValue::Smpte2086(Some(hdr))).unwrap();
        write(&memory, &FieldValue::Cta861_3(Some([1000.0, 400.0]))).unwrap();
        write(&memory, &FieldValue::Smpte2094_40(Some(&payload))).unwrap();
        write(&memory, &FieldValue::Smpte2094_10(Some(&[]))).unwrap();
        let read_back = read(&memory).unwrap();
        assert_eq!(
            read_back,
            SharedMetadata {
                name: b"Hello, World!".to_vec(),
                dataspace: 0x0800_0000,
                blend_mode: 3,
                smpte2086: Some(hdr),
                cta861_3: Some([1000.0, 400.0]),
                smpte2094_40: Some(payload),
                smpte2094_10: Some(Vec::new()),
            }
        );
        // Six updates: the sequence moved by two each and ended even; the lock is free.
        let bytes = memory.bytes.borrow().clone();
        assert_eq!(word_at(&bytes, OFF_SEQUENCE), 12);
        assert_eq!(word_at(&bytes, OFF_WRITER_LOCK), 0);
    }

    #[test]
    fn clearing_and_shortening_leave_zeros_behind() {
        let memory = Memory::new(initial());
        write(&memory, &FieldValue::Smpte2094_40(Some(&[7; 100]))).unwrap();
        write(&memory, &FieldValue::Smpte2094_40(Some(&[9; 3]))).unwrap();
        let bytes = memory.bytes.borrow().clone();
        assert_eq!(&bytes[OFF_SMPTE2094_40 + 8..OFF_SMPTE2094_40 + 11], &[9, 9, 9]);
        assert!(bytes[OFF_SMPTE2094_40 + 11..OFF_SMPTE2094_10].iter().all(|&b| b == 0));
        drop(bytes);
        write(&memory, &FieldValue::Smpte2094_40(None)).unwrap();
        write(&memory, &FieldValue::Smpte2086(Some([1.0; 10]))).unwrap();
        write(&memory, &FieldValue::Smpte2086(None)).unwrap();
        let mut expected = initial();
        set_word(&mut expected, OFF_SEQUENCE, 10);
        assert_eq!(*memory.bytes.borrow(), expected);
    }

    #[test]
    fn oversized_payload_is_refused_before_touching_the_region() {
        let memory = Memory::new(initial());
        let big = vec![0; MAX_DYNAMIC_LEN + 1];
        assert_eq!(
            write(&memory, &FieldValue::Smpte2094_10(Some(&big))),
            Err(RegionError::BadLength { field: Field::Smpte2094_10, len: 2049, max: 2048 })
        );
        assert_eq!(*memory.bytes.borrow(), initial());
    }

    #[test]
    fn odd_sequence_makes_readers_busy_and_held_lock_makes_writers_busy() {
        let mut region = initial();
        set_word(&mut region, OFF_SEQUENCE, 7);
        assert_eq!(read(&Memory::new(region)), Err(RegionError::Busy));
        let mut region = initial();
        set_word(&mut region, OFF_WRITER_LOCK, 1);
        let memory = Memory::new(region);
        assert_eq!(write(&memory, &FieldValue::BlendMode(1)), Err(RegionError::Busy));
        // The failed attempts undid their increments.
        assert_eq!(word_at(&memory.bytes.borrow(), OFF_WRITER_LOCK), 1);
    }

    #[test]
    fn short_mapping_and_read_only_mapping_are_errors() {
        let memory = Memory::new(initial()[..4096].to_vec());
        assert_eq!(read(&memory), Err(RegionError::TooSmall { expected: 8192, actual: 4096 }));
        assert_eq!(
            initialise(&memory, b"x", 0),
            Err(RegionError::TooSmall { expected: 8192, actual: 4096 })
        );
        let read_only = Memory { bytes: RefCell::new(initial()), writable: false };
        assert!(matches!(
            write(&read_only, &FieldValue::Dataspace(1)),
            Err(RegionError::Access { .. })
        ));
        assert_eq!(*read_only.bytes.borrow(), initial());
    }

    #[test]
    fn undecodable_region_is_never_written() {
        let mut region = initial();
        set_word(&mut region, OFF_MAGIC, 0);
        let memory = Memory::new(region.clone());
        assert_eq!(
            write(&memory, &FieldValue::Dataspace(1)),
            Err(RegionError::BadMagic { found: 0 })
        );
        assert_eq!(*memory.bytes.borrow(), region);
    }

    #[test]
    fn initialise_writes_the_prefix_into_a_zeroed_region() {
        let memory = Memory::new(vec![0; 8192]);
        initialise(&memory, b"Hello, World!", 143_261_696).unwrap();
        assert_eq!(*memory.bytes.borrow(), initial());
    }
}
