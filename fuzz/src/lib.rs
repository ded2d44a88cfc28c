//! `gralloc_fuzz`: what the fuzz targets under `fuzz_targets/` share.
//!
//! Each target is a few lines that turn libFuzzer's bytes into a structured input
//! ([`arbitrary::Unstructured`]) and hand it to one `run` function here, which drives the
//! real code and asserts its invariants; a failed assertion or any panic is a finding.
//! [`alloc`] is the service core over an embedded board with contract-checking memfd heaps
//! (descriptor → request → plan → layout → handle, the reliability A12 invariants);
//! [`import`] feeds built handles and fds to the mapper's import path; [`values`] builds
//! arbitrary standard metadata values; [`seeds`] makes the committed seed corpora
//! (`examples/make_seeds.rs`).
//!
//! Must never: touch a kernel heap or device (every buffer is a sparse memfd), or keep an
//! fd past one input (every `run` checks the process's fd count).

#![forbid(unsafe_code)]

pub mod alloc;
pub mod import;
pub mod input;
pub mod seeds;
pub mod targets;
pub mod values;

/// Open fds of this process (`/proc/self/fd`), for the "nothing lost" checks.
///
/// # Panics
///
/// When `/proc/self/fd` cannot be read: the checks would be blind.
pub fn open_fds() -> usize {
    heaps::dmabuf::count_open_fds(None).expect("/proc/self/fd is readable")
}

/// Runs the target called `name` (as in `Cargo.toml`) on one input, as libFuzzer would:
/// the seed tests and reproductions without libFuzzer use it.
///
/// # Panics
///
/// For an unknown name, or when the input is a finding.
pub fn run_target(name: &str, data: &[u8]) {
    match name {
        "allocate" => {
            if let Ok(input) = alloc::AllocInput::read(&mut arbitrary::Unstructured::new(data)) {
                alloc::run(&input);
            }
        }
        "board_toml" => targets::board_toml(data),
        "descriptor_v1" => targets::descriptor_v1(data),
        "handle_decode" => targets::handle_decode(data),
        "mapper_import" => import::run(data),
        "metadata_codec" => targets::metadata_codec(data),
        "metadata_set_get" => targets::metadata_set_get(data),
        other => panic!("no fuzz target {other}"),
    }
}

#[cfg(test)]
mod tests {
    /// Every seed `make_seeds` writes runs clean through its target (what a fuzz run starts
    /// from), and every target has some.
    #[test]
    fn generated_seeds_pass_their_targets() {
        let boards = [crate::alloc::BOARD.to_owned(), "schema = 2".to_owned()];
        for target in crate::seeds::TARGETS {
            let seeds = crate::seeds::seeds(target, &boards);
            assert!(!seeds.is_empty(), "{target}: no seeds");
            for seed in seeds {
                crate::run_target(target, &seed);
            }
        }
    }
}
