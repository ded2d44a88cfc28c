//! The `gralloc` client: talks to a running allocator (`alloc`, `is-supported`, `info`,
//! `dump`, `bench`) and checks board files without one (`board check`, `board explain`).
//!
//! Exit codes: 0 success (also `is-supported` answering false), 1 an operational failure
//! (cannot connect, transport error, invalid board file, I/O), 2 the service refused an
//! allocation (an `AllocationError`), 64 bad command-line arguments (sysexits `EX_USAGE`).
//! Nothing here panics on input: every failure is a [`CliError`]. Library logs go to stderr at
//! `warn` (`GRALLOC_LOG` overrides).
//!
//! `dump` reads the standard `DUMP` transaction on kernel binder and the daemon's
//! `PATH.dump` stats socket on `unix:PATH` (see [`crate::dump`] for why).

mod alloc;
mod bench;
mod board;
mod load;

pub use bench::{Baseline, Source};

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use hal_interface::aidl::{BufferDescriptorInfo, BufferUsage, PixelFormat};
use hal_interface::transport::{self, Endpoint, TransportError};
use hal_interface::usage::UsageError;
use hal_interface::wire;
use hal_interface::{Format, Usage};
use rsbinder::{Status, StatusCode};
use thiserror::Error;

use crate::error::Chain;

/// Exit code of an operational failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code when the service refused the request with an `AllocationError`.
pub const EXIT_REFUSED: u8 = 2;
/// Exit code of a command-line usage error.
pub const EXIT_USAGE: u8 = 64;

/// `gralloc`: client of the gralloc-allocator service and board-file tools.
#[derive(Debug, Parser)]
#[command(name = "gralloc", version, about, max_term_width = 100)]
pub struct Cli {
    /// Service endpoint: `unix:PATH` or `binder[:DEVICE]` [default: the daemon's default,
    /// kernel binder when /dev/binderfs/binder or /dev/binder exists, else
    /// unix:/tmp/gralloc-allocator.sock]
    #[arg(long, global = true, value_name = "ENDPOINT")]
    pub connect: Option<Endpoint>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Allocate buffers and print their stride, handle fields and real heap.
    Alloc(AllocArgs),
    /// Ask whether a descriptor can be allocated; prints true or false.
    IsSupported(DescriptorArgs),
    /// Print the interface version, hash and IMapper library suffix.
    Info,
    /// Print the service's per-heap statistics.
    Dump,
    /// Time allocate2 through the service against direct allocations from the same heap.
    Bench(BenchArgs),
    /// Board-file tools (need no service).
    #[command(subcommand)]
    Board(BoardCommand),
}

/// Fields of a `BufferDescriptorInfo`. Values are passed as given (negative numbers
/// included) so the service's validation can be exercised.
#[derive(Debug, Clone, Args)]
pub struct DescriptorArgs {
    /// Width in pixels (bytes for BLOB).
    #[arg(long, allow_negative_numbers = true)]
    pub width: i32,
    /// Height in rows.
    #[arg(long, allow_negative_numbers = true)]
    pub height: i32,
    /// Pixel format: AIDL name (RGBA_8888, YV12, NV21, ...) or a number (0x1, 842094169).
    #[arg(long, value_parser = parse_format, allow_negative_numbers = true)]
    pub format: i32,
    /// Usage: comma-separated AIDL or gralloc0 names (CPU_READ_OFTEN,GPU_TEXTURE, HW_FB)
    /// or a number (0x933).
    #[arg(long, value_parser = parse_usage)]
    pub usage: Usage,
    /// Layer count.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub layers: i32,
    /// Buffer name (at most 127 bytes reach the service).
    #[arg(long, default_value = "gralloc-cli")]
    pub name: String,
    /// Reserved region in bytes (suffixes K, M, G accepted).
    #[arg(long, default_value = "0", value_parser = parse_reserved, allow_negative_numbers = true)]
    pub reserved: i64,
}

impl DescriptorArgs {
    /// The wire descriptor.
    pub fn descriptor(&self) -> BufferDescriptorInfo {
        BufferDescriptorInfo {
            name: wire::descriptor_name_array(self.name.as_bytes()),
            width: self.width,
            height: self.height,
            layerCount: self.layers,
            format: PixelFormat(self.format),
            usage: BufferUsage(self.usage.to_wire()),
            reservedSize: self.reserved,
            additionalOptions: Vec::new(),
        }
    }
}

/// Arguments of `alloc`.
#[derive(Debug, Clone, Args)]
pub struct AllocArgs {
    /// The descriptor.
    #[command(flatten)]
    pub descriptor: DescriptorArgs,
    /// Number of buffers.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub count: i32,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Keep the buffers open (and mapped, filled with a pattern that is checked at the end)
    /// for this many seconds before exiting.
    #[arg(long, value_name = "SECONDS")]
    pub hold: Option<u64>,
    /// Import each buffer through the mapper library (as libui does), lock it, write and
    /// read back a pattern, and print its standard metadata decoded: a mapper smoke test.
    #[arg(long, conflicts_with = "json")]
    pub lock: bool,
    /// The mapper library for --lock. Default: `mapper.<suffix>.so`, the suffix from the
    /// allocator, in `$GRALLOC_MAPPER_DIR`, else next to this binary.
    #[arg(long, value_name = "PATH", requires = "lock")]
    pub mapper: Option<PathBuf>,
}

/// Arguments of `bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The descriptor (one buffer per call).
    #[command(flatten)]
    pub descriptor: DescriptorArgs,
    /// Calls on each side.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: u32,
    /// The heap allocated from directly for comparison: `auto` (the heap the service's buffer
    /// came from, by its fdinfo exporter), `dma-heap:NAME`, `ion:NAME`, `udmabuf` or `memfd`.
    #[arg(long, default_value = "auto")]
    pub baseline: Baseline,
    /// Pause this many milliseconds after each call, and close each buffer outside the
    /// timing: the latency of spaced-out requests (a reserve pool refills in the pauses).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub gap_ms: Option<u32>,
    /// Latency under load instead of the baseline comparison: N clients (threads, one
    /// connection each) loop 1920x1080 RGBA_8888 allocations (8 MiB) of --load-usage while
    /// the descriptor's allocate2 is timed alone, then under that load; prints both p99s,
    /// their ratio and the load's throughput.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub load: Option<u32>,
    /// Usage of the load's buffers (the default is CMA-class on phone-like boards).
    #[arg(long, value_parser = parse_usage, default_value = "COMPOSER_CLIENT_TARGET,GPU_RENDER_TARGET")]
    pub load_usage: Usage,
}

/// `board` sub-commands.
#[derive(Debug, Subcommand)]
pub enum BoardCommand {
    /// Validate a board file and print its summary; exit 1 with the located error otherwise.
    Check {
        /// The board TOML file.
        file: PathBuf,
    },
    /// Show which heaps a buffer would come from, the rule that matched and why earlier
    /// rules did not.
    Explain {
        /// The board TOML file.
        file: PathBuf,
        /// Usage names or number, as for `alloc`.
        #[arg(long, value_parser = parse_usage)]
        usage: Usage,
        /// Pixel format name or number (a graphics.common V5 format).
        #[arg(long)]
        format: Format,
        /// Size as WIDTHxHEIGHT in pixels.
        #[arg(long, value_parser = usage_map::parse_size)]
        size: (u32, u32),
    },
}

/// Everything that makes `gralloc` fail.
#[derive(Debug, Error)]
pub enum CliError {
    /// Connecting to the service failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The service refused the request with an `AllocationError`.
    #[error("{name}: {message}")]
    Refused {
        /// `BAD_DESCRIPTOR`, `NO_RESOURCES` or `UNSUPPORTED`.
        name: &'static str,
        /// The service's message.
        message: String,
    },
    /// A call failed with something other than an `AllocationError`.
    #[error("{call} failed: {status}")]
    Call {
        /// The method.
        call: &'static str,
        /// The status.
        status: Status,
    },
    /// A transport-level failure outside the generated calls (dump).
    #[error("{call} failed: {status:?}")]
    Binder {
        /// The operation.
        call: &'static str,
        /// rsbinder's status code.
        status: StatusCode,
    },
    /// The service answered with something this client cannot use.
    #[error("bad reply: {0}")]
    BadReply(String),
    /// A board file that does not load (located by file, line and rule or heap).
    #[error(transparent)]
    Board(#[from] usage_map::ConfigError),
    /// Reading, mapping or checking a received buffer failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A heap the client allocates from itself (`bench`'s baseline) failed.
    #[error("{what}")]
    Heap {
        /// What was being done.
        what: String,
        /// The heap's error.
        #[source]
        source: heaps::HeapError,
    },
    /// The mapper library could not be loaded.
    #[error(transparent)]
    MapperLoad(#[from] gralloc_mapper::ffi::client::LoadError),
    /// A mapper call failed.
    #[error("buffer {index}: mapper {call} failed: {error:?}")]
    Mapper {
        /// Buffer index.
        index: usize,
        /// The call.
        call: &'static str,
        /// The mapper's error.
        error: gralloc_mapper::MapperError,
    },
    /// The pattern written into a held buffer changed.
    #[error("buffer {index}: pattern changed at byte {offset} while held")]
    PatternChanged {
        /// Buffer index.
        index: usize,
        /// First differing byte.
        offset: usize,
    },
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Refused { .. } => EXIT_REFUSED,
            _ => EXIT_FAILURE,
        }
    }

    /// Maps a failed call: an `AllocationError` becomes [`CliError::Refused`].
    fn from_status(call: &'static str, status: Status) -> Self {
        match wire::allocation_error_of(&status) {
            Some(code) => CliError::Refused {
                name: wire::allocation_error_name(code),
                message: status.message().unwrap_or_default().to_owned(),
            },
            None => CliError::Call { call, status },
        }
    }
}

/// Parses the command line and runs it; the body of `gralloc`'s `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _printed = err.print();
            return ExitCode::from(if err.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let level = match crate::logging::choose_level_or(None, log::LevelFilter::Warn) {
        Ok(level) => level,
        Err(err) => {
            eprintln!("gralloc: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    crate::logging::init(level);
    let mut out = std::io::stdout().lock();
    match run(&cli, &mut out) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("gralloc: {}", Chain(&err));
            ExitCode::from(err.exit_code())
        }
    }
}

/// Runs one parsed command, writing its report to `out`.
///
/// # Errors
/// Any [`CliError`]; the caller prints it and exits with [`CliError::exit_code`].
pub fn run(cli: &Cli, out: &mut dyn std::io::Write) -> Result<ExitCode, CliError> {
    let endpoint = || cli.connect.clone().unwrap_or_else(transport::default_endpoint);
    match &cli.command {
        Command::Alloc(args) => alloc::alloc(&endpoint(), args, out),
        Command::IsSupported(args) => alloc::is_supported(&endpoint(), args, out),
        Command::Info => info(&endpoint(), out),
        Command::Dump => dump(&endpoint(), out),
        Command::Bench(args) => bench::bench(&endpoint(), args, out),
        Command::Board(BoardCommand::Check { file }) => board::check(file, out),
        Command::Board(BoardCommand::Explain { file, usage, format, size }) => {
            board::explain(file, *usage, *format, *size, out)
        }
    }
}

fn info(endpoint: &Endpoint, out: &mut dyn std::io::Write) -> Result<ExitCode, CliError> {
    let allocator = transport::connect(endpoint)?;
    let version = allocator
        .getInterfaceVersion()
        .map_err(|s| CliError::from_status("getInterfaceVersion", s))?;
    let hash =
        allocator.getInterfaceHash().map_err(|s| CliError::from_status("getInterfaceHash", s))?;
    let suffix = allocator
        .getIMapperLibrarySuffix()
        .map_err(|s| CliError::from_status("getIMapperLibrarySuffix", s))?;
    write_out(
        out,
        &format!(
            "endpoint: {endpoint}\nservice: {}\ninterface version: {version}\ninterface hash: {hash}\nmapper suffix: {suffix}\n",
            transport::SERVICE_NAME
        ),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn dump(endpoint: &Endpoint, out: &mut dyn std::io::Write) -> Result<ExitCode, CliError> {
    let text = match endpoint {
        Endpoint::Unix(path) => crate::dump::fetch(path).map_err(|source| CliError::Io {
            what: format!("reading the dump socket of {}", path.display()),
            source,
        })?,
        Endpoint::Binder(_) => kernel_dump(endpoint)?,
    };
    write_out(out, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Sends the standard `DUMP` transaction (kernel binder) and collects what the service
/// writes into a pipe; a reader thread drains the pipe while the call runs.
fn kernel_dump(endpoint: &Endpoint) -> Result<String, CliError> {
    let allocator = transport::connect(endpoint)?;
    let binder = allocator.as_binder();
    let proxy = binder
        .as_proxy()
        .ok_or_else(|| CliError::BadReply("the service object is not a kernel proxy".to_owned()))?;
    let (read_end, write_end) = nix::unistd::pipe().map_err(|errno| CliError::Io {
        what: "creating a pipe".to_owned(),
        source: errno.into(),
    })?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let limit = u64::try_from(crate::dump::MAX_DUMP_BYTES).unwrap_or(u64::MAX);
        std::fs::File::from(read_end).take(limit).read_to_string(&mut text).map(|_| text)
    });
    let sent = proxy.dump(write_end, &[]);
    let text = reader
        .join()
        .map_err(|_| CliError::BadReply("dump reader thread panicked".to_owned()))?
        .map_err(|source| CliError::Io { what: "reading the dump".to_owned(), source })?;
    sent.map_err(|status| CliError::Binder { call: "dump", status })?;
    Ok(text)
}

fn write_out(out: &mut dyn std::io::Write, text: &str) -> Result<(), CliError> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| CliError::Io { what: "writing the output".to_owned(), source })
}

fn parse_usage(text: &str) -> Result<Usage, UsageError> {
    text.parse()
}

/// A format name, alias or number (any `i32`, so values outside V5 can be sent).
fn parse_format(text: &str) -> Result<i32, String> {
    if let Some(format) = Format::from_name(text) {
        return Ok(format.raw());
    }
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let magnitude = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16),
        None => digits.parse::<i64>(),
    }
    .map_err(|_| format!("unknown pixel format {text:?}"))?;
    let value = if negative { magnitude.checked_neg() } else { Some(magnitude) };
    // Accept the unsigned spelling of a 32-bit value (0xFFFFFFFF) as its bit pattern.
    value
        .and_then(|v| {
            i32::try_from(v)
                .ok()
                .or_else(|| u32::try_from(v).ok().map(|u| i32::from_ne_bytes(u.to_ne_bytes())))
        })
        .ok_or_else(|| format!("pixel format {text:?} does not fit 32 bits"))
}

/// Bytes with an optional K/M/G suffix (powers of 1024); negative values pass through.
fn parse_reserved(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let (digits, shift) = match trimmed.char_indices().last() {
        Some((i, 'k' | 'K')) => (trimmed.get(..i), 10),
        Some((i, 'm' | 'M')) => (trimmed.get(..i), 20),
        Some((i, 'g' | 'G')) => (trimmed.get(..i), 30),
        _ => (Some(trimmed), 0),
    };
    let value: i64 = digits.unwrap_or_default().parse().map_err(|_| {
        format!("reserved size {text:?}: expected bytes, optionally with K, M or G")
    })?;
    value
        .checked_mul(1i64 << shift)
        .ok_or_else(|| format!("reserved size {text:?} does not fit 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_name_and_number() {
        assert_eq!(parse_format("RGBA_8888"), Ok(1));
        assert_eq!(parse_format("nv21"), Ok(0x11));
        assert_eq!(parse_format("0x3C"), Ok(0x3C));
        assert_eq!(parse_format("-1"), Ok(-1));
        assert_eq!(parse_format("0xFFFFFFFF"), Ok(-1));
        assert!(parse_format("RGBA_9999").is_err());
        assert!(parse_format("0x1FFFFFFFF").is_err());
    }

    #[test]
    fn sizes_and_reserved_parse() {
        assert_eq!(parse_reserved("4K"), Ok(4096));
        assert_eq!(parse_reserved("-1"), Ok(-1));
        assert_eq!(parse_reserved("8M"), Ok(8 << 20));
        assert!(parse_reserved("9999999999G").is_err());
        assert!(parse_reserved("K").is_err());
    }

    #[test]
    fn the_command_line_parses() {
        let cli = Cli::try_parse_from([
            "gralloc",
            "--connect",
            "unix:/tmp/x.sock",
            "alloc",
            "--width",
            "64",
            "--height",
            "-1",
            "--format",
            "RGBA_8888",
            "--usage",
            "CPU_READ_OFTEN,HW_FB",
            "--count",
            "2",
            "--json",
        ])
        .unwrap();
        let Command::Alloc(args) = cli.command else { panic!("not alloc") };
        assert_eq!(args.count, 2);
        assert!(args.json);
        let d = args.descriptor.descriptor();
        assert_eq!((d.width, d.height, d.layerCount), (64, -1, 1));
        assert_eq!(d.usage.0, 0x1003);
        assert_eq!(&d.name[..11], b"gralloc-cli");
        assert_eq!(cli.connect, Some(Endpoint::Unix("/tmp/x.sock".into())));
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        let err = Cli::try_parse_from(["gralloc", "alloc", "--width", "x"]).unwrap_err();
        assert!(err.use_stderr());
        assert!(Cli::try_parse_from(["gralloc", "--connect", "tcp:1", "info"]).is_err());
    }
}
