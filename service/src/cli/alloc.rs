//! `gralloc alloc` and `gralloc is-supported`.

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use gralloc_mapper::ffi::client::LoadedMapper;
use hal_interface::aidl::IAllocator;
use hal_interface::aidl::NativeHandle;
use hal_interface::format::RawFormat;
use hal_interface::metadata::StandardMetadataType;
use hal_interface::transport::{self, Endpoint};
use hal_interface::{BufferHandle, Usage, UsageFlag};
use heaps::dmabuf::{self, AccessError, FdKind, Mapping, OutOfBounds, SyncDirection, SyncPhase};
use rsbinder::Strong;
use serde_json::{json, Value};

use super::{write_out, AllocArgs, CliError, DescriptorArgs};

/// What the client learned about one received buffer.
#[derive(Debug)]
pub(super) struct Received {
    pub(super) handle: BufferHandle,
    /// Where the memory really came from: the dma-buf exporter (fdinfo `exp_name`) or
    /// `memfd`.
    pub(super) exporter: String,
    /// The dma-buf or memfd name.
    buffer_name: Option<String>,
    /// Size of the fd in bytes (`lseek` to the end).
    fd_size: Option<u64>,
}

pub(super) fn alloc(
    endpoint: &Endpoint,
    args: &AllocArgs,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let allocator = transport::connect(endpoint)?;
    let reply = allocator
        .allocate2(&args.descriptor.descriptor(), args.count)
        .map_err(|status| CliError::from_status("allocate2", status))?;
    let received = reply
        .buffers
        .iter()
        .enumerate()
        .map(|(index, native)| inspect(index, native))
        .collect::<Result<Vec<_>, _>>()?;
    let report = if args.json {
        let mut text =
            serde_json::to_string_pretty(&json_report(endpoint, reply.stride, &received))
                .map_err(|err| CliError::BadReply(format!("cannot render JSON: {err}")))?;
        text.push('\n');
        text
    } else {
        text_report(reply.stride, &received)
    };
    write_out(out, &report)?;
    if args.lock {
        let path = match &args.mapper {
            Some(path) => path.clone(),
            None => default_mapper_path(&allocator)?,
        };
        let report = lock_through_mapper(&path, &reply.buffers)?;
        write_out(out, &report)?;
    }
    if let Some(seconds) = args.hold {
        hold(&reply.buffers, &received, Duration::from_secs(seconds))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `mapper.<suffix>.so` in `$GRALLOC_MAPPER_DIR`, else next to this binary (on a device the
/// platform loads it from `/vendor/lib[64]/hw`: pass that directory).
fn default_mapper_path(allocator: &Strong<dyn IAllocator>) -> Result<PathBuf, CliError> {
    let suffix = allocator
        .getIMapperLibrarySuffix()
        .map_err(|status| CliError::from_status("getIMapperLibrarySuffix", status))?;
    let dir = match std::env::var_os("GRALLOC_MAPPER_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_owned))
            .unwrap_or_default(),
    };
    Ok(dir.join(format!("mapper.{suffix}.so")))
}

/// `BufferUsage` CPU bits of the `--lock` locks.
const CPU_READ_OFTEN: u64 = hal_interface::usage::bits::CPU_READ_OFTEN;
const CPU_READ_WRITE_OFTEN: u64 = CPU_READ_OFTEN | hal_interface::usage::bits::CPU_WRITE_OFTEN;

/// `--lock`: each buffer imported, locked for writing, filled with the pattern, unlocked,
/// locked for reading and compared, then its standard metadata printed decoded.
fn lock_through_mapper(path: &Path, buffers: &[NativeHandle]) -> Result<String, CliError> {
    use std::fmt::Write as _;
    let mapper = LoadedMapper::load(path)?;
    let mut text = format!("mapper: {}\n", path.display());
    for (index, native) in buffers.iter().enumerate() {
        let err = |call: &'static str| move |error| CliError::Mapper { index, call, error };
        let fds: Vec<BorrowedFd<'_>> = native.fds.iter().map(AsFd::as_fd).collect();
        let buffer = mapper.import(&fds, &native.ints).map_err(err("importBuffer"))?;
        let locked = buffer.lock(CPU_READ_WRITE_OFTEN).map_err(err("lock"))?;
        let len = locked.len();
        let mut chunk = vec![0u8; PATTERN_CHUNK];
        for start in (0..len).step_by(PATTERN_CHUNK) {
            let n = PATTERN_CHUNK.min(len.saturating_sub(start));
            let part = chunk.get_mut(..n).unwrap_or_default();
            for (i, byte) in part.iter_mut().enumerate() {
                *byte = pattern_byte(index, start.saturating_add(i));
            }
            locked.write(start, part).map_err(err("write"))?;
        }
        locked.unlock().map_err(err("unlock"))?;
        let locked = buffer.lock(CPU_READ_OFTEN).map_err(err("lock"))?;
        for start in (0..len).step_by(PATTERN_CHUNK) {
            let n = PATTERN_CHUNK.min(len.saturating_sub(start));
            let part = chunk.get_mut(..n).unwrap_or_default();
            locked.read(start, part).map_err(err("read"))?;
            if let Some(i) = part
                .iter()
                .enumerate()
                .position(|(i, &b)| b != pattern_byte(index, start.saturating_add(i)))
            {
                return Err(CliError::PatternChanged { index, offset: start.saturating_add(i) });
            }
        }
        locked.unlock().map_err(err("unlock"))?;
        let _ =
            writeln!(text, "buffer {index}: imported, locked, {len} bytes written and read back");
        for ty in StandardMetadataType::ALL {
            match buffer.get(ty) {
                Ok(value) => {
                    let _ = writeln!(text, "  {}: {value:?}", ty.name());
                }
                Err(error) => {
                    let _ = writeln!(text, "  {}: error {error:?}", ty.name());
                }
            }
        }
    }
    Ok(text)
}

pub(super) fn is_supported(
    endpoint: &Endpoint,
    args: &DescriptorArgs,
    out: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let allocator = transport::connect(endpoint)?;
    let supported = allocator
        .isSupported(&args.descriptor())
        .map_err(|status| CliError::from_status("isSupported", status))?;
    write_out(out, if supported { "true\n" } else { "false\n" })?;
    Ok(ExitCode::SUCCESS)
}

fn first_fd(index: usize, native: &NativeHandle) -> Result<BorrowedFd<'_>, CliError> {
    native
        .fds
        .first()
        .map(AsFd::as_fd)
        .ok_or_else(|| CliError::BadReply(format!("buffer {index}: handle carries no fd")))
}

pub(super) fn inspect(index: usize, native: &NativeHandle) -> Result<Received, CliError> {
    let handle = BufferHandle::decode(native)
        .map_err(|err| CliError::BadReply(format!("buffer {index}: {err}")))?;
    let fd = first_fd(index, native)?;
    let kind = dmabuf::fd_kind(fd).map_err(|source| CliError::Io {
        what: format!("buffer {index}: reading /proc/self/fd"),
        source,
    })?;
    let (exporter, buffer_name) = match kind {
        FdKind::DmaBuf { exporter, name } => {
            (exporter.unwrap_or_else(|| "dmabuf".to_owned()), name)
        }
        FdKind::Memfd { name } => ("memfd".to_owned(), Some(name)),
        FdKind::Other { link } => {
            return Err(CliError::BadReply(format!("buffer {index}: fd is not a buffer ({link})")))
        }
    };
    Ok(Received { handle, exporter, buffer_name, fd_size: dmabuf::size_of(fd).ok() })
}

fn text_report(stride: i32, buffers: &[Received]) -> String {
    use std::fmt::Write as _;
    let mut text = format!("stride: {stride} pixels\nbuffers: {}\n", buffers.len());
    for (index, b) in buffers.iter().enumerate() {
        let h = &b.handle;
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "buffer {index}: from {} (handle heap {:?}, name {:?}), fd size {}",
            b.exporter,
            h.heap,
            b.buffer_name.as_deref().unwrap_or(""),
            b.fd_size.map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
        );
        let _ = writeln!(
            text,
            "  {}x{} layers {} format {} usage {}",
            h.width,
            h.height,
            h.layers,
            RawFormat(h.format),
            Usage::from_bits(h.usage)
        );
        let _ = writeln!(
            text,
            "  stride {} px / {} bytes, allocation {} bytes, buffer id {}",
            h.stride_pixels, h.stride_bytes, h.alloc_size, h.buffer_id
        );
        if h.reserved_size > 0 {
            let _ = writeln!(
                text,
                "  reserved region {} bytes at offset {}",
                h.reserved_size, h.reserved_offset
            );
        }
        for (i, p) in h.planes.iter().enumerate() {
            let _ = writeln!(
                text,
                "  plane {i}: {:?} offset {} stride {} bytes size {} subsampling {}x{}",
                p.component, p.offset, p.stride_bytes, p.size, p.h_subsampling, p.v_subsampling
            );
        }
    }
    text
}

fn json_report(endpoint: &Endpoint, stride: i32, buffers: &[Received]) -> Value {
    let buffers: Vec<Value> = buffers
        .iter()
        .map(|b| {
            let h = &b.handle;
            let planes: Vec<Value> = h
                .planes
                .iter()
                .map(|p| {
                    json!({
                        "component": format!("{:?}", p.component),
                        "offset": p.offset,
                        "stride_bytes": p.stride_bytes,
                        "size": p.size,
                        "h_subsampling": p.h_subsampling,
                        "v_subsampling": p.v_subsampling,
                    })
                })
                .collect();
            json!({
                "exporter": b.exporter,
                "buffer_name": b.buffer_name,
                "fd_size": b.fd_size,
                "handle": {
                    "width": h.width,
                    "height": h.height,
                    "layers": h.layers,
                    "format": h.format,
                    "format_name": RawFormat(h.format).to_string(),
                    "usage": h.usage,
                    "usage_names": Usage::from_bits(h.usage).to_string(),
                    "stride_pixels": h.stride_pixels,
                    "stride_bytes": h.stride_bytes,
                    "alloc_size": h.alloc_size,
                    "buffer_id": h.buffer_id,
                    "heap": h.heap,
                    "reserved_offset": h.reserved_offset,
                    "reserved_size": h.reserved_size,
                    "planes": planes,
                },
            })
        })
        .collect();
    json!({
        "endpoint": endpoint.to_string(),
        "stride": stride,
        "count": buffers.len(),
        "buffers": buffers,
    })
}

/// The byte the hold pattern puts at `offset` of buffer `index` (period 251, a prime, so
/// page-sized shifts show up).
fn pattern_byte(index: usize, offset: usize) -> u8 {
    let low = u8::try_from(offset % 251).unwrap_or(0);
    low ^ u8::try_from(index % 256).unwrap_or(0)
}

/// Bytes of pattern staged per copy into or out of a mapping.
const PATTERN_CHUNK: usize = 64 * 1024;

/// Writes the pattern of buffer `index` over the whole mapping, through private staging
/// memory (the mapping is shared and only ever copied to).
fn write_pattern(mapping: &Mapping, index: usize) -> Result<(), AccessError> {
    let mut staged = vec![0; PATTERN_CHUNK.min(mapping.len())];
    let mut at = 0;
    while at < mapping.len() {
        let chunk = staged.get_mut(..(mapping.len() - at).min(PATTERN_CHUNK)).unwrap_or_default();
        for (i, byte) in chunk.iter_mut().enumerate() {
            *byte = pattern_byte(index, at + i);
        }
        mapping.write_from(at, chunk)?;
        at += chunk.len();
    }
    Ok(())
}

/// The first offset of the mapping that no longer holds the pattern of buffer `index`.
fn pattern_change(mapping: &Mapping, index: usize) -> Result<Option<usize>, OutOfBounds> {
    let mut staged = vec![0; PATTERN_CHUNK.min(mapping.len())];
    let mut at = 0;
    while at < mapping.len() {
        let chunk = staged.get_mut(..(mapping.len() - at).min(PATTERN_CHUNK)).unwrap_or_default();
        mapping.read_into(at, chunk)?;
        if let Some(i) =
            chunk.iter().enumerate().position(|(i, &b)| b != pattern_byte(index, at + i))
        {
            return Ok(Some(at + i));
        }
        at += chunk.len();
    }
    Ok(None)
}

/// Maps each buffer, writes the pattern, waits, then checks the pattern is intact (the
/// buffers must survive whatever happens to the service meanwhile).
fn hold(
    natives: &[NativeHandle],
    received: &[Received],
    duration: Duration,
) -> Result<(), CliError> {
    let mut mappings = Vec::with_capacity(natives.len());
    for (index, (native, info)) in natives.iter().zip(received).enumerate() {
        if Usage::from_bits(info.handle.usage).has(UsageFlag::Protected) {
            eprintln!("gralloc: buffer {index} is PROTECTED: held without mapping");
            continue;
        }
        let fd = first_fd(index, native)?;
        let len = info.fd_size.unwrap_or(info.handle.alloc_size);
        let io = |what: &str, errno: nix::errno::Errno| CliError::Io {
            what: format!("buffer {index}: {what}"),
            source: errno.into(),
        };
        let len = usize::try_from(len).map_err(|_| io("size", nix::errno::Errno::EOVERFLOW))?;
        let mapping = Mapping::new(fd, len, true).map_err(|e| io("mmap", e))?;
        let is_dmabuf = info.exporter != "memfd";
        if is_dmabuf {
            dmabuf::sync(fd, SyncDirection::Write, SyncPhase::Start).map_err(|e| io("sync", e))?;
        }
        write_pattern(&mapping, index).map_err(|e| CliError::Io {
            what: format!("buffer {index}: writing the pattern"),
            source: std::io::Error::other(e),
        })?;
        if is_dmabuf {
            dmabuf::sync(fd, SyncDirection::Write, SyncPhase::End).map_err(|e| io("sync", e))?;
        }
        mappings.push((index, mapping));
    }
    eprintln!(
        "gralloc: holding {} buffers ({} mapped) for {} s",
        natives.len(),
        mappings.len(),
        duration.as_secs()
    );
    std::thread::sleep(duration);
    for (index, mapping) in &mappings {
        let changed = pattern_change(mapping, *index).map_err(|e| CliError::Io {
            what: format!("buffer {index}: reading the pattern"),
            source: std::io::Error::other(e),
        })?;
        if let Some(offset) = changed {
            return Err(CliError::PatternChanged { index: *index, offset });
        }
    }
    eprintln!("gralloc: pattern intact in {} mapped buffers", mappings.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_differs_between_buffers_and_pages() {
        assert_ne!(pattern_byte(0, 1), pattern_byte(1, 1));
        assert_ne!(pattern_byte(0, 1), pattern_byte(0, 4097));
        assert_eq!(pattern_byte(3, 251), pattern_byte(3, 0));
    }
}
