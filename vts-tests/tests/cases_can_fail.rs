//! Proof that no case passes by doing nothing: each case is run against a deliberately broken
//! allocator and must fail, for the reason it exists.
//!
//! The broken allocator is a front-end written here, served in this process over the RPC
//! transport, that forwards every call to the real daemon (a separate process, see
//! `common::daemon`) and switches one fault on in between: odd strides, extra buffers,
//! leaked fds, accepted unknown usage bits, dirty memory, wrong error codes, and so on. The
//! suite links no service code; the fault is on the wire. With no fault (the control run)
//! the same cases pass, so a failure under a fault is that fault's doing.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

mod common;

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use common::daemon::Daemon;
use common::{exclusive, failure_of, repo_file, run_suite};
use hal_interface::aidl::{
    AllocationError, AllocationResult, BnAllocator, BufferDescriptorInfo, BufferUsage, IAllocator,
};
use hal_interface::gralloc4::decode_descriptor;
use hal_interface::handle::BufferHandle;
use hal_interface::shared_metadata;
use hal_interface::transport::{self, Endpoint, ServerGuard};
use hal_interface::usage::bits;
use hal_interface::wire;
use rsbinder::{BinderResult, ExceptionCode, Interface, ParcelFileDescriptor};
use rsbinder::{Status, Strong};
use usage_map::UsageMap;
use vts_tests::Summary;

/// One way to be wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// No fault: the control run.
    None,
    /// `stride = width - 1`, in the result and the handles.
    NarrowStride,
    /// One buffer more than asked for.
    ExtraBuffer,
    /// Keeps a dup of every returned fd (up to 64).
    LeakFd,
    /// Clears reserved bits and undefined CPU field values, and vendor bits, before validating.
    AcceptUnknownUsage,
    /// Refuses the retired gralloc0 bits 10 and 13 as reserved (the behaviour before libui's
    /// callers were served).
    RefuseRetiredUsage,
    /// Refuses IMPLEMENTATION_DEFINED with CPU usage (the rule Android 15 removed).
    RefuseImplementationDefinedCpu,
    /// Drops `additionalOptions` before validating.
    AcceptUnknownOptions,
    /// Writes 0xAA into the last byte of every buffer.
    DirtyMemory,
    /// BAD_DESCRIPTOR goes out as UNSUPPORTED.
    WrongErrorCode,
    /// Every refusal is an `IllegalArgument` exception instead of a service-specific error.
    NotServiceSpecific,
    /// `isSupported` always says true.
    IsSupportedAlwaysTrue,
    /// `getInterfaceVersion` 1 and a wrong hash.
    WrongVersion,
    /// A different mapper suffix on every call.
    UnstableSuffix,
    /// Hands out a read-only reopen of each buffer.
    ReadOnlyFd,
    /// The handle claims three times the real size.
    InflatedSize,
    /// Handles name a heap the board does not have.
    WrongHeap,
    /// `COMPOSER_CLIENT_TARGET` is dropped before routing (and put back in the handle): the
    /// buffer comes from another rule's heap, as with a resolver bug.
    MisroutedClientTarget,
    /// Chroma planes of odd-height buffers claim one row fewer (`floor(h/2)` rows).
    ChromaRowsFloored,
    /// Chroma planes report half their row stride.
    ChromaStrideHalved,
    /// The handle's reserved size is rounded up to a page.
    ReservedRoundedUp,
    /// Every 40th allocation fails with NO_RESOURCES.
    FailEveryNth,
    /// Width and height are cut to 16 bits before validation (a 32-bit truncation bug).
    TruncatedDims,
    /// A negative reservedSize is taken as 0.
    AcceptNegativeReserved,
    /// A name without a NUL in its 128 bytes is refused.
    RejectUnterminatedNames,
    /// Undecodable V1 bytes are served as the default descriptor.
    LenientV1,
    /// V1 bytes are ignored: always the default descriptor.
    V1IgnoresFields,
    /// The count cap is enforced one too early (`count == cap` refused).
    CountCapOffByOne,
    /// NO_RESOURCES goes out as UNSUPPORTED.
    ExhaustionAsUnsupported,
    /// Refusals take 2.2 s.
    SlowRefusals,
    /// 64×64 allocations take 2.2 s.
    Slow64x64,
    /// The metadata region's DATASPACE is reset to UNKNOWN (the option ignored).
    RegionDataspaceIgnored,
    /// The metadata region's NAME is cut to 31 bytes (the dma-buf name limit).
    RegionNameCut,
    /// FRONT_BUFFER (bit 32) is dropped from the handle's usage (a 32-bit usage word).
    FrontBufferBitDropped,
    /// `isSupported` says false for FRONT_BUFFER while `allocate2` serves it.
    FrontBufferDeniedBySupport,
}

struct Broken {
    /// The real daemon.
    upstream: Strong<dyn IAllocator>,
    /// `[limits] max_buffers_per_call` of the board.
    count_cap: u32,
    fault: Fault,
    leaked: Mutex<Vec<ParcelFileDescriptor>>,
    calls: AtomicU64,
}

impl Interface for Broken {}

fn default_info() -> BufferDescriptorInfo {
    vts_tests::desc::new(64, 64, hal_interface::Format::Rgba8888, vts_tests::desc::CPU_RW)
}

impl Broken {
    /// Input-side faults: what the daemon gets to see.
    fn doctor(&self, info: &BufferDescriptorInfo) -> Result<BufferDescriptorInfo, Status> {
        let mut info = vts_tests::desc::copy(info);
        match self.fault {
            Fault::AcceptUnknownUsage => {
                let mut usage = vts_tests::desc::usage_of(&info) & (bits::STANDARD | bits::RETIRED);
                for shift in [0, 4] {
                    if !matches!((usage >> shift) & 0xf, 0 | 2 | 3) {
                        usage = usage & !(0xf << shift) | 3 << shift;
                    }
                }
                info.usage = BufferUsage(hal_interface::Usage::from_bits(usage).to_wire());
            }
            Fault::AcceptUnknownOptions => info.additionalOptions.clear(),
            Fault::RefuseImplementationDefinedCpu
                if info.format.0 == hal_interface::Format::ImplementationDefined.raw()
                    && vts_tests::desc::usage_of(&info) & 0xff != 0 =>
            {
                return Err(wire::allocation_error(AllocationError::UNSUPPORTED, "impl-def cpu"));
            }
            Fault::RefuseRetiredUsage if vts_tests::desc::usage_of(&info) & bits::RETIRED != 0 => {
                return Err(wire::allocation_error(AllocationError::UNSUPPORTED, "bit 10 or 13"));
            }
            Fault::MisroutedClientTarget => {
                let usage = vts_tests::desc::usage_of(&info) & !bits::COMPOSER_CLIENT_TARGET;
                info.usage = BufferUsage(hal_interface::Usage::from_bits(usage).to_wire());
            }
            Fault::TruncatedDims => {
                let cut = |v: i32| if v > 0xFFFF { v & 0xFFFF } else { v };
                info.width = cut(info.width);
                info.height = cut(info.height);
            }
            Fault::AcceptNegativeReserved if info.reservedSize < 0 => info.reservedSize = 0,
            Fault::RejectUnterminatedNames if !info.name.contains(&0) => {
                return Err(wire::allocation_error(AllocationError::BAD_DESCRIPTOR, "no NUL"));
            }
            _ => {}
        }
        Ok(info)
    }

    /// A refusal of the daemon, as the fault passes it on.
    fn refuse(&self, status: Status) -> Status {
        let Some(code) = wire::allocation_error_of(&status) else { return status };
        let code = match (self.fault, code) {
            (Fault::WrongErrorCode, AllocationError::BAD_DESCRIPTOR)
            | (Fault::ExhaustionAsUnsupported, AllocationError::NO_RESOURCES) => {
                AllocationError::UNSUPPORTED
            }
            (_, code) => code,
        };
        if self.fault == Fault::SlowRefusals {
            std::thread::sleep(Duration::from_millis(2200));
        }
        if self.fault == Fault::NotServiceSpecific {
            return Status::from(ExceptionCode::IllegalArgument);
        }
        wire::allocation_error(code, status.message().unwrap_or("refused"))
    }

    /// Output-side faults, then the reply. `asked` is the usage the client asked for.
    fn reply(
        &self,
        result: BinderResult<AllocationResult>,
        again: &dyn Fn() -> BinderResult<AllocationResult>,
        asked: u64,
    ) -> BinderResult<AllocationResult> {
        let mut result = result.map_err(|e| self.refuse(e))?;
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        match self.fault {
            Fault::FailEveryNth if n % 40 == 39 => {
                return Err(wire::allocation_error(AllocationError::NO_RESOURCES, "every 40th"));
            }
            Fault::ExtraBuffer => {
                let extra = again().map_err(|e| self.refuse(e))?;
                result.buffers.extend(extra.buffers.into_iter().take(1));
            }
            _ => {}
        }
        let mut narrow_stride = None;
        for native in &mut result.buffers {
            let mut handle = BufferHandle::decode(native).expect("the daemon's handle decodes");
            let fd = native.fds.first().expect("a handle carries its fd");
            let metadata = native.fds.get(1).expect("a v2 handle carries its metadata region");
            match self.fault {
                Fault::LeakFd => {
                    let mut leaked = self.leaked.lock().unwrap();
                    if leaked.len() < 64 {
                        leaked.push(fd.try_clone().unwrap());
                    }
                }
                Fault::DirtyMemory => {
                    let len = vts_tests::mem::size(fd.as_fd()).unwrap();
                    vts_tests::mem::write_bytes(fd.as_fd(), len, |bytes| {
                        if let Some(last) = bytes.last_mut() {
                            *last = 0xAA;
                        }
                        Ok(())
                    })
                    .unwrap();
                }
                Fault::ReadOnlyFd => {
                    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
                    let read_only = ParcelFileDescriptor::from(File::open(path).unwrap());
                    if let Some(first) = native.fds.first_mut() {
                        *first = read_only;
                    }
                }
                Fault::NarrowStride => {
                    let narrow = handle.width.saturating_sub(1).max(1);
                    handle.stride_pixels = narrow;
                    narrow_stride.get_or_insert(narrow);
                }
                Fault::Slow64x64 if (handle.width, handle.height) == (64, 64) => {
                    std::thread::sleep(Duration::from_millis(2200));
                }
                Fault::RegionDataspaceIgnored => {
                    let map = heaps::dmabuf::Mapping::new(
                        metadata.as_fd(),
                        shared_metadata::REGION_SIZE as usize,
                        true,
                    )
                    .unwrap();
                    map.write_from(shared_metadata::OFF_DATASPACE, &0i32.to_le_bytes()).unwrap();
                }
                Fault::RegionNameCut => {
                    let map = heaps::dmabuf::Mapping::new(
                        metadata.as_fd(),
                        shared_metadata::REGION_SIZE as usize,
                        true,
                    )
                    .unwrap();
                    let mut len = [0u8; 4];
                    map.read_into(shared_metadata::OFF_NAME_LEN, &mut len).unwrap();
                    let cut = u32::from_le_bytes(len).min(31);
                    map.write_from(shared_metadata::OFF_NAME_LEN, &cut.to_le_bytes()).unwrap();
                }
                Fault::InflatedSize => handle.alloc_size *= 3,
                Fault::WrongHeap => handle.heap = "no-such-heap".to_owned(),
                Fault::FrontBufferBitDropped => handle.usage &= !bits::FRONT_BUFFER,
                Fault::MisroutedClientTarget => handle.usage = asked,
                Fault::ChromaRowsFloored if handle.height % 2 == 1 => {
                    for plane in &mut handle.planes {
                        if plane.v_subsampling == 2 {
                            plane.size = plane.size.saturating_sub(plane.stride_bytes.into());
                        }
                    }
                }
                Fault::ChromaStrideHalved => {
                    for plane in &mut handle.planes {
                        if plane.h_subsampling == 2 {
                            plane.stride_bytes /= 2;
                        }
                    }
                }
                Fault::ReservedRoundedUp if handle.reserved_size > 0 => {
                    let page = heaps::page_size();
                    let room = handle.alloc_size - handle.reserved_offset;
                    handle.reserved_size =
                        handle.reserved_size.div_ceil(page).saturating_mul(page).min(room);
                }
                _ => {}
            }
            native.ints = handle.encode_ints().map_err(|e| {
                wire::allocation_error(AllocationError::NO_RESOURCES, &e.to_string())
            })?;
        }
        if let Some(narrow) = narrow_stride {
            result.stride = i32::try_from(narrow).unwrap_or(i32::MAX);
        }
        Ok(result)
    }

    fn count_refused(&self, count: i32) -> Option<Status> {
        let hit = self.fault == Fault::CountCapOffByOne
            && u32::try_from(count).is_ok_and(|c| c >= self.count_cap);
        hit.then(|| wire::allocation_error(AllocationError::UNSUPPORTED, "count cap"))
    }
}

impl IAllocator for Broken {
    #[allow(deprecated)]
    fn allocate(&self, descriptor: &[u8], count: i32) -> BinderResult<AllocationResult> {
        let default = default_info();
        let use_default = match self.fault {
            Fault::V1IgnoresFields => true,
            Fault::LenientV1 => decode_descriptor(descriptor).is_err(),
            _ => false,
        };
        let up = &self.upstream;
        if use_default {
            let asked = vts_tests::desc::usage_of(&default);
            return self.reply(up.allocate2(&default, count), &|| up.allocate2(&default, 1), asked);
        }
        let asked = decode_descriptor(descriptor).map_or(0, |d| d.usage);
        self.reply(up.allocate(descriptor, count), &|| up.allocate(descriptor, 1), asked)
    }

    fn allocate2(
        &self,
        descriptor: &BufferDescriptorInfo,
        count: i32,
    ) -> BinderResult<AllocationResult> {
        if let Some(refused) = self.count_refused(count) {
            return Err(refused);
        }
        let info = self.doctor(descriptor)?;
        let up = &self.upstream;
        let asked = vts_tests::desc::usage_of(descriptor);
        self.reply(up.allocate2(&info, count), &|| up.allocate2(&info, 1), asked)
    }

    fn isSupported(&self, descriptor: &BufferDescriptorInfo) -> BinderResult<bool> {
        if self.fault == Fault::IsSupportedAlwaysTrue {
            return Ok(true);
        }
        if self.fault == Fault::FrontBufferDeniedBySupport
            && vts_tests::desc::usage_of(descriptor) & bits::FRONT_BUFFER != 0
        {
            return Ok(false);
        }
        match self.doctor(descriptor) {
            Ok(info) => self.upstream.isSupported(&info),
            Err(_) => Ok(false),
        }
    }

    fn getIMapperLibrarySuffix(&self) -> BinderResult<String> {
        let suffix = self.upstream.getIMapperLibrarySuffix()?;
        if self.fault == Fault::UnstableSuffix {
            let n = self.calls.fetch_add(1, Ordering::Relaxed);
            return Ok(format!("{suffix}{n}"));
        }
        Ok(suffix)
    }

    fn getInterfaceVersion(&self) -> BinderResult<i32> {
        Ok(if self.fault == Fault::WrongVersion {
            1
        } else {
            self.upstream.getInterfaceVersion()?
        })
    }

    fn getInterfaceHash(&self) -> BinderResult<String> {
        Ok(if self.fault == Fault::WrongVersion {
            "0dab5f7fc46756d126ac127cd6033fc242eff0aa".to_owned()
        } else {
            self.upstream.getInterfaceHash()?
        })
    }
}

/// A broken front-end on a temporary socket, in front of a daemon on another; both stop when
/// dropped (the front-end first).
struct Running {
    guard: Option<ServerGuard>,
    endpoint: Endpoint,
    board: PathBuf,
    _daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            guard.stop();
        }
    }
}

fn start(fault: Fault, board: &str) -> Running {
    let board = repo_file(board);
    let map = UsageMap::load(&board).expect("board loads");
    let dir = tempfile::tempdir().expect("temp dir");
    let upstream_socket = dir.path().join("daemon.sock");
    let daemon = Daemon::start(&board, &upstream_socket);
    let upstream = transport::connect(&Endpoint::Unix(upstream_socket)).expect("daemon answers");
    let broken = Broken {
        upstream,
        count_cap: map.limits().max_buffers_per_call,
        fault,
        leaked: Mutex::new(Vec::new()),
        calls: AtomicU64::new(0),
    };
    let endpoint = Endpoint::Unix(dir.path().join("allocator.sock"));
    let binder = BnAllocator::new_binder(broken);
    let guard = transport::serve(&endpoint, binder.as_binder(), 4).expect("serve");
    Running { guard: Some(guard), endpoint, board, _daemon: daemon, _dir: dir }
}

const HOST: &str = "usage-map/boards/host.toml";
const FAKE: &str = "usage-map/tests/boards/fake-exhaustion.toml";

fn run(fault: Fault, board: &str, filter: &str) -> Summary {
    let _one = exclusive();
    let service = start(fault, board);
    let (summary, _) =
        run_suite(&service.endpoint, Some(service.board.clone()), Some(std::process::id()), filter);
    drop(service);
    summary
}

/// One fault, where to run it, and the cases it must fail with a keyword of the reason.
struct Scenario {
    fault: Fault,
    board: &'static str,
    filter: &'static str,
    kills: &'static [(&'static str, &'static str)],
}

const fn scenario(
    fault: Fault,
    board: &'static str,
    filter: &'static str,
    kills: &'static [(&'static str, &'static str)],
) -> Scenario {
    Scenario { fault, board, filter, kills }
}

/// Every fault and what it must kill. `every_case_is_killed_by_some_fault` checks that the
/// union covers the whole registry.
const SCENARIOS: &[Scenario] = &[
    scenario(
        Fault::NarrowStride,
        HOST,
        "aidl.can_allocate:formats.*:mapper.allocate_count*",
        &[
            ("aidl.can_allocate", "stride"),
            ("formats.stride_at_least_width_for_every_supported_format", "stride"),
            ("formats.mandatory_formats_allocate_with_cpu_usage", "stride"),
            ("formats.rgba8888_size_within_one_and_two_times_stride_h_4", "stride"),
            ("mapper.allocate_count_0_to_4_returns_exactly_count_buffers", "stride"),
        ],
    ),
    scenario(
        Fault::ExtraBuffer,
        HOST,
        "mapper.allocate_count*:formats.allocate2_count*:aidl.can_allocate",
        &[
            ("mapper.allocate_count_0_to_4_returns_exactly_count_buffers", "buffers"),
            ("formats.allocate2_count_1_to_4_returns_distinct_buffers", "buffers"),
            ("aidl.can_allocate", "buffers"),
        ],
    ),
    scenario(
        Fault::LeakFd,
        HOST,
        "mapper.allocate_free_2048*:aidl.can_allocate",
        &[
            ("mapper.allocate_free_2048_times_1mp_keeps_fd_count_flat", "leaked"),
            ("aidl.can_allocate", "nothing-lost"),
        ],
    ),
    scenario(
        Fault::AcceptUnknownUsage,
        HOST,
        "aidl.rejects_unknown_usages:bad_input.*usage*:bad_input.*cpu*:bad_input.*vendor*",
        &[
            ("aidl.rejects_unknown_usages", "isSupported"),
            ("bad_input.reserved_usage_bits_are_unsupported", "isSupported"),
            ("bad_input.undefined_cpu_field_values_are_unsupported", "isSupported"),
            ("bad_input.unclaimed_vendor_bits_are_unsupported", "isSupported"),
        ],
    ),
    scenario(
        Fault::RefuseRetiredUsage,
        HOST,
        "bad_input.retired*",
        &[("bad_input.retired_gralloc0_usage_bits_are_accepted_and_ignored", "isSupported")],
    ),
    scenario(
        Fault::RefuseImplementationDefinedCpu,
        HOST,
        "formats.implementation_defined*",
        &[("formats.implementation_defined_with_cpu_usage_gets_the_layout_without", "isSupported")],
    ),
    scenario(
        Fault::AcceptUnknownOptions,
        HOST,
        "aidl.rejects_unknown_options:bad_input.huge_option*",
        &[
            ("aidl.rejects_unknown_options", "isSupported"),
            ("bad_input.huge_option_lists_are_rejected_promptly", "isSupported"),
        ],
    ),
    scenario(
        Fault::DirtyMemory,
        HOST,
        "cpu.fresh_buffer*:cpu.reserved*",
        &[
            ("cpu.fresh_buffer_reads_all_zero_after_dirty_reuse", "0xaa"),
            ("cpu.reserved_region_has_the_requested_size_and_is_usable", "not zero"),
        ],
    ),
    scenario(
        Fault::WrongErrorCode,
        HOST,
        "bad_input.*:mapper.v1_empty*",
        &[
            ("mapper.v1_empty_descriptor_is_bad_descriptor", "expected BAD_DESCRIPTOR"),
            ("bad_input.zero_dimensions_are_bad_descriptor", "expected BAD_DESCRIPTOR"),
            ("bad_input.negative_dimensions_are_bad_descriptor", "expected BAD_DESCRIPTOR"),
            ("bad_input.unspecified_format_is_bad_descriptor", "expected BAD_DESCRIPTOR"),
            ("bad_input.bad_counts_are_rejected", "expected BAD_DESCRIPTOR"),
            ("bad_input.bad_reserved_sizes_are_rejected", "expected BAD_DESCRIPTOR"),
            ("bad_input.malformed_v1_bytes_are_bad_descriptor", "expected BAD_DESCRIPTOR"),
            ("bad_input.v1_fields_are_validated_like_allocate2", "expected BAD_DESCRIPTOR"),
        ],
    ),
    scenario(
        Fault::NotServiceSpecific,
        HOST,
        "bad_input.*:aidl.rejects*",
        &[
            ("aidl.rejects_unknown_usages", "EX_SERVICE_SPECIFIC"),
            ("bad_input.unknown_formats_are_unsupported", "EX_SERVICE_SPECIFIC"),
            ("bad_input.huge_and_overflowing_sizes_are_unsupported", "EX_SERVICE_SPECIFIC"),
            ("bad_input.forbidden_combinations_are_unsupported", "EX_SERVICE_SPECIFIC"),
        ],
    ),
    scenario(
        Fault::IsSupportedAlwaysTrue,
        HOST,
        "formats.is_supported*:bad_input.forbidden*:bad_input.random*",
        &[
            ("formats.is_supported_agrees_with_allocate2", "isSupported true"),
            ("bad_input.forbidden_combinations_are_unsupported", "isSupported"),
            ("bad_input.random_descriptors_keep_is_supported_honest", "isSupported true"),
        ],
    ),
    scenario(
        Fault::WrongVersion,
        HOST,
        "aidl.interface*",
        &[("aidl.interface_version_is_2_with_the_aosp_v2_hash", "expected 2")],
    ),
    scenario(
        Fault::UnstableSuffix,
        HOST,
        "aidl.mapper*",
        &[("aidl.mapper_suffix_is_stable_and_matches_the_board", "not stable")],
    ),
    scenario(
        Fault::ReadOnlyFd,
        HOST,
        "cpu.write_pattern*:cpu.second_process*",
        &[
            ("cpu.write_pattern_read_back_via_mmap", "mmap"),
            ("cpu.second_process_sees_the_same_memory", "mmap"),
        ],
    ),
    scenario(
        Fault::InflatedSize,
        HOST,
        "formats.rgba8888*",
        &[("formats.rgba8888_size_within_one_and_two_times_stride_h_4", "bytes")],
    ),
    scenario(
        Fault::WrongHeap,
        HOST,
        "routing.each*",
        &[("routing.each_usage_class_lands_on_its_rule_heap", "no-such-heap")],
    ),
    scenario(
        Fault::MisroutedClientTarget,
        FAKE,
        "routing.each*",
        &[("routing.each_usage_class_lands_on_its_rule_heap", "allows only [\"fake-cma\"]")],
    ),
    scenario(
        Fault::ChromaRowsFloored,
        HOST,
        "planes.odd*",
        &[("planes.odd_sized_420_formats_round_chroma_up", "cannot hold")],
    ),
    scenario(
        Fault::ChromaStrideHalved,
        HOST,
        "planes.*",
        &[
            ("planes.yv12_layout_matches_the_handle", "Cr plane"),
            ("planes.ycbcr_420_888_layout_is_consistent", "stride"),
            ("planes.nv21_layout_matches_the_handle", "stride"),
            ("planes.p010_layout_matches_the_handle", "stride"),
        ],
    ),
    scenario(
        Fault::ReservedRoundedUp,
        HOST,
        "cpu.reserved*",
        &[("cpu.reserved_region_has_the_requested_size_and_is_usable", "reserved_size")],
    ),
    scenario(
        Fault::FailEveryNth,
        HOST,
        "mapper.eight_threads*:concurrency.*",
        &[
            ("mapper.eight_threads_for_three_seconds_all_succeed", "NO_RESOURCES"),
            ("concurrency.many_clients_at_once_then_healthy", "NO_RESOURCES"),
        ],
    ),
    scenario(
        Fault::TruncatedDims,
        HOST,
        "bad_input.huge*",
        &[("bad_input.huge_and_overflowing_sizes_are_unsupported", "isSupported")],
    ),
    scenario(
        Fault::AcceptNegativeReserved,
        HOST,
        "bad_input.bad_reserved*",
        &[("bad_input.bad_reserved_sizes_are_rejected", "isSupported")],
    ),
    scenario(
        Fault::RejectUnterminatedNames,
        HOST,
        "bad_input.unterminated*",
        &[("bad_input.unterminated_128_byte_names_allocate", "refused")],
    ),
    scenario(
        Fault::CountCapOffByOne,
        HOST,
        "bad_input.board_limits*",
        &[("bad_input.board_limits_hold_at_the_boundary", "at the cap")],
    ),
    scenario(
        Fault::LenientV1,
        HOST,
        "mapper.v1_empty*:bad_input.malformed_v1*",
        &[
            ("mapper.v1_empty_descriptor_is_bad_descriptor", "got 1 buffers"),
            ("bad_input.malformed_v1_bytes_are_bad_descriptor", "got 1 buffers"),
        ],
    ),
    scenario(
        Fault::V1IgnoresFields,
        HOST,
        "mapper.v1_descriptor*:bad_input.v1_fields*",
        &[
            ("mapper.v1_descriptor_fields_reach_the_handle", "width 96"),
            ("bad_input.v1_fields_are_validated_like_allocate2", "got 1 buffers"),
        ],
    ),
    scenario(
        Fault::SlowRefusals,
        HOST,
        "bad_input.zero*",
        &[("bad_input.zero_dimensions_are_bad_descriptor", "took")],
    ),
    scenario(
        Fault::Slow64x64,
        HOST,
        "health.*",
        &[("health.final_ping_and_64x64_allocation", "took")],
    ),
    scenario(
        Fault::RegionDataspaceIgnored,
        HOST,
        "region.dataspace*",
        &[("region.dataspace_option_sets_the_initial_dataspace", "dataspace")],
    ),
    scenario(
        Fault::RegionNameCut,
        HOST,
        "region.full*",
        &[("region.full_127_byte_name_reaches_the_region", "name")],
    ),
    scenario(
        Fault::FrontBufferBitDropped,
        HOST,
        "formats.front_buffer*",
        &[("formats.front_buffer_keeps_bit_32_or_is_unsupported", "usage")],
    ),
    scenario(
        Fault::FrontBufferDeniedBySupport,
        HOST,
        "formats.front_buffer*",
        &[("formats.front_buffer_keeps_bit_32_or_is_unsupported", "expected UNSUPPORTED")],
    ),
    scenario(
        Fault::ExhaustionAsUnsupported,
        FAKE,
        "routing.exhausted*",
        &[("routing.exhausted_heap_falls_back_only_where_allowed", "NO_RESOURCES")],
    ),
];

/// Runs the scenarios of `faults` and checks that each listed case failed with a reason
/// containing its keyword.
fn killed(faults: &[Fault]) {
    for fault in faults {
        let s = SCENARIOS.iter().find(|s| s.fault == *fault).expect("a scenario for the fault");
        let summary = run(s.fault, s.board, s.filter);
        for (case, keyword) in s.kills {
            let reason = failure_of(&summary, case);
            assert!(
                reason.to_lowercase().contains(&keyword.to_lowercase()),
                "{fault:?}: {case} failed for another reason than {keyword:?}: {reason}"
            );
        }
    }
}

#[test]
fn every_case_is_killed_by_some_fault() {
    let killed: std::collections::HashSet<&str> =
        SCENARIOS.iter().flat_map(|s| s.kills.iter().map(|(case, _)| *case)).collect();
    // The mapper area's faults are broken mapper libraries, not broken allocators: they are
    // not in this table (yet), so its cases are left out of this check.
    let missing: Vec<&str> = vts_tests::cases::all()
        .iter()
        .map(|c| c.name)
        .filter(|n| !n.starts_with("mapper_stablec.") && !killed.contains(n))
        .collect();
    assert!(missing.is_empty(), "cases no fault kills: {missing:?}");
    let unknown: Vec<&&str> =
        killed.iter().filter(|n| !vts_tests::cases::all().iter().any(|c| c.name == **n)).collect();
    assert!(unknown.is_empty(), "scenarios name cases that do not exist: {unknown:?}");
}

#[test]
fn control_run_passes_every_case_on_both_boards() {
    for board in [HOST, FAKE] {
        let summary = run(Fault::None, board, "*");
        assert_eq!(summary.failed(), 0, "control run on {board} has failures: {}", summary.line());
    }
}

#[test]
fn metadata_regions_without_the_dataspace_or_the_full_name_are_caught() {
    killed(&[Fault::RegionDataspaceIgnored, Fault::RegionNameCut]);
}

#[test]
fn broken_strides_counts_and_fds_are_caught() {
    killed(&[Fault::NarrowStride, Fault::ExtraBuffer, Fault::LeakFd]);
}

#[test]
fn accepted_unknown_usage_and_options_are_caught() {
    killed(&[Fault::AcceptUnknownUsage, Fault::AcceptUnknownOptions]);
}

#[test]
fn refused_retired_usage_bits_are_caught() {
    killed(&[Fault::RefuseRetiredUsage]);
}

#[test]
fn refused_implementation_defined_cpu_usage_is_caught() {
    killed(&[Fault::RefuseImplementationDefinedCpu]);
}

#[test]
fn dirty_or_unwritable_memory_is_caught() {
    killed(&[Fault::DirtyMemory, Fault::ReadOnlyFd]);
}

#[test]
fn wrong_error_shapes_are_caught() {
    killed(&[Fault::WrongErrorCode, Fault::NotServiceSpecific, Fault::IsSupportedAlwaysTrue]);
}

#[test]
fn wrong_version_and_unstable_suffix_are_caught() {
    killed(&[Fault::WrongVersion, Fault::UnstableSuffix]);
}

#[test]
fn handles_that_lie_about_size_heap_or_planes_are_caught() {
    killed(&[
        Fault::InflatedSize,
        Fault::WrongHeap,
        Fault::MisroutedClientTarget,
        Fault::ChromaStrideHalved,
        Fault::ChromaRowsFloored,
        Fault::ReservedRoundedUp,
    ]);
}

#[test]
fn front_buffers_that_lose_bit_32_or_lie_in_is_supported_are_caught() {
    killed(&[Fault::FrontBufferBitDropped, Fault::FrontBufferDeniedBySupport]);
}

#[test]
fn intermittent_failures_under_load_are_caught() {
    killed(&[Fault::FailEveryNth]);
}

#[test]
fn validation_holes_are_caught() {
    killed(&[
        Fault::TruncatedDims,
        Fault::AcceptNegativeReserved,
        Fault::RejectUnterminatedNames,
        Fault::CountCapOffByOne,
        Fault::LenientV1,
        Fault::V1IgnoresFields,
    ]);
}

#[test]
fn slow_answers_are_caught() {
    killed(&[Fault::SlowRefusals, Fault::Slow64x64]);
}

#[test]
fn exhaustion_reported_as_unsupported_is_caught() {
    killed(&[Fault::ExhaustionAsUnsupported]);
}

/// The second-process check itself: a child that is shown memory without the parent's
/// pattern says so, and one that is shown the right memory writes back what the parent reads.
#[test]
fn child_process_check_tells_shared_from_unshared_memory() {
    use heaps::Heap;
    let _one = exclusive();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_gralloc-vts"));
    let heap = heaps::MemfdHeap::plain("vts-child").expect("memfd heap");
    let fd = heap.allocate(std::num::NonZeroU64::new(8192).expect("non-zero")).expect("memfd");
    vts_tests::mem::write_pattern(&fd, 8192, 1).expect("parent writes");
    let wrong = vts_tests::child::check_in_child(exe, fd.as_fd(), 8192, 2, 3);
    assert!(wrong.is_err_and(|s| s.reason().contains("parent's pattern")));
    vts_tests::child::check_in_child(exe, fd.as_fd(), 8192, 1, 3).expect("child sees the pattern");
    vts_tests::mem::check_pattern(&fd, 8192, 3).expect("parent sees the child's pattern");
}
