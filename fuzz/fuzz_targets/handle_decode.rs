//! The buffer-handle decoder on arbitrary ints and fd counts.
//! See `gralloc_fuzz::targets::handle_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gralloc_fuzz::targets::handle_decode(data));
