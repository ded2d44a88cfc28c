//! The cross-process metadata check's child: `gralloc-vts __mapper-metadata-child MAPPER`.
//!
//! Its stdin is one end of a Unix socket pair; the parent sends the raw handle's ints as
//! little-endian words with its fds in `SCM_RIGHTS` (a handle may carry any number of fds).
//! The child loads the same mapper library, imports the handle, checks that it sees the
//! DATASPACE the parent set, and sets DATASPACE, BLEND_MODE and CTA861_3 for the parent to
//! read through its own import.

use std::ffi::OsStr;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use hal_interface::metadata::{MetadataValue, StandardMetadataType as T};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, UnixAddr,
};

use super::cases_metadata::{
    generic_hlgish, BLEND_PREMULTIPLIED, DATASPACE_BT2020_PQ, DATASPACE_SRGB,
};
use super::{error, ffi, get_standard, set_standard, Allocation, HandleArg, NativeHandleWords};
use crate::runner::Stop;

/// The hidden subcommand.
pub const SUBCOMMAND: &str = "__mapper-metadata-child";
/// Most fds a handle may carry over to the child.
const MAX_FDS: usize = 16;
/// Most ints a handle may carry over to the child.
const MAX_INTS: usize = 1024;

/// Runs the child on `allocation` with the library at `library` and waits for it.
///
/// # Errors
/// A failure when the child cannot start or reports a mismatch.
pub fn run_child(exe: &Path, library: &Path, allocation: &Allocation) -> Result<(), Stop> {
    let (ours, theirs) =
        socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)
            .map_err(|e| Stop::failed(format!("socketpair: {e}")))?;
    send_handle(&ours, allocation)?;
    drop(ours);
    crate::child::run_to_success(exe, &[OsStr::new(SUBCOMMAND), library.as_os_str()], theirs)
}

fn send_handle(socket: &OwnedFd, allocation: &Allocation) -> Result<(), Stop> {
    let fds: Vec<RawFd> = allocation.fds().iter().map(AsRawFd::as_raw_fd).collect();
    let words = allocation.words().words();
    let ints = words.get(3 + fds.len()..).unwrap_or(&[]);
    let bytes: Vec<u8> = ints.iter().flat_map(|i| i.to_le_bytes()).collect();
    let iov = [IoSlice::new(&bytes)];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let sent = sendmsg::<UnixAddr>(socket.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(|e| Stop::failed(format!("sending the handle to the child: {e}")))?;
    if sent != bytes.len() {
        return Err(Stop::failed(format!("sent {sent} of {} handle bytes", bytes.len())));
    }
    Ok(())
}

/// The child's side: `args` are what follows the subcommand. Returns the exit status.
pub fn child_main(args: &[String]) -> i32 {
    match child(args) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("{message}");
            1
        }
    }
}

/// Receives the handle from stdin. The fds stay open until the process exits.
fn receive_handle() -> Result<NativeHandleWords, String> {
    let mut bytes = vec![0u8; MAX_INTS * 4];
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(&mut bytes)];
    let msg = recvmsg::<UnixAddr>(0, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| format!("receiving the handle: {e}"))?;
    let received = msg.bytes;
    let mut fds = Vec::new();
    for message in msg.cmsgs().map_err(|e| format!("control messages: {e}"))? {
        if let ControlMessageOwned::ScmRights(rights) = message {
            fds.extend(rights);
        }
    }
    let ints: Vec<i32> = bytes
        .get(..received)
        .unwrap_or(&[])
        .chunks_exact(4)
        .filter_map(|c| <[u8; 4]>::try_from(c).ok())
        .map(i32::from_le_bytes)
        .collect();
    Ok(NativeHandleWords::new(&fds, &ints))
}

fn child(args: &[String]) -> Result<(), String> {
    let [library] = args else {
        return Err(format!("usage: {SUBCOMMAND} MAPPER_LIBRARY, got {args:?}"));
    };
    let words = receive_handle()?;
    let library = ffi::Library::open(Path::new(library))?;
    let (code, mapper) = library.load_mapper();
    let mapper = mapper.ok_or_else(|| format!("AIMapper_loadIMapper: {}", error::name(code)))?;
    let (code, imported) =
        mapper.import_buffer(HandleArg::Raw(&words)).map_err(|e| e.to_string())?;
    let imported = match (code, imported) {
        (error::NONE, Some(h)) => HandleArg::Imported(h),
        _ => return Err(format!("importBuffer in the child: {}", error::name(code))),
    };
    let text = |s: Stop| s.reason().to_owned();
    let seen = get_standard(&mapper, imported, T::Dataspace).map_err(text)?;
    if seen != Some(MetadataValue::Dataspace(DATASPACE_BT2020_PQ)) {
        return Err(format!(
            "the child reads DATASPACE {seen:?}, the parent set {DATASPACE_BT2020_PQ}: metadata \
             is not shared between processes"
        ));
    }
    for value in [
        MetadataValue::Dataspace(DATASPACE_SRGB),
        MetadataValue::BlendMode(BLEND_PREMULTIPLIED),
        MetadataValue::Cta861_3(Some(generic_hlgish())),
    ] {
        let code = set_standard(&mapper, imported, &value).map_err(text)?;
        if code != error::NONE {
            return Err(format!(
                "child setStandardMetadata({}): {}",
                value.metadata_type().name(),
                error::name(code)
            ));
        }
    }
    let code = mapper.free_buffer(imported).map_err(|e| e.to_string())?;
    if code != error::NONE {
        return Err(format!("child freeBuffer: {}", error::name(code)));
    }
    Ok(())
}
