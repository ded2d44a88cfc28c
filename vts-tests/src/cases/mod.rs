//! The registry of conformance cases, one module per area. Names are `area.behaviour`, so
//! `--filter 'bad_input.*'` selects an area. The mapper stable-C area lives in
//! [`crate::mapper_stablec`] and runs after the allocator areas.

pub mod aidl;
pub mod bad_input;
pub mod concurrency;
pub mod cpu;
pub mod formats;
pub mod mapper;
pub mod planes;
pub mod region;
pub mod routing;

use crate::runner::Case;

/// Every case, in run order: interface first, hostile input and concurrency late, the
/// health check last.
pub fn all() -> Vec<Case> {
    let areas: [&[Case]; 9] = [
        aidl::CASES,
        mapper::CASES,
        formats::CASES,
        cpu::CASES,
        planes::CASES,
        region::CASES,
        routing::CASES,
        bad_input::CASES,
        concurrency::CASES,
    ];
    let mut cases: Vec<Case> = areas.into_iter().flatten().copied().collect();
    cases.extend(crate::mapper_stablec::cases());
    cases.push(concurrency::HEALTH);
    cases
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_are_unique_and_area_prefixed() {
        let cases = all();
        let names: HashSet<&str> = cases.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), cases.len());
        for name in names {
            let (area, behaviour) = name.split_once('.').unwrap();
            assert!(!area.is_empty() && !behaviour.is_empty(), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c)),
                "{name}"
            );
        }
    }

    #[test]
    fn health_check_runs_last() {
        assert_eq!(all().last().map(|c| c.name), Some(concurrency::HEALTH.name));
    }
}
