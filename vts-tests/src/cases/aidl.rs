//! The allocator AIDL VTS (`VtsHalGraphicsAllocatorAidl_TargetTest`): CanAllocate,
//! RejectsUnknownUsages, RejectsUnknownOptions, plus the version, hash and mapper-suffix
//! checks its set-up performs.

use hal_interface::aidl::{AllocationError, ExtendableType, IAllocator};

use crate::check::{self, allocate_checked};
use crate::ctx::Ctx;
use crate::desc;
use crate::runner::{Case, Outcome, Stop};

/// The frozen `.hash` of android.hardware.graphics.allocator V2 (AOSP `aidl_api/.../2/.hash`),
/// written here rather than taken from `hal_interface` so a wrong constant there shows.
pub const AOSP_V2_HASH: &str = "9499fec09c544e9de5be3c87125721600f8ade66";

/// The cases of this area.
pub const CASES: &[Case] = &[
    Case { name: "aidl.can_allocate", run: can_allocate },
    Case { name: "aidl.rejects_unknown_usages", run: rejects_unknown_usages },
    Case { name: "aidl.rejects_unknown_options", run: rejects_unknown_options },
    Case { name: "aidl.interface_version_is_2_with_the_aosp_v2_hash", run: version_and_hash },
    Case { name: "aidl.mapper_suffix_is_stable_and_matches_the_board", run: mapper_suffix },
];

/// CanAllocate: 64×64 RGBA_8888 CPU read/write often, one buffer, `stride >= 64`.
fn can_allocate(ctx: &Ctx) -> Outcome {
    let info = desc::default_rgba();
    let allocated = allocate_checked(ctx.allocator(), &info, 1)?;
    ctx.note(format!("stride {}", allocated.stride));
    Ok(())
}

/// RejectsUnknownUsages: the known-good descriptor is supported and allocates; with
/// `1 << 33` added it is unsupported and the allocation fails.
fn rejects_unknown_usages(ctx: &Ctx) -> Outcome {
    let good = desc::default_rgba();
    check::supported_is(ctx.allocator(), &good, true)?;
    allocate_checked(ctx.allocator(), &good, 1)?;
    let unknown = desc::new(64, 64, hal_interface::Format::Rgba8888, desc::CPU_RW | 1 << 33);
    check::rejected(ctx, &unknown, AllocationError::UNSUPPORTED)
}

/// RejectsUnknownOptions: an option the service does not know is unsupported and refused.
fn rejects_unknown_options(ctx: &Ctx) -> Outcome {
    let mut info = desc::default_rgba();
    info.additionalOptions.push(ExtendableType {
        name: "android.hardware.graphics.common.NotARealOption".to_owned(),
        value: 1,
    });
    check::rejected(ctx, &info, AllocationError::UNSUPPORTED)
}

/// `getInterfaceVersion() == 2` and `getInterfaceHash()` is the frozen V2 hash (the VTS
/// set-up branches on the version; a wrong hash fails the VINTF check on a device).
fn version_and_hash(ctx: &Ctx) -> Outcome {
    let allocator = ctx.allocator();
    let version = allocator
        .getInterfaceVersion()
        .map_err(|s| Stop::failed(format!("getInterfaceVersion: {s}")))?;
    if version != 2 {
        return Err(Stop::failed(format!("getInterfaceVersion() = {version}, expected 2")));
    }
    let hash =
        allocator.getInterfaceHash().map_err(|s| Stop::failed(format!("getInterfaceHash: {s}")))?;
    if hash != AOSP_V2_HASH {
        return Err(Stop::failed(format!(
            "getInterfaceHash() = {hash:?}, expected {AOSP_V2_HASH}"
        )));
    }
    Ok(())
}

/// `getIMapperLibrarySuffix()` names a library (`mapper.<suffix>.so`): non-empty, a plain
/// file-name fragment, the same on every call and connection, and the board's when given.
fn mapper_suffix(ctx: &Ctx) -> Outcome {
    let ask = |allocator: &dyn IAllocator| {
        allocator
            .getIMapperLibrarySuffix()
            .map_err(|s| Stop::failed(format!("getIMapperLibrarySuffix: {s}")))
    };
    let first = ask(ctx.allocator())?;
    let again = ask(ctx.allocator())?;
    let other_connection = ask(&*ctx.connect()?)?;
    if first.is_empty()
        || !first.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(Stop::failed(format!("suffix {first:?} cannot name mapper.<suffix>.so")));
    }
    if again != first || other_connection != first {
        return Err(Stop::failed(format!(
            "suffix is not stable: {first:?}, then {again:?}, then {other_connection:?}"
        )));
    }
    if let Some(board) = ctx.board() {
        if board.map.mapper_suffix() != first {
            return Err(Stop::failed(format!(
                "suffix {first:?}, board {} says {:?}",
                board.path.display(),
                board.map.mapper_suffix()
            )));
        }
    }
    ctx.note(format!("mapper.{first}.so"));
    Ok(())
}
