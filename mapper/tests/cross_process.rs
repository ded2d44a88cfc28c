//! Metadata is global: a value set through the mapper in one process is read through the
//! mapper in another, and back. The second process is this test binary re-run on its
//! ignored `child_half` test, with the buffer's fds inherited and their numbers and the
//! handle's ints in an environment variable.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

mod common;

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;

use common::*;
use gralloc_mapper::MapperError;
use hal_interface::metadata::{encode, MetadataValue, StandardMetadataType as T};

const ENV: &str = "GRALLOC_MAPPER_TEST_CHILD_HANDLE";
const DISPLAY_P3: i32 = 143_261_696;
const BLEND_COVERAGE: i32 = 3;

fn words_to_env(fds: &[i32], ints: &[i32]) -> String {
    let join = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    format!("{};{}", join(fds), join(ints))
}

fn env_to_words(text: &str) -> (Vec<i32>, Vec<i32>) {
    let parse =
        |s: &str| s.split(',').filter(|p| !p.is_empty()).map(|p| p.parse().unwrap()).collect();
    let (fds, ints) = text.split_once(';').unwrap();
    (parse(fds), parse(ints))
}

#[test]
fn metadata_set_in_one_process_is_read_in_another() {
    let lib = Library::load();
    let m = Mapper(lib.mapper);
    let daemon = Daemon::start();
    let alloc = daemon.allocate("shared", 32, 32, 1, CPU_RW, 0);
    let native = first(&alloc);
    let h = m.import(RawHandle::of(native).ptr()).unwrap();
    let set = m.set_bytes(h, T::Dataspace.value(), &encode(&MetadataValue::Dataspace(DISPLAY_P3)));
    assert_eq!(set, MapperError::None);
    // Inheritable copies (dup clears FD_CLOEXEC) for the child.
    let inherited: Vec<OwnedFd> =
        native.fds.iter().map(|fd| nix::unistd::dup(fd).unwrap()).collect();
    let numbers: Vec<i32> = inherited.iter().map(AsRawFd::as_raw_fd).collect();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_half", "--ignored", "--nocapture", "--test-threads", "1"])
        .env(ENV, words_to_env(&numbers, &native.ints))
        .output()
        .expect("run the child half");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "child failed:\n{text}");
    assert!(text.contains("child: saw DISPLAY_P3, set COVERAGE"), "child did not run:\n{text}");
    assert_eq!(m.get(h, T::BlendMode), MetadataValue::BlendMode(BLEND_COVERAGE));
    assert_eq!(m.free(h), MapperError::None);
}

#[test]
#[ignore = "the second process of metadata_set_in_one_process_is_read_in_another; run by it"]
fn child_half() {
    let text =
        std::env::var(ENV).expect("run only by metadata_set_in_one_process_is_read_in_another");
    let (fds, ints) = env_to_words(&text);
    let lib = Library::load();
    let m = Mapper(lib.mapper);
    let raw = RawHandle::new(&fds, &ints);
    let h = m.import(raw.ptr()).expect("child import");
    assert_eq!(m.get(h, T::Dataspace), MetadataValue::Dataspace(DISPLAY_P3));
    let set =
        m.set_bytes(h, T::BlendMode.value(), &encode(&MetadataValue::BlendMode(BLEND_COVERAGE)));
    assert_eq!(set, MapperError::None);
    assert_eq!(m.free(h), MapperError::None);
    println!("child: saw DISPLAY_P3, set COVERAGE");
}
