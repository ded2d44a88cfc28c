//! One `[[rules]]` entry after validation: precomputed masks for matching, and the action.

pub(crate) mod convert;
mod cross_check;

use std::fmt;

use hal_interface::format::Format;
use hal_interface::usage::{CpuAccess, Usage};

use crate::heap::HeapId;

/// A set of CPU access values (never / rarely / often) for one CPU field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CpuSet(u8);

impl CpuSet {
    /// Every value.
    pub const ALL: CpuSet = CpuSet(0b111);

    pub(crate) fn empty() -> Self {
        Self(0)
    }

    pub(crate) fn insert(&mut self, access: CpuAccess) {
        self.0 |= 1 << cpu_index(access);
    }

    /// Whether `access` is in the set.
    pub fn contains(self, access: CpuAccess) -> bool {
        self.0 & (1 << cpu_index(access)) != 0
    }

    /// The values in the set, never → often.
    pub fn iter(self) -> impl Iterator<Item = CpuAccess> {
        [CpuAccess::Never, CpuAccess::Rarely, CpuAccess::Often]
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, access) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(access.name())?;
        }
        f.write_str("]")
    }
}

pub(crate) fn cpu_index(access: CpuAccess) -> u32 {
    match access {
        CpuAccess::Never => 0,
        CpuAccess::Rarely => 1,
        CpuAccess::Often => 2,
    }
}

/// Bit of a (read, write) pair in a 9-bit pair set.
pub(crate) fn cpu_pair_bit(read: CpuAccess, write: CpuAccess) -> u16 {
    1 << (cpu_index(read) * 3 + cpu_index(write))
}

/// All nine (read, write) pairs.
pub(crate) const ALL_CPU_PAIRS: u16 = 0x1ff;
/// Every pair except (never, never): some CPU access.
pub(crate) const SOME_CPU_PAIRS: u16 = 0x1fe;

/// `cpu = "none" | "any"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CpuMode {
    /// Neither read nor write (both fields NEVER).
    None,
    /// Read or write at any frequency (some field not NEVER).
    Any,
}

impl CpuMode {
    /// The board-file spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Any => "any",
        }
    }
}

/// The CPU condition of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CpuMatch {
    /// `cpu = ...`, if given.
    pub mode: Option<CpuMode>,
    /// `cpu_read = [...]` (all values when absent).
    pub read: CpuSet,
    /// `cpu_write = [...]` (all values when absent).
    pub write: CpuSet,
    /// The allowed (read, write) pairs, one bit per pair (bit = read * 3 + write).
    pub(crate) pairs: u16,
}

impl CpuMatch {
    pub(crate) fn new(mode: Option<CpuMode>, read: CpuSet, write: CpuSet) -> Self {
        let mut pairs = 0u16;
        for r in read.iter() {
            for w in write.iter() {
                pairs |= cpu_pair_bit(r, w);
            }
        }
        match mode {
            Some(CpuMode::None) => pairs &= cpu_pair_bit(CpuAccess::Never, CpuAccess::Never),
            Some(CpuMode::Any) => pairs &= SOME_CPU_PAIRS,
            None => {}
        }
        Self { mode, read, write, pairs }
    }

    /// Whether the usage's CPU fields satisfy the condition; undefined field values never do.
    pub fn matches(&self, usage: Usage) -> bool {
        match (usage.cpu_read(), usage.cpu_write()) {
            (Some(r), Some(w)) => self.pairs & cpu_pair_bit(r, w) != 0,
            _ => false,
        }
    }
}

/// A set of pixel formats (one bit per [`Format::ALL`] position).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FormatSet(pub(crate) u128);

const _: () = assert!(Format::ALL.len() <= 128);

/// Position of `format` in [`Format::ALL`].
pub(crate) fn format_index(format: Format) -> Option<usize> {
    // Fast path: the enum's declaration order is the order of `ALL`.
    let guess = format as usize;
    if Format::ALL.get(guess) == Some(&format) {
        return Some(guess);
    }
    Format::ALL.iter().position(|&f| f == format)
}

pub(crate) fn format_bit(format: Format) -> u128 {
    format_index(format).map_or(0, |i| 1u128 << (i & 127))
}

impl FormatSet {
    pub(crate) fn empty() -> Self {
        Self(0)
    }

    pub(crate) fn insert(&mut self, format: Format) {
        self.0 |= format_bit(format);
    }

    /// Whether `format` is in the set.
    pub fn contains(self, format: Format) -> bool {
        self.0 & format_bit(format) != 0
    }

    /// The formats in the set, in [`Format::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Format> {
        Format::ALL.iter().copied().filter(move |f| self.contains(*f))
    }
}

impl fmt::Display for FormatSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, format) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(format.name())?;
        }
        f.write_str("]")
    }
}

/// The match part of a rule. Every condition present must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// Bits that must all be set (`all`).
    pub all: u64,
    /// Bits of which at least one must be set (`any`); 0 = no condition.
    pub any: u64,
    /// Bits that must all be clear (`none`).
    pub none: u64,
    /// CPU condition (`cpu`, `cpu_read`, `cpu_write`).
    pub cpu: Option<CpuMatch>,
    /// Allowed formats (`formats`).
    pub formats: Option<FormatSet>,
    /// Inclusive width bounds in pixels (`min_width`, `max_width`).
    pub width: (u32, u32),
    /// Inclusive height bounds in pixels (`min_height`, `max_height`).
    pub height: (u32, u32),
}

impl Match {
    /// A match with no conditions (the default rule's).
    pub const EVERYTHING: Match = Match {
        all: 0,
        any: 0,
        none: 0,
        cpu: None,
        formats: None,
        width: (0, u32::MAX),
        height: (0, u32::MAX),
    };

    /// Whether the request satisfies every condition. Pure bit tests, no allocation.
    #[inline]
    pub fn matches(&self, usage: Usage, format: Format, width: u32, height: u32) -> bool {
        let bits = usage.bits();
        bits & self.all == self.all
            && (self.any == 0 || bits & self.any != 0)
            && bits & self.none == 0
            && self.cpu_ok(usage)
            && self.format_ok(format)
            && (self.width.0..=self.width.1).contains(&width)
            && (self.height.0..=self.height.1).contains(&height)
    }

    #[inline]
    fn cpu_ok(&self, usage: Usage) -> bool {
        match &self.cpu {
            Some(cpu) => cpu.matches(usage),
            None => true,
        }
    }

    #[inline]
    fn format_ok(&self, format: Format) -> bool {
        match self.formats {
            Some(set) => set.contains(format),
            None => true,
        }
    }

    /// Whether the rule has no condition at all.
    pub fn is_everything(&self) -> bool {
        *self == Self::EVERYTHING
    }

    /// Every reason the request does not match (empty when it does).
    pub fn mismatches(
        &self,
        usage: Usage,
        format: Format,
        width: u32,
        height: u32,
    ) -> Vec<Mismatch> {
        let bits = usage.bits();
        let mut out = Vec::new();
        let missing = self.all & !bits;
        if missing != 0 {
            out.push(Mismatch::MissingBits(missing));
        }
        if self.any != 0 && bits & self.any == 0 {
            out.push(Mismatch::NoneOfAny(self.any));
        }
        let forbidden = bits & self.none;
        if forbidden != 0 {
            out.push(Mismatch::ForbiddenBits(forbidden));
        }
        if let Some(cpu) = self.cpu {
            if !cpu.matches(usage) {
                out.push(Mismatch::Cpu {
                    read: usage.cpu_read(),
                    write: usage.cpu_write(),
                    rule: cpu,
                });
            }
        }
        if let Some(set) = self.formats {
            if !set.contains(format) {
                out.push(Mismatch::Format { format, allowed: set });
            }
        }
        push_bound(&mut out, Dimension::Width, width, self.width);
        push_bound(&mut out, Dimension::Height, height, self.height);
        out
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.all != 0 {
            parts.push(format!("all {}", bit_names(self.all)));
        }
        if self.any != 0 {
            parts.push(format!("any {}", bit_names(self.any)));
        }
        if self.none != 0 {
            parts.push(format!("none {}", bit_names(self.none)));
        }
        if let Some(cpu) = &self.cpu {
            if let Some(mode) = cpu.mode {
                parts.push(format!("cpu {}", mode.name()));
            }
            if cpu.read != CpuSet::ALL {
                parts.push(format!("cpu_read {}", cpu.read));
            }
            if cpu.write != CpuSet::ALL {
                parts.push(format!("cpu_write {}", cpu.write));
            }
        }
        if let Some(formats) = self.formats {
            parts.push(format!("formats {formats}"));
        }
        for (dim, (min, max)) in [("width", self.width), ("height", self.height)] {
            if min > 0 {
                parts.push(format!("{dim} >= {min}"));
            }
            if max < u32::MAX {
                parts.push(format!("{dim} <= {max}"));
            }
        }
        if parts.is_empty() {
            return f.write_str("every request");
        }
        f.write_str(&parts.join(", "))
    }
}

fn push_bound(out: &mut Vec<Mismatch>, dim: Dimension, value: u32, (min, max): (u32, u32)) {
    if value < min {
        out.push(Mismatch::Below { dim, value, min });
    }
    if value > max {
        out.push(Mismatch::Above { dim, value, max });
    }
}

/// Width or height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// Width in pixels.
    Width,
    /// Height in pixels.
    Height,
}

impl Dimension {
    /// `width` or `height`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Width => "width",
            Self::Height => "height",
        }
    }
}

/// Why one rule did not match a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// `all` bits that the usage lacks.
    MissingBits(u64),
    /// The usage has none of the `any` bits.
    NoneOfAny(u64),
    /// `none` bits that the usage has.
    ForbiddenBits(u64),
    /// The CPU fields are outside the rule's CPU condition.
    Cpu {
        /// The request's read field (`None` = undefined value).
        read: Option<CpuAccess>,
        /// The request's write field (`None` = undefined value).
        write: Option<CpuAccess>,
        /// The rule's condition.
        rule: CpuMatch,
    },
    /// The format is not listed.
    Format {
        /// The request's format.
        format: Format,
        /// The rule's formats.
        allowed: FormatSet,
    },
    /// Below a minimum size.
    Below {
        /// Which dimension.
        dim: Dimension,
        /// The request's value in pixels.
        value: u32,
        /// The rule's minimum.
        min: u32,
    },
    /// Above a maximum size.
    Above {
        /// Which dimension.
        dim: Dimension,
        /// The request's value in pixels.
        value: u32,
        /// The rule's maximum.
        max: u32,
    },
}

/// Names of flag bits (`A|B`), hex for bits without a name.
pub(crate) fn bit_names(bits: u64) -> String {
    Usage::from_bits(bits).to_string()
}

fn access_name(access: Option<CpuAccess>) -> &'static str {
    access.map_or("undefined", CpuAccess::name)
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingBits(bits) => write!(f, "missing {}", bit_names(*bits)),
            Self::NoneOfAny(bits) => write!(f, "has none of {}", bit_names(*bits)),
            Self::ForbiddenBits(bits) => write!(f, "has forbidden {}", bit_names(*bits)),
            Self::Cpu { read, write, rule } => {
                write!(
                    f,
                    "cpu read {} / write {} not allowed (",
                    access_name(*read),
                    access_name(*write)
                )?;
                let mut parts = Vec::new();
                if let Some(mode) = rule.mode {
                    parts.push(format!("cpu = {:?}", mode.name()));
                }
                if rule.read != CpuSet::ALL {
                    parts.push(format!("cpu_read = {}", rule.read));
                }
                if rule.write != CpuSet::ALL {
                    parts.push(format!("cpu_write = {}", rule.write));
                }
                write!(f, "{})", parts.join(", "))
            }
            Self::Format { format, allowed } => write!(f, "format {format} not in {allowed}"),
            Self::Below { dim, value, min } => {
                write!(f, "{} {value} below min_{} {min}", dim.name(), dim.name())
            }
            Self::Above { dim, value, max } => {
                write!(f, "{} {value} above max_{} {max}", dim.name(), dim.name())
            }
        }
    }
}

/// Alignment a rule imposes on its buffers; 1 means no constraint. All are powers of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Alignment {
    /// Row stride multiple in bytes (`stride_align_bytes`, e.g. 64 for Mali).
    pub stride_bytes: u32,
    /// Row stride multiple in pixels (`stride_align_pixels`, e.g. 32 for camera ISPs).
    pub stride_pixels: u32,
    /// Total size multiple in bytes (`size_align_bytes`), on top of page rounding.
    pub size_bytes: u64,
}

impl Alignment {
    /// No constraint.
    pub const NONE: Alignment = Alignment { stride_bytes: 1, stride_pixels: 1, size_bytes: 1 };
}

impl Default for Alignment {
    fn default() -> Self {
        Self::NONE
    }
}

impl fmt::Display for Alignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::NONE {
            return f.write_str("none");
        }
        let mut parts = Vec::new();
        if self.stride_bytes > 1 {
            parts.push(format!("stride {} B", self.stride_bytes));
        }
        if self.stride_pixels > 1 {
            parts.push(format!("stride {} px", self.stride_pixels));
        }
        if self.size_bytes > 1 {
            parts.push(format!("size {} B", self.size_bytes));
        }
        f.write_str(&parts.join(", "))
    }
}

/// What a matching rule does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Allocate from `heaps` (see [`crate::Plan`] for the fallback semantics).
    Allocate {
        /// Heaps in probe order; never empty, no duplicates.
        heaps: Vec<HeapId>,
        /// Whether exhaustion of one heap moves on to the next present one.
        fallback: bool,
    },
    /// Refuse the request (UNSUPPORTED) with this reason.
    Reject {
        /// Why, for logs and `board explain`.
        reason: String,
    },
}

/// One validated rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub(crate) name: String,
    pub(crate) line: u32,
    pub(crate) matcher: Match,
    pub(crate) action: Action,
    pub(crate) align: Alignment,
}

impl Rule {
    /// The rule's `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// 1-based line of the rule in its board file.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The match conditions.
    pub fn matcher(&self) -> &Match {
        &self.matcher
    }

    /// What happens on a match.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// Alignment for matching buffers.
    pub fn alignment(&self) -> Alignment {
        self.align
    }
}

/// A rule named by position and name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuleRef<'a> {
    /// Position in priority order, from 0.
    pub index: usize,
    /// The rule's `name`.
    pub name: &'a str,
}

impl fmt::Display for RuleRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rules[{}] {:?}", self.index, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hal_interface::usage::bits;

    #[test]
    fn format_index_is_the_position_in_all() {
        for (i, &format) in Format::ALL.iter().enumerate() {
            assert_eq!(format_index(format), Some(i), "{format}");
        }
    }

    #[test]
    fn cpu_none_allows_only_never_never() {
        let none = CpuMatch::new(Some(CpuMode::None), CpuSet::ALL, CpuSet::ALL);
        assert!(none.matches(Usage::from_bits(bits::GPU_TEXTURE)));
        assert!(!none.matches(Usage::from_bits(bits::CPU_READ_RARELY)));
        assert!(!none.matches(Usage::from_bits(bits::CPU_WRITE_OFTEN)));
    }

    #[test]
    fn cpu_any_requires_some_access_and_lists_restrict_each_field() {
        let any = CpuMatch::new(Some(CpuMode::Any), CpuSet::ALL, CpuSet::ALL);
        assert!(!any.matches(Usage::NONE));
        assert!(any.matches(Usage::from_bits(bits::CPU_WRITE_RARELY)));
        let mut often = CpuSet::empty();
        often.insert(CpuAccess::Often);
        let readers = CpuMatch::new(None, often, CpuSet::ALL);
        assert!(readers.matches(Usage::from_bits(bits::CPU_READ_OFTEN | bits::CPU_WRITE_RARELY)));
        assert!(!readers.matches(Usage::from_bits(bits::CPU_READ_RARELY)));
    }

    #[test]
    fn match_checks_every_condition() {
        let mut formats = FormatSet::empty();
        formats.insert(Format::Rgba8888);
        let m = Match {
            all: bits::COMPOSER_CLIENT_TARGET,
            any: bits::GPU_RENDER_TARGET | bits::GPU_TEXTURE,
            none: bits::VIDEO_ENCODER,
            cpu: None,
            formats: Some(formats),
            width: (16, 4096),
            height: (16, 4096),
        };
        let ok = Usage::from_bits(bits::COMPOSER_CLIENT_TARGET | bits::GPU_TEXTURE);
        assert!(m.matches(ok, Format::Rgba8888, 1920, 1080));
        assert!(!m.matches(ok.with(bits::VIDEO_ENCODER), Format::Rgba8888, 1920, 1080));
        assert!(!m.matches(
            Usage::from_bits(bits::COMPOSER_CLIENT_TARGET),
            Format::Rgba8888,
            64,
            64
        ));
        assert!(!m.matches(ok, Format::Rgbx8888, 64, 64));
        assert!(!m.matches(ok, Format::Rgba8888, 8192, 64));
        assert!(!m.matches(ok, Format::Rgba8888, 64, 8));
        assert_eq!(
            m.mismatches(Usage::NONE, Format::Yv12, 8, 5000).len(),
            5,
            "missing all, none of any, format, width below, height above"
        );
    }
}
