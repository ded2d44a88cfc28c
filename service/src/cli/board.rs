//! `gralloc board check` and `gralloc board explain`: board-file tools that need no service.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use hal_interface::{Format, Usage};
use usage_map::UsageMap;

use crate::pool::{class_size, image_size, pool_for};
use crate::request::implementation_defined_layout;

use super::{write_out, CliError};

/// Loads and validates `file`, then prints its summary.
pub(super) fn check(file: &Path, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let map = UsageMap::load(file)?;
    write_out(out, &usage_map::check_report(&map))?;
    write_out(out, &pool_memory(&map))?;
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
    let explanation = map.explain(usage, format, width, height);
    write_out(out, &explanation.to_string())?;
    if let Ok(plan) = &explanation.outcome {
        if let Some(note) = pool_note(&map, plan, usage, format, (width, height)) {
            write_out(out, &note)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The memory each pool pins (`count` × the size its class lays out to), and the total.
fn pool_memory(map: &UsageMap) -> String {
    if map.pools().is_empty() {
        return String::new();
    }
    let mut text = String::from("pool memory (pinned while the service runs):\n");
    let mut total = 0u64;
    for pool in map.pools() {
        let heap = map.heap_by_id(pool.heap()).map_or("", |h| h.name.as_str());
        match class_size(map, pool.class()) {
            Ok(size) => {
                let pinned = size.get().saturating_mul(u64::from(pool.count()));
                total = total.saturating_add(pinned);
                text.push_str(&format!(
                    "  {:?}: {} x {size} B = {pinned} B ({} MiB) on heap {heap}\n",
                    pool.name(),
                    pool.count(),
                    pinned.div_ceil(1 << 20)
                ));
            }
            Err(reason) => text.push_str(&format!(
                "  {:?}: class has no layout ({reason}): the service leaves this pool out\n",
                pool.name()
            )),
        }
    }
    text.push_str(&format!("  total: {total} B\n"));
    text
}

/// Says when the request would be served from a pool: its plan's first heap and its laid-out
/// size match one.
fn pool_note(
    map: &UsageMap,
    plan: &usage_map::Plan<'_>,
    usage: Usage,
    format: Format,
    (width, height): (u32, u32),
) -> Option<String> {
    let size = image_size(format, usage, (width, height), &plan.align).ok()?;
    let pool = pool_for(map, plan, size)?;
    Some(format!(
        "pool: served from pool {:?} ({} x {size} B kept ready) while it has a buffer; an empty pool falls through to the plan above\n",
        pool.name(),
        pool.count()
    ))
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
    fn check_reports_the_memory_each_pool_pins_and_explain_names_the_pool() {
        let board =
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../usage-map/boards/hikey960.toml"));
        let mut out = Vec::new();
        check(board, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\"camera-1080p\": 4 x 3112960 B = 12451840 B (12 MiB) on heap camera"),
            "{text}"
        );
        let camera = Usage::from_bits(bits::CAMERA_OUTPUT | bits::CPU_READ_OFTEN);
        let mut out = Vec::new();
        explain(board, camera, Format::Ycrcb420Sp, (1920, 1080), &mut out).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("pool: served from pool \"camera-1080p\""));
        let mut out = Vec::new();
        explain(board, camera, Format::Ycrcb420Sp, (1280, 720), &mut out).unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("pool:"));
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
