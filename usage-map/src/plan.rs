//! What the resolver answers: a [`Plan`] (where to allocate) or a [`Refusal`], and the
//! start-up [`Availability`] of each rule's heaps.

use std::fmt;

use thiserror::Error;

use crate::heap::{HeapDecl, HeapId};
use crate::rule::{Alignment, RuleRef};

/// The heaps of a plan, in probe order. Resolved through
/// [`crate::UsageMap::resolve_available`], absent heaps are already left out.
#[derive(Clone, Copy, Debug)]
pub struct PlanHeaps<'a> {
    pub(crate) ids: &'a [HeapId],
    pub(crate) decls: &'a [HeapDecl],
    pub(crate) present: u64,
}

impl<'a> PlanHeaps<'a> {
    /// The heaps in probe order (present ones only, when availability was applied).
    pub fn iter(&self) -> impl Iterator<Item = &'a HeapDecl> + 'a {
        let (ids, decls, present) = (self.ids, self.decls, self.present);
        ids.iter()
            .filter(move |id| present & id.bit() != 0)
            .filter_map(move |id| decls.get(id.index()))
    }

    /// Their ids, in the same order as [`Self::iter`].
    pub fn ids(&self) -> impl Iterator<Item = HeapId> + 'a {
        self.iter().map(|decl| decl.id)
    }

    /// The rule's list as written, present or not.
    pub fn listed(&self) -> &'a [HeapId] {
        self.ids
    }

    /// The first heap to try.
    pub fn first(&self) -> Option<&'a HeapDecl> {
        self.iter().next()
    }

    /// Number of heaps in [`Self::iter`].
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether [`Self::iter`] is empty.
    pub fn is_empty(&self) -> bool {
        self.first().is_none()
    }
}

/// Where to allocate a request.
///
/// Semantics of `heaps` and `fallback`: `heaps` lists alternatives in preference order. A heap
/// that is absent at start-up is skipped (never tried). The first remaining heap is tried;
/// when it is exhausted (ENOMEM, EBUSY) and `fallback` is true the next remaining heap is
/// tried, and so on. Without `fallback` only the first remaining heap is tried, and its
/// exhaustion fails the request (NO_RESOURCES). Any other error stops at once.
/// [`Plan::attempts`] yields exactly the heaps to try.
#[derive(Clone, Copy, Debug)]
pub struct Plan<'a> {
    /// The rule that matched.
    pub rule: RuleRef<'a>,
    /// Heaps in probe order.
    pub heaps: PlanHeaps<'a>,
    /// Whether exhaustion of one heap moves on to the next.
    pub fallback: bool,
    /// Alignment to apply in the layout.
    pub align: Alignment,
}

impl<'a> Plan<'a> {
    /// The heaps to try, in order: all of them with fallback, else only the first.
    pub fn attempts(&self) -> impl Iterator<Item = &'a HeapDecl> + 'a {
        let limit = if self.fallback { usize::MAX } else { 1 };
        self.heaps.iter().take(limit)
    }
}

impl fmt::Display for Plan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: heaps [", self.rule)?;
        for (i, heap) in self.heaps.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(&heap.name)?;
        }
        let fallback = if self.fallback { "fallback" } else { "no fallback" };
        write!(f, "], {fallback}, align {}", self.align)
    }
}

/// Why a request gets no plan. Every variant means UNSUPPORTED (`isSupported` false).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum Refusal<'a> {
    /// No rule matched. A loaded map always has a default rule, so this only happens with
    /// a map built by other means.
    #[error("no rule matches")]
    NoRule,
    /// The matching rule is a `reject` rule.
    #[error("{rule} rejects the request: {reason}")]
    Rejected {
        /// The rule.
        rule: RuleRef<'a>,
        /// Its `reject` reason.
        reason: &'a str,
    },
    /// The matching rule's heaps are all absent on this device.
    #[error("{rule}: none of its heaps is present on this device")]
    NoHeapPresent {
        /// The rule.
        rule: RuleRef<'a>,
    },
}

impl Refusal<'_> {
    /// The rule concerned, if any.
    pub fn rule(&self) -> Option<RuleRef<'_>> {
        match self {
            Self::NoRule => None,
            Self::Rejected { rule, .. } | Self::NoHeapPresent { rule } => Some(*rule),
        }
    }
}

/// Start-up availability of one rule's heaps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleAvailability {
    /// Position of the rule.
    pub index: usize,
    /// The rule's name.
    pub name: String,
    /// Listed heaps that are present, in probe order.
    pub present: Vec<String>,
    /// Listed heaps that are absent.
    pub absent: Vec<String>,
    /// Whether the rule is a `reject` rule (it lists no heaps).
    pub rejects: bool,
}

impl RuleAvailability {
    /// Whether the rule can allocate: it has at least one present heap.
    pub fn usable(&self) -> bool {
        !self.rejects && !self.present.is_empty()
    }
}

/// Which declared heaps are present on this device, and what that means for each rule.
/// Built once at start-up by [`crate::UsageMap::check_available`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Availability {
    pub(crate) present: u64,
    pub(crate) rules: Vec<RuleAvailability>,
}

impl Availability {
    /// Whether the heap was found.
    pub fn is_present(&self, id: HeapId) -> bool {
        self.present & id.bit() != 0
    }

    /// Whether rule `index` can allocate (an allocating rule with a present heap). `reject`
    /// rules and unknown indices are not usable.
    pub fn rule_usable(&self, index: usize) -> bool {
        self.rules.get(index).is_some_and(RuleAvailability::usable)
    }

    /// Per rule, in priority order.
    pub fn rules(&self) -> &[RuleAvailability] {
        &self.rules
    }

    /// Allocating rules whose heaps are all absent: their requests are refused
    /// (`isSupported` false). Log these at start-up.
    pub fn unusable_rules(&self) -> impl Iterator<Item = &RuleAvailability> {
        self.rules.iter().filter(|r| !r.rejects && r.present.is_empty())
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for rule in &self.rules {
            write!(f, "rules[{}] {:?}: ", rule.index, rule.name)?;
            if rule.rejects {
                writeln!(f, "rejects (no heaps)")?;
                continue;
            }
            if rule.present.is_empty() {
                write!(f, "UNUSABLE, no heap present")?;
            } else {
                write!(f, "uses [{}]", rule.present.join(", "))?;
            }
            if !rule.absent.is_empty() {
                write!(f, "; absent [{}]", rule.absent.join(", "))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
