//! What `/proc` says about a process beyond its fds (which `heaps::dmabuf` counts): start
//! time, threads, pids by name. Reads only.

use std::fs;
use std::io;
use std::path::PathBuf;

/// Which process to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proc {
    /// The calling process.
    This,
    /// Another process by pid.
    Pid(u32),
}

impl Proc {
    fn dir(self) -> PathBuf {
        match self {
            Self::This => PathBuf::from("/proc/self"),
            Self::Pid(pid) => PathBuf::from(format!("/proc/{pid}")),
        }
    }
}

/// The process start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`): with
/// the pid it identifies one process instance, so a restart under the same pid shows.
///
/// # Errors
/// When the stat file cannot be read or parsed.
pub fn start_ticks(proc: Proc) -> io::Result<u64> {
    let stat = fs::read_to_string(proc.dir().join("stat"))?;
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    // Fields after the name start at field 3 (state); start time is field 22.
    rest.split_whitespace()
        .nth(22 - 3)
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable /proc stat line"))
}

/// Threads of `proc` (the `Threads:` line of `status`).
///
/// # Errors
/// When the status file cannot be read or has no such line.
pub fn thread_count(proc: Proc) -> io::Result<usize> {
    let status = fs::read_to_string(proc.dir().join("status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Threads: line"))
}

/// Pids whose `comm` is exactly `comm` (the kernel truncates it to 15 bytes).
pub fn pids_named(comm: &str) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == comm)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_ticks_is_stable_for_a_process() {
        let pid = std::process::id();
        assert_eq!(start_ticks(Proc::This).unwrap(), start_ticks(Proc::Pid(pid)).unwrap());
        assert!(thread_count(Proc::This).unwrap() >= 1);
    }
}
