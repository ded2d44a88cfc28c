//! Logging set-up for the daemon and the CLI.
//!
//! Libraries log through the `log` facade only; this module picks the sink: `android_logger`
//! (tag `gralloc-allocator`) on Android, a small line-per-record stderr logger elsewhere. The
//! level comes from an option, else the `GRALLOC_LOG` environment variable, else `info`.
//! [`install_panic_hook`] makes a panic leave one `error!` line with its location before the
//! default hook runs (a panic in a Binder handler is a service crash).

use std::io::Write;
use std::str::FromStr;

use log::{LevelFilter, Log, Metadata, Record};
use thiserror::Error;

/// Tag of every log line (Android log tag, stderr prefix).
pub const TAG: &str = "gralloc-allocator";

/// Environment variable read when no `--log-level` option is given.
pub const LEVEL_ENV: &str = "GRALLOC_LOG";

/// A log level name that is not one of `off`, `error`, `warn`, `info`, `debug`, `trace`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown log level {0:?} (expected off, error, warn, info, debug or trace)")]
pub struct LevelError(pub String);

/// Parses a level name (case-insensitive).
///
/// # Errors
/// [`LevelError`] for anything but `off`, `error`, `warn`, `info`, `debug`, `trace`.
pub fn parse_level(name: &str) -> Result<LevelFilter, LevelError> {
    LevelFilter::from_str(name.trim()).map_err(|_| LevelError(name.to_owned()))
}

/// The daemon's level: `option` if given, else `$GRALLOC_LOG`, else `info`.
///
/// # Errors
/// [`LevelError`] when the chosen source names no level (an invalid environment value is an
/// error too, rather than silently logging at another level).
pub fn choose_level(option: Option<&str>) -> Result<LevelFilter, LevelError> {
    choose_level_or(option, LevelFilter::Info)
}

/// `option` if given, else `$GRALLOC_LOG`, else `default` (the CLI uses `warn`).
///
/// # Errors
/// As [`choose_level`].
pub fn choose_level_or(
    option: Option<&str>,
    default: LevelFilter,
) -> Result<LevelFilter, LevelError> {
    match option {
        Some(name) => parse_level(name),
        None => match std::env::var(LEVEL_ENV) {
            Ok(name) if !name.trim().is_empty() => parse_level(&name),
            _ => Ok(default),
        },
    }
}

/// Installs the process logger at `level` (once; later calls only change the level).
pub fn init(level: LevelFilter) {
    init_sink(level);
    log::set_max_level(level);
}

#[cfg(target_os = "android")]
fn init_sink(level: LevelFilter) {
    android_logger::init_once(
        android_logger::Config::default().with_tag(TAG).with_max_level(level),
    );
}

#[cfg(not(target_os = "android"))]
fn init_sink(_level: LevelFilter) {
    static LOGGER: StderrLogger = StderrLogger;
    // A second call finds a logger already set; keeping the first one is what we want.
    let _already_set = log::set_logger(&LOGGER);
}

/// Writes `<tag>: <LEVEL> <target>: <message>` lines to stderr, one `write` per record so
/// lines from different threads do not interleave.
#[derive(Debug)]
struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!("{TAG}: {:<5} {}: {}\n", record.level(), record.target(), record.args());
        // Nothing sensible to do when stderr is gone.
        let _ignored = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ignored = std::io::stderr().flush();
    }
}

/// Chains a hook in front of the current panic hook that logs the panic (message and
/// location) at `error!`, so it reaches logcat on Android, where stderr goes nowhere.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("<non-string panic payload>");
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "<unknown location>".to_owned());
        let thread = std::thread::current();
        log::error!(
            "panic in thread {}: {message} at {location}",
            thread.name().unwrap_or("<unnamed>")
        );
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_names_parse_case_insensitively() {
        assert_eq!(parse_level("debug"), Ok(LevelFilter::Debug));
        assert_eq!(parse_level("WARN"), Ok(LevelFilter::Warn));
        assert_eq!(parse_level(" off "), Ok(LevelFilter::Off));
        assert_eq!(parse_level("loud"), Err(LevelError("loud".to_owned())));
    }

    #[test]
    fn the_option_wins_over_the_default() {
        assert_eq!(choose_level(Some("trace")), Ok(LevelFilter::Trace));
        assert_eq!(choose_level_or(Some("error"), LevelFilter::Warn), Ok(LevelFilter::Error));
        assert!(choose_level(Some("nope")).is_err());
    }
}
