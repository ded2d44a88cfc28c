//! The gralloc4 V1 descriptor decoder and the service checks behind it.
//! See `gralloc_fuzz::targets::descriptor_v1`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gralloc_fuzz::targets::descriptor_v1(data));
