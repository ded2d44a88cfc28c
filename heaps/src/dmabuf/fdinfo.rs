//! `/proc/<pid>/fdinfo/<fd>`: flags, size and exporter of an open fd.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// Parsed `/proc/<pid>/fdinfo/<fd>`. Absent or malformed lines are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdInfo {
    /// `pos:` file offset.
    pub pos: Option<u64>,
    /// `flags:` (printed in octal) open flags, with `O_CLOEXEC` when close-on-exec is set.
    pub flags: Option<u32>,
    /// `mnt_id:`.
    pub mnt_id: Option<u64>,
    /// `ino:` inode number (5.14+; [`inode`] works on every kernel).
    pub ino: Option<u64>,
    /// dma-buf `size:` in bytes.
    pub size: Option<u64>,
    /// dma-buf `count:` (file references − 1).
    pub count: Option<u64>,
    /// dma-buf `exp_name:` exporter (heap name since ≈5.13; `heap_helpers` on 5.10;
    /// `udmabuf`; `ion`).
    pub exp_name: Option<String>,
    /// dma-buf `name:` set by [`set_name`].
    pub name: Option<String>,
}

impl FdInfo {
    /// Reads this process's fdinfo for `fd`.
    ///
    /// # Errors
    ///
    /// I/O errors reading `/proc/self/fdinfo/<fd>`.
    pub fn read(fd: BorrowedFd<'_>) -> io::Result<Self> {
        Ok(Self::parse(&fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))?))
    }

    /// Reads `/proc/<pid>/fdinfo/<fd_num>` (needs ptrace-read access to `pid` on 5.14+).
    ///
    /// # Errors
    ///
    /// I/O errors (NotFound when the fd or process is gone).
    pub fn read_pid(pid: u32, fd_num: RawFd) -> io::Result<Self> {
        Ok(Self::parse(&fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd_num}"))?))
    }

    /// Parses fdinfo text; unknown keys are ignored.
    pub fn parse(text: &str) -> Self {
        let mut info = Self::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match key.trim() {
                "pos" => info.pos = value.parse().ok(),
                "flags" => info.flags = u32::from_str_radix(value, 8).ok(),
                "mnt_id" => info.mnt_id = value.parse().ok(),
                "ino" => info.ino = value.parse().ok(),
                "size" => info.size = value.parse().ok(),
                "count" => info.count = value.parse().ok(),
                "exp_name" => info.exp_name = Some(value.to_owned()),
                "name" => info.name = Some(value.to_owned()),
                _ => {}
            }
        }
        info
    }

    /// Whether the fd is close-on-exec (`O_CLOEXEC` in `flags`).
    pub fn is_cloexec(&self) -> bool {
        let cloexec = u32::try_from(libc::O_CLOEXEC).unwrap_or(0);
        self.flags.is_some_and(|flags| flags & cloexec != 0)
    }

    /// Whether the fd is a dma-buf (fdinfo has `exp_name`).
    pub fn is_dmabuf(&self) -> bool {
        self.exp_name.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn fdinfo_of_a_dmabuf_parses_every_field() {
        let text =
            "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1234\nsize:\t1048576\ncount:\t1\n\
                    exp_name:\tsystem\nname:\tgralloc-buf\n";
        let info = FdInfo::parse(text);
        assert_eq!(
            info,
            FdInfo {
                pos: Some(0),
                flags: Some(0o2000002),
                mnt_id: Some(15),
                ino: Some(1234),
                size: Some(1 << 20),
                count: Some(1),
                exp_name: Some("system".into()),
                name: Some("gralloc-buf".into()),
            }
        );
        assert!(info.is_cloexec() && info.is_dmabuf());
    }

    #[test]
    fn fdinfo_without_cloexec_or_exporter() {
        let info =
            FdInfo::parse("pos:\t0\nflags:\t0100002\nmnt_id:\t1\nino:\t9\ngarbage line\nsize: x\n");
        assert!(!info.is_cloexec());
        assert!(!info.is_dmabuf());
        assert_eq!(info.size, None);
    }

    #[test]
    fn fdinfo_of_own_fd_reads_flags() {
        let file = tempfile::tempfile().unwrap();
        let info = FdInfo::read(file.as_fd()).unwrap();
        assert!(info.is_cloexec(), "std opens files O_CLOEXEC");
        assert_eq!(info.pos, Some(0));
    }
}
