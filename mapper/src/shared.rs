//! The buffer's shared metadata region (fd 1 of a v2 handle) as this process maps it: the
//! cross-process values (NAME, DATASPACE, BLEND_MODE, HDR metadata) read and written under
//! the region's seqlock (`hal_interface::shared_metadata`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::Ordering;

use hal_interface::shared_metadata::{
    self, FieldValue, RegionAccess, RegionError, SharedMetadata, REGION_SIZE,
};
use hal_interface::BufferHandle;
use heaps::dmabuf::{self, AccessError, Mapping};
use nix::errno::Errno;

use crate::abi::MapperError;

/// A mapped metadata region, as `hal_interface::shared_metadata`'s seqlock protocol accesses
/// it. The allocator writes new regions through the same type.
#[derive(Debug)]
pub struct MappedRegion(Mapping);

impl MappedRegion {
    /// Maps the whole region of `fd` ([`REGION_SIZE`] bytes).
    ///
    /// # Errors
    /// The `mmap` errno (EACCES for a writable mapping of a read-only fd, EINVAL when the
    /// file is shorter).
    pub fn map(fd: BorrowedFd<'_>, writable: bool) -> Result<Self, Errno> {
        let len = usize::try_from(REGION_SIZE).map_err(|_| Errno::EOVERFLOW)?;
        Mapping::new(fd, len, writable).map(Self)
    }
}

fn access_error(offset: usize, len: usize) -> impl Fn(AccessError) -> RegionError {
    move |_| RegionError::Access { offset, len }
}

impl RegionAccess for MappedRegion {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32, RegionError> {
        self.0.load_u32(offset, order).map_err(access_error(offset, 4))
    }

    fn fetch_add_u32(
        &self,
        offset: usize,
        value: u32,
        order: Ordering,
    ) -> Result<u32, RegionError> {
        self.0.fetch_add_u32(offset, value, order).map_err(access_error(offset, 4))
    }

    fn read_into(&self, offset: usize, dst: &mut [u8]) -> Result<(), RegionError> {
        let len = dst.len();
        self.0.read_into(offset, dst).map_err(|_| RegionError::Access { offset, len })
    }

    fn write_from(&self, offset: usize, src: &[u8]) -> Result<(), RegionError> {
        self.0.write_from(offset, src).map_err(access_error(offset, src.len()))
    }
}

/// An imported buffer's metadata region: its fd (kept for the handle handed back) and its
/// mapping.
#[derive(Debug)]
pub struct MetadataRegion {
    fd: OwnedFd,
    region: MappedRegion,
}

impl MetadataRegion {
    /// Checks and maps the region a handle carries.
    ///
    /// # Errors
    ///
    /// `BAD_BUFFER` for a region of the wrong size or with a header this mapper cannot
    /// decode; `NO_RESOURCES` when it cannot be mapped.
    pub fn open(fd: OwnedFd, handle: &BufferHandle) -> Result<MetadataRegion, MapperError> {
        if handle.metadata_size != REGION_SIZE {
            log::warn!("importBuffer: metadata region size {} in the handle", handle.metadata_size);
            return Err(MapperError::BadBuffer);
        }
        let size = dmabuf::size_of(fd.as_fd()).map_err(|errno| {
            log::warn!("importBuffer: metadata fd has no size: {errno}");
            MapperError::BadBuffer
        })?;
        if size < u64::from(REGION_SIZE) {
            log::warn!("importBuffer: metadata fd has {size} bytes, layout needs {REGION_SIZE}");
            return Err(MapperError::BadBuffer);
        }
        if !crate::buffer::cannot_shrink(fd.as_fd()) {
            log::warn!("importBuffer: metadata fd is neither a dma-buf nor a shrink-sealed memfd");
            return Err(MapperError::BadBuffer);
        }
        let region = match MappedRegion::map(fd.as_fd(), true) {
            Err(Errno::EACCES | Errno::EPERM) => MappedRegion::map(fd.as_fd(), false),
            other => other,
        }
        .map_err(|errno| {
            log::warn!("importBuffer: metadata region mmap failed: {errno}");
            MapperError::NoResources
        })?;
        shared_metadata::read(&region).map_err(|error| {
            log::warn!("importBuffer: metadata region: {error}");
            MapperError::BadBuffer
        })?;
        Ok(MetadataRegion { fd, region })
    }

    /// The region's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A consistent snapshot of every value.
    ///
    /// # Errors
    ///
    /// `NO_RESOURCES` when the region stayed busy or was corrupted by another process.
    pub fn read(&self) -> Result<SharedMetadata, MapperError> {
        shared_metadata::read(&self.region).map_err(|error| {
            log::warn!("metadata region read: {error}");
            MapperError::NoResources
        })
    }

    /// Stores one value for every process.
    ///
    /// # Errors
    ///
    /// `BAD_VALUE` for a payload the region cannot hold, `NO_RESOURCES` for a read-only or
    /// busy region.
    pub fn write(&self, value: &FieldValue<'_>) -> Result<(), MapperError> {
        shared_metadata::write(&self.region, value).map_err(|error| {
            log::warn!("metadata region write: {error}");
            match error {
                RegionError::BadLength { .. } => MapperError::BadValue,
                _ => MapperError::NoResources,
            }
        })
    }
}
