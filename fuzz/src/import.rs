//! The `mapper_import` target: the mapper's import and validation path
//! (`gralloc_mapper::buffer::Imported::new`, what `importBuffer` runs after copying the
//! raw `native_handle_t`) on built fds and arbitrary or patched ints, then every call an
//! imported buffer takes.
//!
//! Input layout ([`run`]; reads past the end are zeros, so any bytes are an input):
//! `template u8, fd_count u8, fd_count × (kind u8, param u32), mode u8, cpu_usage u8,
//! region 4 × i32`, then for mode 0 patches `(index u8, value i32)` to the template's ints,
//! for any other mode the ints themselves.

use std::fs::File;
use std::num::NonZeroU64;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;

use allocator_service::region::{MappedRegion, MetadataRegions};
use gralloc_mapper::abi::ARect;
use gralloc_mapper::buffer::Imported;
use gralloc_mapper::{registry, MapperError};
use hal_interface::aidl::{BufferDescriptorInfo, BufferUsage, PixelFormat};
use hal_interface::handle::{BufferHandle, FD_COUNT};
use hal_interface::metadata::StandardMetadataType;
use hal_interface::shared_metadata::{RegionAccess, REGION_SIZE};
use hal_interface::usage::bits;
use hal_interface::wire::descriptor_name_array;
use hal_interface::Format;
use heaps::{Heap, MemfdHeap};

use crate::alloc::fixture;
use crate::input::{ints_of, Reader};

/// The handles the service really makes, to patch: RGBA_8888 with a reserved region,
/// YV12, BLOB, RAW10 and P010.
pub fn templates() -> &'static [BufferHandle] {
    static TEMPLATES: OnceLock<Vec<BufferHandle>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let cpu = bits::CPU_READ_OFTEN | bits::CPU_WRITE_OFTEN;
        let kinds = [
            (64, 64, Format::Rgba8888, 4096),
            (64, 32, Format::Yv12, 0),
            (4096, 1, Format::Blob, 0),
            (64, 16, Format::Raw10, 0),
            (32, 32, Format::YcbcrP010, 0),
        ];
        kinds
            .into_iter()
            .map(|(width, height, format, reserved)| {
                let info = BufferDescriptorInfo {
                    name: descriptor_name_array(b"fuzz-template"),
                    width,
                    height,
                    layerCount: 1,
                    format: PixelFormat(format.raw()),
                    usage: BufferUsage(i64::from_ne_bytes(cpu.to_ne_bytes())),
                    reservedSize: reserved,
                    additionalOptions: Vec::new(),
                };
                let allocation = fixture().allocator.allocate2(&info, 1).expect("template");
                let (handle, _, _) = allocation.buffers.into_iter().next().expect("one buffer");
                handle
            })
            .collect()
    })
}

/// Fds that are not buffers, made once and duplicated per input.
struct Strangers {
    null: File,
    regular: File,
}

fn strangers() -> &'static Strangers {
    static STRANGERS: OnceLock<Strangers> = OnceLock::new();
    STRANGERS.get_or_init(|| {
        let null = File::open("/dev/null").expect("/dev/null");
        let path = std::env::temp_dir().join(format!("gralloc-fuzz-{}", std::process::id()));
        let regular = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("a temporary file");
        regular.set_len(1 << 20).expect("sized");
        // Unlinked at once: only the fd keeps it.
        std::fs::remove_file(&path).expect("unlinked");
        Strangers { null, regular }
    })
}

fn memfd(len: u64) -> Option<OwnedFd> {
    static HEAP: OnceLock<MemfdHeap> = OnceLock::new();
    let heap = HEAP.get_or_init(|| MemfdHeap::plain("fuzz-import").expect("memfd heap"));
    heap.allocate(NonZeroU64::new(len)?).ok()
}

/// One fd of a handle, by kind: a buffer of the template's size (0), one page short (1)
/// or of `param` pages (2); a valid metadata region (3), one with `param`'s bytes written
/// into its header (4), an uninitialised one (5); `/dev/null` (6); a shrinkable regular
/// file (7); a pipe (other).
fn make_fd(kind: u8, param: u32, template: &BufferHandle) -> Option<OwnedFd> {
    let page = heaps::page_size();
    match kind % 9 {
        0 => memfd(template.alloc_size),
        1 => memfd(template.alloc_size.saturating_sub(page)),
        2 => memfd(u64::from(param % 512).saturating_mul(page)),
        3 => MetadataRegions::memfd().create(b"fuzz", 0).ok(),
        4 => {
            let fd = MetadataRegions::memfd().create(b"fuzz", 0).ok()?;
            let region = MappedRegion::map(fd.as_fd(), true).ok()?;
            let offset = usize::try_from(param >> 16).ok()? % 64;
            region.write_from(offset, &param.to_le_bytes()[..2]).ok()?;
            drop(region);
            Some(fd)
        }
        5 => memfd(u64::from(REGION_SIZE)),
        6 => strangers().null.try_clone().ok().map(OwnedFd::from),
        7 => strangers().regular.try_clone().ok().map(OwnedFd::from),
        _ => std::io::pipe().ok().map(|(reader, _)| OwnedFd::from(reader)),
    }
}

/// Runs one input: import, and for an accepted handle every later call, checking that the
/// mapper accepted exactly what the codec decodes, answers without panicking, and leaves
/// no fd behind.
///
/// # Panics
///
/// On a broken invariant: that is a finding.
pub fn run(data: &[u8]) {
    // The process-wide fds (templates' allocator, the strangers) exist before the count.
    templates();
    strangers();
    let before = crate::open_fds();
    run_inner(data);
    assert_eq!(crate::open_fds(), before, "fds leaked");
}

fn run_inner(data: &[u8]) {
    let mut r = Reader::new(data);
    let templates = templates();
    let template = &templates[usize::from(r.u8()) % templates.len()];
    let fd_count = r.u8() % 5;
    let mut fds = Vec::new();
    for _ in 0..fd_count {
        let (kind, param) = (r.u8(), r.u32());
        fds.extend(make_fd(kind, param, template));
    }
    let mode = r.u8();
    let cpu_usage = u64::from(r.u8());
    let region = ARect { left: r.i32(), top: r.i32(), right: r.i32(), bottom: r.i32() };
    let ints = if mode == 0 {
        let mut ints = template.encode_ints().expect("a template encodes");
        while !r.is_empty() {
            let (index, value) = (usize::from(r.u8()), r.i32());
            if let Some(slot) = ints.get_mut(index) {
                *slot = value;
            }
        }
        ints
    } else {
        ints_of(r.rest())
    };
    let decoded = BufferHandle::decode_parts(fds.len(), &ints);
    let Ok(imported) = Imported::new(fds, ints.clone()) else { return };
    let decoded = decoded.expect("the mapper imported a handle the codec refuses");
    assert_eq!(imported.handle(), &decoded);
    let int_count = u32::try_from(ints.len()).expect("few ints");
    assert_eq!(imported.transport_size(), (u32::try_from(FD_COUNT).expect("2"), int_count));
    exercise(&imported, cpu_usage, region);
    let buffer = registry::insert(imported);
    let key = buffer.key();
    assert!(registry::get(key).is_ok());
    registry::remove(key).expect("an inserted buffer is removed");
    assert_eq!(registry::get(key).err(), Some(MapperError::BadBuffer));
}

fn exercise(imported: &Imported, cpu_usage: u64, region: ARect) {
    for ty in StandardMetadataType::ALL {
        if let Ok(bytes) = gralloc_mapper::metadata::get(imported, ty.value()) {
            hal_interface::metadata::decode(ty, &bytes).expect("a got value decodes");
        }
    }
    let _ = gralloc_mapper::metadata::dump(imported);
    if let Ok((_, size)) = imported.reserved_region() {
        assert_eq!(size, imported.handle().reserved_size);
    }
    if imported.lock(cpu_usage, region).is_ok() {
        let _ = imported.flush();
        let _ = imported.reread();
        imported.unlock().expect("a locked buffer unlocks");
    }
    assert_eq!(imported.unlock(), Err(MapperError::BadBuffer), "unlock of an unlocked buffer");
}
