//! Helpers shared by the integration tests: an in-memory output sink, running the suite
//! against an endpoint, and the lock that keeps fd-counting runs from overlapping.

#![allow(dead_code)] // each test file uses a different subset

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

use hal_interface::transport::Endpoint;
use vts_tests::mapper_stablec::MapperChoice;
use vts_tests::{cases, runner, Ctx, Filter, Settings, Stop, Summary};

pub mod daemon;

/// Suite runs count the process's fds: two at once would see each other's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Holds the process-wide run lock (a panicking run does not poison later ones).
pub fn exclusive() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A board file of the repository, by path relative to the workspace root.
pub fn repo_file(relative: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().unwrap_or(root);
    root.join(relative)
}

/// Output collected in memory, printed by the test (so `cargo test` captures it).
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
            .into_owned()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs the cases `filter` selects against `endpoint` with the workspace's mapper library,
/// and returns the summary and the printed report.
pub fn run_suite(
    endpoint: &Endpoint,
    board: Option<PathBuf>,
    service_pid: Option<u32>,
    filter: &str,
) -> (Summary, String) {
    let mapper = MapperChoice::Path(mapper_library().to_owned());
    run_suite_with(endpoint, board, service_pid, filter, mapper)
}

/// The suite's settings for `endpoint` (helper executable: this crate's `gralloc-vts`).
pub fn settings(
    endpoint: &Endpoint,
    board: Option<PathBuf>,
    service_pid: Option<u32>,
    mapper: MapperChoice,
) -> Settings {
    Settings {
        endpoint: endpoint.clone(),
        board,
        service_pid,
        helper_exe: Some(PathBuf::from(env!("CARGO_BIN_EXE_gralloc-vts"))),
        mapper,
    }
}

/// [`run_suite`] with a chosen mapper library.
pub fn run_suite_with(
    endpoint: &Endpoint,
    board: Option<PathBuf>,
    service_pid: Option<u32>,
    filter: &str,
    mapper: MapperChoice,
) -> (Summary, String) {
    let out = SharedBuf::default();
    let settings = settings(endpoint, board, service_pid, mapper);
    let ctx = Ctx::new(settings, Box::new(out.clone()))
        .unwrap_or_else(|e| panic!("suite set-up: {}", hal_interface::wire::Chain(&e)));
    let summary = runner::run(&ctx, &cases::all(), &Filter::new(filter)).expect("report written");
    let text = out.text();
    println!("{text}");
    (summary, text)
}

/// The failure reason of `name`, panicking when it did not fail.
pub fn failure_of<'a>(summary: &'a Summary, name: &str) -> &'a str {
    match summary.report(name).map(|r| &r.outcome) {
        Some(Err(Stop::Failed(reason))) => reason,
        Some(other) => panic!("{name} was expected to fail, got {other:?}"),
        None => panic!("{name} did not run"),
    }
}

/// Newest modification time of the `.rs`/`.toml` files under `dirs` (relative to the
/// workspace root) and of the root manifest and lock file.
pub fn newest_source(dirs: &[&str]) -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target" && n != "tests") {
                    walk(&path, newest);
                }
            } else if path.extension().is_some_and(|e| e == "rs" || e == "toml" || e == "h") {
                if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                    *newest = (*newest).max(modified);
                }
            }
        }
    }
    let root = repo_file("");
    let mut newest = SystemTime::UNIX_EPOCH;
    for dir in dirs {
        walk(&root.join(dir), &mut newest);
    }
    for file in ["Cargo.toml", "Cargo.lock"] {
        if let Ok(modified) = fs::metadata(root.join(file)).and_then(|m| m.modified()) {
            newest = newest.max(modified);
        }
    }
    newest
}

/// The workspace's mapper library (`libgralloc_mapper.so`): `$GRALLOC_MAPPER_LIB` when set;
/// else the one in this test's profile directory when newer than its sources; else built
/// with `$CARGO build -p gralloc_mapper --lib` into the same target directory.
pub fn mapper_library() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("GRALLOC_MAPPER_LIB") {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "GRALLOC_MAPPER_LIB={} is not a file", path.display());
            return path;
        }
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir").to_owned();
        let candidate = profile_dir.join("libgralloc_mapper.so");
        let fresh = fs::metadata(&candidate)
            .and_then(|m| m.modified())
            .is_ok_and(|built| built >= newest_source(&["mapper", "hal-interface", "heaps"]));
        if fresh {
            return candidate;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = Command::new(&cargo);
        build
            .current_dir(repo_file(""))
            .args(["build", "-p", "gralloc_mapper", "--lib"])
            .arg("--target-dir")
            .arg(profile_dir.parent().expect("target directory"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        eprintln!("building the mapper: {build:?}");
        let status = build.status().unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
        assert!(status.success(), "building libgralloc_mapper.so failed: {status}");
        assert!(candidate.is_file(), "{} missing after the build", candidate.display());
        candidate
    })
}
