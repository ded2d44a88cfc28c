//! The mapper's import and validation path on built fds and arbitrary or patched ints
//! (see `gralloc_fuzz::import`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gralloc_fuzz::import::run(data));
