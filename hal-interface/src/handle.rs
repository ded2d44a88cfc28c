//! The buffer handle: what travels in each `NativeHandle` of an `AllocationResult`.
//!
//! Two fds per handle (the buffer's dma-buf, then its shared metadata region, see
//! [`crate::shared_metadata`]) plus a versioned block of ints describing the buffer (geometry,
//! strides, planes, allocation size, heap name, reserved region, metadata region size). The
//! reserved region (mapper `getReservedRegion`) lives in the buffer's dma-buf at
//! `reserved_offset`. The ints hold
//! plain numbers only, never pointers or process addresses. The exact layout is in
//! `docs/buffer-handle.md`; [`BufferHandle::encode_ints`] and [`BufferHandle::decode_parts`]
//! are its only implementation.

use std::os::fd::OwnedFd;

use rsbinder::NativeHandle;
use thiserror::Error;

use crate::shared_metadata;
use crate::wire::parcel_fd;

/// First int of every handle: `'GRBS'` read as a big-endian word (0x4752_4253).
pub const MAGIC: i32 = 0x4752_4253;
/// Layout version written by this crate; readers accept only versions they know.
pub const VERSION: i32 = 2;
/// Most planes a handle describes.
pub const MAX_PLANES: usize = 4;
/// Bytes of the heap-name field, including at least one terminating NUL.
pub const HEAP_NAME_BYTES: usize = 32;
/// Longest heap name, in bytes.
pub const MAX_HEAP_NAME_LEN: usize = HEAP_NAME_BYTES - 1;
/// Alignment the reserved region's offset must have (the smallest page size in use).
pub const RESERVED_ALIGNMENT: u64 = 4096;
/// Number of fds in a handle.
pub const FD_COUNT: usize = 2;
/// Index of the buffer's dma-buf among the handle's fds.
pub const FD_BUFFER: usize = 0;
/// Index of the shared metadata region among the handle's fds.
pub const FD_METADATA: usize = 1;

/// Ints before the plane records (header, fixed fields, plane count).
pub const FIXED_INTS: usize = 29;
/// Ints per plane record.
pub const PLANE_INTS: usize = 8;

// Indices of the fixed fields; docs/buffer-handle.md has the same table.
const I_MAGIC: usize = 0;
const I_VERSION: usize = 1;
const I_COUNT: usize = 2;
const I_WIDTH: usize = 3;
const I_HEIGHT: usize = 4;
const I_LAYERS: usize = 5;
const I_FORMAT: usize = 6;
const I_USAGE: usize = 7;
const I_STRIDE_PIXELS: usize = 9;
const I_STRIDE_BYTES: usize = 10;
const I_ALLOC_SIZE: usize = 11;
const I_BUFFER_ID: usize = 13;
const I_HEAP_NAME: usize = 15;
const I_RESERVED_OFFSET: usize = 23;
const I_RESERVED_SIZE: usize = 25;
const I_METADATA_SIZE: usize = 27;
const I_PLANE_COUNT: usize = 28;
const HEADER_INTS: usize = 3;
const _: () = assert!(I_PLANE_COUNT + 1 == FIXED_INTS);
const _: () = assert!(I_HEAP_NAME + HEAP_NAME_BYTES / 4 == I_RESERVED_OFFSET);

// Offsets inside one plane record.
const P_OFFSET: usize = 0;
const P_STRIDE_BYTES: usize = 2;
const P_SIZE: usize = 3;
const P_H_SUBSAMPLING: usize = 5;
const P_V_SUBSAMPLING: usize = 6;
const P_COMPONENT: usize = 7;
const _: () = assert!(P_COMPONENT + 1 == PLANE_INTS);

/// What a plane holds. Codes start at 1 so that a zeroed record is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlaneComponent {
    /// Luma.
    Y,
    /// Blue-difference chroma alone.
    Cb,
    /// Red-difference chroma alone.
    Cr,
    /// Interleaved chroma, Cb first (NV12, NV16, P010).
    CbCr,
    /// Interleaved chroma, Cr first (NV21).
    CrCb,
    /// Packed 4:2:2 luma and chroma in one plane (YUY2).
    YCbCrPacked,
    /// Packed colour with alpha or padding (RGBA, RGBX, BGRA, FP16, 1010102, ...).
    Rgba,
    /// Packed colour without alpha (RGB_888, RGB_565, HSV_888).
    Rgb,
    /// Single or dual channel colour (R_8, R_16_UINT, RG_1616_UINT).
    Red,
    /// Depth, possibly with stencil.
    Depth,
    /// Stencil alone.
    Stencil,
    /// Sensor raw data (RAW10/12/16/OPAQUE).
    Raw,
    /// Bytes without image structure (BLOB).
    Blob,
    /// Layout chosen by the allocator and known only to it and the mapper.
    Opaque,
}

impl PlaneComponent {
    /// Every component, in code order.
    pub const ALL: [PlaneComponent; 14] = [
        Self::Y,
        Self::Cb,
        Self::Cr,
        Self::CbCr,
        Self::CrCb,
        Self::YCbCrPacked,
        Self::Rgba,
        Self::Rgb,
        Self::Red,
        Self::Depth,
        Self::Stencil,
        Self::Raw,
        Self::Blob,
        Self::Opaque,
    ];

    /// The code written into the handle.
    pub const fn code(self) -> u32 {
        match self {
            Self::Y => 1,
            Self::Cb => 2,
            Self::Cr => 3,
            Self::CbCr => 4,
            Self::CrCb => 5,
            Self::YCbCrPacked => 6,
            Self::Rgba => 7,
            Self::Rgb => 8,
            Self::Red => 9,
            Self::Depth => 10,
            Self::Stencil => 11,
            Self::Raw => 12,
            Self::Blob => 13,
            Self::Opaque => 14,
        }
    }

    /// The component with this code, if any.
    pub const fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            1 => Self::Y,
            2 => Self::Cb,
            3 => Self::Cr,
            4 => Self::CbCr,
            5 => Self::CrCb,
            6 => Self::YCbCrPacked,
            7 => Self::Rgba,
            8 => Self::Rgb,
            9 => Self::Red,
            10 => Self::Depth,
            11 => Self::Stencil,
            12 => Self::Raw,
            13 => Self::Blob,
            14 => Self::Opaque,
            _ => return None,
        })
    }
}

/// One plane of the image, at a byte offset inside the dma-buf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlaneLayout {
    /// Bytes from the start of the dma-buf to the plane's first row.
    pub offset: u64,
    /// Bytes between the starts of two consecutive rows of this plane.
    pub stride_bytes: u32,
    /// Bytes the plane occupies (all rows, including padding).
    pub size: u64,
    /// Horizontal subsampling relative to the image width (1, 2 or 4).
    pub h_subsampling: u32,
    /// Vertical subsampling relative to the image height (1, 2 or 4).
    pub v_subsampling: u32,
    /// What the plane holds.
    pub component: PlaneComponent,
}

/// The description carried by a handle next to its two fds (dma-buf, metadata region).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BufferHandle {
    /// Image width in pixels (bytes for BLOB).
    pub width: u32,
    /// Image height in rows.
    pub height: u32,
    /// Number of layers.
    pub layers: u32,
    /// `PixelFormat` wire value the buffer was allocated for.
    pub format: i32,
    /// `BufferUsage` word the buffer was allocated with.
    pub usage: u64,
    /// Row stride of the first plane in pixels (the `AllocationResult.stride`).
    pub stride_pixels: u32,
    /// Row stride of the first plane in bytes.
    pub stride_bytes: u32,
    /// Bytes of the whole dma-buf (image, padding and reserved region).
    pub alloc_size: u64,
    /// Planes in memory order of description (at most [`MAX_PLANES`]).
    pub planes: Vec<PlaneLayout>,
    /// `BUFFER_ID`: unique across allocator restarts (a start value in the high 32 bits, a
    /// per-start count in the low 32).
    pub buffer_id: u64,
    /// Name of the heap the buffer came from (at most [`MAX_HEAP_NAME_LEN`] bytes, no NUL).
    pub heap: String,
    /// Bytes from the start of the dma-buf to the reserved region; 0 when there is none.
    pub reserved_offset: u64,
    /// Bytes of the reserved region; 0 when there is none.
    pub reserved_size: u64,
    /// Bytes of the shared metadata region (fd 1); always
    /// [`shared_metadata::REGION_SIZE`] in this version.
    pub metadata_size: u32,
}

/// Why a handle could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandleError {
    /// The first int is not [`MAGIC`]: not a handle of this allocator.
    #[error("bad handle magic {found:#010x}")]
    BadMagic {
        /// The int found.
        found: i32,
    },
    /// A layout version this reader does not know.
    #[error("unsupported handle version {found} (this reader knows {VERSION})")]
    UnsupportedVersion {
        /// The version found.
        found: i32,
    },
    /// Fewer ints than the layout needs.
    #[error("handle has {actual} ints, layout needs {expected}")]
    ShortInts {
        /// Ints the layout needs.
        expected: usize,
        /// Ints present.
        actual: usize,
    },
    /// More ints than the layout describes.
    #[error("handle has {actual} ints, layout has {expected}: trailing ints")]
    TrailingInts {
        /// Ints the layout describes.
        expected: usize,
        /// Ints present.
        actual: usize,
    },
    /// Not exactly [`FD_COUNT`] fds.
    #[error("handle has {actual} fds, expected {expected}")]
    WrongFdCount {
        /// Fds the layout has.
        expected: usize,
        /// Fds present.
        actual: usize,
    },
    /// Plane count negative or above [`MAX_PLANES`].
    #[error("bad plane count {found} (at most {MAX_PLANES})")]
    BadPlaneCount {
        /// The count found (or the length of `planes` when encoding).
        found: i64,
    },
    /// Heap name too long, not NUL-terminated, not UTF-8, with an inner NUL or garbage after
    /// the terminator.
    #[error("bad heap name in handle")]
    BadHeapName,
    /// A plane component code this reader does not know.
    #[error("plane {plane}: unknown component code {code}")]
    UnknownPlaneComponent {
        /// Plane index.
        plane: usize,
        /// Code found.
        code: u32,
    },
    /// Fields that are individually valid but contradict each other.
    #[error("inconsistent handle: {0}")]
    Inconsistent(Inconsistency),
}

/// The contradictions [`HandleError::Inconsistent`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Inconsistency {
    /// The int-count field does not match the layout.
    #[error("int count field says {declared}, layout has {expected}")]
    IntCount {
        /// Value of the count field.
        declared: i32,
        /// Ints the layout has.
        expected: usize,
    },
    /// Width, height or layer count is zero.
    #[error("empty image {width}x{height}x{layers}")]
    EmptyImage {
        /// Width in pixels.
        width: u32,
        /// Height in rows.
        height: u32,
        /// Layer count.
        layers: u32,
    },
    /// The allocation size is zero.
    #[error("allocation size is zero")]
    ZeroAllocSize,
    /// A plane ends past the allocation (or its end overflows).
    #[error("plane {plane} ends past the allocation of {alloc_size} bytes")]
    PlanePastEnd {
        /// Plane index.
        plane: usize,
        /// Allocation size in bytes.
        alloc_size: u64,
    },
    /// A plane's subsampling is not 1, 2 or 4.
    #[error("plane {plane}: subsampling {h}x{v} is not 1, 2 or 4")]
    BadSubsampling {
        /// Plane index.
        plane: usize,
        /// Horizontal factor.
        h: u32,
        /// Vertical factor.
        v: u32,
    },
    /// A reserved offset without a reserved size.
    #[error("reserved offset {offset} with no reserved size")]
    ReservedOffsetWithoutSize {
        /// The offset.
        offset: u64,
    },
    /// The reserved region's offset is not page-aligned.
    #[error("reserved offset {offset} is not aligned to {RESERVED_ALIGNMENT}")]
    ReservedMisaligned {
        /// The offset.
        offset: u64,
    },
    /// The reserved region ends past the allocation (or its end overflows).
    #[error("reserved region {offset}+{size} ends past the allocation of {alloc_size} bytes")]
    ReservedPastEnd {
        /// Offset in bytes.
        offset: u64,
        /// Size in bytes.
        size: u64,
        /// Allocation size in bytes.
        alloc_size: u64,
    },
    /// The metadata region size is not the one this version's region layout has.
    #[error("metadata region size {found}, layout version has {expected}")]
    MetadataSize {
        /// Size in the handle.
        found: u32,
        /// [`shared_metadata::REGION_SIZE`].
        expected: u32,
    },
    /// The reserved region starts before the end of a plane.
    #[error("reserved region at {offset} overlaps plane {plane}")]
    ReservedOverlapsPlane {
        /// Offset of the reserved region.
        offset: u64,
        /// Plane index.
        plane: usize,
    },
}

impl From<Inconsistency> for HandleError {
    fn from(value: Inconsistency) -> Self {
        Self::Inconsistent(value)
    }
}

fn int_of(value: u32) -> i32 {
    i32::from_ne_bytes(value.to_ne_bytes())
}

fn u32_of(value: i32) -> u32 {
    u32::from_ne_bytes(value.to_ne_bytes())
}

fn push_u64(ints: &mut Vec<i32>, value: u64) {
    let bytes = value.to_le_bytes();
    let [l0, l1, l2, l3, h0, h1, h2, h3] = bytes;
    ints.push(i32::from_le_bytes([l0, l1, l2, l3]));
    ints.push(i32::from_le_bytes([h0, h1, h2, h3]));
}

/// Reads the word at `at`; the caller has checked the length, but a miss is still an error.
fn word(ints: &[i32], at: usize) -> Result<i32, HandleError> {
    ints.get(at)
        .copied()
        .ok_or(HandleError::ShortInts { expected: at.saturating_add(1), actual: ints.len() })
}

fn read_u32(ints: &[i32], at: usize) -> Result<u32, HandleError> {
    word(ints, at).map(u32_of)
}

fn read_u64(ints: &[i32], at: usize) -> Result<u64, HandleError> {
    let lo = word(ints, at)?.to_le_bytes();
    let hi = word(ints, at.saturating_add(1))?.to_le_bytes();
    let [l0, l1, l2, l3] = lo;
    let [h0, h1, h2, h3] = hi;
    Ok(u64::from_le_bytes([l0, l1, l2, l3, h0, h1, h2, h3]))
}

fn heap_name_ints(name: &str) -> Result<[i32; HEAP_NAME_BYTES / 4], HandleError> {
    let bytes = name.as_bytes();
    if bytes.len() > MAX_HEAP_NAME_LEN || bytes.contains(&0) {
        return Err(HandleError::BadHeapName);
    }
    let mut padded = [0u8; HEAP_NAME_BYTES];
    padded.get_mut(..bytes.len()).ok_or(HandleError::BadHeapName)?.copy_from_slice(bytes);
    let mut ints = [0i32; HEAP_NAME_BYTES / 4];
    for (slot, chunk) in ints.iter_mut().zip(padded.chunks_exact(4)) {
        let quad: [u8; 4] = chunk.try_into().map_err(|_| HandleError::BadHeapName)?;
        *slot = i32::from_le_bytes(quad);
    }
    Ok(ints)
}

fn heap_name_of(ints: &[i32]) -> Result<String, HandleError> {
    let bytes: Vec<u8> = ints.iter().flat_map(|i| i.to_le_bytes()).collect();
    let len = bytes.iter().position(|&b| b == 0).ok_or(HandleError::BadHeapName)?;
    let (name, rest) = bytes.split_at(len);
    if rest.iter().any(|&b| b != 0) {
        return Err(HandleError::BadHeapName);
    }
    String::from_utf8(name.to_vec()).map_err(|_| HandleError::BadHeapName)
}

impl BufferHandle {
    /// Number of ints a handle with `planes` planes has.
    pub const fn int_count(planes: usize) -> usize {
        FIXED_INTS + PLANE_INTS * planes
    }

    /// Checks every rule [`decode_parts`](Self::decode_parts) checks, so that an encoded handle
    /// always decodes to an equal value.
    ///
    /// # Errors
    ///
    /// [`HandleError::BadPlaneCount`], [`HandleError::BadHeapName`] or
    /// [`HandleError::Inconsistent`].
    pub fn validate(&self) -> Result<(), HandleError> {
        if self.planes.len() > MAX_PLANES {
            return Err(HandleError::BadPlaneCount {
                found: i64::try_from(self.planes.len()).unwrap_or(i64::MAX),
            });
        }
        heap_name_ints(&self.heap)?;
        if self.width == 0 || self.height == 0 || self.layers == 0 {
            return Err(Inconsistency::EmptyImage {
                width: self.width,
                height: self.height,
                layers: self.layers,
            }
            .into());
        }
        if self.alloc_size == 0 {
            return Err(Inconsistency::ZeroAllocSize.into());
        }
        for (index, plane) in self.planes.iter().enumerate() {
            let subsampling_ok = |f: u32| matches!(f, 1 | 2 | 4);
            if !subsampling_ok(plane.h_subsampling) || !subsampling_ok(plane.v_subsampling) {
                return Err(Inconsistency::BadSubsampling {
                    plane: index,
                    h: plane.h_subsampling,
                    v: plane.v_subsampling,
                }
                .into());
            }
            if plane.offset.checked_add(plane.size).is_none_or(|end| end > self.alloc_size) {
                return Err(Inconsistency::PlanePastEnd {
                    plane: index,
                    alloc_size: self.alloc_size,
                }
                .into());
            }
        }
        if self.metadata_size != shared_metadata::REGION_SIZE {
            return Err(Inconsistency::MetadataSize {
                found: self.metadata_size,
                expected: shared_metadata::REGION_SIZE,
            }
            .into());
        }
        self.validate_reserved()
    }

    fn validate_reserved(&self) -> Result<(), HandleError> {
        let (offset, size) = (self.reserved_offset, self.reserved_size);
        if size == 0 {
            if offset != 0 {
                return Err(Inconsistency::ReservedOffsetWithoutSize { offset }.into());
            }
            return Ok(());
        }
        if offset % RESERVED_ALIGNMENT != 0 {
            return Err(Inconsistency::ReservedMisaligned { offset }.into());
        }
        if offset.checked_add(size).is_none_or(|end| end > self.alloc_size) {
            return Err(Inconsistency::ReservedPastEnd {
                offset,
                size,
                alloc_size: self.alloc_size,
            }
            .into());
        }
        for (index, plane) in self.planes.iter().enumerate() {
            // Checked in validate(): offset + size does not overflow.
            let end = plane.offset.saturating_add(plane.size);
            if end > offset {
                return Err(Inconsistency::ReservedOverlapsPlane { offset, plane: index }.into());
            }
        }
        Ok(())
    }

    /// The ints of this handle (layout version [`VERSION`], see `docs/buffer-handle.md`).
    ///
    /// # Errors
    ///
    /// Whatever [`validate`](Self::validate) reports: a handle that would not decode is never
    /// encoded.
    pub fn encode_ints(&self) -> Result<Vec<i32>, HandleError> {
        self.validate()?;
        let count = Self::int_count(self.planes.len());
        let mut ints = Vec::with_capacity(count);
        ints.push(MAGIC);
        ints.push(VERSION);
        ints.push(i32::try_from(count).map_err(|_| HandleError::BadPlaneCount {
            found: i64::try_from(self.planes.len()).unwrap_or(i64::MAX),
        })?);
        ints.push(int_of(self.width));
        ints.push(int_of(self.height));
        ints.push(int_of(self.layers));
        ints.push(self.format);
        push_u64(&mut ints, self.usage);
        ints.push(int_of(self.stride_pixels));
        ints.push(int_of(self.stride_bytes));
        push_u64(&mut ints, self.alloc_size);
        push_u64(&mut ints, self.buffer_id);
        ints.extend_from_slice(&heap_name_ints(&self.heap)?);
        push_u64(&mut ints, self.reserved_offset);
        push_u64(&mut ints, self.reserved_size);
        ints.push(int_of(self.metadata_size));
        // validate() bounded the plane count to MAX_PLANES.
        ints.push(i32::try_from(self.planes.len()).unwrap_or(i32::MAX));
        for plane in &self.planes {
            push_u64(&mut ints, plane.offset);
            ints.push(int_of(plane.stride_bytes));
            push_u64(&mut ints, plane.size);
            ints.push(int_of(plane.h_subsampling));
            ints.push(int_of(plane.v_subsampling));
            ints.push(int_of(plane.component.code()));
        }
        debug_assert_eq!(ints.len(), count);
        Ok(ints)
    }

    /// Wraps `buffer` (the dma-buf), `metadata` (the shared metadata region), both now owned
    /// by the handle, and the encoded ints.
    ///
    /// # Errors
    ///
    /// As [`encode_ints`](Self::encode_ints); both fds are closed on error.
    pub fn into_native(
        self,
        buffer: OwnedFd,
        metadata: OwnedFd,
    ) -> Result<NativeHandle, HandleError> {
        let ints = self.encode_ints()?;
        Ok(NativeHandle { fds: vec![parcel_fd(buffer), parcel_fd(metadata)], ints })
    }

    /// Decodes a received handle. The fds stay in `native`; after a successful decode borrow
    /// them with `native.fds[FD_BUFFER].as_fd()` and `native.fds[FD_METADATA].as_fd()`.
    ///
    /// # Errors
    ///
    /// Any [`HandleError`]; see [`decode_parts`](Self::decode_parts).
    pub fn decode(native: &NativeHandle) -> Result<BufferHandle, HandleError> {
        Self::decode_parts(native.fds.len(), &native.ints)
    }

    /// Decodes the ints of a handle that carries `fd_count` fds.
    ///
    /// Checks, in order: magic, version, length (short or trailing ints, from the plane
    /// count), the count field, the fd count, then the field rules of
    /// [`validate`](Self::validate).
    ///
    /// # Errors
    ///
    /// The first [`HandleError`] found.
    pub fn decode_parts(fd_count: usize, ints: &[i32]) -> Result<BufferHandle, HandleError> {
        let short = |expected: usize| HandleError::ShortInts { expected, actual: ints.len() };
        let magic = *ints.get(I_MAGIC).ok_or(short(HEADER_INTS))?;
        if magic != MAGIC {
            return Err(HandleError::BadMagic { found: magic });
        }
        let version = *ints.get(I_VERSION).ok_or(short(HEADER_INTS))?;
        if version != VERSION {
            return Err(HandleError::UnsupportedVersion { found: version });
        }
        if ints.len() < FIXED_INTS {
            return Err(short(FIXED_INTS));
        }
        let plane_count = word(ints, I_PLANE_COUNT)?;
        let planes = usize::try_from(plane_count)
            .ok()
            .filter(|&n| n <= MAX_PLANES)
            .ok_or(HandleError::BadPlaneCount { found: i64::from(plane_count) })?;
        let expected = Self::int_count(planes);
        if ints.len() < expected {
            return Err(short(expected));
        }
        if ints.len() > expected {
            return Err(HandleError::TrailingInts { expected, actual: ints.len() });
        }
        let declared = word(ints, I_COUNT)?;
        if usize::try_from(declared).ok() != Some(expected) {
            return Err(Inconsistency::IntCount { declared, expected }.into());
        }
        if fd_count != FD_COUNT {
            return Err(HandleError::WrongFdCount { expected: FD_COUNT, actual: fd_count });
        }
        let heap_ints = ints.get(I_HEAP_NAME..I_RESERVED_OFFSET).ok_or(short(I_RESERVED_OFFSET))?;
        let mut handle = BufferHandle {
            width: read_u32(ints, I_WIDTH)?,
            height: read_u32(ints, I_HEIGHT)?,
            layers: read_u32(ints, I_LAYERS)?,
            format: word(ints, I_FORMAT)?,
            usage: read_u64(ints, I_USAGE)?,
            stride_pixels: read_u32(ints, I_STRIDE_PIXELS)?,
            stride_bytes: read_u32(ints, I_STRIDE_BYTES)?,
            alloc_size: read_u64(ints, I_ALLOC_SIZE)?,
            planes: Vec::with_capacity(planes),
            buffer_id: read_u64(ints, I_BUFFER_ID)?,
            heap: heap_name_of(heap_ints)?,
            reserved_offset: read_u64(ints, I_RESERVED_OFFSET)?,
            reserved_size: read_u64(ints, I_RESERVED_SIZE)?,
            metadata_size: read_u32(ints, I_METADATA_SIZE)?,
        };
        for (index, record) in
            ints.get(FIXED_INTS..).unwrap_or(&[]).chunks_exact(PLANE_INTS).enumerate()
        {
            let code = read_u32(record, P_COMPONENT)?;
            let component = PlaneComponent::from_code(code)
                .ok_or(HandleError::UnknownPlaneComponent { plane: index, code })?;
            handle.planes.push(PlaneLayout {
                offset: read_u64(record, P_OFFSET)?,
                stride_bytes: read_u32(record, P_STRIDE_BYTES)?,
                size: read_u64(record, P_SIZE)?,
                h_subsampling: read_u32(record, P_H_SUBSAMPLING)?,
                v_subsampling: read_u32(record, P_V_SUBSAMPLING)?,
                component,
            });
        }
        handle.validate()?;
        Ok(handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(offset: u64, stride: u32, size: u64, sub: u32, c: PlaneComponent) -> PlaneLayout {
        PlaneLayout {
            offset,
            stride_bytes: stride,
            size,
            h_subsampling: sub,
            v_subsampling: sub,
            component: c,
        }
    }

    /// A 64x32 YV12 buffer: Y, Cr, Cb planes plus a one-page reserved region.
    fn yv12() -> BufferHandle {
        BufferHandle {
            width: 64,
            height: 32,
            layers: 1,
            format: 0x3231_5659,
            usage: 0x33 | (1 << 8) | (1 << 63),
            stride_pixels: 64,
            stride_bytes: 64,
            alloc_size: 8192,
            planes: vec![
                plane(0, 64, 2048, 1, PlaneComponent::Y),
                plane(2048, 32, 512, 2, PlaneComponent::Cr),
                plane(2560, 32, 512, 2, PlaneComponent::Cb),
            ],
            buffer_id: 0xDEAD_BEEF_0000_0001,
            heap: "system-uncached".to_owned(),
            reserved_offset: 4096,
            reserved_size: 4096,
            metadata_size: shared_metadata::REGION_SIZE,
        }
    }

    fn rgba() -> BufferHandle {
        BufferHandle {
            width: 16,
            height: 16,
            layers: 1,
            format: 1,
            usage: 0x300,
            stride_pixels: 16,
            stride_bytes: 64,
            alloc_size: 4096,
            planes: vec![plane(0, 64, 1024, 1, PlaneComponent::Rgba)],
            buffer_id: 7,
            heap: "system".to_owned(),
            reserved_offset: 0,
            reserved_size: 0,
            metadata_size: shared_metadata::REGION_SIZE,
        }
    }

    fn ints_of(handle: &BufferHandle) -> Vec<i32> {
        handle.encode_ints().unwrap()
    }

    fn decode(ints: &[i32]) -> Result<BufferHandle, HandleError> {
        BufferHandle::decode_parts(2, ints)
    }

    #[test]
    fn multi_plane_handle_round_trips() {
        let handle = yv12();
        let ints = ints_of(&handle);
        assert_eq!(ints.len(), BufferHandle::int_count(3));
        assert_eq!(decode(&ints), Ok(handle));
    }

    #[test]
    fn single_and_zero_plane_handles_round_trip() {
        let single = rgba();
        assert_eq!(decode(&ints_of(&single)), Ok(single.clone()));
        let opaque = BufferHandle { planes: Vec::new(), ..single };
        assert_eq!(decode(&ints_of(&opaque)), Ok(opaque));
    }

    #[test]
    fn extreme_values_round_trip() {
        let handle = BufferHandle {
            width: u32::MAX,
            height: u32::MAX,
            layers: u32::MAX,
            format: i32::MIN,
            usage: u64::MAX,
            stride_pixels: u32::MAX,
            stride_bytes: u32::MAX,
            alloc_size: u64::MAX,
            planes: vec![plane(0, u32::MAX, u64::MAX - 8191, 4, PlaneComponent::Opaque); 4],
            buffer_id: u64::MAX,
            heap: "a".repeat(MAX_HEAP_NAME_LEN),
            reserved_offset: u64::MAX - 8191,
            reserved_size: 4096,
            metadata_size: shared_metadata::REGION_SIZE,
        };
        assert_eq!(decode(&ints_of(&handle)), Ok(handle));
    }

    #[test]
    fn layout_positions_are_as_documented() {
        let ints = ints_of(&yv12());
        assert_eq!(&ints[..3], &[MAGIC, 2, 53]);
        assert_eq!(&ints[3..7], &[64, 32, 1, 0x3231_5659]);
        // usage 0x8000_0000_0000_0133 as lo, hi
        assert_eq!(&ints[7..9], &[0x133, i32::MIN]);
        assert_eq!(&ints[9..11], &[64, 64]);
        assert_eq!(&ints[11..13], &[8192, 0]);
        assert_eq!(&ints[13..15], &[1, i32::from_ne_bytes(0xDEAD_BEEF_u32.to_ne_bytes())]);
        // "system-uncached" packed little-endian: "syst" = 0x74737973
        assert_eq!(ints[15], i32::from_le_bytes(*b"syst"));
        assert_eq!(ints[22], 0);
        assert_eq!(&ints[23..27], &[4096, 0, 4096, 0]);
        assert_eq!(&ints[27..29], &[8192, 3]);
        // second plane record: Cr at 2048
        assert_eq!(&ints[37..45], &[2048, 0, 32, 512, 0, 2, 2, 3]);
    }

    #[test]
    fn into_native_carries_both_fds_in_order_and_the_ints() {
        use std::io::{Read, Seek, Write};
        use std::os::fd::AsFd;
        let mut buffer = tempfile::tempfile().unwrap();
        buffer.write_all(b"buffer").unwrap();
        let mut metadata = tempfile::tempfile().unwrap();
        metadata.write_all(b"metadata").unwrap();
        let native = yv12().into_native(buffer.into(), metadata.into()).unwrap();
        assert_eq!(native.fds.len(), 2);
        assert_eq!(BufferHandle::decode(&native), Ok(yv12()));
        for (index, expected) in [(FD_BUFFER, "buffer"), (FD_METADATA, "metadata")] {
            let owned = native.fds[index].as_fd().try_clone_to_owned().unwrap();
            let mut file = std::fs::File::from(owned);
            file.rewind().unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            assert_eq!(text, expected);
        }
    }

    #[test]
    fn version_1_handles_are_no_longer_accepted() {
        let mut ints = ints_of(&rgba());
        ints[1] = 1;
        assert_eq!(decode(&ints), Err(HandleError::UnsupportedVersion { found: 1 }));
    }

    #[test]
    fn metadata_size_other_than_the_region_layout_is_inconsistent() {
        let mut ints = ints_of(&rgba());
        for bad in [0, 4096, i32::MAX] {
            ints[27] = bad;
            assert_eq!(
                decode(&ints),
                Err(HandleError::Inconsistent(Inconsistency::MetadataSize {
                    found: u32_of(bad),
                    expected: shared_metadata::REGION_SIZE
                }))
            );
        }
    }

    #[test]
    fn empty_ints_are_short() {
        assert_eq!(decode(&[]), Err(HandleError::ShortInts { expected: 3, actual: 0 }));
    }

    #[test]
    fn foreign_magic_is_rejected() {
        let mut ints = ints_of(&rgba());
        ints[0] = 0x1234;
        assert_eq!(decode(&ints), Err(HandleError::BadMagic { found: 0x1234 }));
    }

    #[test]
    fn unknown_version_is_rejected() {
        let mut ints = ints_of(&rgba());
        ints[1] = 3;
        assert_eq!(decode(&ints), Err(HandleError::UnsupportedVersion { found: 3 }));
    }

    #[test]
    fn truncated_fixed_part_is_short() {
        let ints = ints_of(&rgba());
        assert_eq!(decode(&ints[..20]), Err(HandleError::ShortInts { expected: 29, actual: 20 }));
    }

    #[test]
    fn missing_plane_int_is_short() {
        let ints = ints_of(&yv12());
        let cut = &ints[..ints.len() - 1];
        assert_eq!(decode(cut), Err(HandleError::ShortInts { expected: 53, actual: 52 }));
    }

    #[test]
    fn trailing_int_is_rejected() {
        let mut ints = ints_of(&rgba());
        ints.push(0);
        assert_eq!(decode(&ints), Err(HandleError::TrailingInts { expected: 37, actual: 38 }));
    }

    #[test]
    fn wrong_fd_counts_are_rejected() {
        let ints = ints_of(&rgba());
        for fds in [0, 1, 3] {
            assert_eq!(
                BufferHandle::decode_parts(fds, &ints),
                Err(HandleError::WrongFdCount { expected: 2, actual: fds })
            );
        }
    }

    #[test]
    fn plane_count_out_of_range_is_rejected() {
        let mut ints = ints_of(&rgba());
        for bad in [5, -1, i32::MAX] {
            ints[28] = bad;
            assert_eq!(decode(&ints), Err(HandleError::BadPlaneCount { found: i64::from(bad) }));
        }
    }

    #[test]
    fn count_field_mismatch_is_inconsistent() {
        let mut ints = ints_of(&rgba());
        ints[2] = 99;
        assert_eq!(
            decode(&ints),
            Err(HandleError::Inconsistent(Inconsistency::IntCount { declared: 99, expected: 37 }))
        );
    }

    #[test]
    fn unterminated_heap_name_is_rejected() {
        let mut ints = ints_of(&rgba());
        ints[15..23].fill(i32::from_le_bytes(*b"aaaa"));
        assert_eq!(decode(&ints), Err(HandleError::BadHeapName));
    }

    #[test]
    fn garbage_after_heap_name_terminator_is_rejected() {
        let mut ints = ints_of(&rgba());
        ints[22] = 1;
        assert_eq!(decode(&ints), Err(HandleError::BadHeapName));
    }

    #[test]
    fn non_utf8_heap_name_is_rejected() {
        let mut ints = ints_of(&rgba());
        ints[15] = i32::from_le_bytes([0xff, 0xfe, 0, 0]);
        assert_eq!(decode(&ints), Err(HandleError::BadHeapName));
    }

    #[test]
    fn overlong_or_nul_heap_names_are_not_encoded() {
        let long = BufferHandle { heap: "h".repeat(32), ..rgba() };
        assert_eq!(long.encode_ints(), Err(HandleError::BadHeapName));
        let nul = BufferHandle { heap: "sys\0tem".to_owned(), ..rgba() };
        assert_eq!(nul.encode_ints(), Err(HandleError::BadHeapName));
    }

    #[test]
    fn five_planes_are_not_encoded() {
        let handle = BufferHandle { planes: vec![rgba().planes[0]; 5], ..rgba() };
        assert_eq!(handle.encode_ints(), Err(HandleError::BadPlaneCount { found: 5 }));
    }

    #[test]
    fn unknown_plane_component_is_rejected() {
        let mut ints = ints_of(&rgba());
        ints[36] = 0;
        assert_eq!(decode(&ints), Err(HandleError::UnknownPlaneComponent { plane: 0, code: 0 }));
    }

    #[test]
    fn plane_past_allocation_is_inconsistent() {
        let mut ints = ints_of(&rgba());
        ints[29] = 4000; // plane 0 offset: 4000 + 1024 > 4096
        assert_eq!(
            decode(&ints),
            Err(HandleError::Inconsistent(Inconsistency::PlanePastEnd {
                plane: 0,
                alloc_size: 4096
            }))
        );
    }

    #[test]
    fn plane_end_overflow_is_inconsistent() {
        let handle = BufferHandle {
            planes: vec![plane(u64::MAX, 64, 2, 1, PlaneComponent::Rgba)],
            ..rgba()
        };
        assert_eq!(
            handle.validate(),
            Err(HandleError::Inconsistent(Inconsistency::PlanePastEnd {
                plane: 0,
                alloc_size: 4096
            }))
        );
    }

    #[test]
    fn bad_subsampling_is_inconsistent() {
        let mut ints = ints_of(&yv12());
        ints[29 + 8 + 5] = 3;
        assert_eq!(
            decode(&ints),
            Err(HandleError::Inconsistent(Inconsistency::BadSubsampling { plane: 1, h: 3, v: 2 }))
        );
    }

    #[test]
    fn empty_image_and_zero_size_are_inconsistent() {
        let mut ints = ints_of(&rgba());
        ints[4] = 0;
        assert_eq!(
            decode(&ints),
            Err(HandleError::Inconsistent(Inconsistency::EmptyImage {
                width: 16,
                height: 0,
                layers: 1
            }))
        );
        let zero = BufferHandle { alloc_size: 0, planes: Vec::new(), ..rgba() };
        assert_eq!(zero.validate(), Err(Inconsistency::ZeroAllocSize.into()));
    }

    #[test]
    fn reserved_region_past_allocation_is_inconsistent() {
        let mut ints = ints_of(&yv12());
        ints[25] = 8192; // reserved size: 4096 + 8192 > 8192
        assert_eq!(
            decode(&ints),
            Err(HandleError::Inconsistent(Inconsistency::ReservedPastEnd {
                offset: 4096,
                size: 8192,
                alloc_size: 8192
            }))
        );
    }

    #[test]
    fn misaligned_reserved_region_is_inconsistent() {
        let mut ints = ints_of(&yv12());
        ints[23] = 4000;
        assert_eq!(
            decode(&ints),
            Err(HandleError::Inconsistent(Inconsistency::ReservedMisaligned { offset: 4000 }))
        );
    }

    #[test]
    fn reserved_region_overlapping_a_plane_is_inconsistent() {
        let handle = BufferHandle { reserved_offset: 0, reserved_size: 4096, ..yv12() };
        assert_eq!(
            handle.validate(),
            Err(HandleError::Inconsistent(Inconsistency::ReservedOverlapsPlane {
                offset: 0,
                plane: 0
            }))
        );
    }

    #[test]
    fn reserved_offset_without_size_is_inconsistent() {
        let handle = BufferHandle { reserved_offset: 4096, ..rgba() };
        assert_eq!(
            handle.validate(),
            Err(Inconsistency::ReservedOffsetWithoutSize { offset: 4096 }.into())
        );
    }

    #[test]
    fn plane_component_codes_round_trip_and_start_at_one() {
        for (index, component) in PlaneComponent::ALL.into_iter().enumerate() {
            assert_eq!(usize::try_from(component.code()).unwrap(), index + 1);
            assert_eq!(PlaneComponent::from_code(component.code()), Some(component));
        }
        assert_eq!(PlaneComponent::from_code(0), None);
        assert_eq!(PlaneComponent::from_code(15), None);
    }
}
