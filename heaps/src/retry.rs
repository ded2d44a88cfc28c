//! Bounded EINTR retry and page rounding shared by the back ends.

use std::sync::OnceLock;

use nix::errno::Errno;
use nix::unistd::{sysconf, SysconfVar};

/// How many times a back end re-issues a call interrupted by a signal (EINTR) before
/// giving up with that EINTR; the call is attempted at most `EINTR_RETRY_LIMIT + 1` times.
pub const EINTR_RETRY_LIMIT: u32 = 8;

/// Runs `call`, re-running it on EINTR at most [`EINTR_RETRY_LIMIT`] times.
pub(crate) fn retry_eintr<T>(mut call: impl FnMut() -> nix::Result<T>) -> nix::Result<T> {
    let mut retries = 0;
    loop {
        match call() {
            Err(Errno::EINTR) if retries < EINTR_RETRY_LIMIT => retries += 1,
            result => return result,
        }
    }
}

const FALLBACK_PAGE_SIZE: u64 = 4096;

pub(crate) fn page_size() -> u64 {
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(|| match sysconf(SysconfVar::PAGE_SIZE) {
        Ok(Some(size)) => {
            u64::try_from(size).ok().filter(|s| s.is_power_of_two()).unwrap_or(FALLBACK_PAGE_SIZE)
        }
        _ => FALLBACK_PAGE_SIZE,
    })
}

/// `len` rounded up to a page multiple, or `None` on overflow.
pub(crate) fn page_round(len: u64) -> Option<u64> {
    let mask = page_size().checked_sub(1)?;
    len.checked_add(mask).map(|l| l & !mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eintr_is_retried_a_bounded_number_of_times() {
        let mut calls = 0;
        let result: nix::Result<()> = retry_eintr(|| {
            calls += 1;
            Err(Errno::EINTR)
        });
        assert_eq!(result, Err(Errno::EINTR));
        assert_eq!(calls, EINTR_RETRY_LIMIT + 1);
    }

    #[test]
    fn other_errors_are_not_retried() {
        let mut calls = 0;
        let result: nix::Result<()> = retry_eintr(|| {
            calls += 1;
            Err(Errno::ENOMEM)
        });
        assert_eq!((result, calls), (Err(Errno::ENOMEM), 1));
    }

    #[test]
    fn page_round_rounds_up_and_detects_overflow() {
        let page = page_size();
        assert_eq!(page_round(1), Some(page));
        assert_eq!(page_round(page), Some(page));
        assert_eq!(page_round(page + 1), Some(2 * page));
        assert_eq!(page_round(u64::MAX), None);
    }
}
