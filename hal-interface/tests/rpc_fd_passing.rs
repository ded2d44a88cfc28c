//! Serves a small in-test allocator over the Unix-socket RPC transport and checks, from a
//! client in the same process, that dma-buf-like fds (memfds here) travel inside handles built
//! with the codec, that the bytes behind them are the ones the server wrote, and that
//! service-specific errors keep their code and message.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use hal_interface::aidl::{
    AllocationError, AllocationResult, BnAllocator, BufferDescriptorInfo, BufferUsage, IAllocator,
    PixelFormat, INTERFACE_HASH,
};
use hal_interface::gralloc4::{encode_descriptor, V1Descriptor};
use hal_interface::handle::{BufferHandle, PlaneComponent, PlaneLayout};
use hal_interface::shared_metadata;
use hal_interface::transport::{self, Endpoint, ServerGuard};
use hal_interface::wire::{allocation_error, allocation_error_of, descriptor_name_array};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::uio::{pread, pwrite};
use nix::unistd::{ftruncate, lseek, Whence};
use rsbinder::{BinderResult, Strong};

const PAGE: u64 = 4096;

/// Byte `offset` of buffer `index` as the test allocator writes it.
fn pattern(index: usize, offset: u64) -> u8 {
    let mixed = offset.wrapping_mul(7).wrapping_add(u64::try_from(index).unwrap());
    u8::try_from(mixed % 251).unwrap()
}

fn round_up(value: u64) -> u64 {
    value.div_ceil(PAGE) * PAGE
}

/// Allocates RGBA_8888 memfds, fills them with `pattern`, and describes them with the codec.
struct TestAllocator;

impl rsbinder::Interface for TestAllocator {}

impl TestAllocator {
    fn one_buffer(
        descriptor: &BufferDescriptorInfo,
        index: usize,
    ) -> Result<NativeParts, rsbinder::Status> {
        let width = u32::try_from(descriptor.width).unwrap();
        let height = u32::try_from(descriptor.height).unwrap();
        let image = u64::from(width) * u64::from(height) * 4;
        let reserved_size = u64::try_from(descriptor.reservedSize).unwrap();
        let reserved_offset = if reserved_size == 0 { 0 } else { round_up(image) };
        let alloc_size = round_up(image) + round_up(reserved_size);
        let fd = memfd_create(c"gralloc-test", MFdFlags::MFD_CLOEXEC).unwrap();
        ftruncate(&fd, i64::try_from(alloc_size).unwrap()).unwrap();
        let bytes: Vec<u8> = (0..alloc_size).map(|offset| pattern(index, offset)).collect();
        assert_eq!(pwrite(&fd, &bytes, 0).unwrap(), bytes.len());
        let handle = BufferHandle {
            width,
            height,
            layers: 1,
            format: descriptor.format.0,
            usage: u64::from_ne_bytes(descriptor.usage.0.to_ne_bytes()),
            stride_pixels: width,
            stride_bytes: width * 4,
            alloc_size,
            planes: vec![PlaneLayout {
                offset: 0,
                stride_bytes: width * 4,
                size: image,
                h_subsampling: 1,
                v_subsampling: 1,
                component: PlaneComponent::Rgba,
            }],
            buffer_id: u64::try_from(index).unwrap() + 1,
            heap: "memfd".to_owned(),
            reserved_offset,
            reserved_size,
            metadata_size: shared_metadata::REGION_SIZE,
        };
        let metadata = memfd_create(c"gralloc-test-metadata", MFdFlags::MFD_CLOEXEC).unwrap();
        let region = shared_metadata::encode_initial(b"rpc", 0).unwrap();
        assert_eq!(pwrite(&metadata, &region, 0).unwrap(), region.len());
        Ok(NativeParts { handle, fd, metadata })
    }
}

struct NativeParts {
    handle: BufferHandle,
    fd: OwnedFd,
    metadata: OwnedFd,
}

impl IAllocator for TestAllocator {
    #[allow(deprecated)]
    fn allocate(&self, descriptor: &[u8], count: i32) -> BinderResult<AllocationResult> {
        let decoded = hal_interface::decode_descriptor(descriptor)
            .map_err(|err| allocation_error(AllocationError::BAD_DESCRIPTOR, &err.to_string()))?;
        self.allocate2(&decoded.to_descriptor_info(), count)
    }

    fn allocate2(
        &self,
        descriptor: &BufferDescriptorInfo,
        count: i32,
    ) -> BinderResult<AllocationResult> {
        if descriptor.width <= 0 || descriptor.height <= 0 {
            return Err(allocation_error(
                AllocationError::BAD_DESCRIPTOR,
                &format!("width {} x height {} is empty", descriptor.width, descriptor.height),
            ));
        }
        if descriptor.format != PixelFormat::RGBA_8888 {
            return Err(allocation_error(AllocationError::UNSUPPORTED, "only RGBA_8888"));
        }
        let mut buffers = Vec::new();
        for index in 0..usize::try_from(count).unwrap() {
            let parts = Self::one_buffer(descriptor, index)?;
            buffers.push(parts.handle.into_native(parts.fd, parts.metadata).unwrap());
        }
        Ok(AllocationResult { stride: descriptor.width, buffers })
    }

    fn isSupported(&self, descriptor: &BufferDescriptorInfo) -> BinderResult<bool> {
        Ok(descriptor.format == PixelFormat::RGBA_8888 && descriptor.width > 0)
    }

    fn getIMapperLibrarySuffix(&self) -> BinderResult<String> {
        Ok("test".to_owned())
    }
}

fn start(dir: &Path) -> (ServerGuard, Strong<dyn IAllocator>) {
    let endpoint = Endpoint::Unix(dir.join("allocator.sock"));
    let guard =
        transport::serve(&endpoint, BnAllocator::new_binder(TestAllocator).as_binder(), 2).unwrap();
    let allocator = transport::wait_until_ready(&endpoint, Duration::from_secs(10)).unwrap();
    // A proxy over the socket, not the local object: every call below crosses the transport.
    assert!(allocator.as_binder().is_remote());
    (guard, allocator)
}

fn rgba(width: i32, height: i32, reserved: i64) -> BufferDescriptorInfo {
    BufferDescriptorInfo {
        name: descriptor_name_array(b"rpc-fd-test"),
        width,
        height,
        layerCount: 1,
        format: PixelFormat::RGBA_8888,
        usage: BufferUsage::CPU_READ_OFTEN | BufferUsage::CPU_WRITE_OFTEN,
        reservedSize: reserved,
        additionalOptions: Vec::new(),
    }
}

/// What a mapper does: size from lseek, then read bytes at an offset.
fn size_of(fd: BorrowedFd<'_>) -> u64 {
    u64::try_from(lseek(fd, 0, Whence::SeekEnd).unwrap()).unwrap()
}

fn read_at(fd: BorrowedFd<'_>, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    assert_eq!(pread(fd, &mut buf, i64::try_from(offset).unwrap()).unwrap(), len);
    buf
}

#[test]
fn buffers_arrive_with_their_fds_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (_guard, allocator) = start(dir.path());

    let result = allocator.allocate2(&rgba(64, 48, 100), 2).unwrap();

    assert_eq!(result.stride, 64);
    assert_eq!(result.buffers.len(), 2);
    for (index, native) in result.buffers.iter().enumerate() {
        let handle = BufferHandle::decode(native).unwrap();
        assert_eq!(native.fds.len(), 2);
        let region = read_at(native.fds[1].as_fd(), 0, 8192);
        assert_eq!(shared_metadata::decode(&region).unwrap().name, b"rpc");
        let fd = native.fds[0].as_fd();
        assert_eq!(size_of(fd), handle.alloc_size);
        assert_eq!(handle.alloc_size, 12288 + 4096);
        assert_eq!(handle.buffer_id, u64::try_from(index).unwrap() + 1);
        let plane = handle.planes[0];
        let image = read_at(fd, plane.offset, usize::try_from(plane.size).unwrap());
        let expected: Vec<u8> = (plane.offset..plane.offset + plane.size)
            .map(|offset| pattern(index, offset))
            .collect();
        assert_eq!(image, expected, "image bytes of buffer {index}");
        assert_eq!((handle.reserved_offset, handle.reserved_size), (12288, 100));
        let reserved = read_at(fd, handle.reserved_offset, 100);
        assert_eq!(reserved[99], pattern(index, handle.reserved_offset + 99));
    }
}

#[test]
fn is_supported_answers_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (_guard, allocator) = start(dir.path());

    assert!(allocator.isSupported(&rgba(16, 16, 0)).unwrap());
    let yv12 = BufferDescriptorInfo { format: PixelFormat::YV12, ..rgba(16, 16, 0) };
    assert!(!allocator.isSupported(&yv12).unwrap());
}

#[test]
fn service_specific_errors_keep_code_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let (_guard, allocator) = start(dir.path());

    let empty = allocator.allocate2(&rgba(0, 16, 0), 1).unwrap_err();
    assert_eq!(allocation_error_of(&empty), Some(AllocationError::BAD_DESCRIPTOR));
    assert_eq!(empty.message(), Some("width 0 x height 16 is empty"));

    let yv12 = BufferDescriptorInfo { format: PixelFormat::YV12, ..rgba(16, 16, 0) };
    let unsupported = allocator.allocate2(&yv12, 1).unwrap_err();
    assert_eq!(allocation_error_of(&unsupported), Some(AllocationError::UNSUPPORTED));
    assert_eq!(unsupported.message(), Some("only RGBA_8888"));
}

#[test]
fn interface_version_and_hash_are_v2_over_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let (_guard, allocator) = start(dir.path());

    assert_eq!(allocator.getInterfaceVersion().unwrap(), 2);
    assert_eq!(allocator.getInterfaceHash().unwrap(), INTERFACE_HASH);
    assert_eq!(allocator.getIMapperLibrarySuffix().unwrap(), "test");
}

#[test]
#[allow(deprecated)]
fn v1_allocate_decodes_gralloc4_bytes_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (_guard, allocator) = start(dir.path());
    let descriptor = V1Descriptor {
        name: b"v1".to_vec(),
        width: 32,
        height: 32,
        layer_count: 1,
        format: PixelFormat::RGBA_8888.0,
        usage: 0x33,
        reserved_size: 0,
    };

    let result = allocator.allocate(&encode_descriptor(&descriptor), 1).unwrap();
    let handle = BufferHandle::decode(&result.buffers[0]).unwrap();
    assert_eq!((handle.width, handle.height, handle.usage), (32, 32, 0x33));

    let empty = allocator.allocate(&[], 1).unwrap_err();
    assert_eq!(allocation_error_of(&empty), Some(AllocationError::BAD_DESCRIPTOR));
    assert_eq!(empty.message(), Some("empty gralloc4 descriptor"));
}
