//! The `packaging-check` binary on this repository and on a directory that is none.

use std::path::Path;
use std::process::Command;

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the crate sits two levels below the workspace root")
}

#[test]
fn binary_reports_no_problem_in_this_repository() {
    let out = Command::new(env!("CARGO_BIN_EXE_packaging-check"))
        .arg(repo_root())
        .output()
        .expect("running packaging-check");

    assert!(
        out.status.success(),
        "status {:?}, stdout:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn binary_fails_with_status_2_on_a_tree_without_a_workspace() {
    let empty = tempfile::tempdir().expect("temporary directory");

    let out = Command::new(env!("CARGO_BIN_EXE_packaging-check"))
        .arg(empty.path())
        .output()
        .expect("running packaging-check");

    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cargo.toml"));
}
