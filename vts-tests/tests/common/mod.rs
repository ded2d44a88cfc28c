//! Helpers shared by the integration tests: an in-memory output sink, running the suite
//! against an endpoint, and the lock that keeps fd-counting runs from overlapping.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use hal_interface::transport::Endpoint;
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

/// Runs the cases `filter` selects against `endpoint` and returns the summary and the
/// printed report.
pub fn run_suite(
    endpoint: &Endpoint,
    board: Option<PathBuf>,
    service_pid: Option<u32>,
    filter: &str,
) -> (Summary, String) {
    let out = SharedBuf::default();
    let settings = Settings {
        endpoint: endpoint.clone(),
        board,
        service_pid,
        helper_exe: Some(PathBuf::from(env!("CARGO_BIN_EXE_gralloc-vts"))),
    };
    let ctx = Ctx::new(settings, Box::new(out.clone()))
        .unwrap_or_else(|e| panic!("suite set-up: {}", vts_tests::ctx::chain(&e)));
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
