//! `drivers/staging/android/uapi/ion.h`: legacy (handle) and modern (fd) ION ABIs.

use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use crate::ion::{IonHeapInfo, IonIoctl};

pub(crate) const ION_IOC_MAGIC: u8 = b'I';
pub(crate) const ION_IOC_ALLOC_NR: u8 = 0;
pub(crate) const ION_IOC_FREE_NR: u8 = 1;
pub(crate) const ION_IOC_SHARE_NR: u8 = 4;
pub(crate) const ION_IOC_HEAP_QUERY_NR: u8 = 8;

/// `ION_FLAG_CACHED`: ask for a CPU-cached buffer.
pub const ION_FLAG_CACHED: u32 = 1;

/// `enum ion_heap_type` values of the heaps that hand out physically contiguous memory.
pub(crate) const ION_HEAP_TYPE_SYSTEM_CONTIG: u32 = 1;
pub(crate) const ION_HEAP_TYPE_CARVEOUT: u32 = 2;
pub(crate) const ION_HEAP_TYPE_CHUNK: u32 = 3;
pub(crate) const ION_HEAP_TYPE_DMA: u32 = 4;

/// Legacy (≤ 4.11) `struct ion_allocation_data`; `size_t` fields make it ABI-dependent.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IonAllocationDataLegacy {
    pub(crate) len: usize,
    pub(crate) align: usize,
    pub(crate) heap_id_mask: u32,
    pub(crate) flags: u32,
    pub(crate) handle: i32,
}
#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<IonAllocationDataLegacy>() == 32);
#[cfg(target_pointer_width = "32")]
const _: () = assert!(size_of::<IonAllocationDataLegacy>() == 20);

/// Legacy `struct ion_fd_data` (SHARE, MAP, IMPORT, SYNC).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IonFdData {
    pub(crate) handle: i32,
    pub(crate) fd: i32,
}
const _: () = assert!(size_of::<IonFdData>() == 8);

/// Legacy `struct ion_handle_data` (FREE).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IonHandleData {
    pub(crate) handle: i32,
}
const _: () = assert!(size_of::<IonHandleData>() == 4);

/// Legacy `struct ion_custom_data`. Never issued by this crate; defined so the opcode pin
/// covers its pointer-width dependence.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IonCustomData {
    pub(crate) cmd: u32,
    pub(crate) arg: libc::c_ulong,
}
#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<IonCustomData>() == 16);
#[cfg(target_pointer_width = "32")]
const _: () = assert!(size_of::<IonCustomData>() == 8);

/// Modern (4.12+) `struct ion_allocation_data`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IonAllocationData {
    pub(crate) len: u64,
    pub(crate) heap_id_mask: u32,
    pub(crate) flags: u32,
    pub(crate) fd: u32,
    pub(crate) unused: u32,
}
const _: () = assert!(size_of::<IonAllocationData>() == 24);

/// `struct ion_heap_data`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IonHeapData {
    pub(crate) name: [u8; 32],
    pub(crate) type_: u32,
    pub(crate) heap_id: u32,
    pub(crate) reserved0: u32,
    pub(crate) reserved1: u32,
    pub(crate) reserved2: u32,
}
const _: () = assert!(size_of::<IonHeapData>() == 52);

/// `struct ion_heap_query`; `heaps` is a user pointer to `[IonHeapData; cnt]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IonHeapQuery {
    pub(crate) cnt: u32,
    pub(crate) reserved0: u32,
    pub(crate) heaps: u64,
    pub(crate) reserved1: u32,
    pub(crate) reserved2: u32,
}
const _: () = assert!(size_of::<IonHeapQuery>() == 24);

/// Upper bound on HEAP_QUERY entries we accept (legacy headers had 16, modular ION 32).
const MAX_QUERY_HEAPS: u32 = 1024;

nix::ioctl_readwrite!(
    ion_alloc_legacy_raw,
    ION_IOC_MAGIC,
    ION_IOC_ALLOC_NR,
    IonAllocationDataLegacy
);
nix::ioctl_readwrite!(ion_free_raw, ION_IOC_MAGIC, ION_IOC_FREE_NR, IonHandleData);
nix::ioctl_readwrite!(ion_share_raw, ION_IOC_MAGIC, ION_IOC_SHARE_NR, IonFdData);
nix::ioctl_readwrite!(ion_alloc_raw, ION_IOC_MAGIC, ION_IOC_ALLOC_NR, IonAllocationData);
nix::ioctl_readwrite!(ion_heap_query_raw, ION_IOC_MAGIC, ION_IOC_HEAP_QUERY_NR, IonHeapQuery);

/// The real kernel behind [`IonIoctl`]: an open `/dev/ion`.
#[derive(Debug)]
pub(crate) struct KernelIon {
    dev: OwnedFd,
}

impl KernelIon {
    pub(crate) fn new(dev: OwnedFd) -> Self {
        Self { dev }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.dev.as_fd()
    }
}

impl IonIoctl for KernelIon {
    fn free(&self, handle: i32) -> nix::Result<()> {
        let mut arg = IonHandleData { handle };
        // SAFETY: opcode generated for this repr(C) type (size asserted); `arg` is a live
        // exclusive borrow; the device fd is owned by `self` and open.
        unsafe { ion_free_raw(self.fd().as_raw_fd(), &mut arg) }?;
        Ok(())
    }

    fn alloc_legacy(&self, len: u64, heap_id_mask: u32, flags: u32) -> nix::Result<i32> {
        let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
        let mut arg = IonAllocationDataLegacy { len, heap_id_mask, flags, ..Default::default() };
        // SAFETY: opcode generated for this repr(C) type, whose size follows the pointer
        // width exactly as the legacy header's size_t fields do (asserted); `arg` is a live
        // exclusive borrow; the device fd is open.
        unsafe { ion_alloc_legacy_raw(self.fd().as_raw_fd(), &mut arg) }?;
        Ok(arg.handle)
    }

    fn share(&self, handle: i32) -> nix::Result<OwnedFd> {
        let mut arg = IonFdData { handle, fd: -1 };
        // SAFETY: opcode generated for this repr(C) type (size asserted); `arg` is a live
        // exclusive borrow; the device fd is open.
        unsafe { ion_share_raw(self.fd().as_raw_fd(), &mut arg) }?;
        // SAFETY: on success the kernel installed `arg.fd` in our table just now.
        unsafe { super::adopt_fd(arg.fd) }
    }

    fn alloc_modern(&self, len: u64, heap_id_mask: u32, flags: u32) -> nix::Result<OwnedFd> {
        let mut arg = IonAllocationData { len, heap_id_mask, flags, ..Default::default() };
        // SAFETY: opcode generated for this repr(C) type (size asserted); `arg` is a live
        // exclusive borrow; the device fd is open.
        unsafe { ion_alloc_raw(self.fd().as_raw_fd(), &mut arg) }?;
        // SAFETY: on success the kernel installed `arg.fd` in our table just now.
        unsafe { super::adopt_u32_fd(arg.fd) }
    }

    fn heap_query(&self) -> nix::Result<Vec<IonHeapInfo>> {
        let mut count = IonHeapQuery::default();
        // SAFETY: opcode generated for this repr(C) type (size asserted); with `heaps == 0`
        // the kernel only writes `cnt` into `count`, a live exclusive borrow.
        unsafe { ion_heap_query_raw(self.fd().as_raw_fd(), &mut count) }?;
        let cnt = count.cnt.min(MAX_QUERY_HEAPS);
        if cnt == 0 {
            return Ok(Vec::new());
        }
        let mut heaps =
            vec![IonHeapData::default(); usize::try_from(cnt).map_err(|_| Errno::EOVERFLOW)?];
        let heaps_addr =
            u64::try_from(heaps.as_mut_ptr() as usize).map_err(|_| Errno::EOVERFLOW)?;
        let mut query = IonHeapQuery { cnt, heaps: heaps_addr, ..Default::default() };
        // SAFETY: opcode generated for this repr(C) type; the kernel writes at most `cnt`
        // IonHeapData entries (52 bytes each, asserted) through `heaps`, which holds exactly
        // `cnt` of them and is neither moved nor resized until the call returns.
        unsafe { ion_heap_query_raw(self.fd().as_raw_fd(), &mut query) }?;
        heaps.truncate(usize::try_from(query.cnt.min(cnt)).map_err(|_| Errno::EOVERFLOW)?);
        Ok(heaps.iter().map(heap_info).collect())
    }
}

fn heap_info(raw: &IonHeapData) -> IonHeapInfo {
    let end = raw.name.iter().position(|&b| b == 0).unwrap_or(raw.name.len());
    let name = raw.name.get(..end).unwrap_or(&[]);
    IonHeapInfo {
        name: String::from_utf8_lossy(name).into_owned(),
        heap_type: raw.type_,
        heap_id: raw.heap_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ION_IOC_CUSTOM_NR: u8 = 6;

    fn rw(nr: u8, size: usize) -> u32 {
        u32::try_from(nix::request_code_readwrite!(ION_IOC_MAGIC, nr, size)).unwrap()
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn legacy_width_dependent_opcodes_match_uapi_on_64_bit() {
        assert_eq!(rw(ION_IOC_ALLOC_NR, size_of::<IonAllocationDataLegacy>()), 0xC020_4900);
        assert_eq!(rw(ION_IOC_CUSTOM_NR, size_of::<IonCustomData>()), 0xC010_4906);
    }

    #[cfg(target_pointer_width = "32")]
    #[test]
    fn legacy_width_dependent_opcodes_match_uapi_on_32_bit() {
        assert_eq!(rw(ION_IOC_ALLOC_NR, size_of::<IonAllocationDataLegacy>()), 0xC014_4900);
        assert_eq!(rw(ION_IOC_CUSTOM_NR, size_of::<IonCustomData>()), 0xC008_4906);
    }

    #[test]
    fn legacy_fixed_opcodes_match_uapi() {
        assert_eq!(rw(ION_IOC_FREE_NR, size_of::<IonHandleData>()), 0xC004_4901);
        assert_eq!(rw(2, size_of::<IonFdData>()), 0xC008_4902); // MAP
        assert_eq!(rw(ION_IOC_SHARE_NR, size_of::<IonFdData>()), 0xC008_4904);
        assert_eq!(rw(5, size_of::<IonFdData>()), 0xC008_4905); // IMPORT
        assert_eq!(rw(7, size_of::<IonFdData>()), 0xC008_4907); // SYNC
    }

    #[test]
    fn modern_opcodes_match_uapi() {
        assert_eq!(rw(ION_IOC_ALLOC_NR, size_of::<IonAllocationData>()), 0xC018_4900);
        assert_eq!(rw(ION_IOC_HEAP_QUERY_NR, size_of::<IonHeapQuery>()), 0xC018_4908);
        let abi_version = nix::request_code_read!(ION_IOC_MAGIC, 9, size_of::<u32>());
        assert_eq!(u32::try_from(abi_version).unwrap(), 0x8004_4909);
    }

    #[test]
    fn heap_name_stops_at_nul_and_tolerates_a_full_buffer() {
        let mut raw = IonHeapData { type_: 4, heap_id: 2, ..Default::default() };
        raw.name[..8].copy_from_slice(b"reserved");
        assert_eq!(
            heap_info(&raw),
            IonHeapInfo { name: "reserved".into(), heap_type: 4, heap_id: 2 }
        );
        raw.name = [b'x'; 32];
        assert_eq!(heap_info(&raw).name.len(), 32);
    }

    #[test]
    fn kernel_ion_on_a_regular_file_reports_enotty() {
        let ion = KernelIon::new(OwnedFd::from(tempfile::tempfile().unwrap()));
        assert_eq!(ion.free(0).unwrap_err(), Errno::ENOTTY);
        assert_eq!(ion.heap_query().unwrap_err(), Errno::ENOTTY);
        assert_eq!(ion.alloc_modern(4096, 1, 0).unwrap_err(), Errno::ENOTTY);
    }
}
