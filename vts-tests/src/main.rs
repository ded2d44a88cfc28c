//! `gralloc-vts`: runs the conformance suite against a running allocator.
//!
//! ```text
//! gralloc-vts --connect unix:PATH|binder[:DEVICE] [--board FILE] [--filter GLOB]
//!             [--service-pid PID] [--mapper PATH | --no-mapper] [--list]
//! ```
//!
//! The mapper library (`mapper_stablec.*` area and the allocator VTS set-up rule): `--mapper
//! PATH`, else `mapper.<suffix>.so` (suffix from `getIMapperLibrarySuffix`) in
//! `$GRALLOC_MAPPER_DIR`, next to this binary, or (Android) `/vendor/lib[64]/hw`. Without one
//! the suite does not start, unless `--no-mapper` is given.
//!
//! Exit status: 0 when no case failed, 1 when any failed, 2 when the suite could not start.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hal_interface::transport::Endpoint;
use vts_tests::mapper_stablec::{self, MapperChoice};
use vts_tests::{cases, child, runner, Ctx, Filter, Settings};

/// Conformance suite for the gralloc IAllocator service.
#[derive(Debug, Parser)]
#[command(name = "gralloc-vts", version)]
struct Args {
    /// Where the service listens: `unix:PATH` or `binder[:DEVICE]`.
    #[arg(long, value_name = "ENDPOINT")]
    connect: Option<Endpoint>,
    /// The board file the service runs with (enables routing, limit and vendor-bit checks).
    #[arg(long, value_name = "FILE")]
    board: Option<PathBuf>,
    /// Cases to run: `POSITIVE[-NEGATIVE]`, `:`-separated globs (`aidl.*:cpu.*-*threads*`).
    #[arg(long, value_name = "GLOB", default_value = "*")]
    filter: String,
    /// The service's pid, for service-side fd checks (default: peer credentials of the
    /// socket, or the only `gralloc-allocator` process on kernel binder).
    #[arg(long, value_name = "PID")]
    service_pid: Option<u32>,
    /// The mapper library to check (default: `mapper.<suffix>.so` in `$GRALLOC_MAPPER_DIR`,
    /// next to this binary or in `/vendor/lib[64]/hw` on Android, the suffix from
    /// `getIMapperLibrarySuffix`).
    #[arg(long, value_name = "PATH", conflicts_with = "no_mapper")]
    mapper: Option<PathBuf>,
    /// Run without a mapper library: the `mapper_stablec.*` cases skip.
    #[arg(long)]
    no_mapper: bool,
    /// List the case names the filter selects and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some(child::SUBCOMMAND) {
        let code = child::child_main(argv.get(2..).unwrap_or(&[]));
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    if argv.get(1).map(String::as_str) == Some(mapper_stablec::child::SUBCOMMAND) {
        let code = mapper_stablec::child::child_main(argv.get(2..).unwrap_or(&[]));
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let args = Args::parse();
    let filter = Filter::new(&args.filter);
    if args.list {
        cases::all().iter().filter(|c| filter.matches(c.name)).for_each(|c| println!("{}", c.name));
        return ExitCode::SUCCESS;
    }
    let Some(endpoint) = args.connect else {
        eprintln!("gralloc-vts: --connect unix:PATH|binder[:DEVICE] is required");
        return ExitCode::from(2);
    };
    let exe = std::env::current_exe().ok();
    let mapper = match (args.mapper, args.no_mapper) {
        (Some(path), _) => MapperChoice::Path(path),
        (None, true) => {
            eprintln!(
                "gralloc-vts: WARNING: --no-mapper: no mapper library is checked; the \
                 mapper_stablec.* cases skip and the allocator VTS set-up rule is off"
            );
            MapperChoice::Off
        }
        (None, false) => MapperChoice::default_search(
            std::env::var_os(mapper_stablec::MAPPER_DIR_ENV).map(PathBuf::from),
            exe.as_deref(),
        ),
    };
    let settings = Settings {
        endpoint,
        board: args.board,
        service_pid: args.service_pid,
        helper_exe: exe,
        mapper,
    };
    let ctx = match Ctx::new(settings, Box::new(std::io::stdout())) {
        Ok(ctx) => ctx,
        Err(err) => {
            eprintln!("gralloc-vts: {}", hal_interface::wire::Chain(&err));
            return ExitCode::from(2);
        }
    };
    match runner::run(&ctx, &cases::all(), &filter) {
        Ok(summary) if summary.failed() == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(err) => {
            eprintln!("gralloc-vts: writing the report: {err}");
            ExitCode::from(2)
        }
    }
}
