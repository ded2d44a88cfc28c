//! The second-process check: a child process maps the same buffer (handed over as its stdin),
//! checks the parent's pattern and writes its own, which the parent then reads back. It
//! proves the fd is shared memory rather than a private copy.
//!
//! The child is this crate's binary run with the hidden subcommand [`SUBCOMMAND`]:
//! `gralloc-vts __shared-memory-child LEN EXPECT_SEED WRITE_SEED`.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::mem;
use crate::runner::Stop;

/// The hidden subcommand.
pub const SUBCOMMAND: &str = "__shared-memory-child";

/// Runs the child on `fd` and waits for it.
///
/// # Errors
/// A failure when the child cannot start or reports a mismatch.
pub fn check_in_child(
    exe: &Path,
    fd: BorrowedFd<'_>,
    len: u64,
    expect_seed: u32,
    write_seed: u32,
) -> Result<(), Stop> {
    let stdin = fd
        .try_clone_to_owned()
        .map_err(|e| Stop::failed(format!("dup of the buffer fd for the child: {e}")))?;
    let args =
        [SUBCOMMAND.to_owned(), len.to_string(), expect_seed.to_string(), write_seed.to_string()];
    run_to_success(exe, &args, stdin)
}

/// Runs `exe args` with `stdin` and waits: a failure with the child's stderr unless it exits 0.
pub(crate) fn run_to_success(
    exe: &Path,
    args: &[impl AsRef<OsStr>],
    stdin: OwnedFd,
) -> Result<(), Stop> {
    let output = Command::new(exe)
        .args(args)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Stop::failed(format!("cannot run {}: {e}", exe.display())))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Stop::failed(format!(
        "child process ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

/// The child's side: `args` are what follows the subcommand. Returns the exit status.
pub fn child_main(args: &[String]) -> i32 {
    match child(args) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("{message}");
            1
        }
    }
}

fn child(args: &[String]) -> Result<(), String> {
    let [len, expect, write] = args else {
        return Err(format!("usage: {SUBCOMMAND} LEN EXPECT_SEED WRITE_SEED, got {args:?}"));
    };
    let parse_err = |what: &str, e: std::num::ParseIntError| format!("{what}: {e}");
    let len: u64 = len.parse().map_err(|e| parse_err("LEN", e))?;
    let expect: u32 = expect.parse().map_err(|e| parse_err("EXPECT_SEED", e))?;
    let write: u32 = write.parse().map_err(|e| parse_err("WRITE_SEED", e))?;
    let stdin = io::stdin();
    let fd = stdin.as_fd();
    mem::check_pattern(fd, len, expect).map_err(|s| format!("parent's pattern: {s}"))?;
    mem::write_pattern(fd, len, write).map_err(|s| format!("writing the child's pattern: {s}"))
}
