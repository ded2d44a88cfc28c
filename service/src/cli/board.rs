//! `gralloc board check` and `gralloc board explain`: board-file tools that need no service.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use hal_interface::{Format, Usage};
use usage_map::UsageMap;

use crate::request::implementation_defined_layout;

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
    if format == Format::ImplementationDefined {
        let layout = implementation_defined_layout(usage);
        write_out(
            out,
            &format!(
                "layout: IMPLEMENTATION_DEFINED is served as {layout} for this usage (CPU bits do not change it); the handle's planes say so\n"
            ),
        )?;
    }
    write_out(out, &map.explain(usage, format, width, height).to_string())?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    use hal_interface::usage::bits;

    fn explained(usage: u64, format: Format) -> String {
        let board = concat!(env!("CARGO_MANIFEST_DIR"), "/../usage-map/boards/host.toml");
        let mut out = Vec::new();
        explain(Path::new(board), Usage::from_bits(usage), format, (64, 64), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn explain_names_the_layout_of_implementation_defined() {
        let cpu = bits::CPU_READ_OFTEN | bits::CPU_WRITE_OFTEN;
        for usage in [bits::CAMERA_OUTPUT, bits::CAMERA_OUTPUT | cpu, bits::VIDEO_ENCODER] {
            let out = explained(usage, Format::ImplementationDefined);
            assert!(out.contains("served as YCBCR_420_888"), "{usage:#x}: {out}");
        }
        for usage in [bits::GPU_TEXTURE, bits::GPU_TEXTURE | cpu, cpu] {
            let out = explained(usage, Format::ImplementationDefined);
            assert!(out.contains("served as RGBA_8888"), "{usage:#x}: {out}");
        }
        assert!(!explained(bits::GPU_TEXTURE, Format::Rgba8888).contains("layout:"));
    }
}
