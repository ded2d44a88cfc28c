//! `gralloc-allocator`: the allocator daemon. Options and behaviour: `allocator_service::daemon`.

fn main() -> std::process::ExitCode {
    allocator_service::daemon::main()
}
