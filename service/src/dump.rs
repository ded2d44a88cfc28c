//! The `dump` report: per-heap statistics as bounded text, for the Binder `DUMP` transaction
//! and for the unix-socket stats endpoint.
//!
//! Over kernel binder, `dumpsys` / `gralloc dump` use the standard `DUMP` transaction
//! ([`crate::binder::AllocatorService`] implements `Interface::dump`). rsbinder 0.12 serves
//! `DUMP` over its unix-socket RPC transport too, but its client API has no way to send one
//! (`ProxyHandle::dump` is kernel-only and writing a raw fd into an RPC parcel is crate-private).
//! So a daemon on a unix socket `PATH` also listens on `PATH.dump` ([`DumpListener`]): a
//! connection gets the report and is closed. The socket file is mode 0600 and a peer whose
//! uid is neither root nor the daemon's own gets nothing (checked with `SO_PEERCRED`).
//!
//! The report holds counters and names only (no addresses) and is cut at
//! [`MAX_DUMP_BYTES`].

use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::Uid;

/// Upper bound of a dump report in bytes; longer reports are cut with a marker line.
pub const MAX_DUMP_BYTES: usize = 64 * 1024;

/// How long either side waits on the stats socket before giving up.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Produces the report text on demand.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Cuts `report` to at most [`MAX_DUMP_BYTES`] on a character boundary, marking the cut.
pub fn bounded(report: String) -> String {
    const MARKER: &str = "\n[dump truncated]\n";
    if report.len() <= MAX_DUMP_BYTES {
        return report;
    }
    let budget = MAX_DUMP_BYTES.saturating_sub(MARKER.len());
    let cut = (0..=budget).rev().find(|&i| report.is_char_boundary(i)).unwrap_or(0);
    let mut out = report.get(..cut).unwrap_or_default().to_owned();
    out.push_str(MARKER);
    out
}

/// Whether a caller with effective uid `uid` may read the dump: root or the daemon's own
/// uid, plus the shell on Android (`adb shell dumpsys`).
pub fn may_read_dump(uid: u32) -> bool {
    const AID_SHELL: u32 = 2000;
    uid == 0
        || uid == Uid::effective().as_raw()
        || (cfg!(target_os = "android") && uid == AID_SHELL)
}

/// The stats socket that belongs to the allocator socket `socket` (`PATH.dump`).
pub fn dump_socket_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".dump");
    PathBuf::from(name)
}

/// A listener answering every connection with the report; stops and removes its socket file
/// when dropped.
#[derive(Debug)]
pub struct DumpListener {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DumpListener {
    /// Binds `path` (replacing a stale socket file), restricts it to mode 0600 and starts the
    /// answering thread.
    ///
    /// # Errors
    /// The bind, chmod or thread-spawn error.
    pub fn bind(path: &Path, render: Render) -> io::Result<Self> {
        // A live daemon on the same path already refused the main socket before we get here,
        // so a socket left there is stale; anything else is not ours to delete.
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a file that is not a socket is in the way",
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new().name("gralloc-dump".to_owned()).spawn({
            let stop = Arc::clone(&stop);
            move || accept_loop(&listener, &stop, &render)
        })?;
        Ok(Self { path: path.to_owned(), stop, thread: Some(thread) })
    }

    /// Path of the socket file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DumpListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; if the connect fails the thread is already gone.
        let _wake = UnixStream::connect(&self.path);
        if let Some(thread) = self.thread.take() {
            let _joined = thread.join();
        }
        let _removed = std::fs::remove_file(&self.path);
    }
}

fn accept_loop(listener: &UnixListener, stop: &AtomicBool, render: &Render) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match stream {
            Ok(stream) => {
                if let Err(err) = answer(stream, render) {
                    log::debug!("dump connection: {err}");
                }
            }
            Err(err) => {
                log::warn!("dump socket accept: {err}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn answer(mut stream: UnixStream, render: &Render) -> io::Result<()> {
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let peer = getsockopt(&stream, PeerCredentials).map_err(io::Error::from)?;
    let uid = peer.uid();
    log::debug!("dump requested by uid {uid} pid {}", peer.pid());
    if !may_read_dump(uid) {
        log::warn!("dump refused to uid {uid} pid {}", peer.pid());
        return stream.write_all(b"permission denied: dump is for root and the daemon's uid\n");
    }
    stream.write_all(bounded(render()).as_bytes())
}

/// Client side: reads the report from the stats socket of the allocator socket `socket`.
///
/// # Errors
/// Connect or read errors (`NotFound` when no daemon serves a dump socket there).
pub fn fetch(socket: &Path) -> io::Result<String> {
    let stream = UnixStream::connect(dump_socket_path(socket))?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut text = String::new();
    // One byte over the bound proves a misbehaving peer without reading it all.
    let limit = u64::try_from(MAX_DUMP_BYTES).unwrap_or(u64::MAX).saturating_add(1);
    stream.take(limit).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reports_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_DUMP_BYTES);
        let cut = bounded(long);
        assert!(cut.len() <= MAX_DUMP_BYTES);
        assert!(cut.ends_with("[dump truncated]\n"));
        assert_eq!(bounded("short".to_owned()), "short");
    }

    #[test]
    fn the_listener_answers_and_removes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("allocator.sock");
        let path = dump_socket_path(&socket);
        assert_eq!(path, dir.path().join("allocator.sock.dump"));
        let listener =
            DumpListener::bind(&path, Arc::new(|| "heap system: 0 buffers\n".to_owned())).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fetch(&socket).unwrap(), "heap system: 0 buffers\n");
        assert_eq!(fetch(&socket).unwrap(), "heap system: 0 buffers\n");
        drop(listener);
        assert!(!path.exists());
        assert!(fetch(&socket).is_err());
    }

    #[test]
    fn a_regular_file_in_the_way_is_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sock.dump");
        std::fs::write(&path, "keep").unwrap();
        let err = DumpListener::bind(&path, Arc::new(String::new)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep");
    }

    #[test]
    fn own_uid_and_root_may_read() {
        assert!(may_read_dump(0));
        assert!(may_read_dump(Uid::effective().as_raw()));
    }
}
