//! The shared metadata region every buffer carries (handle fd 1): the allocator puts the
//! full descriptor name and the Dataspace option there (issue "Android callers": minigbm
//! sets the initial dataspace from the option), so a mapper in any process reads them.

use std::os::fd::AsFd;

use hal_interface::aidl::ExtendableType;
use hal_interface::wire::descriptor_name_array;
use hal_interface::Format;

use crate::check::{allocate_checked, region_of};
use crate::ctx::Ctx;
use crate::desc::{self, CPU_RW};
use crate::runner::{Case, Outcome, Stop};

/// `android.hardware.graphics.common.Dataspace::DISPLAY_P3`.
const DISPLAY_P3: i64 = 143_261_696;

/// The cases of this area.
pub const CASES: &[Case] = &[
    Case { name: "region.dataspace_option_sets_the_initial_dataspace", run: dataspace_option },
    Case { name: "region.full_127_byte_name_reaches_the_region", run: full_name },
];

fn dataspace_option(ctx: &Ctx) -> Outcome {
    let mut info = desc::new(64, 64, Format::Rgba8888, CPU_RW);
    let plain = allocate_checked(ctx.allocator(), &info, 1)?.single()?;
    let found = region_of(plain.metadata.as_fd())?.dataspace;
    if found != 0 {
        return Err(Stop::failed(format!("dataspace {found} without the option, expected 0")));
    }
    info.additionalOptions.push(ExtendableType {
        name: "android.hardware.graphics.common.Dataspace".to_owned(),
        value: DISPLAY_P3,
    });
    let set = allocate_checked(ctx.allocator(), &info, 1)?.single()?;
    let found = region_of(set.metadata.as_fd())?.dataspace;
    if i64::from(found) != DISPLAY_P3 {
        return Err(Stop::failed(format!(
            "dataspace {found} with the option, expected {DISPLAY_P3}"
        )));
    }
    Ok(())
}

fn full_name(ctx: &Ctx) -> Outcome {
    let name: Vec<u8> = (0..127u8).map(|i| b'a' + i % 26).collect();
    let mut info = desc::new(64, 64, Format::Rgba8888, CPU_RW);
    info.name = descriptor_name_array(&name);
    let buffer = allocate_checked(ctx.allocator(), &info, 1)?.single()?;
    let found = region_of(buffer.metadata.as_fd())?.name;
    if found != name {
        return Err(Stop::failed(format!(
            "region name has {} bytes ({:?}), expected the 127-byte descriptor name",
            found.len(),
            String::from_utf8_lossy(&found)
        )));
    }
    Ok(())
}
