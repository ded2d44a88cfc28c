//! The real daemon, run as a separate process on a temporary socket: the suite meets the
//! service only over the wire, never by linking its crate.
//!
//! The daemon binary: `$GRALLOC_ALLOCATOR_BIN` when set (it must be a test build for the
//! fake board); else `$CARGO build -p allocator_service --bin gralloc-allocator --features
//! fake-heap` into this test's target directory, every time: a production build of the same
//! path (plain `cargo build`) refuses the fake board, and Cargo only relinks when something
//! changed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::repo_file;

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Finds or builds `gralloc-allocator` (see the module comment).
pub fn daemon_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GRALLOC_ALLOCATOR_BIN") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "GRALLOC_ALLOCATOR_BIN={} is not a file", path.display());
        return path;
    }
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/<profile>/deps/<this test>
    let profile_dir = exe.parent().and_then(Path::parent).expect("profile directory").to_owned();
    let candidate = profile_dir.join("gralloc-allocator");
    let root = repo_file("");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target_dir = profile_dir.parent().expect("target directory");
    let mut build = Command::new(&cargo);
    build
        .current_dir(&root)
        .args(["build", "-p", "allocator_service", "--bin", "gralloc-allocator"])
        .args(["--features", "fake-heap"])
        .arg("--target-dir")
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    eprintln!("building the daemon: {build:?}");
    let status = build.status().unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    assert!(status.success(), "building gralloc-allocator failed: {status}");
    assert!(candidate.is_file(), "{} missing after the build", candidate.display());
    candidate
}

/// A running daemon; stopped with SIGTERM (then SIGKILL) when dropped.
pub struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    pub fn start(board: &Path, socket: &Path) -> Daemon {
        let mut child = Command::new(daemon_binary())
            .arg("--board")
            .arg(board)
            .arg("--socket")
            .arg(socket)
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gralloc-allocator starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        // Drains stderr for the daemon's whole life, so its log writes never block.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("gralloc-allocator: serving") {
                    let _ = ready_tx.send(());
                }
                let mut log = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut daemon = Daemon { child, log };
        let deadline = Instant::now() + READY_TIMEOUT;
        while ready_rx.recv_timeout(Duration::from_millis(100)).is_err() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("gralloc-allocator exited ({status}) before serving:\n{}", daemon.log());
            }
            assert!(
                Instant::now() < deadline,
                "no readiness line in {READY_TIMEOUT:?}:\n{}",
                daemon.log()
            );
        }
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
