//! Exact set algebra over requests, for the load-time checks (shadowed rules, where PROTECTED
//! or CPU usage can end up).
//!
//! A request is (usage flag bits, CPU (read, write) pair, format, width, height). A [`Cube`]
//! fixes some flag bits to 1 or 0 and restricts each other dimension to a set or interval; a
//! rule's match set is a union of disjoint cubes (`any = [a, b]` becomes "a" ∪ "b and not
//! a"). Subtracting a cube from a cube leaves at most one piece per constrained dimension, so
//! "what rule j can still receive after rules 0..j" is computed exactly.

use hal_interface::format::Format;
use hal_interface::usage::bits;

use crate::error::ConfigErrorKind;
use crate::rule::{format_bit, Match, ALL_CPU_PAIRS};

/// Upper bound on the number of cubes in one set; beyond it the board is refused as too
/// complex rather than risking a slow start-up.
pub(crate) const MAX_CUBES: usize = 4096;

/// The flag bits a request can carry: standard flags (CPU fields excluded, they are the
/// `cpu` dimension) plus the vendor bits the board claims.
pub(crate) fn flag_universe(claimed_vendor: u64) -> u64 {
    (bits::STANDARD & !(bits::CPU_READ_MASK | bits::CPU_WRITE_MASK)) | claimed_vendor
}

/// Every format a valid request can name (all V5 formats but UNSPECIFIED).
pub(crate) fn format_universe() -> u128 {
    Format::ALL.iter().filter(|f| **f != Format::Unspecified).fold(0, |acc, f| acc | format_bit(*f))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cube {
    ones: u64,
    zeros: u64,
    cpu: u16,
    formats: u128,
    width: (u32, u32),
    height: (u32, u32),
}

impl Cube {
    /// All valid requests of a board.
    pub fn universe(claimed_vendor: u64) -> Cube {
        Cube {
            ones: 0,
            zeros: !flag_universe(claimed_vendor),
            cpu: ALL_CPU_PAIRS,
            formats: format_universe(),
            width: (1, u32::MAX),
            height: (1, u32::MAX),
        }
    }

    /// Requests with all of `bits` set.
    pub fn with_bits(mut self, bits: u64) -> Cube {
        self.ones |= bits;
        self
    }

    /// Requests whose CPU pair is in `pairs`.
    pub fn with_cpu(mut self, pairs: u16) -> Cube {
        self.cpu &= pairs;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.ones & self.zeros != 0
            || self.cpu == 0
            || self.formats == 0
            || self.width.0 > self.width.1
            || self.height.0 > self.height.1
    }

    pub fn intersect(&self, other: &Cube) -> Cube {
        Cube {
            ones: self.ones | other.ones,
            zeros: self.zeros | other.zeros,
            cpu: self.cpu & other.cpu,
            formats: self.formats & other.formats,
            width: (self.width.0.max(other.width.0), self.width.1.min(other.width.1)),
            height: (self.height.0.max(other.height.0), self.height.1.min(other.height.1)),
        }
    }

    /// Pushes `self \ other` as disjoint non-empty cubes.
    fn subtract_into(&self, other: &Cube, out: &mut Vec<Cube>) {
        if self.intersect(other).is_empty() {
            out.push(*self);
            return;
        }
        let mut rest = *self;
        for bit in set_bits(other.ones & !rest.ones) {
            out.push(Cube { zeros: rest.zeros | bit, ..rest });
            rest.ones |= bit;
        }
        for bit in set_bits(other.zeros & !rest.zeros) {
            out.push(Cube { ones: rest.ones | bit, ..rest });
            rest.zeros |= bit;
        }
        let cpu_outside = rest.cpu & !other.cpu;
        if cpu_outside != 0 {
            out.push(Cube { cpu: cpu_outside, ..rest });
            rest.cpu &= other.cpu;
        }
        let formats_outside = rest.formats & !other.formats;
        if formats_outside != 0 {
            out.push(Cube { formats: formats_outside, ..rest });
            rest.formats &= other.formats;
        }
        for piece in interval_outside(rest.width, other.width).into_iter().flatten() {
            out.push(Cube { width: piece, ..rest });
        }
        rest.width = (rest.width.0.max(other.width.0), rest.width.1.min(other.width.1));
        for piece in interval_outside(rest.height, other.height).into_iter().flatten() {
            out.push(Cube { height: piece, ..rest });
        }
        // What remains lies inside `other` and is dropped.
    }
}

/// The parts of `outer` below and above `inner` (which intersects `outer`).
fn interval_outside(outer: (u32, u32), inner: (u32, u32)) -> [Option<(u32, u32)>; 2] {
    let below = (outer.0 < inner.0).then(|| (outer.0, inner.0.saturating_sub(1)));
    let above = (outer.1 > inner.1).then(|| (inner.1.saturating_add(1), outer.1));
    [below, above]
}

fn set_bits(mut mask: u64) -> impl Iterator<Item = u64> {
    std::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let bit = mask & mask.wrapping_neg();
        mask &= !bit;
        Some(bit)
    })
}

/// A union of disjoint cubes.
#[derive(Clone, Debug, Default)]
pub(crate) struct CubeSet(Vec<Cube>);

impl CubeSet {
    /// The requests a rule's conditions accept, within `universe`.
    pub fn of_match(matcher: &Match, universe: &Cube) -> CubeSet {
        let base = Cube {
            ones: matcher.all,
            zeros: matcher.none,
            cpu: matcher.cpu.map_or(ALL_CPU_PAIRS, |c| c.pairs),
            formats: matcher.formats.map_or(u128::MAX, |f| f.0),
            width: matcher.width,
            height: matcher.height,
        }
        .intersect(universe);
        let mut cubes = Vec::new();
        if matcher.any == 0 {
            cubes.push(base);
        } else {
            // any = [a, b, c] → a | (b & !a) | (c & !a & !b): disjoint pieces.
            let mut earlier = 0u64;
            for bit in set_bits(matcher.any) {
                cubes.push(Cube { ones: base.ones | bit, zeros: base.zeros | earlier, ..base });
                earlier |= bit;
            }
        }
        cubes.retain(|c| !c.is_empty());
        CubeSet(cubes)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `self \ other`.
    pub fn subtract(&self, other: &CubeSet) -> Result<CubeSet, ConfigErrorKind> {
        let mut current = self.0.clone();
        for cut in &other.0 {
            let mut next = Vec::with_capacity(current.len());
            for cube in &current {
                cube.subtract_into(cut, &mut next);
            }
            next.retain(|c| !c.is_empty());
            if next.len() > MAX_CUBES {
                return Err(ConfigErrorKind::TooComplex(MAX_CUBES));
            }
            current = next;
            if current.is_empty() {
                break;
            }
        }
        Ok(CubeSet(current))
    }

    /// Whether no request is in both sets.
    pub fn disjoint(&self, other: &CubeSet) -> bool {
        !other.0.iter().any(|cube| self.intersects(cube))
    }

    /// Whether some request is in both `self` and `cube`.
    pub fn intersects(&self, cube: &Cube) -> bool {
        self.0.iter().any(|c| !c.intersect(cube).is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{CpuMatch, CpuMode, CpuSet, FormatSet};

    fn everything() -> Match {
        Match::EVERYTHING
    }

    fn set(m: &Match) -> CubeSet {
        CubeSet::of_match(m, &Cube::universe(0))
    }

    #[test]
    fn everything_minus_everything_is_empty() {
        let all = set(&everything());
        assert!(all.subtract(&all).unwrap().is_empty());
    }

    #[test]
    fn complementary_rules_cover_everything() {
        let with = Match { all: bits::CAMERA_OUTPUT, ..everything() };
        let without = Match { none: bits::CAMERA_OUTPUT, ..everything() };
        let rest = set(&everything()).subtract(&set(&with)).unwrap();
        assert!(!rest.is_empty());
        assert!(rest.subtract(&set(&without)).unwrap().is_empty());
    }

    #[test]
    fn any_list_is_covered_by_its_members_together_only() {
        let any = Match { any: bits::CAMERA_OUTPUT | bits::CAMERA_INPUT, ..everything() };
        let out = Match { all: bits::CAMERA_OUTPUT, ..everything() };
        let inp = Match { all: bits::CAMERA_INPUT, ..everything() };
        let after_out = set(&any).subtract(&set(&out)).unwrap();
        assert!(!after_out.is_empty());
        assert!(after_out.subtract(&set(&inp)).unwrap().is_empty());
    }

    #[test]
    fn cpu_none_and_any_partition_the_cpu_dimension() {
        let none = CpuMatch::new(Some(CpuMode::None), CpuSet::ALL, CpuSet::ALL);
        let any = CpuMatch::new(Some(CpuMode::Any), CpuSet::ALL, CpuSet::ALL);
        let rest = set(&everything())
            .subtract(&set(&Match { cpu: Some(none), ..everything() }))
            .unwrap()
            .subtract(&set(&Match { cpu: Some(any), ..everything() }))
            .unwrap();
        assert!(rest.is_empty());
    }

    #[test]
    fn size_bounds_leave_the_outside_intervals() {
        let mid = Match { width: (100, 200), ..everything() };
        let rest = set(&everything()).subtract(&set(&mid)).unwrap();
        let small = Match { width: (0, 99), ..everything() };
        let large = Match { width: (201, u32::MAX), ..everything() };
        let rest = rest.subtract(&set(&small)).unwrap();
        assert!(!rest.is_empty());
        assert!(rest.subtract(&set(&large)).unwrap().is_empty());
    }

    #[test]
    fn format_list_leaves_other_formats() {
        let mut formats = FormatSet::empty();
        formats.insert(Format::Rgba8888);
        let rgba = Match { formats: Some(formats), ..everything() };
        let rest = set(&everything()).subtract(&set(&rgba)).unwrap();
        let rgba_cube = Cube::universe(0);
        assert!(rest.intersects(&rgba_cube));
        assert!(set(&rgba).subtract(&set(&everything())).unwrap().is_empty());
    }

    #[test]
    fn unclaimed_vendor_bits_are_outside_the_universe() {
        let vendor = Match { all: 1 << 28, ..everything() };
        assert!(set(&vendor).is_empty());
        assert!(!CubeSet::of_match(&vendor, &Cube::universe(1 << 28)).is_empty());
    }
}
