//! The whole suite against the real daemon, started here over the RPC transport: once with
//! the host board (memfd heaps) and once with the fake-heap board for exhaustion and
//! fallback. Both runs must end with 0 failed.
//!
//! The daemon binary is found or built as `common::daemon` says.

mod common;

use common::daemon::Daemon;
use common::{exclusive, repo_file, run_suite};
use hal_interface::transport::Endpoint;

/// Starts the daemon on `board`, runs every case, and insists on 0 failures and on exactly
/// the `skips` expected for that board (a skip elsewhere would hide a case).
fn suite_passes(board: &str, skips: &[&str]) {
    let _one = exclusive();
    let board = repo_file(board);
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("allocator.sock");
    let daemon = Daemon::start(&board, &socket);
    let (summary, report) =
        run_suite(&Endpoint::Unix(socket), Some(board.clone()), Some(daemon.pid()), "*");
    assert!(
        report.contains(&format!("service pid {}", daemon.pid())),
        "service fd checks were off"
    );
    let skipped: Vec<&str> = summary
        .reports
        .iter()
        .filter(|r| matches!(r.outcome, Err(vts_tests::Stop::Skipped(_))))
        .map(|r| r.name)
        .collect();
    assert!(
        summary.failed() == 0 && skipped == skips,
        "{}: {}, skipped {skipped:?}\n--- daemon log ---\n{}",
        board.display(),
        summary.line(),
        daemon.log()
    );
}

#[test]
fn whole_suite_passes_against_the_daemon_on_the_host_board() {
    // A host board has no scripted heaps: only the exhaustion case skips.
    suite_passes(
        "usage-map/boards/host.toml",
        &["routing.exhausted_heap_falls_back_only_where_allowed"],
    );
}

#[test]
fn whole_suite_passes_against_the_daemon_on_the_fake_exhaustion_board() {
    // With fake heaps the routing cases exercise exhaustion and fallback; nothing skips.
    suite_passes("usage-map/tests/boards/fake-exhaustion.toml", &[]);
}
