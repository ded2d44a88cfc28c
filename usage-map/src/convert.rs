//! Step two of the two-step parse: `Raw*` → validated [`UsageMap`]. Every check that needs
//! more than one key lives here, and every error carries its location.

use std::collections::BTreeMap;
use std::ops::Range;

use hal_interface::format::Format;
use hal_interface::usage::{bits, CpuAccess, Usage};
use toml::Spanned;

use crate::cubes::{flag_universe, Cube, CubeSet};
use crate::error::{ConfigError, ConfigErrorKind as Kind, Location, Subject};
use crate::heap::{FakeBehaviour, FakeErrno, HeapBackend, HeapDecl, HeapId, HeapProps};
use crate::limits::Limits;
use crate::raw::{
    Locator, RawBoardFile, RawCpuAccess, RawCpuMode, RawHeap, RawLimits, RawRule, RawUsage,
    SchemaProbe, SpannedList,
};
use crate::rule::{
    bit_names, Action, Alignment, CpuMatch, CpuMode, CpuSet, FormatSet, Match, Rule, SOME_CPU_PAIRS,
};
use crate::{UsageMap, SCHEMA_VERSION};

/// Most heaps a board may declare (a heap is one bit of a `u64` presence mask).
pub(crate) const MAX_HEAPS: usize = 64;
/// Most rules a board may have.
pub(crate) const MAX_RULES: usize = 64;
/// Longest name of a heap, rule, board or device.
const MAX_NAME_LEN: usize = 64;
/// ION heap names are `char name[32]` in `struct ion_heap_data`, NUL included.
const MAX_ION_NAME_LEN: usize = 31;
/// Longest scripted delay of a fake heap.
const MAX_FAKE_DELAY_MS: u32 = 60_000;
/// Largest `stride_align_bytes`.
pub(crate) const MAX_STRIDE_ALIGN_BYTES: u64 = 4096;
/// Largest `stride_align_pixels`.
pub(crate) const MAX_STRIDE_ALIGN_PIXELS: u64 = 1024;
/// Largest `size_align_bytes` (1 GiB).
pub(crate) const MAX_SIZE_ALIGN_BYTES: u64 = 1 << 30;
/// `ION_FLAG_CACHED`.
const ION_FLAG_CACHED: u32 = 1;

struct Ctx<'t> {
    text: &'t str,
    origin: &'t str,
}

impl Ctx<'_> {
    fn line(&self, span: &Range<usize>) -> u32 {
        let before = self.text.get(..span.start).unwrap_or(self.text);
        let newlines = before.bytes().filter(|b| *b == b'\n').count();
        u32::try_from(newlines).unwrap_or(u32::MAX).saturating_add(1)
    }

    fn error(&self, span: Option<Range<usize>>, subject: Subject, kind: Kind) -> ConfigError {
        let line = span.map(|s| self.line(&s));
        ConfigError::new(Location { origin: self.origin.to_owned(), line, subject }, kind)
    }

    fn syntax(&self, err: toml::de::Error) -> ConfigError {
        self.error(err.span(), Subject::File, Kind::Syntax(err))
    }

    /// A shape error of valid TOML (unknown key, wrong type): also names the table it is in.
    fn shape(&self, err: toml::de::Error) -> ConfigError {
        let subject = match (err.span(), toml::from_str::<Locator>(self.text)) {
            (Some(span), Ok(locator)) => subject_at(&locator, span.start),
            _ => Subject::File,
        };
        self.error(err.span(), subject, Kind::Syntax(err))
    }
}

/// Builds the error of one subject at one span; saves repeating both at every check.
struct At<'c, 't> {
    ctx: &'c Ctx<'t>,
    subject: Subject,
}

impl At<'_, '_> {
    fn err(&self, span: Range<usize>, kind: Kind) -> ConfigError {
        self.ctx.error(Some(span), self.subject.clone(), kind)
    }
}

pub(crate) fn parse(text: &str, origin: &str) -> Result<UsageMap, ConfigError> {
    let ctx = Ctx { text, origin };
    let probe: SchemaProbe = toml::from_str(text).map_err(|e| ctx.syntax(e))?;
    let Some(schema) = probe.schema else {
        return Err(ctx.error(Some(0..0), Subject::File, Kind::MissingSchema));
    };
    if schema.get_ref().as_integer() != Some(SCHEMA_VERSION) {
        let found = schema.get_ref().to_string();
        return Err(ctx.error(Some(schema.span()), Subject::File, Kind::Schema(found)));
    }
    let raw: RawBoardFile = toml::from_str(text).map_err(|e| ctx.shape(e))?;
    convert(&ctx, raw)
}

/// The table whose header is the last one before `offset`.
fn subject_at(locator: &Locator, offset: usize) -> Subject {
    let mut best: Option<(usize, Subject)> = None;
    let mut consider = |start: usize, subject: Subject| {
        let later = match &best {
            Some((best_start, _)) => start >= *best_start,
            None => true,
        };
        if start <= offset && later {
            best = Some((start, subject));
        }
    };
    if let Some(board) = &locator.board {
        consider(board.span().start, Subject::Board);
    }
    for (name, heap) in locator.heaps.iter().flatten() {
        consider(heap.span().start.min(name.span().start), Subject::Heap(name.get_ref().clone()));
    }
    for (index, rule) in locator.rules.iter().flatten().enumerate() {
        let name = rule.get_ref().get("name").and_then(toml::Value::as_str).unwrap_or("");
        consider(rule.span().start, Subject::Rule { index, name: name.to_owned() });
    }
    if let Some(limits) = &locator.limits {
        consider(limits.span().start, Subject::Limits);
    }
    if let Some(usage) = &locator.usage {
        consider(usage.span().start, Subject::Usage);
    }
    best.map_or(Subject::File, |(_, subject)| subject)
}

fn convert(ctx: &Ctx<'_>, raw: RawBoardFile) -> Result<UsageMap, ConfigError> {
    let (board_name, mapper_suffix) = board(ctx, &raw.board)?;
    let vendor_bits = match &raw.usage {
        Some(usage) => vendor_bits(ctx, usage)?,
        None => 0,
    };
    let heaps = heaps(ctx, raw.heaps)?;
    // `[board] metadata_heap`: the declared heap that serves buffers' metadata regions.
    let metadata_heap = match &raw.board.get_ref().metadata_heap {
        Some(name) if !heaps.iter().any(|h| h.name == *name.get_ref()) => {
            let at = At { ctx, subject: Subject::Board };
            return Err(at.err(name.span(), Kind::UndeclaredHeap(name.get_ref().clone())));
        }
        other => other.as_ref().map(|name| name.get_ref().clone()),
    };
    let limits = match &raw.limits {
        Some(limits) => limits_of(ctx, limits)?,
        None => Limits::default(),
    };
    let rules = rules(ctx, &raw.rules, &heaps, vendor_bits)?;
    Ok(UsageMap {
        origin: ctx.origin.to_owned(),
        board_name,
        mapper_suffix,
        metadata_heap,
        heaps,
        rules,
        limits,
        vendor_bits,
    })
}

fn check_name(
    at: &At<'_, '_>,
    span: Range<usize>,
    what: &'static str,
    name: &str,
    max_len: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), ConfigError> {
    let reason = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > max_len {
        Some("is too long")
    } else if !name.chars().all(allowed) {
        Some("has characters outside [A-Za-z0-9_.,-]")
    } else if name == "." || name == ".." {
        Some("is not a name")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(at.err(span, Kind::BadName { what, name: name.to_owned(), reason })),
        None => Ok(()),
    }
}

/// Heap and device names: what `/dev/dma_heap` and ION use (`linux,cma`, `ion_system_heap`).
fn device_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ',')
}

fn board(
    ctx: &Ctx<'_>,
    board: &Spanned<crate::raw::RawBoard>,
) -> Result<(String, String), ConfigError> {
    let at = At { ctx, subject: Subject::Board };
    let raw = board.get_ref();
    let name = raw.name.get_ref();
    check_name(&at, raw.name.span(), "board name", name, MAX_NAME_LEN, |c| !c.is_control())?;
    let suffix = raw.mapper_suffix.get_ref();
    check_name(&at, raw.mapper_suffix.span(), "mapper_suffix", suffix, MAX_NAME_LEN, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
    })?;
    Ok((name.clone(), suffix.clone()))
}

fn vendor_bits(ctx: &Ctx<'_>, usage: &Spanned<RawUsage>) -> Result<u64, ConfigError> {
    let at = At { ctx, subject: Subject::Usage };
    let mut claimed = 0u64;
    for entry in &usage.get_ref().vendor_bits {
        let text = entry.get_ref().trim();
        let bad = |reason| {
            at.err(entry.span(), Kind::BadVendorBits { value: entry.get_ref().clone(), reason })
        };
        let value = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
            None => text.replace('_', "").parse(),
        }
        .map_err(|_| bad("is not a number (write it as \"0x10000000\")"))?;
        if value == 0 {
            return Err(bad("is zero"));
        }
        if value & !bits::VENDOR != 0 {
            return Err(bad(
                "has bits outside the vendor ranges 0xf0000000 and 0xffff000000000000",
            ));
        }
        if value & claimed != 0 {
            return Err(bad("claims bits already claimed"));
        }
        claimed |= value;
    }
    Ok(claimed)
}

fn heaps(
    ctx: &Ctx<'_>,
    raw: BTreeMap<Spanned<String>, Spanned<RawHeap>>,
) -> Result<Vec<HeapDecl>, ConfigError> {
    let mut entries: Vec<_> = raw.into_iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    if entries.len() > MAX_HEAPS {
        let span = entries.get(MAX_HEAPS).map(|(key, _)| key.span());
        let kind = Kind::TooMany { what: "heaps", count: entries.len(), max: MAX_HEAPS };
        return Err(ctx.error(span, Subject::File, kind));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (index, (key, value)) in entries.into_iter().enumerate() {
        let name = key.get_ref().clone();
        let at = At { ctx, subject: Subject::Heap(name.clone()) };
        check_name(&at, key.span(), "heap name", &name, MAX_NAME_LEN, device_char)?;
        let span = value.span();
        let raw_heap = value.into_inner();
        let props = raw_heap.props();
        let mut decl_props = HeapProps::default();
        let backend = match raw_heap {
            RawHeap::DmaHeap(h) => {
                if h.names.is_empty() {
                    return Err(at.err(span, Kind::EmptyList("names")));
                }
                for (i, dev) in h.names.iter().enumerate() {
                    check_name(&at, span.clone(), "dma-heap name", dev, MAX_NAME_LEN, device_char)?;
                    if h.names.iter().take(i).any(|earlier| earlier == dev) {
                        let kind = Kind::Duplicate { key: "names", name: dev.clone() };
                        return Err(at.err(span, kind));
                    }
                }
                HeapBackend::DmaHeap { names: h.names }
            }
            RawHeap::Ion(h) => {
                if let Some(heap_name) = &h.heap_name {
                    let what = "ion heap_name";
                    check_name(&at, span.clone(), what, heap_name, MAX_ION_NAME_LEN, device_char)?;
                }
                match (&h.heap_name, h.mask) {
                    (None, None) => return Err(at.err(span, Kind::IonWithoutHeap)),
                    (_, Some(0)) => return Err(at.err(span, Kind::ZeroIonMask)),
                    _ => {}
                }
                let flags = h.flags.unwrap_or(0);
                let flag_cached = flags & ION_FLAG_CACHED != 0;
                // The ION flag decides; `cached` may restate it but not contradict it.
                decl_props.cached = flag_cached;
                if let Some(cached) = props.cached {
                    if cached != flag_cached {
                        let has = if flag_cached { "has" } else { "lacks" };
                        return Err(at.err(span, Kind::IonCachedMismatch { flags, has, cached }));
                    }
                }
                HeapBackend::Ion { heap_name: h.heap_name, mask: h.mask, flags }
            }
            RawHeap::Memfd(_) => HeapBackend::Memfd,
            RawHeap::Fake(h) => {
                if h.errno.is_some() && h.fail_after.is_none() {
                    return Err(at.err(span, Kind::ErrnoWithoutFailAfter));
                }
                let delay_ms = h.delay_ms.unwrap_or(0);
                if delay_ms > MAX_FAKE_DELAY_MS {
                    let kind = Kind::DelayTooLong { value: delay_ms, max: MAX_FAKE_DELAY_MS };
                    return Err(at.err(span, kind));
                }
                HeapBackend::Fake(FakeBehaviour {
                    fail_after: h.fail_after,
                    errno: h.errno.unwrap_or(FakeErrno::Enomem),
                    delay_ms,
                })
            }
        };
        let props = HeapProps {
            contiguous: props.contiguous.unwrap_or(decl_props.contiguous),
            cached: props.cached.unwrap_or(decl_props.cached),
            protected: props.protected.unwrap_or(decl_props.protected),
            zeroed: props.zeroed.unwrap_or(decl_props.zeroed),
        };
        let id = HeapId(u8::try_from(index).unwrap_or(u8::MAX));
        out.push(HeapDecl { id, name, backend, props });
    }
    Ok(out)
}

fn limit_u64(
    at: &At<'_, '_>,
    key: &'static str,
    value: Option<&Spanned<u64>>,
    default: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    let v = *value.get_ref();
    if v == 0 || v > max {
        return Err(at.err(value.span(), Kind::LimitOutOfRange { key, value: v, min: 1, max }));
    }
    Ok(v)
}

fn limit_u32(
    at: &At<'_, '_>,
    key: &'static str,
    value: Option<&Spanned<u32>>,
    default: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    let v = *value.get_ref();
    if v == 0 || v > max {
        let kind = Kind::LimitOutOfRange { key, value: v.into(), min: 1, max: max.into() };
        return Err(at.err(value.span(), kind));
    }
    Ok(v)
}

fn limits_of(ctx: &Ctx<'_>, limits: &Spanned<RawLimits>) -> Result<Limits, ConfigError> {
    let at = At { ctx, subject: Subject::Limits };
    let raw = limits.get_ref();
    let d = Limits::default();
    let max_dim = Limits::CEILING_MAX_DIMENSION;
    let out = Limits {
        max_width: limit_u32(&at, "max_width", raw.max_width.as_ref(), d.max_width, max_dim)?,
        max_height: limit_u32(&at, "max_height", raw.max_height.as_ref(), d.max_height, max_dim)?,
        max_bytes_per_buffer: limit_u64(
            &at,
            "max_bytes_per_buffer",
            raw.max_bytes_per_buffer.as_ref(),
            d.max_bytes_per_buffer,
            Limits::CEILING_MAX_BYTES_PER_BUFFER,
        )?,
        max_buffers_per_call: limit_u32(
            &at,
            "max_buffers_per_call",
            raw.max_buffers_per_call.as_ref(),
            d.max_buffers_per_call,
            Limits::CEILING_MAX_BUFFERS_PER_CALL,
        )?,
        max_reserved_size: limit_u64(
            &at,
            "max_reserved_size",
            raw.max_reserved_size.as_ref(),
            d.max_reserved_size,
            Limits::CEILING_MAX_RESERVED_SIZE,
        )?,
        max_bytes_per_call: limit_u64(
            &at,
            "max_bytes_per_call",
            raw.max_bytes_per_call.as_ref(),
            d.max_bytes_per_call,
            Limits::CEILING_MAX_BYTES_PER_CALL,
        )?,
        max_options: limit_u32(
            &at,
            "max_options",
            raw.max_options.as_ref(),
            d.max_options,
            Limits::CEILING_MAX_OPTIONS,
        )?,
        allowed_uids: match &raw.allowed_uids {
            None => None,
            Some(uids) => {
                let list = uids.get_ref();
                if list.is_empty() {
                    return Err(at.err(uids.span(), Kind::EmptyList("allowed_uids")));
                }
                for (i, uid) in list.iter().enumerate() {
                    if list.iter().take(i).any(|u| u == uid) {
                        let kind = Kind::Duplicate { key: "allowed_uids", name: uid.to_string() };
                        return Err(at.err(uids.span(), kind));
                    }
                }
                Some(list.clone())
            }
        },
    };
    if out.max_bytes_per_call < out.max_bytes_per_buffer {
        let span = raw.max_bytes_per_call.as_ref().map_or(limits.span(), Spanned::span);
        let kind = Kind::CallCapBelowBufferCap {
            per_call: out.max_bytes_per_call,
            per_buffer: out.max_bytes_per_buffer,
        };
        return Err(at.err(span, kind));
    }
    Ok(out)
}

/// A rule after its own checks, before the checks against other rules.
struct Checked {
    rule: Rule,
    span: Range<usize>,
    /// Spans of the `heaps` entries, parallel to the action's heap list.
    heap_spans: Vec<Range<usize>>,
}

fn rules(
    ctx: &Ctx<'_>,
    raw: &[Spanned<RawRule>],
    heaps: &[HeapDecl],
    vendor_bits: u64,
) -> Result<Vec<Rule>, ConfigError> {
    if raw.is_empty() {
        return Err(ctx.error(None, Subject::File, Kind::NoRules));
    }
    if raw.len() > MAX_RULES {
        let span = raw.get(MAX_RULES).map(Spanned::span);
        let kind = Kind::TooMany { what: "rules", count: raw.len(), max: MAX_RULES };
        return Err(ctx.error(span, Subject::File, kind));
    }
    let mut checked: Vec<Checked> = Vec::with_capacity(raw.len());
    for (index, spanned) in raw.iter().enumerate() {
        let rule = spanned.get_ref();
        let name = rule.name.get_ref();
        let at = At { ctx, subject: Subject::Rule { index, name: name.clone() } };
        check_name(&at, rule.name.span(), "rule name", name, MAX_NAME_LEN, |c| !c.is_control())?;
        if let Some(first) = checked.iter().position(|c| c.rule.name == *name) {
            return Err(at.err(rule.name.span(), Kind::DuplicateRuleName { first }));
        }
        checked.push(one_rule(&at, spanned, heaps, vendor_bits)?);
    }
    cross_check(ctx, &checked, heaps, vendor_bits)?;
    Ok(checked.into_iter().map(|c| c.rule).collect())
}

fn usage_list(
    at: &At<'_, '_>,
    key: &'static str,
    list: Option<&SpannedList>,
    vendor_bits: u64,
) -> Result<u64, ConfigError> {
    let Some(list) = list else { return Ok(0) };
    if list.get_ref().is_empty() {
        return Err(at.err(list.span(), Kind::EmptyList(key)));
    }
    let cpu_fields = bits::CPU_READ_MASK | bits::CPU_WRITE_MASK;
    let mut acc = 0u64;
    for entry in list.get_ref() {
        let name = entry.get_ref();
        let value = Usage::parse_one(name)
            .map_err(|_| at.err(entry.span(), Kind::UnknownUsage { key, name: name.clone() }))?
            .bits();
        if value == 0 || value & cpu_fields != 0 {
            return Err(at.err(entry.span(), Kind::CpuNameInFlags { key, name: name.clone() }));
        }
        let unclaimed = value & !flag_universe(vendor_bits);
        if unclaimed != 0 {
            let kind = Kind::UnclaimedBits { key, name: name.clone(), bits: unclaimed };
            return Err(at.err(entry.span(), kind));
        }
        if value & acc != 0 {
            return Err(at.err(entry.span(), Kind::Duplicate { key, name: name.clone() }));
        }
        acc |= value;
    }
    Ok(acc)
}

fn cpu_set(
    at: &At<'_, '_>,
    key: &'static str,
    list: Option<&Spanned<Vec<RawCpuAccess>>>,
) -> Result<CpuSet, ConfigError> {
    let Some(list) = list else { return Ok(CpuSet::ALL) };
    if list.get_ref().is_empty() {
        return Err(at.err(list.span(), Kind::EmptyList(key)));
    }
    let mut set = CpuSet::empty();
    for raw in list.get_ref() {
        let access = match raw {
            RawCpuAccess::Never => CpuAccess::Never,
            RawCpuAccess::Rarely => CpuAccess::Rarely,
            RawCpuAccess::Often => CpuAccess::Often,
        };
        if set.contains(access) {
            let kind = Kind::Duplicate { key, name: access.name().to_owned() };
            return Err(at.err(list.span(), kind));
        }
        set.insert(access);
    }
    Ok(set)
}

fn alignment(
    at: &At<'_, '_>,
    key: &'static str,
    value: Option<(u64, Range<usize>)>,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some((v, span)) = value else { return Ok(1) };
    if !v.is_power_of_two() || v > max {
        return Err(at.err(span, Kind::BadAlignment { key, value: v, max }));
    }
    Ok(v)
}

fn bounds(
    at: &At<'_, '_>,
    dim: &'static str,
    min: Option<&Spanned<u32>>,
    max: Option<&Spanned<u32>>,
) -> Result<(u32, u32), ConfigError> {
    let lo = min.map_or(0, |m| *m.get_ref());
    let hi = max.map_or(u32::MAX, |m| *m.get_ref());
    if let (Some(min_span), true) = (min, lo > hi) {
        return Err(at.err(min_span.span(), Kind::BadSizeBounds { dim, min: lo, max: hi }));
    }
    Ok((lo, hi))
}

fn one_rule(
    at: &At<'_, '_>,
    spanned: &Spanned<RawRule>,
    heaps: &[HeapDecl],
    vendor_bits: u64,
) -> Result<Checked, ConfigError> {
    let raw = spanned.get_ref();
    let span = spanned.span();
    let all = usage_list(at, "all", raw.all.as_ref(), vendor_bits)?;
    let any = usage_list(at, "any", raw.any.as_ref(), vendor_bits)?;
    let none = usage_list(at, "none", raw.none.as_ref(), vendor_bits)?;
    for (first, a, second, b, list) in [
        ("all", all, "none", none, &raw.none),
        ("any", any, "none", none, &raw.none),
        ("all", all, "any", any, &raw.any),
    ] {
        let shared = a & b;
        if shared != 0 {
            let span = list.as_ref().map_or(span.clone(), Spanned::span);
            let kind = Kind::ConflictingUsage { first, second, bits: bit_names(shared) };
            return Err(at.err(span, kind));
        }
    }

    let cpu = if raw.cpu.is_some() || raw.cpu_read.is_some() || raw.cpu_write.is_some() {
        let mode = raw.cpu.as_ref().map(|m| match m.get_ref() {
            RawCpuMode::None => CpuMode::None,
            RawCpuMode::Any => CpuMode::Any,
        });
        let read = cpu_set(at, "cpu_read", raw.cpu_read.as_ref())?;
        let write = cpu_set(at, "cpu_write", raw.cpu_write.as_ref())?;
        let cpu = CpuMatch::new(mode, read, write);
        if cpu.pairs == 0 {
            let first = raw.cpu.as_ref().map(Spanned::span);
            let first = first.or_else(|| raw.cpu_read.as_ref().map(Spanned::span));
            return Err(at.err(first.unwrap_or(span), Kind::EmptyCpuMatch));
        }
        Some(cpu)
    } else {
        None
    };

    let formats = match &raw.formats {
        None => None,
        Some(list) => {
            if list.get_ref().is_empty() {
                return Err(at.err(list.span(), Kind::EmptyList("formats")));
            }
            let mut set = FormatSet::empty();
            for entry in list.get_ref() {
                let name = entry.get_ref();
                let format = Format::from_name(name)
                    .ok_or_else(|| at.err(entry.span(), Kind::UnknownFormat(name.clone())))?;
                if set.contains(format) {
                    let kind = Kind::Duplicate { key: "formats", name: name.clone() };
                    return Err(at.err(entry.span(), kind));
                }
                set.insert(format);
            }
            Some(set)
        }
    };

    let width = bounds(at, "width", raw.min_width.as_ref(), raw.max_width.as_ref())?;
    let height = bounds(at, "height", raw.min_height.as_ref(), raw.max_height.as_ref())?;
    let matcher = Match { all, any, none, cpu, formats, width, height };

    let (action, heap_spans) = action(at, raw, span.clone(), heaps)?;
    let align = if matches!(action, Action::Reject { .. }) {
        Alignment::NONE
    } else {
        let sp = |v: &Option<Spanned<u32>>| v.as_ref().map(|v| (u64::from(*v.get_ref()), v.span()));
        let size = raw.size_align_bytes.as_ref().map(|v| (*v.get_ref(), v.span()));
        let stride_bytes = alignment(
            at,
            "stride_align_bytes",
            sp(&raw.stride_align_bytes),
            MAX_STRIDE_ALIGN_BYTES,
        )?;
        let stride_pixels = alignment(
            at,
            "stride_align_pixels",
            sp(&raw.stride_align_pixels),
            MAX_STRIDE_ALIGN_PIXELS,
        )?;
        let size_bytes = alignment(at, "size_align_bytes", size, MAX_SIZE_ALIGN_BYTES)?;
        Alignment {
            stride_bytes: u32::try_from(stride_bytes).unwrap_or(1),
            stride_pixels: u32::try_from(stride_pixels).unwrap_or(1),
            size_bytes,
        }
    };
    let rule =
        Rule { name: raw.name.get_ref().clone(), line: at.ctx.line(&span), matcher, action, align };
    Ok(Checked { rule, span, heap_spans })
}

fn action(
    at: &At<'_, '_>,
    raw: &RawRule,
    span: Range<usize>,
    heaps: &[HeapDecl],
) -> Result<(Action, Vec<Range<usize>>), ConfigError> {
    match (&raw.heaps, &raw.reject) {
        (None, None) => Err(at.err(span, Kind::NoAction)),
        (Some(_), Some(reject)) => Err(at.err(reject.span(), Kind::HeapsAndReject)),
        (None, Some(reason)) => {
            let options = [
                ("fallback", raw.fallback.as_ref().map(Spanned::span)),
                ("stride_align_bytes", raw.stride_align_bytes.as_ref().map(Spanned::span)),
                ("stride_align_pixels", raw.stride_align_pixels.as_ref().map(Spanned::span)),
                ("size_align_bytes", raw.size_align_bytes.as_ref().map(Spanned::span)),
            ];
            if let Some((key, Some(span))) = options.into_iter().find(|(_, s)| s.is_some()) {
                return Err(at.err(span, Kind::OptionOnReject(key)));
            }
            if reason.get_ref().trim().is_empty() {
                return Err(at.err(reason.span(), Kind::EmptyReason));
            }
            Ok((Action::Reject { reason: reason.get_ref().clone() }, Vec::new()))
        }
        (Some(list), None) => {
            if list.get_ref().is_empty() {
                return Err(at.err(list.span(), Kind::EmptyList("heaps")));
            }
            let mut ids = Vec::with_capacity(list.get_ref().len());
            let mut spans = Vec::with_capacity(ids.capacity());
            for entry in list.get_ref() {
                let name = entry.get_ref();
                let decl = heaps
                    .iter()
                    .find(|h| h.name == *name)
                    .ok_or_else(|| at.err(entry.span(), Kind::UndeclaredHeap(name.clone())))?;
                if ids.contains(&decl.id) {
                    let kind = Kind::Duplicate { key: "heaps", name: name.clone() };
                    return Err(at.err(entry.span(), kind));
                }
                ids.push(decl.id);
                spans.push(entry.span());
            }
            let fallback = raw.fallback.as_ref().is_some_and(|f| *f.get_ref());
            if let (true, Some(f)) = (fallback && ids.len() < 2, &raw.fallback) {
                return Err(at.err(f.span(), Kind::FallbackWithoutAlternative));
            }
            Ok((Action::Allocate { heaps: ids, fallback }, spans))
        }
    }
}

/// Checks between rules: a default rule, no dead rule, and where PROTECTED and CPU usage can
/// land given what earlier rules already took.
fn cross_check(
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
