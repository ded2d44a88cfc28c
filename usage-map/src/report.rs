//! Human-readable output for `gralloc board check` and `gralloc board explain`. These
//! functions allocate freely; none of them is on the allocation path.

use std::fmt::{self, Write as _};

use hal_interface::format::Format;
use hal_interface::usage::Usage;
use thiserror::Error;

use crate::plan::{Plan, Refusal};
use crate::rule::{Action, Mismatch, RuleRef};
use crate::UsageMap;

/// An earlier rule that did not match, and every reason why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedRule<'a> {
    /// The rule.
    pub rule: RuleRef<'a>,
    /// Why it did not match (never empty).
    pub reasons: Vec<Mismatch>,
}

/// The resolution of one request with the reasons behind it. `Display` prints the request,
/// each skipped rule with its reasons, then the chosen plan or the refusal.
#[derive(Clone, Debug)]
pub struct Explanation<'a> {
    /// The request's usage.
    pub usage: Usage,
    /// The request's format.
    pub format: Format,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Rules before the matching one, in order.
    pub skipped: Vec<SkippedRule<'a>>,
    /// What [`UsageMap::resolve`] answers.
    pub outcome: Result<Plan<'a>, Refusal<'a>>,
}

pub(crate) fn explain(
    map: &UsageMap,
    usage: Usage,
    format: Format,
    width: u32,
    height: u32,
) -> Explanation<'_> {
    let outcome = map.resolve(usage, format, width, height);
    let matched = match &outcome {
        Ok(plan) => plan.rule.index,
        Err(refusal) => refusal.rule().map_or(map.rules().len(), |r| r.index),
    };
    let skipped = map
        .rules()
        .iter()
        .enumerate()
        .take(matched)
        .map(|(index, rule)| SkippedRule {
            rule: RuleRef { index, name: rule.name() },
            reasons: rule.matcher().mismatches(usage, format, width, height),
        })
        .collect();
    Explanation { usage, format, width, height, skipped, outcome }
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "request: {} {} {}x{}", self.usage, self.format, self.width, self.height)?;
        for skipped in &self.skipped {
            let reasons: Vec<String> = skipped.reasons.iter().map(ToString::to_string).collect();
            writeln!(f, "  skip {}: {}", skipped.rule, reasons.join("; "))?;
        }
        match &self.outcome {
            Ok(plan) => writeln!(f, "=> {plan}"),
            Err(refusal) => writeln!(f, "=> refused: {refusal}"),
        }
    }
}

/// The summary `gralloc board check` prints for a valid board: board, heaps with kind and
/// properties, rules with their match and action, pools, limits.
pub fn check_report(map: &UsageMap) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_report(map, &mut out);
    out
}

fn write_report(map: &UsageMap, out: &mut String) -> fmt::Result {
    writeln!(
        out,
        "board {:?} from {} (mapper suffix {:?})",
        map.board_name(),
        map.origin(),
        map.mapper_suffix()
    )?;
    writeln!(out, "heaps:")?;
    for heap in map.heaps() {
        writeln!(out, "  {heap}")?;
    }
    writeln!(out, "rules (first match wins):")?;
    for (index, rule) in map.rules().iter().enumerate() {
        let what = match rule.action() {
            Action::Allocate { heaps, fallback } => {
                let names: Vec<&str> = heaps
                    .iter()
                    .filter_map(|id| map.heap_by_id(*id).map(|h| h.name.as_str()))
                    .collect();
                let fallback = if *fallback { "fallback" } else { "no fallback" };
                format!("[{}], {fallback}, align {}", names.join(", "), rule.alignment())
            }
            Action::Reject { reason } => format!("reject: {reason}"),
        };
        writeln!(
            out,
            "  [{index}] {:?} (line {}): {} => {what}",
            rule.name(),
            rule.line(),
            rule.matcher()
        )?;
    }
    if !map.pools().is_empty() {
        writeln!(out, "pools (filled at start-up, refilled in the background):")?;
    }
    for (index, pool) in map.pools().iter().enumerate() {
        let heap = map.heap_by_id(pool.heap()).map_or("", |h| h.name.as_str());
        writeln!(
            out,
            "  [{index}] {:?} (line {}): {} x {} from heap {heap}, refill below {}",
            pool.name(),
            pool.line(),
            pool.count(),
            pool.class(),
            pool.low_water()
        )?;
    }
    writeln!(out, "limits: {}", map.limits())?;
    match map.claimed_vendor_bits() {
        0 => writeln!(out, "vendor bits: none claimed"),
        bits => writeln!(out, "vendor bits: {bits:#x}"),
    }
}

/// A `WIDTHxHEIGHT` argument that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("size {text:?}: {reason} (expected WIDTHxHEIGHT, e.g. 1920x1080)")]
pub struct SizeError {
    /// The argument as given.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses `"1920x1080"` into (width, height) in pixels; both must be positive.
///
/// # Errors
/// [`SizeError`] when the text is not two positive integers separated by `x`.
pub fn parse_size(text: &str) -> Result<(u32, u32), SizeError> {
    let err = |reason| SizeError { text: text.to_owned(), reason };
    let (w, h) = text.trim().split_once(['x', 'X']).ok_or_else(|| err("no `x` separator"))?;
    let parse = |part: &str| part.trim().parse::<u32>().map_err(|_| err("not a 32-bit number"));
    let (w, h) = (parse(w)?, parse(h)?);
    if w == 0 || h == 0 {
        return Err(err("width and height must be positive"));
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_parses_width_by_height() {
        assert_eq!(parse_size("1920x1080"), Ok((1920, 1080)));
        assert_eq!(parse_size(" 64X32 "), Ok((64, 32)));
    }

    #[test]
    fn size_rejects_garbage_zero_and_overflow() {
        for bad in ["1920", "x", "0x10", "10x0", "-1x5", "4294967296x1", "axb"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
