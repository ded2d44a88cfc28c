//! `gralloc`: client of the allocator daemon and board-file tools. Commands and exit codes:
//! `allocator_service::cli`.

fn main() -> std::process::ExitCode {
    allocator_service::cli::main()
}
