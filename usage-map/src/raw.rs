//! Step one of the two-step parse: the shape of a board file, as serde sees it. Unknown keys
//! are errors. Nothing here is validated beyond types; `convert` turns it into a `UsageMap`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::heap::FakeErrno;

/// Read before anything else, so a future schema is reported as such and not as a pile of
/// unknown keys.
#[derive(Deserialize)]
pub(crate) struct SchemaProbe {
    pub schema: Option<Spanned<toml::Value>>,
}

/// Where each table starts, read leniently (any content) to name the rule or heap a serde
/// error falls in. Spans of tables cover their header.
#[derive(Deserialize)]
pub(crate) struct Locator {
    pub board: Option<Spanned<toml::Value>>,
    pub heaps: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    pub rules: Option<Vec<Spanned<toml::Value>>>,
    pub limits: Option<Spanned<toml::Value>>,
    pub usage: Option<Spanned<toml::Value>>,
    pub pools: Option<Vec<Spanned<toml::Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBoardFile {
    #[allow(dead_code)] // checked by `SchemaProbe`
    pub schema: Spanned<i64>,
    pub board: Spanned<RawBoard>,
    #[serde(default)]
    pub heaps: BTreeMap<Spanned<String>, Spanned<RawHeap>>,
    #[serde(default)]
    pub rules: Vec<Spanned<RawRule>>,
    pub limits: Option<Spanned<RawLimits>>,
    pub usage: Option<Spanned<RawUsage>>,
    #[serde(default)]
    pub pools: Vec<Spanned<RawPool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBoard {
    pub name: Spanned<String>,
    pub mapper_suffix: Spanned<String>,
    pub metadata_heap: Option<Spanned<String>>,
    #[allow(dead_code)] // documentation for humans
    pub description: Option<String>,
}

/// Properties shared by every kind (repeated per variant: `flatten` and
/// `deny_unknown_fields` do not combine in serde).
#[derive(Clone, Copy, Default)]
pub(crate) struct RawProps {
    pub contiguous: Option<bool>,
    pub cached: Option<bool>,
    pub protected: Option<bool>,
    pub zeroed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum RawHeap {
    DmaHeap(RawDmaHeap),
    Ion(RawIonHeap),
    Memfd(RawMemfdHeap),
    Fake(RawFakeHeap),
}

impl RawHeap {
    pub fn props(&self) -> RawProps {
        let (contiguous, cached, protected, zeroed) = match self {
            Self::DmaHeap(h) => (h.contiguous, h.cached, h.protected, h.zeroed),
            Self::Ion(h) => (h.contiguous, h.cached, h.protected, h.zeroed),
            Self::Memfd(h) => (h.contiguous, h.cached, h.protected, h.zeroed),
            Self::Fake(h) => (h.contiguous, h.cached, h.protected, h.zeroed),
        };
        RawProps { contiguous, cached, protected, zeroed }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDmaHeap {
    pub names: Vec<String>,
    pub contiguous: Option<bool>,
    pub cached: Option<bool>,
    pub protected: Option<bool>,
    pub zeroed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIonHeap {
    pub heap_name: Option<String>,
    pub mask: Option<u32>,
    pub flags: Option<u32>,
    pub contiguous: Option<bool>,
    pub cached: Option<bool>,
    pub protected: Option<bool>,
    pub zeroed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMemfdHeap {
    pub contiguous: Option<bool>,
    pub cached: Option<bool>,
    pub protected: Option<bool>,
    pub zeroed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFakeHeap {
    pub fail_after: Option<u32>,
    pub errno: Option<FakeErrno>,
    pub delay_ms: Option<u32>,
    pub hold_ms: Option<u32>,
    pub contiguous: Option<bool>,
    pub cached: Option<bool>,
    pub protected: Option<bool>,
    pub zeroed: Option<bool>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawCpuMode {
    None,
    Any,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawCpuAccess {
    Never,
    Rarely,
    Often,
}

pub(crate) type SpannedList = Spanned<Vec<Spanned<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub name: Spanned<String>,
    pub all: Option<SpannedList>,
    pub any: Option<SpannedList>,
    pub none: Option<SpannedList>,
    pub cpu: Option<Spanned<RawCpuMode>>,
    pub cpu_read: Option<Spanned<Vec<RawCpuAccess>>>,
    pub cpu_write: Option<Spanned<Vec<RawCpuAccess>>>,
    pub formats: Option<SpannedList>,
    pub min_width: Option<Spanned<u32>>,
    pub max_width: Option<Spanned<u32>>,
    pub min_height: Option<Spanned<u32>>,
    pub max_height: Option<Spanned<u32>>,
    pub heaps: Option<SpannedList>,
    pub fallback: Option<Spanned<bool>>,
    pub reject: Option<Spanned<String>>,
    pub stride_align_bytes: Option<Spanned<u32>>,
    pub stride_align_pixels: Option<Spanned<u32>>,
    pub size_align_bytes: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub max_width: Option<Spanned<u32>>,
    pub max_height: Option<Spanned<u32>>,
    pub max_bytes_per_buffer: Option<Spanned<u64>>,
    pub max_buffers_per_call: Option<Spanned<u32>>,
    pub max_reserved_size: Option<Spanned<u64>>,
    pub max_bytes_per_call: Option<Spanned<u64>>,
    pub max_options: Option<Spanned<u32>>,
    pub allowed_uids: Option<Spanned<Vec<u32>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUsage {
    #[serde(default)]
    pub vendor_bits: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub name: Spanned<String>,
    pub heap: Spanned<String>,
    pub size: Option<Spanned<u64>>,
    pub format: Option<Spanned<String>>,
    pub width: Option<Spanned<u32>>,
    pub height: Option<Spanned<u32>>,
    pub usage: Option<SpannedList>,
    pub count: Spanned<u32>,
    pub low_water: Option<Spanned<u32>>,
}
