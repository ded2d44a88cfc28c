//! The gralloc4 standard metadata codec: decode(encode(x)) == x; decode never panics.
//! See `gralloc_fuzz::targets::metadata_codec`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gralloc_fuzz::targets::metadata_codec(data));
