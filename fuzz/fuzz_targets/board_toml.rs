//! The board TOML loader: errors, never panics; errors are located.
//! See `gralloc_fuzz::targets::board_toml`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gralloc_fuzz::targets::board_toml(data));
