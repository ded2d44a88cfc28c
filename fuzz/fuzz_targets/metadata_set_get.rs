//! setStandardMetadata then getStandardMetadata on one imported buffer.
//! See `gralloc_fuzz::targets::metadata_set_get`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gralloc_fuzz::targets::metadata_set_get(data));
