//! `usage_map`: the per-board table from buffer usage to kernel heaps.
//!
//! A board file (TOML, schema v1, documented in this crate's `README.md`) declares the heaps a
//! board has (`[heaps.<name>]`), an ordered list of rules (`[[rules]]`, first match wins) from
//! (usage, format, size) to heaps, request caps (`[limits]`) and reserve pools (`[[pools]]`).
//! It is also a security policy: clients reach CMA and carveouts only through it.
//!
//! Loading is a two-step parse: private `Raw*` structs with `deny_unknown_fields` give the
//! shape, then one conversion builds the validated [`UsageMap`] and rejects every semantic
//! mistake (undeclared heap, shadowed rule, PROTECTED usage on a non-protected heap, ...)
//! with a [`ConfigError`] located by file, line and rule or heap.
//!
//! [`UsageMap::resolve`] is pure and allocation-free: bit tests over precomputed masks.
//!
//! Must never: open devices or touch any file other than the board file it is asked to load
//! ([`UsageMap::load`] is the only I/O), or know the `heaps` crate (the service joins heap
//! declarations to opened heaps by [`HeapId`]).
//!
//! Upstream references: `BufferUsage.aidl` and `PixelFormat.aidl` (graphics.common V5) through
//! [`hal_interface`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod convert;
mod cubes;
mod error;
mod heap;
mod limits;
mod plan;
mod pool;
mod raw;
mod report;
mod rule;

use std::path::Path;

use hal_interface::format::Format;
use hal_interface::usage::Usage;

pub use error::{ConfigError, ConfigErrorKind, Location, Subject};
pub use heap::{FakeBehaviour, FakeErrno, HeapBackend, HeapDecl, HeapId, HeapProps};
pub use limits::Limits;
pub use plan::{Availability, Plan, PlanHeaps, Refusal, RuleAvailability};
pub use pool::{Pool, PoolClass, MAX_POOLS, MAX_POOL_COUNT};
pub use report::{check_report, parse_size, Explanation, SizeError, SkippedRule};
pub use rule::{
    Action, Alignment, CpuMatch, CpuMode, CpuSet, Dimension, FormatSet, Match, Mismatch, Rule,
    RuleRef,
};

/// The only schema version this build reads.
pub const SCHEMA_VERSION: i64 = 1;

/// A validated board table. Immutable after loading; share it by reference.
#[derive(Clone, Debug)]
pub struct UsageMap {
    origin: String,
    board_name: String,
    mapper_suffix: String,
    metadata_heap: Option<String>,
    heaps: Vec<HeapDecl>,
    rules: Vec<Rule>,
    limits: Limits,
    vendor_bits: u64,
    pools: Vec<Pool>,
}

impl UsageMap {
    /// Reads and validates a board file. Errors name the path as given.
    ///
    /// # Errors
    /// [`ConfigErrorKind::Io`] when the file cannot be read, else as
    /// [`UsageMap::from_toml_str`].
    pub fn load(path: &Path) -> Result<UsageMap, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| {
            ConfigError::new(
                Location { origin: origin.clone(), line: None, subject: Subject::File },
                ConfigErrorKind::Io(err),
            )
        })?;
        Self::from_toml_str(&text, &origin)
    }

    /// Parses and validates board-file text. `origin` names the text in errors (a path).
    ///
    /// # Errors
    /// A [`ConfigError`] located by `origin`, line, and the rule or heap concerned.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<UsageMap, ConfigError> {
        convert::parse(text, origin)
    }

    /// Picks the rule for a request: the first rule whose conditions all hold. Pure, no
    /// I/O, no allocation. The caller has already checked the usage word (no reserved bits,
    /// defined CPU fields, only claimed vendor bits) and the limits.
    ///
    /// # Errors
    /// [`Refusal::Rejected`] when the matching rule is a `reject` rule, [`Refusal::NoRule`]
    /// when nothing matches (impossible for a loaded map: the last rule matches everything).
    pub fn resolve(
        &self,
        usage: Usage,
        format: Format,
        width: u32,
        height: u32,
    ) -> Result<Plan<'_>, Refusal<'_>> {
        self.resolve_masked(u64::MAX, usage, format, width, height)
    }

    /// [`UsageMap::resolve`] restricted to the heaps present on this device: the plan lists
    /// only present heaps, and a rule whose heaps are all absent refuses the request. This is
    /// what the service uses for both `allocate` and `isSupported`.
    ///
    /// # Errors
    /// As [`UsageMap::resolve`], plus [`Refusal::NoHeapPresent`].
    pub fn resolve_available(
        &self,
        availability: &Availability,
        usage: Usage,
        format: Format,
        width: u32,
        height: u32,
    ) -> Result<Plan<'_>, Refusal<'_>> {
        let plan = self.resolve_masked(availability.present, usage, format, width, height)?;
        if plan.heaps.is_empty() {
            return Err(Refusal::NoHeapPresent { rule: plan.rule });
        }
        Ok(plan)
    }

    fn resolve_masked(
        &self,
        present: u64,
        usage: Usage,
        format: Format,
        width: u32,
        height: u32,
    ) -> Result<Plan<'_>, Refusal<'_>> {
        // Retired gralloc0 bits route as if absent (`Usage::routing`).
        let usage = usage.routing();
        let (index, rule) = self
            .rules
            .iter()
            .enumerate()
            .find(|(_, rule)| rule.matcher.matches(usage, format, width, height))
            .ok_or(Refusal::NoRule)?;
        let rule_ref = RuleRef { index, name: &rule.name };
        match &rule.action {
            Action::Allocate { heaps, fallback } => Ok(Plan {
                rule: rule_ref,
                heaps: PlanHeaps { ids: heaps, decls: &self.heaps, present },
                fallback: *fallback,
                align: rule.align,
            }),
            Action::Reject { reason } => Err(Refusal::Rejected { rule: rule_ref, reason }),
        }
    }

    /// Like [`UsageMap::resolve`], and says for every earlier rule why it did not match.
    /// For `board explain`; allocates.
    pub fn explain(
        &self,
        usage: Usage,
        format: Format,
        width: u32,
        height: u32,
    ) -> Explanation<'_> {
        report::explain(self, usage.routing(), format, width, height)
    }

    /// Checks the declared heaps against the ones present on this device (`present` is asked
    /// once per heap) and reports, per rule, which of its heaps can be used.
    pub fn check_available(&self, present: impl Fn(&HeapDecl) -> bool) -> Availability {
        let mask = self.heaps.iter().filter(|h| present(h)).fold(0u64, |acc, h| acc | h.id.bit());
        let rules = self
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let (listed, rejects): (&[HeapId], bool) = match &rule.action {
                    Action::Allocate { heaps, .. } => (heaps, false),
                    Action::Reject { .. } => (&[], true),
                };
                let name_of = |id: &HeapId| {
                    self.heaps.get(id.index()).map(|h| h.name.clone()).unwrap_or_default()
                };
                let (present, absent): (Vec<&HeapId>, Vec<&HeapId>) =
                    listed.iter().partition(|id| mask & id.bit() != 0);
                RuleAvailability {
                    index,
                    name: rule.name.clone(),
                    present: present.into_iter().map(name_of).collect(),
                    absent: absent.into_iter().map(name_of).collect(),
                    rejects,
                }
            })
            .collect();
        Availability { present: mask, rules }
    }

    /// The name errors and reports use for the file (as given to `load`/`from_toml_str`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `[board] name`.
    pub fn board_name(&self) -> &str {
        &self.board_name
    }

    /// `[board] mapper_suffix`: what `getIMapperLibrarySuffix` returns (the mapper library is
    /// `mapper.<suffix>.so`).
    pub fn mapper_suffix(&self) -> &str {
        &self.mapper_suffix
    }

    /// `[board] metadata_heap`: the declared heap that serves each buffer's shared metadata
    /// region, when the board names one (it is a declared heap).
    pub fn metadata_heap(&self) -> Option<&str> {
        self.metadata_heap.as_deref()
    }

    /// Declared heaps, indexed by [`HeapId::index`], in file order.
    pub fn heaps(&self) -> &[HeapDecl] {
        &self.heaps
    }

    /// The heap declared under `name`.
    pub fn heap(&self, name: &str) -> Option<&HeapDecl> {
        self.heaps.iter().find(|h| h.name == name)
    }

    /// The heap with this id.
    pub fn heap_by_id(&self, id: HeapId) -> Option<&HeapDecl> {
        self.heaps.get(id.index())
    }

    /// Rules in priority order; the last one is the default.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Reserve pools (`[[pools]]`), in file order.
    pub fn pools(&self) -> &[Pool] {
        &self.pools
    }

    /// Request caps.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Vendor usage bits the board claims (`[usage] vendor_bits`); other vendor bits are
    /// unknown usage (UNSUPPORTED).
    pub fn claimed_vendor_bits(&self) -> u64 {
        self.vendor_bits
    }
}
