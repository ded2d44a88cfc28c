//! descriptor → request → plan → layout → heap → handle encode, with the A12 invariants
//! (see `gralloc_fuzz::alloc`).
#![no_main]

use arbitrary::Unstructured;
use gralloc_fuzz::alloc::{run, AllocInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = AllocInput::read(&mut Unstructured::new(data)) {
        run(&input);
    }
});
