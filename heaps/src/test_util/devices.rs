//! Device requirements of the real-kernel tests: one copy, used by this crate's unit tests
//! and, through `#[path]`, by `tests/real_kernel.rs`.
//!
//! Those tests are `#[ignore = "needs /dev/..."]` because a host seldom has the devices; the
//! VM harness (`vm/`) runs them with `--ignored` and sets `HEAPS_REQUIRE_DEVICES`, which
//! turns a missing device into a failure:
//!
//! - `1` or `all` requires `dma_heap` and `udmabuf`, plus `ion` on kernels before 5.11 (ION
//!   was removed in 5.11);
//! - a comma list of `dma_heap`, `udmabuf`, `ion` names exactly the devices that must exist.
//!
//! A device that is neither present nor required gives a visible `SKIP:` line.

use std::io::Write as _;
use std::path::Path;

fn kernel_before_5_11() -> bool {
    let Ok(uname) = nix::sys::utsname::uname() else { return false };
    let release = uname.release().to_string_lossy().into_owned();
    let mut parts =
        release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
    matches!((parts.next(), parts.next()), (Some(major), Some(minor)) if (major, minor) < (5, 11))
}

/// Whether `HEAPS_REQUIRE_DEVICES` demands `device` (`dma_heap`, `udmabuf`, `ion`).
fn required(device: &str) -> bool {
    let Ok(value) = std::env::var("HEAPS_REQUIRE_DEVICES") else { return false };
    match value.trim() {
        "1" | "all" => match device {
            "ion" => kernel_before_5_11(),
            _ => true,
        },
        list => list.split(',').any(|d| d.trim() == device),
    }
}

/// True when `path` exists. Otherwise fails the test when `device` is required, or writes
/// `SKIP: <path> is not present` straight to the stderr handle (libtest captures the print
/// macros, not the handle, so the line shows) and returns false.
pub(crate) fn have_device(device: &str, path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    assert!(!required(device), "{path} is required (HEAPS_REQUIRE_DEVICES) but missing");
    skip(&format!("{path} is not present"));
    false
}

/// Writes a visible `SKIP: <reason>` line, past libtest's output capture.
pub(crate) fn skip(reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIP: {reason}");
}
