//! Load errors of a board file, each located by file, line and the rule or heap concerned.

use std::fmt;

use thiserror::Error;

/// What part of the board file an error concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The file as a whole (syntax, schema, missing sections).
    File,
    /// The `[board]` table.
    Board,
    /// One `[heaps.<name>]` table.
    Heap(String),
    /// One `[[rules]]` entry: its index in priority order and its name.
    Rule {
        /// Position in the file, from 0.
        index: usize,
        /// The rule's `name` (empty when the rule has none yet).
        name: String,
    },
    /// The `[limits]` table.
    Limits,
    /// The `[usage]` table.
    Usage,
    /// One `[[pools]]` entry: its index and name.
    Pool {
        /// Position in the file, from 0.
        index: usize,
        /// The pool's `name` (empty when it has none yet).
        name: String,
    },
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File => Ok(()),
            Self::Board => f.write_str("board"),
            Self::Heap(name) => write!(f, "heap {name:?}"),
            Self::Rule { index, name } => write!(f, "rules[{index}] {name:?}"),
            Self::Limits => f.write_str("limits"),
            Self::Usage => f.write_str("usage"),
            Self::Pool { index, name } => write!(f, "pools[{index}] {name:?}"),
        }
    }
}

/// Where an error was found: `origin:line: subject`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The name the caller gave the text (usually the path as given on the command line).
    pub origin: String,
    /// 1-based line, when the error has a place in the text.
    pub line: Option<u32>,
    /// The rule, heap or section concerned.
    pub subject: Subject,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.subject != Subject::File {
            write!(f, ": {}", self.subject)?;
        }
        Ok(())
    }
}

/// A board file that cannot be loaded. Display: `origin:line: subject: problem`.
///
/// `source()` is the cause below the problem (the I/O error), not the problem itself, so a
/// printed error chain says each thing once.
#[derive(Debug)]
pub struct ConfigError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    location: Location,
    kind: ConfigErrorKind,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.location, self.0.kind)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0.kind)
    }
}

impl ConfigError {
    pub(crate) fn new(location: Location, kind: ConfigErrorKind) -> Self {
        Self(Box::new(Inner { location, kind }))
    }

    /// Where the problem is.
    pub fn location(&self) -> &Location {
        &self.0.location
    }

    /// What the problem is.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.0.kind
    }

    /// The 1-based line, when known.
    pub fn line(&self) -> Option<u32> {
        self.0.location.line
    }
}

/// The problems a board file can have.
#[derive(Debug, Error)]
pub enum ConfigErrorKind {
    /// The file could not be read.
    #[error("cannot read the board file")]
    Io(#[source] std::io::Error),
    /// TOML syntax, an unknown key, a missing key or a value of the wrong type.
    #[error("{}", .0.message())]
    Syntax(toml::de::Error),
    /// No top-level `schema` key.
    #[error("missing `schema = 1` at the top of the file")]
    MissingSchema,
    /// `schema` is not 1.
    #[error("unsupported schema {0} (this build reads schema 1)")]
    Schema(String),
    /// More heaps or rules than the resolver supports.
    #[error("{count} {what} declared, at most {max} are supported")]
    TooMany {
        /// `heaps` or `rules`.
        what: &'static str,
        /// How many the file has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A name that is empty or has characters outside the allowed set.
    #[error("{what} {name:?} {reason}")]
    BadName {
        /// Which name (`heap name`, `dma-heap name`, `mapper_suffix`, ...).
        what: &'static str,
        /// The name as written.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An ION heap with neither `heap_name` nor `mask`.
    #[error("an ion heap needs `heap_name` (ION 4.12+) and/or `mask` (legacy ION)")]
    IonWithoutHeap,
    /// An ION `mask` of zero.
    #[error("`mask` must not be 0")]
    ZeroIonMask,
    /// ION_FLAG_CACHED in `flags` disagrees with the `cached` property.
    #[error("`flags` {flags:#x} {has} ION_FLAG_CACHED (0x1) but `cached = {cached}`")]
    IonCachedMismatch {
        /// The ION flags.
        flags: u32,
        /// `has` or `lacks`.
        has: &'static str,
        /// The declared property.
        cached: bool,
    },
    /// A fake heap with `errno` but no `fail_after`.
    #[error("`errno` has no effect without `fail_after`")]
    ErrnoWithoutFailAfter,
    /// A fake heap delay (`delay_ms`, `hold_ms`) above the maximum.
    #[error("`{key} = {value}` is above the maximum {max}")]
    DelayTooLong {
        /// The key.
        key: &'static str,
        /// The value written.
        value: u32,
        /// The maximum.
        max: u32,
    },
    /// A usage name that neither the AIDL enum nor gralloc0 defines.
    #[error("{key}: unknown usage name {name:?}")]
    UnknownUsage {
        /// The match key (`all`, `any`, `none`).
        key: &'static str,
        /// The name as written.
        name: String,
    },
    /// A CPU access name in a bit-set match key.
    #[error(
        "{key}: {name:?} is a CPU access field, not a flag; use `cpu`, `cpu_read` or `cpu_write`"
    )]
    CpuNameInFlags {
        /// The match key.
        key: &'static str,
        /// The name as written.
        name: String,
    },
    /// A number naming reserved bits or vendor bits the board does not claim.
    #[error("{key}: {name:?} has bits {bits:#x} that are reserved or not claimed in [usage] vendor_bits")]
    UnclaimedBits {
        /// The match key.
        key: &'static str,
        /// The entry as written.
        name: String,
        /// The offending bits.
        bits: u64,
    },
    /// A pixel format name that graphics.common V5 does not define.
    #[error("formats: unknown pixel format {0:?}")]
    UnknownFormat(String),
    /// The same entry twice in one list.
    #[error("{key}: {name:?} is listed twice")]
    Duplicate {
        /// The list key.
        key: &'static str,
        /// The repeated entry.
        name: String,
    },
    /// A list that must not be empty.
    #[error("`{0}` must not be empty")]
    EmptyList(&'static str),
    /// Two match keys share bits.
    #[error("{bits} in both `{first}` and `{second}`")]
    ConflictingUsage {
        /// The first key.
        first: &'static str,
        /// The second key.
        second: &'static str,
        /// The shared bits, by name.
        bits: String,
    },
    /// `cpu`, `cpu_read` and `cpu_write` together allow no CPU access.
    #[error("`cpu`, `cpu_read` and `cpu_write` together allow no CPU access value")]
    EmptyCpuMatch,
    /// A minimum above the maximum.
    #[error("`min_{dim} = {min}` is above `max_{dim} = {max}`")]
    BadSizeBounds {
        /// `width` or `height`.
        dim: &'static str,
        /// The minimum.
        min: u32,
        /// The maximum.
        max: u32,
    },
    /// A rule with neither `heaps` nor `reject`.
    #[error("a rule needs `heaps` (where to allocate) or `reject` (why it is refused)")]
    NoAction,
    /// A rule with both `heaps` and `reject`.
    #[error("`heaps` and `reject` exclude each other")]
    HeapsAndReject,
    /// An allocation option on a `reject` rule.
    #[error("`{0}` has no meaning on a `reject` rule")]
    OptionOnReject(&'static str),
    /// `fallback = true` with a single heap.
    #[error("`fallback = true` needs at least two heaps to fall back between")]
    FallbackWithoutAlternative,
    /// An empty `reject` reason.
    #[error("`reject` needs a reason")]
    EmptyReason,
    /// A heap name in a rule that no `[heaps.<name>]` declares.
    #[error("heap {0:?} is not declared")]
    UndeclaredHeap(String),
    /// An alignment that is zero, not a power of two, or too large.
    #[error("`{key} = {value}` must be a power of two from 1 to {max}")]
    BadAlignment {
        /// The key.
        key: &'static str,
        /// The value written.
        value: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// A limit that is zero or absurd.
    #[error("`{key} = {value}` is out of range {min}..={max}")]
    LimitOutOfRange {
        /// The key.
        key: &'static str,
        /// The value written.
        value: u64,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// `max_bytes_per_call` below `max_bytes_per_buffer`.
    #[error("`max_bytes_per_call = {per_call}` is below `max_bytes_per_buffer = {per_buffer}`")]
    CallCapBelowBufferCap {
        /// Per-call cap.
        per_call: u64,
        /// Per-buffer cap.
        per_buffer: u64,
    },
    /// A vendor-bit entry that is not a non-zero number inside the vendor ranges.
    #[error("vendor_bits: {value:?} {reason}")]
    BadVendorBits {
        /// The entry as written.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// No `[[rules]]` at all.
    #[error("no `[[rules]]`: at least a default rule is required")]
    NoRules,
    /// The last rule has match keys, so some requests would match no rule.
    #[error("the last rule is the default and must match every request (give it no match keys)")]
    NoDefaultRule,
    /// Two rules with one name.
    #[error("duplicate rule name (first used by rules[{first}])")]
    DuplicateRuleName {
        /// Index of the first rule with this name.
        first: usize,
    },
    /// A rule whose own conditions exclude every request.
    #[error("can never match: its conditions exclude every request")]
    Unsatisfiable,
    /// A rule that earlier rules leave nothing to match.
    #[error("can never match: shadowed by {by}")]
    Shadowed {
        /// The earlier rules, as `rules[i] "name"`.
        by: String,
    },
    /// A rule that can receive PROTECTED usage names a heap without `protected = true`.
    #[error("PROTECTED usage can reach this rule but heap {heap:?} is not protected (exclude PROTECTED with an earlier rule or `none`, or route it to a protected heap)")]
    ProtectedToUnprotectedHeap {
        /// The heap.
        heap: String,
    },
    /// A rule that can receive CPU usage names a protected heap (no CPU mapping).
    #[error(
        "CPU access can reach this rule but heap {heap:?} is protected and cannot be CPU-mapped"
    )]
    CpuToProtectedHeap {
        /// The heap.
        heap: String,
    },
    /// A rule that can receive CPU usage names a heap that does not zero its memory.
    #[error("CPU access can reach this rule but heap {heap:?} does not zero its memory (stale data would leak)")]
    CpuToUnzeroedHeap {
        /// The heap.
        heap: String,
    },
    /// Two pools with one name.
    #[error("duplicate pool name (first used by pools[{first}])")]
    DuplicatePoolName {
        /// Index of the first pool with this name.
        first: usize,
    },
    /// Two pools of one class on one heap.
    #[error("same heap and buffer class as pools[{first}]: merge them into one count")]
    DuplicatePool {
        /// Index of the first such pool.
        first: usize,
    },
    /// A pool with both `size` and `format`.
    #[error("`size` and `format` exclude each other: a pool's class is a size or an image")]
    PoolClassBoth,
    /// A pool with neither `size` nor `format`.
    #[error("a pool needs a class: `size` (bytes) or `format`, `width`, `height` and `usage`")]
    PoolClassMissing,
    /// An image class without one of its keys.
    #[error("an image class needs `format`, `width`, `height` and `usage`: `{0}` is missing")]
    PoolClassIncomplete(&'static str),
    /// An image key on a size class.
    #[error("`{0}` belongs to an image class (`format`), not to a `size` class")]
    PoolKeyWithoutFormat(&'static str),
    /// A pool size that is zero or not whole pages.
    #[error("`size = {bytes}` must be a positive multiple of 4096 bytes")]
    BadPoolSize {
        /// The value written.
        bytes: u64,
    },
    /// A pool size above `max_bytes_per_buffer`: no request could take it.
    #[error("`size = {bytes}` is above `max_bytes_per_buffer = {limit}`")]
    PoolOverCap {
        /// The value written.
        bytes: u64,
        /// The per-buffer cap.
        limit: u64,
    },
    /// A size-class pool on a heap that no rule tries first.
    #[error("no rule tries heap {0:?} first, so no request could be served from this pool")]
    PoolHeapUnrouted(String),
    /// An image class that the board refuses.
    #[error("the board refuses this class: {0}")]
    PoolClassRefused(String),
    /// An image class whose rule tries another heap first.
    #[error("the class resolves to {rule}, which tries heap {first:?} first, not the pool's heap {heap:?}")]
    PoolClassElsewhere {
        /// The rule, as `rules[i] "name"`.
        rule: String,
        /// Its first heap.
        first: String,
        /// The pool's heap.
        heap: String,
    },
    /// The rule analysis grew beyond its bound (too many interacting `any` lists).
    #[error("rules are too complex to check (more than {0} disjoint request sets); simplify `any` lists")]
    TooComplex(usize),
}
