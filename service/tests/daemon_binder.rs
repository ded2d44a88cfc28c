//! The Binder front-end in process: `AllocatorService`'s IAllocator methods called directly
//! (no transport), over the host board's memfd heap. Checks the wire contract of each
//! method: service-specific `AllocationError`s only, `isSupported` always `Ok`, V1 through
//! the gralloc4 decoder, the caller allow-list, and a bounded `dump` without addresses.

use std::sync::Arc;

use allocator_service::allocator::Allocator;
use allocator_service::binder::AllocatorService;
use allocator_service::startup;
use hal_interface::aidl::{
    AllocationError, BufferDescriptorInfo, BufferUsage, IAllocator, PixelFormat,
};
use hal_interface::{gralloc4, wire, BufferHandle, V1Descriptor};
use rsbinder::{Interface, Status};
use usage_map::UsageMap;

const HOST_BOARD: &str = include_str!("../../usage-map/boards/host.toml");
const CPU_RW: i64 = 0x33;

fn service_with(board_text: &str) -> AllocatorService {
    let map = UsageMap::from_toml_str(board_text, "host.toml").expect("board loads");
    let (table, _report) = startup::open_heaps(&map, &heaps::probe()).expect("memfd heap opens");
    AllocatorService::new(Arc::new(Allocator::new(map, table)))
}

fn service() -> AllocatorService {
    service_with(HOST_BOARD)
}

fn descriptor(width: i32, height: i32, format: i32, usage: i64) -> BufferDescriptorInfo {
    BufferDescriptorInfo {
        name: wire::descriptor_name_array(b"binder-test"),
        width,
        height,
        layerCount: 1,
        format: PixelFormat(format),
        usage: BufferUsage(usage),
        reservedSize: 0,
        additionalOptions: Vec::new(),
    }
}

fn code_of(status: &Status) -> AllocationError {
    assert!(wire::is_service_specific(status), "not EX_SERVICE_SPECIFIC: {status}");
    wire::allocation_error_of(status).expect("an AllocationError code")
}

fn uid() -> u32 {
    nix::unistd::Uid::effective().as_raw()
}

#[test]
fn allocate2_returns_count_decodable_handles() {
    let svc = service();
    let reply = svc.allocate2(&descriptor(64, 32, 1, CPU_RW), 3).expect("allocate2");
    assert_eq!(reply.stride, 64);
    assert_eq!(reply.buffers.len(), 3);
    for native in &reply.buffers {
        assert_eq!(native.fds.len(), 2, "the buffer and its metadata region");
        let handle = BufferHandle::decode(native).expect("handle decodes");
        assert_eq!((handle.width, handle.height, handle.format), (64, 32, 1));
        assert!(handle.alloc_size >= 64 * 32 * 4);
    }
    let empty = svc.allocate2(&descriptor(64, 32, 1, CPU_RW), 0).expect("count 0");
    assert!(empty.buffers.is_empty());
}

#[test]
fn failures_are_service_specific_allocation_errors() {
    let svc = service();
    let cases = [
        (descriptor(0, 64, 1, CPU_RW), 1, AllocationError::BAD_DESCRIPTOR),
        (descriptor(64, 64, 0, CPU_RW), 1, AllocationError::BAD_DESCRIPTOR),
        (descriptor(64, 64, 1, CPU_RW), -1, AllocationError::BAD_DESCRIPTOR),
        (descriptor(64, 64, 0x3C, CPU_RW), 1, AllocationError::UNSUPPORTED),
        (descriptor(64, 64, 1, 1 << 33), 1, AllocationError::UNSUPPORTED),
        (descriptor(64, 64, 1, 0x4000), 1, AllocationError::UNSUPPORTED),
        (descriptor(i32::MAX, 1, 1, CPU_RW), 1, AllocationError::UNSUPPORTED),
        (descriptor(64, 64, 1, CPU_RW), i32::MAX, AllocationError::UNSUPPORTED),
    ];
    for (d, count, expected) in cases {
        let status = svc.allocate2(&d, count).expect_err("must fail");
        assert_eq!(
            code_of(&status),
            expected,
            "{}x{} {:?} count {count}",
            d.width,
            d.height,
            d.format
        );
        assert!(!status.message().unwrap_or_default().is_empty(), "the chain is the message");
        // isSupported has no count; a bad count leaves the descriptor supported.
        assert_eq!(svc.isSupported(&d).expect("isSupported is Ok"), count != 1);
    }
}

#[test]
fn v1_allocate_goes_through_the_gralloc4_decoder() {
    let svc = service();
    let v1 = V1Descriptor {
        name: b"v1".to_vec(),
        width: 16,
        height: 16,
        layer_count: 1,
        format: 1,
        usage: 0x33,
        reserved_size: 0,
    };
    #[allow(deprecated)]
    let reply = svc.allocate(&gralloc4::encode_descriptor(&v1), 2).expect("V1 allocate");
    assert_eq!(reply.buffers.len(), 2);
    for garbage in [&[][..], &[1, 2, 3][..]] {
        #[allow(deprecated)]
        let status = svc.allocate(garbage, 1).expect_err("garbage");
        assert_eq!(code_of(&status), AllocationError::BAD_DESCRIPTOR);
    }
}

#[test]
fn is_supported_and_the_mapper_suffix() {
    let svc = service();
    assert_eq!(svc.isSupported(&descriptor(64, 64, 1, CPU_RW)), Ok(true));
    assert_eq!(svc.getIMapperLibrarySuffix().expect("suffix"), "host");
}

#[test]
fn callers_missing_from_allowed_uids_are_unsupported() {
    let denied = HOST_BOARD
        .replace("[limits]", &format!("[limits]\nallowed_uids = [{}]", uid().wrapping_add(1)));
    let svc = service_with(&denied);
    let d = descriptor(64, 64, 1, CPU_RW);
    let status = svc.allocate2(&d, 1).expect_err("denied");
    assert_eq!(code_of(&status), AllocationError::UNSUPPORTED);
    let message = status.message().unwrap_or_default().to_owned();
    assert!(
        message.contains(&format!("caller uid {} is not in the board's allowed_uids", uid())),
        "{message}"
    );
    assert_eq!(svc.isSupported(&d), Ok(false));
    #[allow(deprecated)]
    let v1 = svc.allocate(
        &gralloc4::encode_descriptor(&V1Descriptor {
            name: Vec::new(),
            width: 8,
            height: 8,
            layer_count: 1,
            format: 1,
            usage: 0x33,
            reserved_size: 0,
        }),
        1,
    );
    assert_eq!(code_of(&v1.expect_err("denied")), AllocationError::UNSUPPORTED);
    assert_eq!(svc.getIMapperLibrarySuffix().expect("suffix for everyone"), "host");
    assert_eq!(svc.allocator().stats().heap("memfd").map(|h| h.buffers), Some(0));

    let allowed = HOST_BOARD.replace("[limits]", &format!("[limits]\nallowed_uids = [{}]", uid()));
    let svc = service_with(&allowed);
    assert!(svc.allocate2(&d, 1).is_ok());
    assert_eq!(svc.isSupported(&d), Ok(true));
}

#[test]
fn dump_prints_bounded_statistics() {
    let svc = service();
    svc.allocate2(&descriptor(64, 64, 1, CPU_RW), 2).expect("allocate2");
    let _ = svc.allocate2(&descriptor(0, 64, 1, CPU_RW), 1);
    let mut out = Vec::new();
    svc.dump(&mut out, &[]).expect("dump");
    let text = String::from_utf8(out).expect("UTF-8");
    assert!(text.starts_with("board host\n"), "{text}");
    assert!(text.contains("calls: 1 ok, 1 BAD_DESCRIPTOR"), "{text}");
    assert!(text.contains("heap memfd: 2 buffers, 32768 bytes"), "{text}");
    assert!(text.len() <= allocator_service::dump::MAX_DUMP_BYTES);
    assert!(!text.contains("0x"), "no addresses: {text}");
}
