//! The whole suite against the real daemon, started here over the RPC transport: once with
//! the host board (memfd heaps) and once with the fake-heap board for exhaustion and
//! fallback. Both runs must end with 0 failed. The mapper stable-C area runs against the
//! workspace's mapper library (`common::mapper_library`), also found by the allocator's
//! suffix the way `gralloc-vts` finds it by default; a missing or unloadable library stops
//! the suite before any case.
//!
//! The daemon binary is found or built as `common::daemon` says.

mod common;

use std::fs;

use common::daemon::Daemon;
use common::{exclusive, mapper_library, repo_file, run_suite, run_suite_with, settings};
use hal_interface::transport::Endpoint;
use vts_tests::mapper_stablec::{library_name, MapperChoice};
use vts_tests::{Ctx, SetupError};

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
    // A host board has no scripted heaps and no protected memory: only the exhaustion case
    // and the PROTECTED getter skip.
    suite_passes(
        "usage-map/boards/host.toml",
        &[
            "routing.exhausted_heap_falls_back_only_where_allowed",
            "mapper_stablec.get_protected_content",
        ],
    );
}

#[test]
fn whole_suite_passes_against_the_daemon_on_the_fake_exhaustion_board() {
    // With fake heaps the routing cases exercise exhaustion and fallback; only the PROTECTED
    // getter skips (no protected heap).
    suite_passes(
        "usage-map/tests/boards/fake-exhaustion.toml",
        &["mapper_stablec.get_protected_content"],
    );
}

/// Case names of `summary` that skipped.
fn skipped(summary: &vts_tests::Summary) -> Vec<&'static str> {
    summary
        .reports
        .iter()
        .filter(|r| matches!(r.outcome, Err(vts_tests::Stop::Skipped(_))))
        .map(|r| r.name)
        .collect()
}

#[test]
fn mapper_area_passes_with_the_mapper_found_by_the_allocator_suffix() {
    let _one = exclusive();
    let board = repo_file("usage-map/boards/host.toml");
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("allocator.sock");
    let daemon = Daemon::start(&board, &socket);
    // The host board's suffix is "host": the suite looks for mapper.host.so.
    let libs = dir.path().join("lib");
    fs::create_dir(&libs).expect("lib dir");
    std::os::unix::fs::symlink(mapper_library(), libs.join(library_name("host"))).expect("link");
    let (summary, report) = run_suite_with(
        &Endpoint::Unix(socket),
        Some(board),
        Some(daemon.pid()),
        "mapper_stablec.*",
        MapperChoice::Search(vec![dir.path().join("missing"), libs]),
    );
    assert!(report.contains("mapper.host.so (allocator suffix \"host\""), "{report}");
    assert!(summary.reports.len() >= 54, "only {} mapper cases ran", summary.reports.len());
    assert!(summary.failed() == 0, "{}\n--- daemon log ---\n{}", summary.line(), daemon.log());
    println!("skipped: {:?}", skipped(&summary));
}

#[test]
fn a_missing_or_unloadable_mapper_stops_the_suite_before_any_case() {
    let _one = exclusive();
    let board = repo_file("usage-map/boards/host.toml");
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("allocator.sock");
    let daemon = Daemon::start(&board, &socket);
    let endpoint = Endpoint::Unix(socket);
    let start = |mapper| {
        Ctx::new(settings(&endpoint, None, Some(daemon.pid()), mapper), Box::new(std::io::sink()))
    };
    match start(MapperChoice::Search(vec![dir.path().to_owned()])) {
        Err(SetupError::Mapper(reason)) => {
            assert!(
                reason.contains("no mapper.host.so") && reason.contains("--no-mapper"),
                "{reason}"
            )
        }
        other => panic!("a missing mapper must stop the suite, got {other:?}"),
    }
    // A file that is not a shared library at all.
    let not_a_library = dir.path().join("mapper.host.so");
    fs::write(&not_a_library, b"not an ELF file").expect("write");
    match start(MapperChoice::Path(not_a_library)) {
        Err(SetupError::Mapper(reason)) => assert!(reason.contains("dlopen"), "{reason}"),
        other => panic!("an unloadable mapper must stop the suite, got {other:?}"),
    }
    let off = start(MapperChoice::Off).expect("--no-mapper starts");
    assert!(off.mapper_state().description().contains("MAPPER CHECKS OFF"));
    drop(off);
    let (summary, _) =
        run_suite_with(&endpoint, None, Some(daemon.pid()), "mapper_stablec.*", MapperChoice::Off);
    assert_eq!(
        summary.skipped(),
        summary.reports.len(),
        "with --no-mapper every mapper case skips"
    );
}
