//! The case registry type and the runner that prints gtest-like lines.
//!
//! Output, one block per selected case:
//!
//! ```text
//! [ RUN      ] aidl.can_allocate
//!     (indented notes the case printed)
//! [       OK ] aidl.can_allocate (3 ms)
//! [  FAILED  ] formats.stride_at_least_width: YV12 100x50: stride 64 < width 100
//! [  SKIPPED ] routing.each_usage_class_lands_on_its_rule_heap: no --board given
//! ```
//!
//! and finally the line `N passed, N failed` (plus `, N skipped` when any case skipped), which
//! the VM harness and CI grep for. After every case the runner checks the "nothing lost" rule
//! (the "nothing lost" rule): the client and, when its pid is known, the service hold no more
//! fds than before the case, and the service process is still the same one.

use std::fmt;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::ctx::Ctx;
use crate::glob::Filter;

/// Why a case stopped before passing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The service broke a rule; the text says which and with what values.
    Failed(String),
    /// The case cannot run here (no board file, optional format unsupported, ...).
    Skipped(String),
}

impl Stop {
    /// A failure with this reason.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self::Failed(reason.into())
    }

    /// A skip with this reason.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self::Skipped(reason.into())
    }

    /// The reason text.
    pub fn reason(&self) -> &str {
        match self {
            Self::Failed(r) | Self::Skipped(r) => r,
        }
    }

    /// Prefixes the reason with what the case was doing.
    #[must_use]
    pub fn context(self, what: impl fmt::Display) -> Self {
        match self {
            Self::Failed(r) => Self::Failed(format!("{what}: {r}")),
            Self::Skipped(r) => Self::Skipped(format!("{what}: {r}")),
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// What a case returns: `Ok(())` when it passed.
pub type Outcome = Result<(), Stop>;

/// One conformance case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// `area.behaviour_in_snake_case`; what `--filter` matches.
    pub name: &'static str,
    /// The body; it talks to the service only through the [`Ctx`].
    pub run: fn(&Ctx) -> Outcome,
}

/// The result of one case as the runner saw it (after the nothing-lost check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// The case name.
    pub name: &'static str,
    /// Pass, failure or skip.
    pub outcome: Outcome,
    /// Wall time of the body.
    pub elapsed: Duration,
}

/// Totals of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Every case that ran, in order.
    pub reports: Vec<CaseReport>,
}

impl Summary {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.reports.iter().filter(|r| r.outcome.is_ok()).count()
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.reports.iter().filter(|r| matches!(r.outcome, Err(Stop::Failed(_)))).count()
    }

    /// Cases that skipped.
    pub fn skipped(&self) -> usize {
        self.reports.iter().filter(|r| matches!(r.outcome, Err(Stop::Skipped(_)))).count()
    }

    /// The report of the case called `name`, if it ran.
    pub fn report(&self, name: &str) -> Option<&CaseReport> {
        self.reports.iter().find(|r| r.name == name)
    }

    /// The final line: `N passed, N failed` and `, N skipped` when any skipped.
    pub fn line(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed(), self.failed());
        if self.skipped() > 0 {
            line.push_str(&format!(", {} skipped", self.skipped()));
        }
        line
    }
}

/// Runs every case of `cases` that `filter` selects, printing through the context's output.
///
/// # Errors
/// Only when writing the output fails.
pub fn run(ctx: &Ctx, cases: &[Case], filter: &Filter) -> io::Result<Summary> {
    let selected: Vec<&Case> = cases.iter().filter(|c| filter.matches(c.name)).collect();
    ctx.line(&format!(
        "[==========] {} of {} cases against {} ({})",
        selected.len(),
        cases.len(),
        ctx.endpoint(),
        ctx.service_description()
    ))?;
    ctx.line(&format!("[==========] {}", ctx.mapper_state().description()))?;
    let started = Instant::now();
    let mut summary = Summary::default();
    for case in selected {
        ctx.line(&format!("[ RUN      ] {}", case.name))?;
        let report = run_one(ctx, case);
        let line = match &report.outcome {
            Ok(()) => format!("[       OK ] {} ({} ms)", case.name, report.elapsed.as_millis()),
            Err(Stop::Failed(reason)) => {
                format!("[  FAILED  ] {}: {}", case.name, one_line(reason))
            }
            Err(Stop::Skipped(reason)) => {
                format!("[  SKIPPED ] {}: {}", case.name, one_line(reason))
            }
        };
        ctx.line(&line)?;
        summary.reports.push(report);
    }
    ctx.line(&format!(
        "[==========] {} cases ran ({} ms)",
        summary.reports.len(),
        started.elapsed().as_millis()
    ))?;
    ctx.line(&summary.line())?;
    Ok(summary)
}

fn run_one(ctx: &Ctx, case: &Case) -> CaseReport {
    let before = ctx.ledger();
    let started = Instant::now();
    let body = panic::catch_unwind(AssertUnwindSafe(|| (case.run)(ctx)));
    let elapsed = started.elapsed();
    let mut outcome = match body {
        Ok(outcome) => outcome,
        Err(payload) => Err(Stop::failed(format!("case panicked: {}", panic_text(&payload)))),
    };
    if let Err(lost) = ctx.check_nothing_lost(&before) {
        let lost = format!("nothing-lost rule broken: {lost}");
        outcome = match outcome {
            Ok(()) | Err(Stop::Skipped(_)) => Err(Stop::Failed(lost)),
            Err(Stop::Failed(reason)) => Err(Stop::Failed(format!("{reason}; {lost}"))),
        };
    }
    CaseReport { name: case.name, outcome, elapsed }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Keeps a reason on the case's single result line.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Writes one line and flushes, so a hung case still shows where it hung.
pub(crate) fn write_line(out: &mut dyn Write, line: &str) -> io::Result<()> {
    writeln!(out, "{line}")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(name: &'static str, outcome: Outcome) -> CaseReport {
        CaseReport { name, outcome, elapsed: Duration::ZERO }
    }

    #[test]
    fn summary_line_mentions_skips_only_when_there_are_some() {
        let mut summary =
            Summary { reports: vec![report("a", Ok(())), report("b", Err(Stop::failed("x")))] };
        assert_eq!(summary.line(), "1 passed, 1 failed");
        summary.reports.push(report("c", Err(Stop::skipped("y"))));
        assert_eq!(summary.line(), "1 passed, 1 failed, 1 skipped");
    }

    #[test]
    fn multi_line_reasons_are_folded_onto_one_line() {
        assert_eq!(one_line("first\n  second\r\n"), "first | second");
    }
}
