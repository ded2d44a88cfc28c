//! Helpers for this crate's unit tests.

/// `readlink` targets of this process's fds that contain `needle` (e.g. a test-unique memfd
/// name). Checking by unique name keeps leak tests correct while other tests run in parallel.
pub(crate) fn fds_named(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let entry = entry.unwrap();
        if let Ok(target) = std::fs::read_link(entry.path()) {
            let target = target.to_string_lossy().into_owned();
            if target.contains(needle) {
                found.push(target);
            }
        }
    }
    found
}

/// Whether the environment demands `device` (`dma_heap`, `ion`, `udmabuf`) to exist:
/// `HEAPS_REQUIRE_DEVICES` is a comma list of device names, or `1`/`all` for every device
/// the running kernel is expected to have (see `tests/real_kernel.rs`).
fn required(device: &str) -> bool {
    let Ok(value) = std::env::var("HEAPS_REQUIRE_DEVICES") else { return false };
    match value.trim() {
        "1" | "all" => true,
        list => list.split(',').any(|d| d.trim() == device),
    }
}

/// For tests that need a real device node: true when `path` exists; otherwise prints
/// `SKIP: <reason>` straight to stderr (past libtest's capture) and returns false, or fails
/// the test when the device is required.
pub(crate) fn have_device(device: &str, path: &str) -> bool {
    use std::io::Write as _;
    if std::path::Path::new(path).exists() {
        return true;
    }
    assert!(!required(device), "{path} is required (HEAPS_REQUIRE_DEVICES) but missing");
    let _ = writeln!(std::io::stderr(), "SKIP: {path} is not present");
    false
}
