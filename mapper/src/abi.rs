//! The C ABI of `android/hardware/graphics/mapper/IMapper.h` (stable-C mapper, version 5):
//! the types only. Their layout is checked against a C compiler's in `layout_check` and by
//! `include/gralloc_mapper_abi.h`.

use std::ffi::{c_char, c_int, c_void};

/// `AIMapper_Version`: the only version this library implements.
pub const AIMAPPER_VERSION_5: u32 = 5;

/// `AIMapper_Error` (an `int32_t` enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum MapperError {
    /// `AIMAPPER_ERROR_NONE`.
    None = 0,
    /// `AIMAPPER_ERROR_BAD_DESCRIPTOR`.
    BadDescriptor = 1,
    /// `AIMAPPER_ERROR_BAD_BUFFER`: not a handle of this allocator, or not imported.
    BadBuffer = 2,
    /// `AIMAPPER_ERROR_BAD_VALUE`: an argument out of range.
    BadValue = 3,
    /// `AIMAPPER_ERROR_NO_RESOURCES`: the kernel refused (mmap, dup, ...).
    NoResources = 5,
    /// `AIMAPPER_ERROR_UNSUPPORTED`: a metadata type or value this mapper does not handle.
    Unsupported = 7,
}

impl MapperError {
    /// The `int32_t` value on the wire.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The negative value the metadata getters return for this error.
    pub const fn negative(self) -> i32 {
        -(self as i32)
    }
}

/// `AIMapper_MetadataType`: a metadata type named by its AIDL enum and value.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct MetadataType {
    /// NUL-terminated name of the AIDL enum the value belongs to.
    pub name: *const c_char,
    /// The value inside that enum.
    pub value: i64,
}

/// `AIMapper_MetadataTypeDescription`.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct MetadataTypeDescription {
    /// The type described.
    pub metadata_type: MetadataType,
    /// NUL-terminated text for dumps; may be null for standard types.
    pub description: *const c_char,
    /// `getMetadata` works for this type.
    pub is_gettable: bool,
    /// `setMetadata` works for this type.
    pub is_settable: bool,
    /// Must be zero.
    pub reserved: [u8; 32],
}

/// `ARect`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ARect {
    /// Leftmost column, inclusive.
    pub left: i32,
    /// Top row, inclusive.
    pub top: i32,
    /// Column past the right edge.
    pub right: i32,
    /// Row past the bottom edge.
    pub bottom: i32,
}

/// The header of `native_handle_t`; `data[numFds + numInts]` follows (fds first).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct NativeHandleHeader {
    /// `sizeof(native_handle_t)`, 12.
    pub version: c_int,
    /// Fds at the start of `data`.
    pub num_fds: c_int,
    /// Ints after the fds.
    pub num_ints: c_int,
}

/// `native_handle_t.version`: the size of the header.
pub const NATIVE_HANDLE_VERSION: c_int = 12;

/// `buffer_handle_t`.
pub type BufferHandleT = *const NativeHandleHeader;

/// `AIMapper_DumpBufferCallback`.
pub type DumpBufferCallback = Option<
    unsafe extern "C" fn(context: *mut c_void, ty: MetadataType, value: *const c_void, size: usize),
>;
/// `AIMapper_BeginDumpBufferCallback`.
pub type BeginDumpBufferCallback = Option<unsafe extern "C" fn(context: *mut c_void)>;

/// `AIMapperV5`: the 15 entry points, in header order.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct AIMapperV5 {
    /// `importBuffer`.
    pub import_buffer: unsafe extern "C" fn(BufferHandleT, *mut BufferHandleT) -> MapperError,
    /// `freeBuffer`.
    pub free_buffer: unsafe extern "C" fn(BufferHandleT) -> MapperError,
    /// `getTransportSize`.
    pub get_transport_size: unsafe extern "C" fn(BufferHandleT, *mut u32, *mut u32) -> MapperError,
    /// `lock`.
    pub lock:
        unsafe extern "C" fn(BufferHandleT, u64, ARect, c_int, *mut *mut c_void) -> MapperError,
    /// `unlock`.
    pub unlock: unsafe extern "C" fn(BufferHandleT, *mut c_int) -> MapperError,
    /// `flushLockedBuffer`.
    pub flush_locked_buffer: unsafe extern "C" fn(BufferHandleT) -> MapperError,
    /// `rereadLockedBuffer`.
    pub reread_locked_buffer: unsafe extern "C" fn(BufferHandleT) -> MapperError,
    /// `getMetadata`.
    pub get_metadata: unsafe extern "C" fn(BufferHandleT, MetadataType, *mut c_void, usize) -> i32,
    /// `getStandardMetadata`.
    pub get_standard_metadata: unsafe extern "C" fn(BufferHandleT, i64, *mut c_void, usize) -> i32,
    /// `setMetadata`.
    pub set_metadata:
        unsafe extern "C" fn(BufferHandleT, MetadataType, *const c_void, usize) -> MapperError,
    /// `setStandardMetadata`.
    pub set_standard_metadata:
        unsafe extern "C" fn(BufferHandleT, i64, *const c_void, usize) -> MapperError,
    /// `listSupportedMetadataTypes`.
    pub list_supported_metadata_types:
        unsafe extern "C" fn(*mut *const MetadataTypeDescription, *mut usize) -> MapperError,
    /// `dumpBuffer`.
    pub dump_buffer:
        unsafe extern "C" fn(BufferHandleT, DumpBufferCallback, *mut c_void) -> MapperError,
    /// `dumpAllBuffers`.
    pub dump_all_buffers: unsafe extern "C" fn(
        BeginDumpBufferCallback,
        DumpBufferCallback,
        *mut c_void,
    ) -> MapperError,
    /// `getReservedRegion`.
    pub get_reserved_region:
        unsafe extern "C" fn(BufferHandleT, *mut *mut c_void, *mut u64) -> MapperError,
}

/// `AIMapper`: `alignas(max_align_t) AIMapper_Version version; AIMapperV5 v5;`.
///
/// `max_align_t` is 16 bytes on arm64, x86_64 and (with glibc) x86; bionic's arm32 has 8.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(any(target_pointer_width = "64", target_arch = "x86"), repr(C, align(16)))]
#[cfg_attr(not(any(target_pointer_width = "64", target_arch = "x86")), repr(C, align(8)))]
pub struct AIMapper {
    /// Always [`AIMAPPER_VERSION_5`].
    pub version: u32,
    /// The entry points.
    pub v5: AIMapperV5,
}

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<MetadataType>() == 16);
    assert!(size_of::<MetadataTypeDescription>() == 64);
    assert!(std::mem::offset_of!(MetadataTypeDescription, description) == 16);
    assert!(std::mem::offset_of!(MetadataTypeDescription, is_gettable) == 24);
    assert!(std::mem::offset_of!(MetadataTypeDescription, is_settable) == 25);
    assert!(std::mem::offset_of!(MetadataTypeDescription, reserved) == 26);
    assert!(size_of::<AIMapperV5>() == 120);
    assert!(size_of::<AIMapper>() == 128);
    assert!(align_of::<AIMapper>() == 16);
    assert!(std::mem::offset_of!(AIMapper, v5) == 8);
};

#[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
const _: () = {
    assert!(size_of::<MetadataType>() == 16);
    assert!(std::mem::offset_of!(MetadataTypeDescription, description) == 16);
    assert!(size_of::<AIMapperV5>() == 60);
    assert!(size_of::<AIMapper>() == 64);
    assert!(std::mem::offset_of!(AIMapper, v5) == 4);
};

const _: () = assert!(size_of::<NativeHandleHeader>() == NATIVE_HANDLE_VERSION as usize);
