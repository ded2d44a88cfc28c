//! Helpers for this crate's unit tests.

mod devices;

pub(crate) use devices::have_device;

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
