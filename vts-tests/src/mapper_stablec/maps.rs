//! `/proc/self/maps` checks for pointers a mapper hands back.

use std::fs;

/// One line of `/proc/self/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// First address.
    pub start: usize,
    /// One past the last address.
    pub end: usize,
    /// `rwxp` flags.
    pub perms: String,
    /// Inode of the mapped file (0 for anonymous memory).
    pub inode: u64,
}

/// Parses one maps line: `start-end perms offset dev inode [path]`.
pub fn parse_line(line: &str) -> Option<Region> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?.to_owned();
    let _offset = fields.next()?;
    let _dev = fields.next()?;
    let inode = fields.next()?.parse().ok()?;
    Some(Region {
        start: usize::from_str_radix(start, 16).ok()?,
        end: usize::from_str_radix(end, 16).ok()?,
        perms,
        inode,
    })
}

/// Checks that `[base, base + len)` is covered by consecutive mappings of `inode` with read
/// (and write) permission, in `regions`.
///
/// # Errors
/// What is wrong with the range.
pub fn check_in(
    regions: &[Region],
    base: usize,
    len: usize,
    inode: u64,
    writable: bool,
) -> Result<(), String> {
    let end = base.checked_add(len).ok_or_else(|| format!("{base:#x} + {len} overflows"))?;
    let mut at = base;
    while at < end {
        let Some(region) = regions.iter().find(|r| r.start <= at && at < r.end) else {
            return Err(format!(
                "lock data {base:#x}..{end:#x}: address {at:#x} is not mapped in this process"
            ));
        };
        if region.inode != inode {
            return Err(format!(
                "lock data {base:#x}..{end:#x}: address {at:#x} maps inode {}, not the buffer's \
                 inode {inode}",
                region.inode
            ));
        }
        let perms = region.perms.as_bytes();
        if perms.first() != Some(&b'r') || (writable && perms.get(1) != Some(&b'w')) {
            return Err(format!(
                "lock data {base:#x}..{end:#x}: mapping {:#x}..{:#x} is {}, needs {}",
                region.start,
                region.end,
                region.perms,
                if writable { "rw" } else { "r" }
            ));
        }
        at = region.end;
    }
    Ok(())
}

/// [`check_in`] against this process's current maps.
///
/// # Errors
/// What is wrong with the range, or maps unreadable.
pub fn check_range(base: usize, len: usize, inode: u64, writable: bool) -> Result<(), String> {
    let text = fs::read_to_string("/proc/self/maps")
        .map_err(|e| format!("reading /proc/self/maps: {e}"))?;
    let regions: Vec<Region> = text.lines().filter_map(parse_line).collect();
    check_in(&regions, base, len, inode, writable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> Vec<Region> {
        [
            "7f0000000000-7f0000002000 rw-s 00000000 00:01 42 /memfd:buf (deleted)",
            "7f0000002000-7f0000003000 r--s 00002000 00:01 42 /memfd:buf (deleted)",
            "7f0000003000-7f0000004000 rw-p 00000000 00:00 0",
        ]
        .iter()
        .filter_map(|l| parse_line(l))
        .collect()
    }

    #[test]
    fn lines_parse() {
        let r = regions();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].start, 0x7f00_0000_0000);
        assert_eq!(r[0].inode, 42);
        assert_eq!(r[2].inode, 0);
    }

    #[test]
    fn ranges_inside_the_buffer_pass_and_others_fail() {
        let r = regions();
        assert!(check_in(&r, 0x7f00_0000_0000, 0x2000, 42, true).is_ok());
        assert!(check_in(&r, 0x7f00_0000_1000, 0x2000, 42, false).is_ok());
        let err = check_in(&r, 0x7f00_0000_1000, 0x2000, 42, true).unwrap_err();
        assert!(err.contains("needs rw"), "{err}");
        let err = check_in(&r, 0x7f00_0000_2000, 0x2000, 42, false).unwrap_err();
        assert!(err.contains("inode 0"), "{err}");
        let err = check_in(&r, 0x1000, 1, 42, false).unwrap_err();
        assert!(err.contains("not mapped"), "{err}");
        assert!(check_in(&r, 0x7f00_0000_0000, 0x2000, 43, false).is_err());
    }

    #[test]
    fn locked_memory_accepts_only_a_mapping_of_the_buffer_inode() {
        use std::os::fd::AsFd;

        use crate::mapper_stablec::LockedMemory;

        let file = tempfile::tempfile().unwrap();
        file.set_len(8192).unwrap();
        let inode = heaps::dmabuf::inode(file.as_fd()).unwrap();
        let mapping = heaps::dmabuf::Mapping::new(file.as_fd(), 8192, true).unwrap();
        let base = mapping.as_ptr() as usize;
        let mem = LockedMemory::new(base, 8192, inode, true).unwrap();
        assert!(mem.write(8191, 7));
        assert_eq!(mem.read(8191), Some(7));
        assert_eq!(mem.read(8192), None);
        assert!(!mem.write(8192, 1));
        assert!(LockedMemory::new(base, 8192, inode + 1, false).is_err());
        assert!(LockedMemory::new(base, 8192 + 4096, inode, false).is_err());
        assert!(LockedMemory::new(0, 1, inode, false).is_err());
        let heap = Box::new([0u8; 64]);
        assert!(LockedMemory::new(heap.as_ptr() as usize, 64, inode, false).is_err());
        let read_only = LockedMemory::new(base, 16, inode, false).unwrap();
        assert!(!read_only.write(0, 1), "a read-only view refuses writes");
    }
}
