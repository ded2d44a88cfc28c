//! `gralloc alloc --lock`: the CLI imports the daemon's buffers through the mapper library
//! (`dlopen` by path, or `mapper.<suffix>.so` found in `$GRALLOC_MAPPER_DIR`), locks them,
//! writes and reads back a pattern and prints their metadata; a missing library fails.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DAEMON: &str = env!("CARGO_BIN_EXE_gralloc-allocator");
const CLIENT: &str = env!("CARGO_BIN_EXE_gralloc");

/// `libgralloc_mapper.so` of this target directory, built here (cargo does not build a
/// dependency's cdylib for this package's tests).
fn mapper_library() -> PathBuf {
    let profile = Path::new(CLIENT).parent().expect("profile dir").to_owned();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .current_dir(&root)
        .args(["build", "-q", "-p", "gralloc_mapper", "--lib"])
        .arg("--target-dir")
        .arg(profile.parent().expect("target dir"));
    if profile.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    assert!(build.status().expect("cargo build").success(), "building the mapper failed");
    profile.join("libgralloc_mapper.so")
}

struct Daemon {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("allocator.sock");
        let board = Path::new(env!("CARGO_MANIFEST_DIR")).join("../usage-map/boards/host.toml");
        let mut child = Command::new(DAEMON)
            .arg("--board")
            .arg(&board)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("gralloc-allocator: serving") {
                    let _ = tx.send(());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while rx.recv_timeout(Duration::from_millis(100)).is_err() {
            assert!(child.try_wait().unwrap().is_none(), "daemon exited before serving");
            assert!(Instant::now() < deadline, "daemon not ready");
        }
        Daemon { child, socket, _dir: dir }
    }

    fn alloc(&self, extra: &[&str], env: Option<(&str, &Path)>) -> Output {
        let mut cmd = Command::new(CLIENT);
        cmd.arg("--connect").arg(format!("unix:{}", self.socket.display())).args([
            "alloc",
            "--width",
            "64",
            "--height",
            "32",
            "--format",
            "RGBA_8888",
            "--usage",
            "CPU_READ_OFTEN,CPU_WRITE_OFTEN",
            "--name",
            "lock-smoke",
            "--lock",
        ]);
        cmd.args(extra);
        if let Some((key, value)) = env {
            cmd.env(key, value);
        }
        cmd.output().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn alloc_lock_writes_reads_back_and_prints_metadata_through_the_mapper() {
    let library = mapper_library();
    let daemon = Daemon::start();
    let out = daemon.alloc(&["--mapper", library.to_str().unwrap(), "--count", "2"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for index in 0..2 {
        assert!(
            text.contains(&format!(
                "buffer {index}: imported, locked, 8192 bytes written and read back"
            )),
            "{text}"
        );
    }
    assert!(text.contains("  NAME: Name(\"lock-smoke\")"), "{text}");
    assert!(text.contains("  WIDTH: Width(64)"), "{text}");
    assert!(
        text.contains("  CROP: Crop([Rect { left: 0, top: 0, right: 64, bottom: 32 }])"),
        "{text}"
    );
    assert!(!text.contains("error"), "{text}");
}

#[test]
fn alloc_lock_finds_the_suffix_named_library_and_fails_without_one() {
    let library = mapper_library();
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    // The host board's suffix is "host": the CLI looks for mapper.host.so.
    std::os::unix::fs::symlink(&library, dir.path().join("mapper.host.so")).unwrap();
    let out = daemon.alloc(&[], Some(("GRALLOC_MAPPER_DIR", dir.path())));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains(&format!("mapper: {}", dir.path().join("mapper.host.so").display())),
        "{text}"
    );
    let empty = tempfile::tempdir().unwrap();
    let out = daemon.alloc(&[], Some(("GRALLOC_MAPPER_DIR", empty.path())));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot load") && err.contains("mapper.host.so"), "{err}");
}
