//! Checks between the rules of a board: a default rule, no dead rule, and where PROTECTED
//! and CPU usage can land given what earlier rules already took.

use hal_interface::usage::bits;

use crate::convert::{At, Ctx};
use crate::cubes::{Cube, CubeSet};
use crate::error::{ConfigError, ConfigErrorKind as Kind, Subject};
use crate::heap::HeapDecl;
use crate::rule::convert::Checked;
use crate::rule::{Action, Match, SOME_CPU_PAIRS};

/// Checks between rules: a default rule, no dead rule, and where PROTECTED and CPU usage can
/// land given what earlier rules already took.
pub(crate) fn cross_check(
    ctx: &Ctx<'_>,
    checked: &[Checked],
    heaps: &[HeapDecl],
    vendor_bits: u64,
) -> Result<(), ConfigError> {
    let universe = Cube::universe(vendor_bits);
    let sets: Vec<CubeSet> =
        checked.iter().map(|c| CubeSet::of_match(&c.rule.matcher, &universe)).collect();
    let subject = |index: usize, c: &Checked| Subject::Rule { index, name: c.rule.name.clone() };

    if let (Some(last), Some(last_set)) = (checked.last(), sets.last()) {
        let index = checked.len().saturating_sub(1);
        let everything = CubeSet::of_match(&Match::EVERYTHING, &universe);
        let missed = everything.subtract(last_set);
        let complete =
            missed.map_err(|k| ctx.error(Some(last.span.clone()), subject(index, last), k))?;
        if !complete.is_empty() {
            return Err(ctx.error(
                Some(last.span.clone()),
                subject(index, last),
                Kind::NoDefaultRule,
            ));
        }
    }

    let protected = universe.with_bits(bits::PROTECTED);
    let cpu_access = universe.with_cpu(SOME_CPU_PAIRS);
    for (index, (rule, own)) in checked.iter().zip(&sets).enumerate() {
        let at = At { ctx, subject: subject(index, rule) };
        if own.is_empty() {
            return Err(at.err(rule.span.clone(), Kind::Unsatisfiable));
        }
        let mut reach = own.clone();
        for earlier in sets.iter().take(index) {
            reach = reach.subtract(earlier).map_err(|k| at.err(rule.span.clone(), k))?;
        }
        if reach.is_empty() {
            let by = shadowing_rules(checked, &sets, index, own)
                .map_err(|k| at.err(rule.span.clone(), k))?;
            return Err(at.err(rule.span.clone(), Kind::Shadowed { by }));
        }
        let Action::Allocate { heaps: ids, .. } = &rule.rule.action else { continue };
        let gets_protected = reach.intersects(&protected);
        let gets_cpu = reach.intersects(&cpu_access);
        for (id, span) in ids.iter().zip(&rule.heap_spans) {
            let Some(heap) = heaps.get(id.index()) else { continue };
            let name = heap.name.clone();
            let kind = if gets_protected && !heap.props.protected {
                Kind::ProtectedToUnprotectedHeap { heap: name }
            } else if gets_cpu && heap.props.protected {
                Kind::CpuToProtectedHeap { heap: name }
            } else if gets_cpu && !heap.props.zeroed {
                Kind::CpuToUnzeroedHeap { heap: name }
            } else {
                continue;
            };
            return Err(at.err(span.clone(), kind));
        }
    }
    Ok(())
}

/// Names the earlier rules that leave rule `index` nothing: the first one that covers it
/// alone, else every earlier rule that overlaps it.
fn shadowing_rules(
    checked: &[Checked],
    sets: &[CubeSet],
    index: usize,
    own: &CubeSet,
) -> Result<String, Kind> {
    let describe = |i: usize| {
        let name = checked.get(i).map_or("", |c| c.rule.name.as_str());
        format!("rules[{i}] {name:?}")
    };
    for (i, earlier) in sets.iter().enumerate().take(index) {
        if own.subtract(earlier)?.is_empty() {
            return Ok(describe(i));
        }
    }
    // No single rule covers it: start from every overlapping rule, then drop each one the
    // others cover without, so the message names a minimal set.
    let mut cover: Vec<usize> =
        (0..index).filter(|i| sets.get(*i).is_some_and(|s| !own.disjoint(s))).collect();
    let mut k = 0;
    while k < cover.len() {
        let mut rest = own.clone();
        for (j, i) in cover.iter().enumerate() {
            if j != k {
                if let Some(set) = sets.get(*i) {
                    rest = rest.subtract(set)?;
                }
            }
        }
        if rest.is_empty() {
            cover.remove(k);
        } else {
            k += 1;
        }
    }
    let overlapping: Vec<String> = cover.into_iter().map(describe).collect();
    Ok(overlapping.join(" and "))
}
