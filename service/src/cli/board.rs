//! `gralloc board check` and `gralloc board explain`: board-file tools that need no service.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use hal_interface::{Format, Usage};
use usage_map::UsageMap;

use super::{write_out, CliError};

/// Loads and validates `file`, then prints its summary.
pub(super) fn check(file: &Path, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let map = UsageMap::load(file)?;
    write_out(out, &usage_map::check_report(&map))?;
    write_out(out, "ok\n")?;
    Ok(ExitCode::SUCCESS)
}

/// Prints how `file` resolves one request: rules skipped and why, then the plan or refusal.
/// Also says when the service would refuse the usage word before any rule is consulted.
pub(super) fn explain(
    file: &Path,
    usage: Usage,
    format: Format,
    (width, height): (u32, u32),
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let map = UsageMap::load(file)?;
    // As the service parses the wire word.
    if let Err(err) = Usage::from_wire(usage.to_wire()) {
        write_out(out, &format!("note: the service refuses this usage before any rule ({err})\n"))?;
    }
    let unclaimed = usage.vendor_bits() & !map.claimed_vendor_bits();
    if unclaimed != 0 {
        write_out(
            out,
            &format!("note: vendor bits {unclaimed:#x} are not claimed by the board: the service refuses them\n"),
        )?;
    }
    write_out(out, &map.explain(usage, format, width, height).to_string())?;
    Ok(ExitCode::SUCCESS)
}
