//! Shared helpers of the golden tests: crate-relative paths and the UPDATE_GOLDEN switch.

#![allow(dead_code)] // each test binary uses a subset

use std::fs;
use std::path::{Path, PathBuf};

/// The crate directory (where `boards/` and `tests/` live).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files under `dir` (relative to the crate) ending in `.ext`, sorted.
pub fn files_with_ext(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(crate_dir().join(dir))
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// `path` relative to the crate directory, with `/` separators (the origin used in errors).
pub fn relative(path: &Path) -> String {
    let rel = path.strip_prefix(crate_dir()).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Compares `actual` with the golden file, or rewrites it when UPDATE_GOLDEN=1. Returns a
/// description of the difference, if any.
pub fn check_golden(golden: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        fs::write(golden, actual)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", golden.display()));
        return Ok(());
    }
    let expected = fs::read_to_string(golden).map_err(|e| {
        format!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", relative(golden))
    })?;
    if expected == actual {
        return Ok(());
    }
    let first_diff = expected
        .lines()
        .zip(actual.lines())
        .enumerate()
        .find(|(_, (e, a))| e != a)
        .map(|(i, (e, a))| format!("line {}:\n  expected: {e}\n  actual:   {a}", i + 1))
        .unwrap_or_else(|| "length differs".to_owned());
    Err(format!("{} differs at {first_diff}\n--- actual ---\n{actual}", relative(golden)))
}
