//! `usage-map`: board-file tool for bring-up without the service crate.
//!
//! ```text
//! usage-map check FILE
//! usage-map explain FILE --usage NAMES --format NAME --size WxH
//! ```
//!
//! The same commands exist as `gralloc board check|explain`; both print what
//! [`usage_map::check_report`] and [`usage_map::Explanation`] produce. Exit 0 on success, 1
//! when the board file is invalid, 2 on a usage error.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use hal_interface::format::Format;
use hal_interface::usage::Usage;
use usage_map::{check_report, parse_size, UsageMap};

const USAGE: &str = "usage: usage-map check FILE\n       usage-map explain FILE --usage NAMES --format NAME --size WxH\n";

enum Command {
    Check(PathBuf),
    Explain { file: PathBuf, usage: Usage, format: Format, size: (u32, u32) },
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    match args {
        [cmd, file] if cmd == "check" => Ok(Command::Check(PathBuf::from(file))),
        [cmd, file, rest @ ..] if cmd == "explain" => {
            let (mut usage, mut format, mut size) = (None, None, None);
            let mut it = rest.iter();
            while let Some(flag) = it.next() {
                let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                match flag.as_str() {
                    "--usage" => usage = Some(value.parse::<Usage>().map_err(|e| e.to_string())?),
                    "--format" => {
                        format = Some(value.parse::<Format>().map_err(|e| e.to_string())?)
                    }
                    "--size" => size = Some(parse_size(value).map_err(|e| e.to_string())?),
                    other => return Err(format!("unknown option {other}")),
                }
            }
            Ok(Command::Explain {
                file: PathBuf::from(file),
                usage: usage.ok_or("--usage is required")?,
                format: format.ok_or("--format is required")?,
                size: size.ok_or("--size is required")?,
            })
        }
        _ => Err("expected `check FILE` or `explain FILE ...`".to_owned()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(err) => {
            eprint!("usage-map: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let file = match &command {
        Command::Check(file) | Command::Explain { file, .. } => file,
    };
    let map = match UsageMap::load(file) {
        Ok(map) => map,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Check(_) => print!("{}", check_report(&map)),
        Command::Explain { usage, format, size: (width, height), .. } => {
            print!("{}", map.explain(usage, format, width, height));
        }
    }
    ExitCode::SUCCESS
}
