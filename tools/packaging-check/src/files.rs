//! File-tree helpers shared by the checks.

use std::fs;
use std::path::{Path, PathBuf};

/// Files under `root` matching `pattern` (`*` within a component, `**` across directories).
pub(crate) fn glob(root: &Path, pattern: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, parts: &[&str], out: &mut Vec<PathBuf>) {
        let Some((first, rest)) = parts.split_first() else {
            if dir.is_file() {
                out.push(dir.to_path_buf());
            }
            return;
        };
        if *first == "**" {
            walk(dir, rest, out);
        }
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if *first == "**" {
                if entry.path().is_dir() {
                    walk(&entry.path(), parts, out);
                }
            } else if wildcard_match(first, &file) {
                walk(&entry.path(), rest, out);
            }
        }
    }
    let parts: Vec<&str> = pattern.split('/').collect();
    let mut out = Vec::new();
    walk(root, &parts, &mut out);
    out
}

fn wildcard_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            let Some(tail) = name.strip_prefix(prefix) else { return false };
            (0..=tail.len()).any(|i| tail.get(i..).is_some_and(|t| wildcard_match(rest, t)))
        }
    }
}

/// Every `.rs` file under `dir`, sorted.
pub(crate) fn rust_sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}
